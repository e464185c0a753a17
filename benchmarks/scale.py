"""Host-side scale: planning 10,000 cells and the host's memory over 1,000, building nothing.

Two sources. This module's own 10,000-cell matrix, planned by ``driftmatrix list --json`` as a
CI workflow runs it. And, where the checkout has it, ``tests/scale.py`` (the host at scale, by
the engineers who made it scale): ``plan`` times everything ``driftmatrix run`` does before its
first cell starts, ``memory`` runs 1,000 cells through the real runner, comparisons and reports
with a backend that replays recorded cell results, and reports the process's peak RSS.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.dm import ROOT, driftmatrix_argv, driftmatrix_env
from benchmarks.timing import Timed, run_timed

#: The scale driver of the tests, where the checkout has it.
DRIVER = ROOT / "tests" / "scale.py"

#: 5 Pythons × 10 scikit-learn × 10 numpy × 20 limits = 10,000 cells. The versions need not
#: exist together: expanding and planning never resolve them.
PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
SKLEARN = [f"1.{minor}.{patch}" for minor in range(3, 8) for patch in (0, 1)]
NUMPY = [f"{major}.{minor}.0" for major, minor in [(1, 22), (1, 23), (1, 24), (1, 25), (1, 26)]]
NUMPY += [f"2.{minor}.0" for minor in range(5)]
MEMORY = ["256m", "512m", "1g", "2g"]
CPUS = [0.5, 1, 1.5, 2, 4]

# Expansion alone, timed inside one interpreter (its start-up and imports excluded).
_EXPAND = """
import sys, time
from driftmatrix.spec import load_matrix
start = time.perf_counter()
spec = load_matrix(sys.argv[1])
print(len(spec.cells), time.perf_counter() - start)
"""


@dataclass(frozen=True)
class ScaleRun:
    """The 10,000-cell measurements.

    Attributes:
        cells: How many cells the matrix expanded to.
        expand_seconds: ``load_matrix`` alone (read, validate, expand), inside one interpreter.
        listing: ``driftmatrix list --json`` from the command line: start-up, expansion and the
            CI plan (cells packed into jobs), as a user or a workflow runs it.
        jobs: How many CI jobs the plan has.
        plan: ``tests/scale.py plan --cells 10000``'s report (None without the script).
        memory: ``tests/scale.py memory --cells 1000``'s report (None without the script).
        driver_error: Why a ``tests/scale.py`` command gave no report ("" when both did).
    """

    cells: int
    expand_seconds: float
    listing: Timed
    jobs: int
    plan: Mapping[str, Any] | None = None
    memory: Mapping[str, Any] | None = None
    driver_error: str = ""


def write_matrix(directory: Path) -> Path:
    """Write the 10,000-cell matrix (the demo's artifact, absolute paths) and return its path."""
    demo = ROOT / "artifacts" / "demo"
    limits = ", ".join(f'{{ memory = "{m}", cpus = {c} }}' for m in MEMORY for c in CPUS)
    text = f"""name = "scale-10k"

[artifact]
path = {json.dumps(str(demo / "model.joblib"))}
golden = {json.dumps(str(demo / "golden.csv"))}
target = "default"

[axes]
python = {json.dumps(PYTHONS)}
"scikit-learn" = {json.dumps(SKLEARN)}
numpy = {json.dumps(NUMPY)}
limits = [{limits}]

[reference]
python = "3.10"
"scikit-learn" = "1.3.0"
numpy = "1.26.0"
limits = {{ memory = "1g", cpus = 1 }}
"""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "scale-10k.toml"
    path.write_text(text, encoding="utf-8")
    return path


def measure(work: Path, logs: Path, env: Mapping[str, str], timeout: float) -> ScaleRun:
    """Expand the 10,000-cell matrix, plan it with ``driftmatrix list --json``; run the driver.

    Args:
        work: Where the matrix file is written.
        logs: Directory for the commands' output.
        env: The base environment.
        timeout: Seconds each command may take.

    Returns:
        The measurements.

    Raises:
        SystemExit: A command failed (its log says why).
    """
    matrix = write_matrix(work)
    dm_env = driftmatrix_env(env, work / "cache")
    expand = run_timed(
        "expand-10k",
        [sys.executable, "-c", _EXPAND, str(matrix)],
        log=logs / "expand-10k.log",
        timeout=timeout,
        env=dm_env,
    )
    if expand.returncode != 0:
        raise SystemExit(f"expanding {matrix} failed; see {expand.log}")
    cells, seconds = expand.output().split()[-2:]
    listing = run_timed(
        "list-10k",
        driftmatrix_argv("list", str(matrix), "--json"),
        log=logs / "list-10k.log",
        timeout=timeout,
        env=dm_env,
    )
    if listing.returncode != 0:
        raise SystemExit(f"driftmatrix list --json {matrix} failed; see {listing.log}")
    ci_jobs = json.loads(listing.output().strip().splitlines()[-1])
    run = ScaleRun(
        cells=int(cells),
        expand_seconds=float(seconds),
        listing=listing,
        jobs=len(ci_jobs["include"]),
    )
    if not DRIVER.exists():
        return run
    reports: dict[str, Mapping[str, Any]] = {}
    for what, count in (("plan", 10_000), ("memory", 1_000)):
        timed = run_timed(
            f"scale-{what}",
            [sys.executable, str(DRIVER), what, "--cells", str(count), "--out", str(work / what)],
            log=logs / f"scale-{what}.log",
            timeout=timeout,
            env=dm_env,
        )
        try:
            reports[what] = json.loads(timed.output().strip().splitlines()[-1])
        except (ValueError, IndexError):
            error = f"tests/scale.py {what}: {'timed out' if timed.timed_out else 'no report'}"
            return replace(run, driver_error=f"{error} (log: {timed.log})")
    return replace(run, plan=reports["plan"], memory=reports["memory"])
