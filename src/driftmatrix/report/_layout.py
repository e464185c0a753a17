"""Where each cell sits in the verdict grid: the axes a run's cells vary along.

results.json does not keep the matrix's ``[axes]``: a cell records its Python, its pins, its
limits and its backend. The dimensions are therefore read back from the cells themselves, and
only those with more than one value are axes. Two of them lay out the grid (rows × columns),
chosen so that the fewest cells share a position: the demo's cells, for instance, spread over
Python × scikit-learn, while numpy moves along with scikit-learn. Every other varying dimension
is written inside the cell's tile. Values are sorted as versions where they are versions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import permutations

from packaging.version import InvalidVersion, Version

from driftmatrix.limits import format_number
from driftmatrix.report._common import pinned_packages
from driftmatrix.results import CellResult, RunResults

#: More values than this on the only axis: one row per value instead of one column.
_WIDEST_ROW = 8


@dataclass(frozen=True)
class Dimension:
    """One thing cells can differ in, with its values in display order.

    Attributes:
        kind: ``python``, ``package``, ``limits`` or ``backend``.
        name: What a reader calls it (a package's name for ``package``).
        values: The distinct values over the run's cells, sorted.
    """

    kind: str
    name: str
    values: tuple[str, ...]

    def value(self, cell: CellResult) -> str:
        """This dimension's value in ``cell``."""
        return _reader(self.kind, self.name)(cell)

    def short(self, cell: CellResult) -> str:
        """The value with what it is, briefly: ``py3.12``, ``scikit-learn 1.5.2``, ``mem1g``."""
        value = self.value(cell)
        return {"python": f"py{value}", "package": f"{self.name} {value}"}.get(self.kind, value)


@dataclass(frozen=True)
class Grid:
    """The verdict grid's layout.

    Attributes:
        rows: The dimension down the side, or None for a single row.
        columns: The dimension across the top, or None for a single column.
        others: Varying dimensions written inside each tile.
    """

    rows: Dimension | None
    columns: Dimension | None
    others: tuple[Dimension, ...]

    def row_values(self) -> tuple[str, ...]:
        """The row headings (one empty heading when there is no row dimension)."""
        return self.rows.values if self.rows else ("",)

    def column_values(self) -> tuple[str, ...]:
        """The column headings (one empty heading when there is no column dimension)."""
        return self.columns.values if self.columns else ("",)

    def at(self, cells: Sequence[CellResult], row: str, column: str) -> list[CellResult]:
        """The cells at one position, in matrix order."""
        return self.placed(cells).get((row, column), [])

    def placed(self, cells: Sequence[CellResult]) -> dict[tuple[str, str], list[CellResult]]:
        """(row, column) → the cells there, in matrix order; one pass over the cells (asking
        :meth:`at` for every position would pass over them once per position)."""
        positions: dict[tuple[str, str], list[CellResult]] = {}
        for cell in cells:
            where = (_position(self.rows, cell), _position(self.columns, cell))
            positions.setdefault(where, []).append(cell)
        return positions


def dimensions(results: RunResults) -> list[Dimension]:
    """Every dimension the cells differ in (python, pins in matrix order, limits, backend)."""
    found = [("python", "python")]
    found += [("package", name) for name in pinned_packages(results)]
    found += [("limits", "limits"), ("backend", "backend")]
    out = []
    for kind, name in found:
        read = _reader(kind, name)
        values = list(dict.fromkeys(read(cell) for cell in results.cells))
        if len(values) > 1:
            ordered = values if kind in ("limits", "backend") else sorted(values, key=_version_key)
            out.append(Dimension(kind, name, tuple(ordered)))
    return out


def layout(results: RunResults) -> Grid:
    """The grid for ``results``: the pair of dimensions that separates the cells best."""
    varying = dimensions(results)
    if not varying:
        return Grid(None, None, ())
    if len(varying) == 1:
        (only,) = varying
        wide = len(only.values) <= _WIDEST_ROW
        return Grid(None if wide else only, only if wide else None, ())
    best = max(permutations(varying, 2), key=lambda pair: _score(results, *pair))
    rows, columns = best
    return Grid(rows, columns, tuple(d for d in varying if d not in best))


def label(cell: CellResult, varying: Sequence[Dimension]) -> str:
    """A short name for a cell in plots: its varying values (``py3.10 · scikit-learn 1.4.2``).

    Falls back to the cell id when nothing varies (a single cell).
    """
    return " · ".join(d.short(cell) for d in varying) or cell.id


def limits_label(cell: CellResult) -> str:
    """``mem1g-cpu1`` as in cell ids; ``no limits`` when neither memory nor cpus is set."""
    parts = []
    if cell.limits.get("memory"):
        parts.append(f"mem{cell.limits['memory']}")
    cpus = cell.limits.get("cpus")
    if isinstance(cpus, (int, float)) and not isinstance(cpus, bool):
        parts.append(f"cpu{format_number(cpus)}")
    return "-".join(parts) or "no limits"


def _score(results: RunResults, rows: Dimension, columns: Dimension) -> tuple[int, ...]:
    # Most distinct positions first (cells apart), then fewest empty positions, then the
    # familiar orientation: the longer dimension across, Python down, packages across.
    occupied = {(rows.value(c), columns.value(c)) for c in results.cells}
    empty = len(rows.values) * len(columns.values) - len(occupied)
    return (
        len(occupied),
        -empty,
        int(len(columns.values) >= len(rows.values)),
        int(rows.kind == "python"),
        int(columns.kind == "package"),
    )


def _position(dimension: Dimension | None, cell: CellResult) -> str:
    return dimension.value(cell) if dimension else ""


def _reader(kind: str, name: str) -> Callable[[CellResult], str]:
    if kind == "python":
        return lambda cell: cell.python
    if kind == "package":
        return lambda cell: str(cell.packages.get(name) or "not pinned")
    if kind == "limits":
        return limits_label
    return lambda cell: cell.backend


def _version_key(value: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(value))
    except InvalidVersion:
        return (1, value)
