"""Fit and save the cross-version fixture models with THIS interpreter's scikit-learn.

Usage (with a producer environment's python; ``build.py`` does this for every producer)::

    python produce.py OUTDIR MODEL[.FORMAT] [MODEL[.FORMAT] ...]

Writes into OUTDIR:

* ``<model>.<format>`` for every MODEL: ``joblib`` (the default; ``joblib.dump`` with its
  defaults) or ``skops`` (``skops.io.dump``, deflated; the producer must have skops installed);
* ``golden_<n>c.csv`` for every dataset those models use: columns ``row_id, tag, f0..f5,
  target``; 100 held-out rows tagged ``holdout`` (target = their label), then 1000 rows of
  wide gaussian noise tagged ``gaussian`` (no label, so the target cell is empty);
* ``manifest.json``: the producer's versions, every file's sha256, and per model the sha256 of
  each prediction method's outputs on the golden rows as the runner serialises them (JSON of
  ``tolist()``), so a test can check that the reference cell reproduces the producer exactly.
  Models are keyed by name, whatever their format.

The data and models are those of the cross-version measurements they reproduce (same
generators, seeds and hyper-parameters): changing them would silently change which rows flip.
Numbers are written with ``repr(float)``, which round-trips bit for bit, so a cell reading the
CSV feeds the model exactly the array it was evaluated on here.

Runs on Python 3.10 with scikit-learn 1.2.2 and newer: no driftmatrix import, no newer syntax.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import sys
import warnings
import zipfile
from importlib import metadata

import joblib
import numpy as np
import sklearn
from sklearn.datasets import make_classification
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

#: Prediction methods, in the runner's order (probes/predict.py).
METHODS = ("predict", "predict_proba", "decision_function")
N_FEATURES = 6
#: Model name → (factory, number of classes of its dataset).
MODELS = {
    "dt_2c": (lambda: DecisionTreeClassifier(random_state=0), 2),
    "et10_2c": (lambda: ExtraTreesClassifier(n_estimators=10, random_state=0), 2),
    "lr_liblinear_3c": (lambda: LogisticRegression(solver="liblinear"), 3),
    "qda_3c": (lambda: QuadraticDiscriminantAnalysis(), 3),
}
#: How a model may be saved: ``MODEL.FORMAT`` on the command line; a bare MODEL is joblib.
FORMATS = ("joblib", "skops")
#: Versions recorded in the manifest (distribution names); skops too when a model is saved with it.
DISTRIBUTIONS = ("scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl")


def dataset(n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The deterministic data of a dataset.

    Returns:
        ``(X_train, y_train, X_golden, y_holdout)``: 300 training rows; the golden rows are the
        100 held-out rows followed by 1000 gaussian rows (scale 2, far outside the training
        clusters, where models extrapolate and differences between versions show).
    """
    if n_classes == 2:
        X, y = make_classification(
            n_samples=400, n_features=N_FEATURES, n_informative=4, n_redundant=1,
            n_classes=2, random_state=0,
        )  # fmt: skip
    else:
        X, y = make_classification(
            n_samples=400, n_features=N_FEATURES, n_informative=4, n_redundant=1,
            n_classes=3, n_clusters_per_class=1, random_state=1,
        )  # fmt: skip
    gaussian = np.random.RandomState(42).normal(scale=2.0, size=(1000, N_FEATURES))
    return X[:300], y[:300], np.vstack([X[300:], gaussian]), y[300:]


def write_golden(path: str, X: np.ndarray, y_holdout: np.ndarray) -> None:
    """Write the golden CSV; floats via ``repr(float(x))`` (numpy 2 would print ``np.float64``)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["row_id", "tag", *(f"f{i}" for i in range(N_FEATURES)), "target"])
        for i, row in enumerate(X):
            if i < len(y_holdout):
                head, target = [f"h{i:03d}", "holdout"], str(int(y_holdout[i]))
            else:
                head, target = [f"g{i - len(y_holdout):04d}", "gaussian"], ""
            writer.writerow([*head, *(repr(float(v)) for v in row), target])


def outputs_sha256(values: object) -> str:
    """sha256 of the outputs as JSON text, the form the runner writes them in (``tolist()``)."""
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def file_sha256(path: str) -> str:
    """Hex sha256 of a file."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def parse_model(arg: str) -> tuple[str, str]:
    """``"et10_2c.skops"`` → ``("et10_2c", "skops")``; a bare model name is saved with joblib."""
    name, _, fmt = arg.partition(".")
    return name, fmt or "joblib"


def dump(estimator: object, path: str, fmt: str) -> None:
    """Save ``estimator`` to ``path`` in ``fmt``."""
    if fmt == "skops":
        import skops.io  # only the producers that pin skops have it

        # Deflated: skops stores members uncompressed by default (375 kB for these ten trees,
        # 46 kB deflated); every skops release reads both.
        skops.io.dump(estimator, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    else:
        joblib.dump(estimator, path)


def produce(name: str, fmt: str, out: str, golden: np.ndarray) -> dict:
    """Fit, dump and evaluate one model; return its manifest entry."""
    factory, n_classes = MODELS[name]
    X_train, y_train, _, _ = dataset(n_classes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator = factory().fit(X_train, y_train)
    dump(estimator, os.path.join(out, f"{name}.{fmt}"), fmt)
    outputs = {}
    for method in METHODS:
        if hasattr(estimator, method):
            values = np.asarray(getattr(estimator, method)(golden)).tolist()
            outputs[method] = outputs_sha256(values)
    return {
        "estimator": repr(estimator),
        "golden": f"golden_{n_classes}c.csv",
        "fit_warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
        "outputs_sha256": outputs,
    }


def main(argv: list[str]) -> int:
    """Entry point: ``OUTDIR MODEL[.FORMAT] [MODEL[.FORMAT] ...]``."""
    wanted = [parse_model(arg) for arg in argv[1:]]
    if not wanted or any(name not in MODELS or fmt not in FORMATS for name, fmt in wanted):
        print(
            f"usage: produce.py OUTDIR MODEL[.FORMAT]... (models: {', '.join(MODELS)};"
            f" formats: {', '.join(FORMATS)})",
            file=sys.stderr,
        )
        return 2
    out, names = argv[0], [name for name, _ in wanted]
    os.makedirs(out, exist_ok=True)
    goldens = {}
    for n_classes in sorted({MODELS[name][1] for name in names}):
        _, _, X_golden, y_holdout = dataset(n_classes)
        write_golden(os.path.join(out, f"golden_{n_classes}c.csv"), X_golden, y_holdout)
        goldens[n_classes] = X_golden
    models = {name: produce(name, fmt, out, goldens[MODELS[name][1]]) for name, fmt in wanted}
    saved = {fmt for _, fmt in wanted}
    files = sorted(f for f in os.listdir(out) if f.endswith((".joblib", ".skops", ".csv")))
    distributions = DISTRIBUTIONS + (("skops",) if "skops" in saved else ())
    manifest = {
        "produced_by": "tests/data/versions/produce.py",
        "producer": {
            "python": platform.python_version(),
            "packages": {dist: metadata.version(dist) for dist in distributions},
        },
        "files": {f: file_sha256(os.path.join(out, f)) for f in files},
        "models": models,
    }
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    print(f"{out}: scikit-learn {sklearn.__version__}, numpy {np.__version__}: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
