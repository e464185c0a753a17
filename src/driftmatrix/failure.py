"""A failed cell's error, in words: the one-line :class:`~driftmatrix.results.ErrorInfo` texts.

verdict.py decides *which* failure explains a cell; this module says it: the failing probe's
exception (for ``imports`` and ``predict``, the first failing part by name), the signal or exit
code of a process that died inside a probe (an exit code 128+N with no signal is read as signal
N, the shell/Docker convention), what the probe runner reported, and the last line of stderr.
Every message is a single line of at most 500 characters, like the runner's own.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

from driftmatrix.backends.base import Execution
from driftmatrix.results import ErrorInfo

_MESSAGE_CHARS = 500  # the runner caps messages at 500 characters too


def probe_error(probe: str, record: Mapping[str, Any]) -> ErrorInfo:
    """The failing probe's exception; for imports and predict, the first failing part by name."""
    parts = _mapping(record.get("methods" if probe == "predict" else "modules"))
    failed = [
        (name, _mapping(p)) for name, p in parts.items() if _mapping(p).get("status") == "failed"
    ]
    if failed:
        name, part = failed[0]
        error = _mapping(part.get("error"))
        others = ", ".join(str(other) for other, _ in failed[1:])
        more = f" ({others} failed too)" if others else ""
        text = one_line(str(error.get("message") or ""))
        message = (f"{name}: {text}" if text else name) + more
        return ErrorInfo(str(error.get("type") or "Error"), one_line(message))
    error = _mapping(record.get("error"))
    return ErrorInfo(str(error.get("type") or "Error"), one_line(str(error.get("message", ""))))


def death(probe: str, execution: Execution | None) -> ErrorInfo:
    """A process that died inside ``probe``: by which signal or exit code."""
    number = _signal_number(execution)
    if number is not None:
        kind = f"Signal {_signal_name(number)}"
        how = f"the process was killed by {_signal_name(number)} (signal {number})"
    elif execution is not None and execution.exit_code is not None:
        kind, how = "ProcessExit", f"the process exited with code {execution.exit_code}"
    else:
        kind, how = "ProcessDied", "the process died"
    message = died_message(f"{how} while the {probe} probe was running", execution, exit_code=False)
    return ErrorInfo(kind, message)


def _signal_number(execution: Execution | None) -> int | None:
    if execution is None:
        return None
    if execution.signal is not None:
        return execution.signal
    code = execution.exit_code
    # 128+N is how a shell or `docker run --init` reports death by signal N.
    return code - 128 if code is not None and 128 < code <= 128 + 64 else None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def died_message(message: str, execution: Execution | None, *, exit_code: bool = True) -> str:
    """Add the exit code and the last line of stderr (it usually names the fatal error)."""
    if execution is not None:
        if exit_code and execution.exit_code is not None:
            message += f" (exit code {execution.exit_code})"
        lines = [line.strip() for line in execution.stderr_tail.splitlines() if line.strip()]
        if lines:
            message += f"; stderr: {lines[-1]}"
    return one_line(message)


def runner_error(error: Any) -> ErrorInfo:
    """The probe runner's own ``error`` (a ``{type, message}`` record or anything else)."""
    doc = _mapping(error)
    if doc:
        message = f"the probe runner failed: {doc.get('message', '')}"
        return ErrorInfo(str(doc.get("type") or "RunnerError"), one_line(message))
    return ErrorInfo("RunnerError", one_line(f"the probe runner failed: {error}"))


def error_of(error: BaseException | str, default_type: str) -> ErrorInfo:
    """A build or backend failure: the exception's type (else ``default_type``), all its lines."""
    # A resolver explains itself over several lines ("No solution found" / "Because numpy...");
    # keep all of them, joined, rather than only the headline.
    kind = type(error).__name__ if isinstance(error, BaseException) else default_type
    return ErrorInfo(kind, one_line(" ".join(str(error).split())))


def one_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped and capped at 500 characters."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return first if len(first) <= _MESSAGE_CHARS else first[: _MESSAGE_CHARS - 1] + "…"


def seconds(value: Any) -> str:
    """A timeout limit for a message: ``90 s`` (or the value as it is when not a number)."""
    try:
        return f"{float(value):g} s"
    except (TypeError, ValueError):
        return str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
