"""Train mode, feature skew: a pipeline whose middle step fits differently after an upgrade.

``QuantileTransformer`` fitted on 30,000 rows gives other quantiles in scikit-learn 1.6 than in
1.4 (measured; it subsamples 10,000 rows in both), while ``StandardScaler`` is bit-identical, so
the drift of the final model starts at the quantile step. The data come from numpy's legacy
``RandomState``, fixed across releases. Writing ``golden.csv``: ``python recipe.py``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer, StandardScaler

FEATURES = ("a", "b", "c")


def data() -> tuple[np.ndarray, np.ndarray]:
    """Skewed features; the label depends on two of them."""
    rng = np.random.RandomState(0)
    X = rng.lognormal(size=(30000, len(FEATURES)))
    y = (np.log(X[:, 0]) - 0.5 * np.log(X[:, 1]) + rng.normal(scale=0.7, size=len(X)) > 0)
    return X, y.astype(int)


def train():
    """Scaler → quantile transform → logistic regression, and the training data."""
    X, y = data()
    model = Pipeline(
        [
            ("scaler", StandardScaler()),
            ("quantile", QuantileTransformer(random_state=0)),
            ("model", LogisticRegression()),
        ]
    )
    return model.fit(X, y), X, y


def main(out: Path) -> None:
    """Write the golden set: 200 fresh rows from the same distribution."""
    rng = np.random.RandomState(1)
    rows = rng.lognormal(size=(200, len(FEATURES)))
    with (out / "golden.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row_id", *FEATURES])
        writer.writerows([f"g{i:03d}", *map(repr, map(float, x))] for i, x in enumerate(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
