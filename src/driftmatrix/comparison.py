"""The result of comparing a cell with the reference cell: frozen values and their JSON form.

:func:`driftmatrix.compare.compare` builds a :class:`Comparison`; the verdict logic and every
report read it (reports through :meth:`Comparison.to_json`). What each number means (labels
exactly, scores with ``atol``/``rtol``, bit identity, shapes, methods, packages) is documented in
compare.py, which computes them. :class:`Tolerances` and :class:`Observation` are the plain
inputs of a comparison for callers without a matrix file or a recorded cell.

The JSON form contains no NaN/inf floats: they are written as ``"nan"``, ``"inf"``, ``"-inf"``,
the convention results.json already uses, so a comparison reads the same before and after a file
round trip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from driftmatrix.auditdiff import AuditDiff
from driftmatrix.contract import ContractDiff
from driftmatrix.results import strict_json
from driftmatrix.skew import SkewDiff
from driftmatrix.tolerance import Applied

Shape: TypeAlias = tuple[int, ...] | None  # None: ragged nesting


@dataclass(frozen=True)
class Tolerances:
    """A stand-alone :class:`~driftmatrix.compare.Policy` (callers without a matrix file).

    Raises:
        ValueError: a tolerance or ratio is negative or not finite.
    """

    atol: float = 1e-9
    rtol: float = 0.0
    latency_ratio: float | None = 2.0
    memory_ratio: float | None = 1.5

    def __post_init__(self) -> None:
        for name in ("atol", "rtol", "latency_ratio", "memory_ratio"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class Observation:
    """A plain :class:`~driftmatrix.compare.Observed`: outputs, probes and installed."""

    outputs: Mapping[str, Any] | None
    probes: Mapping[str, Any] = field(default_factory=dict)
    installed: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RowDiff:
    """One golden row whose output differs: its id, its tag and both values."""

    row: str
    tag: str
    reference: Any
    cell: Any
    abs: float | None = None  # largest |difference| in the row (scores only)

    def to_json(self) -> dict[str, Any]:
        """JSON form (``abs`` only for scores)."""
        doc = {"row": self.row, "tag": self.tag, "reference": self.reference, "cell": self.cell}
        if self.abs is not None:
            doc["abs"] = self.abs
        return doc


@dataclass(frozen=True)
class ShapeMismatch:
    """The shapes of one method's outputs on both sides (None: ragged)."""

    reference: Shape
    cell: Shape

    def to_json(self) -> dict[str, Any]:
        """JSON form: a list of ints, or ``"ragged"``."""
        return {"reference": _shape_json(self.reference), "cell": _shape_json(self.cell)}


@dataclass(frozen=True)
class LabelDiff:
    """Exact comparison of one label-kind method."""

    method: str
    flipped: int
    total: int
    rows: tuple[RowDiff, ...] = ()
    per_class: tuple[tuple[str, int, int], ...] = ()  # (label, reference count, cell count)
    shape_mismatch: ShapeMismatch | None = None

    @property
    def identical(self) -> bool:
        """No row flipped and the shapes agree."""
        return self.flipped == 0 and self.shape_mismatch is None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "method": self.method,
            "flipped": self.flipped,
            "total": self.total,
            "identical": self.identical,
            "shape_mismatch": self.shape_mismatch.to_json() if self.shape_mismatch else None,
            "rows": [row.to_json() for row in self.rows],
            "per_class": {label: {"reference": r, "cell": c} for label, r, c in self.per_class},
        }


@dataclass(frozen=True)
class ScoreDiff:
    """Tolerance comparison of one score-kind method."""

    method: str
    max_abs: float | None
    max_rel: float | None
    beyond: int
    total: int
    identical: bool
    rows: tuple[RowDiff, ...] = ()
    shape_mismatch: ShapeMismatch | None = None
    beyond_rows: frozenset[int] = field(default=frozenset(), repr=False)  # indices, for totals
    # The tolerance applied when float32 outputs widened the matrix's (tolerance.py); None: as
    # in [compare] scores.
    tolerance: Applied | None = None
    # (reference, cell) first values of evenly spaced rows when the outputs differ: results.json
    # has no raw outputs, and a reference-vs-cell plot (the HTML report) needs some.
    sample: tuple[tuple[Any, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON form (``atol``/``rtol`` only when float32 outputs widened the matrix's;
        ``sample`` only when the outputs differ and have the same shape)."""
        doc = {
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "beyond": self.beyond,
            "total": self.total,
            "identical": self.identical,
            "shape_mismatch": self.shape_mismatch.to_json() if self.shape_mismatch else None,
            "rows": [row.to_json() for row in self.rows],
        }
        if self.tolerance is not None:
            doc.update(atol=self.tolerance.atol, rtol=self.tolerance.rtol)
        if self.sample:
            doc["sample"] = {
                "reference": [ref for ref, _ in self.sample],
                "cell": [cell for _, cell in self.sample],
            }
        return doc


@dataclass(frozen=True)
class Scores:
    """Every score-kind method, and their summary (distinct rows beyond, largest differences)."""

    methods: tuple[ScoreDiff, ...]

    @property
    def max_abs(self) -> float | None:
        """Largest absolute difference over all measurable methods; None when none was."""
        values = [m.max_abs for m in self.methods if m.max_abs is not None]
        return max(values) if values else None

    @property
    def max_rel(self) -> float | None:
        """Largest relative difference over all measurable methods; None when none was."""
        values = [m.max_rel for m in self.methods if m.max_rel is not None]
        return max(values) if values else None

    @property
    def beyond(self) -> int:
        """Golden rows beyond tolerance in at least one method."""
        rows: set[int] = set()
        for method in self.methods:
            rows |= method.beyond_rows
        return len(rows)

    @property
    def total(self) -> int:
        """Golden rows compared."""
        return max((m.total for m in self.methods), default=0)

    @property
    def identical(self) -> bool:
        """Every score is bit-identical."""
        return all(m.identical for m in self.methods)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "beyond": self.beyond,
            "total": self.total,
            "identical": self.identical,
            "methods": {m.method: m.to_json() for m in self.methods},
        }


@dataclass(frozen=True)
class PackageDiff:
    """Installed distributions that differ from the reference's (canonical names, sorted)."""

    changed: tuple[tuple[str, str, str], ...] = ()  # (name, reference version, cell version)
    added: tuple[tuple[str, str], ...] = ()
    removed: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "changed": {name: [ref, cell] for name, ref, cell in self.changed},
            "added": dict(self.added),
            "removed": dict(self.removed),
        }


@dataclass(frozen=True)
class Ratio:
    """A resource measurement against the reference's, and the policy's limit for the ratio.

    ``measure`` says what the two numbers are, unit included (``p50 ms of predict on 1000
    rows``); resources.py decides what is measured.
    """

    reference: float
    cell: float
    limit: float | None
    measure: str = ""

    @property
    def ratio(self) -> float | None:
        """``cell / reference``; None when the reference measured nothing."""
        return self.cell / self.reference if self.reference > 0 else None

    @property
    def exceeded(self) -> bool:
        """True when the ratio is above the limit."""
        ratio = self.ratio
        return self.limit is not None and ratio is not None and ratio > self.limit

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "reference": self.reference,
            "cell": self.cell,
            "ratio": self.ratio,
            "limit": self.limit,
            "exceeded": self.exceeded,
            "measure": self.measure,
        }


@dataclass(frozen=True)
class Comparison:
    """A cell compared with the reference cell.

    Attributes:
        reference: Id of the reference cell.
        labels: The primary label-kind method (``predict`` for a classifier), or None.
        other_labels: Further label-kind methods.
        scores: Score-kind methods, or None when there are none.
        missing: Methods the reference answered that the cell's estimator lacks.
        extra: Methods only the cell answered.
        packages: Installed distributions that differ.
        latency: p50 latency against the reference's (resources.py), or None when either side
            did not measure it.
        memory: Peak RSS against the reference's (resources.py), or None when either side did
            not measure it.
        contract: Bad-input cases against the reference's (contract.py), or None when either
            side has none.
        skew: Each pipeline step's output against the reference's (skew.py), or None when
            either side is not a pipeline or did not record its steps.
        audit: skops' untrusted-type audit against the reference's (auditdiff.py), or None
            unless both cells loaded a skops file.
    """

    reference: str
    labels: LabelDiff | None = None
    other_labels: tuple[LabelDiff, ...] = ()
    scores: Scores | None = None
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    packages: PackageDiff = field(default_factory=PackageDiff)
    latency: Ratio | None = None
    memory: Ratio | None = None
    contract: ContractDiff | None = None
    skew: SkewDiff | None = None
    audit: AuditDiff | None = None

    @property
    def all_labels(self) -> tuple[LabelDiff, ...]:
        """Every label-kind comparison, primary first."""
        return ((self.labels,) if self.labels else ()) + self.other_labels

    @property
    def drifted(self) -> bool:
        """A label flipped, a score is beyond tolerance, a shape changed or a method vanished."""
        flipped = any(not diff.identical for diff in self.all_labels)
        beyond = self.scores is not None and any(
            m.beyond or m.shape_mismatch for m in self.scores.methods
        )
        return flipped or beyond or bool(self.missing)

    @property
    def identical(self) -> bool:
        """Every compared output is bit-identical and no reference method is missing."""
        scores_identical = self.scores is None or self.scores.identical
        labels_identical = all(diff.identical for diff in self.all_labels)
        return labels_identical and scores_identical and not self.missing

    @property
    def methods_differ(self) -> bool:
        """The cell answers a different set of prediction methods."""
        return bool(self.missing or self.extra)

    def to_json(self) -> dict[str, Any]:
        """The ``comparison`` object of a cell in results.json (strict JSON, no NaN/inf)."""
        labels = self.labels.to_json() if self.labels else None
        if labels is not None and self.other_labels:
            labels["others"] = [diff.to_json() for diff in self.other_labels]
        doc = {
            "reference": self.reference,
            "labels": labels,
            "scores": self.scores.to_json() if self.scores else None,
            "packages": self.packages.to_json(),
            "methods": {"missing": list(self.missing), "extra": list(self.extra)},
            "latency": self.latency.to_json() if self.latency else None,
            "memory": self.memory.to_json() if self.memory else None,
            "contract": self.contract.to_json() if self.contract else None,
            "skew": self.skew.to_json() if self.skew else None,
            "audit": self.audit.to_json() if self.audit else None,
        }
        return dict(strict_json(doc))


# --- JSON --------------------------------------------------------------------------------------


def _shape_json(shape: Shape) -> list[int] | str:
    return list(shape) if shape is not None else "ragged"
