"""Fit, export and evaluate the ONNX fixture models with THIS interpreter's packages.

Usage (with the producer environment's python; ``build.py`` does this)::

    python produce.py OUTDIR

Writes into OUTDIR:

* ``golden_3c.csv``: columns ``row_id, tag, f0..f4, target``; 100 held-out rows tagged
  ``holdout`` (target = their label), then 300 rows of wide gaussian noise tagged ``gaussian``
  (no label). Floats are written with ``repr``, so a cell reading the CSV gets the same doubles.
* ``lr_3c.onnx``: a LogisticRegression exported with skl2onnx's defaults (``to_onnx(model,
  X[:1].astype(float32))``): with skl2onnx 1.20 and onnx 1.23 that is IR 10, the newest the
  converter targets, and a ZipMap probability output (a list of ``{class: p}`` dicts).
* ``lr_3c_op13.onnx``: the same model with ``target_opset=13`` (IR 7).
* ``rf_3c_op13.onnx``: a small RandomForestClassifier with ``target_opset=13`` and
  ``zipmap=False`` (probabilities as a float32 tensor).
* ``lr_3c.joblib``: the LogisticRegression itself, for the parity probe.
* ``manifest.json``: the producer's versions, every file's sha256, per ONNX model its IR
  version and opsets (as the ``onnx`` package reads them) and the sha256 of its outputs as
  onnxruntime computes them here with one intra-op thread (a cell's budget) and the runner
  serialises them (JSON of ``tolist()``; ZipMap rows in class order, as float32).

Runs on Python 3.10+ with the producer's pins; no driftmatrix import.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import sys
from importlib import metadata

import joblib
import numpy as np
import onnx
import onnxruntime
from skl2onnx import to_onnx
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

N_FEATURES = 5
DISTRIBUTIONS = ("scikit-learn", "numpy", "skl2onnx", "onnx", "onnxruntime", "joblib")


def dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, y_train, X_golden, y_holdout)``: 300 training rows, 100 + 300 golden rows."""
    X, y = make_classification(
        n_samples=400, n_features=N_FEATURES, n_informative=3, n_redundant=1, n_classes=3,
        n_clusters_per_class=1, random_state=1,
    )  # fmt: skip
    gaussian = np.random.RandomState(42).normal(scale=2.0, size=(300, N_FEATURES))
    return X[:300], y[:300], np.vstack([X[300:], gaussian]), y[300:]


def write_golden(path: str, X: np.ndarray, y_holdout: np.ndarray) -> None:
    """The golden CSV; floats via ``repr(float(x))``."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["row_id", "tag", *(f"f{i}" for i in range(N_FEATURES)), "target"])
        for i, row in enumerate(X):
            if i < len(y_holdout):
                head, target = [f"h{i:03d}", "holdout"], str(int(y_holdout[i]))
            else:
                head, target = [f"g{i - len(y_holdout):04d}", "gaussian"], ""
            writer.writerow([*head, *(repr(float(v)) for v in row), target])


def sha256_json(values: object) -> str:
    """sha256 of values as JSON text, the form the runner writes them in."""
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def file_sha256(path: str) -> str:
    """Hex sha256 of a file."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def evaluate(path: str, X: np.ndarray) -> dict:
    """IR version, opsets and output hashes of one exported model, run with one thread."""
    model = onnx.load(path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})
    if isinstance(probabilities, list):  # ZipMap: dicts, keys in class order
        keys = list(probabilities[0])
        probabilities = np.array([[row[k] for k in keys] for row in probabilities], np.float32)
    return {
        "ir_version": model.ir_version,
        "opsets": {(o.domain or "ai.onnx"): o.version for o in model.opset_import},
        "outputs_sha256": {
            "predict": sha256_json(labels.tolist()),
            "predict_proba": sha256_json(probabilities.tolist()),
        },
    }


def main(argv: list[str]) -> int:
    """Entry point: ``OUTDIR``."""
    if len(argv) != 1:
        print("usage: produce.py OUTDIR", file=sys.stderr)
        return 2
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    X_train, y_train, X_golden, y_holdout = dataset()
    write_golden(os.path.join(out, "golden_3c.csv"), X_golden, y_holdout)
    lr = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    rf = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X_train, y_train)
    first = X_train[:1].astype(np.float32)
    exports = {
        "lr_3c.onnx": to_onnx(lr, first),
        "lr_3c_op13.onnx": to_onnx(lr, first, target_opset=13),
        "rf_3c_op13.onnx": to_onnx(rf, first, target_opset=13, options={"zipmap": False}),
    }
    for name, model in exports.items():
        with open(os.path.join(out, name), "wb") as handle:
            handle.write(model.SerializeToString())
    joblib.dump(lr, os.path.join(out, "lr_3c.joblib"))
    files = sorted(f for f in os.listdir(out) if f.endswith((".onnx", ".joblib", ".csv")))
    manifest = {
        "produced_by": "tests/data/onnx/produce.py",
        "producer": {
            "python": platform.python_version(),
            "packages": {dist: metadata.version(dist) for dist in DISTRIBUTIONS},
        },
        "files": {f: file_sha256(os.path.join(out, f)) for f in files},
        "models": {name: evaluate(os.path.join(out, name), X_golden) for name in exports},
        "sklearn_outputs_sha256": {
            "lr_3c": {
                "predict": sha256_json(lr.predict(X_golden).tolist()),
                "predict_proba": sha256_json(lr.predict_proba(X_golden).tolist()),
            }
        },
    }
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    print(f"{out}: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
