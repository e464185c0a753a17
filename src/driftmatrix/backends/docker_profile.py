"""The hardened profile of a cell's container, and the host side of its mounts.

Pure descriptions (what the container sees, which options it is created with) plus the two host
preparations they need: a work directory the container user can write, and input files it can
read. The container's lifecycle is :mod:`driftmatrix.backends.docker_run`'s.
"""

from __future__ import annotations

import re
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from docker.types import LogConfig, Mount

from driftmatrix.backends.base import Invocation
from driftmatrix.backends.venv import write_json
from driftmatrix.errors import InfraError
from driftmatrix.limits import Limits

#: ``nobody:nogroup``: exists in every Debian image, owns nothing in it.
CONTAINER_USER = "65534:65534"
#: Generous for one runner and its BLAS/OpenMP threads (they count against it), small enough to
#: stop a fork bomb in an untrusted pickle.
PIDS_LIMIT = 256
RUNNER_DIR = "/dm/runner"
WORK_DIR = "/dm/work"
INPUT_DIR = "/dm/in"
#: The PATH of the cell after the interpreter's own directory: Debian's default.
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_FILE_KEY = re.compile(r"[A-Za-z0-9_-]+")
#: json-file keeps 1-2 MiB of output per container: a runner printing gigabytes cannot fill the
#: daemon's disk, and the tail we report is always there.
_LOG_CONFIG = {"max-size": "1m", "max-file": "2"}


@dataclass(frozen=True)
class Bind:
    """One bind mount: a host path seen at ``target`` in the container."""

    source: Path
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class Plan:
    """What a container of one invocation sees: its rewritten job and its mounts."""

    job: Mapping[str, Any]
    binds: tuple[Bind, ...]


def container_job(invocation: Invocation) -> Plan:
    """Rewrite the job's host paths to container paths and list the mounts that back them.

    ``files`` values become ``/dm/in/<key>/<basename>`` (each mounted read-only), ``work``
    becomes ``/dm/work``. A file that does not exist on the host is not mounted but still
    rewritten, so the runner reports it missing exactly as it would under venv.

    Raises:
        ValueError: a ``files`` key cannot be a directory name (a bug in the host's job).
    """
    job = dict(invocation.job)
    binds = [
        Bind(invocation.runner_dir.absolute(), RUNNER_DIR),
        Bind(invocation.work_dir.absolute(), WORK_DIR, read_only=False),
    ]
    files = job.get("files")
    if isinstance(files, Mapping):
        rewritten: dict[str, Any] = {}
        for key, value in files.items():
            if not isinstance(value, str):
                rewritten[key] = value
                continue
            if not isinstance(key, str) or not _FILE_KEY.fullmatch(key):
                raise ValueError(f"job files key {key!r} must match {_FILE_KEY.pattern}")
            host = Path(value).absolute()
            target = str(PurePosixPath(INPUT_DIR, key, host.name or "file"))
            rewritten[key] = target
            if host.exists():
                binds.append(Bind(host, target))
        job["files"] = rewritten
    job["work"] = WORK_DIR
    return Plan(job=job, binds=tuple(binds))


def cell_environment(python: str, limits: Limits) -> dict[str, str]:
    """The complete environment of the container: an allow-list, nothing from the host.

    Secrets in our environment (CI tokens, cloud credentials) must be invisible to a cell that
    unpickles an untrusted artifact. Thread pools follow the CPU quota (one thread without
    one): unbounded OpenMP threads spin-wait against a quota and count against the pids limit.
    """
    return {
        "PATH": f"{PurePosixPath(python).parent}:{_SYSTEM_PATH}",
        "LANG": "C.UTF-8",
        "HOME": f"{WORK_DIR}/home",
        "TMPDIR": "/tmp",
        # No PYTHONPATH: cell images make their packages a site directory of the interpreter
        # (a .pth file), so they come after the standard library, as in a venv.
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        **limits.thread_environment(),
    }


def container_options(
    *, image: str, python: str, invocation: Invocation, plan: Plan, labels: Mapping[str, str]
) -> dict[str, Any]:
    """The keyword arguments of ``client.containers.create`` for the hardened profile."""
    limits = invocation.limits
    options: dict[str, Any] = {
        "image": image,
        # Entrypoint, not command: an image's own ENTRYPOINT (a wrapper script) must not run,
        # and the daemon ignores the image's CMD once the entrypoint is set.
        "entrypoint": [python],
        "command": ["-s", "-B", "-m", "probes", f"{WORK_DIR}/job.json"],
        "working_dir": RUNNER_DIR,
        "user": CONTAINER_USER,
        "environment": cell_environment(python, limits),
        "labels": dict(labels),
        "mounts": [
            Mount(b.target, str(b.source), type="bind", read_only=b.read_only) for b in plan.binds
        ],
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": "rw,size=64m,mode=1777"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": PIDS_LIMIT,
        # docker-init as PID 1: a runner killed by signal N is reported as exit 128+N (without
        # it, a process signalling itself as PID 1 exits 0), and orphans are reaped.
        "init": True,
        "log_config": LogConfig(type=LogConfig.types.JSON, config=_LOG_CONFIG),
        "detach": True,
    }
    if limits.memory is not None:
        # Equal to memory+swap: otherwise the cell may use as much swap again (FIELD-NOTES).
        options["mem_limit"] = limits.memory
        options["memswap_limit"] = limits.memory
    if limits.cpus is not None:
        options["nano_cpus"] = round(limits.cpus * 1e9)
    return options


def prepare_host(invocation: Invocation) -> Plan:
    """Prepare the host side of one run and return what the container will see.

    Makes the work directory writable for the container user, writes the container's job.json
    into it, and stages copies of input files the container user could not read.
    """
    if not _world_readable(invocation.runner_dir):
        # Otherwise the container fails with a baffling "No module named probes".
        raise InfraError(
            f"the runner directory {invocation.runner_dir} is not readable by the container "
            f"user (uid 65534); make it world-readable (chmod o+rx)"
        )
    plan = container_job(invocation)
    _prepare_work_dir(invocation.work_dir, plan)
    return _stage_unreadable_inputs(invocation.work_dir, plan)


def _prepare_work_dir(work: Path, plan: Plan) -> None:
    """Make the host work dir writable by the container user and write the container's job."""
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    # The container runs as nobody, which owns nothing on the host: the fresh work dir (and the
    # runner's HOME in it) must be writable by anyone. Nothing else on the host is mounted rw.
    for directory in (work, home):
        directory.chmod(0o777)
    write_json(work / "job.json", plan.job)
    # write_json's temp file is private (0600), and the container's user is not us.
    (work / "job.json").chmod(0o644)


def _stage_unreadable_inputs(work: Path, plan: Plan) -> Plan:
    """Copy input files the container user could not read (e.g. mode 0600) and mount the copies.

    The copies live in ``work/.inputs`` (ours, mode 0755) with mode 0444: the container reads
    them read-only at the same paths and, not owning them, cannot alter them. The user's own
    files are never chmod-ed. Only regular files are staged.
    """
    binds: list[Bind] = []
    for bind in plan.binds:
        if (
            not bind.read_only
            or not bind.target.startswith(INPUT_DIR + "/")
            or not bind.source.is_file()
            or _world_readable(bind.source)
        ):
            binds.append(bind)
            continue
        copy = work / ".inputs" / bind.target[len(INPUT_DIR) + 1 :]
        copy.parent.mkdir(parents=True, exist_ok=True)
        for directory in (work / ".inputs", copy.parent):
            directory.chmod(0o755)
        shutil.copyfile(bind.source, copy)
        copy.chmod(0o444)
        binds.append(Bind(copy, bind.target))
    return Plan(job=plan.job, binds=tuple(binds))


def _world_readable(path: Path) -> bool:
    """True when "others" may read ``path`` (and enter it, for a directory)."""
    mode = path.stat().st_mode
    return bool(mode & stat.S_IROTH) and (not stat.S_ISDIR(mode) or bool(mode & stat.S_IXOTH))
