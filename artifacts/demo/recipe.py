"""The demo model: a loan-default classifier (ExtraTrees) and its golden dataset.

``train()`` is the recipe (no arguments, returns a fitted estimator). Run as a script with a
producer environment's Python, it also writes the reference artifact and the golden CSV:

    python recipe.py OUTDIR

``nox -s reference`` does that in the demo's reference environment (see build.py). Only
numpy and scikit-learn are used, so the recipe runs in every scikit-learn release the demo
covers.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import ExtraTreesClassifier

FEATURES = ["income", "debt_ratio", "age", "tenure_months", "open_accounts", "utilisation"]
#: Each synthetic feature is mapped onto a plausible range: value * scale + offset.
SCALE = np.array([15000.0, 0.12, 9.0, 30.0, 2.5, 0.15])
OFFSET = np.array([52000.0, 0.35, 41.0, 60.0, 6.0, 0.45])
TRAIN_ROWS = 600


def _data() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=TRAIN_ROWS + 240,
        n_features=len(FEATURES),
        n_informative=4,
        n_redundant=1,
        flip_y=0.08,
        class_sep=0.8,
        random_state=7,
    )
    return X * SCALE + OFFSET, y


def train() -> ExtraTreesClassifier:
    """Fit the demo model on the training part of the data (fixed seeds, one thread)."""
    X, y = _data()
    model = ExtraTreesClassifier(n_estimators=10, min_samples_leaf=3, random_state=0, n_jobs=1)
    return model.fit(X[:TRAIN_ROWS], y[:TRAIN_ROWS])


def golden_rows(model: ExtraTreesClassifier) -> list[list[object]]:
    """Held-out rows tagged by what they exercise, plus out-of-range rows."""
    X, y = _data()
    held_x, held_y = X[TRAIN_ROWS:], y[TRAIN_ROWS:]
    proba = model.predict_proba(held_x)[:, 1]
    rows: list[list[object]] = []
    for i, (x, target, p) in enumerate(zip(held_x, held_y, proba, strict=True)):
        tag = "boundary" if 0.35 <= p <= 0.65 else f"class-{target}"
        rows.append([f"h{i:03d}", tag, *map(repr, x.tolist()), int(target)])
    # Far outside the training range: where trees extrapolate from their outermost leaves.
    rng = np.random.RandomState(11)
    extreme = OFFSET + SCALE * rng.normal(scale=4.0, size=(40, len(FEATURES)))
    for i, x in enumerate(extreme):
        rows.append([f"x{i:03d}", "extreme", *map(repr, x.tolist()), ""])
    return rows


def main(out: Path) -> None:
    """Train, write ``model.joblib`` and ``golden.csv`` into ``out``."""
    import joblib

    model = train()
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "model.joblib")
    with (out / "golden.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row_id", "tag", *FEATURES, "default"])
        writer.writerows(golden_rows(model))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
