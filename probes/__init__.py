"""The in-cell runner of driftmatrix (docs/runner-protocol.md is its contract).

The host starts it once per cell with the cell's own interpreter::

    cd <directory containing probes/> && python -s -B -m probes /abs/work/job.json

It reads the job, runs the requested probes in order (environment, imports, load, predict,
roundtrip) and writes ``result.json`` into the job's work directory after every probe.

Rules that every module here follows: standard library plus the cell's pinned packages only,
valid on Python 3.8 and later, never ``import driftmatrix``, and nothing heavy (numpy, joblib,
scikit-learn) at module level: those are imported inside the probes, so that a broken library
becomes a probe result rather than a crash of the runner.
"""

PROTOCOL = 1
