"""The JSON report: the results.json document itself, pretty-printed.

Strict JSON: NaN and infinities become ``"nan"``/``"inf"``/``"-inf"``, the convention
``results.write_json_atomic`` uses, so this output equals the file it was read from. Built a
cell at a time (``RunResults.json_text``): never the whole document as objects.
"""

from __future__ import annotations

from driftmatrix.results import RunResults


def render(results: RunResults) -> str:
    """Render ``results`` as the results.json document, indented, ending with a newline.

    Args:
        results: A run, as read from results.json.

    Returns:
        The JSON text.
    """
    return "".join(results.json_text()) + "\n"
