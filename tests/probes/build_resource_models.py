"""Build the real models the latency and memory tests use.

Run with the *cell's* interpreter (it needs scikit-learn); the test process never imports it and
never unpickles what it writes::

    VENV/bin/python tests/probes/build_resource_models.py OUT_DIR

Writes into OUT_DIR and prints a JSON index of the files:

* ``forest.joblib`` + ``golden_forest.csv``: 400 fully grown trees, CPU-bound to predict (about
  70 ms for 1000 rows on one core here), for the latency tests: a CPU quota slows it down.
* ``tiler.joblib`` + ``golden_tiler.csv``: a pipeline whose predict allocates a known transient
  block: ``numpy.tile`` widens each golden row to 1,000,000 floats (8 MB a row; 10 rows, 80 MB),
  and the next step keeps the first 4 columns. The block is freed before predict returns, so only
  a peak measurement sees it.
* ``squeezer.joblib`` (golden: ``golden_tiler.csv``): ``numpy.squeeze`` before a classifier, so a
  batch of one row becomes 1-D and predict raises, while any larger batch works: the latency
  probe's failure on one batch size.
"""

import csv
import json
import operator
import os
import sys

import joblib
import numpy as np
from sklearn.datasets import load_iris, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

#: Floats per golden row after tiling (4 features repeated).
TILED_WIDTH = 1_000_000
TILER_ROWS = 10


def write_golden(path, names, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row_id", "tag", *names])
        for number, row in enumerate(rows):
            writer.writerow([f"r{number:03d}", "", *(repr(float(v)) for v in row)])


def main(out):
    index = {}

    features, target = make_classification(
        n_samples=3000, n_features=6, n_informative=4, random_state=0
    )
    forest = RandomForestClassifier(n_estimators=400, random_state=0).fit(features, target)
    index["forest.joblib"] = os.path.join(out, "forest.joblib")
    joblib.dump(forest, index["forest.joblib"])
    index["golden_forest.csv"] = os.path.join(out, "golden_forest.csv")
    write_golden(index["golden_forest.csv"], [f"f{i}" for i in range(6)], features[:200])

    iris = load_iris()
    tile = FunctionTransformer(np.tile, kw_args={"reps": (1, 1)})
    keep = FunctionTransformer(operator.itemgetter((slice(None), slice(0, 4))))
    tiler = Pipeline([("tile", tile), ("keep", keep), ("clf", LogisticRegression(max_iter=1000))])
    tiler.fit(iris.data, iris.target)
    # Widened only after fitting: fitting on 150 rows this wide would need 1.2 GB.
    tiler.set_params(tile__kw_args={"reps": (1, TILED_WIDTH // 4)})
    index["tiler.joblib"] = os.path.join(out, "tiler.joblib")
    joblib.dump(tiler, index["tiler.joblib"])
    index["golden_tiler.csv"] = os.path.join(out, "golden_tiler.csv")
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    write_golden(index["golden_tiler.csv"], names, iris.data[::15][:TILER_ROWS])

    squeeze = FunctionTransformer(np.squeeze)
    squeezer = Pipeline([("squeeze", squeeze), ("clf", LogisticRegression(max_iter=1000))])
    index["squeezer.joblib"] = os.path.join(out, "squeezer.joblib")
    joblib.dump(squeezer.fit(iris.data, iris.target), index["squeezer.joblib"])

    print(json.dumps(index))


if __name__ == "__main__":
    main(sys.argv[1])
