"""Build contexts for driftmatrix's images, written as tar files in Python, and building them.

Two contexts: a host interpreter's prefix (the Python image) and a directory of installed
packages (the cell image). Both are tarred with normalized owners and modes, because the
container runs as an unprivileged user (65534) that must be able to read everything, whatever
the umask of the host that wrote the files.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

import docker
from docker.errors import BuildError as DockerBuildError
from docker.errors import DockerException

from driftmatrix.backends.docker_engine import one_line
from driftmatrix.backends.docker_python import PythonImage
from driftmatrix.errors import InfraError

#: Where a cell's packages live inside its image.
SITE_DIR = "/opt/site"
#: Makes :data:`SITE_DIR` a *site* directory of the interpreter, as a venv's site-packages is:
#: ``.pth`` files in it are processed, and it comes after the standard library on sys.path (a
#: PYTHONPATH entry would come before it, so an old backport such as ``typing`` or ``enum34``
#: would shadow the standard library in a container but not in a venv).
SITE_PTH_NAME = "driftmatrix-site.pth"
SITE_PTH = f"import site; site.addsitedir({SITE_DIR!r})\n"
#: Docker builds of big contexts and compile steps take minutes, not the client's default 60 s.
BUILD_TIMEOUT = 1800
#: Standard library parts a cell never uses: tests (a third of the size), the static
#: libpython (for compiling extensions; cells install wheels only), and the host's bytecode
#: (compiled again in the image by the image's own interpreter).
_SKIP_DIRS = frozenset({"__pycache__", "test", "tests", "idle_test"})
_STATIC_LIB = re.compile(r"libpython.*\.a$")
_PYTHON_NAMES = re.compile(r"python(3(\.\d+)?)?$")
#: Run once by the interpreter being put into a Python image (as root, no network, Python 3.8+
#: syntax; argv[1] is its prefix).
PYTHON_SETUP = """\
import os, sys
# The modules cells rely on. An ImportError here means the host's interpreter does not fit the
# base image (a shared library missing there, or a host release unlike the base's): better a
# failed setup than a cell that reports an import-error the model is not to blame for.
import bz2, ctypes, decimal, hashlib, json, lzma, multiprocessing, pyexpat, sqlite3, ssl, zlib
import compileall, py_compile
prefix = sys.argv[1]
# The container's user (65534) must be able to reach the prefix (e.g. through /root, 0700).
parent = os.path.dirname(prefix)
while parent != os.path.dirname(parent):
    os.chmod(parent, os.stat(parent).st_mode | 0o755)
    parent = os.path.dirname(parent)
# Read-only containers cannot cache bytecode, so compile the standard library here, with this
# very interpreter; unchecked-hash pycs, because the image's files never change.
compileall.compile_dir(
    os.path.join(prefix, "lib", "python%d.%d" % sys.version_info[:2]), quiet=2, workers=0,
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
)
"""


def normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Root-owned, world-readable, no set-id bits: what every image file here should be."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if info.isdir() or (info.isfile() and info.mode & 0o111):
        info.mode = 0o755
    elif info.isfile():
        info.mode = 0o644
    return info


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    """Add a regular file with ``data`` as ``name``."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def add_dirs(tar: tarfile.TarFile, path: PurePosixPath) -> None:
    """Add ``path`` and each of its parents as a 0755 directory entry.

    Why: ``COPY`` creates missing parents of a copied tree; explicit entries make their modes
    ours (readable by the container's user) instead of the builder's default.
    """
    parts = path.parts
    for depth in range(1, len(parts) + 1):
        info = tarfile.TarInfo("/".join(parts[:depth]))
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)


def interpreter_files(prefix: Path, major_minor: str) -> Iterator[Path]:
    """The files of a self-contained interpreter installation that a cell needs.

    Yields ``bin/pythonX.Y`` (and its ``python``/``python3`` links), ``lib/libpython*`` and the
    standard library, without site-packages' contents, tests, bytecode and the static library.
    Directories are yielded too (site-packages empty: ``site`` only adds directories that exist).

    Args:
        prefix: The installation prefix, e.g. ``/root/.pyenv/versions/3.11.7``.
        major_minor: ``"3.11"``.
    """
    yield prefix
    yield prefix / "bin"
    for entry in sorted((prefix / "bin").iterdir()):
        if _PYTHON_NAMES.fullmatch(entry.name) and (entry.is_symlink() or entry.is_file()):
            yield entry
    lib = prefix / "lib"
    yield lib
    yield from sorted(lib.glob("libpython*"))
    stdlib = lib / f"python{major_minor}"
    for root, dirs, files in os.walk(stdlib):
        here = Path(root)
        yield here
        if here.name == "site-packages" and here.parent == stdlib:
            dirs.clear()
            continue
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            if not _STATIC_LIB.match(name):
                yield here / name


def write_python_context(archive: Path, base: str, prefix: Path, major_minor: str) -> None:
    """Write the build context of a Python image: the interpreter at its own path, on ``base``.

    The interpreter keeps exactly its host path, because pyenv builds carry an absolute RUNPATH
    to their ``lib`` directory. The RUN step runs :data:`PYTHON_SETUP` with that interpreter.
    """
    python = prefix / "bin" / f"python{major_minor}"
    search_path = f"{prefix / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    dockerfile = "\n".join(
        [
            f"FROM {base}",
            "COPY rootfs/ /",
            f"ENV PATH={search_path}",  # for people who debug in the image; cells use full paths
            "RUN " + json.dumps([str(python), "-I", "-c", PYTHON_SETUP, str(prefix)]),
            "",
        ]
    )
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        add_bytes(tar, "Dockerfile", dockerfile.encode())
        add_dirs(tar, PurePosixPath("rootfs") / PurePosixPath(prefix).relative_to("/").parent)
        for path in interpreter_files(prefix, major_minor):
            arcname = "rootfs" + str(path)
            tar.add(str(path), arcname=arcname, recursive=False, filter=normalize)


def write_cell_context(archive: Path, python: PythonImage, site: Path) -> None:
    """Write the build context of a cell image: ``site`` as :data:`SITE_DIR` on ``python``'s image.

    The RUN step compiles the packages' bytecode with the image's interpreter: the image is
    read-only when it runs, so without it every run would compile every module again (4 s and
    20 MB more to import scikit-learn). Unchecked-hash pycs: the files can never change. An
    image whose standard library ships without bytecode (the official images) gets it compiled
    too, as root (its own ``USER`` may not be allowed to write there).
    """
    targets = [python.compile_stdlib, SITE_DIR] if python.compile_stdlib else [SITE_DIR]
    compile_script = (
        "import compileall, py_compile\n"
        f"for path in {targets!r}:\n"
        "    compileall.compile_dir(path, quiet=2, workers=0, "
        "invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)"
    )
    # For local Python images (root, stdlib compiled) this does what SCHEMA 2 did: their cell
    # keys stay valid. An image's own USER may not write where the RUN step writes.
    lines = [
        f"FROM {python.tag}",
        "USER 0",
        f"COPY site {SITE_DIR}",
        f"COPY {SITE_PTH_NAME} {python.site_packages}/{SITE_PTH_NAME}",
        # Exit 0 whatever compileall says: a file it cannot compile (Python 2 syntax in
        # some package's test data) is imported from source or never, as in a venv.
        "RUN " + json.dumps([python.python, "-I", "-c", compile_script]),
        "",
    ]
    dockerfile = "\n".join(lines)
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        add_bytes(tar, "Dockerfile", dockerfile.encode())
        add_bytes(tar, SITE_PTH_NAME, SITE_PTH.encode())
        tar.add(str(site), arcname="site", filter=normalize)


def build_image(
    client: docker.DockerClient, archive: Path, tag: str, labels: Mapping[str, str]
) -> None:
    """Build ``tag`` from the context tar ``archive`` with the Docker SDK.

    RUN steps get no network (they only compile and check), and intermediate containers are
    removed even when a step fails.

    Raises:
        InfraError: the daemon failed or a build step failed (its last output line).
    """
    try:
        with open(archive, "rb") as context:
            client.images.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                labels=dict(labels),
                rm=True,
                forcerm=True,
                pull=False,
                network_mode="none",
                timeout=BUILD_TIMEOUT,
            )
    except DockerBuildError as exc:
        output = "".join(
            str(chunk.get("stream", "")) for chunk in exc.build_log if isinstance(chunk, dict)
        )
        detail = [line.strip() for line in output.splitlines() if line.strip()]
        tail = f" (last output: {detail[-1][:200]})" if detail else ""
        raise InfraError(f"docker build of {tag} failed: {one_line(exc)}{tail}") from exc
    except (DockerException, OSError) as exc:
        raise InfraError(f"docker build of {tag} failed: {one_line(exc)}") from exc
