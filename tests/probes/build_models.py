"""Build the tiny real models and golden sets the runner tests use.

Run with the *cell's* interpreter (it needs scikit-learn), never imported by the test process,
which must not unpickle an artifact::

    VENV/bin/python tests/probes/build_models.py OUT_DIR

Writes artifacts and golden CSV files into OUT_DIR and prints a JSON index of them.
"""

import csv
import json
import os
import pickle
import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import sklearn.base
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.svm import SVC

COLORS = ("red", "green", "blue")


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def cell(value):
    # repr keeps every bit of a float; NaN becomes an empty cell, as pandas writes it.
    if isinstance(value, float):
        return "" if value != value else repr(value)
    return str(value)


def read_reg_golden(out):
    with open(os.path.join(out, "golden_reg.csv"), newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    return np.array([[float(v) if v else np.nan for v in row[1:4]] for row in rows])


def main(out):
    iris = load_iris()
    features = iris.data.astype(np.float64)
    target = iris.target
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    index = {}

    def save(name, obj, fmt="joblib"):
        path = os.path.join(out, name)
        if fmt == "joblib":
            joblib.dump(obj, path)
        elif fmt == "skops":
            skops.io.dump(obj, path)
        else:
            with open(path, "wb") as handle:
                pickle.dump(obj, handle)
        index[name] = path

    # Golden set for models fitted on arrays: every 10th iris row, with ids, tags and target.
    picked = list(range(0, 150, 10))
    write_csv(
        os.path.join(out, "golden_iris.csv"),
        ["row_id", *names, "tag", "species"],
        [
            [
                f"r{i:03d}",
                *(cell(float(v)) for v in features[i]),
                "edge" if i % 50 == 0 else "",
                int(target[i]),
            ]
            for i in picked
        ],
    )

    array_model = LogisticRegression(max_iter=1000).fit(features, target)
    save("clf_array.joblib", array_model)
    save("clf_array.pkl", array_model, fmt="pickle")
    save("clf_array.skops", array_model, fmt="skops")
    # A tree ensemble: skops does not trust sklearn.tree._tree.Tree by default.
    forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0)
    save("forest.skops", forest.fit(features, target), fmt="skops")
    save("svc.joblib", SVC(probability=False).fit(features, target))

    # A real model whose predict raises while predict_proba and decision_function still work:
    # LogisticRegression.predict indexes classes_, the other two only use coef_/intercept_.
    broken = LogisticRegression(max_iter=1000).fit(features, (target == 0).astype(int))
    broken.classes_ = np.array([], dtype=np.int64)
    save("clf_no_classes.joblib", broken)

    # Pretend the file was written by scikit-learn 1.4.0: its loader then raises a real
    # InconsistentVersionWarning carrying the original version.
    real_version = sklearn.base.__version__
    sklearn.base.__version__ = "1.4.0"
    try:
        save("clf_from_1_4_0.joblib", LogisticRegression(max_iter=1000).fit(features, target))
    finally:
        sklearn.base.__version__ = real_version

    with open(index["clf_array.joblib"], "rb") as handle:
        data = handle.read()
    with open(os.path.join(out, "truncated.joblib"), "wb") as handle:
        handle.write(data[: len(data) // 2])
    index["truncated.joblib"] = os.path.join(out, "truncated.joblib")

    # Regressor on arrays, behind an imputer so that empty golden cells (NaN) are valid input.
    regressor = make_pipeline(SimpleImputer(), Ridge()).fit(features[:, :3], features[:, 3])
    save("reg.joblib", regressor)
    reg_rows = []
    for number, i in enumerate(picked):
        values = [float(v) for v in features[i, :3]]
        tag = ""
        if number % 4 == 1:
            values[number % 3] = float("nan")
            tag = "missing-value"
        reg_rows.append([f"r{i:03d}", *(cell(v) for v in values), tag])
    write_csv(os.path.join(out, "golden_reg.csv"), ["row_id", *names[:3], "tag"], reg_rows)

    # DataFrame model with a string column; OneHotEncoder refuses unseen categories.
    frame = pd.DataFrame(features, columns=names)
    frame["color"] = [COLORS[i % 3] for i in range(len(frame))]
    strict = make_pipeline(
        ColumnTransformer(
            [("color", OneHotEncoder(handle_unknown="error"), ["color"])], remainder="passthrough"
        ),
        LogisticRegression(max_iter=1000),
    ).fit(frame, target)
    save("frame_strict.joblib", strict)
    save("frame_strict.skops", strict, fmt="skops")

    # Columns deliberately in another order than at fit time, plus one the model never saw.
    header = ["row_id", "color", *reversed(names), "note", "tag", "species"]

    def frame_rows(colors):
        return [
            [
                f"r{i:03d}",
                colors(i),
                *(cell(float(v)) for v in features[i][::-1]),
                f"n{i}",
                "",
                int(target[i]),
            ]
            for i in picked
        ]

    write_csv(os.path.join(out, "golden_frame.csv"), header, frame_rows(lambda i: COLORS[i % 3]))
    write_csv(
        os.path.join(out, "golden_frame_unseen.csv"),
        header,
        frame_rows(lambda i: "purple" if i == 20 else COLORS[i % 3]),
    )
    write_csv(
        os.path.join(out, "golden_frame_missing.csv"),
        [name for name in header if name != "color"],
        [row[:1] + row[2:] for row in frame_rows(lambda i: COLORS[i % 3])],
    )

    # What the models predict at training time, for the bit-exactness checks.
    rows = features[picked]
    expected = {
        "clf_array": {
            method: getattr(array_model, method)(rows).tolist()
            for method in ("predict", "predict_proba", "decision_function")
        },
        "frame_strict": {
            method: getattr(strict, method)(frame.iloc[picked]).tolist()
            for method in ("predict", "predict_proba", "decision_function")
        },
        "reg": {"predict": regressor.predict(read_reg_golden(out)).tolist()},
        "forest": {
            method: getattr(forest, method)(rows).tolist()
            for method in ("predict", "predict_proba")
        },
    }
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as handle:
        json.dump(expected, handle)

    # Contract probe: a model that kills its process on an empty batch, and its twin that
    # answers it. Imported by its full name so that the pickle names a module the runner (whose
    # working directory is the repository root) can import.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from tests.probes.crash_model import CrashOnEmpty

    save("crash_on_empty.joblib", CrashOnEmpty())
    save("empty_ok.joblib", CrashOnEmpty(crash=False))

    for name in os.listdir(out):
        index.setdefault(name, os.path.join(out, name))
    json.dump(index, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    # Training noise (e.g. a scipy deprecation inside LogisticRegression) is not under test.
    warnings.simplefilter("ignore")
    main(sys.argv[1])
