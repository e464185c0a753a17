"""Backends, selected by name from a plain mapping (as nox selects its venv backends).

``auto`` is not a backend of its own: :func:`resolve_backends` maps it to one of these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from driftmatrix.backends.base import Backend, Environment, Execution, Invocation
from driftmatrix.errors import UsageError

__all__ = [
    "BACKENDS",
    "Backend",
    "Environment",
    "Execution",
    "Invocation",
    "get_backend",
    "resolve_backends",
]


def _venv(*, docker: object = None, log: object = None, **options: Any) -> Backend:
    # ``docker`` (the matrix's [docker] table) and ``log`` (the venv backend has nothing to
    # tell while it builds) are the docker backend's alone. Imported when a run needs it, not
    # with this package: the verdict logic and every report import backends.base.
    from driftmatrix.backends.venv import VenvBackend

    return VenvBackend(**options)


def _docker(**options: Any) -> Backend:
    # Imported on demand: the Docker SDK is only loaded when a cell asks for docker.
    from driftmatrix.backends.docker import DockerBackend

    return DockerBackend(**options)


#: Backend name → factory taking the keyword options (``cache_dir``, ``no_cache``, ``docker``,
#: ``log``); each uses the ones that concern it.
BACKENDS: dict[str, Callable[..., Backend]] = {
    "venv": _venv,
    "docker": _docker,
}


def get_backend(name: str, **options: Any) -> Backend:
    """Create the backend called ``name`` with its keyword ``options``.

    Raises:
        UsageError: no backend has that name.
    """
    try:
        factory = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise UsageError(f"unknown backend {name!r}; choose one of: {known}") from None
    return factory(**options)


def resolve_backends(names: Iterable[str], **options: Any) -> tuple[dict[str, Backend], list[str]]:
    """Create one backend per name the cells use, resolving ``auto``.

    Every factory receives the same keyword ``options`` (``cache_dir``, ``no_cache``,
    ``docker``, the matrix's :class:`~driftmatrix.dockerspec.DockerSpec`, and ``log``, where
    notes made while cells run go). A name and
    ``auto`` resolving to it share one instance, so they share its environment cache.

    Returns:
        The backends by the names asked for (``auto`` included), and notes for the user about
        choices made on their behalf.

    Raises:
        UsageError: a name is neither a backend nor ``auto``.
    """
    wanted = set(names)
    notes: list[str] = []
    chosen: dict[str, Backend] = {}
    concrete = sorted(wanted - {"auto"})
    if "auto" in wanted:
        from driftmatrix.backends import docker_engine

        if docker_engine.available():
            auto = "docker"
            notes.append("backend 'auto' chose docker: a Docker daemon answers")
        else:
            auto = "venv"
            notes.append("backend 'auto' chose venv: no Docker daemon answers")
        concrete = sorted({*concrete, auto})
    for name in concrete:
        chosen[name] = get_backend(name, **options)
    if "auto" in wanted:
        chosen["auto"] = chosen[auto]
    return chosen, notes
