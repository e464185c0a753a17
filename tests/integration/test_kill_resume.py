"""Kill -9 of the harness at random moments, then ``--resume``: nothing finished is lost or
run twice, and nothing is left running.

The harness is a real ``driftmatrix run`` process killed with SIGKILL (as the OOM killer or a
CI timeout would), never given a chance to clean up. Its venv cells run in their own session
and outlive it; the next run must end them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from realparts import missing

from driftmatrix.backends import docker_engine
from driftmatrix.backends.docker_run import LABEL

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
E2E = REPO / "tests" / "data" / "matrices" / "e2e"
DOCKER = REPO / "tests" / "data" / "matrices" / "docker"
CACHE = Path.home() / ".cache" / "driftmatrix-tests" / "cli"
DOCKER_CACHE = Path.home() / ".cache" / "driftmatrix-tests" / "docker"
KILLS = 20


def _start(
    matrix: Path, out: Path, cache: Path, *extra: str, watch: bool = True
) -> subprocess.Popen[str]:
    """Start ``driftmatrix run``; ``watch`` keeps its stderr (for processes not killed)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "DRIFTMATRIX_CACHE": str(cache)}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return subprocess.Popen(
        [sys.executable, "-m", "driftmatrix", "run", str(matrix), "--out", str(out), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if watch else subprocess.DEVNULL,
        text=True,
    )


def _finished(out: Path) -> dict[str, str]:
    """What each cell's run left in its result file so far: its probe records and timings.

    Not the whole file: a cell that finished before the reference is written once as it ends
    and again when it has been compared; a harness killed in between leaves the first, and the
    next run completes the comparison without running the cell again. A re-run would change
    the probes' timings.
    """
    found = {}
    for path in sorted((out / "cells").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        found[path.stem] = json.dumps([doc["probes"], doc["seconds"]], sort_keys=True)
    return found


def _cell_processes(out: Path) -> list[int]:
    """Processes whose command line names this run's output directory (its cells' jobs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(out) in cmdline and "-m probes" in cmdline:
            found.append(int(entry.name))
    return found


def test_twenty_kills_then_resume_lose_nothing_and_repeat_nothing(tmp_path: Path) -> None:
    matrix = E2E / "ten-cells.toml"
    out = tmp_path / "out"
    rng = random.Random(20261124)
    # Results of earlier sessions are forgotten (environments are kept): the cells must run for
    # the kills to land in them.
    shutil.rmtree(CACHE / "results", ignore_errors=True)
    # Build the one environment first, so the kills land in cells, not in a uv download.
    reference = "py3.10-scikit-learn1.3.2-numpy1.26.4-mem1000m-cpu1"
    warm = _start(matrix, tmp_path / "warm", CACHE, "--cell", reference)
    _, err = warm.communicate(timeout=900)
    assert warm.returncode == 0, err
    seen: dict[str, str] = {}
    orphans = 0
    for _ in range(KILLS):
        harness = _start(matrix, out, CACHE, "--resume", "--jobs", "2", watch=False)
        time.sleep(rng.uniform(0.3, 4.0))
        harness.send_signal(signal.SIGKILL)
        harness.wait(timeout=60)
        orphans += bool(_cell_processes(out))
        now = _finished(out)
        for cell_id, content in seen.items():
            # A finished cell is never run again: what its run recorded stays the same.
            assert now.get(cell_id) == content, f"{cell_id} was run again after it finished"
        seen = now
    final = _start(matrix, out, CACHE, "--resume", "--jobs", "2")
    _, err = final.communicate(timeout=900)
    assert final.returncode == 0, err
    assert "Traceback" not in err
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(results["cells"]) == 10
    assert {cell["verdict"] for cell in results["cells"]} == {"identical"}
    now = _finished(out)
    for cell_id, content in seen.items():
        assert now[cell_id] == content, f"{cell_id} was run again after it finished"
    assert _cell_processes(out) == []  # what the killed harnesses left running is gone
    # The test proves something only if some kill did leave a cell running behind.
    assert orphans > 0


@pytest.mark.docker
def test_containers_of_a_killed_harness_are_removed_by_the_next_run(tmp_path: Path) -> None:
    if not docker_engine.available():
        missing("no Docker daemon answers (start one with `nox -s docker-setup`)")
    out = tmp_path / "out"
    shutil.rmtree(DOCKER_CACHE / "results", ignore_errors=True)  # the cell must run, not be reused
    harness = _start(DOCKER / "timeout.toml", out, DOCKER_CACHE, watch=False)
    client = docker_engine.connect()
    deadline = time.monotonic() + 600
    while not client.containers.list(filters={"label": f"{LABEL}=1"}):
        assert time.monotonic() < deadline and harness.poll() is None, "no container started"
        time.sleep(0.2)
    harness.send_signal(signal.SIGKILL)
    harness.wait(timeout=60)
    assert client.containers.list(all=True, filters={"label": f"{LABEL}=1"})  # left behind
    again = _start(DOCKER / "timeout.toml", tmp_path / "again", DOCKER_CACHE)
    _, err = again.communicate(timeout=600)
    assert "removed 1 container(s) left by a run that was killed" in err
    assert client.containers.list(all=True, filters={"label": f"{LABEL}=1"}) == []
