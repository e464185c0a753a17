"""Images for the docker backend: a base, one Python image per interpreter, one image per cell.

Three layers, each tagged by a hash of what went into it, so an existing tag is a finished,
reusable image:

``driftmatrix/base:bookworm-<hash>``
    A debootstrapped Debian root (:mod:`driftmatrix.backends.docker_rootfs`), built once.
``driftmatrix/python:<version>-<hash>``
    The host's own interpreter (the one the venv backend uses, found by
    :func:`~driftmatrix.backends.interpreters.find_interpreter`) copied onto the base at its own
    path, so docker and venv cells run the very same CPython build and compare bit for bit.
    Where a registry answers, ``python:X.Y-slim`` is used instead, and the matrix may name an
    image per version (``[docker.images]``); which one a cell got is always said
    (:mod:`~driftmatrix.backends.python_choice`, :attr:`CellImage.python_source`).
``driftmatrix/cell:<key16>``
    The cell's pins, resolved and downloaded on the host by uv (wheels only) and copied in:
    the build itself needs no network, and a container never reaches the package index.

Everything built carries the label ``org.driftmatrix.image=1`` so that cleanup can find it.
(Not ``org.driftmatrix=1``: containers inherit their image's labels, and that label marks the
containers of a run.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import DockerException, ImageNotFound

from driftmatrix.backends.docker_context import (
    SITE_DIR,
    build_image,
    write_cell_context,
    write_python_context,
)
from driftmatrix.backends.docker_engine import Log, one_line
from driftmatrix.backends.docker_python import PythonImage, local_python
from driftmatrix.backends.docker_rootfs import base_tag, build_base
from driftmatrix.backends.docker_wheels import install_pins
from driftmatrix.backends.filelock import locked
from driftmatrix.backends.interpreters import Interpreter, find_uv
from driftmatrix.backends.python_choice import PythonChoice
from driftmatrix.cells import Cell
from driftmatrix.errors import InfraError

#: Bump when the recipe of cell images changes (docker_context.write_cell_context): every
#: cell key changes with it.
SCHEMA = 2  # 2: image label org.driftmatrix.image (containers inherit labels)
LABEL = "org.driftmatrix"
IMAGE_LABEL = "org.driftmatrix.image"
_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellImage:
    """The image of one pinned set, ready to run.

    Attributes:
        tag: ``driftmatrix/cell:<key16>``.
        python: Path of the interpreter inside the image.
        python_version: Its full version.
        reused: True when the image existed already.
        build_seconds: Time spent building it now (0 when reused).
        key: The full content key (Python image, pins, platform).
        python_image: The image it was built from.
        python_source: ``"local"``, ``"registry"`` or ``"matrix"`` (see :class:`PythonImage`).
        site: Where the pinned packages are inside the image (a site directory of ``python``:
            no PYTHONPATH is needed).
    """

    tag: str
    python: str
    python_version: str
    reused: bool
    build_seconds: float
    key: str = ""
    python_image: str = ""
    python_source: str = "local"
    site: str = SITE_DIR


class Images:
    """Builds and finds the images of the docker backend.

    Safe to use from several threads and processes: a file lock per image makes concurrent
    requests for the same image build it once.

    Args:
        client: A connected Docker client (:func:`~driftmatrix.backends.docker_engine.connect`).
        cache_dir: driftmatrix's cache directory; locks and scratch space go to its ``docker``
            subdirectory.
        no_cache: Rebuild cell images that existed before this object was made (ones it builds
            itself are shared by cells with the same pins). Base and Python images are not
            rebuilt: they are keyed by what goes into them.
        python_source: Where versions without an entry in ``python_images`` get their
            Python: one of :data:`~driftmatrix.backends.python_choice.PYTHON_SOURCES`.
        python_images: Python version → image, from the matrix's ``[docker.images]``.
        log: Receives a line per choice and per image built; the standard logger when None.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        cache_dir: Path,
        no_cache: bool = False,
        *,
        python_source: str = "auto",
        python_images: Mapping[str, str] | None = None,
        log: Log | None = None,
    ) -> None:
        self.client = client
        self.cache_dir = Path(cache_dir).absolute()
        self.no_cache = no_cache
        self._log = log
        #: Which Python image each version's cells are built on (its notes say why).
        self.choice = PythonChoice(client, python_source, python_images, self._say)
        self._work = self.cache_dir / "docker"
        self._lock = threading.Lock()
        self._fresh: set[str] = set()
        self._uv: str | None = None

    # -- the three layers -------------------------------------------------------------------

    def base_image(self) -> str:
        """Return the tag of the local Debian base image, building it once (needs root).

        Raises:
            InfraError: it does not exist and cannot be built here (not root, no mirror...).
        """
        tag = base_tag()
        with self._file_lock("base"):
            if self._exists(tag):
                return tag
            self._clear_stale("base-")
            started = time.monotonic()
            build_base(self.client, tag, self._scratch_root(), self._say)
            self._say(f"built {tag} in {time.monotonic() - started:.0f} s")
        return tag

    def python_image(self, interpreter: Interpreter) -> str:
        """Return the tag of the Python image made from a host interpreter, building it once.

        The tag's hash covers the interpreter's path, version, and the size and mtime of its
        binary and libpython, so a rebuilt host Python gets a new image.

        Raises:
            BuildError: the interpreter is not a self-contained installation that can be copied.
            InfraError: the image cannot be built (no base, the interpreter fails in it...).
        """
        planned = local_python(interpreter)
        self._ensure_python(planned)
        return planned.tag

    def cell_key(self, cell: Cell) -> str:
        """The content key of ``cell``'s image, without building it (:meth:`cell_image`'s).

        Raises:
            BuildError: no Python image for the cell's version.
            InfraError: the daemon failed.
        """
        return _cell_key(self.choice.python_for(cell.python), cell)

    def cell_image(self, cell: Cell) -> CellImage:
        """Return the image for ``cell``'s Python and pins, building it unless it exists.

        Pins are resolved first (uv on the host, wheels only), so a cell that cannot be built
        fails in seconds, before any image is made.

        Raises:
            BuildError: no Python for the cell, or its pins cannot be installed (one line, the
                same words as the venv backend).
            InfraError: Docker, uv or the package index failed.
        """
        python = self.choice.python_for(cell.python)
        key = _cell_key(python, cell)
        tag = f"driftmatrix/cell:{key[:16]}"
        with self._file_lock(f"cell-{key[:16]}"):
            with self._lock:
                reusable = not self.no_cache or key in self._fresh
            if reusable and self._exists(tag):
                return self._cell(tag, key, python, reused=True, seconds=0.0)
            started = time.monotonic()
            replaced = self._image_id(tag)
            self._clear_stale(f"cell-{key[:16]}-")
            scratch = Path(tempfile.mkdtemp(prefix=f"cell-{key[:16]}-", dir=self._scratch_root()))
            try:
                site = scratch / "site"
                site.mkdir()
                install_pins(self._uv_binary(), site, python, cell.packages)
                self._ensure_python(python)
                archive = scratch / "context.tar"
                write_cell_context(archive, python, site)
                shutil.rmtree(site)  # the tar has it; halve the disk this build holds
                labels = {
                    IMAGE_LABEL: "1",
                    f"{LABEL}.kind": "cell",
                    f"{LABEL}.key": key,
                    f"{LABEL}.pins": json.dumps(dict(sorted(cell.packages))),
                    f"{LABEL}.python": python.version,
                    f"{LABEL}.python-image": python.tag,
                    f"{LABEL}.platform": python.platform,
                }
                build_image(self.client, archive, tag, labels)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            if replaced is not None:
                self._remove_untagged(replaced)
            seconds = round(time.monotonic() - started, 3)
            # Still under the lock: a thread waiting for it must see the image as ours.
            with self._lock:
                self._fresh.add(key)
        return self._cell(tag, key, python, reused=False, seconds=seconds)

    def setup(self, pythons: Sequence[str], log: Log) -> list[str]:
        """Make sure the images for these Python versions exist (``driftmatrix docker setup``).

        Args:
            pythons: Versions such as ``["3.10", "3.11"]``.
            log: Receives a line per choice and per image built.

        Returns:
            The tags ready for use: the base (when a local Python image needs it), then one
            Python image per version.
        """
        previous, self._log = self._log, log
        try:
            tags: list[str] = []
            for request in pythons:
                python = self.choice.python_for(request)
                self._ensure_python(python)
                if python.source == "local" and base_tag() not in tags:
                    tags.insert(0, base_tag())
                tags.append(python.tag)
            return tags
        finally:
            self._log = previous

    # -- building Python images -------------------------------------------------------------

    def _ensure_python(self, python: PythonImage) -> None:
        """Build a planned local Python image unless it exists (registry images were pulled)."""
        if python.interpreter is None:
            return
        name = python.tag.rpartition(":")[2]
        with self._file_lock(f"python-{name}"):
            if self._exists(python.tag):
                return
            base = self.base_image()
            started = time.monotonic()
            self._clear_stale(f"python-{name}-")
            scratch = Path(tempfile.mkdtemp(prefix=f"python-{name}-", dir=self._scratch_root()))
            try:
                prefix = Path(python.python).parent.parent
                archive = scratch / "context.tar"
                write_python_context(archive, base, prefix, python.major_minor)
                labels = {
                    IMAGE_LABEL: "1",
                    f"{LABEL}.kind": "python",
                    f"{LABEL}.python": python.version,
                    f"{LABEL}.interpreter": python.python,
                    f"{LABEL}.base": base,
                }
                build_image(self.client, archive, python.tag, labels)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            self._say(f"built {python.tag} in {time.monotonic() - started:.0f} s")

    def _uv_binary(self) -> str:
        with self._lock:
            if self._uv is None:
                self._uv = find_uv()
            return self._uv

    # -- helpers ----------------------------------------------------------------------------

    def _cell(
        self, tag: str, key: str, python: PythonImage, *, reused: bool, seconds: float
    ) -> CellImage:
        return CellImage(
            tag=tag,
            python=python.python,
            python_version=python.version,
            reused=reused,
            build_seconds=seconds,
            key=key,
            python_image=python.tag,
            python_source=python.source,
        )

    def _exists(self, tag: str) -> bool:
        return self._image_id(tag) is not None

    def _image_id(self, tag: str) -> str | None:
        try:
            return str(self.client.images.get(tag).id)
        except ImageNotFound:
            return None
        except (DockerException, OSError) as exc:
            raise InfraError(f"the Docker daemon failed looking up {tag}: {one_line(exc)}") from exc

    def _remove_untagged(self, image_id: str) -> None:
        """Remove an image a rebuild (``no_cache``) took the tag from: a cell image is large.

        Best effort: it stays when a container still uses it or it is tagged elsewhere.
        """
        try:
            image = self.client.images.get(image_id)
            if not image.tags:
                self.client.images.remove(image_id)
        except (DockerException, OSError):
            pass

    def _say(self, line: str) -> None:
        if self._log is not None:
            self._log(line)
        else:
            _logger.info(line)

    def _scratch_root(self) -> Path:
        root = self._work / "tmp"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _clear_stale(self, prefix: str) -> None:
        """Remove scratch left by a builder that died (we hold the lock of that image)."""
        for stale in self._scratch_root().glob(f"{prefix}*"):
            shutil.rmtree(stale, ignore_errors=True)

    @contextlib.contextmanager
    def _file_lock(self, name: str) -> Iterator[None]:
        locks = self._work / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with locked(locks / f"{name}.lock"):
            yield


def _cell_key(python: PythonImage, cell: Cell) -> str:
    """The content key of a cell image (limits are not part of it: they apply at run time)."""
    doc = {
        "schema": SCHEMA,
        "python_image": python.ref,
        "pins": sorted([name, version] for name, version in cell.packages),
        "platform": python.platform,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
