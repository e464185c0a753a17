"""Exceptions as data: the ``error`` object of the result file.

Whatever the artifact, the golden set or a library raises becomes
``{"type", "message", "traceback"}`` (plus ``module`` and ``builtin`` for exceptions that are not
built in). Formatting must itself never raise: it runs right after a ``MemoryError`` or inside a
half-torn-down interpreter, so every step has a fallback.
"""

from __future__ import annotations

import re
import traceback

#: Longest ``message``; the protocol promises one line of at most this many characters.
MESSAGE_LIMIT = 500
#: Most lines kept from a traceback (the innermost ones: that is where the cause is).
TRACEBACK_LINES = 20
#: Longest line kept inside a traceback (a repr of a huge array must not bloat result.json).
TRACEBACK_LINE_LIMIT = 500
_MARKERS = re.compile(r"\s*[~^]+\s*\Z")


def error_info(exc: BaseException) -> dict:
    """Describe an exception as the protocol's ``error`` object.

    Args:
        exc: The exception, with its ``__traceback__`` still attached.

    Returns:
        ``{"type", "message", "traceback"}``; for an exception class that is not built in, also
        ``module`` (where the class lives) and ``builtin`` (its nearest built-in base class,
        e.g. ``MemoryError`` for numpy's ``_ArrayMemoryError``) so the host can classify it
        without knowing every library's exception classes.
    """
    cls = type(exc)
    info = {
        "type": _safe_str(lambda: cls.__name__, "BaseException"),
        "message": one_line(_message(exc)),
        "traceback": _traceback(exc),
    }
    module = getattr(cls, "__module__", "builtins")
    if module != "builtins":
        info["module"] = _safe_str(lambda: str(module), "?")
        info["builtin"] = _builtin_base(cls)
    return info


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Return ``text`` folded onto one line (whitespace runs collapsed), at most ``limit`` long.

    Why fold rather than keep the first line: some messages put the facts on later lines
    (scikit-learn's "node array from the pickle has an incompatible dtype:" names the expected
    and actual dtypes below it), and a first line ending in a colon tells a reader nothing.
    """
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


#: Exceptions that often carry no message at all, and what they mean when they do not.
_SILENT = {
    "EOFError": "the data ended early (the file is truncated or empty)",
    "MemoryError": "out of memory",
    "KeyboardInterrupt": "interrupted",
}


def _message(exc: BaseException) -> str:
    text = _raw_message(exc)
    if text.strip():
        return text
    for cls in type(exc).__mro__:
        if cls.__name__ in _SILENT:
            return _SILENT[cls.__name__]
    return ""


def _raw_message(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        # str(SystemExit(3)) is "3", which reads like a count; say what happened instead.
        code = exc.code
        return code if isinstance(code, str) else "sys.exit({!r}) was called".format(code)
    return _safe_str(lambda: str(exc), "<unprintable {}>".format(type(exc).__name__))


def _traceback(exc: BaseException) -> str:
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        lines = [
            line if len(line) <= TRACEBACK_LINE_LIMIT else line[: TRACEBACK_LINE_LIMIT - 3] + "..."
            for line in text.splitlines()
            # Python>=3.11 underlines the failing expression with ^~~ lines: no information the
            # line above lacks, and they would use up half of the 20 lines.
            if not _MARKERS.match(line)
        ]
        if len(lines) > TRACEBACK_LINES:
            kept = lines[-(TRACEBACK_LINES - 1) :]
            omitted = len(lines) - len(kept)
            lines = ["... ({} earlier traceback lines omitted)".format(omitted), *kept]
        return "\n".join(lines)
    except Exception:
        # Typically a second MemoryError: the type and message are still worth reporting.
        return ""


def _builtin_base(cls: type) -> str:
    for base in getattr(cls, "__mro__", ()):
        if getattr(base, "__module__", None) == "builtins":
            return _safe_str(lambda base=base: base.__name__, "BaseException")
    return "BaseException"


def _safe_str(produce, fallback: str) -> str:
    try:
        return str(produce())
    except Exception:
        return fallback
