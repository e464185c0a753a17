"""The runner against real scikit-learn models in a real cell environment (Python 3.11 venv)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

IMPORTS = {"scikit-learn": "sklearn", "numpy": "numpy", "joblib": "joblib", "pandas": "pandas"}
ROW_IDS = [f"r{i:03d}" for i in range(0, 150, 10)]
Run = Callable[..., Any]  # the run_job fixture: returns conftest.RunnerOutcome


@pytest.fixture(scope="module")
def expected(models: dict[str, Path]) -> dict[str, Any]:
    """Predictions the build script computed at training time, read as JSON."""
    return json.loads(models["expected.json"].read_text())


def assert_one_line_error(record: dict[str, Any], type_name: str | None = None) -> None:
    error = record["error"]
    assert record["status"] == "failed"
    assert error["type"]
    if type_name is not None:
        assert error["type"] == type_name
    assert "\n" not in error["message"]
    assert len(error["message"]) <= 500
    assert len(error["traceback"].splitlines()) <= 20


def test_array_model_full_run(run_job: Run, cell_python: Path, models, expected) -> None:
    out = run_job(
        cell_python,
        artifact=models["clf_array.joblib"],
        golden=models["golden_iris.csv"],
        imports=IMPORTS,
        probes=["environment", "imports", "load", "predict", "roundtrip", "no-such-probe"],
    )
    assert out.returncode == 0, out.stderr
    result = out.result
    assert result is not None
    assert result["finished"] is True
    assert result["error"] is None
    assert result["cell"] == "test-cell"
    assert result["python"]["version"] == "3.11.7"
    assert result["installed"]["scikit-learn"] == "1.5.2"
    assert result["installed"]["numpy"] == "1.26.4"
    assert result["installed"]["threadpoolctl"] == "3.5.0"

    env = out.probe("environment")
    assert env["status"] == "ok"
    assert env["threads"]["OMP_NUM_THREADS"] == "1"
    assert env["blas_source"] == "threadpoolctl"
    assert any(lib["internal_api"] == "openblas" for lib in env["blas"])

    imports = out.probe("imports")
    assert imports["status"] == "ok"
    assert set(imports["modules"]) == set(IMPORTS.values())
    assert imports["modules"]["sklearn"]["version"] == "1.5.2"

    load = out.probe("load")
    assert load["status"] == "ok"
    assert load["estimator"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert load["warnings"] == []

    predict = out.probe("predict")
    assert predict["status"] == "ok"
    # Fitted on an array, so it gets an array: no "X has feature names" warning.
    assert predict["input"] == "array"
    assert predict["warnings"] == []
    assert predict["rows"] == 15
    methods = predict["methods"]
    assert methods["predict"] == {
        **methods["predict"],
        "status": "ok",
        "kind": "labels",
        "dtype": "int64",
        "shape": [15],
    }
    assert methods["predict_proba"]["kind"] == "scores"
    assert methods["predict_proba"]["shape"] == [15, 3]
    assert methods["decision_function"]["kind"] == "scores"

    outputs = result["outputs"]
    assert outputs["row_ids"] == ROW_IDS
    assert outputs["tags"][:2] == ["edge", ""]
    assert outputs["classes"] == [0, 1, 2]
    # Bit-exact: the JSON floats equal what the model predicted at training time.
    assert outputs["methods"] == expected["clf_array"]

    roundtrip = out.probe("roundtrip")
    assert roundtrip["status"] == "ok"
    assert roundtrip["identical"] is True
    assert roundtrip["differs"] == []
    assert (out.work / "roundtrip.joblib").exists()

    assert out.probe("no-such-probe")["status"] == "skipped"
    assert "unknown probe" in out.probe("no-such-probe")["reason"]
    assert result["stage"] == "roundtrip"
    assert not [p.name for p in out.work.iterdir() if p.name.endswith(".tmp")]


def test_dataframe_model_gets_fitted_columns(run_job: Run, cell_python, models, expected) -> None:
    out = run_job(
        cell_python,
        artifact=models["frame_strict.joblib"],
        golden=models["golden_frame.csv"],
        imports=IMPORTS,
    )
    predict = out.probe("predict")
    assert predict["status"] == "ok", predict
    assert predict["input"] == "dataframe"
    # Golden columns come in another order plus an extra one; the fitted names decide.
    assert predict["warnings"] == []
    assert out.probe("load")["estimator"] == "sklearn.pipeline.Pipeline"
    assert out.result is not None
    assert out.result["outputs"]["methods"] == expected["frame_strict"]
    assert out.probe("roundtrip")["identical"] is True


def test_regressor_outputs_scores(run_job: Run, cell_python, models, expected) -> None:
    out = run_job(cell_python, artifact=models["reg.joblib"], golden=models["golden_reg.csv"])
    predict = out.probe("predict")
    assert predict["status"] == "ok", predict
    assert list(predict["methods"]) == ["predict"]
    assert predict["methods"]["predict"]["kind"] == "scores"
    assert predict["methods"]["predict"]["dtype"] == "float64"
    assert out.result is not None
    outputs = out.result["outputs"]
    assert outputs["classes"] is None
    assert "missing-value" in outputs["tags"]  # rows with empty cells, fed as NaN
    assert outputs["methods"] == expected["reg"]
    assert out.probe("roundtrip")["identical"] is True


def test_missing_method_is_absent(run_job: Run, cell_python, models) -> None:
    out = run_job(cell_python, artifact=models["svc.joblib"], golden=models["golden_iris.csv"])
    predict = out.probe("predict")
    assert predict["status"] == "ok"
    # SVC(probability=False) does not offer predict_proba at all: absent, not failed.
    assert list(predict["methods"]) == ["predict", "decision_function"]
    assert out.result is not None
    assert set(out.result["outputs"]["methods"]) == {"predict", "decision_function"}


def test_one_failing_method_keeps_the_others(run_job: Run, cell_python, models) -> None:
    out = run_job(
        cell_python, artifact=models["clf_no_classes.joblib"], golden=models["golden_iris.csv"]
    )
    predict = out.probe("predict")
    assert_one_line_error(predict, "IndexError")
    assert_one_line_error(predict["methods"]["predict"], "IndexError")
    assert predict["methods"]["predict_proba"]["status"] == "ok"
    assert predict["methods"]["decision_function"]["status"] == "ok"
    assert out.result is not None
    assert set(out.result["outputs"]["methods"]) == {"predict_proba", "decision_function"}
    assert out.probe("roundtrip")["status"] == "skipped"
    assert "predict" in out.probe("roundtrip")["reason"]
    assert out.result["finished"] is True


def test_unseen_category_fails_every_method(run_job: Run, cell_python, models) -> None:
    out = run_job(
        cell_python,
        artifact=models["frame_strict.joblib"],
        golden=models["golden_frame_unseen.csv"],
    )
    predict = out.probe("predict")
    assert_one_line_error(predict, "ValueError")
    assert "purple" in predict["error"]["message"]
    assert {m["status"] for m in predict["methods"].values()} == {"failed"}
    assert len(predict["methods"]) == 3
    assert out.result is not None
    assert out.result["outputs"]["methods"] == {}
    assert out.result["outputs"]["row_ids"] == ROW_IDS


def test_golden_without_a_fitted_column(run_job: Run, cell_python, models) -> None:
    out = run_job(
        cell_python,
        artifact=models["frame_strict.joblib"],
        golden=models["golden_frame_missing.csv"],
    )
    predict = out.probe("predict")
    assert_one_line_error(predict, "ValueError")
    assert "'color'" in predict["error"]["message"]


def test_version_warning_is_recorded(run_job: Run, cell_python, models) -> None:
    out = run_job(
        cell_python, artifact=models["clf_from_1_4_0.joblib"], golden=models["golden_iris.csv"]
    )
    load = out.probe("load")
    assert load["status"] == "ok"
    [warning] = load["warnings"]
    assert warning["category"] == "InconsistentVersionWarning"
    assert warning["module"] == "sklearn.exceptions"
    assert warning["original_sklearn_version"] == "1.4.0"
    assert warning["current_sklearn_version"] == "1.5.2"
    assert warning["estimator_name"] == "LogisticRegression"
    assert out.probe("predict")["status"] == "ok"  # a warning, not a verdict


def test_pickle_format(run_job: Run, cell_python, models, expected) -> None:
    out = run_job(
        cell_python,
        artifact=models["clf_array.pkl"],
        fmt="pickle",
        golden=models["golden_iris.csv"],
    )
    assert out.probe("load")["format"] == "pickle"
    assert out.result is not None
    assert out.result["outputs"]["methods"] == expected["clf_array"]
    assert out.probe("roundtrip")["file"] == "roundtrip.pickle"
    assert out.probe("roundtrip")["identical"] is True


def test_truncated_joblib_fails_load(run_job: Run, cell_python, models) -> None:
    out = run_job(
        cell_python, artifact=models["truncated.joblib"], golden=models["golden_iris.csv"]
    )
    assert out.returncode == 0
    assert_one_line_error(out.probe("load"))
    for name in ("predict", "roundtrip"):
        assert out.probe(name)["status"] == "skipped"
        assert out.probe(name)["reason"] == "probe 'load' failed"
    assert out.result is not None
    assert out.result["finished"] is True
    assert out.result["outputs"] is None


@pytest.mark.parametrize("fmt", ["joblib", "pickle"])
@pytest.mark.parametrize("content", ["empty", "text"])
def test_unloadable_files(
    run_job: Run, cell_python, models, data_dir, tmp_path, fmt, content
) -> None:
    if content == "empty":
        artifact = tmp_path / "empty.bin"
        artifact.write_bytes(b"")
    else:
        artifact = data_dir / "not-a-pickle.bin"
    out = run_job(
        cell_python,
        artifact=artifact,
        fmt=fmt,
        golden=models["golden_iris.csv"],
        probes=["load", "predict", "roundtrip"],
    )
    assert out.returncode == 0
    assert_one_line_error(out.probe("load"), "EOFError" if content == "empty" else None)
    assert out.probe("predict")["status"] == "skipped"
