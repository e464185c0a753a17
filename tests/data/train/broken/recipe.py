"""Train-mode recipes that cannot give a model: each must end as one-line load-error."""

from __future__ import annotations

from pathlib import Path

from sklearn.linear_model import LogisticRegression


def raises():
    """A recipe whose fitting raises (a parameter value no release accepts)."""
    return LogisticRegression(C=-1.0).fit([[0.0], [1.0]], [0, 1])


def not_an_estimator():
    """A recipe that returns something without prediction methods."""
    return {"model": "not here"}


def reads_beside_itself():
    """A recipe that reads a file next to it (allowed: the recipe's directory is an input)."""
    rows = (Path(__file__).parent / "train.csv").read_text().split()
    X = [[float(v)] for v in rows]
    return LogisticRegression().fit(X, [int(x[0] > 1.5) for x in X])
