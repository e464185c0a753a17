"""SVG elements for the HTML report's plots, written as text: no plotting library.

The plots are a few kinds of simple marks (bars, lines, dots, text), so they are written
directly: a page renders in milliseconds, and nothing but the standard library is imported.

Every element is a string built here, so the three rules hold in one place:

* **Escaped**: every text (cell ids, labels, notes come from user files) goes through
  :func:`~driftmatrix.report._html_parts.esc`, in element content and in attribute values.
* **Deterministic**: numbers are written with an explicit format (:func:`num`: one decimal,
  no ``-0``), never with a float's ``repr``; no element has an id, so nothing depends on what
  else was rendered before or on the same page.
* **Self-contained and accessible**: no ``xmlns`` or any other URL, no script, no style sheet;
  each ``<svg>`` has ``role="img"``, an ``aria-label``, a ``<title>`` and a ``<desc>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftmatrix.report import _palette as palette
from driftmatrix.report._html_parts import esc

#: The page's font stack (report/_html_style.py): the plots read like the text around them.
FONT = "system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', Roboto, Helvetica, Arial, sans-serif"
#: Font sizes in pixels: tick labels and notes, row labels, panel titles.
SMALL, NORMAL, TITLE = 11.0, 12.0, 13.0


@dataclass(frozen=True)
class Plot:
    """One figure of the report: its title, the SVG (None when there is nothing to draw) and a
    caption saying how to read it, or why nothing was drawn."""

    title: str
    svg: str | None
    caption: str


def num(value: float) -> str:
    """A coordinate as SVG text: one decimal at most (``12``, ``12.5``), never ``-0``."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def document(width: float, height: float, title: str, description: str, body: list[str]) -> str:
    """The ``<svg>`` element to inline in HTML, titled and described for screen readers."""
    return (
        f'<svg role="img" aria-label="{esc(title)}" width="{num(width)}" height="{num(height)}"'
        f' viewBox="0 0 {num(width)} {num(height)}" font-family="{esc(FONT)}"'
        f' font-size="{num(NORMAL)}" fill="{palette.INK}">'
        f"<title>{esc(title)}</title><desc>{esc(description)}</desc>" + "".join(body) + "</svg>"
    )


def rect(x: float, y: float, width: float, height: float, fill: str) -> str:
    """A filled rectangle (``fill`` is one of the palette's colours)."""
    return (
        f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(width, 0.0))}"'
        f' height="{num(max(height, 0.0))}" fill="{fill}"/>'
    )


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    stroke: str,
    width: float = 1.0,
    *,
    dashed: bool = False,
) -> str:
    """A straight line, solid or dashed."""
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (
        f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" stroke="{stroke}"'
        f' stroke-width="{num(width)}"{dash}/>'
    )


def circle(x: float, y: float, radius: float, fill: str) -> str:
    """A filled dot."""
    return f'<circle cx="{num(x)}" cy="{num(y)}" r="{num(radius)}" fill="{fill}"/>'


def text(
    x: float,
    y: float,
    content: str,
    *,
    size: float = NORMAL,
    anchor: str = "start",
    colour: str = palette.INK,
    bold: bool = False,
    vertical: bool = False,
    halo: bool = False,
    tooltip: str | None = None,
) -> str:
    """A line of text whose vertical middle is at ``y``; escaped, with an optional tooltip.

    Args:
        x: Where the text starts, ends or is centred (``anchor``: start, end, middle).
        y: The text's vertical middle.
        content: The text (from the run: it is escaped here).
        size: Font size in pixels.
        anchor: ``start``, ``middle`` or ``end``.
        colour: Fill colour.
        bold: Bold type.
        vertical: Rotated to read upwards, centred on (x, y) (a y axis' label).
        halo: Outlined in white, so that it stays readable over the lines it crosses.
        tooltip: Shown on hover (e.g. the whole of a shortened label), as an SVG ``<title>``.
    """
    attrs = f'x="{num(x)}" y="{num(y)}" dy="0.35em"'
    if size != NORMAL:
        attrs += f' font-size="{num(size)}"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if colour != palette.INK:
        attrs += f' fill="{colour}"'
    if bold:
        attrs += ' font-weight="bold"'
    if halo:
        attrs += ' stroke="#ffffff" stroke-width="4" stroke-linejoin="round" paint-order="stroke"'
    if vertical:
        attrs += f' transform="rotate(-90 {num(x)} {num(y)})"'
    element = f"<text {attrs}>{esc(content)}</text>"
    return f"<g><title>{esc(tooltip)}</title>{element}</g>" if tooltip else element


def group(title: str, body: list[str]) -> str:
    """Elements together under one tooltip (a bar and its value: the cell they belong to)."""
    return f"<g><title>{esc(title)}</title>{''.join(body)}</g>"
