"""Markdown building blocks shared by the run report and the review comment.

Everything from a run (cell ids, messages, package names) is untrusted text: it is escaped here
so that it can neither break a table nor inject HTML into the rendered comment.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

#: Characters that Markdown would read as markup in prose.
_SPECIALS = "\\`*_[]|~#"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub Markdown table's lines (cells must already be escaped)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def code(text: str) -> str:
    """Inline code that is safe in a table cell: HTML-escaped, pipes encoded, on one line."""
    safe = html.escape(" ".join(text.split())).replace("|", "&#124;")
    return f"<code>{safe}</code>"


def text(value: str) -> str:
    """Prose from the run: HTML-escaped and Markdown specials backslash-escaped."""
    safe = html.escape(" ".join(value.split()), quote=False)
    return "".join("\\" + ch if ch in _SPECIALS else ch for ch in safe)
