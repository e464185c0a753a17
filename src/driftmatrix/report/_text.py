"""How wide a text will be in the plots, estimated without a font file, and fitting text to room.

The plots are written as SVG by hand (no plotting library), so nothing measures text: labels
are placed from an estimate. The estimate uses DejaVu Sans's advance widths, the widest of the
fonts the page asks for and the one Linux browsers fall back to; Helvetica, Arial, Segoe UI and
Liberation Sans are narrower, so a label that fits by this estimate fits on screen. Bold is
counted wider by the largest usual ratio of DejaVu Sans Bold to Book.
"""

from __future__ import annotations

import unicodedata

# DejaVu Sans Book advance widths in thousandths of an em, for " " (32) to "~" (126).
_ASCII = (
    (318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337),
    (636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531),
    (1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787),
    (603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500),
    (500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612),
    (635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838),
)
_WIDTHS = {chr(32 + i): w for i, w in enumerate(w for row in _ASCII for w in row)}
# The plots' own symbols: a label's separator, the ellipsis, superscript tick exponents.
_WIDTHS.update({"·": 318, "…": 1000, "⁻": 528, "−": 838, "×": 838, "★": 896})
_WIDTHS.update({c: 401 for c in "⁰¹²³⁴⁵⁶⁷⁸⁹"})
_OTHER = 840  # any other character: as wide as DejaVu's arrows and maths signs
_WIDE = 1000  # East Asian wide and full-width characters
_BOLD = 1.13
ELLIPSIS = "…"


def width(text: str, size: float, *, bold: bool = False) -> float:
    """The estimated width of ``text`` in pixels at font size ``size`` (pixels)."""
    total = sum(_char(c) for c in text)
    return total * size / 1000 * (_BOLD if bold else 1.0)


def fit(text: str, room: float, size: float, *, bold: bool = False) -> str:
    """``text``, or its longest start that fits in ``room`` pixels followed by an ellipsis."""
    if width(text, size, bold=bold) <= room + 1e-6:  # a room measured from this very text
        return text
    scale = size / 1000 * (_BOLD if bold else 1.0)
    budget = room / scale - _char(ELLIPSIS)
    used = 0.0
    for end, char in enumerate(text):
        used += _char(char)
        if used > budget:
            return text[:end].rstrip() + ELLIPSIS
    return text  # unreachable: the whole text was wider than the room


def wrap(text: str, room: float, size: float, *, lines: int = 2, bold: bool = False) -> list[str]:
    """``text`` broken after its `` · `` separators into at most ``lines`` lines that fit in
    ``room`` pixels; what does not fit is cut with an ellipsis (at least one line)."""
    parts = text.split(" · ")
    out: list[str] = []
    for index, part in enumerate(parts):
        joined = f"{out[-1]} · {part}" if out else part
        if out and width(joined, size, bold=bold) <= room:
            out[-1] = joined
        elif len(out) < lines:
            out.append(part)
        else:
            out[-1] = " · ".join([out[-1], *parts[index:]])
            break
    return [fit(line, room, size, bold=bold) for line in out] or [""]


def _char(char: str) -> float:
    known = _WIDTHS.get(char)
    if known is not None:
        return known
    if unicodedata.combining(char):
        return 0
    return _WIDE if unicodedata.east_asian_width(char) in ("W", "F") else _OTHER
