"""The runner under hostile artifacts and bad jobs, on interpreters without scikit-learn.

Artifacts here are pickles whose loading calls a standard-library function (``sys.exit``,
``os._exit``...). The test process only *writes* them; the runner subprocess loads them.
"""

from __future__ import annotations

import glob
import json
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from realparts import IN_CI, missing

Run = Callable[..., Any]  # the run_job fixture: returns conftest.RunnerOutcome
PYTHON = sys.executable
PY38 = "/root/.pyenv/versions/3.8.18/bin/python3.8"


class Calls:
    """Pickles as "call ``func(*args)``": what a malicious or broken ``__reduce__`` does."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.func, self.args)


def write_pickle(path: Path, obj: Any) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=2))  # protocol 2: readable by every Python
    return path


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    path = tmp_path / "golden.csv"
    path.write_text("row_id,x,color,tag,species\na,1.5,red,,0\nb,,blue,edge,1\n")
    return path


def pythons() -> list[Any]:
    """Every CPython from 3.8 to 3.13 that pyenv has here (skipped when missing)."""
    found = []
    for minor in range(8, 14):
        matches = sorted(glob.glob(f"/root/.pyenv/versions/3.{minor}.*/bin/python3.{minor}"))
        marks = [] if matches or IN_CI else [pytest.mark.skip(reason=f"no Python 3.{minor}")]
        found.append(pytest.param(matches[-1] if matches else "", id=f"3.{minor}", marks=marks))
    return found


def test_sys_exit_during_load_still_leaves_a_result(run_job: Run, tmp_path, golden) -> None:
    artifact = write_pickle(tmp_path / "exit.pkl", Calls(sys.exit, 3))
    out = run_job(PYTHON, artifact=artifact, fmt="pickle", golden=golden)
    assert out.returncode == 0
    load = out.probe("load")
    assert load["status"] == "failed"
    assert load["error"]["type"] == "SystemExit"
    assert "3" in load["error"]["message"]
    for name in ("predict", "roundtrip"):
        assert out.probe(name)["status"] == "skipped"
        assert "SystemExit" in out.probe(name)["reason"]
    assert out.result["finished"] is True
    assert out.probe("environment")["status"] == "ok"


def test_hard_exit_during_load_leaves_it_running(run_job: Run, tmp_path, golden) -> None:
    artifact = write_pickle(tmp_path / "hard-exit.pkl", Calls(os._exit, 7))
    out = run_job(PYTHON, artifact=artifact, fmt="pickle", golden=golden)
    # The process died inside the probe: the file written before it says where.
    assert out.returncode == 7
    assert out.result["finished"] is False
    assert out.result["stage"] == "load"
    assert out.probe("load") == {"status": "running"}
    assert out.probe("imports")["status"] == "ok"
    assert "predict" not in out.result["probes"]


def test_keyboard_interrupt_is_recorded_and_stops(run_job: Run, tmp_path, golden) -> None:
    raise_interrupt = Calls(eval, "(_ for _ in ()).throw(KeyboardInterrupt)")
    artifact = write_pickle(tmp_path / "interrupt.pkl", raise_interrupt)
    out = run_job(PYTHON, artifact=artifact, fmt="pickle", golden=golden)
    assert out.returncode == 0
    assert out.probe("load")["error"]["type"] == "KeyboardInterrupt"
    assert "KeyboardInterrupt" in out.probe("predict")["reason"]


def test_memory_error_is_a_failed_load(run_job: Run, tmp_path, golden) -> None:
    artifact = write_pickle(tmp_path / "huge.pkl", Calls(bytearray, 1 << 60))
    out = run_job(PYTHON, artifact=artifact, fmt="pickle", golden=golden)
    assert out.returncode == 0
    assert out.probe("load")["error"]["type"] == "MemoryError"
    # A MemoryError does not stop the run: the host decides what it means.
    assert out.probe("predict")["reason"] == "probe 'load' failed"
    assert out.result["finished"] is True


def test_object_without_prediction_methods(run_job: Run, tmp_path, golden) -> None:
    artifact = write_pickle(tmp_path / "dict.pkl", {"weights": [1.0, 2.0]})
    out = run_job(PYTHON, artifact=artifact, fmt="pickle", golden=golden)
    assert out.probe("load")["estimator"] == "builtins.dict"
    predict = out.probe("predict")
    assert predict["status"] == "failed"
    assert predict["error"]["type"] == "TypeError"
    assert out.result["outputs"]["row_ids"] == ["a", "b"]
    assert out.result["outputs"]["tags"] == ["", "edge"]


def test_failing_import(run_job: Run, tmp_path, golden) -> None:
    artifact = write_pickle(tmp_path / "dict.pkl", {})
    out = run_job(
        PYTHON,
        artifact=artifact,
        fmt="pickle",
        golden=golden,
        imports={"json": "json", "missing-dist": "driftmatrix_no_such_module"},
    )
    imports = out.probe("imports")
    assert imports["status"] == "failed"
    assert imports["error"]["type"] == "ModuleNotFoundError"
    assert "driftmatrix_no_such_module" in imports["error"]["message"]
    assert imports["modules"]["json"]["status"] == "ok"
    assert imports["modules"]["driftmatrix_no_such_module"]["distribution"] == "missing-dist"
    assert out.probe("load")["reason"] == "probe 'imports' failed"


def test_unknown_and_unmet_probes_are_skipped(run_job: Run) -> None:
    out = run_job(PYTHON, probes=["environment", "telepathy", "roundtrip"])
    assert out.returncode == 0
    assert out.probe("telepathy")["status"] == "skipped"
    assert "unknown probe 'telepathy'" in out.probe("telepathy")["reason"]
    assert out.probe("roundtrip")["status"] == "skipped"
    assert "'load'" in out.probe("roundtrip")["reason"]
    assert out.result["finished"] is True


def test_job_that_is_not_json(start, data_dir, tmp_path) -> None:
    out = start(PYTHON, data_dir / "not-json.job", tmp_path)
    assert out.returncode == 2
    assert len(out.stderr.splitlines()) == 1
    assert "not-json.job" in out.stderr
    assert out.result is None


@pytest.mark.parametrize(
    "doc",
    [{"protocol": 1, "probes": []}, {"protocol": 1, "work": "/nonexistent/driftmatrix/work"}, []],
    ids=["no-work", "missing-work", "not-an-object"],
)
def test_job_without_a_usable_work_directory(start, tmp_path, doc) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps(doc))
    out = start(PYTHON, job, tmp_path)
    assert out.returncode == 2
    assert len(out.stderr.splitlines()) == 1
    assert out.result is None


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"protocol": 99}, "protocol 99"),
        ({"artifact": {"format": "pmml"}}, "pmml"),
        ({"probes": "load"}, "probes"),
    ],
    ids=["protocol", "format", "probes"],
)
def test_invalid_job_is_reported_in_the_result(start, tmp_path, change, needle) -> None:
    doc = {
        "protocol": 1,
        "work": str(tmp_path),
        "files": {"artifact": "/x.pmml"},
        "probes": ["load"],
        **change,
    }
    job = tmp_path / "job.json"
    job.write_text(json.dumps(doc))
    out = start(PYTHON, job, tmp_path)
    assert out.returncode == 0
    assert out.result["error"]["type"] == "JobError"
    assert needle in out.result["error"]["message"]
    assert out.result["finished"] is False
    assert out.result["probes"] == {}


def test_python38_without_packages(run_job: Run) -> None:
    if not os.path.exists(PY38):
        missing(f"Python 3.8 not found at {PY38}")
    out = run_job(PY38, probes=["environment", "imports"], imports={"json": "json"})
    assert out.returncode == 0, out.stderr
    assert out.result["python"]["version"] == "3.8.18"
    assert out.probe("environment")["status"] == "ok"
    assert out.probe("imports")["modules"]["json"]["status"] == "ok"
    assert out.result["finished"] is True


@pytest.mark.parametrize("python", pythons())
def test_every_supported_python(run_job: Run, tmp_path, golden, python) -> None:
    # Runs every module of the runner (they are all imported at start), so a syntax or API
    # newer than the interpreter fails here.
    artifact = write_pickle(tmp_path / "dict.pkl", {"a": 1})
    out = run_job(python, artifact=artifact, fmt="pickle", golden=golden, imports={"json": "json"})
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    statuses = {name: record["status"] for name, record in out.result["probes"].items()}
    assert statuses == {
        "environment": "ok",
        "imports": "ok",
        "load": "ok",
        "predict": "failed",
        "roundtrip": "skipped",
    }
    assert out.result["installed"]  # at least pip/setuptools of the bare interpreter
