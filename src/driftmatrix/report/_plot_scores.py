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
from driftmatrix.report import _axes as axes
from driftmatrix.report import _palette as palette
from driftmatrix.report import _svg as svg
from driftmatrix.report import _text as text
from driftmatrix.report._common import finite
from driftmatrix.report._layout import Dimension, label
from driftmatrix.report._svg import Plot
from driftmatrix.results import CellResult, RunResults

#: Panels drawn; the most severe cells first.
MAX_PANELS = 12
_COLUMNS = 3
# A panel's box in pixels (three across the report's width), and its parts.
_WIDTH, _HEIGHT = 393.0, 380.0
_LINE = 18.0  # a title line
_BELOW = 58.0  # the x axis' ticks and title, and the gap to the next row of panels
_RIGHT = 18.0


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
    sampled = [(c, found) for c in results.cells if (found := _sampled(c, results)) is not None]
    if not sampled:
        return Plot(title, None, _nothing(results))
    # Only the drawn panels are built: a large run has hundreds of differing cells.
    ranked = sorted(sampled, key=lambda pair: -pair[0].verdict.severity)[:MAX_PANELS]
    keep = {cell.id for cell, _ in ranked}
    drawn = [_panel(c, *found, results) for c, found in sampled if c.id in keep]  # matrix order
    columns = min(_COLUMNS, len(drawn))
    body: list[str] = []
    for index, panel in enumerate(drawn):
        row, column = divmod(index, columns)
        body += _draw(panel, varying, column * _WIDTH, row * _HEIGHT)
    description = " ".join(_describe(p, varying) for p in drawn)
    height = math.ceil(len(drawn) / columns) * _HEIGHT
    svg_text = svg.document(
        columns * _WIDTH,
        height,
        "Reference scores against each differing cell's scores",
        description,
        body,
    )
    caption = (
        "One point per sampled golden row: the first value of the score method (x: the "
        "reference, y: the cell). On the dashed diagonal the cell agrees; points in the drift "
        "colour are beyond the tolerance."
    )
    if len(sampled) > len(drawn):
        caption += (
            f" {len(sampled) - len(drawn)} more cells differ; at most {MAX_PANELS} panels are"
            " drawn, the most severe cells'."
        )
    return Plot(title, svg_text, caption)


def _sampled(cell: CellResult, results: RunResults) -> tuple[str, Mapping[str, Any]] | None:
    """The first score method of ``cell`` with a sample to draw, and its comparison."""
    if cell.id == results.reference:
        return None
    methods = _mapping(_mapping(_mapping(cell.comparison).get("scores")).get("methods"))
    for method, diff in methods.items():
        sample = _mapping(_mapping(diff).get("sample"))
        if _list(sample.get("reference")) and _list(sample.get("cell")):
            return str(method), _mapping(diff)
    return None


def _panel(cell: CellResult, method: str, diff: Mapping[str, Any], results: RunResults) -> _Panel:
    sample = _mapping(diff.get("sample"))
    pairs = list(zip(_list(sample.get("reference")), _list(sample.get("cell")), strict=False))
    kept = [(r, c) for r, c in pairs if finite(r) is not None and finite(c) is not None]
    policy = _mapping(results.compare.get("scores"))
    return _Panel(
        cell=cell,
        method=method,
        reference=tuple(float(r) for r, _ in kept),
        values=tuple(float(c) for _, c in kept),
        # A widened float32 tolerance is recorded beside the method (tolerance.py).
        atol=_first(diff.get("atol"), policy.get("atol")),
        rtol=_first(diff.get("rtol"), policy.get("rtol")),
        dropped=len(pairs) - len(kept),
    )


def _beyond(panel: _Panel) -> list[bool]:
    return [
        abs(c - r) > panel.atol + panel.rtol * abs(r)
        for r, c in zip(panel.reference, panel.values, strict=True)
    ]


def _scale(panel: _Panel, pixels: tuple[float, float]) -> axes.Scale:
    """The x scale; the y axis shows the same values, so the diagonal runs corner to corner."""
    values = [*panel.reference, *panel.values] or [0.0]
    low, high = min(values), max(values)
    # Room around the points, without crossing zero: scores often start there.
    pad = (high - low) * 0.03
    low = low - pad if low - pad >= 0 or low < 0 else 0.0
    return axes.linear(low, high + pad, pixels, axes.width_room(), most=6)


def _draw(panel: _Panel, varying: Sequence[Dimension], x0: float, y0: float) -> list[str]:
    """One panel with its top left corner at (x0, y0)."""
    top, bottom = y0 + 3 * _LINE + 8, y0 + _HEIGHT - _BELOW
    guess = _scale(panel, (0.0, _WIDTH - 100))
    left = x0 + 22 + axes.label_width(guess) + 10
    x = _scale(panel, (left, x0 + _WIDTH - _RIGHT))
    y = axes.Scale(x.low, x.high, bottom, top, False, x.ticks)
    # Titled by what varies in the cell, on two lines at most; the cell id as the tooltip.
    name = text.wrap(label(panel.cell, varying), _WIDTH - _RIGHT - 4, svg.NORMAL, bold=True)
    colour = palette.VERDICT[panel.cell.verdict].strong
    out = [
        *axes.x_grid(x, top, bottom),
        *axes.y_grid(y, x.start, x.end),
        svg.line(x.start, y.start, x.end, y.end, palette.MUTED, dashed=True),
        *axes.x_axis(x, bottom, f"reference {panel.method}{_shape(panel.cell, panel.method)}"),
        *axes.y_axis(y, x.start),
    ]
    # The points last, over the axes: a score of 0 sits on the axis line and stays visible.
    beyond = _beyond(panel)
    for is_beyond, mark in ((False, Verdict.EQUIVALENT), (True, Verdict.DRIFT)):
        fill = palette.VERDICT[mark].strong
        points = zip(panel.reference, panel.values, beyond, strict=True)
        out += [svg.circle(x(r), y(c), 2.6, fill) for r, c, b in points if b is is_beyond]
    out += [
        svg.text(x0 + 4, y0 + _LINE * (i + 0.5), line, bold=True, tooltip=panel.cell.id)
        for i, line in enumerate(name)
    ]
    verdict = panel.cell.verdict.value
    out.append(svg.text(x0 + 4, y0 + _LINE * (len(name) + 0.5), verdict, colour=colour, bold=True))
    out.append(svg.text(x0 + 10, (top + bottom) / 2, "this cell", anchor="middle", vertical=True))
    if panel.dropped:
        words = f"{panel.dropped} non-finite values not drawn"
        out.append(svg.text(x.start + 6, top + 9, words, size=svg.SMALL, halo=True))
    return out


def _describe(panel: _Panel, varying: Sequence[Dimension]) -> str:
    beyond = sum(_beyond(panel))
    return (
        f"{label(panel.cell, varying)} ({panel.cell.verdict.value}), {panel.method}: "
        f"{len(panel.values)} sampled rows, {beyond} beyond the tolerance."
    )


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


def _first(*values: Any) -> float:
    """The first finite number of ``values``, else 0."""
    return next((n for n in map(finite, values) if n is not None), 0.0)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
