"""Which Python a cell image is built on: the host's own interpreter, or ``python:X.Y-slim``.

A *local* Python image holds the very interpreter the venv backend runs (same build, same
path), so a docker cell and a venv cell compare bit for bit. A *registry* image is what users
of Docker expect where a registry answers, but it is another build of CPython. This module
describes both as a :class:`PythonImage`; :mod:`driftmatrix.backends.docker_images` decides
which one a cell gets and builds the local ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftmatrix.backends.docker_rootfs import base_tag
from driftmatrix.backends.interpreters import Interpreter
from driftmatrix.errors import BuildError

#: Bump when the recipe of Python images changes (docker_context.PYTHON_SETUP, the file
#: selection): every tag changes with it.
SCHEMA = 2  # 2: image label org.driftmatrix.image (containers inherit labels)


@dataclass(frozen=True)
class PythonImage:
    """The image a cell image is built FROM, and the interpreter in it.

    Attributes:
        tag: The image to build from (``driftmatrix/python:...`` or ``python:X.Y-slim``).
        ref: What identifies its content in cell keys: the tag of a local image (it is a
            content hash), the image id of a registry image (its tag moves).
        python: Path of the interpreter inside the image.
        version: Its full version, e.g. ``"3.11.7"``.
        source: ``"local"`` (the host's interpreter) or ``"registry"`` (``python:X.Y-slim``).
        site_packages: The interpreter's site-packages directory inside the image.
        interpreter: The host interpreter it is made from (local images only).
    """

    tag: str
    ref: str
    python: str
    version: str
    source: str
    site_packages: str
    interpreter: Interpreter | None = None

    @property
    def major_minor(self) -> str:
        """``"3.11"`` for ``"3.11.7"``."""
        return ".".join(self.version.split(".")[:2])


def local_python(interpreter: Interpreter) -> PythonImage:
    """Describe the Python image of a host interpreter: its tag and paths (nothing is built).

    The tag's hash covers the interpreter's path and version and the size and mtime of its
    binary and libpython, so a rebuilt host Python gets a new image; and the base image's tag.

    Raises:
        BuildError: the interpreter is not a self-contained installation that can be copied.
    """
    executable = Path(interpreter.executable)
    prefix = executable.parent.parent
    major_minor = ".".join(interpreter.version.split(".")[:2])
    stdlib = prefix / "lib" / f"python{major_minor}"
    python = prefix / "bin" / f"python{major_minor}"
    if not (stdlib / "os.py").is_file() or not python.is_file():
        raise BuildError(
            f"the Python {interpreter.version} at {executable} is not a self-contained "
            f"installation ({stdlib}/os.py or {python} is missing), so it cannot be copied "
            f"into an image; install one with pyenv or `uv python install {major_minor}`"
        )
    files = [python, *sorted(p.resolve() for p in (prefix / "lib").glob("libpython*"))]
    recipe = {
        "schema": SCHEMA,
        "base": base_tag(),
        "executable": str(executable),
        "version": interpreter.version,
        "files": [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files],
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    tag = f"driftmatrix/python:{interpreter.version}-{digest[:12]}"
    return PythonImage(
        tag=tag,
        ref=tag,
        python=str(python),
        version=interpreter.version,
        source="local",
        site_packages=str(stdlib / "site-packages"),
        interpreter=interpreter,
    )


def registry_python(image: Any, request: str) -> PythonImage:
    """Describe a pulled ``python:<request>-slim`` image (the Docker SDK's Image object).

    The official images install CPython under /usr/local and say its version in the
    ``PYTHON_VERSION`` variable of their configuration. Their site-packages holds pip (and
    setuptools/wheel on older tags); those come before a cell's site directory, so a cell
    pinning one of them gets the image's copy. Local images have an empty site-packages.

    Raises:
        KeyError, TypeError: the image's configuration is not what the official images have.
    """
    env = dict(item.split("=", 1) for item in image.attrs["Config"]["Env"] if "=" in item)
    version = env.get("PYTHON_VERSION", request)
    major_minor = ".".join(version.split(".")[:2])
    return PythonImage(
        tag=f"python:{request}-slim",
        ref=str(image.id),
        python=f"/usr/local/bin/python{major_minor}",
        version=version,
        source="registry",
        site_packages=f"/usr/local/lib/python{major_minor}/site-packages",
    )
