"""The default backend: uv-built virtual environments on the host, with best-effort limits.

An environment is keyed by what makes it different (interpreter, pins, machine), built once with
``uv`` (wheels only, never a Python download), cached under ``cache_dir/envs/<key[:16]>`` and
shared by every cell with the same pins, whatever their limits. The runner is started in it with
a minimal environment, in its own process group, inside a fresh cgroup when the host allows
(see :mod:`driftmatrix.backends.oslimits`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from driftmatrix.backends.base import Environment, Execution, Invocation
from driftmatrix.backends.filelock import locked
from driftmatrix.backends.interpreters import Interpreter, find_interpreter, find_uv
from driftmatrix.backends.leftovers import LiveGroups, sweep_groups
from driftmatrix.backends.supervise import supervise
from driftmatrix.backends.uv import run_uv
from driftmatrix.cells import Cell
from driftmatrix.errors import InfraError
from driftmatrix.limits import Limits

#: Bump when the layout or the build recipe of an environment changes: old ones are then rebuilt.
SCHEMA = 1
#: Written last into a finished environment; its presence (with the right key) means "reusable".
MARKER = "driftmatrix-env.json"
_BUILD_TIMEOUT = 1800.0


def environment_key(interpreter: Interpreter, packages: tuple[tuple[str, str], ...]) -> str:
    """The content hash that identifies an environment (limits are not part of it)."""
    doc = {
        "schema": SCHEMA,
        "python": interpreter.version,
        "executable": interpreter.executable,
        "packages": sorted([name, version] for name, version in packages),
        "machine": platform.machine(),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class VenvBackend:
    """Cells as uv virtual environments on this host.

    Args:
        cache_dir: Where environments are kept (``cache_dir/envs``).
        uv: Path of the ``uv`` binary; found automatically when None.
        no_cache: Ignore environments built before this backend was created (ones it builds
            itself are still shared by cells with the same pins).
    """

    name: str = "venv"

    def __init__(self, cache_dir: Path, uv: str | None = None, no_cache: bool = False) -> None:
        # Absolute: the runner starts in another working directory than ours.
        self.cache_dir = Path(cache_dir).absolute()
        self.no_cache = no_cache
        self._uv_request = uv
        self._uv: str | None = None
        self._fresh: set[str] = set()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._live: LiveGroups | None = None

    def _live_groups(self) -> LiveGroups:
        """This harness's record of running cells; made once, after killing what a harness
        killed with -9 left running (its cells would otherwise run on past their deadline)."""
        with self._lock:
            if self._live is None:
                directory = self.cache_dir / "live"
                sweep_groups(directory)
                self._live = LiveGroups(directory)
            return self._live

    def identify(self, cell: Cell) -> str:
        """The key of ``cell``'s environment: the interpreter it resolves to, pins, machine.

        Raises:
            BuildError: no interpreter for the cell's Python.
        """
        return environment_key(find_interpreter(cell.python), cell.packages)

    def provision(self, cell: Cell) -> Environment:
        """Build, or reuse from the cache, the environment for ``cell``.

        Safe to call from several threads and processes at once: a per-environment file lock
        makes concurrent requests for the same pins build it once.

        Raises:
            BuildError: no interpreter for the cell's Python, or uv cannot install the pins.
            InfraError: uv is missing, or the package index is unreachable.
        """
        self._live_groups()  # before anything of a new cell touches the disk
        interpreter = find_interpreter(cell.python)
        key = environment_key(interpreter, cell.packages)
        envs = self.cache_dir / "envs"
        envs.mkdir(parents=True, exist_ok=True)
        final = envs / key[:16]
        with locked(envs / f"{key[:16]}.lock"):
            with self._lock:
                reusable = not self.no_cache or key in self._fresh
            if reusable and _complete(final, key):
                return self._environment(key, interpreter, final, reused=True, seconds=0.0)
            started = time.monotonic()
            for stale in envs.glob(f".build-{key[:16]}-*"):
                shutil.rmtree(stale, ignore_errors=True)  # a builder died; we hold the lock
            scratch = Path(tempfile.mkdtemp(prefix=f".build-{key[:16]}-", dir=envs))
            try:
                built = scratch / "env"
                freeze = self._build(built, interpreter, cell)
                seconds = round(time.monotonic() - started, 3)
                marker = {
                    "schema": SCHEMA,
                    "key": key,
                    "python": {
                        "version": interpreter.version,
                        "executable": interpreter.executable,
                        "source": interpreter.source,
                    },
                    "pins": dict(cell.packages),
                    "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "build_seconds": seconds,
                    "freeze": freeze,
                }
                write_json(built / MARKER, marker)
                # Publish atomically: readers see either no environment or a complete one.
                if final.exists():
                    final.rename(scratch / "old")
                built.rename(final)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            # Still under the file lock: a second thread waiting for it must see this build as
            # fresh, or --no-cache would make it build the same environment again.
            with self._lock:
                self._fresh.add(key)
        return self._environment(key, interpreter, final, reused=False, seconds=seconds)

    def cancel(self) -> None:
        """Kill every runner this backend started that is still running."""
        self._cancelled.set()

    def run(self, env: Environment, invocation: Invocation) -> Execution:
        """Run the probe runner once in ``env`` under ``invocation.limits``.

        Raises:
            InfraError: the environment's interpreter is gone, or the process cannot start.
        """
        python = Path(env.python).absolute()
        if not os.access(python, os.X_OK):
            raise InfraError(
                f"the interpreter {python} of environment {env.key[:16]} is gone; "
                f"rebuild it with --no-cache"
            )
        work = invocation.work_dir.absolute()
        for directory in (work / "home", work / "tmp"):
            directory.mkdir(parents=True, exist_ok=True)
        job_path = work / "job.json"
        # The environment's first cell writes the libraries' bytecode into it while importing
        # them (never while training: the recipe's directory is the user's), so later cells
        # skip compiling scikit-learn, numpy and scipy (~1.3 s per start). This gives a hostile
        # artifact nothing it lacks: a venv cell runs as the user and can write there anyway.
        write_json(job_path, {**host_job(invocation.job), "write_bytecode": True})
        # -s -B as docs/runner-protocol.md says. Not -E: the environment is already an
        # allow-list, and -E would make the runner ignore PYTHONHASHSEED=0 set there.
        argv = [str(python), "-s", "-B", "-m", "probes", str(job_path)]
        if self._cancelled.is_set():
            raise InfraError("the run was cancelled")
        return supervise(
            argv,
            cwd=invocation.runner_dir,
            env=cell_environment(python.parent, work, invocation.limits),
            limits=invocation.limits,
            cancel=self._cancelled,
            live=self._live_groups(),
        )

    def _environment(
        self, key: str, interpreter: Interpreter, path: Path, *, reused: bool, seconds: float
    ) -> Environment:
        return Environment(
            backend=self.name,
            key=key,
            python=str(path / "bin" / "python"),
            python_version=interpreter.version,
            location=str(path),
            reused=reused,
            build_seconds=seconds,
            base=interpreter.executable,
        )

    def _build(self, target: Path, interpreter: Interpreter, cell: Cell) -> list[str]:
        """Create the venv at ``target`` and install the pins; return ``uv pip freeze`` lines."""
        # --relocatable: the environment is built in a scratch directory and renamed into place,
        # so scripts must not hard-code the path they were installed at.
        self._uv_call(
            ["venv", "--relocatable", "--python", interpreter.executable, str(target)], interpreter
        )
        python = str(target / "bin" / "python")
        pins = [f"{name}=={version}" for name, version in cell.packages]
        if pins:
            # Wheels only: an old release without a wheel for this Python must fail in a second,
            # not compile for twenty minutes (and then differ from what users deploy).
            self._uv_call(
                ["pip", "install", "--python", python, "--only-binary", ":all:", *pins], interpreter
            )
        freeze = self._uv_call(["pip", "freeze", "--python", python], interpreter)
        return [line for line in freeze.splitlines() if line.strip()]

    def _uv_call(self, args: list[str], interpreter: Interpreter) -> str:
        """Run uv for a build of ``interpreter``'s environment (see :func:`run_uv`)."""
        context = f"Python {interpreter.version}"
        return run_uv(self._uv_binary(), args, timeout=_BUILD_TIMEOUT, context=context)

    def _uv_binary(self) -> str:
        with self._lock:
            if self._uv is None:
                self._uv = find_uv(self._uv_request)
            return self._uv


def host_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """The job as a cell on this host sees it: the same paths, made absolute.

    The runner's working directory is the runner directory, not ours, so a relative ``--out``
    or artifact path would otherwise point somewhere else.
    """
    doc = dict(job)
    if isinstance(doc.get("work"), str):
        doc["work"] = os.path.abspath(doc["work"])
    if isinstance(doc.get("files"), Mapping):
        doc["files"] = {
            name: os.path.abspath(path) if isinstance(path, str) else path
            for name, path in doc["files"].items()
        }
    return doc


def cell_environment(bin_dir: Path, work: Path, limits: Limits) -> dict[str, str]:
    """The complete environment of a runner process: an allow-list, nothing else inherited.

    Secrets in our environment (tokens, cloud credentials) must be invisible to a cell that
    unpickles an untrusted artifact, and stray PYTHON*/LD_* variables must not change what it
    imports.
    """
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": str(work / "home"),
        "TMPDIR": str(work / "tmp"),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        **limits.thread_environment(),
    }
    for var in ("LANG", "LC_ALL", "LC_CTYPE"):
        if var in os.environ:
            env[var] = os.environ[var]
    env.setdefault("LANG", "C.UTF-8")
    return env


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` atomically: temp file beside it, fsync, rename (a full disk leaves no half)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _complete(path: Path, key: str) -> bool:
    """True when ``path`` holds a finished environment for ``key``."""
    try:
        marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("key") == key
        and marker.get("schema") == SCHEMA
        and (path / "bin" / "python").exists()
    )
