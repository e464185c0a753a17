"""The load probe: does the artifact deserialize in this cell?

Loading a pickle runs code; that is why it happens here, inside the cell, and never on the
host. Warnings raised while loading (scikit-learn's ``InconsistentVersionWarning`` above all)
are captured by the runner around this probe.
"""

from __future__ import annotations

import os
import pickle


def run(ctx, record: dict) -> None:
    """Load ``job.artifact`` with its format's loader and keep the object in ``ctx.estimator``.

    Records ``format``, ``bytes`` (file size) and ``estimator`` (the full class path of the
    loaded object, e.g. ``sklearn.pipeline.Pipeline``). Any exception (truncated file, missing
    class, ``sys.exit`` inside a ``__reduce__``) propagates to the runner, which records it.
    """
    job = ctx.job
    record["format"] = job.artifact_format
    record["bytes"] = os.path.getsize(job.artifact)
    estimator = load_file(job.artifact, job.artifact_format)
    ctx.estimator = estimator
    record["estimator"] = class_path(estimator)


def load_file(path: str, fmt: str):
    """Deserialize ``path`` written in format ``fmt`` (``joblib`` or ``pickle``).

    Raises:
        Exception: Whatever the loader or the artifact's own code raises.
    """
    if fmt == "joblib":
        import joblib  # the cell's pinned joblib: its version is part of what is being tested

        return joblib.load(path)
    with open(path, "rb") as handle:
        return pickle.load(handle)


def dump_file(obj, path: str, fmt: str) -> None:
    """Serialize ``obj`` to ``path`` in format ``fmt`` with the library defaults."""
    if fmt == "joblib":
        import joblib

        joblib.dump(obj, path)
        return
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)


def class_path(obj) -> str:
    """Return ``module.QualifiedName`` of ``obj``'s class."""
    cls = type(obj)
    return "{}.{}".format(
        getattr(cls, "__module__", "?"), getattr(cls, "__qualname__", cls.__name__)
    )
