""" "Did you mean" suggestions for misspelt names (keys, cell ids, formats)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggestion(word: str, choices: Iterable[str]) -> str:
    """Return ``"did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` to append to a message, or ``""``."""
    text = suggestion(word, choices)
    return f"; {text}" if text else ""


def near_miss(word: str, target: str) -> bool:
    """True when ``word`` is ``target`` with two letters swapped, one dropped or one added.

    Why not difflib: a package key close to ``python`` must be flagged when it is a typo
    (``pyhton``, ``pyton``) but not when it is a real project one letter away (``cython``).
    """
    if word == target or abs(len(word) - len(target)) > 1:
        return False
    if len(word) == len(target):
        differ = sum(a != b for a, b in zip(word, target, strict=True))
        return differ == 2 and sorted(word) == sorted(target)
    short, long = sorted((word, target), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
