"""Reports, each rendered from a :class:`~driftmatrix.results.RunResults` (results.json) alone.

``FORMATS`` is a plain mapping from the ``--format`` name to a render function; :func:`render`
picks from it. Only the terminal report can colour its output.

Each format's module is imported when that format is first rendered, not with this package:
``driftmatrix run`` re-draws no unchanged HTML page, ``report --format md`` needs no table
library, and every module importing a report helper (``report._common``) would otherwise pay
for all of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from driftmatrix.errors import UsageError

if TYPE_CHECKING:
    from driftmatrix.results import RunResults

#: ``--format`` name → the module of this package that renders it.
_MODULES = {
    "terminal": "terminal",
    "md": "markdown",
    "json": "json",
    "junit": "junit",
    "html": "html",
}


def _renderer(module: str) -> Callable[[RunResults], str]:
    """``module``'s ``render``, imported on the first call."""

    def render(results: RunResults) -> str:
        draw: Callable[[RunResults], str] = importlib.import_module(f"{__name__}.{module}").render
        return draw(results)

    return render


#: ``--format`` name → render function.
FORMATS: Mapping[str, Callable[[RunResults], str]] = {
    name: _renderer(module) for name, module in _MODULES.items()
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
        from driftmatrix.report import terminal

        return terminal.render(results, color=color)
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise UsageError(
            f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}"
        ) from None
    return renderer(results)
