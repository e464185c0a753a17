"""Run the in-cell runner once in a hardened Docker container and report how it ended, from facts.

The run half of the Docker backend (images are docker_images.py's). One container per run:
create → start → poll until it exits or the deadline passes (then kill it *by name*: killing a
client leaves the container running) → inspect → read the log tails → remove. Never
``auto_remove``/``--rm``: it destroys ``State.OOMKilled`` and ``State.ExitCode``, the only facts
that tell an OOM kill from a timeout from a crash (FIELD-NOTES.md, "Docker outcomes").

Every container gets the hardened profile of docker_profile.py: no network, read-only root with
a small tmpfs ``/tmp``, all capabilities dropped, no-new-privileges, user ``nobody``, a pids
limit, ``--init``, memory equal to memory+swap, a CPU quota, an allow-listed environment and
labels. The only writable mount is the host work directory; the runner and the input files are
mounted read-only.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

import docker.errors
from docker import DockerClient

from driftmatrix.backends.base import Execution, Invocation
from driftmatrix.backends.docker_profile import container_options, prepare_host
from driftmatrix.backends.leftovers import OWNER_LABEL, owner, owner_gone
from driftmatrix.backends.supervise import TAIL_BYTES
from driftmatrix.errors import InfraError
from driftmatrix.failure import one_line

#: Label on every container driftmatrix creates; :func:`remove_containers` never touches others.
LABEL = "org.driftmatrix"
#: Label naming the run (caller-chosen value) a container belongs to.
RUN_LABEL = "org.driftmatrix.run"
#: Label naming the cell a container runs (set from the job's ``cell`` unless the caller does).
CELL_LABEL = "org.driftmatrix.cell"

#: Polling the daemon's state (not a blocking ``wait``): a wait that times out raises the same
#: ConnectionError as a daemon that is gone, and Ctrl-C must be noticed within a fraction of a
#: second. Inspect is cheap; the interval grows to keep idle cells from chattering.
_POLL_FIRST, _POLL_MAX = 0.05, 0.25
#: After a kill, how long Docker may take to report the container stopped before we give up.
_KILL_GRACE = 30.0

_T = TypeVar("_T")


def run_container(
    client: DockerClient,
    *,
    image: str,
    python: str,
    invocation: Invocation,
    labels: Mapping[str, str],
    cancel: threading.Event,
) -> Execution:
    """Run the runner once in a hardened container of ``image`` and report how it ended.

    Args:
        client: A Docker client (the daemon is asked for everything; nothing runs locally).
        image: The cell's image.
        python: Path of the interpreter inside the image.
        invocation: Runner directory, host job, host work directory and limits.
        labels: Extra labels (e.g. :data:`RUN_LABEL`); :data:`LABEL` and :data:`CELL_LABEL` are
            added.
        cancel: Once set (Ctrl-C), the container is killed and removed and InfraError raised.

    Returns:
        The facts: exit code or signal (``--init`` reports death by signal N as 128+N),
        ``timed_out`` only when we killed it at ``limits.timeout``, ``oom_killed`` exactly as
        ``State.OOMKilled`` says (true also when only a child was killed), log tails.

    Raises:
        InfraError: the daemon is down or refused a step, the interpreter could not be
            started, or the run was cancelled. The container is removed in every case the
            daemon still answers.
    """
    cell = str(invocation.job.get("cell") or "cell")
    if cancel.is_set():
        raise InfraError("the run was cancelled")
    plan = prepare_host(invocation)
    name = f"driftmatrix-{re.sub(r'[^A-Za-z0-9_.-]', '_', cell)[:80]}-{uuid.uuid4().hex[:8]}"
    options = container_options(
        image=image,
        python=python,
        invocation=invocation,
        plan=plan,
        labels={CELL_LABEL: cell, **labels, OWNER_LABEL: owner(), LABEL: "1"},
    )
    daemon = _Daemon(client, name, cell)
    try:
        daemon.call("create the container", lambda: client.containers.create(name=name, **options))
        if cancel.is_set():
            raise InfraError("the run was cancelled")
        daemon.call("start the container", lambda: client.api.start(name))
        started = time.monotonic()
        state, timed_out = daemon.watch(started + invocation.limits.timeout, cancel)
        ended = time.monotonic()
        out = daemon.call("read the output", lambda: _tail(client.api.logs(name, stderr=False)))
        err = daemon.call("read the output", lambda: _tail(client.api.logs(name, stdout=False)))
    except InfraError:
        # Once cancelled, whatever failed next (a concurrent cancel() sweep may already have
        # removed the container under us) is the cancellation, not a daemon problem.
        if cancel.is_set():
            raise InfraError("the run was cancelled") from None
        raise
    finally:
        # By name, even when create "failed": the daemon may have made it before the reply was
        # lost. A failure here (daemon gone) is not raised over the facts we already have; the
        # run's final remove_containers() sweep reports it.
        daemon.remove()
    code = int(state.get("ExitCode", -1))
    if code in (126, 127) and "[FATAL tini" in err:
        # docker-init could not exec the interpreter: a broken image, not the cell's doing.
        raise InfraError(one_line(f"could not start {python} in image {image}: {err.strip()}"))
    died_of = code - 128 if 128 < code <= 128 + 64 else None
    runtime = _runtime(state)
    return Execution(
        exit_code=None if died_of is not None else code,
        signal=died_of,
        timed_out=timed_out,
        oom_killed=bool(state.get("OOMKilled")),
        seconds=runtime if runtime is not None else round(ended - started, 3),
        stdout_tail=out,
        stderr_tail=err,
        enforced={
            "memory": "docker" if invocation.limits.memory is not None else None,
            "cpus": "docker" if invocation.limits.cpus is not None else None,
            "timeout": "docker-kill",
        },
    )


def remove_containers(
    client: DockerClient,
    labels: Mapping[str, str],
    only: Callable[[Mapping[str, str]], bool] = lambda labels: True,
) -> int:
    """Force-remove every driftmatrix container carrying all of ``labels``; return how many.

    Only containers labelled :data:`LABEL` are considered, whatever ``labels`` says. Running
    ones are killed: a container left by a killed run has no one enforcing its timeout.

    Args:
        client: A Docker client.
        labels: Labels a container must carry.
        only: Decides from a container's labels whether it goes (default: all of them).

    Raises:
        InfraError: the daemon is down or refused.
    """
    wanted = {**labels, LABEL: "1"}
    filters = {"label": [f"{key}={value}" for key, value in wanted.items()]}
    daemon = _Daemon(client, "", "")
    found = daemon.call(
        "list leftover containers", lambda: client.api.containers(all=True, filters=filters)
    )
    removed = 0
    for container in found:
        if not only(container.get("Labels") or {}):
            continue
        ident = container["Id"]
        with contextlib.suppress(docker.errors.NotFound):  # gone meanwhile: fine
            daemon.call(
                "remove a leftover container",
                lambda: client.api.remove_container(ident, force=True, v=True),  # noqa: B023
                keep=_is_missing,
            )
            removed += 1
    return removed


def sweep_containers(client: DockerClient) -> int:
    """Remove the containers of harnesses that are gone (killed with -9); return how many.

    Containers of live harnesses (another run in parallel on this machine) and of owners this
    machine cannot judge (another boot id: maybe another host sharing the daemon) are left
    alone.
    """
    return remove_containers(
        client,
        {},
        only=lambda labels: owner_gone(labels.get(OWNER_LABEL, ""), earlier_boots=False),
    )


class _Daemon:
    """Calls to the daemon about one container, each failure turned into a one-line InfraError."""

    def __init__(self, client: DockerClient, name: str, cell: str) -> None:
        self.client = client
        self.name = name
        self.cell = cell

    def call(
        self,
        what: str,
        action: Callable[[], _T],
        keep: Callable[[Exception], bool] = lambda exc: False,
    ) -> _T:
        """Run ``action``; a refusal or a dead daemon becomes InfraError naming ``what``.

        Args:
            what: The step, as in "Docker refused to <what>".
            action: The call to the daemon.
            keep: Errors for which this is true are re-raised as they are (e.g. "no such
                container" where gone is fine).
        """
        of = f" of cell {self.cell}" if self.cell else ""
        try:
            return action()
        except (docker.errors.DockerException, OSError) as exc:
            if keep(exc):
                raise
            if isinstance(exc, docker.errors.APIError):
                reason = exc.explanation or str(exc)
                raise InfraError(one_line(f"Docker refused to {what}{of}: {reason}")) from exc
            # requests' ConnectionError is an OSError: the socket is gone or the daemon hangs.
            doing = f"running cell {self.cell}" if self.cell else "cleaning up"
            reason = " ".join(str(exc).split())[:200]
            raise InfraError(
                one_line(f"the Docker daemon stopped answering while {doing} ({what}: {reason})")
            ) from exc

    def state(self) -> Mapping[str, Any]:
        """The container's ``State`` as the daemon reports it now."""
        try:
            info = self.call(
                "inspect the container",
                lambda: self.client.api.inspect_container(self.name),
                keep=_is_missing,
            )
        except docker.errors.NotFound as exc:
            raise InfraError(
                f"the container of cell {self.cell} was removed by something else while it ran"
            ) from exc
        return dict(info.get("State") or {})

    def kill(self) -> bool:
        """SIGKILL the container; False when it had already stopped by itself."""
        try:
            self.call("kill the container", lambda: self.client.api.kill(self.name), keep=_stopped)
        except docker.errors.APIError:
            return False  # 409 "is not running": it ended on its own just before the deadline
        return True

    def watch(self, deadline: float, cancel: threading.Event) -> tuple[Mapping[str, Any], bool]:
        """Poll until the container stops; kill it at ``deadline`` or on ``cancel``.

        Returns:
            The final ``State`` and whether we killed it at the deadline.
        """
        timed_out = False
        give_up: float | None = None
        delay = _POLL_FIRST
        while True:
            state = self.state()
            if state.get("Status") in ("exited", "dead"):
                return state, timed_out
            now = time.monotonic()
            if cancel.is_set():
                self.kill()
                raise InfraError("the run was cancelled")
            if give_up is None and now >= deadline:
                timed_out = self.kill()
                give_up = now + _KILL_GRACE
            elif give_up is not None and now >= give_up:
                raise InfraError(
                    f"Docker did not stop the container of cell {self.cell} "
                    f"within {_KILL_GRACE:.0f} s of killing it"
                )
            # Sleep on the event: Ctrl-C wakes us at once. Never sleep past the deadline.
            cancel.wait(delay if give_up is not None else min(delay, max(deadline - now, 0.0)))
            delay = min(delay * 1.5, _POLL_MAX)

    def remove(self) -> None:
        """Force-remove the container (and its anonymous volumes); quiet on any failure."""
        with contextlib.suppress(InfraError, docker.errors.NotFound):
            self.call(
                "remove the container",
                lambda: self.client.api.remove_container(self.name, force=True, v=True),
                keep=_is_missing,
            )


def _is_missing(exc: Exception) -> bool:
    return isinstance(exc, docker.errors.NotFound)


def _stopped(exc: Exception) -> bool:
    return isinstance(exc, docker.errors.APIError) and exc.status_code == 409


def _tail(data: bytes) -> str:
    """The last :data:`TAIL_BYTES` bytes of a log stream, as text."""
    return data[-TAIL_BYTES:].decode("utf-8", errors="replace")


_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z")


def _runtime(state: Mapping[str, Any]) -> float | None:
    """Seconds between the daemon's StartedAt and FinishedAt (None when unreadable).

    The daemon's clock, not ours: our polling would add up to a quarter second.
    """
    times = []
    for key in ("StartedAt", "FinishedAt"):
        match = _TIMESTAMP.fullmatch(str(state.get(key, "")))
        if match is None:
            return None
        # Docker writes nanoseconds; datetime takes at most microseconds.
        fraction = (match.group(2) or "0")[:6].ljust(6, "0")
        moment = datetime.fromisoformat(f"{match.group(1)}.{fraction}")
        times.append(moment.replace(tzinfo=timezone.utc))
    seconds = (times[1] - times[0]).total_seconds()
    return round(seconds, 3) if seconds >= 0 else None
