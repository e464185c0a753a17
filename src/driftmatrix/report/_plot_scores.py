"""The HTML report's score scatter: the reference's scores against each cell's, row by row.

A cell that drifts can be off by a constant, scaled, noisy near a decision boundary, or
nonsense; the scatter shows which at a glance, where a table of differences does not. It plots
the sample a comparison keeps of every score method that is not bit-identical (compare.py: the
first value of up to 100 evenly spaced golden rows, on both sides), one small panel per cell:
on the dashed diagonal the cell agrees with the reference; points beyond the tolerance are in
the drift colour. Bit-identical cells have no sample and no panel (the other charts say so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftmatrix.outcome import Verdict
from driftmatrix.report import _palette as palette
from driftmatrix.report._layout import Dimension, label
from driftmatrix.report._svg import Plot, figure, plain, to_svg
from driftmatrix.results import CellResult, RunResults

#: Panels drawn; the most severe cells first.
MAX_PANELS = 12
_COLUMNS = 3


@dataclass(frozen=True)
class _Panel:
    cell: CellResult
    method: str
    reference: tuple[float, ...]
    values: tuple[float, ...]
    atol: float
    rtol: float
    dropped: int  # pairs with a non-finite or non-numeric value


def scatter(results: RunResults, varying: Sequence[Dimension]) -> Plot:
    """One reference-vs-cell panel per cell whose scores differ (at most :data:`MAX_PANELS`)."""
    title = "Scores: the reference against each cell"
    panels = [p for p in (_panel(c, results) for c in results.cells) if p is not None]
    if not panels:
        return Plot(title, None, _nothing(results))
    ranked = sorted(panels, key=lambda p: -p.cell.verdict.severity)[:MAX_PANELS]
    keep = {p.cell.id for p in ranked}
    drawn = [p for p in panels if p.cell.id in keep]  # in matrix order
    columns = min(_COLUMNS, len(drawn))
    rows = math.ceil(len(drawn) / columns)
    with figure(3.7 * columns, 3.3 * rows, "scores") as fig:
        grid = fig.subplots(rows, columns, squeeze=False)
        for index, ax in enumerate(grid.flat):
            if index >= len(drawn):
                ax.set_axis_off()
                continue
            _draw(ax, drawn[index], varying)
        svg = to_svg(fig, "Reference scores against each differing cell's scores")
    caption = (
        "One point per sampled golden row: the first value of the score method (x: the "
        "reference, y: the cell). On the dashed diagonal the cell agrees; points in the drift "
        "colour are beyond the tolerance."
    )
    if len(panels) > len(drawn):
        caption += f" {len(panels) - len(drawn)} more cells differ; the most severe are drawn."
    return Plot(title, svg, caption)


def _panel(cell: CellResult, results: RunResults) -> _Panel | None:
    if cell.id == results.reference:
        return None
    methods = _mapping(_mapping(_mapping(cell.comparison).get("scores")).get("methods"))
    for method, diff in methods.items():
        sample = _mapping(_mapping(diff).get("sample"))
        pairs = list(zip(_list(sample.get("reference")), _list(sample.get("cell")), strict=False))
        if not pairs:
            continue
        finite = [(r, c) for r, c in pairs if _finite(r) and _finite(c)]
        policy = _mapping(results.compare.get("scores"))
        return _Panel(
            cell=cell,
            method=str(method),
            reference=tuple(float(r) for r, _ in finite),
            values=tuple(float(c) for _, c in finite),
            # A widened float32 tolerance is recorded beside the method (tolerance.py).
            atol=_float(_mapping(diff).get("atol"), _float(policy.get("atol"), 0.0)),
            rtol=_float(_mapping(diff).get("rtol"), _float(policy.get("rtol"), 0.0)),
            dropped=len(pairs) - len(finite),
        )
    return None


def _draw(ax: Any, panel: _Panel, varying: Sequence[Dimension]) -> None:
    beyond = [
        abs(c - r) > panel.atol + panel.rtol * abs(r)
        for r, c in zip(panel.reference, panel.values, strict=True)
    ]
    for is_beyond, colour in (
        (False, palette.VERDICT[Verdict.EQUIVALENT].strong),
        (True, palette.VERDICT[Verdict.DRIFT].strong),
    ):
        xs = [r for r, b in zip(panel.reference, beyond, strict=True) if b is is_beyond]
        ys = [c for c, b in zip(panel.values, beyond, strict=True) if b is is_beyond]
        if xs:
            ax.scatter(xs, ys, s=14, color=colour, linewidths=0)
    values = [*panel.reference, *panel.values]
    if values:
        low, high = min(values), max(values)
        ax.plot([low, high], [low, high], color=palette.MUTED, linestyle="--", linewidth=1)
    shape = _shape(panel.cell, panel.method)
    ax.set_xlabel(plain(f"reference {panel.method}{shape}"))
    ax.set_ylabel("this cell")
    name = plain(label(panel.cell, varying))
    ax.set_title(f"{name}\n{panel.cell.verdict.value}", fontsize=8.5)
    ax.title.set_color(palette.VERDICT[panel.cell.verdict].strong)
    if panel.dropped:
        text = f"{panel.dropped} non-finite values not drawn"
        ax.text(0.02, 0.96, text, transform=ax.transAxes, fontsize=7, va="top")
    ax.grid(True)
    ax.set_axisbelow(True)


def _nothing(results: RunResults) -> str:
    compared = [c for c in results.cells if _mapping(c.comparison).get("scores")]
    if not compared:
        return "No scores (probabilities, decision values) were compared: nothing to draw."
    return (
        "Every compared cell's scores are bit-identical to the reference's, or their shape "
        "changed (see the details): no scatter to draw."
    )


def _shape(cell: CellResult, method: str) -> str:
    """``[:, 0]`` when the method's rows have several values (the sample is their first)."""
    methods = _mapping(_mapping(cell.probes.get("predict")).get("methods"))
    shape = _list(_mapping(methods.get(method)).get("shape"))
    return "[:, 0]" if len(shape) > 1 else ""


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _float(value: Any, default: float) -> float:
    return float(value) if _finite(value) else default


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
