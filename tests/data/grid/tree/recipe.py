"""The grid's tree model: a DecisionTreeClassifier fitted in every producer cell.

The data come from numpy's legacy ``RandomState`` (a stream numpy keeps fixed across releases),
so every producer fits on the same numbers; ``random_state=0`` fixes the tree's own choices.
Writing ``golden.csv``: ``python recipe.py``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from sklearn.tree import DecisionTreeClassifier

FEATURES = ("f0", "f1", "f2", "f3")


def data() -> tuple[np.ndarray, np.ndarray]:
    """300 rows, 4 features; the label depends on two of them, with noise."""
    rng = np.random.RandomState(5)
    X = rng.normal(size=(300, len(FEATURES)))
    y = ((X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=300)) > 0).astype(int)
    return X, y


def train():
    """The fitted tree and the data it was fitted on."""
    X, y = data()
    return DecisionTreeClassifier(max_depth=6, random_state=0).fit(X, y), X, y


def main(out: Path) -> None:
    """Write the golden set: 100 fresh rows from the same distribution."""
    rng = np.random.RandomState(9)
    rows = rng.normal(size=(100, len(FEATURES)))
    with (out / "golden.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row_id", *FEATURES])
        writer.writerows([f"g{i:03d}", *map(repr, map(float, x))] for i, x in enumerate(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
