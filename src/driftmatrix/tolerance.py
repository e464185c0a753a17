"""Score tolerances that know float32: what ``[compare] scores`` means for float32 outputs.

An ONNX model computes in float32, and two onnxruntime releases (or two thread counts) may sum
the same tree leaves in another order: outputs then differ by one unit in the last place (ulp),
5.96e-8 for a probability in [0.5, 1) — measured between onnxruntime 1.12 and 1.14 on a random
forest. With the default ``atol = 1e-9``, written for float64 outputs, every such ulp would read
as drift, and nothing a float32 model does could ever be ``equivalent``.

Decision: when the reference's *and* the cell's output of a method are both ``float32`` (the
``dtype`` of the predict probe's record), the tolerance of that method is widened to at least
:data:`FLOAT32_ULPS` ulps of float32 — ``atol`` and ``rtol`` each at least
``FLOAT32_ULPS * 2**-23`` (4.8e-7), i.e. a few ulps of the value itself and of 1.0 (near zero,
the rounding error of a probability is that of the terms it was computed from, not of the tiny
result). A larger tolerance in the matrix is kept. Labels are never widened: they are exact.
Bit identity is unaffected: a cell whose float32 outputs moved by one ulp is ``equivalent``,
never ``identical``. One side float32 and the other float64 is a change of dtype, judged with
the matrix's tolerance as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

#: float32's machine epsilon: one ulp of 1.0.
FLOAT32_EPS = 2.0**-23
#: How many float32 ulps two float32 outputs may differ by and still be the same computation.
FLOAT32_ULPS = 4
#: The smallest ``atol`` and ``rtol`` applied to float32 outputs.
FLOAT32_TOLERANCE = FLOAT32_ULPS * FLOAT32_EPS


class Tolerance(Protocol):
    """The two numbers a score comparison reads (compare.py's ``Policy`` has them)."""

    @property
    def atol(self) -> float: ...

    @property
    def rtol(self) -> float: ...


@dataclass(frozen=True)
class Applied:
    """The tolerance applied to one method's scores.

    Attributes:
        atol: Absolute tolerance.
        rtol: Relative tolerance (to ``|reference|``).
        widened: True when float32 outputs made it larger than the matrix's.
    """

    atol: float
    rtol: float
    widened: bool = False


def for_method(
    policy: Tolerance,
    method: str,
    reference_probes: Mapping[str, Any],
    cell_probes: Mapping[str, Any],
) -> Applied:
    """The tolerance for ``method``'s scores, given both sides' predict records.

    Args:
        policy: ``[compare] scores`` (``atol``, ``rtol``).
        method: The method's name (``predict_proba``, ...).
        reference_probes: The reference cell's ``probes`` object.
        cell_probes: The compared cell's ``probes`` object.

    Returns:
        The policy's tolerance, widened to :data:`FLOAT32_TOLERANCE` when both outputs are float32.
    """
    float32 = _is_float32(method, reference_probes) and _is_float32(method, cell_probes)
    if not float32:
        return Applied(policy.atol, policy.rtol)
    atol = max(policy.atol, FLOAT32_TOLERANCE)
    rtol = max(policy.rtol, FLOAT32_TOLERANCE)
    return Applied(atol, rtol, widened=(atol, rtol) != (policy.atol, policy.rtol))


def _is_float32(method: str, probes: Mapping[str, Any]) -> bool:
    predict = probes.get("predict")
    methods = predict.get("methods") if isinstance(predict, Mapping) else None
    record = methods.get(method) if isinstance(methods, Mapping) else None
    dtype = record.get("dtype") if isinstance(record, Mapping) else None
    if isinstance(dtype, list):  # a list of arrays: every part must be float32
        return bool(dtype) and all(part == "float32" for part in dtype)
    return dtype == "float32"
