"""ONNX models and the parity probe in a real cell: onnxruntime 1.23.2, skl2onnx 1.20.0.

The cell is the ONNX fixtures' producer stack (``onnx_cell_python``), so its outputs must be the
producer's own, bit for bit (the manifest's hashes). The cross-version behaviour (older
onnxruntime refusing IR 10) is tested through the CLI in tests/integration/test_onnx.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import RunnerOutcome, make_job

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data"
EXPORTS = next((DATA / "onnx").glob("py*/manifest.json")).parent
ODD = DATA / "artifacts" / "onnx"
GOLDEN = EXPORTS / "golden_3c.csv"
WITH_PARITY = ["environment", "imports", "load", "predict", "roundtrip", "parity"]

Start = Callable[[str | Path, Path, Path], RunnerOutcome]


@pytest.fixture
def run_onnx(start: Start, tmp_path: Path) -> Callable[..., RunnerOutcome]:
    """Run a job on the ONNX golden set (its label column is ``target``)."""
    counter = iter(range(1000))

    def run(python: Path, artifact: Path, fmt: str = "onnx", **job: Any) -> RunnerOutcome:
        work = tmp_path / f"work-{next(counter)}"
        work.mkdir()
        doc = make_job(work, artifact=artifact, fmt=fmt, golden=GOLDEN, **job)
        doc["golden"]["target"] = "target"
        (work / "job.json").write_text(json.dumps(doc))
        return start(python, work / "job.json", work)

    return run


def manifest() -> dict[str, Any]:
    return json.loads((EXPORTS / "manifest.json").read_text())


def digest(values: Any) -> str:
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


@pytest.mark.parametrize("name", ["lr_3c.onnx", "lr_3c_op13.onnx", "rf_3c_op13.onnx"])
def test_exports_predict_what_the_producer_computed(run_onnx, onnx_cell_python, name) -> None:
    out = run_onnx(onnx_cell_python, EXPORTS / name)
    load, predict = out.probe("load"), out.probe("predict")
    assert load["status"] == "ok", load
    want = manifest()["models"][name]
    onnx = load["onnx"]
    assert (onnx["ir_version"], onnx["opsets"]) == (want["ir_version"], want["opsets"])
    assert onnx["runtime"] == "1.23.2"
    assert onnx["providers"] == ["CPUExecutionProvider"]
    assert onnx["intra_op_threads"] == 1  # the host's OMP_NUM_THREADS (conftest: 1)
    assert onnx["inputs"] == [{"name": "X", "type": "tensor(float)", "shape": [None, 5]}]
    assert predict["input"] == "array"
    methods = predict["methods"]
    assert methods["predict"]["kind"] == "labels" and methods["predict"]["dtype"] == "int64"
    assert methods["predict_proba"]["dtype"] == "float32"
    assert methods["predict_proba"]["shape"] == [400, 3]
    assert out.result is not None
    assert out.result["outputs"]["classes"] == [0, 1, 2]
    produced = {m: digest(v) for m, v in out.result["outputs"]["methods"].items()}
    assert produced == want["outputs_sha256"]
    roundtrip = out.probe("roundtrip")
    assert roundtrip["status"] == "skipped" and "not re-serialized" in roundtrip["reason"]


def test_one_input_per_column_in_double(run_onnx, onnx_cell_python) -> None:
    out = run_onnx(onnx_cell_python, ODD / "columns_double.onnx")
    assert out.probe("predict")["input"] == "columns"
    method = out.probe("predict")["methods"]["predict"]
    assert (method["kind"], method["dtype"], method["shape"]) == ("scores", "float64", [400, 5])
    assert "predict_proba" not in out.probe("predict")["methods"]  # one output: no probabilities
    # The doubles of the CSV, unchanged: the model is a Concat of its inputs.
    first = GOLDEN.read_text().splitlines()[1].split(",")
    assert out.result is not None
    assert out.result["outputs"]["methods"]["predict"][0] == [float(v) for v in first[2:7]]


@pytest.mark.parametrize(
    "name", ["external_absolute.onnx", "external_relative.onnx", "external_in_subgraph.onnx"]
)
def test_external_data_is_refused_before_onnxruntime_opens_it(
    run_onnx, onnx_cell_python, name
) -> None:
    # Measured: onnxruntime 1.20 and 1.23 load external_absolute.onnx and put the first bytes
    # of /etc/passwd into its weights; the cell must never give it the file.
    out = run_onnx(onnx_cell_python, ODD / name)
    load = out.probe("load")
    assert load["status"] == "failed"
    assert load["error"]["type"] == "ExternalData"
    assert "external files" in load["error"]["message"]
    assert "runtime" not in load["onnx"]  # onnxruntime was not even imported for it
    assert load["onnx"]["ir_version"] == 7


@pytest.mark.parametrize(
    ("name", "error_type", "fragment"),
    [
        ("truncated.onnx", "UnreadableModel", "not an ONNX model"),
        ("not_onnx.onnx", "UnreadableModel", "not an ONNX model"),
        ("empty.onnx", "Fail", "onnxruntime 1.23.2 refused the model (IR ?, opsets (none))"),
        ("custom_op.onnx", "Fail", "com.example:Steal(-1) is not a registered function/op"),
    ],
)
def test_broken_or_foreign_models_are_load_errors(
    run_onnx, onnx_cell_python, name, error_type, fragment
) -> None:
    out = run_onnx(onnx_cell_python, ODD / name)
    load = out.probe("load")
    assert load["status"] == "failed"
    assert load["error"]["type"] == error_type
    assert fragment in load["error"]["message"]
    assert "/onnxruntime_src/" not in load["error"]["message"]  # C++ locations are removed
    assert out.probe("predict")["status"] == "skipped"


def test_parity_of_a_scikit_learn_model(run_onnx, onnx_cell_python) -> None:
    out = run_onnx(onnx_cell_python, EXPORTS / "lr_3c.joblib", fmt="joblib", probes=WITH_PARITY)
    assert out.result is not None
    produced = {m: digest(v) for m, v in out.result["outputs"]["methods"].items()}
    assert {m: produced[m] for m in ("predict", "predict_proba")} == (
        manifest()["sklearn_outputs_sha256"]["lr_3c"]
    )
    parity = out.probe("parity")
    assert parity["status"] == "ok", parity
    assert (parity["converter"], parity["runtime"], parity["converted"]) == (
        "1.20.0",
        "1.23.2",
        True,
    )
    assert (parity["ir_version"], parity["opsets"]) == (10, {"ai.onnx": 9, "ai.onnx.ml": 1})
    methods = parity["methods"]
    assert methods["predict"] == {"total": 400, "flipped": 0, "differs": False}
    # Measured outside driftmatrix with the same stack: float32 ONNX vs float64 scikit-learn.
    assert methods["predict_proba"]["max_abs"] == 1.8311841898377423e-07
    assert methods["predict_proba"]["beyond"] == 0
    assert "decision_function" not in methods  # the converted model has no such output
    assert parity["differs"] == []


def test_parity_is_skipped_without_skl2onnx(run_job, cell_python, models) -> None:
    out = run_job(
        cell_python,
        artifact=models["clf_array.joblib"],
        golden=models["golden_iris.csv"],
        probes=WITH_PARITY,
    )
    assert out.probe("predict")["status"] == "ok"
    parity = out.probe("parity")
    assert parity["status"] == "skipped"
    assert parity["reason"] == "not installed in this cell: skl2onnx, onnxruntime"


def test_parity_is_skipped_for_an_onnx_artifact(run_onnx, onnx_cell_python) -> None:
    out = run_onnx(onnx_cell_python, EXPORTS / "lr_3c.onnx", probes=WITH_PARITY)
    parity = out.probe("parity")
    assert (parity["status"], parity["reason"]) == (
        "skipped",
        "the artifact is already an ONNX model",
    )
