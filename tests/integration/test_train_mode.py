"""Train mode end to end through the CLI: the recipe runs in every cell, on venv and on docker.

The KMeans matrices (tests/data/train/kmeans/) reproduce a measured fact: scikit-learn 1.4 made
``n_init="auto"`` the default, so the same recipe fits another model (134 of 160 golden rows
assigned to other clusters than under 1.3.2, measured in plain environments); with
``n_init=10`` written out the fits are identical. Environments are cached across runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from realparts import missing

from driftmatrix.backends import docker_engine
from driftmatrix.cli import main

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data" / "train"
SK132 = "py3.10-scikit-learn1.3.2-numpy1.26.4"
SK142 = "py3.10-scikit-learn1.4.2-numpy1.26.4"
SK152 = "py3.10-scikit-learn1.5.2-numpy1.26.4"


@pytest.fixture(autouse=True)
def _cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "DRIFTMATRIX_CACHE", str(Path.home() / ".cache" / "driftmatrix-tests" / "cli")
    )
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")


def _run(matrix: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", str(matrix), "--out", str(out), *extra])
    return code, json.loads((out / "results.json").read_text())


def _cells(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {cell["id"]: cell for cell in results["cells"]}


def test_kmeans_default_n_init_drifts_after_1_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, results = _run(DATA / "kmeans" / "default-n-init.toml", tmp_path / "out")
    capsys.readouterr()
    cells = _cells(results)
    assert code == 1
    assert results["artifact"]["mode"] == "train"
    assert results["artifact"]["recipe"].endswith("recipe.py:default_n_init")
    assert {cid: cell["verdict"] for cid, cell in cells.items()} == {
        SK132: "identical",
        SK142: "drift",
        SK152: "drift",
    }
    for cid in (SK142, SK152):
        assert cells[cid]["comparison"]["labels"]["flipped"] == 134
        assert cells[cid]["comparison"]["labels"]["total"] == 160
    # 1.3.2 announced the change while fitting; 1.4 and later no longer warn.
    assert cells[SK132]["flags"] == ["train-warning"]
    [warning] = cells[SK132]["probes"]["train"]["warnings"]
    assert warning["category"] == "FutureWarning" and "n_init" in warning["message"]
    assert "train-warning" not in cells[SK142]["flags"]
    # Every cell fitted on the very same numbers: the drift is the estimator's, not the data's.
    hashes = {cell["probes"]["train"]["data"][0]["sha256"] for cell in cells.values()}
    assert len(hashes) == 1


def test_kmeans_with_n_init_written_out_is_identical_everywhere(tmp_path: Path) -> None:
    code, results = _run(DATA / "kmeans" / "fixed-n-init.toml", tmp_path / "out")
    assert code == 0
    assert {cell["verdict"] for cell in results["cells"]} == {"identical"}
    assert all(cell["flags"] == [] for cell in results["cells"])


@pytest.mark.parametrize(
    ("function", "verdict", "error_type"),
    [
        ("raises", "load-error", "InvalidParameterError"),
        ("not_an_estimator", "load-error", "TypeError"),
        ("no_such_function", "load-error", "AttributeError"),
        ("reads_beside_itself", "identical", None),
    ],
)
def test_recipes_that_cannot_give_a_model_are_load_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    function: str,
    verdict: str,
    error_type: str | None,
) -> None:
    source = DATA / "broken"
    matrix = tmp_path / "matrix.toml"
    text = (source / "matrix.toml").read_text().replace("FUNCTION", function)
    text = text.replace('"recipe.py:', f'"{source}/recipe.py:').replace(
        '"golden.csv"', f'"{source}/golden.csv"'
    )
    matrix.write_text(text)
    code, results = _run(matrix, tmp_path / "out")
    output = capsys.readouterr()
    (cell,) = results["cells"]
    assert cell["verdict"] == verdict, cell["error"]
    assert "Traceback" not in output.out + output.err
    if error_type is None:
        assert code == 0
    else:
        assert code == 1
        assert cell["error"]["type"] == error_type
        assert "\n" not in cell["error"]["message"]
        assert cell["probes"]["predict"]["status"] == "skipped"


@pytest.mark.docker
def test_train_mode_on_docker_mounts_the_recipe_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not docker_engine.available():
        missing("no Docker daemon answers (start one with `nox -s docker-setup`)")
    monkeypatch.setenv(
        "DRIFTMATRIX_CACHE", str(Path.home() / ".cache" / "driftmatrix-tests" / "docker")
    )
    matrix = DATA / "kmeans" / "default-n-init.toml"
    code, results = _run(matrix, tmp_path / "out", "--backend", "docker", "--cell", SK142)
    cells = _cells(results)
    assert code == 1
    assert cells[SK132]["verdict"] == "identical" and cells[SK142]["verdict"] == "drift"
    assert cells[SK142]["comparison"]["labels"]["flipped"] == 134
    assert all(cell["backend"] == "docker" for cell in cells.values())


def test_a_drifted_pipeline_names_its_first_differing_step(tmp_path: Path) -> None:
    # Measured: StandardScaler's output is bit-identical in 1.4.2 and 1.6.1, QuantileTransformer
    # fitted on 30,000 rows is not, and the logistic regression after it drifts.
    code, results = _run(DATA / "skew" / "matrix.toml", tmp_path / "out")
    cells = _cells(results)
    cell = cells["py3.10-scikit-learn1.6.1-numpy1.26.4"]
    assert code == 1
    assert cell["verdict"] == "drift"
    skew = cell["comparison"]["skew"]
    assert skew["first_difference"] == "quantile"
    assert [(s["step"], s["status"]) for s in skew["steps"]] == [
        ("scaler", "identical"),
        ("quantile", "differs"),
    ]
    assert skew["summary"].startswith(
        "scaler (StandardScaler) identical, quantile (QuantileTransformer) differs in"
    )
    assert "Pipeline steps" in (tmp_path / "out" / "report.md").read_text()
