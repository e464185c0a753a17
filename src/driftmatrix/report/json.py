"""The JSON report: the results.json document itself, pretty-printed.

Strict JSON: NaN and infinities become ``"nan"``/``"inf"``/``"-inf"``, the convention
``results.write_json_atomic`` uses, so this output equals the file it was read from.
"""

from __future__ import annotations

import json

from driftmatrix.results import RunResults, strict_json


def render(results: RunResults) -> str:
    """Render ``results`` as the results.json document, indented, ending with a newline.

    Args:
        results: A run, as read from results.json.

    Returns:
        The JSON text.
    """
    return json.dumps(strict_json(results.to_json()), indent=2, allow_nan=False) + "\n"
