"""Matplotlib figures as deterministic inline SVG for the HTML report.

matplotlib is imported here, lazily, and only when an HTML report is rendered: every other
command stays free of its import time. No pyplot and no GUI backend: a bare ``Figure`` is
rendered by matplotlib's SVG backend, so nothing global changes in the calling process.

The SVG must be the same bytes for the same results (a report in version control or a CI
artifact must not change when nothing changed): no date in the metadata (the metadata block is
dropped altogether), and element ids derived from a fixed salt (``svg.hashsalt``). The salt
differs per figure, because several SVGs share one HTML document and ids must be unique in it.
Text stays text (``svg.fonttype = none``): smaller, selectable, and drawn in the page's font.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftmatrix.report._html_parts import esc

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The report's look: small type, no box around plots, titles on the left.
_STYLE: dict[Any, Any] = {
    "svg.fonttype": "none",
    "font.size": 9.0,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.edgecolor": "#888888",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
}
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)


@contextmanager
def figure(width: float, height: float, salt: str) -> Iterator[Figure]:
    """A new figure in the report's style (sizes in inches); ``salt`` makes its ids unique."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({**_STYLE, "svg.hashsalt": f"driftmatrix-{salt}", "svg.id": salt}):
        yield Figure(figsize=(width, height), layout="constrained")


def plain(text: str) -> str:
    """Text from the run for a plot: a ``$`` stays a dollar sign (matplotlib would read TeX)."""
    return text.replace("$", r"\$")


def to_svg(fig: Figure, description: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML, described for screen readers.

    Call it inside :func:`figure`'s ``with`` block: the style and salt apply while rendering.
    """
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    # Inline SVG needs neither the XML declaration nor the DOCTYPE; the metadata names URLs.
    text = _METADATA.sub("", text[text.index("<svg") :])
    return text.replace("<svg ", f'<svg role="img" aria-label="{esc(description)}" ', 1)


@dataclass(frozen=True)
class Plot:
    """One figure of the report: its title, the SVG (None when there is nothing to draw) and a
    caption saying how to read it, or why nothing was drawn."""

    title: str
    svg: str | None
    caption: str
