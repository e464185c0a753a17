"""The load probe: does the artifact deserialize in this cell?

Loading a pickle runs code; that is why it happens here, inside the cell, and never on the
host. Warnings raised while loading (scikit-learn's ``InconsistentVersionWarning`` above all)
are captured by the runner around this probe.

A skops file is loaded with the cell's own skops, whose audit lists the types it does not trust
by default; only the types the host's screening trusted (``artifact.trusted_types``) are passed
to its loader. Anything else found by the audit is refused before construction: nothing of the
file runs, and the cell is ``rejected`` with the names.

An ONNX file is opened by the cell's onnxruntime (probes/onnx_model.py); the loaded object is an
adapter with ``predict``/``predict_proba``, and the record gets the model's IR version, opsets
and the session's providers under ``onnx``.
"""

from __future__ import annotations

import os
import pickle


class UntrustedTypes(Exception):
    """skops' audit found types the matrix does not trust; the file was not loaded."""


def run(ctx, record: dict) -> None:
    """Load ``job.artifact`` with its format's loader and keep the object in ``ctx.estimator``.

    Records ``format``, ``bytes`` (file size) and ``estimator`` (the full class path of the
    loaded object, e.g. ``sklearn.pipeline.Pipeline``); for skops also ``untrusted_types``
    (skops' own audit) and, when it refused, ``refused_types``. Any exception (truncated file,
    missing class, ``sys.exit`` inside a ``__reduce__``) propagates to the runner, which records
    it.
    """
    job = ctx.job
    record["format"] = job.artifact_format
    record["bytes"] = os.path.getsize(job.artifact)
    estimator = load_file(job.artifact, job.artifact_format, job.trusted_types, record)
    ctx.estimator = estimator
    record["estimator"] = class_path(estimator)


def load_file(path: str, fmt: str, trusted_types=(), record=None):
    """Deserialize ``path`` written in format ``fmt`` (``joblib``, ``pickle``, ``skops``, ``onnx``).

    Args:
        path: The file.
        fmt: Its format.
        trusted_types: skops only: the type names its loader may construct beyond its defaults.
        record: skops only: where ``untrusted_types`` / ``refused_types`` are recorded; onnx
            only: where the model's header and the session are recorded (``onnx``).

    Raises:
        UntrustedTypes: skops' audit found a type outside ``trusted_types``.
        Exception: Whatever the loader or the artifact's own code raises.
    """
    if fmt == "joblib":
        import joblib  # the cell's pinned joblib: its version is part of what is being tested

        return joblib.load(path)
    if fmt == "skops":
        return _load_skops(path, trusted_types, {} if record is None else record)
    if fmt == "onnx":
        from .onnx_model import load as load_onnx  # imports onnxruntime only for ONNX files

        return load_onnx(path, {} if record is None else record)
    with open(path, "rb") as handle:
        return pickle.load(handle)


def _load_skops(path: str, trusted_types, record: dict):
    import skops.io  # the cell's pinned skops: its format reader is part of what is tested

    # The audit parses schema.json into nodes without importing or constructing anything.
    found = sorted(skops.io.get_untrusted_types(file=path))
    record["untrusted_types"] = found
    allowed = set(trusted_types)
    refused = [name for name in found if name not in allowed]
    if refused:
        record["refused_types"] = refused
        raise UntrustedTypes(
            "skops' audit found types outside `trusted`: {}; not loaded".format(", ".join(refused))
        )
    # skops audits again against exactly this list before it constructs anything.
    return skops.io.load(path, trusted=sorted(allowed))


def dump_file(obj, path: str, fmt: str) -> None:
    """Serialize ``obj`` to ``path`` in format ``fmt`` with the library defaults.

    Raises:
        ValueError: ``fmt`` is ``onnx``: the cell has no ONNX writer (see probes/roundtrip.py).
    """
    if fmt == "onnx":
        raise ValueError("an ONNX model is not re-serialized in the cell")
    if fmt == "joblib":
        import joblib

        joblib.dump(obj, path)
        return
    if fmt == "skops":
        import skops.io

        skops.io.dump(obj, path)
        return
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)


def own_types(path: str, fmt: str):
    """The types to trust when re-loading a file this cell just wrote (skops only).

    The cell dumped an object it already holds, so what the file names adds no exposure.
    """
    if fmt != "skops":
        return ()
    import skops.io

    return skops.io.get_untrusted_types(file=path)


def class_path(obj) -> str:
    """Return ``module.QualifiedName`` of ``obj``'s class."""
    cls = type(obj)
    return "{}.{}".format(
        getattr(cls, "__module__", "?"), getattr(cls, "__qualname__", cls.__name__)
    )
