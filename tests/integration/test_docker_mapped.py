"""Docker cells on images the matrix names (``[docker.images]``), on a real daemon.

No registry is reachable where driftmatrix is tested, so the "official-like" image is built
here from the local Python image of 3.10 (tests/data/docker/mapped-python/Dockerfile): the
interpreter on PATH as /usr/local/bin/python3.10, a standard library without bytecode, a
non-root USER. What matters is that driftmatrix finds and uses the interpreter of an image it
did not build, and says so.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from realparts import missing

from driftmatrix.backends import docker_engine
from driftmatrix.backends.docker_images import Images
from driftmatrix.backends.docker_python import probe_image
from driftmatrix.backends.interpreters import find_interpreter
from driftmatrix.cli import main
from driftmatrix.errors import BuildError

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "tests" / "data" / "matrices" / "docker" / "mapped.toml"
CONTEXT = ROOT / "tests" / "data" / "docker" / "mapped-python"
MAPPED = "driftmatrix-test/mapped-python:3.10"
CACHE = Path.home() / ".cache" / "driftmatrix-tests" / "docker"


@pytest.fixture(scope="module")
def client() -> Any:
    if not docker_engine.available():
        missing("no Docker daemon answers (start one with `nox -s docker-setup`)")
    return docker_engine.connect()


@pytest.fixture(scope="module")
def mapped(client: Any) -> str:
    """Build the official-like 3.10 image (cheap: two small layers on the local image)."""
    interpreter = find_interpreter("3.10")
    base = Images(client, CACHE, python_source="local").python_image(interpreter)
    prefix = Path(interpreter.executable).parent.parent
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        tar.add(str(CONTEXT / "Dockerfile"), arcname="Dockerfile")
    context.seek(0)
    client.images.build(
        fileobj=context,
        custom_context=True,
        tag=MAPPED,
        buildargs={
            "BASE": base,
            "PYTHON": str(prefix / "bin" / "python3.10"),
            "MAJOR_MINOR": "3.10",
            "VERSION": interpreter.version,
        },
        rm=True,
        forcerm=True,
        network_mode="none",
    )
    return MAPPED


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DRIFTMATRIX_CACHE", str(CACHE))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    yield
    labelled = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", "label=org.driftmatrix=1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert labelled.stdout.split() == []  # the probe containers are removed too


def test_the_interpreter_of_a_foreign_image_is_found_on_its_path(client: Any, mapped: str) -> None:
    found = probe_image(client, mapped, "3.10", "matrix")
    assert found.python == "/usr/local/bin/python3.10"
    assert found.version == find_interpreter("3.10").version
    assert found.source == "matrix" and found.tag == mapped
    assert found.ref == client.images.get(mapped).id  # cell keys follow the image, not its tag
    assert found.platform.endswith("-manylinux_2_36")  # the image's glibc (bookworm)
    assert found.compile_stdlib.endswith("/lib/python3.10")  # its pycs were deleted
    with pytest.raises(BuildError, match=r"has CPython 3\.10\.\d+ .*not CPython 3\.12"):
        probe_image(client, mapped, "3.12", "matrix")


def test_an_image_without_python_is_a_one_line_build_error(client: Any) -> None:
    images = Images(client, CACHE, python_source="local")
    with pytest.raises(BuildError) as info:
        probe_image(client, images.base_image(), "3.11", "matrix")
    message = str(info.value)
    assert "\n" not in message
    assert "has no Python the cells can run" in message
    assert "python3.11: not on its PATH" in message and "put python3.11 on its PATH" in message


def test_a_matrix_maps_python_versions_to_images(
    mapped: str, cache: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["run", str(MATRIX), "--out", str(out), "--jobs", "2"])
    cells = {cell["id"]: cell for cell in json.loads((out / "results.json").read_text())["cells"]}
    assert {cid: cell["verdict"] for cid, cell in cells.items()} == {
        "py3.10-scikit-learn1.3.2-numpy1.26.4-mem1g-cpu1-venv": "identical",
        "py3.10-scikit-learn1.3.2-numpy1.26.4-mem1g-cpu1": "identical",
        "py3.12-scikit-learn1.7.2-numpy2.2.6-mem1g-cpu1": "build-error",
        "py3.11-scikit-learn1.3.2-numpy1.26.4-mem1g-cpu1": "build-error",
    }
    assert code == 3  # build errors only: an infrastructure exit, not a finding
    on_image = cells["py3.10-scikit-learn1.3.2-numpy1.26.4-mem1g-cpu1"]
    assert on_image["backend"] == "docker"
    assert on_image["environment"]["python"]["executable"] == "/usr/local/bin/python3.10"
    assert on_image["environment"]["base"] == f"{mapped} (matrix)"
    wrong = cells["py3.12-scikit-learn1.7.2-numpy2.2.6-mem1g-cpu1"]["error"]["message"]
    assert wrong.startswith(f"Python 3.12: image {mapped} has CPython 3.10.")
    assert "not CPython 3.12" in wrong
    absent = cells["py3.11-scikit-learn1.3.2-numpy1.26.4-mem1g-cpu1"]["error"]["message"]
    assert "driftmatrix-test/absent:1 (from the matrix's [docker.images]) is not on" in absent
    assert "\n" not in wrong + absent
    err = capsys.readouterr().err
    assert f"Python 3.10: image {mapped} from the matrix" in err
    assert "Traceback" not in err


def test_a_mapped_image_gets_its_stdlib_compiled_in_the_cell_image(
    client: Any, mapped: str, cache: None
) -> None:
    from driftmatrix.cells import Cell, make_id
    from driftmatrix.limits import Limits

    packages = (("numpy", "1.26.4"),)
    cell = Cell(make_id("3.10", packages, Limits()), "3.10", packages)
    images = Images(client, CACHE, python_source="local", python_images={"3.10": mapped})
    built = images.cell_image(cell)
    assert built.python_source == "matrix" and built.python_image == mapped
    check = (
        "import importlib.util, os, numpy; "
        "print(os.path.exists(importlib.util.cache_from_source(os.__file__)), numpy.__version__)"
    )
    output = client.containers.run(
        built.tag,
        entrypoint=[built.python],
        command=["-c", check],
        user="65534:65534",
        network_mode="none",
        read_only=True,
        remove=True,
    )
    assert output.decode().split() == ["True", "1.26.4"]
    assert images.choice.notes == [
        f"Python 3.10: image {mapped} from the matrix (CPython {built.python_version} at "
        f"{built.python}; not the host's interpreter the venv backend uses)"
    ]


def test_docker_setup_prepares_every_version_it_can_and_says_which_failed(
    mapped: str, cache: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["docker", "setup", str(MATRIX)])
    out, err = capsys.readouterr()
    assert code == 3
    assert out.split() == [mapped]  # 3.10 is ready; 3.11 and 3.12 are not
    errors = [line for line in err.splitlines() if line.startswith("driftmatrix: error: ")]
    assert [line.split(": ")[2] for line in errors] == ["Python 3.11", "Python 3.12"]
    assert "Traceback" not in err
