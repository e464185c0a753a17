"""Latency and peak memory: what a cell measured, and how it compares with the reference's.

Pure functions over the probe records the in-cell runner writes (docs/runner-protocol.md: the
``latency`` probe, and the ``memory`` every probe record carries). Decisions, so that the flags
``slower``/``heavier`` and every report mean the same thing:

* **Latency** compared: the p50 (ms) of one call of the same prediction method on the largest
  batch size both cells measured (1000 rows unless a size was over the in-cell time budget).
  The largest batch, because per-row work dominates there and per-call overhead (a few hundred
  microseconds of Python) does not hide a slower algorithm; p50, because the median is what
  noise from neighbouring processes moves least. Different methods on the two sides (one has no
  ``predict``) are not compared.
* **Memory** compared: the peak resident set (KiB) while the model was obtained (``load``, or
  ``train`` in train mode) and while it predicted on the golden set: the larger of the two
  probes' peaks. It is the whole process: interpreter, libraries, model and prediction, which
  is what a memory limit sees. Peaks taken with different methods (``VmHWM`` reset per probe vs
  ``ru_maxrss`` since process start, probes/_memory.py) are not compared.
* **Missing on either side → None**, hence no flag: a failed or skipped ``latency`` probe is a
  missing measurement, never a finding (verdict.py does not look at it); reports show why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftmatrix.comparison import Ratio

#: The probes that produce the model (one or the other runs).
_MODEL_PROBES = ("load", "train")


@dataclass(frozen=True)
class Latency:
    """The p50 of one call of ``method`` on ``rows`` rows, in milliseconds."""

    method: str
    rows: int
    p50_ms: float


@dataclass(frozen=True)
class Peak:
    """The peak RSS (KiB) of obtaining the model and predicting, and how it was measured."""

    kib: int
    method: str
    probes: tuple[str, ...]  # the probes it covers, e.g. ("load", "predict")


def latencies(probes: Mapping[str, Any]) -> tuple[str, dict[int, float]] | None:
    """The timed method and its p50 (ms) per measured batch size, or None when none was."""
    record = _mapping(probes.get("latency"))
    method = record.get("method")
    if record.get("status") not in ("ok", "failed") or not isinstance(method, str):
        return None
    measured: dict[int, float] = {}
    for batch in map(_mapping, _list(record.get("batches"))):
        rows, p50 = _count(batch.get("rows")), _number(batch.get("p50_ms"))
        if batch.get("status") == "ok" and rows is not None and p50 is not None:
            measured[rows] = p50
    return (method, measured) if measured else None


def cell_latency(probes: Mapping[str, Any]) -> Latency | None:
    """The cell's own latency at its largest measured batch (for reports), or None."""
    found = latencies(probes)
    if found is None:
        return None
    method, measured = found
    rows = max(measured)
    return Latency(method, rows, measured[rows])


def peak(probes: Mapping[str, Any]) -> Peak | None:
    """The peak RSS over the model probe and ``predict``, or None when either lacks one."""
    model = next((name for name in _MODEL_PROBES if name in probes), None)
    peaks: list[int] = []
    methods: set[str] = set()
    for name in (model, "predict"):
        record = _mapping(probes.get(name)) if name else {}
        memory = _mapping(record.get("memory"))
        kib, method = _count(memory.get("peak_kib")), memory.get("method")
        if record.get("status") != "ok" or kib is None or not isinstance(method, str):
            return None
        peaks.append(kib)
        methods.add(method)
    if len(methods) != 1 or model is None:
        return None
    return Peak(max(peaks), methods.pop(), (model, "predict"))


def compare_latency(
    reference: Mapping[str, Any], cell: Mapping[str, Any], limit: float | None
) -> Ratio | None:
    """The cell's p50 against the reference's at the largest batch both measured.

    Args:
        reference: The reference cell's probe records.
        cell: The cell's probe records.
        limit: ``[compare] latency_ratio``.

    Returns:
        The ratio (milliseconds), or None when either side has no comparable measurement.
    """
    ref, new = latencies(reference), latencies(cell)
    if ref is None or new is None or ref[0] != new[0]:
        return None
    common = set(ref[1]) & set(new[1])
    if not common:
        return None
    rows = max(common)
    measure = f"p50 ms of {ref[0]} on {rows} row{'s' if rows != 1 else ''}"
    return Ratio(ref[1][rows], new[1][rows], limit, measure)


def compare_memory(
    reference: Mapping[str, Any], cell: Mapping[str, Any], limit: float | None
) -> Ratio | None:
    """The cell's peak RSS against the reference's.

    Args:
        reference: The reference cell's probe records.
        cell: The cell's probe records.
        limit: ``[compare] memory_ratio``.

    Returns:
        The ratio (KiB), or None when either side has no peak or they were measured differently.
    """
    ref, new = peak(reference), peak(cell)
    if ref is None or new is None or ref.method != new.method:
        return None
    measure = f"peak RSS KiB of {' and '.join(new.probes)} ({new.method})"
    return Ratio(float(ref.kib), float(new.kib), limit, measure)


def _count(value: Any) -> int | None:
    """A positive int from the cell's JSON, or None (the file is untrusted input)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _number(value: Any) -> float | None:
    """A finite number >= 0 from the cell's JSON, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
