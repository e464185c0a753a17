"""Host tools (uv, apt-get, debootstrap) run to completion, all started the same way.

A tool must never wait on our terminal, hang a build forever, or crash us with bytes its locale
printed: so it gets no stdin, a time limit, and output decoded with replacement.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from driftmatrix.errors import InfraError


def run_captured(
    command: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to completion with its output captured as text.

    Args:
        command: The tool and its arguments.
        timeout: Seconds it may take; it is killed after that.
        env: Its complete environment; ours when None.

    Returns:
        The finished process: the caller judges its exit status.

    Raises:
        subprocess.TimeoutExpired: it ran longer than ``timeout``.
        OSError: it could not be started.
    """
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def run_tool(
    command: Sequence[str], *, timeout: float, what: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """:func:`run_captured`, for a tool whose failure to start or to finish is the host's.

    Args:
        command: The tool and its arguments.
        timeout: Seconds it may take.
        what: Names the tool in the error, e.g. ``"debootstrap"``.
        env: Its complete environment; ours when None.

    Raises:
        InfraError: ``"<what> could not run: <reason>"`` (it did not start, or timed out).
    """
    try:
        return run_captured(command, timeout=timeout, env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InfraError(f"{what} could not run: {exc}") from exc
