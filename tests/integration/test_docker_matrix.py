"""The docker backend end to end, as issue 3's "done means" states it, on a real daemon.

Every test here needs a running Docker daemon and the base images (`nox -s docker-setup`);
CI provides both, so a missing daemon fails there instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from realparts import missing

from driftmatrix.backends import docker_engine
from driftmatrix.backends.docker_run import remove_containers
from driftmatrix.cli import main

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MATRICES = ROOT / "tests" / "data" / "matrices" / "docker"
LABEL = "org.driftmatrix=1"
#: Below what importing scikit-learn needs (measured on the cell image: killed at 64m, runs at 80m).
MEMORY_TOO_SMALL = "48m"


@pytest.fixture(autouse=True)
def daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A daemon must answer; environments and images are cached across runs, results are not
    (these tests are about running cells in containers)."""
    if not docker_engine.available():
        missing("no Docker daemon answers (start one with `nox -s docker-setup`)")
    cache = Path.home() / ".cache" / "driftmatrix-tests" / "docker"
    shutil.rmtree(cache / "results", ignore_errors=True)
    monkeypatch.setenv("DRIFTMATRIX_CACHE", str(cache))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    yield
    # Whatever a test did, no container of a run may be left behind.
    assert _containers() == []


def _containers() -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label={LABEL}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def _results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text())  # type: ignore[no-any-return]


def _verdicts(out: Path) -> dict[str, str]:
    return {cell["id"]: cell["verdict"] for cell in _results(out)["cells"]}


def test_a_cell_below_the_import_footprint_is_oom_and_only_that_cell(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["run", str(MATRICES / "oom.toml"), "--out", str(out), "--jobs", "2"])
    cells = {cell["id"]: cell for cell in _results(out)["cells"]}
    assert {cid: c["verdict"] for cid, c in cells.items()} == {
        "py3.10-scikit-learn1.3.2-numpy1.26.4-mem1g-cpu1": "identical",
        "py3.10-scikit-learn1.4.2-numpy1.26.4-mem1g-cpu1": "drift",
        "py3.12-scikit-learn1.7.2-numpy2.2.6-mem1g-cpu1": "predict-error",
        f"py3.10-scikit-learn1.3.2-numpy1.26.4-mem{MEMORY_TOO_SMALL}-cpu1": "oom",
    }
    assert code == 1
    oom = cells[f"py3.10-scikit-learn1.3.2-numpy1.26.4-mem{MEMORY_TOO_SMALL}-cpu1"]
    assert oom["backend"] == "docker"
    assert oom["limits"]["memory"] == MEMORY_TOO_SMALL
    assert oom["limits"]["enforced"]["memory"] == "docker"
    report = (out / "report.md").read_text()
    assert MEMORY_TOO_SMALL in report and "oom" in report


def test_a_cell_past_its_time_limit_is_timeout_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["run", str(MATRICES / "timeout.toml"), "--out", str(out)])
    (cell,) = _results(out)["cells"]
    assert cell["verdict"] == "timeout"
    assert code == 1
    assert _containers() == []


def test_same_verdicts_as_the_venv_backend_on_the_demo(tmp_path: Path) -> None:
    demo = ROOT / "matrix" / "demo.toml"
    main(["run", str(demo), "--out", str(tmp_path / "venv"), "--backend", "venv", "--jobs", "2"])
    main(
        ["run", str(demo), "--out", str(tmp_path / "docker"), "--backend", "docker", "--jobs", "2"]
    )
    venv, docker = _results(tmp_path / "venv"), _results(tmp_path / "docker")
    assert {c["backend"] for c in docker["cells"]} == {"docker"}
    assert _verdicts(tmp_path / "docker") == _verdicts(tmp_path / "venv")
    # Same interpreter builds and the same wheels: the comparisons agree to the row.
    for a, b in zip(venv["cells"], docker["cells"], strict=True):
        assert (a["comparison"] or {}).get("labels") == (b["comparison"] or {}).get("labels")


def test_stopping_the_daemon_mid_run_is_infra_error_and_keeps_finished_cells(
    tmp_path: Path,
) -> None:
    if os.geteuid() != 0:
        missing("stopping and restarting dockerd needs root")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "driftmatrix",
            "run",
            str(MATRICES / "daemon-stop.toml"),
            "--out",
            str(out),
            "--jobs",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    first = out / "cells" / "py3.10-scikit-learn1.3.2-numpy1.26.4-mem1g-cpu1.json"
    try:
        deadline = time.monotonic() + 240
        while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first.exists(), "the first cell never finished"
        _stop_daemon()
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
        docker_engine.ensure_engine(lambda line: None)
    assert proc.returncode == 3, stderr
    assert "Traceback" not in stdout + stderr
    verdicts = _verdicts(out)
    assert verdicts.pop("py3.10-scikit-learn1.3.2-numpy1.26.4-mem1g-cpu1") == "identical"
    assert set(verdicts.values()) == {"infra-error"}
    # The daemon is back: remove what its stop left behind (a container of a stopped daemon
    # survives it), as the next run's sweep would.
    remove_containers(docker_engine.connect(), {})


def _stop_daemon() -> None:
    """SIGTERM dockerd, as an operator would, and wait until the process is gone."""
    pids = [
        int(p)
        for p in subprocess.run(
            ["pidof", "dockerd"], capture_output=True, text=True, check=False
        ).stdout.split()
    ]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    # Its socket closes first; the process then stops containers and removes its pid file.
    # Restarting before it is gone fails ("pid file found").
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
