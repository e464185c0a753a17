"""Benchmark driftmatrix against the plain-nox way on this machine; writes benchmarks/RESULTS.md.

Usage (``nox -s bench`` runs the same)::

    python benchmarks/run.py [--skip plain|demo|eight|scale|bytecode] [--work DIR]

It needs nox, virtualenv, uv and driftmatrix's dependencies in the interpreter that runs it (the
``tests`` nox environment has them) and takes 5–15 minutes on 2 cores. ``benchmarks/README.md``
says what each number means.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This checkout's benchmarks and driftmatrix, whatever is installed.
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from benchmarks.driver import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
