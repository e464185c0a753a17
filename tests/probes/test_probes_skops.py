"""skops artifacts in a real cell: skops' own audit, the trusted list from the host, refusal."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

Run = Callable[..., Any]  # the run_job fixture: returns conftest.RunnerOutcome
TREE = "sklearn.tree._tree.Tree"


@pytest.fixture(scope="module")
def expected(models: dict[str, Path]) -> dict[str, Any]:
    """Predictions the build script computed at training time, read as JSON."""
    return json.loads(models["expected.json"].read_text())


def test_skops_model_loads_predicts_and_round_trips(
    run_job: Run, cell_python: Path, models, expected
) -> None:
    out = run_job(
        cell_python,
        artifact=models["clf_array.skops"],
        fmt="skops",
        golden=models["golden_iris.csv"],
    )
    load = out.probe("load")
    assert load["status"] == "ok", load
    assert load["format"] == "skops"
    assert load["untrusted_types"] == []
    assert load["estimator"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert out.result is not None
    assert out.result["outputs"]["methods"] == expected["clf_array"]
    roundtrip = out.probe("roundtrip")
    assert roundtrip["file"] == "roundtrip.skops"
    assert roundtrip["identical"] is True


def test_dataframe_pipeline_from_skops(run_job: Run, cell_python, models, expected) -> None:
    # remainder="passthrough" keeps a private list type that skops does not trust by default.
    remainder = "sklearn.compose._column_transformer._RemainderColsList"
    out = run_job(
        cell_python,
        artifact=models["frame_strict.skops"],
        fmt="skops",
        golden=models["golden_frame.csv"],
        trusted_types=[remainder],
    )
    assert out.probe("load")["status"] == "ok"
    assert out.probe("load")["untrusted_types"] == [remainder]
    assert out.probe("predict")["input"] == "dataframe"
    assert out.result is not None
    assert out.result["outputs"]["methods"] == expected["frame_strict"]


def test_types_the_host_trusted_are_loaded(run_job: Run, cell_python, models, expected) -> None:
    out = run_job(
        cell_python,
        artifact=models["forest.skops"],
        fmt="skops",
        golden=models["golden_iris.csv"],
        trusted_types=[TREE],
    )
    load = out.probe("load")
    assert load["status"] == "ok", load
    assert load["untrusted_types"] == [TREE]  # skops' audit, reported whatever was trusted
    assert "refused_types" not in load
    assert out.result is not None
    assert out.result["outputs"]["methods"] == expected["forest"]
    assert out.probe("roundtrip")["identical"] is True


def test_a_type_the_host_did_not_trust_is_refused(run_job: Run, cell_python, models) -> None:
    out = run_job(
        cell_python,
        artifact=models["forest.skops"],
        fmt="skops",
        golden=models["golden_iris.csv"],
        trusted_types=["sklearn.tree._tree.Other"],
    )
    load = out.probe("load")
    assert load["status"] == "failed"
    assert load["error"]["type"] == "UntrustedTypes"
    assert TREE in load["error"]["message"]
    assert load["untrusted_types"] == [TREE]
    assert load["refused_types"] == [TREE]
    assert "estimator" not in load
    assert out.probe("predict") == {
        "status": "skipped",
        "seconds": 0.0,
        "reason": "probe 'load' failed",
    }


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really a zip", b"row_id,x\n1,2\n"])
def test_unreadable_skops_files_fail_load(
    run_job: Run, cell_python, models, tmp_path, content
) -> None:
    artifact = tmp_path / "broken.skops"
    artifact.write_bytes(content)
    out = run_job(cell_python, artifact=artifact, fmt="skops", golden=models["golden_iris.csv"])
    load = out.probe("load")
    assert load["status"] == "failed"
    assert load["error"]["type"] == "BadZipFile"
    assert "\n" not in load["error"]["message"]
    assert out.result is not None
    assert out.result["finished"] is True
