"""The train probe in a real cell: the recipe's model feeds predict and roundtrip; seeds fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import make_job, start_runner

pytestmark = pytest.mark.slow

RECIPE = """
import numpy as np
from sklearn.linear_model import LogisticRegression

def fit():
    # numpy's global generator, unseeded here: the runner seeds it before the call.
    X = np.random.rand(60, 4)
    return LogisticRegression().fit(X, (X[:, 0] > 0.5).astype(int)), X

def fit_only():
    return fit()[0]
"""


def _train(tmp_path: Path, python: Path, golden: Path, function: str, probes: list[str]) -> Any:
    recipe_dir = tmp_path / "recipe"
    recipe_dir.mkdir(exist_ok=True)
    (recipe_dir / "recipe.py").write_text(RECIPE)
    work = tmp_path / f"work-{function}-{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    job = make_job(work, golden=golden, probes=probes)
    job["files"]["recipe_dir"] = str(recipe_dir)
    job["recipe"] = {"file": "recipe.py", "function": function}
    (work / "job.json").write_text(json.dumps(job))
    return start_runner(python, work / "job.json", work)


def test_the_recipe_model_is_predicted_and_round_tripped_the_same_every_run(
    tmp_path: Path, cell_python: Path, models: dict[str, Path]
) -> None:
    probes = ["imports", "train", "predict", "roundtrip"]
    golden = models["golden_iris.csv"]
    first = _train(tmp_path, cell_python, golden, "fit", probes)
    second = _train(tmp_path, cell_python, golden, "fit", probes)
    train = first.probe("train")
    assert train["status"] == "ok", train
    assert train["recipe"] == "recipe.py:fit"
    assert train["estimator"] == "sklearn.linear_model._logistic.LogisticRegression"
    [data] = train["data"]
    assert data["type"] == "numpy.ndarray" and data["shape"] == [60, 4]
    assert second.probe("train")["data"] == train["data"]  # the seeded generator
    assert first.result["outputs"] == second.result["outputs"]
    assert first.probe("roundtrip")["identical"] is True


def test_predict_needs_a_model_probe(tmp_path: Path, cell_python: Path, models) -> None:
    out = _train(tmp_path, cell_python, models["golden_iris.csv"], "fit_only", ["predict"])
    assert out.probe("predict") == {
        "status": "skipped",
        "seconds": 0.0,
        "reason": "it needs probe 'load' or 'train', which the job does not request",
    }

