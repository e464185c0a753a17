"""The JSON report: the results.json document itself, pretty-printed.

Strict JSON: NaN and infinities become ``"nan"``/``"inf"``/``"-inf"``, the convention
``results.write_json_atomic`` uses, so this output equals the file it was read from.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from driftmatrix.results import RunResults


def render(results: RunResults) -> str:
    """Render ``results`` as the results.json document, indented, ending with a newline.

    Args:
        results: A run, as read from results.json.

    Returns:
        The JSON text.
    """
    return json.dumps(_strict(results.to_json()), indent=2, allow_nan=False) + "\n"


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    return value
