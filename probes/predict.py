"""The predict probe: run every prediction method the estimator has on the golden set.

The input is built the way the model was fitted: a DataFrame with the fitted column names when
the estimator has ``feature_names_in_`` (and pandas imports), otherwise a plain 2-D array of
the feature columns in file order. Feeding a DataFrame to a model fitted on an array would raise
a spurious feature-names warning, and the reverse would lose the column names.

Each method runs separately: one that raises is ``failed`` while the others are still recorded,
and a method the estimator lacks is simply absent (docs/runner-protocol.md).
"""

from __future__ import annotations

import sys
import time

from ._compat import is_classifier
from ._errors import error_info
from .golden import read_golden
from .load import class_path
from .onnx_model import OnnxModel

#: The prediction methods tried, in this order.
METHODS = ("predict", "predict_proba", "decision_function")


def run(ctx, record: dict) -> None:
    """Predict on the golden set; fills the record, ``ctx.outputs`` and ``ctx.predictions``."""
    job = ctx.job
    golden = read_golden(job.golden, job.target, job.id_column, job.tag_column)
    ctx.golden = golden
    ctx.outputs = {"row_ids": golden.row_ids, "tags": golden.tags, "classes": None, "methods": {}}
    record["rows"] = golden.rows
    estimator = ctx.estimator
    methods = {}
    record["methods"] = methods

    broken = {}
    present = []
    for name in METHODS:
        try:
            # hasattr only swallows AttributeError (scikit-learn's available_if raises it for a
            # method the estimator does not offer); anything else means the estimator has the
            # method but cannot even produce it, which the protocol counts as a failed method.
            if hasattr(estimator, name):
                present.append(name)
        except Exception as exc:
            broken[name] = ({"status": "failed", "error": error_info(exc)}, None)
    if not present and not broken:
        raise TypeError(
            "the loaded object ({}) has none of {}".format(
                class_path(estimator), ", ".join(METHODS)
            )
        )

    ctx.outputs["classes"] = classes_of(estimator)
    features, record["input"], note = build_input(estimator, golden)
    if note:
        record["input_note"] = note
    results = call_methods(estimator, present, features, is_classifier(estimator))
    results.update(broken)
    ctx.predictions = {}
    for name in METHODS:  # keep the protocol's method order in the record
        if name not in results:
            continue
        method_record, output = results[name]
        methods[name] = method_record
        if output is not None:
            ctx.outputs["methods"][name] = output["values"]
            ctx.predictions[name] = output
    failed = [name for name in METHODS if methods.get(name, {}).get("status") == "failed"]
    if failed:
        record["status"] = "failed"
        record["error"] = methods[failed[0]]["error"]


def build_input(estimator, golden):
    """Build the model input from the golden set.

    Returns:
        ``(features, kind, note)``: the input object, ``"dataframe"`` or ``"array"`` (for an ONNX
        model: its session's inputs, ``"array"`` or ``"columns"``), and a note explaining a
        fallback (or None).

    Raises:
        ValueError: The estimator was fitted with columns the golden set does not have.
    """
    if isinstance(estimator, OnnxModel):
        feeds, kind = estimator.feeds(golden)
        return feeds, kind, None
    import numpy

    names = fitted_feature_names(estimator)
    note = None
    if names is not None:
        try:
            import pandas
        except Exception as exc:
            pandas = None
            info = error_info(exc)
            note = "fitted with feature names but pandas is not importable ({}: {})".format(
                info["type"], info["message"]
            )
        if pandas is not None:
            missing = [name for name in names if name not in golden.values]
            if missing:
                raise ValueError(
                    "the golden set has no feature column {} that the estimator was fitted "
                    "with (it has {} feature columns: {})".format(
                        ", ".join(repr(name) for name in missing[:10]),
                        len(golden.columns),
                        ", ".join(repr(name) for name in golden.columns[:10]),
                    )
                )
            series = {}
            for name in names:
                column = _column(numpy, golden, name)
                # An explicit dtype: pandas>=3 would otherwise infer its own string dtype.
                series[name] = pandas.Series(column, dtype=column.dtype)
            return pandas.DataFrame(series, columns=names), "dataframe", note

    columns = golden.columns
    numeric = all(golden.numeric[name] for name in columns)
    features = numpy.empty((golden.rows, len(columns)), dtype=numpy.float64 if numeric else object)
    for position, name in enumerate(columns):
        features[:, position] = _column(numpy, golden, name)
    return features, "array", note


def fitted_feature_names(estimator):
    """Return ``feature_names_in_`` as a list of strings, or None when the estimator has none."""
    try:
        names = getattr(estimator, "feature_names_in_", None)
        return None if names is None else [str(name) for name in names]
    except Exception:
        # Any failure here only means "no usable names": the array path is then the honest input.
        return None


def classes_of(estimator):
    """Return ``classes_`` as JSON values (a list of lists for multi-output), or None."""
    try:
        classes = getattr(estimator, "classes_", None)
        if classes is None:
            return None
        if isinstance(classes, (list, tuple)):
            return [_tolist(part) for part in classes]
        return _tolist(classes)
    except Exception:
        return None


def call_methods(estimator, names, features, classifier: bool) -> dict:
    """Call each method in ``names`` on ``features``, separately.

    Returns:
        ``{name: (record, output)}``; ``record`` is the protocol's per-method object and
        ``output`` is ``{"values", "dtype", "shape"}`` (None when the method raised).
    """
    results = {}
    for name in names:
        start = time.perf_counter()
        try:
            raw = getattr(estimator, name)(features)
            output = convert(raw)
        except Exception as exc:
            results[name] = ({"status": "failed", "error": error_info(exc)}, None)
            continue
        seconds = round(time.perf_counter() - start, 6)
        kind = "labels" if (name == "predict" and classifier) or not output["float"] else "scores"
        record = {"status": "ok", "kind": kind, "dtype": output["dtype"], "shape": output["shape"]}
        if output.get("sparse"):
            record["sparse"] = True
        record["seconds"] = seconds
        results[name] = (record, output)
    return results


def convert(raw) -> dict:
    """Turn a method's return value into exact JSON values plus its dtype and shape.

    ``tolist()`` gives Python floats, whose ``repr`` round-trips bit for bit. A list of arrays
    (multi-output ``predict_proba``) keeps one dtype and shape per part; a scipy sparse matrix
    is densified and marked ``sparse``.
    """
    import numpy

    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(raw):
        output = convert(raw.toarray())
        output["sparse"] = True
        return output
    if isinstance(raw, (list, tuple)) and raw and all(hasattr(part, "shape") for part in raw):
        parts = [convert(part) for part in raw]
        return {
            "values": [part["values"] for part in parts],
            "dtype": [part["dtype"] for part in parts],
            "shape": [part["shape"] for part in parts],
            "float": all(part["float"] for part in parts),
        }
    array = numpy.asarray(raw)
    return {
        "values": array.tolist(),
        "dtype": str(array.dtype),
        "shape": list(array.shape),
        "float": array.dtype.kind in "fc",
    }


def _column(numpy, golden, name: str):
    values = golden.values[name]
    if golden.numeric[name]:
        return numpy.asarray(values, dtype=numpy.float64)
    # Filled element by element: numpy.asarray(list_of_str) would make a fixed-width '<U' array.
    column = numpy.empty(len(values), dtype=object)
    column[:] = values
    return column


def _tolist(value):
    to_list = getattr(value, "tolist", None)
    return to_list() if callable(to_list) else list(value)
