"""The coverage probe in a real cell: classes, category levels, missing values, tree leaves."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

Run = Callable[..., Any]  # the run_job fixture: returns conftest.RunnerOutcome
PROBES = ["load", "predict", "coverage"]


def _without(source: Path, target: Path, column: str, value: str) -> Path:
    """A copy of a golden CSV without the rows whose ``column`` is ``value``."""
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    index = rows[0].index(column)
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([rows[0], *(r for r in rows[1:] if r[index] != value)])
    return target


def test_a_class_without_golden_rows_is_a_gap(
    run_job: Run, cell_python: Path, models: dict[str, Path], tmp_path: Path
) -> None:
    golden = _without(models["golden_iris.csv"], tmp_path / "no-2.csv", "species", "2")
    out = run_job(cell_python, artifact=models["clf_array.joblib"], golden=golden, probes=PROBES)
    record = out.probe("coverage")
    assert record["status"] == "ok", record
    assert [(c["class"], c["target_rows"]) for c in record["classes"]] == [(0, 5), (1, 5), (2, 0)]
    assert record["gaps"] == ["class 2 has no golden row"]
    assert record["missing"] == dict.fromkeys(
        ["sepal_length", "sepal_width", "petal_length", "petal_width"], 0
    )
    assert "leaves" not in record  # not a tree model


def test_an_encoder_level_without_golden_rows_is_a_gap(
    run_job: Run, cell_python: Path, models: dict[str, Path], tmp_path: Path
) -> None:
    golden = _without(models["golden_frame.csv"], tmp_path / "no-blue.csv", "color", "blue")
    out = run_job(cell_python, artifact=models["frame_strict.joblib"], golden=golden, probes=PROBES)
    record = out.probe("coverage")
    [encoder] = record["categories"]
    assert encoder["levels"] == 3 and encoder["unseen"] == ["blue"]
    assert encoder["input"] == "color of Pipeline/columntransformer/color"
    assert record["gaps"] == [
        "1 level(s) of color of Pipeline/columntransformer/color have no golden row (e.g. 'blue')"
    ]


def test_a_forest_reports_the_share_of_leaves_reached(
    run_job: Run, cell_python: Path, models: dict[str, Path]
) -> None:
    out = run_job(
        cell_python,
        artifact=models["forest.skops"],
        fmt="skops",
        golden=models["golden_iris.csv"],
        trusted_types=["sklearn.tree._tree.Tree"],
        probes=PROBES,
    )
    leaves = out.probe("coverage")["leaves"]
    assert leaves["trees"] == 3
    assert 0 < leaves["share"] <= 1
    assert out.probe("coverage")["gaps"] == []
