"""The steps probe: what each step of a Pipeline outputs on the golden set (feature skew).

When a pipeline drifts, the question is *where*: did the scaler, the encoder or the model change?
This probe feeds the golden input through the pipeline one step at a time and records each
intermediate output — and, inside a ColumnTransformer, each of its transformers' outputs — so
the host can name the first step whose output differs from the reference's
("StandardScaler identical, OneHotEncoder differs in 3 columns").

Per step: its class, output shape and dtype, a sha256 per column (exact bits, so "identical" is
bit identity) and, when the output is numeric and small enough, the values themselves (so the
host can tell a difference within tolerance from a real one). A step that raises ends the walk
with its error; an estimator that is not a pipeline gets ``"applies": false``.
"""

from __future__ import annotations

import hashlib

from ._errors import error_info
from .load import class_path
from .predict import build_input

#: Intermediate outputs with at most this many numbers are recorded in full.
MAX_VALUES = 200000


def run(ctx, record: dict) -> None:
    """Walk ``ctx.estimator``'s steps over the golden input; fills ``applies`` and ``steps``."""
    estimator = ctx.estimator
    steps = getattr(estimator, "steps", None)
    if not isinstance(steps, list) or len(steps) < 2:
        record["applies"] = False
        return
    record["applies"] = True
    features, _kind, _note = build_input(estimator, ctx.golden)
    described = []
    record["steps"] = described
    current = features
    for name, step in steps[:-1]:
        if step is None or step == "passthrough":
            continue
        if hasattr(step, "transformers_"):
            described.extend(_parts(name, step, current))
        try:
            current = step.transform(current)
        except Exception as exc:
            described.append({"step": name, "class": class_path(step), "error": error_info(exc)})
            return
        described.append(describe(name, step, current))


def _parts(name: str, transformer, features) -> list:
    """Each fitted transformer of a ColumnTransformer, on its own columns."""
    parts = []
    for part_name, part, selected in column_parts(transformer, features):
        label = "{}/{}".format(name, part_name)
        try:
            if isinstance(selected, Exception):
                raise selected
            output = selected if part == "passthrough" else part.transform(selected)
        except Exception as exc:
            parts.append({"step": label, "class": class_path(part), "error": error_info(exc)})
            continue
        parts.append(describe(label, part, output))
    return parts


def column_parts(transformer, features):
    """Each fitted part of a ColumnTransformer with the columns it receives.

    Yields ``(name, part, selected)``; ``selected`` is the exception when selecting the columns
    failed. Yields nothing when this scikit-learn has no ``_safe_indexing`` (the combined output
    is still what the next step sees).
    """
    try:
        from sklearn.utils import _safe_indexing
    except Exception:
        return
    for part_name, part, columns in getattr(transformer, "transformers_", []):
        if part == "drop" or _empty(columns):
            continue
        try:
            selected = _safe_indexing(features, columns, axis=1)
        except Exception as exc:
            selected = exc
        yield part_name, part, selected


def _empty(columns) -> bool:
    try:
        return len(columns) == 0
    except TypeError:
        return False  # a slice or a scalar column: not empty


def describe(name: str, step, output) -> dict:
    """Shape, dtype, per-column hashes and (when small and numeric) the values of ``output``."""
    import numpy

    if hasattr(output, "toarray"):  # scipy sparse: compared as the dense matrix it stands for
        output = output.toarray()
    array = numpy.asarray(output)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    record = {
        "step": name,
        "class": step if isinstance(step, str) else class_path(step),
        "shape": list(array.shape),
        "dtype": str(array.dtype),
    }
    numeric = array.dtype.kind in "biuf"
    if numeric:
        array = numpy.ascontiguousarray(array, dtype=numpy.float64)
    record["columns"] = [_column_hash(array[:, index], numeric) for index in range(array.shape[1])]
    if numeric and array.size <= MAX_VALUES:
        record["values"] = array.tolist()
    return record


def _column_hash(column, numeric: bool) -> str:
    if numeric:
        data = column.tobytes()
    else:
        data = "\x1f".join(repr(value) for value in column.tolist()).encode("utf-8", "replace")
    return hashlib.sha256(data).hexdigest()[:16]
