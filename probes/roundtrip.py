"""The round-trip probe: dump the loaded estimator, load it back, predict again, compare exactly.

A model that loads and predicts may still not survive being saved again in the new
environment (the next deployment would ship that file). Outputs are compared bit for bit: the
same dtype, shape and values, with NaN equal to NaN in the same position and 0.0 distinct
from -0.0.
"""

from __future__ import annotations

import math
import os

from .load import dump_file, load_file, own_types
from .predict import build_input, call_methods

#: File name of the re-dumped estimator inside the work directory (kept for inspection).
FILE_STEM = "roundtrip"


def run(ctx, record: dict) -> None:
    """Dump ``ctx.estimator``, re-load it and re-run the methods that succeeded in predict.

    Records ``file``, ``bytes``, ``identical``, ``differs`` (methods whose outputs changed or
    that raised after the round trip) and per-method ``methods`` statuses. The probe is
    ``failed`` when dumping, re-loading or a re-run method raised.

    An ONNX model is ``skipped`` with a reason: the file is the model, and a cell has no writer
    of its own that a deployment would use (onnxruntime only reads). Rewriting the same bytes
    and loading them again would test nothing but the file system.
    """
    job = ctx.job
    if job.artifact_format == "onnx":
        record["status"] = "skipped"
        record["reason"] = "an ONNX file is not re-serialized in the cell: onnxruntime only reads"
        return
    path = os.path.join(job.work, "{}.{}".format(FILE_STEM, job.artifact_format))
    record["file"] = os.path.basename(path)
    dump_file(ctx.estimator, path, job.artifact_format)
    record["bytes"] = os.path.getsize(path)
    reloaded = load_file(path, job.artifact_format, own_types(path, job.artifact_format))

    before = ctx.predictions
    features, _kind, _note = build_input(reloaded, ctx.golden)
    # The first run already decided what kind each output is; only the values matter here.
    results = call_methods(reloaded, list(before), features, classifier=False)
    differs = []
    methods = {}
    first_error = None
    for name in before:
        method_record, output = results[name]
        if output is None:
            methods[name] = method_record
            first_error = first_error or method_record["error"]
            differs.append(name)
            continue
        same = same_output(output, before[name])
        methods[name] = {"status": "ok", "identical": same}
        if not same:
            differs.append(name)
    record["identical"] = not differs
    record["differs"] = differs
    record["methods"] = methods
    if first_error is not None:
        record["status"] = "failed"
        record["error"] = first_error


def same_output(left: dict, right: dict) -> bool:
    """True when two converted outputs have the same dtype, shape and values."""
    return (
        left["dtype"] == right["dtype"]
        and left["shape"] == right["shape"]
        and same_values(left["values"], right["values"])
    )


def same_values(left, right) -> bool:
    """Exact equality of two JSON-like values; NaN equals NaN, 0.0 differs from -0.0."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        # Lengths are compared first; zip(strict=True) would need Python 3.10.
        return len(left) == len(right) and all(
            same_values(a, b)
            for a, b in zip(left, right)  # noqa: B905
        )
    if isinstance(left, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return left == right and math.copysign(1.0, left) == math.copysign(1.0, right)
    return left == right
