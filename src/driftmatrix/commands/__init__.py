"""The sub-commands, one module each.

Every module has ``add_parser(sub)``, which adds its sub-command to the parser and sets the
``handler`` default to a function taking the parsed arguments and returning the exit code.
Handlers raise :class:`~driftmatrix.errors.DriftmatrixError`; only ``cli.main`` turns exceptions
into messages and exit codes.
"""
