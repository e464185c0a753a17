"""The local base image: a minimal Debian root filesystem made with debootstrap, imported as is.

Where no image registry is reachable (as on the machines driftmatrix was built on) there is no
``FROM debian`` to start from, but Debian's package mirrors are reachable: debootstrap builds a
``minbase`` root with the shared libraries CPython's extension modules link against, and
``docker import`` turns it into an image. The Python interpreters are added on top
(:mod:`driftmatrix.backends.docker_images`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

import docker
from docker.errors import DockerException

from driftmatrix.backends.commands import run_tool
from driftmatrix.backends.docker_engine import Log, apt_install, last_line, one_line
from driftmatrix.errors import InfraError

#: Bump when the recipe below changes in a way the package list does not show.
SCHEMA = 2  # 2: image label org.driftmatrix.image (containers inherit labels)
#: The Debian release of the base. Its glibc decides which wheels fit (:data:`GLIBC`), and the
#: host interpreters copied onto it were built against the same release's libraries.
SUITE = "bookworm"
#: glibc of :data:`SUITE` as a manylinux tag: wheels newer than this would not load in the image.
GLIBC = "2_36"
#: The shared libraries of CPython's extension modules (ssl, sqlite3, ctypes, bz2, lzma, zlib,
#: curses, readline, uuid, dbm, pyexpat, nis), libgomp for scikit-learn's OpenMP, CA
#: certificates and time zones for code that asks for them. Every extension module of the host
#: interpreters then imports in the image, except _tkinter (a GUI has no place in a cell).
PACKAGES = (
    "ca-certificates",
    "libbz2-1.0",
    "libexpat1",
    "libffi8",
    "libgdbm6",
    "libgomp1",
    "liblzma5",
    "libncursesw6",
    "libnsl2",
    "libreadline8",
    "libsqlite3-0",
    "libssl3",
    "libuuid1",
    "tzdata",
    "zlib1g",
)
#: Overridable for hosts that must use a local mirror of Debian.
MIRROR_VARIABLE = "DRIFTMATRIX_DEBIAN_MIRROR"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_DEBOOTSTRAP_TIMEOUT = 1800.0
#: Left out of the image: downloaded .debs, apt's package lists, manuals and translations.
#: Nothing in a cell reads them, and they are a third of minbase's size.
_DROP = re.compile(
    r"^(var/cache/apt/archives/[^/]+\.deb"
    r"|var/lib/apt/lists/[^/]+"
    r"|usr/share/man/.+"
    r"|usr/share/locale/.+"
    r"|usr/share/doc/[^/]+/(?!copyright$).+)$"  # licences stay
)


def base_tag() -> str:
    """The tag of the base image: the release plus a hash of what goes into it."""
    recipe = {"schema": SCHEMA, "suite": SUITE, "variant": "minbase", "packages": PACKAGES}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    return f"driftmatrix/base:{SUITE}-{digest[:12]}"


def build_base(client: docker.DockerClient, tag: str, scratch: Path, log: Log) -> None:
    """Build the base image ``tag`` with debootstrap and import it into the daemon.

    Args:
        client: A connected Docker client.
        tag: ``repository:tag`` to give the image (from :func:`base_tag`).
        scratch: A directory for the root filesystem and its tar (about 250 MB, removed after).
        log: Receives a line per step.

    Raises:
        InfraError: we are not root (debootstrap creates device nodes and root-owned files),
            debootstrap is missing and cannot be installed, it fails, or the import fails.
    """
    if os.geteuid() != 0:
        raise InfraError(
            f"building the base image {tag} needs root (debootstrap); run "
            f"`driftmatrix docker setup` as root once, or use --backend venv"
        )
    debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin")
    if debootstrap is None:
        apt_install(["debootstrap"], log, why="debootstrap is needed to build the base image")
        debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="base-", dir=scratch))
    try:
        rootfs = work / "rootfs"
        mirror = os.environ.get(MIRROR_VARIABLE) or DEFAULT_MIRROR
        log(f"building {tag}: debootstrap {SUITE} from {mirror} (about a minute)")
        command = [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(rootfs),
            mirror,
        ]
        result = run_tool(command, timeout=_DEBOOTSTRAP_TIMEOUT, what="debootstrap")
        if result.returncode != 0:
            # debootstrap's own log inside the target says more than its terse stderr.
            detail = result.stderr + result.stdout
            with_log = rootfs / "debootstrap" / "debootstrap.log"
            if with_log.is_file():
                detail = with_log.read_text(errors="replace")
            raise InfraError(f"debootstrap {SUITE} failed: {last_line(detail)}")
        archive = work / "rootfs.tar"
        _write_rootfs_tar(rootfs, archive)
        log(f"building {tag}: importing the root filesystem into Docker")
        _import(client, archive, tag)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_rootfs_tar(rootfs: Path, archive: Path) -> None:
    """Tar ``rootfs`` as ``docker import`` wants it (paths relative to /), minus :data:`_DROP`.

    Owners are kept numerically (the image's own /etc/passwd gives them meaning, not ours),
    and so are device nodes and hard links, which tarfile records like tar(1) does.
    """

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        name = info.name.removeprefix("./")
        if _DROP.match(name):
            return None
        info.uname = info.gname = ""  # numeric ids only: our user names are not the image's
        return info

    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(str(rootfs), arcname=".", filter=keep)


def _import(client: docker.DockerClient, archive: Path, tag: str) -> None:
    repository, _, version = tag.rpartition(":")
    labels = (
        f'LABEL org.driftmatrix.image="1" org.driftmatrix.kind="base"'
        f' org.driftmatrix.suite="{SUITE}"'
        f' org.driftmatrix.packages="{",".join(PACKAGES)}"'
    )
    try:
        # A path (not a file object): the SDK then streams it without a timeout.
        answer = client.api.import_image(
            src=str(archive),
            repository=repository,
            tag=version,
            changes=["ENV LANG=C.UTF-8", labels],
        )
    except (DockerException, OSError) as exc:
        raise InfraError(f"docker import of {tag} failed: {one_line(exc)}") from exc
    # The daemon reports some failures inside a 200 answer rather than as an HTTP error.
    for line in str(answer).splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("error"):
            raise InfraError(f"docker import of {tag} failed: {message['error']}")
