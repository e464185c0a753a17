"""A chart with one row per cell and panels side by side that share the rows.

The report's two per-cell charts (predictions; latency and memory) are this chart with other
marks: the cells' labels down the left, once, and per panel a title, a legend, an x axis with
round ticks, and in each row a bar (a stem, a line to a dot, on a log scale, which has no
zero), a note in words when there is nothing to draw, and marks such as a cell's memory limit.

Nothing overlaps: the label column is as wide as the longest label (up to 40% of the chart;
longer labels are shortened with an ellipsis and keep the cell id as a tooltip), the x
domain is widened until every value written after its bar fits inside the panel, notes are
shortened to the panel, and legends wrap under the panel's title.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from driftmatrix.report import _axes as axes
from driftmatrix.report import _palette as palette
from driftmatrix.report import _svg as svg
from driftmatrix.report import _text as text

WIDTH = 1180.0
ROW = 26.0
_BAR = 16.0  # a bar's thickness, in a row of ROW pixels
_PANEL_GAP = 56.0
_RIGHT = 24.0  # room right of the last panel for its last tick label
_LINE = 18.0  # a header line
_LEGEND_SAMPLE = 20.0


@dataclass(frozen=True)
class Row:
    """A row's label (what varies in the cell), tooltip (the whole cell id), and a suffix kept
    when the label is shortened (`` (reference)``)."""

    label: str
    tooltip: str
    suffix: str = ""


@dataclass(frozen=True)
class Bar:
    """A bar from the axis' start to ``value``, with ``text`` written after its end; on a log
    scale, which has no zero to start from, a stem: a line to a dot at ``value``."""

    row: int
    value: float
    colour: str
    text: str


@dataclass(frozen=True)
class Note:
    """Words instead of a mark, at the panel's left edge (why there is nothing to draw)."""

    row: int
    text: str
    colour: str = palette.MUTED


@dataclass(frozen=True)
class Tick:
    """A short vertical mark at ``value`` in one row (a cell's own limit), drawn on top."""

    row: int
    value: float


@dataclass(frozen=True)
class Rule:
    """A vertical line at ``value`` across every row, named in the legend."""

    value: float
    colour: str
    legend: str
    dashed: bool = False


Mark = Bar | Note | Tick


@dataclass(frozen=True)
class Panel:
    """One panel of the chart.

    Attributes:
        title: Written above the panel, bold.
        axis: The x axis' title.
        marks: What each row shows.
        rules: Lines across every row (a reference value, a threshold).
        tick_legend: The legend entry for the :class:`Tick` marks ("" when there are none).
        log: A log scale (values > 0; bars are drawn as stems).
        integer: Counts: the ticks are whole numbers.
        extent: The axis reaches at least this far (e.g. the golden set's size for counts).
    """

    title: str
    axis: str
    marks: tuple[Mark, ...]
    rules: tuple[Rule, ...] = ()
    tick_legend: str = ""
    log: bool = False
    integer: bool = False
    extent: float = 0.0


def chart(rows: Sequence[Row], panels: Sequence[Panel], title: str) -> str:
    """The chart as an ``<svg>`` element; ``title`` names it for screen readers."""
    widest = max((text.width(r.label + r.suffix, svg.NORMAL) for r in rows), default=0.0)
    label_width = min(widest, WIDTH * 0.4)
    left = label_width + 18
    width = (WIDTH - left - _RIGHT - _PANEL_GAP * (len(panels) - 1)) / len(panels)
    spans = [(left + i * (width + _PANEL_GAP), left + i * (width + _PANEL_GAP) + width)
             for i in range(len(panels))]  # fmt: skip
    legends = [_legend_lines(p, span) for p, span in zip(panels, spans, strict=True)]
    top = 14 + _LINE * (1 + max((len(lines) for lines in legends), default=0))
    bottom = top + ROW * len(rows)
    body: list[str] = []
    for index, row in enumerate(rows):
        room = label_width - text.width(row.suffix, svg.NORMAL)
        shown = text.fit(row.label, room, svg.NORMAL) + row.suffix
        y = top + ROW * (index + 0.5)
        body.append(svg.text(left - 8, y, shown, anchor="end", tooltip=row.tooltip))
    for panel, span, lines in zip(panels, spans, legends, strict=True):
        body += _panel(panel, span, top, bottom, rows)
        body.append(svg.text(span[0], 8 + _LINE / 2, panel.title, size=svg.TITLE, bold=True))
        for number, entries in enumerate(lines):
            body += _legend(entries, span[0], 8 + _LINE * (number + 1.5))
    return svg.document(WIDTH, bottom + 44, title, _description(rows, panels), body)


def _panel(
    panel: Panel, span: tuple[float, float], top: float, bottom: float, rows: Sequence[Row]
) -> list[str]:
    # Drawn in layers: grid, bars and stems, rules, words (over the rules), limit ticks on top.
    scale = _scale(panel, span)
    ticks: dict[int, list[float]] = {}
    for mark in panel.marks:
        if isinstance(mark, Tick):
            ticks.setdefault(mark.row, []).append(scale(mark.value))
    shapes, words = axes.x_grid(scale, top, bottom), []
    for mark in panel.marks:
        y = top + ROW * (mark.row + 0.5)
        if isinstance(mark, Note):
            words += _note(mark, span, y, ticks.get(mark.row, []))
        elif isinstance(mark, Bar):
            shape, value = _value(mark, scale, y)
            shapes.append(svg.group(f"{rows[mark.row].tooltip}: {mark.text}", shape))
            words.append(value)
    for rule in panel.rules:
        x = scale(rule.value)
        shapes.append(svg.line(x, top, x, bottom, rule.colour, 1.2, dashed=rule.dashed))
    limits = [
        svg.line(x, top + ROW * (row + 0.1), x, top + ROW * (row + 0.9), palette.LIMIT, 2.5)
        for row, xs in ticks.items()
        for x in xs
    ]
    frame = [svg.line(span[0], top, span[0], bottom, palette.AXIS)]
    return shapes + words + limits + frame + axes.x_axis(scale, bottom, panel.axis)


def _scale(panel: Panel, span: tuple[float, float]) -> axes.Scale:
    """The x scale: every mark and rule inside, and each value's text after it too."""
    valued = [m for m in panel.marks if isinstance(m, Bar)]
    values = [m.value for m in panel.marks if not isinstance(m, Note)]
    values += [r.value for r in panel.rules]
    values += [panel.extent] if panel.extent > 0 else []
    values = [v for v in values if math.isfinite(v)]  # callers pass finite values; never crash
    room = axes.width_room()
    length = span[1] - span[0]
    if panel.log:
        positive = [v for v in values if v > 0] or [1.0]
        # Two decades of room left of the smallest mark, more than two right of the largest.
        low, high = min(positive) / 100, max(positive) * 300
        for _ in range(20):
            scale = axes.logarithmic(low, high, span, room)
            if all(_fits(m, scale) for m in valued):
                break
            high = scale.high * 10
        return scale
    high = max([*values, 0.0])
    for mark in valued:
        need = text.width(mark.text, svg.SMALL) + 8
        if 0 < need < length:
            high = max(high, mark.value * length / (length - need))
    return axes.linear(0.0, high, span, room, integer=panel.integer)


def _fits(mark: Bar, scale: axes.Scale) -> bool:
    return scale(mark.value) + text.width(mark.text, svg.SMALL) + 8 <= scale.end


def _value(mark: Bar, scale: axes.Scale, y: float) -> tuple[list[str], str]:
    """The mark's shapes, and its value written after it (haloed: rules may cross it)."""
    end = scale(mark.value)
    if not scale.log:
        shapes = [svg.rect(scale.start, y - _BAR / 2, end - scale.start, _BAR, mark.colour)]
    else:
        shapes = [
            svg.line(scale.start, y, end, y, mark.colour, 2.5),
            svg.circle(end, y, 4, mark.colour),
        ]
    return shapes, svg.text(end + 5, y, mark.text, size=svg.SMALL, halo=True)


def _note(note: Note, span: tuple[float, float], y: float, ticks: list[float]) -> list[str]:
    """The words at the panel's left edge, or right of a limit tick that would cross them."""
    start = span[0] + 4
    shown = text.fit(note.text, span[1] - start - 4, svg.SMALL)
    for x in sorted(ticks):
        if start - 4 <= x <= start + text.width(shown, svg.SMALL) + 4:
            start = x + 6
            shown = text.fit(note.text, span[1] - start - 4, svg.SMALL)
    tooltip = note.text if shown != note.text else None
    return [
        svg.text(start, y, shown, size=svg.SMALL, colour=note.colour, halo=True, tooltip=tooltip)
    ]


# --- the legend -----------------------------------------------------------------------------------

_Entry = tuple[str, str, str]  # (kind: solid|dashed|tick, colour, words)


def _entries(panel: Panel) -> list[_Entry]:
    out = [("dashed" if r.dashed else "solid", r.colour, r.legend) for r in panel.rules]
    if panel.tick_legend and any(isinstance(m, Tick) for m in panel.marks):
        out.append(("tick", palette.LIMIT, panel.tick_legend))
    return out


def _entry_width(entry: _Entry) -> float:
    return _LEGEND_SAMPLE + 5 + text.width(entry[2], svg.SMALL) + 16


def _legend_lines(panel: Panel, span: tuple[float, float]) -> list[list[_Entry]]:
    """The panel's legend entries in lines under its title, each line within the panel."""
    lines: list[list[_Entry]] = []
    used = span[1] - span[0]  # start a new line for the first entry
    for entry in _entries(panel):
        size = _entry_width(entry)
        if used + size > span[1] - span[0] and (not lines or lines[-1]):
            lines.append([])
            used = 0.0
        lines[-1].append(entry)
        used += size
    return lines


def _legend(entries: list[_Entry], x: float, y: float) -> list[str]:
    out = []
    for kind, colour, words in entries:
        if kind == "tick":
            middle = x + _LEGEND_SAMPLE / 2
            out.append(svg.line(middle, y - 7, middle, y + 7, colour, 2.5))
        else:
            out.append(svg.line(x, y, x + _LEGEND_SAMPLE, y, colour, 1.5, dashed=kind == "dashed"))
        out.append(svg.text(x + _LEGEND_SAMPLE + 5, y, words, size=svg.SMALL))
        x += _entry_width((kind, colour, words))
    return out


def _description(rows: Sequence[Row], panels: Sequence[Panel]) -> str:
    """The chart in words, for screen readers: each panel's value per row."""
    parts = []
    for panel in panels:
        said = {m.row: m.text for m in panel.marks if not isinstance(m, Tick)}
        values = "; ".join(f"{rows[i].label}{rows[i].suffix}: {said[i]}" for i in sorted(said))
        parts.append(f"{panel.title} ({panel.axis}): {values}.")
    return " ".join(parts)
