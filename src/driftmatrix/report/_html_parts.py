"""HTML building blocks of the HTML report, each escaping what it is given.

Every string that comes from a run (cell ids, error messages, tags, versions, model outputs) is
untrusted: a model's exception message can say ``<script>``. The rule is simple and local:
functions here take *text* and return *HTML*; only :func:`table` and :func:`tag` take HTML
(built by the others), and nothing else in the report writes a run's text without :func:`esc`.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from driftmatrix.outcome import Flag, Verdict
from driftmatrix.report import _common as common


def esc(value: Any) -> str:
    """``value`` as text in HTML: ``&``, ``<``, ``>`` and both quotes escaped."""
    return html.escape(str(value), quote=True)


def code(value: Any) -> str:
    """``value`` as inline code."""
    return f"<code>{esc(value)}</code>"


def tag(name: str, body: str, cls: str = "") -> str:
    """``<name class="cls">body</name>``; ``body`` is HTML, ``cls`` a fixed class name."""
    attrs = f' class="{cls}"' if cls else ""
    return f"<{name}{attrs}>{body}</{name}>"


def verdict(value: Verdict) -> str:
    """A verdict as a coloured badge (its colours come from the page's CSS, ``v-<verdict>``)."""
    return f'<span class="badge v-{value.value}">{value.value}</span>'


def flags(values: Iterable[Flag]) -> str:
    """Flags as small labels, each explained on hover; ``—`` when there are none."""
    labels = [
        f'<span class="flag" title="{esc(common.FLAG_MEANING[flag])}">{flag.value}</span>'
        for flag in values
    ]
    return " ".join(labels) or "—"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    cls: str = "",
    *,
    columns: Sequence[str] = (),
    marked: Collection[int] = (),
    notes: Sequence[str] = (),
) -> str:
    """A table; ``headers`` are text, every row's cells are HTML.

    Args:
        headers: Column headings.
        rows: Rows of HTML cells.
        cls: The table's class.
        columns: A class per column (``""`` for none), e.g. ``num`` for numbers.
        marked: Indexes of rows to mark (class ``ref``: the reference cell's row).
        notes: HTML per row, shown under it across the table (empty: none).
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = []
    for index, row in enumerate(rows):
        cells = "".join(
            f'<td class="{columns[i]}">{c}</td>'
            if i < len(columns) and columns[i]
            else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        lines.append(f'<tr class="ref">{cells}</tr>' if index in marked else f"<tr>{cells}</tr>")
        if index < len(notes) and notes[index]:
            span = len(headers) - 1
            lines.append(f'<tr class="note"><td></td><td colspan="{span}">{notes[index]}</td></tr>')
    return tag("table", f"<thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody>", cls)


def value(output: Any, limit: int = 80) -> str:
    """A model output value (a label, a row of scores) as inline code on one line."""
    return code(common.value_text(output, limit))


def dash(text: str) -> str:
    """Text, escaped; ``—`` for the ``-`` every report uses for "nothing"."""
    return "—" if text in ("-", "") else esc(text)


def paragraph(title: str, body: str) -> str:
    """``<p><b>title:</b> body</p>``; ``title`` is text, ``body`` HTML."""
    return f"<p><b>{esc(title)}:</b> {body}</p>"


def anchor(index: int) -> str:
    """The id of a cell's details on the page (by position: cell ids are untrusted text)."""
    return f"cell-{index}"


def folded(title: str, body: str) -> str:
    """A collapsed block: ``title`` (text) opens ``body`` (HTML)."""
    return f'<details class="inner"><summary>{esc(title)}</summary>{body}</details>'
