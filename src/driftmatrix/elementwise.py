"""Elementwise difference of two JSON values under a tolerance: the one rule for "beyond".

Used for prediction scores (compare.py) and for pipeline steps' outputs (skew.py), so both mean
the same thing: ``|cell - ref| <= atol + rtol * |ref|`` with the reference as ``ref``; NaN
against NaN and ``inf`` against ``inf`` of the same sign are equal (not identical unless the
bits are); a non-number against another value, or a non-finite value against anything else, is
beyond with an absolute difference of ``inf``. ``identical`` is bit identity (``float.hex`` and
the JSON type).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple


class Diff(NamedTuple):
    """The largest absolute and relative differences, and whether any position is beyond."""

    abs: float  # largest |cell - ref|; inf when not comparable as numbers
    rel: float  # largest |cell - ref| / |ref| over positions where ref != 0
    beyond: bool
    identical: bool


SAME = Diff(0.0, 0.0, False, True)


def combine(a: Diff, b: Diff) -> Diff:
    """Both differences at once."""
    return Diff(
        max(a.abs, b.abs), max(a.rel, b.rel), a.beyond or b.beyond, a.identical and b.identical
    )


def diff(ref: Any, cell: Any, atol: float, rtol: float) -> Diff:
    """Elementwise difference of two JSON values of the same shape."""
    if isinstance(ref, list) and isinstance(cell, list) and len(ref) == len(cell):
        result = SAME
        for r, c in zip(ref, cell, strict=True):
            result = combine(result, diff(r, c, atol, rtol))
        return result
    if bit_identical(ref, cell):
        return SAME
    r, c = number(ref), number(cell)
    if r is None or c is None:
        return Diff(math.inf, math.inf, True, False)
    if not (math.isfinite(r) and math.isfinite(c)):
        both_nan = math.isnan(r) and math.isnan(c)
        equal = both_nan or r == c  # inf == inf of the same sign
        return Diff(0.0, 0.0, False, False) if equal else Diff(math.inf, math.inf, True, False)
    delta = abs(c - r)  # may overflow to inf, which is simply beyond
    rel = delta / abs(r) if r != 0 else 0.0
    return Diff(delta, rel, not delta <= atol + rtol * abs(r), False)


def number(value: Any) -> float | None:
    """``value`` as a float, or None when it is not a number (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an int beyond float range: only exact equality is meaningful
        return None


def bit_identical(a: Any, b: Any) -> bool:
    """Same JSON type and same value; floats by ``float.hex`` (NaN equals NaN, -0.0 != 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return bool(a.hex() == b.hex())
    if isinstance(a, list):
        return len(a) == len(b) and all(bit_identical(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
