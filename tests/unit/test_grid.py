"""grid.py: produce in every cell, consume every producer's file in every cell (FakeBackend).

The fake saves a file naming its producer when a job asks for ``save``, and plays a scenario per
(producer, consumer) pair; everything else — screening, the two stages of real Runner runs,
verdicts, grid.json, the table, the exit code — is the real code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeBackend, healthy, load_failed, predict_failed

from driftmatrix.errors import MatrixError
from driftmatrix.grid import Grid, build_grid, grid_exit_code
from driftmatrix.outcome import DEFAULT_FAIL_ON, Verdict
from driftmatrix.report.grid import render_grid
from driftmatrix.run import RunOptions
from driftmatrix.spec import load_matrix

GOLDEN = "row_id,tag,x,label\nr1,,1.0,0\nr2,,2.0,1\nr3,,3.0,0\nr4,,4.0,1\n"
A, B, C = (f"py3.11-scikit-learn{v}-numpy1.26.4" for v in ("1.3.2", "1.5.2", "1.7.2"))


def _matrix(directory: Path, recipe: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "golden.csv").write_text(GOLDEN, encoding="utf-8")
    (directory / "recipe.py").write_text("def train():\n    return None\n", encoding="utf-8")
    (directory / "model.joblib").write_bytes(b"unused\n")
    source = 'mode = "train"\nrecipe = "recipe.py:train"' if recipe else 'path = "model.joblib"'
    path = directory / "matrix.toml"
    path.write_text(
        f"""name = "grid"
[artifact]
{source}
golden = "golden.csv"
target = "label"
[defaults]
python = "3.11"
packages = {{ "scikit-learn" = "1.3.2", numpy = "1.26.4" }}
[axes]
"scikit-learn" = ["1.3.2", "1.5.2", "1.7.2"]
""",
        encoding="utf-8",
    )
    return path


def _grid(tmp_path: Path, backend: FakeBackend) -> Grid:
    spec = load_matrix(_matrix(tmp_path / "m"))
    options = RunOptions(out_dir=tmp_path / "out")
    return build_grid(spec, options, {"venv": backend}, tmp_path / "cache")


def test_every_producer_file_is_loaded_in_every_cell(tmp_path: Path) -> None:
    backend = FakeBackend()
    grid = _grid(tmp_path, backend)

    assert grid.cells == (A, B, C)
    assert [p.cell for p in grid.producers] == [A, B, C]
    assert [(p.producer, p.consumer) for p in grid.pairs] == [
        (producer, consumer) for producer in (A, B, C) for consumer in (A, B, C)
    ]
    assert {p.outcome for p in grid.pairs} == {"ok"}
    assert grid_exit_code(grid, DEFAULT_FAIL_ON) == 0
    # Stage 1 trained and saved in every cell; stage 2 loaded each saved file (read-only copy).
    for producer in grid.producers:
        assert producer.artifact == tmp_path / "out" / "artifacts" / f"{producer.cell}.joblib"
        assert producer.artifact.read_bytes() == b"model saved by " + producer.cell.encode()
    assert json.loads(json.dumps(grid.to_json()))["pairs"][0]["outcome"] == "ok"


def test_each_pair_has_its_own_outcome(tmp_path: Path) -> None:
    drifted = healthy(labels=(1, 1, 0, 0))
    backend = FakeBackend(
        pairs={
            (A, B): load_failed(
                "ValueError", "node array from the pickle has an incompatible dtype"
            ),
            (A, C): load_failed(
                "ValueError", "node array from the pickle has an incompatible dtype"
            ),
            (B, C): predict_failed(),
            (C, A): drifted,
        }
    )
    grid = _grid(tmp_path, backend)

    outcome = {(p.producer, p.consumer): p.outcome for p in grid.pairs}
    assert outcome[(A, A)] == outcome[(B, B)] == outcome[(C, C)] == "ok"
    assert outcome[(A, B)] == outcome[(A, C)] == "fail:load-error"
    assert outcome[(B, C)] == "fail:predict-error"
    assert outcome[(C, A)] == "drift"
    assert outcome[(B, A)] == outcome[(C, B)] == "ok"
    assert grid_exit_code(grid, DEFAULT_FAIL_ON) == 1

    table = render_grid(grid)
    assert "load-error" in table and "predict-error" in table and "drift" in table
    assert f"{A} → {B}: load-error: ValueError: node array" in table
    assert "9 pairs: 5 ok, 1 drift, 3 fail" in table
    assert "| producer \\ consumer" in render_grid(grid, "md")


def test_a_cell_that_cannot_be_built_produces_nothing_and_consumes_nothing(tmp_path: Path) -> None:
    grid = _grid(tmp_path, FakeBackend(unbuildable=[("scikit-learn", "1.7.2")]))

    (broken,) = [p for p in grid.producers if p.artifact is None]
    assert broken.cell == C and broken.failure is Verdict.BUILD_ERROR
    assert {p.verdict for p in grid.pairs if p.consumer == C} == {Verdict.BUILD_ERROR}
    assert len(grid.pairs) == 6  # two producers x three consumers
    assert grid_exit_code(grid, DEFAULT_FAIL_ON) == 3
    assert "no file (build-error)" in render_grid(grid)


def test_the_grid_needs_a_recipe(tmp_path: Path) -> None:
    spec = load_matrix(_matrix(tmp_path / "m", recipe=False))
    with pytest.raises(MatrixError) as raised:
        build_grid(spec, RunOptions(out_dir=tmp_path / "out"), {"venv": FakeBackend()}, tmp_path)
    assert raised.value.key == "artifact.recipe"
