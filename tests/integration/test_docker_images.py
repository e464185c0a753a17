"""Real image builds for the docker backend (a real daemon; uv reaches the package index).

Images are cached by tag under a dedicated driftmatrix cache, so the base image (a minute of
debootstrap) and the Python images are built on the first run only; the cell image of the
reuse test is rebuilt on every run (``no_cache``) so that building is really tested.
Containers here run as the docker backend runs cells: user 65534, no network, read-only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from realparts import missing

from driftmatrix.backends import docker_engine
from driftmatrix.backends.docker_images import CellImage, Images
from driftmatrix.backends.docker_python import wheel_platform
from driftmatrix.backends.docker_rootfs import PACKAGES, base_tag
from driftmatrix.backends.interpreters import find_interpreter
from driftmatrix.cells import Cell, make_id
from driftmatrix.errors import BuildError, InfraError
from driftmatrix.limits import Limits

pytestmark = pytest.mark.docker

CACHE = Path.home() / ".cache" / "driftmatrix-tests" / "docker"


def cell(python: str, **pins: str) -> Cell:
    packages = tuple(sorted((name.replace("_", "-"), version) for name, version in pins.items()))
    return Cell(id=make_id(python, packages, Limits()), python=python, packages=packages)


SKLEARN_152 = cell("3.11", scikit_learn="1.5.2", numpy="1.26.4")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    try:
        connected = docker_engine.connect()
    except InfraError:
        missing("no Docker daemon")
    yield connected
    connected.close()


@pytest.fixture(scope="module")
def images(client: Any) -> Images:
    """Local Python images only: these tests are about what driftmatrix builds itself."""
    return Images(client, CACHE, python_source="local")


def hardened(client: Any, image: str, *argv: str) -> str:
    """Run ``argv`` in ``image`` as a cell runs (user 65534, no network, read-only); stdout."""
    output = client.containers.run(
        image,
        list(argv),
        user="65534:65534",
        network_mode="none",
        read_only=True,
        remove=True,
        stdout=True,
        stderr=False,
    )
    return bytes(output).decode()


def test_base_image_is_debian_with_the_interpreters_libraries(images: Images, client: Any) -> None:
    tag = images.base_image()
    assert tag == base_tag() and tag.startswith("driftmatrix/base:bookworm-")
    image = client.images.get(tag)
    assert image.labels["org.driftmatrix.image"] == "1"
    assert image.labels["org.driftmatrix.kind"] == "base"
    assert "LANG=C.UTF-8" in image.attrs["Config"]["Env"]

    libraries = hardened(client, tag, "/sbin/ldconfig", "-p")
    for soname in ("libssl.so.3", "libffi.so.8", "libsqlite3.so.0", "libgomp.so.1", "libz.so.1"):
        assert soname in libraries
    assert "bookworm" in hardened(client, tag, "cat", "/etc/os-release")
    installed = hardened(client, tag, "dpkg-query", "-W", "-f", "${Package}\n").split()
    assert set(PACKAGES) <= set(installed)
    # Trimmed: no downloaded .debs or package lists are shipped in every cell image.
    assert hardened(client, tag, "sh", "-c", "ls /var/cache/apt/archives/*.deb | wc -l") == "0\n"

    started = time.monotonic()
    assert images.base_image() == tag
    assert time.monotonic() - started < 2


# Every extension module of the host interpreter must import in the image too (only the GUI's
# is not provided), else a cell could report an import-error that is the image's fault.
_EXTENSIONS = """
import importlib, json, os, sys
dynload = os.path.join(sys.prefix, "lib", "python%d.%d" % sys.version_info[:2], "lib-dynload")
failed = {}
for name in sorted(f.split(".")[0] for f in os.listdir(dynload)):
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed[name] = str(exc)
print(json.dumps({"version": sys.version.split()[0], "failed": failed, "path": sys.path}))
"""


@pytest.mark.parametrize("python", ["3.11", "3.8"])
def test_python_image_runs_the_hosts_interpreter_as_nobody(
    images: Images, client: Any, python: str
) -> None:
    interpreter = find_interpreter(python)
    tag = images.python_image(interpreter)
    assert tag.startswith(f"driftmatrix/python:{interpreter.version}-")
    labels = client.images.get(tag).labels
    assert labels["org.driftmatrix.image"] == "1" and labels["org.driftmatrix.kind"] == "python"
    # Containers inherit image labels: a run's container label must not come with the image.
    assert "org.driftmatrix" not in labels

    # The very binary of the host, at its own path (its RUNPATH is absolute).
    exe = interpreter.executable
    assert hardened(client, tag, exe, "-c", "import ssl, sqlite3, ctypes; print('ok')") == "ok\n"
    report = json.loads(hardened(client, tag, exe, "-I", "-c", _EXTENSIONS))
    assert report["version"] == interpreter.version
    assert set(report["failed"]) <= {"_tkinter"}, report["failed"]

    # Nothing of the host's site-packages or its console scripts came along; bytecode did.
    prefix = str(Path(exe).parent.parent)
    minor = ".".join(interpreter.version.split(".")[:2])
    listing = hardened(
        client,
        tag,
        "sh",
        "-c",
        f"ls {prefix}/bin; echo --; ls -A {prefix}/lib/python{minor}/site-packages; echo --; "
        f"ls {prefix}/lib/python{minor}/__pycache__ | grep -c '^os\\.'",
    )
    scripts, site_packages, os_pycs = listing.split("--\n")
    assert set(scripts.split()) <= {"python", "python3", f"python{minor}"}
    assert site_packages == ""
    assert os_pycs.strip() == "1"  # one compiled os.py (no host opt-1/opt-2 copies)


def test_cell_image_is_built_once_then_reused(client: Any) -> None:
    lines: list[str] = []
    # no_cache: a real build on every test run, whatever an earlier run left.
    fresh = Images(client, CACHE, no_cache=True, python_source="local", log=lines.append)
    results: list[CellImage] = []
    errors: list[BaseException] = []

    def provision() -> None:
        try:
            results.append(fresh.cell_image(SKLEARN_152))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=provision) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    # Two threads asked at once: one built it, the other waited and reused it.
    assert sorted(image.reused for image in results) == [False, True]
    built = next(image for image in results if not image.reused)
    assert built.build_seconds > 0 and built.tag == f"driftmatrix/cell:{built.key[:16]}"
    assert built.python_version.startswith("3.11.") and built.python_source == "local"
    assert any("local image" in line for line in lines)  # the choice of Python is reported
    assert not list((CACHE / "docker" / "tmp").glob(f"cell-{built.key[:16]}-*"))

    labels = client.images.get(built.tag).labels
    assert labels["org.driftmatrix.image"] == "1" and labels["org.driftmatrix.kind"] == "cell"
    assert json.loads(labels["org.driftmatrix.pins"]) == SKLEARN_152.pins
    assert labels["org.driftmatrix.python"] == built.python_version
    assert labels["org.driftmatrix.platform"] == wheel_platform()

    # Imports under the cell's constraints, with no PYTHONPATH: /opt/site is a site directory
    # that comes after the standard library, as a venv's site-packages does.
    code = (
        "import json, sys, sklearn, numpy; "
        "print(json.dumps([sklearn.__version__, numpy.__version__, sys.path]))"
    )
    sklearn_version, numpy_version, path = json.loads(
        hardened(client, built.tag, built.python, "-s", "-B", "-c", code)
    )
    assert (sklearn_version, numpy_version) == ("1.5.2", "1.26.4")
    assert path.index(built.site) > max(i for i, p in enumerate(path) if p.endswith("lib-dynload"))
    # Bytecode was compiled into the image: a read-only container cannot cache it.
    verbose = client.containers.run(
        built.tag,
        [built.python, "-s", "-B", "-v", "-c", "import sklearn"],
        user="65534:65534",
        network_mode="none",
        read_only=True,
        remove=True,
        stdout=False,
        stderr=True,
    ).decode()
    assert "code object from '/opt/site/sklearn/__pycache__/__init__.cpython-311.pyc'" in verbose

    started = time.monotonic()
    again = Images(client, CACHE, python_source="local").cell_image(SKLEARN_152)
    assert again.reused and again.build_seconds == 0 and again.tag == built.tag
    assert time.monotonic() - started < 5


def test_nonexistent_version_is_a_one_line_build_error(images: Images) -> None:
    started = time.monotonic()
    with pytest.raises(BuildError) as info:
        images.cell_image(cell("3.11", scikit_learn="0.0.1"))
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert "scikit-learn==0.0.1 does not exist on the package index" in message
    assert time.monotonic() - started < 60  # resolved before any image is built
    assert not list((CACHE / "docker" / "tmp").glob("cell-*"))


def test_no_wheel_for_that_python_is_a_build_error(images: Images) -> None:
    with pytest.raises(BuildError) as info:
        images.cell_image(cell("3.12", scikit_learn="1.2.2", numpy="1.26.4"))
    message = str(info.value)
    assert "\n" not in message and message.startswith("Python 3.12.")
    assert "scikit-learn==1.2.2 has no wheel for this Python and platform" in message


def test_the_python_source_is_chosen_explicitly_and_reported(client: Any) -> None:
    lines: list[str] = []
    images = Images(client, CACHE, python_source="auto")
    tags = images.setup(["3.11"], lines.append)
    pulled = images.choice.registry_image("3.11")  # tried once: the answer is remembered
    if pulled is None:  # no registry (as where driftmatrix is developed): local, and why
        assert tags == [base_tag(), images.python_image(find_interpreter("3.11"))]
        assert any("could not be pulled" in line and "local image" in line for line in lines)
        with pytest.raises(InfraError, match="could not be pulled"):
            Images(client, CACHE, python_source="registry").setup(["3.11"], lines.append)
    else:
        assert tags == ["python:3.11-slim"]
        assert any("registry image python:3.11-slim" in line for line in lines)
    assert images.choice.notes == [line for line in lines if line.startswith("Python 3.11:")]


def test_no_daemon_is_a_one_line_infra_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    started = time.monotonic()
    assert not docker_engine.available()
    with pytest.raises(InfraError) as info:
        docker_engine.connect()
    message = str(info.value)
    assert "\n" not in message
    assert "no Docker daemon answers at unix:///nonexistent/docker.sock" in message
    assert "--backend venv" in message
    assert time.monotonic() - started < 5


def test_a_daemon_that_cannot_start_is_a_one_line_infra_error(
    client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ensure_engine's start path, safely: a second dockerd refuses to start beside ours.

    Needs the running daemon (``client``): its pid file is what makes the second one exit.
    """
    if Path("/run/systemd/system").is_dir():
        pytest.skip("systemd starts the daemon here; this tests the detached dockerd path")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    lines: list[str] = []
    with pytest.raises(InfraError) as info:
        docker_engine.ensure_engine(lines.append, cache_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    if os.geteuid() == 0:  # it tried: started dockerd, which exited (the running one's pid file)
        assert any(line.startswith("starting the Docker daemon") for line in lines)
        assert "dockerd exited right after starting" in message and "pid file" in message
        assert (tmp_path / "docker" / "dockerd.log").is_file()
    else:  # it must not try, and says who can
        assert "no Docker daemon answers" in message and "as root" in message
