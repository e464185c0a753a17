"""The command line. The only module that turns exceptions into messages and exit codes.

Each sub-command lives in its own module under :mod:`driftmatrix.commands`; this module builds
the parser from them and runs the chosen one.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from driftmatrix import __version__
from driftmatrix.errors import EXIT_INFRA, DriftmatrixError, UsageError
from driftmatrix.paths import cache_dir

__all__ = ["build_parser", "cache_dir", "main"]

EXIT_INTERRUPTED = 130

#: The sub-command modules, in the order ``--help`` lists them.
COMMANDS = ("run", "grid", "review", "listing", "merge", "report", "docker")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit code 2 (never a traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = _Parser(
        prog="driftmatrix",
        description="Does this model still load and predict the same in other environments?",
    )
    parser.add_argument("--version", action="version", version=f"driftmatrix {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"driftmatrix.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the exit code (0 pass · 1 finding · 2 usage · 3 infrastructure)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = build_parser().parse_args(args_list)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except DriftmatrixError as exc:
        print(f"driftmatrix: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(
            "driftmatrix: interrupted; finished cells are kept (continue with --resume)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if debug:
            import traceback

            traceback.print_exc()
        print(
            f"driftmatrix: internal error: {type(exc).__name__}: {exc}"
            + ("" if debug else " (run with --debug for the traceback)"),
            file=sys.stderr,
        )
        return EXIT_INFRA
