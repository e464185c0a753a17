"""Warnings as data: capture every warning a probe raises and describe it for result.json."""

from __future__ import annotations

import contextlib
import warnings

from ._compat import sklearn_version_fields

#: Longest warning message kept (scikit-learn's version warning is about 400 characters).
MESSAGE_LIMIT = 2000


@contextlib.contextmanager
def capture():
    """Record every warning raised inside the block, ignoring filters set outside it.

    Yields:
        The list that ``warnings.catch_warnings(record=True)`` fills; it stays valid after the
        block, also when the block raised.
    """
    with warnings.catch_warnings(record=True) as caught:
        # "always": a warning the interpreter has already shown once (its registry remembers
        # it) must still be reported for this probe, and -W/PYTHONWARNINGS must not hide it.
        warnings.simplefilter("always")
        yield caught


def describe(caught) -> list:
    """Turn recorded warnings into the protocol's ``warnings`` list.

    Identical warnings (same category, module and message) are merged and counted: a model that
    warns once per tree would otherwise fill result.json with hundreds of copies.

    Args:
        caught: ``warnings.WarningMessage`` objects, in the order they were raised.

    Returns:
        ``[{"category", "module", "message", ...}]`` in first-seen order; ``count`` is added when a
        warning was raised more than once; scikit-learn's version warnings add
        ``original_sklearn_version`` and ``current_sklearn_version`` (and ``estimator_name``).
    """
    merged = {}
    for record in list(caught):
        try:
            info = _describe_one(record)
        except Exception:
            info = {"category": "Warning", "module": "builtins", "message": "<unprintable warning>"}
        key = (info["category"], info["module"], info["message"])
        if key in merged:
            merged[key]["count"] = merged[key].get("count", 1) + 1
        else:
            merged[key] = info
    return list(merged.values())


def _describe_one(record) -> dict:
    category = record.category
    try:
        text = str(record.message)
    except Exception:
        text = "<unprintable {}>".format(category.__name__)
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 3] + "..."
    info = {
        "category": category.__name__,
        "module": getattr(category, "__module__", "builtins"),
        "message": text,
    }
    info.update(sklearn_version_fields(record.message, category))
    return info
