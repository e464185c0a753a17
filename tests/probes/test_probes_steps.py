"""The steps probe in a real cell: each pipeline step's output, ColumnTransformer parts included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

Run = Callable[..., Any]  # the run_job fixture: returns conftest.RunnerOutcome
PROBES = ["load", "predict", "steps"]


def test_a_column_transformer_pipeline_records_its_parts_then_the_whole(
    run_job: Run, cell_python: Path, models: dict[str, Path]
) -> None:
    out = run_job(
        cell_python,
        artifact=models["frame_strict.joblib"],
        golden=models["golden_frame.csv"],
        probes=PROBES,
    )
    record = out.probe("steps")
    assert record["status"] == "ok", record
    assert record["applies"] is True
    names = [step["step"] for step in record["steps"]]
    # make_pipeline names: the ColumnTransformer's one-hot part, its passthrough remainder,
    # then the ColumnTransformer's whole output (the model's input).
    assert names == ["columntransformer/color", "columntransformer/remainder", "columntransformer"]
    color, remainder, whole = record["steps"]
    assert color["class"] == "sklearn.preprocessing._encoders.OneHotEncoder"
    assert color["shape"] == [15, 3] and len(color["columns"]) == 3
    # A fitted ColumnTransformer holds its "passthrough" as an identity FunctionTransformer.
    assert remainder["class"].endswith("FunctionTransformer") and remainder["shape"] == [15, 4]
    assert whole["shape"] == [15, 7] and len(whole["values"]) == 15
    again = run_job(
        cell_python,
        artifact=models["frame_strict.joblib"],
        golden=models["golden_frame.csv"],
        probes=PROBES,
    )
    assert again.probe("steps")["steps"] == record["steps"]  # deterministic, bit for bit


def test_a_plain_estimator_is_not_a_pipeline(run_job: Run, cell_python: Path, models) -> None:
    out = run_job(
        cell_python,
        artifact=models["clf_array.joblib"],
        golden=models["golden_iris.csv"],
        probes=PROBES,
    )
    record = out.probe("steps")
    assert record["status"] == "ok" and record["applies"] is False and "steps" not in record
