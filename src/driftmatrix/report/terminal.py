"""The terminal report: one table of cells, a summary, and one line per problem.

Plain text unless ``color`` is set (the CLI sets it only when stdout is a TTY), so the same text
can go to a CI log or a file.
"""

from __future__ import annotations

from tabulate import tabulate

from driftmatrix.errors import EXIT_FINDING, EXIT_OK
from driftmatrix.outcome import Verdict
from driftmatrix.report import _common as common
from driftmatrix.report import _resources as resources
from driftmatrix.results import CellResult, RunResults

_REASON_CHARS = 200
_RESET = "\033[0m"
_GREEN, _YELLOW, _RED, _MAGENTA, _BOLD = "\033[32m", "\033[33m", "\033[31m", "\033[35m", "\033[1m"


def render(results: RunResults, *, color: bool = False) -> str:
    """Render ``results`` for a terminal.

    Args:
        results: A run, as read from results.json.
        color: Colour verdicts and the outcome with ANSI escapes (only for a TTY).

    Returns:
        The report, ending with a newline.
    """
    pins = common.pinned_packages(results)
    headers = ["", "cell", *pins, "backend", "verdict", "flags", "flipped", "max score diff"]
    headers += ["p50 ms", "peak MiB", "seconds"]
    rows = [_row(cell, results.reference, pins, color) for cell in results.cells]
    lines = [*_header(results), ""]
    lines.append(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))
    lines.append("* the reference cell: every other cell is compared with it")
    lines.append("")
    lines.append(common.summary_line(results))
    code, outcome = common.outcome_line(results)
    lines.append(_paint(outcome, _outcome_colour(code), color))
    problem = common.reference_problem(results)
    if problem:
        lines.append(_paint(problem, _BOLD, color))
    why = _problems(results, color)
    if why:
        lines.extend(["", "Why:", *why])
    gaps, _leaves = common.coverage(results)
    if gaps:
        # A comparison cannot show a change on rows the golden set does not have.
        lines.extend(["", "Golden set gaps:", *(f"  {gap}" for gap in gaps)])
    return "\n".join(lines) + "\n"


def _header(results: RunResults) -> list[str]:
    name = results.matrix.get("name") or results.matrix.get("path") or "matrix"
    artifact = results.artifact
    if artifact.get("mode") == "train":
        model = f"model: trained in each cell by {artifact.get('recipe')}"
    else:
        model = f"model: {artifact.get('path')}"
        if artifact.get("format"):
            model += f" ({artifact['format']})"
    if artifact.get("golden"):
        model += f"; golden set: {artifact['golden']}"
    reference = f"reference: {results.reference}"
    tolerance = common.tolerance_text(results)
    if tolerance:
        reference += f"; scores compared with {tolerance}"
    return [f"driftmatrix: {name}", model, reference]


def _row(cell: CellResult, reference: str, pins: list[str], color: bool) -> list[str]:
    return [
        "*" if cell.id == reference else "",
        cell.id,
        *(common.version(cell, name) for name in pins),
        cell.backend,
        _paint(cell.verdict.value, _verdict_colour(cell.verdict), color),
        ", ".join(flag.value for flag in cell.flags) or "-",
        common.flipped(cell),
        common.max_abs(cell),
        resources.latency_cell(cell, reference),
        resources.memory_cell(cell, reference),
        common.seconds(cell),
    ]


def _problems(results: RunResults, color: bool) -> list[str]:
    """One line per cell whose verdict needs explaining (not-compared cells are said above)."""
    lines = []
    for cell in results.cells:
        if cell.verdict in (Verdict.IDENTICAL, Verdict.EQUIVALENT, Verdict.NOT_COMPARED):
            continue
        verdict = _paint(cell.verdict.value, _verdict_colour(cell.verdict), color)
        reason = common.reason(cell)
        # The full message is in report.md and results.json; a log line stays readable.
        reason = reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 1] + "…"
        lines.append(f"  {cell.id}: {verdict}: {reason}")
    return lines


def _verdict_colour(verdict: Verdict) -> str:
    if verdict in (Verdict.IDENTICAL, Verdict.EQUIVALENT):
        return _GREEN
    if verdict in (Verdict.DRIFT, Verdict.NOT_COMPARED):
        return _YELLOW
    return _MAGENTA if verdict.is_infrastructure else _RED


def _outcome_colour(code: int) -> str:
    return {EXIT_OK: _GREEN, EXIT_FINDING: _RED}.get(code, _MAGENTA)


def _paint(text: str, colour: str, enabled: bool) -> str:
    return f"{colour}{text}{_RESET}" if enabled else text
