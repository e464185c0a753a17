"""Latency and memory as every human-readable report shows them: table cells and details.

Numbers come from results.json alone: a cell's own measurements from its probe records
(driftmatrix.resources reads them) and, when it was compared, the ``latency``/``memory`` ratios of
its comparison. A latency probe that failed or died is shown as such: it never changes a
verdict (it is a measurement), so this is the one place a reader learns about it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from driftmatrix import resources
from driftmatrix.report._common import number
from driftmatrix.results import CellResult

_KIB_PER_MIB = 1024


def latency_cell(cell: CellResult, reference: str) -> str:
    """``3.1 (2.6x)``: p50 ms as compared (ratio beside it), ``failed``, or ``-``."""
    ratio = _ratio(cell, "latency")
    if ratio:
        return _with_ratio(number(ratio.get("cell")), ratio, cell.id == reference)
    problem = latency_problem(cell)
    if problem is not None:
        return problem[0]
    own = resources.cell_latency(cell.probes)
    return number(own.p50_ms) if own is not None else "-"


def memory_cell(cell: CellResult, reference: str) -> str:
    """``152 (1.1x)``: peak MiB of loading and predicting (ratio beside it), or ``-``."""
    ratio = _ratio(cell, "memory")
    if ratio and isinstance(ratio.get("cell"), (int, float)):
        return _with_ratio(_mib(ratio["cell"]), ratio, cell.id == reference)
    peak = resources.peak(cell.probes)
    return _mib(peak.kib) if peak is not None else "-"


def latency_problem(cell: CellResult) -> tuple[str, str] | None:
    """``(short, sentence)`` when the latency probe ran but measured nothing usable."""
    record = _mapping(cell.probes.get("latency"))
    status = record.get("status")
    if status == "running":
        return "died", "the process ended while the latency probe was timing calls"
    if status == "failed" and resources.latencies(cell.probes) is None:
        error = _mapping(record.get("error"))
        what = f"{error.get('type') or 'an error'}: {error.get('message') or ''}".rstrip(": ")
        return "failed", f"the latency probe raised {what}"
    if status == "ok" and resources.latencies(cell.probes) is None:
        return "over budget", "one call of every batch size would take longer than the time budget"
    return None


def markdown_details(cell: CellResult, reference: str, text: Callable[[str], str]) -> list[str]:
    """The Markdown paragraphs on latency and memory of one cell's details (may be empty).

    Args:
        cell: The cell.
        reference: The reference cell's id (it is not compared with itself in words).
        text: The report's escaper for prose from the run (error messages, reasons).
    """
    out: list[str] = []
    record = _mapping(cell.probes.get("latency"))
    compared = cell.id != reference
    problem = latency_problem(cell)
    if problem is not None:
        out.append(f"**Latency:** not measured: {text(problem[1])}.")
    elif resources.latencies(cell.probes) is not None:
        ratio = _ratio(cell, "latency") if compared else None
        measure = text(str((ratio or {}).get("measure") or ""))
        line = _against(ratio, f" ({measure})", lambda ms: f"{number(ms)} ms")
        out += [_latency_table(record, text)] + ([line.strip()] if line else [])
    memory = _memory_line(cell)
    if memory:
        out.append(memory + _against(_ratio(cell, "memory") if compared else None, "", _mib_text))
    return out


def _latency_table(record: Mapping[str, Any], text: Callable[[str], str]) -> str:
    rows = []
    for batch in map(_mapping, _list(record.get("batches"))):
        if batch.get("status") == "ok":
            values = [batch.get(k) for k in ("p50_ms", "p95_ms", "min_ms", "max_ms")]
            rows.append([str(batch.get("rows")), str(batch.get("calls")), *map(number, values)])
        else:
            error = _mapping(batch.get("error"))
            why = batch.get("reason") or f"{error.get('type')}: {error.get('message')}"
            rows.append([str(batch.get("rows")), "—", text(f"{batch.get('status')}: {why}")])
            rows[-1] += ["", "", ""]
    # A method name from the cell's file, inside backticks: nothing may end the code span.
    method = str(record.get("method")).replace("`", "'").replace("|", "/")
    lines = [
        f"**Latency** of one `{method}` call, in the cell (ms):",
        "",
        "| rows | calls | p50 | p95 | min | max |",
        "|---|---|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines)


def _memory_line(cell: CellResult) -> str:
    peak = resources.peak(cell.probes)
    if peak is None:
        return ""
    parts = []
    for name in peak.probes:
        memory = _mapping(_mapping(cell.probes.get(name)).get("memory"))
        verb = {"load": "loading", "train": "training", "predict": "predicting"}.get(name, name)
        parts.append(f"{_mib_text(memory.get('peak_kib'))} while {verb}")
    how = (
        "the process's peak RSS, reset before each probe (VmHWM)"
        if peak.method == "VmHWM"
        else f"the process's peak RSS since it started ({peak.method})"
    )
    return f"**Memory:** {', '.join(parts)}: {how}."


def _against(ratio: Mapping[str, Any] | None, what: str, unit: Callable[[Any], str]) -> str:
    """`` Against the reference (what): 5 ms vs 2 ms, 2.5x (limit 2x), beyond the limit.``"""
    if not ratio or ratio.get("ratio") is None:
        return ""
    limit = ratio.get("limit")
    limit_text = f" (limit {number(limit)}x)" if limit is not None else ""
    beyond = ": **beyond the limit**" if ratio.get("exceeded") else ""
    return (
        f" Against the reference{what}: {unit(ratio.get('cell'))} vs "
        f"{unit(ratio.get('reference'))}, {number(ratio['ratio'])}x{limit_text}{beyond}."
    )


def _with_ratio(value: str, ratio: Mapping[str, Any], is_reference: bool) -> str:
    factor = ratio.get("ratio")
    if is_reference or not isinstance(factor, (int, float)):
        return value
    # Two significant digits: a table cell says "2.5x"; the details give the exact ratio.
    return f"{value} ({factor:.2g}x)"


def _ratio(cell: CellResult, name: str) -> Mapping[str, Any] | None:
    ratio = _mapping(_mapping(cell.comparison).get(name))
    return ratio or None


def _mib(kib: Any) -> str:
    return f"{kib / _KIB_PER_MIB:.0f}" if isinstance(kib, (int, float)) else "-"


def _mib_text(kib: Any) -> str:
    return f"{_mib(kib)} MiB"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
