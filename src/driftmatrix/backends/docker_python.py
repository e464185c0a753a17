"""Which Python a cell image is built on: the host's own interpreter, or an existing image.

A *local* Python image holds the very interpreter the venv backend runs (same build, same
path), so a docker cell and a venv cell compare bit for bit. A *registry* image
(``python:X.Y-slim``) is what users of Docker expect where a registry answers, and a *matrix*
image is one the matrix names in ``[docker.images]`` (say, the production image); both are
other builds of CPython, found by running the image's own interpreter once
(:func:`probe_image`). This module describes all three as a :class:`PythonImage`;
:mod:`driftmatrix.backends.python_choice` decides which one a cell gets.
"""

from __future__ import annotations

import hashlib
import json
import platform
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException

from driftmatrix.backends.docker_engine import one_line
from driftmatrix.backends.docker_profile import CONTAINER_USER
from driftmatrix.backends.docker_rootfs import GLIBC, base_tag
from driftmatrix.backends.interpreters import Interpreter
from driftmatrix.backends.leftovers import OWNER_LABEL, owner
from driftmatrix.errors import BuildError, InfraError

#: Bump when the recipe of Python images changes (docker_context.PYTHON_SETUP, the file
#: selection): every tag changes with it.
SCHEMA = 2  # 2: image label org.driftmatrix.image (containers inherit labels)
#: Names tried, in order, to find an image's interpreter on its PATH ({} is "3.11").
CANDIDATES = ("python{}", "python3", "python")
#: Run by an image's interpreter (any Python 3; its version is checked afterwards): where it
#: is, what it is, where a .pth file is processed, whether its standard library is compiled.
PROBE = """\
import importlib.util, json, os, platform, site, sys, sysconfig
paths = sysconfig.get_paths()
sites = site.getsitepackages() if hasattr(site, "getsitepackages") else []
print(json.dumps({
    "executable": sys.executable,
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "site": paths["purelib"] if paths["purelib"] in sites or not sites else sites[0],
    "stdlib": paths["stdlib"],
    "compiled": os.path.exists(importlib.util.cache_from_source(os.__file__)),
    "libc": list(platform.libc_ver()),
}))
"""
_PROBE_TIMEOUT = 120
_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


@dataclass(frozen=True)
class PythonImage:
    """The image a cell image is built FROM, and the interpreter in it.

    Attributes:
        tag: The image to build from (``driftmatrix/python:...`` or ``python:X.Y-slim``).
        ref: What identifies its content in cell keys: the tag of a local image (it is a
            content hash), the image id of a registry image (its tag moves).
        python: Path of the interpreter inside the image.
        version: Its full version, e.g. ``"3.11.7"``.
        source: ``"local"`` (the host's interpreter), ``"registry"`` (``python:X.Y-slim``) or
            ``"matrix"`` (named in the matrix's ``[docker.images]``).
        site_packages: A site directory of the interpreter inside the image (``.pth`` files in
            it are processed).
        platform: uv's ``--python-platform`` for the image's wheels (arch and glibc).
        interpreter: The host interpreter it is made from (local images only).
        compile_stdlib: The standard library's directory when the image ships it without
            bytecode (the official images delete it); cell images compile it, because a
            read-only container would compile it again in every run.
    """

    tag: str
    ref: str
    python: str
    version: str
    source: str
    site_packages: str
    platform: str = ""
    interpreter: Interpreter | None = None
    compile_stdlib: str = ""

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
        platform=wheel_platform(),
        interpreter=interpreter,
    )


def wheel_platform(glibc: str = GLIBC) -> str:
    """uv's ``--python-platform`` for an image: this machine's arch and the image's glibc.

    Why explicit: wheels are resolved on the host, whose glibc may be newer than the image's;
    a wheel built for the host's glibc would install here and fail to load there.

    Args:
        glibc: The image's glibc as a manylinux tag part, ``"2_36"`` (the base image's).

    Raises:
        InfraError: the machine is neither x86_64 nor aarch64.
    """
    machine = platform.machine().lower()
    if machine not in _ARCHES:
        raise InfraError(f"docker images for {machine} machines are not supported; use venv")
    return f"{_ARCHES[machine]}-manylinux_{glibc}"


def probe_image(client: docker.DockerClient, image: str, request: str, source: str) -> PythonImage:
    """Find the CPython ``request`` in an image that exists locally, by running it once.

    The interpreter runs as the cells will (user 65534, no network, read-only, no
    capabilities), so an image whose Python the cells' user cannot run fails here, in one
    line, and not in every cell.

    Args:
        client: A connected Docker client.
        image: The image reference (it must be present: pulled or built before).
        request: The cells' Python version, ``"3.11"`` or ``"3.11.7"``.
        source: ``"registry"`` or ``"matrix"``, recorded in the result.

    Raises:
        BuildError: no such interpreter in the image, another version, not CPython, not glibc.
        InfraError: the daemon failed.
    """
    try:
        ident = str(client.images.get(image).id)
    except (DockerException, OSError) as exc:
        raise InfraError(f"the Docker daemon failed looking up {image}: {one_line(exc)}") from exc
    major_minor = ".".join(request.split(".")[:2])
    tried: list[str] = []
    for name in (candidate.format(major_minor) for candidate in CANDIDATES):
        found = _run_probe(client, image, name)
        if isinstance(found, str):
            tried.append(f"{name}: {found}")
            continue
        facts = found
        break
    else:
        raise BuildError(
            f"Python {request}: image {image} has no Python the cells can run "
            f"({'; '.join(tried)[:300]}); put python{major_minor} on its PATH or map "
            f"Python {request} to another image"
        )
    version = str(facts["version"])
    if facts.get("implementation") != "CPython" or not (
        version == request or version.startswith(request + ".")
    ):
        raise BuildError(
            f"Python {request}: image {image} has {facts.get('implementation')} {version} at "
            f"{facts['executable']}, not CPython {request}; map Python {request} to an image "
            f"that has it"
        )
    libc, libc_version = [*list(facts.get("libc") or []), "", ""][:2]
    if libc != "glibc" or not libc_version:
        raise BuildError(
            f"Python {request}: image {image} is not a glibc system (musl or unknown libc): "
            f"driftmatrix installs manylinux wheels only; use a Debian- or Ubuntu-based image"
        )
    return PythonImage(
        tag=image,
        ref=ident,
        python=str(facts["executable"]),
        version=version,
        source=source,
        site_packages=str(facts["site"]),
        platform=wheel_platform("_".join(str(libc_version).split(".")[:2])),
        compile_stdlib="" if facts.get("compiled") else str(facts["stdlib"]),
    )


def _run_probe(client: docker.DockerClient, image: str, name: str) -> dict[str, Any] | str:
    """Run :data:`PROBE` with ``name`` looked up on the image's PATH; its facts or why not."""
    container_name = f"driftmatrix-probe-{uuid.uuid4().hex[:12]}"
    try:
        container = client.containers.create(
            image,
            name=container_name,
            entrypoint=[name],
            command=["-I", "-c", PROBE],
            user=CONTAINER_USER,
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            labels={
                "org.driftmatrix": "1",
                "org.driftmatrix.probe": "python",
                OWNER_LABEL: owner(),
            },
        )
        try:
            try:
                container.start()
            except docker.errors.APIError as exc:  # not on PATH, not executable for 65534
                return _start_failure(str(exc.explanation or exc))
            status = container.wait(timeout=_PROBE_TIMEOUT)
            output = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
            errors = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
        finally:
            container.remove(force=True)
    except (DockerException, OSError) as exc:
        # requests' ReadTimeout is an OSError too: an interpreter that hangs for two minutes.
        raise InfraError(f"probing the Python of image {image} failed: {one_line(exc)}") from exc
    if status.get("StatusCode") != 0:
        tail = " ".join(errors.split())[-160:]
        return f"exit {status.get('StatusCode')}" + (f" ({tail})" if tail else "")
    try:
        facts = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"unexpected output {output.strip()[-80:]!r}"
    return facts if isinstance(facts, dict) else f"unexpected output {output.strip()[-80:]!r}"


def _start_failure(message: str) -> str:
    """Say in a few words why runc could not start a candidate (its messages run long)."""
    if "executable file not found" in message or "no such file or directory" in message:
        return "not on its PATH"
    if "permission denied" in message:
        return f"not executable by user {CONTAINER_USER}"
    return " ".join(message.split())[-120:]
