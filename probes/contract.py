"""The contract probe: what the model does with bad inputs, case by case.

The input contract is derived from the golden set as the model sees it (contract_input.py):
its columns, which are numeric and which categorical, their ranges, the categories seen and
which columns have missing values. Each case then changes one thing (a column missing or
extra, text in a numeric column, a missing value where the golden set has none, an unseen
category, no rows, one row, a large batch) and calls every prediction method that answered on
the golden set. Per method the outcome is ``error`` (a clear exception: its type and one-line
message) or ``output`` (silent output, with its schema checked: rows, dtype, values among
``classes_``, probabilities in [0, 1] summing to 1, finite). A case is ``error`` or ``output``
when all its methods agree, ``mixed`` otherwise, ``not-applicable`` when the golden set offers
nothing to change (no categorical column, ...).

A case that kills the process (a segfault in native code) cannot be recorded here. Before
each case the probe rewrites its ``running`` record with the case's name (``ctx.progress``), so
the result file the dead process leaves names the case, and the host reads it as ``crash``.

Deterministic by construction: the inputs depend on the golden set only. What the host compares
between cells is the *classification* (outcome, exception type, which checks failed), never
the message: messages carry reworded text between releases, object addresses and sizes.
"""

from __future__ import annotations

import sys
import time

from ._compat import is_classifier
from ._errors import error_info, one_line
from ._warnings import capture, describe
from .contract_input import CASES, golden_table, large_rows
from .contract_input import describe as describe_columns
from .predict import METHODS, build_input

#: Largest ``|row sum - 1|`` of ``predict_proba`` that still sums to 1: float32 models (ONNX)
#: round by a few units in the last place per class.
SUM_TOLERANCE = 1e-5
#: Longest error message kept per method: up to 8 cases x 3 methods share one result file.
MESSAGE_LIMIT = 200


def run(ctx, record: dict) -> None:
    """Run every case; fills ``input``, ``columns``, ``large_rows`` and ``cases``."""
    estimator = ctx.estimator
    methods = [name for name in METHODS if name in ctx.predictions]
    # The same decision the predict probe made (DataFrame or array), made again the same way.
    kind = build_input(estimator, ctx.golden)[1]
    table = golden_table(estimator, ctx.golden, kind)
    record["input"] = table.kind
    record["columns"] = describe_columns(table)
    record["large_rows"] = large_rows(table)
    cases = {}
    record["cases"] = cases
    expect = {
        "dtypes": {name: ctx.predictions[name]["dtype"] for name in methods},
        "classes": _classes(estimator),
        "classifier": is_classifier(estimator),
    }
    for name, make in CASES:
        if ctx.progress is not None:
            # If the process dies inside this case, result.json says which one it was.
            ctx.progress(dict(record, case=name))
        cases[name] = run_case(make, table, estimator, methods, expect)


def run_case(make, table, estimator, methods, expect) -> dict:
    """Build one case's input and call each method on it; return the case record."""
    start = time.perf_counter()
    changed, change = make(table)
    if changed is None:
        return {"outcome": "not-applicable", "reason": change}
    features = changed.render()
    results = {}
    for name in methods:
        results[name] = call(estimator, name, features, changed.rows, expect)
    del features  # the large batch: free it before the next case builds its own
    outcomes = {entry["outcome"] for entry in results.values()}
    return {
        "outcome": outcomes.pop() if len(outcomes) == 1 else "mixed",
        "change": change,
        "rows": changed.rows,
        "columns": len(changed.columns),
        "methods": results,
        "seconds": round(time.perf_counter() - start, 6),
    }


def call(estimator, name: str, features, rows: int, expect) -> dict:
    """Call one method on a case's input: ``{"outcome": "error", "error"}`` or the checks."""
    with capture() as caught:
        try:
            raw = getattr(estimator, name)(features)
        except Exception as exc:
            info = error_info(exc)
            info.pop("traceback", None)  # the type classifies; keep the result file small
            info["message"] = one_line(info["message"], MESSAGE_LIMIT)
            entry = {"outcome": "error", "error": info}
        else:
            entry = {"outcome": "output"}
            try:
                entry.update(check_output(raw, name, rows, expect))
            except Exception as exc:
                # An output the checks cannot read is still an output, not the model's error.
                info = error_info(exc)
                entry["check_error"] = "{}: {}".format(info["type"], info["message"])
    warned = sorted({warning["category"] for warning in describe(caught)})
    if warned:
        entry["warned"] = warned
    return entry


def check_output(raw, name: str, rows: int, expect) -> dict:
    """The output schema checks of one method's output (each True when it holds).

    ``rows``: one output row per input row; ``dtype``: the dtype the method had on the golden
    set; ``finite``: no NaN or infinity in a float output; ``classes``: ``predict`` of a
    classifier returns only values of ``classes_``; ``in_range`` and ``sums_to_one``:
    ``predict_proba`` rows are probabilities.
    """
    import numpy

    parts = _parts(raw)
    dtypes = [str(part.dtype) for part in parts]
    shapes = [list(part.shape) for part in parts]
    single = len(parts) == 1 and not isinstance(raw, (list, tuple))
    dtype = dtypes[0] if single else dtypes
    checks = {
        "rows": all(part.ndim >= 1 and part.shape[0] == rows for part in parts),
        "dtype": dtype == expect["dtypes"].get(name),
    }
    floats = all(part.dtype.kind == "f" for part in parts)
    if floats:
        checks["finite"] = all(bool(numpy.isfinite(part).all()) for part in parts)
    classes = expect["classes"]
    if name == "predict" and expect["classifier"] and classes is not None and single:
        checks["classes"] = parts[0].ndim == 1 and bool(numpy.isin(parts[0], classes).all())
    if name == "predict_proba":
        checks["in_range"] = floats and all(
            bool(((part >= 0) & (part <= 1)).all()) for part in parts
        )
        checks["sums_to_one"] = floats and all(
            part.ndim == 2 and bool((abs(part.sum(axis=1) - 1.0) <= SUM_TOLERANCE).all())
            for part in parts
        )
    return {"dtype": dtype, "shape": shapes[0] if single else shapes, "checks": checks}


def _parts(raw) -> list:
    """The output as a list of numpy arrays (a multi-output list stays a list of parts)."""
    import numpy

    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(raw):
        return [numpy.asarray(raw.toarray())]
    if isinstance(raw, (list, tuple)) and raw and all(hasattr(part, "shape") for part in raw):
        return [numpy.asarray(part) for part in raw]
    return [numpy.asarray(raw)]


def _classes(estimator):
    """``classes_`` as a 1-D array, or None (absent, multi-output, or unreadable)."""
    try:
        import numpy

        classes = getattr(estimator, "classes_", None)
        if classes is None or isinstance(classes, (list, tuple)):
            return None
        classes = numpy.asarray(classes)
        return classes if classes.ndim == 1 else None
    except Exception:
        return None
