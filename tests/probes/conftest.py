"""Fixtures for the in-cell runner tests: a real cell interpreter, real models, real runs.

The runner is always started as the host starts it (``python -s -B -m probes JOB`` in the
directory that holds ``probes/``), and models are trained by the cell's own interpreter: the
test process never unpickles an artifact.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from realparts import missing

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

PY311 = "/root/.pyenv/versions/3.11.7/bin/python3.11"
PY38 = "/root/.pyenv/versions/3.8.18/bin/python3.8"
PY312 = "/root/.pyenv/versions/3.12.1/bin/python3.12"

# The numeric stack is pinned completely (scipy and threadpoolctl too) so that the cached
# environment computes the same wherever its content key is the same; pandas' date helpers
# (python-dateutil, pytz, tzdata) do not touch the numbers and are left to the resolver.
CELL_REQUIREMENTS = (
    "scikit-learn==1.5.2",
    "numpy==1.26.4",
    "scipy==1.14.1",
    "pandas==2.2.3",
    "joblib==1.4.2",
    "threadpoolctl==3.5.0",
    "skops==0.16.0",
)

# The ONNX fixtures' producer stack (tests/data/onnx/build.py): the runtime that wrote the
# expected outputs, and the converter and scikit-learn the parity probe needs.
ONNX_CELL_REQUIREMENTS = (
    "onnxruntime==1.23.2",
    "numpy==2.2.6",
    "scikit-learn==1.7.2",
    "skl2onnx==1.20.0",
    "onnx==1.23.2",
)

ALL_PROBES = ["environment", "imports", "load", "predict", "roundtrip"]
GOLDEN_ROLES = {"target": "species", "id_column": "row_id", "tag_column": "tag"}
# What the host does: one thread per native library, set through the environment.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
RUN_TIMEOUT = 300

if str(REPO) not in sys.path:
    # The in-process unit tests import the stdlib-only parts of the runner (golden.py, ...).
    sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class RunnerOutcome:
    """How one runner process ended and the result file it left (None when there is none)."""

    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any] | None
    work: Path

    def probe(self, name: str) -> dict[str, Any]:
        """The record of probe ``name``."""
        assert self.result is not None, self.stderr
        record: dict[str, Any] = self.result["probes"][name]
        return record


def make_job(
    work: Path,
    *,
    artifact: Path | None = None,
    fmt: str = "joblib",
    golden: Path | None = None,
    probes: list[str] | None = None,
    imports: dict[str, str] | None = None,
    trusted_types: list[str] | None = None,
) -> dict[str, Any]:
    """A job document as the host writes it (docs/runner-protocol.md)."""
    return {
        "protocol": 1,
        "cell": "test-cell",
        "files": {
            "artifact": str(artifact) if artifact else None,
            "golden": str(golden) if golden else None,
        },
        "work": str(work),
        "artifact": {"format": fmt, "trusted_types": trusted_types or []},
        "golden": dict(GOLDEN_ROLES),
        "imports": imports if imports is not None else {},
        "probes": probes if probes is not None else list(ALL_PROBES),
    }


def start_runner(python: str | Path, job_path: Path, work: Path) -> RunnerOutcome:
    """Start the runner exactly as a host does and read back what it left."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), **THREAD_ENV}
    proc = subprocess.run(
        [str(python), "-s", "-B", "-m", "probes", str(job_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    result_path = work / "result.json"
    result = json.loads(result_path.read_text()) if result_path.exists() else None
    return RunnerOutcome(proc.returncode, proc.stdout, proc.stderr, result, work)


@pytest.fixture
def start() -> Callable[[str | Path, Path, Path], RunnerOutcome]:
    """:func:`start_runner`, for tests that write their own (possibly broken) job file."""
    return start_runner


@pytest.fixture
def data_dir() -> Path:
    """``tests/probes/data``: bad inputs kept as files."""
    return DATA


@pytest.fixture
def run_job(tmp_path: Path) -> Callable[..., RunnerOutcome]:
    """Run the runner with ``python`` on a job in a fresh work directory; return what it left."""
    counter = iter(range(1000))

    def run(python: str | Path, **job: Any) -> RunnerOutcome:
        work = tmp_path / f"work-{next(counter)}"
        work.mkdir()
        job_path = work / "job.json"
        job_path.write_text(json.dumps(make_job(work, **job)))
        return start_runner(python, job_path, work)

    return run


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "driftmatrix-tests"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two pytest processes (or xdist workers) must not build the same environment at once.
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _checked(command: list[str], env: dict[str, str], cwd: Path) -> None:
    proc = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail("{} failed:\n{}".format(" ".join(command), proc.stderr[-3000:]))


@pytest.fixture(scope="session")
def cell_python() -> Path:
    """A Python 3.11 environment with scikit-learn 1.5.2 and skops, built once and cached."""
    return cached_environment(PY311, CELL_REQUIREMENTS)


@pytest.fixture(scope="session")
def onnx_cell_python() -> Path:
    """A Python 3.12 environment with onnxruntime, skl2onnx and scikit-learn (ONNX, parity)."""
    return cached_environment(PY312, ONNX_CELL_REQUIREMENTS)


def cached_environment(interpreter: str, requirements: tuple[str, ...]) -> Path:
    """Build a virtual environment once and cache it; return its python.

    The cache directory is keyed by the interpreter and the requirements, so changing either
    builds a new one; a directory without its ready marker (an interrupted build) is rebuilt.
    """
    if not os.path.exists(interpreter):
        missing(f"Python not found at {interpreter}")
    uv = shutil.which("uv")
    if uv is None:
        missing("uv is not installed")
    key_source = json.dumps({"python": interpreter, "requirements": requirements})
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"cell-{key}"
    python = venv / "bin" / "python"
    ready = venv / ".driftmatrix-tests-ready"
    with _locked(root / f"cell-{key}.lock"):
        if not ready.exists():
            if venv.exists():
                shutil.rmtree(venv)
            # Never let uv fetch an interpreter of its own: the cell is *this* interpreter.
            env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
            _checked([uv, "venv", "--quiet", "--python", interpreter, str(venv)], env, root)
            _checked(
                [
                    uv,
                    "pip",
                    "install",
                    "--quiet",
                    "--python",
                    str(python),
                    "--only-binary",
                    ":all:",
                    *requirements,
                ],
                env,
                root,
            )
            ready.write_text(key_source)
    return python


@pytest.fixture(scope="session")
def models(cell_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Artifacts and golden sets built by ``build_models.py`` inside the cell environment."""
    out = tmp_path_factory.mktemp("models")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **THREAD_ENV}
    proc = subprocess.run(
        [str(cell_python), "-E", "-s", str(HERE / "build_models.py"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"build_models.py failed:\n{proc.stderr[-3000:]}")
    return {name: Path(path) for name, path in json.loads(proc.stdout).items()}
