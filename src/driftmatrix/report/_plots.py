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
from dataclasses import replace
from typing import Any

from driftmatrix import resources
from driftmatrix.report import _common as common
from driftmatrix.report import _palette as palette
from driftmatrix.report import _resources as report_resources
from driftmatrix.report import _rows as rows
from driftmatrix.report._layout import Dimension, label
from driftmatrix.report._svg import Plot
from driftmatrix.results import CellResult, RunResults

#: Rows per chart; a larger run shows the reference and the most severe cells.
MAX_ROWS = 60
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([bkmg]?)$")
_MIB = {"b": 1 / 1024**2, "": 1 / 1024**2, "k": 1 / 1024, "m": 1.0, "g": 1024.0}
#: The costs chart's panels: the ratio in ``[compare]``, title, axis title, flag beyond it.
_COSTS = (
    ("latency_ratio", "Latency", "p50 of one prediction call (ms)", "slower"),
    (
        "memory_ratio",
        "Memory",
        "peak resident memory while loading and predicting (MiB)",
        "heavier",
    ),
)


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
    panels = [_flipped(cells)]
    with_scores = any(_mapping(c.comparison).get("scores") for c in cells)
    if with_scores:
        panels.append(_score_diffs(cells, results))
    svg = rows.chart(
        _rows(cells, results.reference, varying),
        panels,
        "Flipped labels and largest score difference per cell",
    )
    caption = (
        "Bars are coloured by verdict. Left: golden rows whose predicted label differs from the "
        "reference's. Right: the largest absolute difference of any score (log scale), against "
        "the tolerance atol."
    )
    caption = caption if with_scores else caption.split(" Right:")[0]
    return Plot(title, svg, caption + _cut(results, cells))


def costs(results: RunResults, varying: Sequence[Dimension]) -> Plot:
    """Latency and peak memory per cell, against the reference and the limits."""
    title = "Latency and memory"
    cells = shown(results)
    latency = {c.id: _latency(c) for c in cells}
    memory = {c.id: _peak_mib(c) for c in cells}
    if not any(v is not None for v in [*latency.values(), *memory.values()]):
        return Plot(title, None, "No cell measured its latency or memory: nothing to draw.")
    left, right = (
        _measured(cells, values, common.finite(results.compare.get(key)), words, results.reference)
        for values, (key, *words) in zip((latency, memory), _COSTS, strict=True)
    )
    limits = [rows.Tick(y, mib) for y, c in enumerate(cells) if (mib := _limit_mib(c)) is not None]
    right = replace(right, marks=(*right.marks, *limits), tick_legend="memory limit")
    svg = rows.chart(
        _rows(cells, results.reference, varying),
        [left, right],
        "Latency and peak memory per cell against the reference and limits",
    )
    caption = (
        "Bars beyond the dashed line (the reference's value times latency_ratio or memory_ratio)"
        " are flagged slower or heavier. The solid line is the reference; a black tick is a "
        "cell's memory limit. Cells run in parallel, so latency moves with the machine's load."
    )
    return Plot(title, svg, caption + _cut(results, cells))


# --- the shared cell rows -----------------------------------------------------------------------


def _rows(
    cells: Sequence[CellResult], reference: str, varying: Sequence[Dimension]
) -> list[rows.Row]:
    return [
        rows.Row(label(c, varying), c.id, " (reference)" if c.id == reference else "")
        for c in cells
    ]


def _cut(results: RunResults, cells: Sequence[CellResult]) -> str:
    if len(cells) == len(results.cells):
        return ""
    return (
        f" {len(results.cells)} cells ran; the chart draws at most {MAX_ROWS}: the reference and"
        " the most severe."
    )


def _why_not(cell: CellResult) -> str:
    return "not compared" if cell.verdict.ran else f"{cell.verdict.value}: no predictions"


# --- predictions --------------------------------------------------------------------------------


def _flipped(cells: Sequence[CellResult]) -> rows.Panel:
    marks: list[rows.Mark] = []
    totals = [0]
    for y, cell in enumerate(cells):
        labels = _mapping(_mapping(cell.comparison).get("labels"))
        if not labels:
            marks.append(
                rows.Note(y, _why_not(cell) if not cell.comparison else "no labels compared")
            )
            continue
        flipped, total = int(labels.get("flipped") or 0), int(labels.get("total") or 0)
        totals.append(total)
        colour = palette.VERDICT[cell.verdict].strong
        marks.append(rows.Bar(y, flipped, colour, f"{flipped} of {total}"))
    # The axis reaches the golden set's size: a bar reads as a share of the rows.
    return rows.Panel(
        "Flipped labels",
        "golden rows whose predicted label changed",
        tuple(marks),
        extent=max(totals),
        integer=True,  # rows are counted, never halved
    )


def _score_diffs(cells: Sequence[CellResult], results: RunResults) -> rows.Panel:
    policy = _mapping(results.compare.get("scores"))
    atol = common.finite(policy.get("atol", results.compare.get("atol")))
    marks: list[rows.Mark] = []
    for y, cell in enumerate(cells):
        scores = _mapping(_mapping(cell.comparison).get("scores"))
        text = _score_text(cell, scores)
        if text:
            colour = palette.VERDICT[cell.verdict].strong if scores else palette.MUTED
            marks.append(rows.Note(y, text, colour))
        else:
            value = float(scores["max_abs"])
            colour = palette.VERDICT[cell.verdict].strong
            marks.append(rows.Bar(y, value, colour, common.number(value)))  # a stem: log scale
    rules = (rows.Rule(atol or 0.0, palette.LIMIT, f"atol {common.number(atol)}", dashed=True),)
    return rows.Panel(
        "Score differences",
        "largest absolute score difference (log scale)",
        tuple(marks),
        rules if atol else (),  # atol 0: a log scale has no room for it
        log=True,
    )


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
    value = common.finite(scores.get("max_abs"))
    if value is None:
        return f"max difference {common.number(scores.get('max_abs'))}"
    return "" if value > 0 else "0 (within tolerance)"


# --- latency and memory -------------------------------------------------------------------------


def _latency(cell: CellResult) -> float | None:
    ratio = _mapping(_mapping(cell.comparison).get("latency"))
    if (measured := common.finite(ratio.get("cell"))) is not None:
        return measured
    own = resources.cell_latency(cell.probes)
    return own.p50_ms if own is not None else None


def _peak_mib(cell: CellResult) -> float | None:
    peak = resources.peak(cell.probes)
    return peak.kib / 1024 if peak is not None else None


def _measured(
    cells: Sequence[CellResult],
    values: Mapping[str, float | None],
    ratio: float | None,
    words: Sequence[str],
    reference_id: str,
) -> rows.Panel:
    """Bars of one measurement, against the reference's value and its flag's threshold.

    ``words`` is the panel's title, its axis' title and the flag a cell beyond it gets.
    """
    title, axis, flag = words
    reference = values.get(reference_id)
    threshold = reference * ratio if reference is not None and ratio is not None else None
    threshold = threshold if threshold is None or math.isfinite(threshold) else None
    marks: list[rows.Mark] = []
    for y, cell in enumerate(cells):
        value = values.get(cell.id)
        if value is None:
            problem = report_resources.latency_problem(cell) if flag == "slower" else None
            marks.append(
                rows.Note(y, problem[0] if problem else f"not measured ({cell.verdict.value})")
            )
            continue
        beyond = threshold is not None and value > threshold and cell.id != reference_id
        colour = palette.BEYOND if beyond else palette.MEASURED
        marks.append(rows.Bar(y, value, colour, common.number(value)))
    rules = []
    if reference is not None:
        rules.append(rows.Rule(reference, palette.REFERENCE, "reference"))
    if threshold is not None:
        legend = f"{flag} beyond {common.number(ratio)}x"
        rules.append(rows.Rule(threshold, palette.BEYOND, legend, dashed=True))
    return rows.Panel(title, axis, tuple(marks), tuple(rules))


def _limit_mib(cell: CellResult) -> float | None:
    match = _MEMORY.match(str(cell.limits.get("memory") or "").lower())
    return float(match.group(1)) * _MIB[match.group(2)] if match else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
