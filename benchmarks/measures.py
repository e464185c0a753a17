"""Pure arithmetic of the benchmark: targets, ratios, the floor, pass or fail.

Nothing here runs anything, so it can be checked on its own (tests/unit/test_bench_measures.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The probes whose in-cell time the issue calls "import+predict": the pinned libraries'
#: imports, unpickling the model (which imports the estimator's modules) and the predictions.
FLOOR_PROBES = ("imports", "load", "predict")


@dataclass(frozen=True)
class Target:
    """A target from issue 7, e.g. ``>= 10`` (×) or ``<= 1`` (s).

    Attributes:
        op: ``">="``, ``"<="`` or ``"<"``.
        value: The bound.
        unit: ``"×"``, ``"s"`` or ``"MiB"``.
    """

    op: str
    value: float
    unit: str

    def met_by(self, measured: float) -> bool:
        """Whether ``measured`` meets the target."""
        if self.op == ">=":
            return measured >= self.value
        if self.op == "<=":
            return measured <= self.value
        if self.op == "<":
            return measured < self.value
        raise ValueError(f"unknown comparison {self.op!r}")

    def __str__(self) -> str:
        symbol = {">=": "≥", "<=": "≤", "<": "<"}[self.op]
        return f"{symbol} {self.value:g}{_unit(self.unit)}"


@dataclass(frozen=True)
class Row:
    """One line of the results table.

    Attributes:
        key: A short stable name (``plain-vs-cold``, ``floor``, ...).
        what: What was measured, in words.
        measured: The number compared with the target; None when it could not be measured.
        unit: The number's unit (``"×"``, ``"s"``, ``"MiB"``).
        raw: The raw times behind it, in words.
        target: The target, or None for a number reported for information only.
        note: Why a number is missing, or what to keep in mind when reading it.
        error: Why a command this row needs did not run as it should (a crash, a timeout): the
            row then has no number and no verdict on the target.
    """

    key: str
    what: str
    measured: float | None
    unit: str
    raw: str
    target: Target | None = None
    note: str = ""
    error: str = ""

    @property
    def result(self) -> str:
        """``pass``, ``FAIL``, ``ERROR`` (broken run), ``pending`` (not measured), ``info``."""
        if self.error:
            return "ERROR"
        if self.measured is None:
            return "pending"
        if self.target is None:
            return "info"
        return "pass" if self.target.met_by(self.measured) else "FAIL"

    @property
    def shown(self) -> str:
        """The measured number as the table shows it."""
        if self.measured is None:
            return "—"
        return f"{_number(self.measured)}{_unit(self.unit)}"


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; infinity when the denominator is zero (nothing to divide)."""
    if denominator <= 0:
        return math.inf
    return numerator / denominator


def probe_seconds(
    results: Mapping[str, Any], probes: Iterable[str] | None = None
) -> dict[str, float]:
    """Each cell's in-cell time in ``probes`` (every probe when None), from a results.json.

    A cell that was never started (a build-error) has no probes and counts 0; a probe that was
    skipped records 0 seconds; a failed probe counts the time it ran before failing.

    Args:
        results: The parsed results.json.
        probes: The probe names to add up, or None for all.

    Returns:
        Cell id → seconds.
    """
    wanted = None if probes is None else frozenset(probes)
    totals: dict[str, float] = {}
    for cell in results["cells"]:
        records = cell.get("probes") or {}
        totals[cell["id"]] = sum(
            float(record.get("seconds") or 0.0)
            for name, record in records.items()
            if wanted is None or name in wanted
        )
    return totals


def floor_seconds(per_cell: Mapping[str, float], jobs: int, cores: int) -> float:
    """The floor: the cells' unavoidable in-cell seconds spread over the cores the run used.

    Args:
        per_cell: Cell id → in-cell seconds (see :func:`probe_seconds`).
        jobs: The cells the run was allowed to run at once.
        cores: The machine's cores.

    Returns:
        ``sum(per_cell) / min(jobs, cores)``.
    """
    return sum(per_cell.values()) / max(1, min(jobs, cores))


def _number(value: float) -> str:
    if math.isinf(value):
        return "∞"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _unit(unit: str) -> str:
    return unit if unit == "×" else f" {unit}"
