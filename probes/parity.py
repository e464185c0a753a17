"""The parity probe: does the model's ONNX conversion predict what scikit-learn predicts, here?

In a cell that has skl2onnx and onnxruntime installed beside a scikit-learn artifact, the loaded
estimator is converted with skl2onnx (``to_onnx``, its default opset, the golden features' first
row as the float32 initial type, as a user exporting this model would), run by onnxruntime on
the golden set, and compared with the estimator's own outputs from the predict probe: labels
exactly, probabilities and other floats within :data:`ATOL`.

A measurement, never a verdict: a conversion that fails (an estimator skl2onnx has no converter
for) makes this probe ``failed`` with the converter's error, and nothing else; a conversion that
predicts differently is reported (``differs``; the host flags ``parity-differs``).
"""

from __future__ import annotations

import importlib.util

from . import onnx_proto
from .onnx_model import OnnxModel, explain, open_session
from .predict import build_input, convert

#: The packages parity needs beyond the model's own.
NEEDS = ("skl2onnx", "onnxruntime")
#: Largest difference of a float output still counted as the same. The converted model computes
#: in float32 where scikit-learn uses float64: rounding alone moves probabilities by a few 1e-7
#: (measured 1.8e-7 for a LogisticRegression), while a tree leaf moved by a float32 threshold
#: changes them by tenths. 1e-5 leaves room for rounding to accumulate in larger models.
ATOL = 1e-5


def run(ctx, record: dict) -> None:
    """Convert ``ctx.estimator``, run it with onnxruntime and compare with ``ctx.predictions``.

    Records ``converter`` and ``runtime`` (versions), ``converted``, the converted model's
    ``ir_version`` and ``opsets``, per method ``{total, flipped}`` (labels) or ``{total, beyond,
    max_abs, atol}`` (floats), and ``differs`` (the methods whose outputs differ). ``skipped``
    (with ``reason``) when the artifact is already ONNX, a package is missing or the model is not
    fed a numeric array.
    """
    reason = _not_applicable(ctx)
    if reason is None:
        features, kind, _note = build_input(ctx.estimator, ctx.golden)
        if kind != "array" or features.dtype.kind != "f":
            fed = "{} array".format(features.dtype) if kind == "array" else kind
            reason = "parity converts models fed a float array; this one is fed a " + fed
    if reason:
        record["status"] = "skipped"
        record["reason"] = reason
        return
    import numpy
    import onnxruntime
    import skl2onnx

    record["converter"] = getattr(skl2onnx, "__version__", None)
    record["runtime"] = getattr(onnxruntime, "__version__", None)
    record["converted"] = False
    model = skl2onnx.to_onnx(ctx.estimator, features[:1].astype(numpy.float32))
    record["converted"] = True
    data = model.SerializeToString()
    header = onnx_proto.read_header(data)
    record["ir_version"] = header["ir_version"]
    record["opsets"] = header["opsets"]
    try:
        session = open_session(data)
    except Exception as exc:
        explain(exc, header, record["runtime"])
        raise
    converted = OnnxModel(session, onnx_proto.class_labels(data))
    feeds, _kind = converted.feeds(ctx.golden)
    methods = {}
    for name, before in ctx.predictions.items():
        if name not in converted.outputs:
            continue
        after = convert(getattr(converted, name)(feeds))
        methods[name] = compare(numpy, before, after)
    record["methods"] = methods
    record["differs"] = [name for name, entry in methods.items() if entry["differs"]]


def compare(numpy, before: dict, after: dict) -> dict:
    """Compare scikit-learn's converted output ``before`` with onnxruntime's ``after``.

    Labels (a non-float output of scikit-learn) must be equal row by row; floats within
    :data:`ATOL`, NaN equal to NaN. skl2onnx writes a regressor's ``[N]`` output as ``[N, 1]``:
    outputs are compared row by row whatever the trailing shape, as long as the sizes agree.
    """
    ref = numpy.asarray(before["values"], dtype=object if not before["float"] else "float64")
    got = numpy.asarray(after["values"], dtype=object if not before["float"] else "float64")
    total = int(ref.shape[0]) if ref.ndim else 1
    if ref.size != got.size or (got.ndim and got.shape[0] != total):
        return {"total": total, "differs": True, "shapes": [list(ref.shape), list(got.shape)]}
    ref, got = ref.reshape(total, -1), got.reshape(total, -1)
    if not before["float"]:
        flipped = int((ref != got).any(axis=1).sum())
        return {"total": total, "flipped": flipped, "differs": flipped > 0}
    close = numpy.isclose(got, ref, rtol=0.0, atol=ATOL, equal_nan=True)
    beyond = int((~close).any(axis=1).sum())
    both = numpy.isfinite(ref) & numpy.isfinite(got)
    diff = numpy.abs(got[both] - ref[both])
    return {
        "total": total,
        "beyond": beyond,
        "max_abs": float(diff.max()) if diff.size else 0.0,
        "atol": ATOL,
        "differs": beyond > 0,
    }


def _not_applicable(ctx):
    """Why parity cannot be measured in this cell (before looking at the input), or None."""
    if ctx.job.artifact_format == "onnx":
        return "the artifact is already an ONNX model"
    missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        return "not installed in this cell: {}".format(", ".join(missing))
    return None
