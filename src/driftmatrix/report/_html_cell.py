"""One cell's details in the HTML report: everything a reviewer needs to believe its verdict.

At least what the Markdown report says (error, warnings, flags, flipped rows by id and tag,
score differences, changed methods, pipeline skew, skops audit, bad-input cases, latency and
memory, packages that differ from the reference), plus what Markdown has no room for: where
the cell ran, its limits and how each was enforced, and every probe's status. All text from
the run goes through :mod:`._html_parts`, which escapes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftmatrix import resources
from driftmatrix.outcome import Flag
from driftmatrix.packages import diff_packages
from driftmatrix.report import _common as common
from driftmatrix.report import _html_diff as diff
from driftmatrix.report import _resources as report_resources
from driftmatrix.report._html_parts import (
    anchor,
    code,
    esc,
    flags,
    folded,
    paragraph,
    table,
    tag,
    verdict,
)
from driftmatrix.results import CellResult, RunResults


def details(cell: CellResult, results: RunResults, index: int) -> str:
    """The ``<details>`` block of one cell (collapsed; the grid and table link to it)."""
    is_reference = cell.id == results.reference
    summary = f"{verdict(cell.verdict)} {code(cell.id)}"
    summary += " <b>(reference)</b>" if is_reference else ""
    reason = common.reason(cell)
    if reason:
        summary += f' <span class="why">{esc(_short(reason, 160))}</span>'
    body = [f"<p><i>{esc(common.VERDICT_MEANING[cell.verdict].capitalize())}.</i></p>"]
    if is_reference:
        body.append("<p>This is the reference cell: every other cell is compared with it.</p>")
    if cell.error is not None:
        text = f"{cell.error.type}: {cell.error.message}" if cell.error.message else cell.error.type
        body.append(f'<pre class="error">{esc(text)}</pre>')
    comparison = cell.comparison or {}
    body += [_where(cell), *_warnings(cell), *_flags(cell), *diff.labels(comparison)]
    body += diff.scores(comparison) + diff.methods(comparison) + diff.skew_and_audit(comparison)
    body += diff.contract(cell, comparison) + _costs(cell, results.reference) + [_probes(cell)]
    reference = results.reference_result
    if not is_reference and reference is not None and reference.installed and cell.installed:
        body.append(_packages(reference, cell))
    elif cell.installed:
        rows = [[code(name), esc(v)] for name, v in sorted(cell.installed.items())]
        body.append(
            folded(f"Installed packages ({len(rows)})", table(["package", "version"], rows))
        )
    return (
        f'<details id="{anchor(index)}" class="cell">'
        f"<summary>{summary}</summary>{''.join(body)}</details>"
    )


def _where(cell: CellResult) -> str:
    env = _mapping(cell.environment)
    python = _mapping(env.get("python"))
    ran = " ".join(str(python[k]) for k in ("implementation", "version") if python.get(k))
    rows = [
        ["backend", esc(cell.backend)],
        ["Python", esc(cell.python) + (f" (ran {esc(ran)})" if ran else "")],
        ["pins", ", ".join(code(f"{k}=={v}") for k, v in cell.packages.items()) or "—"],
        ["limits", _limits(cell)],
        ["seconds", f"{cell.seconds:.1f} (build included)"],
    ]
    rows += [[key, code(env[key])] for key in ("location", "base") if env.get(key)]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return tag("table", body, "facts")


def _limits(cell: CellResult) -> str:
    enforced = _mapping(cell.limits.get("enforced"))
    parts = []
    for key in ("memory", "cpus", "timeout"):
        limit = cell.limits.get(key)
        if limit is None:
            continue
        shown = f"{limit:g}s" if key == "timeout" and isinstance(limit, (int, float)) else limit
        how = enforced.get(key)
        note = f"enforced by {esc(how)}" if how else '<b class="warn">not enforced</b>'
        parts.append(f"{esc(key)} {esc(shown)} ({note})")
    return "; ".join(parts) or "none"


def _warnings(cell: CellResult) -> list[str]:
    out = []
    for probe, title in (
        ("load", "Warnings while loading"),
        ("train", "Warnings while training"),
        ("predict", "Warnings while predicting"),
    ):
        items = [
            _warning(_mapping(w)) for w in _list(_mapping(cell.probes.get(probe)).get("warnings"))
        ]
        if items:
            out.append(paragraph(title, "") + tag("ul", "".join(items)))
    return out


def _warning(warning: Mapping[str, Any]) -> str:
    category = code(warning.get("category") or "Warning")
    count = warning.get("count")
    times = f" (×{count})" if isinstance(count, int) and count > 1 else ""
    original = warning.get("original_sklearn_version")
    if original:
        current = warning.get("current_sklearn_version")
        now = f" and loaded with {code(current)}" if current else ""
        what = code(warning["estimator_name"]) if warning.get("estimator_name") else "the model"
        return (
            f"<li>{category}{times}: {what} was saved with scikit-learn {code(original)}{now}</li>"
        )
    module = f" in {code(warning['module'])}" if warning.get("module") else ""
    return f"<li>{category}{module}{times}: {esc(warning.get('message') or '')}</li>"


def _flags(cell: CellResult) -> list[str]:
    items = []
    for flag in cell.flags:
        extra = ""
        if flag is Flag.LIMITS_NOT_ENFORCED:
            enforced = _mapping(cell.limits.get("enforced"))
            off = [k for k, how in enforced.items() if how is None and cell.limits.get(k)]
            extra = f" ({esc(', '.join(off))})" if off else ""
        if flag is Flag.ROUNDTRIP_DIFFERS:
            methods = _list(_mapping(cell.probes.get("roundtrip")).get("differs"))
            extra = f" ({esc(', '.join(map(str, methods)))})" if methods else ""
        items.append(f"<li>{flags([flag])}: {esc(common.FLAG_MEANING[flag])}{extra}</li>")
    return [paragraph("Flags", "") + tag("ul", "".join(items))] if items else []


def _costs(cell: CellResult, reference: str) -> list[str]:
    out = []
    compared = cell.id != reference
    problem = report_resources.latency_problem(cell)
    record = _mapping(cell.probes.get("latency"))
    if problem is not None:
        out.append(paragraph("Latency", f"not measured: {esc(problem[1])}."))
    elif resources.latencies(cell.probes) is not None:
        rows = []
        for batch in map(_mapping, _list(record.get("batches"))):
            if batch.get("status") == "ok":
                numbers = [
                    esc(common.number(batch.get(k)))
                    for k in ("p50_ms", "p95_ms", "min_ms", "max_ms")
                ]
                rows.append([esc(batch.get("rows")), esc(batch.get("calls")), *numbers])
            else:
                why = batch.get("reason") or _mapping(batch.get("error")).get("message")
                rows.append(
                    [esc(batch.get("rows")), "—", esc(f"{batch.get('status')}: {why}"), "", "", ""]
                )
        title = f"one {code(record.get('method'))} call, in the cell (ms)"
        ratio = _mapping(_mapping(cell.comparison).get("latency")) if compared else {}
        out.append(
            paragraph("Latency", title + _against(ratio, lambda ms: f"{common.number(ms)} ms"))
        )
        out.append(table(["rows", "calls", "p50", "p95", "min", "max"], rows, "narrow"))
    peak = resources.peak(cell.probes)
    if peak is not None:
        ratio = _mapping(_mapping(cell.comparison).get("memory")) if compared else {}
        probes = " and ".join(peak.probes)
        text = f"{peak.kib / 1024:.0f} MiB at peak while {probes} ({esc(peak.method)})"
        out.append(paragraph("Memory", text + _against(ratio, lambda kib: f"{kib / 1024:.0f} MiB")))
    return out


def _against(ratio: Mapping[str, Any], unit: Any) -> str:
    factor = ratio.get("ratio")
    if not isinstance(factor, (int, float)):
        return ""
    limit = ratio.get("limit")
    beyond = ', <b class="warn">beyond the limit</b>' if ratio.get("exceeded") else ""
    limit_text = f" (limit {esc(common.number(limit))}x)" if limit is not None else ""
    return (
        f". Against the reference: {esc(unit(ratio.get('cell')))} vs "
        f"{esc(unit(ratio.get('reference')))}, {esc(common.number(factor))}x{limit_text}{beyond}"
    )


def _probes(cell: CellResult) -> str:
    rows = []
    for name, record in cell.probes.items():
        record = _mapping(record)
        status = str(record.get("status") or "?")
        error = _mapping(record.get("error"))
        note = record.get("reason") or (
            f"{error.get('type')}: {error.get('message')}" if error else ""
        )
        seconds = record.get("seconds")
        shown = f"{seconds:.3f}" if isinstance(seconds, (int, float)) else "—"
        rows.append(
            [
                code(name),
                f'<span class="probe-{esc(status)}">{esc(status)}</span>',
                shown,
                esc(_short(str(note), 300)),
            ]
        )
    if not rows:
        return paragraph(
            "Probes", "none ran (the environment was not built or the runner never started)."
        )
    return folded(f"Probes ({len(rows)})", table(["probe", "status", "seconds", "note"], rows))


def _packages(reference: CellResult, cell: CellResult) -> str:
    diff = diff_packages(reference.installed, cell.installed)
    rows = [[code(n), esc(r), esc(c)] for n, r, c in diff.changed]
    rows += [[code(n), "—", esc(v)] for n, v in diff.added]
    rows += [[code(n), esc(v), "—"] for n, v in diff.removed]
    if not rows:
        return paragraph("Packages", "the same versions as the reference.")
    title = f"Packages that differ from the reference ({len(rows)}, dependencies included)"
    return paragraph(title, "") + table(["package", "reference", "this cell"], rows, "narrow")


# --- small pieces --------------------------------------------------------------------------------


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
