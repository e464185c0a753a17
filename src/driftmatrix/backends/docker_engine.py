"""The Docker engine: connect to a daemon, or install and start one when we are allowed to.

Every failure here is an :class:`InfraError` of one line that says what failed and what to do:
a cell cannot be judged when the engine is missing, and the fix is always on the host (start
the daemon, join the ``docker`` group, or use ``--backend venv``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import docker
from docker.errors import DockerException

from driftmatrix.backends.commands import run_tool
from driftmatrix.errors import InfraError

#: Where the Docker SDK looks when ``DOCKER_HOST`` is not set.
DEFAULT_HOST = "unix:///var/run/docker.sock"
#: Seconds a daemon may take to answer a ping before we call it absent: a live local daemon
#: answers in milliseconds, and ``auto`` must not make every run wait on a dead socket.
PING_TIMEOUT = 5.0
#: The client's timeout for ordinary API calls once connected (the SDK's own default).
API_TIMEOUT = 60
#: How long a freshly started ``dockerd`` may take to answer (it sets up storage and networks).
START_TIMEOUT = 60.0
_APT_TIMEOUT = 1800.0

Log = Callable[[str], None]

#: Starts a command detached and prints its pid: the daemon becomes a child of init, not of
#: this process, so it outlives us without a zombie or a "subprocess is still running" warning.
_DETACH = (
    "import subprocess, sys\n"
    "with open(sys.argv[1], 'ab') as out:\n"
    "    child = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=out,\n"
    "                             stderr=subprocess.STDOUT, start_new_session=True)\n"
    "print(child.pid)\n"
)


def host() -> str:
    """The daemon address the SDK will use (``DOCKER_HOST`` or the local socket)."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def connect(timeout: float = PING_TIMEOUT) -> docker.DockerClient:
    """Connect to the Docker daemon and check that it answers.

    Args:
        timeout: Seconds to wait for the daemon's answer.

    Returns:
        A client whose API calls time out after ``API_TIMEOUT`` seconds.

    Raises:
        InfraError: no daemon answers, or it refuses this user.
    """
    where = host()
    if where.startswith("unix://"):
        # Knock first: when the SDK's own connection attempt fails inside from_env, it leaves
        # its socket open (a ResourceWarning), and there is no client object yet to close.
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(timeout)
                probe.connect(where[len("unix://") :])
        except OSError as exc:
            raise _unreachable(exc) from exc
    try:
        # from_env asks the daemon for its API version, so the short timeout bounds that too.
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (DockerException, OSError) as exc:  # requests' errors are OSErrors
        raise _unreachable(exc) from exc
    client.api.timeout = API_TIMEOUT
    return client


def available() -> bool:
    """True when a Docker daemon answers now (quick: used to resolve backend ``auto``)."""
    try:
        client = connect(timeout=2.0)
    except InfraError:
        return False
    client.close()
    return True


def ensure_engine(log: Log, cache_dir: Path | None = None) -> docker.DockerClient:
    """Return a client of a running daemon, installing and starting the engine if needed.

    As root on a Debian-like host this does what a new user would: ``apt-get install docker.io``
    when there is no ``dockerd``, then start the daemon (``systemctl`` where systemd runs,
    otherwise ``dockerd`` detached in its own session, logging to ``cache_dir/docker``).

    Args:
        log: Receives one line per action taken.
        cache_dir: driftmatrix's cache directory (for the daemon's log); the default one when
            None.

    Raises:
        InfraError: the engine is missing or down and cannot be installed or started from here;
            the message says what to do.
    """
    try:
        return connect()
    except InfraError as exc:
        if os.environ.get("DOCKER_HOST") and not host().startswith("unix://"):
            raise  # a remote daemon is not ours to start
        if _socket_refuses_us():
            raise
        first = exc
    dockerd = _find_dockerd()
    if dockerd is None:
        if not _is_root() or shutil.which("apt-get") is None:
            raise InfraError(
                "no Docker engine is installed (no `dockerd` found); install Debian's docker.io "
                "as root (`apt-get install docker.io`, or run `driftmatrix docker setup` as "
                "root) or use --backend venv"
            )
        apt_install(["docker.io"], log, why="no Docker engine is installed")
        dockerd = _find_dockerd()
        if dockerd is None:
            raise InfraError("apt-get installed docker.io but no `dockerd` is on PATH")
        try:  # where systemd runs, the package starts the daemon itself
            return connect()
        except InfraError:
            pass
    if not _is_root():
        raise first
    return _start_daemon(dockerd, log, _log_path(cache_dir))


def apt_install(packages: Sequence[str], log: Log, *, why: str) -> None:
    """Install Debian packages with apt-get (as root), after ``apt-get update``.

    Args:
        packages: Package names.
        log: Receives one line saying what is installed and why.
        why: The reason, for the log line.

    Raises:
        InfraError: we are not root, apt-get is missing, or it fails (last line of its output).
    """
    names = " ".join(packages)
    if not _is_root() or shutil.which("apt-get") is None:
        raise InfraError(f"{why}; install it as root: apt-get install {names}")
    log(f"{why}: installing {names} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", *packages]):
        result = run_tool(command, timeout=_APT_TIMEOUT, what=f"`{' '.join(command)}`", env=env)
        if result.returncode != 0:
            raise InfraError(
                f"`{' '.join(command)}` failed (exit {result.returncode}): "
                f"{last_line(result.stderr + result.stdout)}"
            )


def last_line(text: str) -> str:
    """The last non-empty line of a tool's output, trimmed: usually the one that says why."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def one_line(exc: BaseException) -> str:
    """A Docker SDK error as one short line (the daemon's explanation when it gave one)."""
    explanation = getattr(exc, "explanation", None)
    return " ".join(str(explanation or exc).split())[:300]


def _unreachable(exc: BaseException) -> InfraError:
    """The one-line error for a daemon that does not answer, with the fix that applies."""
    where = host()
    if _socket_refuses_us():
        return InfraError(
            f"the Docker daemon at {where} refuses this user (permission denied); add the user "
            f"to the `docker` group or run as root, or use --backend venv"
        )
    if where.startswith("unix://"):
        return InfraError(
            f"no Docker daemon answers at {where}; start it (`driftmatrix docker setup` does, "
            f"as root) or use --backend venv"
        )
    reason = " ".join(str(exc).split())[:200]
    return InfraError(
        f"no Docker daemon answers at {where} (DOCKER_HOST): {reason}; check that daemon or "
        f"use --backend venv"
    )


def _socket_refuses_us() -> bool:
    """True when the local socket exists but this user may not use it (a different fix)."""
    where = host()
    if not where.startswith("unix://"):
        return False
    path = where[len("unix://") :]
    return os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK)


def _is_root() -> bool:
    return os.geteuid() == 0


def _find_dockerd() -> str | None:
    # /usr/sbin is not on a non-login root PATH everywhere (e.g. `su` without `-`).
    return shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin")


def _log_path(cache_dir: Path | None) -> Path:
    if cache_dir is None:
        # The same default as the command line's cache directory (paths.cache_dir).
        explicit = os.environ.get("DRIFTMATRIX_CACHE")
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        cache_dir = Path(explicit) if explicit else Path(base) / "driftmatrix"
    return cache_dir / "docker" / "dockerd.log"


def _start_daemon(dockerd: str, log: Log, log_path: Path) -> docker.DockerClient:
    """Start the daemon and wait until it answers; InfraError with its last log line if not."""
    systemctl = shutil.which("systemctl")
    if systemctl is not None and Path("/run/systemd/system").is_dir():
        # A systemd host: the unit knows the distribution's flags; a second daemon would not.
        log("starting the Docker daemon: systemctl start docker")
        result = subprocess.run(
            [systemctl, "start", "docker"], capture_output=True, text=True, errors="replace"
        )
        if result.returncode != 0:
            raise InfraError(
                f"`systemctl start docker` failed: {last_line(result.stderr)}; see "
                f"`journalctl -u docker`"
            )
        return _wait_for_daemon(None, "`journalctl -u docker`")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Listen where the SDK will knock (DOCKER_HOST may name another local socket).
    command = [dockerd] if host() == DEFAULT_HOST else [dockerd, "--host", host()]
    log(f"starting the Docker daemon: {' '.join(command)} (log: {log_path})")
    # Its own session: the daemon must survive this command, its terminal and its Ctrl-C.
    started = subprocess.run(
        [sys.executable, "-c", _DETACH, str(log_path), *command],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if started.returncode != 0 or not started.stdout.strip().isdigit():
        raise InfraError(f"could not start {dockerd}: {last_line(started.stderr)}")
    pid = int(started.stdout)
    client = _wait_for_daemon(pid, str(log_path))
    log(f"the Docker daemon answers (pid {pid})")
    return client


def _wait_for_daemon(pid: int | None, logs: str) -> docker.DockerClient:
    """Poll until the daemon answers; fail early when the process we started has exited."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if pid is not None and not _alive(pid):
            # Perhaps another daemon came up meanwhile (the package's init script, a parallel
            # setup) and ours exited on its pid file: that one will do.
            with contextlib.suppress(InfraError):
                return connect(timeout=2.0)
            raise InfraError(
                "dockerd exited right after starting: "
                f"{_log_tail(Path(logs))} (full log: {logs})"
            )
        try:
            return connect(timeout=2.0)
        except InfraError:
            if time.monotonic() > deadline:
                raise InfraError(
                    f"dockerd was started but did not answer within {START_TIMEOUT:.0f} s; "
                    f"see {logs}"
                ) from None
        time.sleep(0.5)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _log_tail(log_path: Path) -> str:
    try:
        with open(log_path, "rb") as handle:
            handle.seek(max(0, log_path.stat().st_size - 4096))
            return last_line(handle.read().decode("utf-8", "replace"))
    except OSError:
        return "no log"
