"""The default backend: uv-built virtual environments on the host, with best-effort limits.

An environment is keyed by what makes it different (interpreter, pins, machine), built once with
``uv`` (wheels only, never a Python download), cached under ``cache_dir/envs/<key[:16]>`` and
shared by every cell with the same pins, whatever their limits. The runner is started in it with
a minimal environment, in its own process group, inside a fresh cgroup when the host allows
(see :mod:`driftmatrix.backends.oslimits`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from driftmatrix.backends.base import Environment, Execution, Invocation
from driftmatrix.backends.interpreters import UV_ENV, Interpreter, find_interpreter, find_uv
from driftmatrix.backends.supervise import supervise
from driftmatrix.cells import Cell, Limits
from driftmatrix.errors import BuildError, InfraError

#: Bump when the layout or the build recipe of an environment changes: old ones are then rebuilt.
SCHEMA = 1
#: Written last into a finished environment; its presence (with the right key) means "reusable".
MARKER = "driftmatrix-env.json"
_BUILD_TIMEOUT = 1800.0
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_DECORATION = re.compile(r"^[\s×│├╰─▶]*")
_PREFIX = re.compile(r"^(error|cause|hint|warning):\s*", re.IGNORECASE)
_NETWORK = re.compile(
    r"error sending request|tcp connect error|dns error|Connection refused|operation timed out"
)


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

    def provision(self, cell: Cell) -> Environment:
        """Build, or reuse from the cache, the environment for ``cell``.

        Safe to call from several threads and processes at once: a per-environment file lock
        makes concurrent requests for the same pins build it once.

        Raises:
            BuildError: no interpreter for the cell's Python, or uv cannot install the pins.
            InfraError: uv is missing, or the package index is unreachable.
        """
        interpreter = find_interpreter(cell.python)
        key = environment_key(interpreter, cell.packages)
        envs = self.cache_dir / "envs"
        envs.mkdir(parents=True, exist_ok=True)
        final = envs / key[:16]
        with _locked(envs / f"{key[:16]}.lock"):
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
        write_json(job_path, host_job(invocation.job))
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
        """Run uv; return its stdout, or raise BuildError/InfraError with its trimmed message."""
        command = [self._uv_binary(), *args]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=_BUILD_TIMEOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **UV_ENV},
            )
        except subprocess.TimeoutExpired as exc:
            raise InfraError(f"uv {args[0]} did not finish within {_BUILD_TIMEOUT:.0f} s") from exc
        except OSError as exc:
            raise InfraError(f"could not run uv: {exc}") from exc
        if result.returncode == 0:
            return result.stdout
        output = result.stderr + "\n" + result.stdout
        summary = summarize_uv_error(output)
        if _NETWORK.search(output):
            raise InfraError(f"the package index is unreachable: {summary}")
        raise BuildError(
            f"Python {interpreter.version}: {summary}"
        )

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
    # Thread pools sized to the CPU quota; without a quota, one thread. FIELD-NOTES: unbounded
    # OpenMP threads spin-wait (two parallel fits on 2 cores took minutes instead of seconds),
    # and cells run side by side with --jobs; one thread also keeps latency comparable between
    # a cell and its reference.
    threads = str(limits.threads) if limits.cpus is not None else "1"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": str(work / "home"),
        "TMPDIR": str(work / "tmp"),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        **dict.fromkeys(_THREAD_VARS, threads),
    }
    for var in ("LANG", "LC_ALL", "LC_CTYPE"):
        if var in os.environ:
            env[var] = os.environ[var]
    env.setdefault("LANG", "C.UTF-8")
    return env


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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed; never deleted, to avoid races).

    flock rather than lockf/fcntl locks: flock belongs to the open file description, so two
    threads of one process (each opening the file) exclude each other too, not just processes.
    """
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
