"""uv, which installs every cell's packages: running it and reading its errors.

Both backends install pins with uv (the venv backend into a virtual environment, the Docker
backend into an image's site directory) and must judge its failures alike: pins that cannot be
installed are the cell's :class:`BuildError`, an index that cannot be reached is the host's
:class:`InfraError`.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from collections.abc import Sequence

from driftmatrix.backends.commands import run_captured
from driftmatrix.errors import BuildError, InfraError

#: uv must never download a Python: only the package index is reachable where driftmatrix runs,
#: and a silently downloaded interpreter would not be the one the user asked to test.
UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_DECORATION = re.compile(r"^[\s×│├╰─▶]*")
_PREFIX = re.compile(r"^(error|cause|hint|warning):\s*", re.IGNORECASE)
_NETWORK = re.compile(
    r"error sending request|tcp connect error|dns error|Connection refused|operation timed out"
)


def run_uv(uv: str, args: Sequence[str], *, timeout: float, context: str) -> str:
    """Run ``uv args...`` and return its stdout.

    Args:
        uv: The uv binary (:func:`~driftmatrix.backends.interpreters.find_uv`).
        args: uv's arguments, subcommand first (``["pip", "install", ...]``).
        timeout: Seconds uv may take.
        context: What a BuildError names first, e.g. ``"Python 3.10.13"``.

    Raises:
        BuildError: uv failed: ``"<context>: <summary>"`` (:func:`summarize_uv_error`).
        InfraError: uv cannot start or does not finish within ``timeout``, or the package index
            is unreachable.
    """
    try:
        result = run_captured([uv, *args], timeout=timeout, env={**os.environ, **UV_ENV})
    except subprocess.TimeoutExpired as exc:
        # The words before the first option name the step that hung, e.g. "pip install".
        subcommand = " ".join(itertools.takewhile(lambda arg: not arg.startswith("-"), args))
        raise InfraError(f"uv {subcommand} did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise InfraError(f"could not run uv: {exc}") from exc
    if result.returncode == 0:
        return result.stdout
    output = result.stderr + "\n" + result.stdout
    summary = summarize_uv_error(output)
    if _NETWORK.search(output):
        raise InfraError(f"the package index is unreachable: {summary}")
    raise BuildError(f"{context}: {summary}")


def summarize_uv_error(output: str) -> str:
    """Reduce uv's error report to the informative sentence(s), on one line.

    uv explains resolver failures as "Because ... we can conclude ..."; that is what a user
    needs. Other failures become "<error>: <last cause>". Decorations (colours, box drawing,
    wrapping, ``error:``/``cause:`` prefixes) are removed.
    """
    text = _ANSI.sub("", output)
    blocks: list[tuple[str, list[str]]] = []  # (kind, wrapped lines)
    fresh = True
    for raw in text.splitlines():
        decoration = _DECORATION.match(raw)
        mark = decoration.group().strip() if decoration else ""
        line = raw[decoration.end() if decoration else 0 :].strip()
        if not line:
            fresh = True
            continue
        prefix = _PREFIX.match(line)
        if fresh or mark or prefix or line.startswith("Because"):
            # Plain reports say "error:"/"cause:"; terminal reports draw "×" and "╰─▶" instead.
            kind = prefix.group(1).lower() if prefix else {"×": "error"}.get(mark, "cause")
            blocks.append((kind if prefix or mark else "", []))
            fresh = False
        blocks[-1][1].append(line[prefix.end() :] if prefix else line)
    joined = [(kind, " ".join(lines)) for kind, lines in blocks]
    because = [t for _, t in joined if t.lower().startswith(("because", "and because"))]
    errors = [t for kind, t in joined if kind == "error"]
    causes = [t for kind, t in joined if kind == "cause"]
    if because:
        summary = " ".join(because)
    elif errors:
        summary = errors[0].rstrip(":") + (f": {causes[-1]}" if causes else "")
    else:
        summary = joined[-1][1] if joined else "uv failed without a message"
    for pattern, plain in _PLAIN:
        summary = pattern.sub(plain, summary)
    if "building from source is disabled" in " ".join(text.split()):
        summary += " (driftmatrix installs wheels only; it never builds from source)"
    return summary[:600]


_CONCLUSION = r", we can conclude that your requirements are unsatisfiable\."
#: uv's two most common verdicts, said in the words a user reading a report needs.
_PLAIN = (
    (
        re.compile(r"Because there is no version of (\S+) and you require \1" + _CONCLUSION),
        r"\1 does not exist on the package index.",
    ),
    (
        re.compile(r"Because (\S+) has no usable wheels and you require \1" + _CONCLUSION),
        r"\1 has no wheel for this Python and platform.",
    ),
)
