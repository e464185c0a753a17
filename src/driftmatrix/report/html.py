"""The HTML report: one self-contained page a reviewer can read offline and grasp in seconds.

Order, most important first: the outcome in one coloured line and the verdict counts; the
verdict grid (the cells laid out along the axes they vary in, e.g. Python × scikit-learn,
coloured by verdict, the reference outlined); the table of cells with their key facts; the
plots (flipped labels and score differences per cell, the reference's scores against each
differing cell's, latency and memory against the reference and the limits); then every cell's
details, collapsed, linked from the grid and the table.

Self-contained: the CSS is inline, the plots are inline SVG written element by element
(report/_svg.py; no plotting library, so a page renders in milliseconds), there is no script,
font, image or link to anything outside the file. Rendered from results.json alone, and
deterministic: the same results give the same bytes. Every text from the run is escaped
(report/_html_parts.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import driftmatrix
from driftmatrix.errors import EXIT_FINDING, EXIT_OK
from driftmatrix.outcome import Verdict
from driftmatrix.report import _common as common
from driftmatrix.report import _layout as layout
from driftmatrix.report import _resources as resources
from driftmatrix.report._html_cell import details
from driftmatrix.report._html_parts import anchor, code, dash, esc, flags, table, tag, verdict
from driftmatrix.report._html_style import stylesheet
from driftmatrix.report._plot_scores import scatter
from driftmatrix.report._plots import costs, outputs
from driftmatrix.report._svg import Plot
from driftmatrix.results import CellResult, RunResults

_OUTCOME_CLASS = {EXIT_OK: "ok", EXIT_FINDING: "fail"}
_TILE_FACT = 64


def render(results: RunResults) -> str:
    """Render ``results`` as one self-contained HTML page.

    Args:
        results: A run, as read from results.json.

    Returns:
        The page, ending with a newline.
    """
    name = str(results.matrix.get("name") or results.matrix.get("path") or "matrix")
    varying = layout.dimensions(results)
    body = [
        f"<h1>driftmatrix: {esc(name)}</h1>",
        f'<p class="context">{_context(results)}</p>',
        *_outcome(results),
        "<h2>Verdict grid</h2>",
        _grid(results, layout.layout(results)),
        "<h2>Cells</h2>",
        _cells(results),
        "<h2>Plots</h2>",
        *(_figure(p) for p in _plots(results, varying)),
        "<h2>Details</h2>",
        '<p class="note">Click a cell to open its details.</p>',
        *(details(cell, results, i) for i, cell in enumerate(results.cells)),
        f"<footer>Rendered from results.json by driftmatrix {esc(driftmatrix.__version__)}."
        " Every cell's full record is in results.json.</footer>",
    ]
    head = (
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>driftmatrix: {esc(name)}</title><style>\n{stylesheet()}\n</style>"
    )
    page = "\n".join(body)
    return f'<!DOCTYPE html>\n<html lang="en">\n<head>{head}</head>\n<body><main>\n{page}\n</main></body>\n</html>\n'  # noqa: E501


def _context(results: RunResults) -> str:
    artifact = results.artifact
    if artifact.get("mode") == "train":
        text = f"Model: trained in each cell by {code(artifact.get('recipe'))}."
    else:
        fmt = f" ({esc(artifact['format'])})" if artifact.get("format") else ""
        text = f"Model: {code(artifact.get('path'))}{fmt}."
    if artifact.get("golden"):
        text += f" Golden set: {code(artifact['golden'])}."
    tolerance = common.tolerance_text(results)
    rule = f": labels must match exactly, scores within {esc(tolerance)}" if tolerance else ""
    return (
        text + f" Every cell is compared with the reference cell {code(results.reference)}{rule}."
    )


def _outcome(results: RunResults) -> list[str]:
    exit_code, outcome = common.outcome_line(results)
    out = [f'<div class="outcome {_OUTCOME_CLASS.get(exit_code, "infra")}">{esc(outcome)}</div>']
    problem = common.reference_problem(results)
    if problem:
        out.append(f'<p class="notice">{esc(problem)}</p>')
    total = len(results.cells)
    counts = "".join(f"<span><b>{n}</b> {verdict(v)}</span>" for v, n in common.counts(results))
    cells = f"{total} cell{'s' if total != 1 else ''}"
    out.append(f'<div class="counts"><span>{cells}:</span>{counts}</div>')
    gaps, leaves = common.coverage(results)
    if gaps or leaves:
        text = f"the golden set {esc(leaves)}." if leaves else ""
        if gaps:
            text += " It misses: " + "; ".join(esc(g) for g in gaps) + "."
        out.append(f'<p class="gaps"><b>Golden-set coverage:</b> {text}</p>')
    return out


# --- the verdict grid --------------------------------------------------------------------------


def _grid(results: RunResults, grid: layout.Grid) -> str:
    index = {cell.id: i for i, cell in enumerate(results.cells)}
    across = f"{esc(grid.columns.name)} →" if grid.columns else ""
    down = f"{esc(grid.rows.name)} ↓" if grid.rows else ""
    corner = "<br>".join(p for p in (across, down) if p)
    head = f'<tr><th class="corner">{corner}</th>'
    head += "".join(f"<th>{esc(v)}</th>" for v in grid.column_values()) + "</tr>"
    lines = [head]
    placed = grid.placed(results.cells)
    for row in grid.row_values():
        tiles = []
        for column in grid.column_values():
            cells = placed.get((row, column), [])
            if not cells:
                tiles.append('<td class="empty" title="not in this matrix"></td>')
                continue
            tiles.append(
                "<td>" + "".join(_tile(c, results, grid, index[c.id]) for c in cells) + "</td>"
            )
        lines.append(f'<tr><th class="row">{esc(row)}</th>{"".join(tiles)}</tr>')
    caption = (
        '<p class="note">Each tile is a cell, coloured by its verdict; the outlined tile '
        "(★) is the reference. Click a tile for its details.</p>"
    )
    return f'<div class="scroll"><table class="grid">{"".join(lines)}</table></div>{caption}'


def _tile(cell: CellResult, results: RunResults, grid: layout.Grid, index: int) -> str:
    is_reference = cell.id == results.reference
    star = ' <span class="star">★ reference</span>' if is_reference else ""
    parts = [f'<span class="tv">{esc(cell.verdict.value)}{star}</span>']
    fact = _fact(cell)
    if fact:
        parts.append(f'<span class="tf">{esc(fact)}</span>')
    others = " · ".join(d.short(cell) for d in grid.others)
    if others:
        parts.append(f'<span class="to">{esc(others)}</span>')
    if cell.flags:
        parts.append(f'<span class="tflags">⚑ {esc(", ".join(f.value for f in cell.flags))}</span>')
    classes = f"tile v-{cell.verdict.value}" + (" ref" if is_reference else "")
    return (
        f'<a class="{classes}" href="#{anchor(index)}" title="{esc(cell.id)}">{"".join(parts)}</a>'
    )


def _fact(cell: CellResult) -> str:
    """The tile's one line of evidence: flipped labels and score difference, or the error."""
    if not cell.verdict.ran or cell.comparison is None:
        reason = common.reason(cell)
        return reason if len(reason) <= _TILE_FACT else reason[: _TILE_FACT - 1] + "…"
    if cell.verdict is Verdict.IDENTICAL:
        return "bit-identical outputs"
    parts = []
    flipped = common.flipped(cell)
    if flipped != "-" and not flipped.startswith("0/"):
        parts.append(f"{flipped} flipped")
    score = common.max_abs(cell)
    if score not in ("-", "0"):
        parts.append(f"max score diff {score}")
    within = "within tolerance" if cell.verdict is Verdict.EQUIVALENT else ""
    return ", ".join([within, *parts] if within else parts)


# --- the table of cells ------------------------------------------------------------------------


def _cells(results: RunResults) -> str:
    pins = common.pinned_packages(results)
    headers = ["", "cell", "verdict", "flags", *pins, "flipped", "max score diff", "p50 ms"]
    headers += ["peak MiB", "seconds"]
    rows, notes = [], []
    for i, cell in enumerate(results.cells):
        is_reference = cell.id == results.reference
        reason = common.reason(cell)
        rows.append(
            [
                "★" if is_reference else "",
                f'<a href="#{anchor(i)}">{code(cell.id)}</a>',
                verdict(cell.verdict),
                flags(cell.flags),
                *(esc(common.version(cell, pin)) for pin in pins),
                dash(common.flipped(cell)),
                dash(common.max_abs(cell)),
                dash(resources.latency_cell(cell, results.reference)),
                dash(resources.memory_cell(cell, results.reference)),
                f"{cell.seconds:.1f}",
            ]
        )
        notes.append(esc(reason if len(reason) <= 300 else reason[:299] + "…"))
    # Numbers right-aligned, the reference's row in bold, why a cell failed in a row under it.
    columns = ["", "", "", "", *([""] * len(pins)), "num", "num", "num", "num", "num"]
    marked = [i for i, c in enumerate(results.cells) if c.id == results.reference]
    text = table(headers, rows, "cells", columns=columns, marked=marked, notes=notes)
    return tag("div", text, "scroll")


# --- plots -------------------------------------------------------------------------------------


def _plots(results: RunResults, varying: Sequence[layout.Dimension]) -> list[Plot]:
    return [outputs(results, varying), scatter(results, varying), costs(results, varying)]


def _figure(plot: Plot) -> str:
    title = f"<h3>{esc(plot.title)}</h3>"
    if plot.svg is None:
        return f'{title}<p class="note">{esc(plot.caption)}</p>'
    return f"{title}<figure>{plot.svg}<figcaption>{esc(plot.caption)}</figcaption></figure>"
