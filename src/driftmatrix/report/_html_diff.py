"""What differs from the reference, as HTML: labels, scores, methods, pipeline steps, the skops
audit and the bad-input contract of one cell's comparison (results.json's ``comparison``).

Part of a cell's details (report/_html_cell.py). Each function returns HTML blocks, empty when
there is nothing to say; every value from the run is escaped by report/_html_parts.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from driftmatrix.report import _common as common
from driftmatrix.report._html_parts import code, esc, folded, paragraph, table, tag, value
from driftmatrix.results import CellResult

#: Flipped or out-of-tolerance rows listed per method (a comparison keeps at most 50).
MAX_ROWS = 50


def labels(comparison: Mapping[str, Any]) -> list[str]:
    primary = _mapping(comparison.get("labels"))
    out = []
    for diff in [primary, *map(_mapping, _list(primary.get("others")))] if primary else []:
        method, flipped = code(diff.get("method")), int(diff.get("flipped") or 0)
        mismatch = _mapping(diff.get("shape_mismatch"))
        if mismatch:
            out.append(
                paragraph("Labels", f"{method}: the output shape changed {_shape(mismatch)}.")
            )
            continue
        if not flipped:
            out.append(
                paragraph(
                    "Labels",
                    f"{method}: all {esc(diff.get('total'))} rows match the reference exactly.",
                )
            )
            continue
        out.append(
            paragraph("Labels", f"{method}: {flipped} of {esc(diff.get('total'))} rows flipped.")
        )
        rows = [_mapping(r) for r in _list(diff.get("rows"))][:MAX_ROWS]
        listed = [[*_row_id(r), value(r.get("reference")), value(r.get("cell"))] for r in rows]
        more = f" (the first {len(rows)})" if len(rows) < flipped else ""
        tags = Counter(str(r.get("tag") or "no tag") for r in rows)
        if len(rows) == flipped and any(t != "no tag" for t in tags):
            # Which kinds of golden rows flip: boundary cases only, or the extremes too.
            by_tag = ", ".join(f"{esc(t)} {n}" for t, n in tags.most_common())
            out.append(f"<p>Flipped rows by tag: {by_tag}.</p>")
        out.append(
            folded(f"Flipped rows{more}", table(["row", "tag", "reference", "this cell"], listed))
        )
        moved = [
            [code(k), esc(_mapping(v).get("reference")), esc(_mapping(v).get("cell"))]
            for k, v in _mapping(diff.get("per_class")).items()
            if _mapping(v).get("reference") != _mapping(v).get("cell")
        ]
        if moved:
            headers = ["class", "rows in reference", "rows in this cell"]
            out.append("<p>Predicted class counts that changed:</p>")
            out.append(table(headers, moved, "narrow"))
    return out


def scores(comparison: Mapping[str, Any]) -> list[str]:
    scores = _mapping(comparison.get("scores"))
    if not scores:
        return []
    if scores.get("identical"):
        return [paragraph("Scores", "bit-identical to the reference.")]
    summary = (
        f"{esc(scores.get('beyond', 0))} of {esc(scores.get('total', 0))} rows beyond "
        f"tolerance; max abs diff {esc(common.number(scores.get('max_abs')))}, max rel diff "
        f"{esc(common.number(scores.get('max_rel')))}."
    )
    methods = {str(k): _mapping(v) for k, v in _mapping(scores.get("methods")).items()}
    rows = [
        [
            code(name),
            _shape(_mapping(m.get("shape_mismatch")))
            if m.get("shape_mismatch")
            else f"{esc(m.get('beyond'))} of {esc(m.get('total'))}",
            esc(common.number(m.get("max_abs"))),
            esc(common.number(m.get("max_rel"))),
            "yes" if m.get("identical") else "no",
        ]
        for name, m in methods.items()
    ]
    headers = ["method", "rows beyond tolerance", "max abs diff", "max rel diff", "bit-identical"]
    out = [paragraph("Scores", summary), table(headers, rows, "narrow")]
    for name, m in methods.items():
        beyond = [_mapping(r) for r in _list(m.get("rows"))]
        if beyond and not m.get("shape_mismatch"):
            listed = [
                [
                    *_row_id(r),
                    value(r.get("reference")),
                    value(r.get("cell")),
                    esc(common.number(r.get("abs"))),
                ]
                for r in beyond
            ]
            headers = ["row", "tag", "reference", "this cell", "abs diff"]
            out.append(
                folded(
                    f"Rows of {name} beyond tolerance (the first {len(beyond)})",
                    table(headers, listed),
                )
            )
    return out


def methods(comparison: Mapping[str, Any]) -> list[str]:
    methods = _mapping(comparison.get("methods"))
    items = [
        f"<li>{code(m)} is missing: the reference has it; callers here get an AttributeError</li>"
        for m in _list(methods.get("missing"))
    ]
    items += [f"<li>{code(m)} exists only in this cell</li>" for m in _list(methods.get("extra"))]
    return [paragraph("Prediction methods", "") + tag("ul", "".join(items))] if items else []


def skew_and_audit(comparison: Mapping[str, Any]) -> list[str]:
    out = []
    skew = _mapping(comparison.get("skew"))
    if skew.get("first_difference"):
        out.append(
            paragraph("Pipeline steps (where the difference starts)", esc(skew.get("summary")))
        )
    audit = _mapping(comparison.get("audit"))
    added, removed = _list(audit.get("added")), _list(audit.get("removed"))
    parts = [f"now also reports {', '.join(map(code, added))}"] if added else []
    parts += [f"no longer reports {', '.join(map(code, removed))}"] if removed else []
    if parts:
        out.append(paragraph("skops audit differs from the reference's", "; ".join(parts) + "."))
    return out


def contract(cell: CellResult, comparison: Mapping[str, Any]) -> list[str]:
    contract = _mapping(comparison.get("contract"))
    changed = [_mapping(c) for c in _list(contract.get("changed"))]
    out = []
    if changed:
        fed = _mapping(_mapping(cell.probes.get("contract")).get("cases"))
        rows = [
            [
                code(c.get("case")),
                esc(_mapping(fed.get(str(c.get("case")))).get("change") or "—"),
                code(c.get("reference")),
                code(c.get("cell")),
            ]
            for c in changed
        ]
        title = f"{len(changed)} of {len(_list(contract.get('compared')))} cases behave differently"
        out.append(paragraph("Bad inputs", esc(title)))
        out.append(table(["case", "input", "reference", "this cell"], rows))
    if contract.get("crashed"):
        crashed = code(contract["crashed"])
        out.append(f"<p>The process died during the bad-input case {crashed} (a crash).</p>")
    return out


def _row_id(row: Mapping[str, Any]) -> list[str]:
    return [code(row.get("row")), esc(row.get("tag") or "—")]


def _shape(mismatch: Mapping[str, Any]) -> str:
    return f"from {code(mismatch.get('reference'))} to {code(mismatch.get('cell'))}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
