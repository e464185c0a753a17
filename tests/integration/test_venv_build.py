"""Real uv builds of cell environments (network to the package index; uv's global cache is kept).

Each test uses its own driftmatrix cache directory, so "built" and "reused" are about this test
only; uv's own download cache is shared, so repeated runs do not download wheels again.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from driftmatrix.backends.base import Environment, Invocation
from driftmatrix.backends.venv import MARKER, VenvBackend
from driftmatrix.cells import Cell, make_id
from driftmatrix.errors import BuildError
from driftmatrix.limits import Limits

pytestmark = pytest.mark.slow


def cell(python: str, **pins: str) -> Cell:
    packages = tuple(sorted((name.replace("_", "-"), version) for name, version in pins.items()))
    return Cell(id=make_id(python, packages, Limits()), python=python, packages=packages)


SKLEARN_152 = cell("3.11", scikit_learn="1.5.2", numpy="1.26.4")


def run_in(env: Environment, tmp_path: Path, code: str) -> str:
    """Run a real runner (``code`` as probes/__main__.py) in ``env``; return its stdout."""
    runner = tmp_path / "runner"
    (runner / "probes").mkdir(parents=True)
    (runner / "probes" / "__main__.py").write_text(code)
    work = tmp_path / "work"
    work.mkdir()
    execution = VenvBackend(tmp_path).run(
        env, Invocation(runner, {"work": str(work)}, work, Limits(memory=1024**3, timeout=120))
    )
    assert execution.exit_code == 0, execution.stderr_tail
    return execution.stdout_tail


def test_build_then_reuse(tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = tmp_path_factory.mktemp("venv-cache")
    backend = VenvBackend(cache)
    env = backend.provision(SKLEARN_152)
    assert not env.reused and env.build_seconds > 0
    assert env.backend == "venv" and env.python_version.startswith("3.11.")
    assert Path(env.location).parent == cache / "envs" and Path(env.python).is_file()
    marker = json.loads((Path(env.location) / MARKER).read_text())
    assert marker["key"] == env.key and marker["pins"] == SKLEARN_152.pins
    assert {"scikit-learn==1.5.2", "numpy==1.26.4"} <= set(marker["freeze"])

    # The environment works after being renamed into place, with the real -s -B invocation.
    out = run_in(env, tmp_path_factory.mktemp("run"), "import sklearn; print(sklearn.__version__)")
    assert out == "1.5.2\n"

    started = time.monotonic()
    again = VenvBackend(cache).provision(SKLEARN_152)  # a new process would see the same
    assert again.reused and again.build_seconds == 0
    assert again.location == env.location and again.key == env.key
    assert time.monotonic() - started < 5

    fresh = VenvBackend(cache, no_cache=True)
    rebuilt = fresh.provision(SKLEARN_152)
    assert not rebuilt.reused and rebuilt.location == env.location
    # no_cache ignores what existed before, not what it built itself (cells differing in limits).
    assert fresh.provision(SKLEARN_152).reused


def test_nonexistent_version_is_a_one_line_build_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as info:
        VenvBackend(tmp_path).provision(cell("3.11", scikit_learn="0.0.1"))
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert "scikit-learn==0.0.1 does not exist on the package index" in message
    assert not list((tmp_path / "envs").glob(".build-*"))  # the scratch directory is gone


def test_release_without_a_wheel_fails_fast_instead_of_compiling(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(BuildError, match="no wheel for this Python") as info:
        VenvBackend(tmp_path).provision(cell("3.12", scikit_learn="1.2.2", numpy="1.26.4"))
    assert "never builds from source" in str(info.value)
    assert "\n" not in str(info.value)
    assert time.monotonic() - started < 120


def test_concurrent_requests_for_one_environment_build_it_once(tmp_path: Path) -> None:
    target = cell("3.11", numpy="1.26.4")
    barrier = threading.Barrier(2)
    results: list[Environment] = []
    errors: list[BaseException] = []

    def provision() -> None:
        # Two backend instances: the file lock, not an in-process lock, must serialise them.
        backend = VenvBackend(tmp_path)
        barrier.wait()
        try:
            results.append(backend.provision(target))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=provision) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(env.reused for env in results) == [False, True]
    assert len({env.location for env in results}) == 1
    assert [p.name for p in (tmp_path / "envs").iterdir() if p.is_dir()] == [
        results[0].location[-16:]
    ]
