"""The Markdown report, written to paste into a pull request that bumps dependencies.

Order: the outcome in one line and a small table of verdict counts with their meaning; the
table of cells; then one collapsed ``<details>`` block per cell (within GitHub's comment size:
report/_fit.py) with what a reviewer needs
(error, warnings, flags, flipped rows by id and tag, score differences, packages that changed).
Text from the run (exception messages, model outputs, tags) goes through :func:`_code` or
:func:`_text`, so it can neither break a table nor inject HTML.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from driftmatrix.errors import EXIT_FINDING, EXIT_OK
from driftmatrix.outcome import Flag
from driftmatrix.packages import diff_packages
from driftmatrix.report import _common as common
from driftmatrix.report import _fit
from driftmatrix.report import _resources as resources
from driftmatrix.report._md import code as _code
from driftmatrix.report._md import table as _table
from driftmatrix.report._md import text as _text
from driftmatrix.results import CellResult, RunResults

#: Flipped rows listed per cell (the count is always exact).
MAX_ROWS = 20
_ICON = {EXIT_OK: "✅", EXIT_FINDING: "❌"}


def render(results: RunResults, limit: int = _fit.GITHUB_LIMIT) -> str:
    """Render ``results`` as GitHub-flavoured Markdown, at most ``limit`` characters.

    Args:
        results: A run, as read from results.json.
        limit: The size it must fit (a GitHub comment by default; see report/_fit.py for what
            is left out first).

    Returns:
        The report, ending with a newline.
    """
    code, outcome = common.outcome_line(results)
    name = str(results.matrix.get("name") or "matrix")
    out = [f"## driftmatrix: {_text(name)}", "", f"**{_ICON.get(code, '⚠️')} {outcome}**", ""]
    problem = common.reference_problem(results)
    if problem:
        out += [f"> **{_text(problem)}**", ""]
    counts = [
        [f"`{v.value}`", str(n), common.VERDICT_MEANING[v]] for v, n in common.counts(results)
    ]
    out += [
        f"{common.summary_line(results)}.",
        "",
        *_table(["verdict", "cells", "meaning"], counts),
    ]
    out += ["", _context(results), ""]
    out += _coverage(results)
    pins = common.pinned_packages(results)
    headers = ["cell", "verdict", "flags", *pins, "flipped", "max score diff", "p50 ms", "peak MiB"]
    headers.append("seconds")
    rows = [(cell, _cell_row(cell, results.reference, pins)) for cell in results.cells]
    details = [_details(cell, results) for cell in results.cells]
    lines = _fit.assemble(out, headers, rows, details, results.reference, _table, limit)
    return "\n".join(lines).rstrip("\n") + "\n"


def _context(results: RunResults) -> str:
    artifact = results.artifact
    if artifact.get("mode") == "train":
        text = f"Model: trained in each cell by `{artifact.get('recipe')}`."
    else:
        text = f"Model: `{artifact.get('path')}`"
        text += (f" ({artifact['format']})" if artifact.get("format") else "") + "."
    if artifact.get("golden"):
        text += f" Golden set: `{artifact['golden']}`."
    tolerance = common.tolerance_text(results)
    rule = f": labels must match exactly, scores within {tolerance}" if tolerance else ""
    return text + f" Every cell is compared with the reference cell `{results.reference}`{rule}."


def _cell_row(cell: CellResult, reference: str, pins: list[str]) -> list[str]:
    return [
        f"`{cell.id}`" + (" (reference)" if cell.id == reference else ""),
        f"**{cell.verdict.value}**",
        ", ".join(f"`{flag.value}`" for flag in cell.flags) or "—",
        *(_text(common.version(cell, pin)) for pin in pins),
        _dash(common.flipped(cell)),
        _dash(common.max_abs(cell)),
        _dash(resources.latency_cell(cell, reference)),
        _dash(resources.memory_cell(cell, reference)),
        common.seconds(cell),
    ]


def _details(cell: CellResult, results: RunResults) -> list[str]:
    is_reference = cell.id == results.reference
    # <summary> is HTML: Markdown is not rendered there, so escape for HTML only.
    summary = f"<code>{html.escape(cell.id)}</code> — <b>{cell.verdict.value}</b>"
    summary += " (reference)" if is_reference else ""
    reason = common.reason(cell)
    if reason:
        short = reason if len(reason) <= 120 else reason[:119] + "…"
        summary += ": " + html.escape(short, quote=False)
    body = [f"*{common.VERDICT_MEANING[cell.verdict].capitalize()}.*"]
    if is_reference:
        body.append("This is the reference cell: every other cell is compared with it.")
    if cell.error is not None:
        message = f": {_text(cell.error.message)}" if cell.error.message else ""
        body.append(f"**Error:** {_code(cell.error.type)}{message}")
    comparison = cell.comparison or {}
    body += _warnings(cell) + _flags(cell) + _labels(comparison) + _scores(comparison, results)
    body += _methods(comparison) + _skew(comparison) + _audit(comparison)
    body += _contract(cell, comparison)
    body += resources.markdown_details(cell, results.reference, _text)
    reference = results.reference_result
    if not is_reference and reference is not None and reference.installed and cell.installed:
        body += _packages(reference, cell)
    return ["<details>", f"<summary>{summary}</summary>", "", *_paragraphs(body), "</details>", ""]


def _warnings(cell: CellResult) -> list[str]:
    out = []
    for probe, title in (
        ("load", "Warnings while loading"),
        ("predict", "Warnings while predicting"),
    ):
        warnings = _list(_mapping(cell.probes.get(probe)).get("warnings"))
        if warnings:
            out.append(f"**{title}:**\n\n" + "\n".join(_warning(_mapping(w)) for w in warnings))
    return out


def _warning(warning: Mapping[str, Any]) -> str:
    category = f"`{_plain(warning.get('category') or 'Warning')}`"
    count = warning.get("count")
    times = f" (×{count})" if isinstance(count, int) and count > 1 else ""
    original = warning.get("original_sklearn_version")
    if original:
        current = warning.get("current_sklearn_version")
        now = f" and loaded with {_code(str(current))}" if current else ""
        estimator = warning.get("estimator_name")
        what = f"{_code(str(estimator))} was" if estimator else "the model was"
        return f"- {category}{times}: {what} saved with scikit-learn {_code(str(original))}{now}."
    module = f" in {_code(str(warning['module']))}" if warning.get("module") else ""
    return f"- {category}{module}{times}: {_text(str(warning.get('message') or ''))}"


def _flags(cell: CellResult) -> list[str]:
    if not cell.flags:
        return []
    lines = []
    for flag in cell.flags:
        line = f"- `{flag.value}`: {common.FLAG_MEANING[flag]}"
        if flag is Flag.LIMITS_NOT_ENFORCED:
            enforced = _mapping(cell.limits.get("enforced"))
            off = [k for k, how in enforced.items() if how is None and cell.limits.get(k)]
            line += f" ({', '.join(off)})" if off else ""
        if flag is Flag.ROUNDTRIP_DIFFERS:
            methods = _list(_mapping(cell.probes.get("roundtrip")).get("differs"))
            line += f" ({', '.join(_plain(m) for m in methods)})" if methods else ""
        lines.append(line)
    return ["**Flags:**\n\n" + "\n".join(lines)]


def _labels(comparison: Mapping[str, Any]) -> list[str]:
    primary = _mapping(comparison.get("labels"))
    diffs = [primary, *map(_mapping, _list(primary.get("others")))] if primary else []
    out = []
    for diff in diffs:
        method, flipped, total = (
            diff.get("method"),
            int(diff.get("flipped") or 0),
            diff.get("total"),
        )
        mismatch = _mapping(diff.get("shape_mismatch"))
        if mismatch:
            out.append(f"**Labels** (`{method}`): the output shape changed {_shape(mismatch)}.")
        elif flipped:
            out.append(f"**Labels** (`{method}`): {flipped} of {total} rows flipped.")
        else:
            out.append(f"**Labels** (`{method}`): all {total} rows match the reference exactly.")
            continue
        rows = [_mapping(r) for r in _list(diff.get("rows"))][:MAX_ROWS]
        first = f" (the first {len(rows)})" if len(rows) < flipped else ""
        table = [[*_row_id(r), _value(r.get("reference")), _value(r.get("cell"))] for r in rows]
        header = ["row", "tag", "reference", "this cell"]
        out.append(f"Flipped rows{first}:\n\n" + "\n".join(_table(header, table)))
        per_class = {k: _mapping(v) for k, v in _mapping(diff.get("per_class")).items()}
        moved = [
            [_code(k), str(v.get("reference")), str(v.get("cell"))]
            for k, v in per_class.items()
            if v.get("reference") != v.get("cell")
        ]
        if moved:
            header = ["class", "rows in reference", "rows in this cell"]
            out.append("Predicted class counts:\n\n" + "\n".join(_table(header, moved)))
    return out


def _scores(comparison: Mapping[str, Any], results: RunResults) -> list[str]:
    scores = _mapping(comparison.get("scores"))
    if not scores:
        return []
    if scores.get("identical"):
        return ["**Scores:** bit-identical to the reference."]
    tolerance = common.tolerance_text(results)
    within = f" ({tolerance})" if tolerance else ""
    beyond, total = scores.get("beyond", 0), scores.get("total", 0)
    out = [
        f"**Scores:** {beyond} of {total} rows beyond tolerance{within}; "
        f"max abs diff {common.number(scores.get('max_abs'))}, "
        f"max rel diff {common.number(scores.get('max_rel'))}."
    ]
    methods = {k: _mapping(v) for k, v in _mapping(scores.get("methods")).items()}
    table = [
        [
            f"`{name}`",
            _shape(_mapping(m.get("shape_mismatch")))
            if m.get("shape_mismatch")
            else f"{m.get('beyond')} of {m.get('total')}",
            common.number(m.get("max_abs")),
            common.number(m.get("max_rel")),
            "yes" if m.get("identical") else "no",
        ]
        for name, m in methods.items()
    ]
    header = ["method", "rows beyond tolerance", "max abs diff", "max rel diff", "bit-identical"]
    out.append("\n".join(_table(header, table)))
    for name, m in methods.items():
        rows = [_mapping(r) for r in _list(m.get("rows"))]
        if rows and not m.get("shape_mismatch"):
            table = [_beyond_row(r) for r in rows]
            header = ["row", "tag", "reference", "this cell", "abs diff"]
            title = f"Rows of `{name}` beyond tolerance (the first {len(rows)}):"
            out.append(title + "\n\n" + "\n".join(_table(header, table)))
    return out


def _methods(comparison: Mapping[str, Any]) -> list[str]:
    methods = _mapping(comparison.get("methods"))
    missing, extra = _list(methods.get("missing")), _list(methods.get("extra"))
    lines = [
        f"- `{_plain(m)}` is missing: the reference has it; callers here get an AttributeError"
        for m in missing
    ]
    lines += [f"- `{_plain(m)}` exists only in this cell" for m in extra]
    return ["**Prediction methods:**\n\n" + "\n".join(lines)] if lines else []


def _coverage(results: RunResults) -> list[str]:
    """The golden set's gaps, from the reference cell (a change on a missing row cannot show)."""
    gaps, leaves = common.coverage(results)
    if not gaps and leaves is None:
        return []
    lines = ["**Golden-set coverage:** " + (f"the golden set {leaves}." if leaves else "")]
    if gaps:
        lines[0] += " It misses:"
        lines += [""] + [f"- {_text(gap)}" for gap in gaps]
    return [*lines, ""]


def _audit(comparison: Mapping[str, Any]) -> list[str]:
    """skops' untrusted-type audit against the reference's: a reviewed list needs review again."""
    audit = _mapping(comparison.get("audit"))
    added, removed = _list(audit.get("added")), _list(audit.get("removed"))
    if not added and not removed:
        return []
    parts = [f"now also reports {', '.join(map(_code, added))}"] if added else []
    parts += [f"no longer reports {', '.join(map(_code, removed))}"] if removed else []
    return [
        "**skops audit** (`get_untrusted_types`) differs from the reference's: "
        + "; ".join(parts)
        + "."
    ]


def _skew(comparison: Mapping[str, Any]) -> list[str]:
    """Each pipeline step against the reference's, when the outputs differ somewhere."""
    skew = _mapping(comparison.get("skew"))
    if not skew.get("first_difference"):
        return []
    return [f"**Pipeline steps** (where the difference starts): {_text(str(skew['summary']))}."]


def _contract(cell: CellResult, comparison: Mapping[str, Any]) -> list[str]:
    contract = _mapping(comparison.get("contract"))
    changed = [_mapping(c) for c in _list(contract.get("changed"))]
    crashed = contract.get("crashed")
    out = []
    if changed:
        fed = _mapping(_mapping(cell.probes.get("contract")).get("cases"))
        rows = [
            [
                f"`{_plain(c.get('case'))}`",
                _text(str(_mapping(fed.get(str(c.get("case")))).get("change") or "")) or "—",
                _code(str(c.get("reference"))),
                _code(str(c.get("cell"))),
            ]
            for c in changed
        ]
        total = len(_list(contract.get("compared")))
        title = f"**Bad inputs:** {len(changed)} of {total} cases behave differently:"
        header = ["case", "input", "reference", "this cell"]
        out.append(title + "\n\n" + "\n".join(_table(header, rows)))
    if crashed:
        out.append(f"The process died during the bad-input case `{_plain(crashed)}` (a crash).")
    return out


def _packages(reference: CellResult, cell: CellResult) -> list[str]:
    diff = diff_packages(reference.installed, cell.installed)
    rows = [[f"`{n}`", _text(r), _text(c)] for n, r, c in diff.changed]
    rows += [[f"`{n}`", "—", _text(v)] for n, v in diff.added]
    rows += [[f"`{n}`", _text(v), "—"] for n, v in diff.removed]
    if not rows:
        return ["**Packages:** the same versions as the reference."]
    title = f"**Packages that differ from the reference** ({len(rows)}, dependencies included):"
    return [title + "\n\n" + "\n".join(_table(["package", "reference", "this cell"], rows))]


# --- Markdown building blocks -------------------------------------------------------------------


def _paragraphs(blocks: list[str]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        out += [block, ""]
    return out


def _row_id(row: Mapping[str, Any]) -> list[str]:
    return [_code(str(row.get("row"))), _text(str(row.get("tag") or "")) or "—"]


def _beyond_row(row: Mapping[str, Any]) -> list[str]:
    values = [_value(row.get("reference")), _value(row.get("cell")), common.number(row.get("abs"))]
    return _row_id(row) + values


def _value(value: Any) -> str:
    return _code(common.value_text(value))


def _shape(mismatch: Mapping[str, Any]) -> str:
    return f"from {_code(str(mismatch.get('reference')))} to {_code(str(mismatch.get('cell')))}"


def _dash(text: str) -> str:
    return "—" if text == "-" else text


def _plain(value: Any) -> str:
    """An identifier (method, category) inside backticks: drop what could end the code span."""
    return str(value).replace("`", "'").replace("|", "/")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
