"""Which Python image each Python version's docker cells are built on, chosen once per version.

In order: the image the matrix maps the version to (``[docker.images]``); else, by ``source``,
``python:X.Y-slim`` pulled from a registry (``auto``, ``registry``) or the host's own
interpreter copied onto the local base (``auto`` when no registry answers, ``local``). The
choice is said in one line per version (:attr:`PythonChoice.notes`), because it decides
whether docker cells compare bit for bit with venv cells (only the host's interpreter does).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import docker
from docker.errors import DockerException, ImageNotFound

from driftmatrix.backends.docker_engine import one_line
from driftmatrix.backends.docker_python import PythonImage, local_python, probe_image
from driftmatrix.backends.interpreters import find_interpreter
from driftmatrix.errors import BuildError, InfraError, UsageError

#: Where versions the matrix does not map get their Python: ``auto`` tries the registry once
#: per version and falls back to the host's interpreter; ``local`` never pulls; ``registry``
#: never falls back. (The same words as ``[docker] source``.)
PYTHON_SOURCES = ("auto", "local", "registry")


class PythonChoice:
    """Chooses, and remembers, the Python image of each requested version.

    Safe to use from several threads: each version is decided once, the others wait.

    Args:
        client: A connected Docker client.
        source: One of :data:`PYTHON_SOURCES`.
        images: Python version (as the cells write it) → image reference, from the matrix.
        say: Receives each note as it is made.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        source: str = "auto",
        images: Mapping[str, str] | None = None,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        if source not in PYTHON_SOURCES:
            raise UsageError(
                f"unknown Python source {source!r}; choose one of {', '.join(PYTHON_SOURCES)}"
            )
        self.client = client
        self.source = source
        self.images = dict(images or {})
        #: One line per Python version: which image its cells use, and why.
        self.notes: list[str] = []
        self._say = say
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        # Failures are remembered too: every cell of a version gets the same answer, and an
        # unreachable registry is asked once, not once per cell.
        self._chosen: dict[str, PythonImage | Exception] = {}
        self._registry: dict[str, PythonImage | None] = {}
        self._registry_failures: dict[str, str] = {}

    def python_for(self, request: str) -> PythonImage:
        """The Python image for cells of Python ``request`` (a local one is only planned).

        Raises:
            BuildError: the mapped image is missing and cannot be pulled, or has no usable
                CPython ``request``; no host interpreter for ``request``.
            InfraError: ``source`` is ``registry`` and the pull failed; the daemon failed.
        """
        with self._version_lock(f"python:{request}"):
            if request not in self._chosen:
                try:
                    chosen, note = self._choose(request)
                except (BuildError, InfraError) as exc:
                    self._chosen[request] = exc
                    raise
                self._chosen[request] = chosen
                with self._lock:
                    self.notes.append(note)
                self._say(note)
            found = self._chosen[request]
        if isinstance(found, Exception):
            raise found
        return found

    def registry_image(self, version: str) -> PythonImage | None:
        """Pull ``python:<version>-slim`` (once per version); None when that is not possible.

        The reason is kept for the note that reports the fallback.
        """
        with self._version_lock(f"registry:{version}"):
            if version not in self._registry:
                found: PythonImage | None = None
                try:
                    self.client.images.pull("python", f"{version}-slim")
                    found = probe_image(self.client, f"python:{version}-slim", version, "registry")
                except (DockerException, OSError, BuildError, InfraError) as exc:
                    self._registry_failures[version] = one_line(exc)[:200]
                self._registry[version] = found
            return self._registry[version]

    def _choose(self, request: str) -> tuple[PythonImage, str]:
        mapped = self.images.get(request)
        if mapped is not None:
            self._ensure_present(mapped, request)
            chosen = probe_image(self.client, mapped, request, "matrix")
            return chosen, (
                f"Python {request}: image {mapped} from the matrix (CPython {chosen.version} at "
                f"{chosen.python}; not the host's interpreter the venv backend uses)"
            )
        registry = self.registry_image(request) if self.source != "local" else None
        if registry is not None:
            return registry, (
                f"Python {request}: registry image {registry.tag} (CPython {registry.version}; "
                f"not the host's interpreter the venv backend uses)"
            )
        if self.source == "registry":
            raise InfraError(
                f"python:{request}-slim could not be pulled "
                f"({self._registry_failures.get(request, 'unknown reason')}); "
                f'source = "local" in [docker] builds images from the host\'s interpreters'
            )
        local = local_python(find_interpreter(request))
        why = (
            f"python:{request}-slim could not be pulled: {self._registry_failures[request]}"
            if request in self._registry_failures
            else "local images requested"
        )
        return local, (
            f"Python {request}: local image {local.tag} from the host's {local.python} ({why})"
        )

    def _ensure_present(self, image: str, request: str) -> None:
        """Pull a mapped image unless the daemon has it already."""
        try:
            self.client.images.get(image)
            return
        except ImageNotFound:
            pass
        except (DockerException, OSError) as exc:
            raise InfraError(
                f"the Docker daemon failed looking up {image}: {one_line(exc)}"
            ) from exc
        try:
            self.client.images.pull(image)
        except (DockerException, OSError) as exc:
            raise BuildError(
                f"Python {request}: image {image} (from the matrix's [docker.images]) is not on "
                f"this machine and could not be pulled; build or `docker load` it first, or map "
                f"Python {request} to another image (pull: {one_line(exc)[:160]})"
            ) from exc

    def _version_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(name, threading.Lock())
