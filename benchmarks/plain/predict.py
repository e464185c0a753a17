"""Load a joblib model and predict a golden CSV: what a plain nox session runs in each cell.

Usage: ``python predict.py MODEL GOLDEN_CSV``. Prints the Python version, the number of rows and
a sha256 of the predicted labels and probabilities; a model that does not load or predict raises
(the session fails), as a hand-written script would.
"""

from __future__ import annotations

import csv
import hashlib
import platform
import sys

import joblib
import numpy as np

#: Columns of the demo's golden set that are not features.
NOT_FEATURES = ("row_id", "tag", "default")


def main(model_path: str, golden_path: str) -> None:
    """Load the model, predict every golden row, print a digest of the outputs."""
    with open(golden_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    features = [name for name in rows[0] if name not in NOT_FEATURES]
    X = np.array([[float(row[name]) for name in features] for row in rows])
    model = joblib.load(model_path)
    labels = model.predict(X)
    proba = model.predict_proba(X)
    digest = hashlib.sha256(np.ascontiguousarray(labels).tobytes())
    digest.update(np.ascontiguousarray(proba).tobytes())
    print(
        f"Python {platform.python_version()}: {len(rows)} rows predicted;"
        f" outputs sha256 {digest.hexdigest()}"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
