"""Feature skew: which pipeline step's output first differs from the reference's.

The ``steps`` probe records, per step of a Pipeline (and per transformer inside a
ColumnTransformer), the output's shape, a hash per column and, when small, the values. Steps are
matched by name, in the reference's order. A step is:

* ``identical``: same shape and every column bit-identical (same hashes);
* ``equivalent``: values differ only within the ``[compare]`` tolerance, by the rule scores
  use (elementwise.py);
* ``differs``: some columns beyond tolerance (or, without values, with other hashes);
* ``shape``: another number of rows or columns;
* ``error``: the step raised on one side only (on both with the same exception type: identical);
* ``missing`` / ``new``: only the reference / only the cell has a step of that name.

The first step that is none of ``identical``/``equivalent`` is where the drift starts; the
summary reads "scaler (StandardScaler) identical, quantile (QuantileTransformer) differs in 3 of
3 columns".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftmatrix.elementwise import diff

_SAME = ("identical", "equivalent")


@dataclass(frozen=True)
class StepDiff:
    """One step against the reference's step of the same name.

    Attributes:
        step: The step's name (``pre/num`` for a transformer inside a ColumnTransformer).
        kind: The step's class path.
        status: See the module docstring.
        columns: Output columns (the reference's).
        differing: Columns beyond tolerance (or with other hashes when no values were kept).
        max_abs: Largest absolute difference, when values were compared.
    """

    step: str
    kind: str
    status: str
    columns: int = 0
    differing: int = 0
    max_abs: float | None = None

    @property
    def text(self) -> str:
        """In words: ``quantile (QuantileTransformer) differs in 3 of 3 columns``."""
        label = f"{self.step} ({self.kind.rsplit('.', 1)[-1]})"
        if self.status == "differs":
            return f"{label} differs in {self.differing} of {self.columns} columns"
        if self.status == "shape":
            return f"{label} changed its output shape"
        if self.status == "error":
            return f"{label} raised on one side only"
        if self.status in ("missing", "new"):
            return f"{label} is {'gone' if self.status == 'missing' else 'new'}"
        return f"{label} {self.status}"

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "step": self.step,
            "class": self.kind,
            "status": self.status,
            "columns": self.columns,
            "differing": self.differing,
            "max_abs": self.max_abs,
        }


@dataclass(frozen=True)
class SkewDiff:
    """Every step compared, in the reference's order."""

    steps: tuple[StepDiff, ...]

    @property
    def first_difference(self) -> StepDiff | None:
        """The first step whose output is neither identical nor equivalent."""
        return next((step for step in self.steps if step.status not in _SAME), None)

    @property
    def summary(self) -> str:
        """Every step up to and including the first difference, in words."""
        shown: list[str] = []
        for step in self.steps:
            shown.append(step.text)
            if step.status not in _SAME:
                break
        return ", ".join(shown)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        first = self.first_difference
        return {
            "steps": [step.to_json() for step in self.steps],
            "first_difference": first.step if first else None,
            "summary": self.summary,
        }


def compare_steps(
    reference: Mapping[str, Any], cell: Mapping[str, Any], atol: float, rtol: float
) -> SkewDiff | None:
    """Compare the ``steps`` probe records of two cells; None when either has none."""
    ref_steps, cell_steps = _steps(reference), _steps(cell)
    if ref_steps is None or cell_steps is None:
        return None
    by_name = {str(step.get("step")): step for step in cell_steps}
    diffs = [
        _compare(step, by_name.pop(str(step.get("step")), None), atol, rtol) for step in ref_steps
    ]
    diffs += [StepDiff(name, str(step.get("class", "")), "new") for name, step in by_name.items()]
    return SkewDiff(tuple(diffs))


def _steps(probes: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    record = probes.get("steps")
    if not isinstance(record, Mapping) or record.get("status") != "ok" or not record.get("applies"):
        return None
    steps = record.get("steps")
    if not isinstance(steps, list):
        return None
    return [step for step in steps if isinstance(step, Mapping)]


def _compare(
    ref: Mapping[str, Any], cell: Mapping[str, Any] | None, atol: float, rtol: float
) -> StepDiff:
    name, kind = str(ref.get("step")), str(ref.get("class", ""))
    if cell is None:
        return StepDiff(name, kind, "missing")
    ref_error, cell_error = ref.get("error"), cell.get("error")
    if ref_error or cell_error:
        same = (
            isinstance(ref_error, Mapping)
            and isinstance(cell_error, Mapping)
            and ref_error.get("type") == cell_error.get("type")
        )
        return StepDiff(name, kind, "identical" if same else "error")
    ref_columns, cell_columns = _list(ref.get("columns")), _list(cell.get("columns"))
    if ref.get("shape") != cell.get("shape") or len(ref_columns) != len(cell_columns):
        return StepDiff(name, kind, "shape", columns=len(ref_columns))
    changed = [i for i, (a, b) in enumerate(zip(ref_columns, cell_columns, strict=True)) if a != b]
    if not changed:
        return StepDiff(name, kind, "identical", columns=len(ref_columns))
    values = _values(ref), _values(cell)
    if values[0] is None or values[1] is None:
        return StepDiff(name, kind, "differs", len(ref_columns), len(changed))
    beyond, max_abs = _beyond(values[0], values[1], changed, atol, rtol)
    status = "differs" if beyond else "equivalent"
    return StepDiff(name, kind, status, len(ref_columns), len(beyond), max_abs)


def _beyond(
    ref: Sequence[Sequence[float]],
    cell: Sequence[Sequence[float]],
    columns: list[int],
    atol: float,
    rtol: float,
) -> tuple[list[int], float]:
    """The columns with a value beyond tolerance, and the largest absolute difference."""
    beyond: list[int] = []
    largest = 0.0
    for column in columns:
        # The rule of scores (elementwise.py), applied to one column at a time.
        result = diff([row[column] for row in ref], [row[column] for row in cell], atol, rtol)
        largest = max(largest, result.abs)
        if result.beyond:
            beyond.append(column)
    return beyond, largest


def _values(step: Mapping[str, Any]) -> list[list[float]] | None:
    values = step.get("values")
    return values if isinstance(values, list) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
