"""A plain-text table, drawn exactly as ``tabulate(rows, headers, tablefmt="simple",
disable_numparse=True)`` draws it, without importing tabulate.

Every ``driftmatrix run`` prints a table, and importing tabulate costs ~25 ms (it asks
``importlib.metadata`` for its own version, which reads every installed distribution): a tenth
of an unchanged rerun. The tables here hold printable ASCII text, coloured with SGR escapes
(``\\x1b[32m``) on a terminal; for those, tabulate's rules are short: every cell stripped and
left-aligned, a column as wide as its widest cell and at least its header plus two, escapes
taking no width, columns two spaces apart, each line right-stripped. Anything else (other
characters, whose width tabulate measures with ``wcwidth``; line breaks; no rows) is handed to
tabulate itself. The unit tests compare both on generated tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: A Select Graphic Rendition escape (a colour or a reset): no width on a terminal.
_SGR = re.compile(r"\x1b\[[0-9;]*m")
#: Printable ASCII: one column per character.
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The table, without a trailing newline.

    Args:
        headers: One per column.
        rows: Rows of as many cells as there are headers.
    """
    texts = [*headers, *(cell for row in rows for cell in row)]
    simple = (
        bool(rows)
        and all(len(row) == len(headers) for row in rows)
        and all(_PRINTABLE.fullmatch(_SGR.sub("", text)) for text in texts)
    )
    if not simple:
        from tabulate import tabulate

        return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)
    columns = [[row[i].strip() for row in rows] for i in range(len(headers))]
    widths = [
        max(_width(header) + 2, *(_width(cell) for cell in column))
        for header, column in zip(headers, columns, strict=True)
    ]
    lines = [_line(headers, widths), _line(["-" * width for width in widths], widths)]
    lines.extend(_line(cells, widths) for cells in zip(*columns, strict=True))
    return "\n".join(lines)


def _width(text: str) -> int:
    return len(_SGR.sub("", text))


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = (
        cell + " " * (width - _width(cell)) for cell, width in zip(cells, widths, strict=True)
    )
    return "  ".join(padded).rstrip()
