"""The HTML report's per-cell charts: what changed in the predictions, and what it cost.

Two figures, one row per cell (the reference included) so that cells read across both panels:

* **Predictions against the reference**: golden rows whose label flipped, and the largest
  score difference on a log scale against ``atol`` (bit-identical cells say so in words; a log
  scale has no zero).
* **Latency and memory**: the p50 of one prediction call and the peak memory, against the
  reference's value, the ``slower``/``heavier`` thresholds (``latency_ratio``/``memory_ratio``
  times the reference's) and each cell's own memory limit.

A cell with nothing to draw (it failed, or was not measured) keeps its row, with the reason in
words. Numbers come from results.json through the same readers as the other reports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from driftmatrix import resources
from driftmatrix.report import _common as common
from driftmatrix.report import _palette as palette
from driftmatrix.report import _resources as report_resources
from driftmatrix.report._layout import Dimension, label
from driftmatrix.report._svg import Plot, figure, plain, to_svg
from driftmatrix.results import CellResult, RunResults

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Rows per chart; a larger run shows the reference and the most severe cells.
MAX_ROWS = 60
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([bkmg]?)$")
_MIB = {"b": 1 / 1024**2, "": 1 / 1024**2, "k": 1 / 1024, "m": 1.0, "g": 1024.0}


def shown(results: RunResults, limit: int = MAX_ROWS) -> list[CellResult]:
    """The cells a chart shows, in matrix order: all, or the reference and the most severe."""
    cells = list(results.cells)
    if len(cells) <= limit:
        return cells
    order = sorted(
        range(len(cells)),
        key=lambda i: (cells[i].id != results.reference, -cells[i].verdict.severity, i),
    )
    return [cells[i] for i in sorted(order[:limit])]


def outputs(results: RunResults, varying: Sequence[Dimension]) -> Plot:
    """Flipped labels and the largest score difference per cell."""
    title = "Predictions against the reference"
    if not any(cell.comparison for cell in results.cells):
        return Plot(title, None, "No cell could be compared with the reference: nothing to draw.")
    cells = shown(results)
    with_scores = any(_mapping(c.comparison).get("scores") for c in cells)
    with figure(12.4, _height(len(cells)), "outputs") as fig:
        axes = fig.subplots(1, 2 if with_scores else 1, sharey=True, squeeze=False)[0]
        _cell_axis(axes[0], cells, results.reference, varying)
        _flipped(axes[0], cells)
        if with_scores:
            _score_diffs(axes[1], cells, results)
        svg = to_svg(fig, "Flipped labels and largest score difference per cell")
    caption = (
        "Bars are coloured by verdict. Left: golden rows whose predicted label differs from the "
        "reference's. Right: the largest absolute difference of any score (log scale), against "
        "the tolerance atol."
    )
    return Plot(title, svg, caption if with_scores else caption.split(" Right:")[0])


def costs(results: RunResults, varying: Sequence[Dimension]) -> Plot:
    """Latency and peak memory per cell, against the reference and the limits."""
    title = "Latency and memory"
    cells = shown(results)
    latency = {c.id: _latency(c) for c in cells}
    memory = {c.id: _peak_mib(c) for c in cells}
    if not any(v is not None for v in [*latency.values(), *memory.values()]):
        return Plot(title, None, "No cell measured its latency or memory: nothing to draw.")
    with figure(12.4, _height(len(cells)), "costs") as fig:
        left, right = fig.subplots(1, 2, sharey=True)
        _cell_axis(left, cells, results.reference, varying)
        ratio = _number(results.compare.get("latency_ratio"))
        _measure_bars(
            left,
            cells,
            latency,
            _reference_value(results, latency),
            ratio,
            "slower",
            results.reference,
        )
        left.set_xlabel("p50 of one prediction call (ms)")
        left.set_title("Latency")
        ratio = _number(results.compare.get("memory_ratio"))
        _measure_bars(
            right,
            cells,
            memory,
            _reference_value(results, memory),
            ratio,
            "heavier",
            results.reference,
        )
        _memory_limits(right, cells)
        right.set_xlabel("peak resident memory while loading and predicting (MiB)")
        right.set_title("Memory")
        svg = to_svg(fig, "Latency and peak memory per cell against the reference and limits")
    caption = (
        "Bars beyond the dashed line (the reference's value times latency_ratio or memory_ratio)"
        " are flagged slower or heavier. The solid line is the reference; a black tick is a "
        "cell's memory limit. Cells run in parallel, so latency moves with the machine's load."
    )
    return Plot(title, svg, caption)


# --- the shared cell axis -----------------------------------------------------------------------


def _height(rows: int) -> float:
    return 1.1 + 0.3 * rows


def _cell_axis(
    ax: Axes, cells: Sequence[CellResult], reference: str, varying: Sequence[Dimension]
) -> None:
    names = [
        plain(label(c, varying)) + (" (reference)" if c.id == reference else "") for c in cells
    ]
    ax.set_yticks(range(len(cells)), names)
    ax.set_ylim(len(cells) - 0.5, -0.5)  # the first cell at the top, as in the table


def _note(ax: Axes, y: int, text: str, colour: str = palette.MUTED) -> None:
    # In axes coordinates along x, so that it sits at the left edge on linear and log scales.
    # A white box keeps it readable over grid and threshold lines; limit marks stay on top.
    box = {"facecolor": "white", "edgecolor": "none", "pad": 1.0}
    ax.text(0.01, y, plain(text), color=colour, va="center", fontsize=8, bbox=box, zorder=3,
            transform=ax.get_yaxis_transform())  # fmt: skip


def _legend(ax: Axes) -> None:
    # Beside the plot, so that it never hides a row (constrained layout makes room for it).
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _why_not(cell: CellResult) -> str:
    return "not compared" if cell.verdict.ran else f"{cell.verdict.value}: no predictions"


# --- predictions --------------------------------------------------------------------------------


def _flipped(ax: Axes, cells: Sequence[CellResult]) -> None:
    from matplotlib.ticker import MaxNLocator

    totals = [0]
    for y, cell in enumerate(cells):
        labels = _mapping(_mapping(cell.comparison).get("labels"))
        if not labels:
            _note(ax, y, _why_not(cell) if not cell.comparison else "no labels compared")
            continue
        flipped, total = int(labels.get("flipped") or 0), int(labels.get("total") or 0)
        totals.append(total)
        colour = palette.VERDICT[cell.verdict].strong
        ax.barh(y, flipped, height=0.62, color=colour)
        ax.text(flipped, y, f"  {flipped} of {total}", va="center", fontsize=8)
    ax.set_xlim(0, max(totals) or 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rows are counted, never halved
    ax.set_xlabel("golden rows whose predicted label changed")
    ax.set_title("Flipped labels")
    ax.grid(axis="x")
    ax.set_axisbelow(True)


def _score_diffs(ax: Axes, cells: Sequence[CellResult], results: RunResults) -> None:
    atol = _number(_mapping(results.compare.get("scores")).get("atol", results.compare.get("atol")))
    values: dict[int, float] = {}
    for y, cell in enumerate(cells):
        scores = _mapping(_mapping(cell.comparison).get("scores"))
        text = _score_text(cell, scores)
        if text:
            colour = palette.VERDICT[cell.verdict].strong if scores else palette.MUTED
            _note(ax, y, text, colour)
        else:
            values[y] = float(scores["max_abs"])
    marks = [*values.values(), *([atol] if atol else [])]
    # Room left of the smallest mark for the notes, right of the largest for its value.
    low, high = (min(marks) / 100, max(marks) * 300) if marks else (1e-12, 1.0)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    for y, value in values.items():
        colour = palette.VERDICT[cells[y].verdict].strong
        ax.hlines(y, low, value, color=colour, linewidth=2.5)
        ax.plot([value], [y], "o", color=colour, markersize=6)
        ax.text(value, y, f"  {common.number(value)}", va="center", fontsize=8)
    if atol:
        ax.axvline(atol, color=palette.LIMIT, linestyle="--", linewidth=1, label=f"atol {atol:g}")
        _legend(ax)
    ax.set_xlabel("largest absolute score difference (log scale)")
    ax.set_title("Score differences")
    ax.grid(axis="x", which="major")
    ax.set_axisbelow(True)


def _score_text(cell: CellResult, scores: Mapping[str, Any]) -> str:
    """Words instead of a mark: no scores, bit-identical, a changed shape, a non-finite value."""
    if not cell.comparison:
        return _why_not(cell)
    if not scores:
        return "no scores compared"
    if scores.get("identical"):
        return "bit-identical"
    if any(_mapping(m).get("shape_mismatch") for m in _mapping(scores.get("methods")).values()):
        return "output shape changed"
    value = _number(scores.get("max_abs"))
    if value is None or not math.isfinite(value):
        return f"max difference {common.number(scores.get('max_abs'))}"
    return "" if value > 0 else "0 (within tolerance)"


# --- latency and memory -------------------------------------------------------------------------


def _latency(cell: CellResult) -> float | None:
    ratio = _mapping(_mapping(cell.comparison).get("latency"))
    if _number(ratio.get("cell")) is not None:
        return _number(ratio.get("cell"))
    own = resources.cell_latency(cell.probes)
    return own.p50_ms if own is not None else None


def _peak_mib(cell: CellResult) -> float | None:
    peak = resources.peak(cell.probes)
    return peak.kib / 1024 if peak is not None else None


def _reference_value(results: RunResults, values: Mapping[str, float | None]) -> float | None:
    return values.get(results.reference)


def _measure_bars(
    ax: Axes,
    cells: Sequence[CellResult],
    values: Mapping[str, float | None],
    reference: float | None,
    ratio: float | None,
    flag: str,
    reference_id: str,
) -> None:
    threshold = reference * ratio if reference is not None and ratio is not None else None
    for y, cell in enumerate(cells):
        value = values.get(cell.id)
        if value is None:
            problem = report_resources.latency_problem(cell) if flag == "slower" else None
            _note(ax, y, problem[0] if problem else f"not measured ({cell.verdict.value})")
            continue
        beyond = threshold is not None and value > threshold and cell.id != reference_id
        ax.barh(y, value, height=0.62, color=palette.BEYOND if beyond else palette.MEASURED)
        ax.text(value, y, f"  {common.number(value)}", va="center", fontsize=8)
    if reference is not None:
        ax.axvline(reference, color=palette.REFERENCE, linewidth=1.2, label="reference")
    if threshold is not None:
        text = f"{flag} beyond {ratio:g}x"
        ax.axvline(threshold, color=palette.BEYOND, linestyle="--", linewidth=1.2, label=text)
    measured = [v for v in values.values() if v is not None] + [threshold or 0]
    ax.set_xlim(0, max([*measured, 1e-9]) * 1.18)
    ax.grid(axis="x")
    ax.set_axisbelow(True)
    if reference is not None or threshold is not None:
        _legend(ax)


def _memory_limits(ax: Axes, cells: Sequence[CellResult]) -> None:
    limits: list[float] = []
    ys: list[int] = []
    for y, cell in enumerate(cells):
        mib = _memory_limit_mib(cell)
        if mib is not None:
            limits.append(mib)
            ys.append(y)
    if not limits:
        return
    ax.plot(
        limits,
        ys,
        "|",
        color=palette.LIMIT,
        markersize=15,
        markeredgewidth=2.5,
        label="memory limit",
        zorder=5,
    )
    low, high = ax.get_xlim()
    ax.set_xlim(low, max(high, max(limits) * 1.05))
    _legend(ax)


def _memory_limit_mib(cell: CellResult) -> float | None:
    match = _MEMORY.match(str(cell.limits.get("memory") or "").lower())
    return float(match.group(1)) * _MIB[match.group(2)] if match else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
