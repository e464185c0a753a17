"""Finding host tools for the venv backend: a Python interpreter per cell, and ``uv``.

Interpreters are searched where people install several Pythons side by side, in this order:
pyenv's versions directory, ``pythonX.Y`` on ``PATH``, then ``uv python find``. Every candidate
is *run* to verify it (pyenv shims on ``PATH`` exist even for versions that are not selected, and
fail when started), and results are cached for the life of the process. Cells asking for
different Pythons find them at the same time: every run checks each of its Pythons before a
single result can be looked up in the cache.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from driftmatrix.backends.commands import run_captured
from driftmatrix.backends.uv import UV_ENV
from driftmatrix.errors import BuildError, InfraError

_REQUEST = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")

# Runs under the candidate (any Python 3, so nothing newer than 3.0 syntax); -I keeps the
# user's PYTHON* variables and site-packages from changing what we see. It imports nothing:
# `platform` and `json` took half of the ~27 ms each start cost, and each cell's Python is
# checked in every run before its result can be looked up.
_PROBE = (
    "import sys; print(repr((sys.version, sys.executable, sys.implementation.name, "
    "sys.prefix != getattr(sys, 'base_prefix', sys.prefix))))"
)
# platform.python_version()'s reading of sys.version: its leading release, e.g. "3.13.0rc1".
_VERSION = re.compile(r"[\w.+]+", re.ASCII)
_PROBE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Interpreter:
    """A verified Python interpreter on the host.

    Attributes:
        executable: Real path of the interpreter binary (symlinks and shims resolved).
        version: Its full version, e.g. ``"3.11.7"``.
        source: Where it was found: ``"pyenv"``, ``"PATH"`` or ``"uv"``.
    """

    executable: str
    version: str
    source: str


_cache: dict[str, Interpreter] = {}
_verified: dict[str, Interpreter | None] = {}
# One lock per request, so that cells asking for different Pythons find them at the same time
# (each start is a subprocess), while cells asking for the same one wait for the first.
_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


def find_interpreter(request: str) -> Interpreter:
    """Return a CPython interpreter matching ``request`` (``"3.10"`` or ``"3.10.13"``).

    For a two-part request the newest matching patch release of the first source that has one
    wins. Results are cached per process.

    Raises:
        BuildError: the request is malformed, or no matching interpreter was found.
    """
    match = _REQUEST.match(request.strip())
    if match is None:
        raise BuildError(f"invalid Python version {request!r}; write e.g. '3.11' or '3.11.7'")
    wanted = tuple(int(part) for part in match.groups() if part is not None)
    major_minor = f"{wanted[0]}.{wanted[1]}"
    with _locks_lock:
        lock = _locks.setdefault(request, threading.Lock())
    with lock:
        if request in _cache:
            return _cache[request]
        looked: list[str] = []
        # Each source is asked only when the ones before it had nothing (`uv python find`
        # alone takes half a second).
        sources: tuple[tuple[str, Callable[[], list[str]]], ...] = (
            ("pyenv", lambda: _pyenv_candidates(major_minor, looked)),
            ("PATH", lambda: _path_candidates(major_minor, looked)),
            ("uv", lambda: _uv_candidates(request, looked)),
        )
        for source, candidates in sources:
            found = [
                interp
                for candidate in candidates()
                if (interp := _verify(candidate, source)) is not None
                and _version_tuple(interp.version)[: len(wanted)] == wanted
            ]
            if found:
                best = max(found, key=lambda interp: _version_tuple(interp.version))
                _cache[request] = best
                return best
    raise BuildError(
        f"no Python {request} interpreter found (looked in {', '.join(looked)}); "
        f"install it, e.g. with pyenv or uv python install"
    )


def find_uv(explicit: str | None = None) -> str:
    """Return the path of the ``uv`` binary.

    Args:
        explicit: A path given by the user; used as is when it exists.

    Raises:
        InfraError: uv cannot be found.
    """
    if explicit is not None:
        if Path(explicit).is_file() and os.access(explicit, os.X_OK):
            return explicit
        resolved = shutil.which(explicit)
        if resolved is None:
            raise InfraError(f"uv not found at {explicit!r}")
        return resolved
    try:
        # The `uv` distribution is a dependency of driftmatrix: prefer the binary it ships, so the
        # version is the one we were installed with rather than whatever PATH offers.
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    resolved = shutil.which("uv")
    if resolved is None:
        raise InfraError(
            "uv not found (neither the 'uv' Python package nor 'uv' on PATH); "
            "install it with 'pip install uv'"
        )
    return resolved


def _pyenv_root() -> Path:
    if root := os.environ.get("PYENV_ROOT"):
        return Path(root)
    if pyenv := shutil.which("pyenv"):
        try:
            found = run_captured([pyenv, "root"], timeout=_PROBE_TIMEOUT)
            out = found.stdout.strip() if found.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            return Path(out)
    return Path.home() / ".pyenv"


def _pyenv_candidates(major_minor: str, looked: list[str]) -> list[str]:
    versions = _pyenv_root() / "versions"
    looked.append(f"pyenv ({versions})")
    return [str(path) for path in sorted(versions.glob(f"*/bin/python{major_minor}"))]


def _path_candidates(major_minor: str, looked: list[str]) -> list[str]:
    looked.append(f"python{major_minor} on PATH")
    found = shutil.which(f"python{major_minor}")
    return [found] if found else []


def _uv_candidates(request: str, looked: list[str]) -> list[str]:
    looked.append(f"uv python find {request}")
    try:
        uv = find_uv()
    except InfraError:
        return []
    try:
        result = run_captured(
            [uv, "python", "find", request], timeout=_PROBE_TIMEOUT, env={**os.environ, **UV_ENV}
        )
    except (OSError, subprocess.SubprocessError):
        return []
    path = result.stdout.strip()
    return [path] if result.returncode == 0 and path else []


def _verify(candidate: str, source: str) -> Interpreter | None:
    """Run ``candidate`` and describe it; None when it does not start or is not a usable base."""
    if candidate in _verified:
        return _verified[candidate]
    interp: Interpreter | None = None
    try:
        result = run_captured([candidate, "-I", "-c", _PROBE], timeout=_PROBE_TIMEOUT)
        if result.returncode == 0:
            interp = _described(result.stdout, source)
    except (OSError, subprocess.SubprocessError):
        interp = None
    _verified[candidate] = interp
    return interp


def _described(output: str, source: str) -> Interpreter | None:
    """The interpreter ``_PROBE`` printed ``output`` about; None when it is not a usable base."""
    try:
        version, executable, implementation, venv = ast.literal_eval(output.strip())
        release = _VERSION.match(version)
        path = os.path.realpath(executable)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    # A virtual environment (e.g. a pyenv-virtualenv) is not a base interpreter, and other
    # implementations have other wheels: cells mean CPython.
    if release is None or implementation != "cpython" or venv is not False:
        return None
    return Interpreter(executable=path, version=release.group(), source=source)


def _version_tuple(version: str) -> tuple[int, ...]:
    """``"3.13.0rc1"`` → ``(3, 13, 0)``: enough to match and order releases."""
    parts = []
    for part in version.split(".")[:3]:
        digits = re.match(r"\d+", part)
        parts.append(int(digits.group()) if digits else 0)
    return tuple(parts)
