"""Reports, each rendered from a :class:`~driftmatrix.results.RunResults` (results.json) alone.

``FORMATS`` is a plain mapping from the ``--format`` name to a render function; :func:`render`
picks from it. Only the terminal report can colour its output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from driftmatrix.errors import UsageError
from driftmatrix.report import html, junit, markdown, terminal
from driftmatrix.report import json as json_report
from driftmatrix.results import RunResults

#: ``--format`` name → render function.
FORMATS: Mapping[str, Callable[[RunResults], str]] = {
    "terminal": terminal.render,
    "md": markdown.render,
    "json": json_report.render,
    "junit": junit.render,
    "html": html.render,
}


def render(results: RunResults, fmt: str, *, color: bool = False) -> str:
    """Render ``results`` in format ``fmt``.

    Args:
        results: A run, as read from results.json.
        fmt: A key of :data:`FORMATS`.
        color: Colour the terminal report with ANSI escapes (ignored by the file formats).

    Returns:
        The report text, ending with a newline.

    Raises:
        UsageError: ``fmt`` is not a known format.
    """
    if fmt == "terminal":
        return terminal.render(results, color=color)
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise UsageError(
            f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}"
        ) from None
    return renderer(results)
