"""Train-mode recipes: KMeans with scikit-learn's default ``n_init`` and with an explicit one.

``n_init`` defaulted to 10 up to scikit-learn 1.3 and became ``"auto"`` in 1.4 (one run with the
default k-means++ init), so the same recipe fits a different model after the upgrade. The data
come from numpy's legacy ``RandomState``, whose stream numpy keeps fixed across releases, so
every cell fits on the same numbers. Writing ``golden.csv``: ``python recipe.py``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

FEATURES = ("x0", "x1", "x2")
CLUSTERS = 5


def data() -> np.ndarray:
    """Five overlapping gaussian blobs: where k-means restarts disagree about the optimum."""
    rng = np.random.RandomState(0)
    centres = rng.uniform(-2.0, 2.0, size=(CLUSTERS, len(FEATURES)))
    return np.vstack([rng.normal(centre, 1.0, size=(80, len(FEATURES))) for centre in centres])


def default_n_init():
    """KMeans with the release's default ``n_init``; returns the model and its training data."""
    X = data()
    return KMeans(n_clusters=CLUSTERS, random_state=0).fit(X), X


def fixed_n_init():
    """The same with ``n_init=10`` written out, as the 1.4 release notes advise."""
    X = data()
    return KMeans(n_clusters=CLUSTERS, n_init=10, random_state=0).fit(X), X


def main(out: Path) -> None:
    """Write the golden set: every 4th training row, then points between the blobs."""
    X = data()
    rng = np.random.RandomState(7)
    rows = [(f"t{i:03d}", "train", *X[i]) for i in range(0, len(X), 4)]
    between = rng.uniform(-3.0, 3.0, size=(60, len(FEATURES)))
    rows += [(f"b{i:03d}", "between", *x) for i, x in enumerate(between)]
    with (out / "golden.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row_id", "tag", *FEATURES])
        writer.writerows([row_id, tag, *map(repr, map(float, x))] for row_id, tag, *x in rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
