"""The driftmatrix side: ``driftmatrix run`` of a matrix, timed, with its results.json read back."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.timing import Timed, run_timed

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class MatrixRun:
    """One ``driftmatrix run``.

    Attributes:
        timed: The command's measurement.
        results: Its results.json, or None when it wrote none.
        jobs: The ``--jobs`` it ran with (the documented default, one per core, when not given).
    """

    timed: Timed
    results: Mapping[str, Any] | None
    jobs: int

    @property
    def ok(self) -> bool:
        """Whether the run finished as driftmatrix runs do (exit 0 or 1) and wrote its results.

        Anything else (a crash, exit 3, a timeout) is not a measurement of a run.
        """
        return self.timed.returncode in (0, 1) and self.results is not None

    @property
    def cells(self) -> int:
        """How many cells results.json holds (0 without one)."""
        return 0 if self.results is None else len(self.results["cells"])

    @property
    def reused(self) -> int:
        """How many cells were not run but reused (``"reused"``: from the cache or ``--resume``)."""
        return sum(1 for cell in (self.results or {}).get("cells", []) if cell.get("reused"))

    def verdicts(self) -> str:
        """The verdict counts, e.g. ``2 identical, 2 drift, 1 build-error``."""
        counts: dict[str, int] = {}
        for cell in (self.results or {}).get("cells", []):
            counts[cell["verdict"]] = counts.get(cell["verdict"], 0) + 1
        text = ", ".join(f"{n} {verdict}" for verdict, n in counts.items()) or "no results"
        return text + (f" ({self.reused} reused)" if self.reused else "")


def driftmatrix_argv(*args: str) -> list[str]:
    """``python -m driftmatrix ARGS`` with the interpreter running the benchmark."""
    return [sys.executable, "-m", "driftmatrix", *args]


def driftmatrix_env(env: Mapping[str, str], cache: Path) -> dict[str, str]:
    """``env`` for driftmatrix: this checkout's code, its own cache directory, no downloads.

    ``PYTHONPATH`` puts this checkout's ``src`` first, so the benchmark measures the code in the
    tree even where an older driftmatrix is installed.
    """
    path = [str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH", "")])]
    return {
        **env,
        "PYTHONPATH": ":".join(path),
        "DRIFTMATRIX_CACHE": str(cache),
        "UV_PYTHON_DOWNLOADS": "never",
    }


def run_matrix(
    name: str,
    matrix: Path,
    *,
    out: Path,
    cache: Path,
    logs: Path,
    timeout: float,
    env: Mapping[str, str],
    jobs: int,
    args: Sequence[str] = (),
) -> MatrixRun:
    """``driftmatrix run MATRIX --out OUT ARGS`` with ``DRIFTMATRIX_CACHE=cache``, timed.

    Args:
        name: A label (and the log's name).
        matrix: The matrix file.
        out: The output directory (results.json is read back from it).
        cache: driftmatrix's cache directory.
        logs: Directory for the command's output.
        timeout: Seconds before it is killed.
        env: The base environment.
        jobs: The cells it runs at once: the default (not passed) unless ``args`` sets
            ``--jobs``; recorded for the floor.
        args: More options (``--jobs 1``, ``--resume``, ...).

    Returns:
        The run.
    """
    started = time.time()
    timed = run_timed(
        name,
        driftmatrix_argv("run", str(matrix), "--out", str(out), *args),
        log=logs / f"{name}.log",
        timeout=timeout,
        cwd=ROOT,
        env=driftmatrix_env(env, cache),
    )
    results_file = out / "results.json"
    results = None
    # A rerun into the same directory finds the previous run's file if this one wrote none.
    if results_file.exists() and results_file.stat().st_mtime >= started:
        results = json.loads(results_file.read_text(encoding="utf-8"))
    return MatrixRun(timed=timed, results=results, jobs=jobs)


def forget_results(cache: Path) -> None:
    """Delete the cell results cached in ``cache``, keeping its environments.

    driftmatrix keeps what each cell did under ``DRIFTMATRIX_CACHE/results`` (resultcache.py:
    "delete cache_dir/results any time"); a run that must run its cells again starts without it.
    """
    shutil.rmtree(cache / "results", ignore_errors=True)
