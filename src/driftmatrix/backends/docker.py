"""The docker backend: one hardened container per cell, limits enforced by the kernel.

Composition only: images come from :mod:`docker_images` (pins resolved and downloaded on the
host with uv, installed offline into an image per pinned set, tagged by content), containers
from :mod:`docker_run` (no network, read-only, non-root, classified from the daemon's facts).
The in-cell runner is the same code as with venv, so results compare across backends.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftmatrix.backends import docker_engine
from driftmatrix.backends.base import Environment, Execution, Invocation
from driftmatrix.backends.docker_images import Images
from driftmatrix.backends.docker_run import (
    CELL_LABEL,
    RUN_LABEL,
    remove_containers,
    run_container,
    sweep_containers,
)
from driftmatrix.cells import Cell
from driftmatrix.dockerspec import DockerSpec
from driftmatrix.errors import InfraError


def _stderr(line: str) -> None:
    # Which Python image a cell got (registry or local build) is a choice made for the user;
    # say it where they read progress.
    print(f"driftmatrix: {line}", file=sys.stderr, flush=True)


class DockerBackend:
    """Runs every cell in its own container.

    Args:
        cache_dir: Where build contexts and logs are kept.
        no_cache: Rebuild cell images instead of reusing them by tag.
        docker: The matrix's ``[docker]`` table: which image each Python version starts from.
        log: Where notes go while cells run (which image a cell got, containers swept); the
            command's progress display, so they never garble it. Default: stderr.
    """

    name = "docker"

    def __init__(
        self,
        cache_dir: Path,
        no_cache: bool = False,
        docker: DockerSpec | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self._log = log or _stderr
        self.no_cache = no_cache
        self.docker = docker or DockerSpec()
        self._lock = threading.Lock()
        self._client: Any = None
        self._images: Images | None = None
        self._cancelled = threading.Event()
        self._run_id = uuid.uuid4().hex[:12]

    def _connected(self) -> tuple[Any, Images]:
        # Connect lazily: a matrix whose docker cells are all filtered out never needs a daemon.
        with self._lock:
            if self._client is None or self._images is None:
                self._client = docker_engine.connect()
                # Containers of a harness killed with -9 run on unwatched: the next run ends them.
                with contextlib.suppress(InfraError):
                    swept = sweep_containers(self._client)
                    if swept:
                        self._log(f"removed {swept} container(s) left by a run that was killed")
                self._images = Images(
                    self._client,
                    self.cache_dir,
                    no_cache=self.no_cache,
                    python_source=self.docker.source,
                    python_images=dict(self.docker.images),
                    log=self._log,
                )
            return self._client, self._images

    def identify(self, cell: Cell) -> str:
        """The content key of ``cell``'s image (its Python image, pins, platform); the Python
        image is chosen (once per version) but nothing is built."""
        _, images = self._connected()
        return images.cell_key(cell)

    def provision(self, cell: Cell) -> Environment:
        """Build (or reuse by content tag) the image for ``cell``'s Python and pins."""
        _, images = self._connected()
        image = images.cell_image(cell)
        return Environment(
            backend=self.name,
            key=image.key,
            python=image.python,
            python_version=image.python_version,
            location=image.tag,
            reused=image.reused,
            build_seconds=image.build_seconds,
            base=f"{image.python_image} ({image.python_source})",
        )

    def run(self, env: Environment, invocation: Invocation) -> Execution:
        """Run the runner once in a fresh hardened container of ``env``'s image."""
        if self._cancelled.is_set():
            raise InfraError("the run was cancelled")
        client, _ = self._connected()
        labels = {RUN_LABEL: self._run_id, CELL_LABEL: str(invocation.job.get("cell", ""))}
        return run_container(
            client,
            image=env.location,
            python=env.python,
            invocation=invocation,
            labels=labels,
            cancel=self._cancelled,
        )

    def cancel(self) -> None:
        """Kill and remove every container this backend started that is still there."""
        self._cancelled.set()
        if self._client is not None:
            # A daemon that is gone cannot run anything of ours any more: nothing to remove.
            with contextlib.suppress(InfraError):
                remove_containers(self._client, {RUN_LABEL: self._run_id})
