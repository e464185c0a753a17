"""Sessions: demo, tests, lint, typecheck, reference, bench, merge, and one per matrix cell.

``nox -l --json`` lists the per-cell sessions with ids equal to cell ids, so a CI workflow can
turn them into a job matrix: each job runs ``nox -s <cell id>``, which runs that cell alone (no
reference) into ``out/<matrix name>-jobs/<cell id>``; a last job runs ``nox -s merge``. The
matrix is ``matrix/demo.toml`` unless ``DRIFTMATRIX_MATRIX`` names another (relative to this
directory).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
DEMO = ROOT / "matrix" / "demo.toml"
#: The matrix of the per-cell sessions and of `merge`.
MATRIX = ROOT / os.environ.get("DRIFTMATRIX_MATRIX", "matrix/demo.toml")

nox.options.default_venv_backend = "uv"
# Bare `nox` and `nox -l --json` select the per-cell sessions: the listing is then exactly the
# CI job matrix. Everything else is run by name (`nox -s tests`, `nox -s demo`, ...).
nox.options.tags = ["cells"]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite: unit, probes (real tiny models) and integration (real uv environments)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Run the bundled demo matrix end to end; findings are reported, not a session failure."""
    session.install(".")
    session.run(
        "driftmatrix", "run", str(DEMO.relative_to(ROOT)), *session.posargs, success_codes=[0, 1]
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the host package, the runner, tests, benchmarks and this file."""
    session.install("ruff")
    session.run("ruff", "check", "src", "probes", "tests", "noxfile.py", "artifacts", "benchmarks")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src/ (configured in pyproject.toml)."""
    session.install("mypy", "-e", ".", "types-tabulate", "nox")
    session.run("mypy")


@nox.session(name="docker-setup")
def docker_setup(session: nox.Session) -> None:
    """Install/start the Docker engine (as root) and build the base images the tests use."""
    session.install(".")
    pythons = session.posargs or ["3.10", "3.11", "3.12", "3.13"]
    session.run("driftmatrix", "docker", "setup", *(f"--python={p}" for p in pythons))


@nox.session
def reference(session: nox.Session) -> None:
    """Rebuild the demo's reference artifact in its producer environment (see its manifest)."""
    session.install(".")
    session.run("python", "artifacts/demo/build.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark against the plain-nox way (10-15 min); writes benchmarks/RESULTS.md."""
    # nox itself: the baseline is a plain noxfile run by nox (virtualenv + pip).
    session.install("-e", ".", "nox")
    session.run("python", "benchmarks/run.py", *session.posargs)


def _matrix() -> tuple[str, list[str]]:
    """The matrix's name and cell ids, read with driftmatrix's own (pure) matrix reader.

    A matrix that cannot be read costs only its per-cell sessions (one line on stderr says why):
    ``nox -s tests`` must keep working whatever ``DRIFTMATRIX_MATRIX`` says.
    """
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from driftmatrix.errors import DriftmatrixError
        from driftmatrix.spec import load_matrix
    finally:
        sys.path.pop(0)
    try:
        spec = load_matrix(MATRIX)
    except (DriftmatrixError, OSError) as exc:
        print(f"noxfile.py: no per-cell sessions: {exc}", file=sys.stderr)
        return MATRIX.stem, []
    return spec.name, [cell.id for cell in spec.cells]


MATRIX_NAME, CELLS = _matrix()
#: Where each per-cell session writes its cell, one directory per cell (a CI job's output).
JOBS = ROOT / "out" / f"{MATRIX_NAME}-jobs"


def _relative(path: Path) -> str:
    return os.path.relpath(path, ROOT)


@nox.session
def merge(session: nox.Session) -> None:
    """Merge the per-cell sessions' directories into out/<matrix name>: compare, report."""
    session.install(".")
    parts = sorted(_relative(path) for path in JOBS.glob("*") if path.is_dir())
    if not parts:
        session.error(f"nothing to merge in {_relative(JOBS)}: run the per-cell sessions first")
    out = _relative(ROOT / "out" / MATRIX_NAME)
    session.run("driftmatrix", "merge", *parts, "--out", out, *session.posargs)


def _register_cell(cell_id: str) -> None:
    def cell(session: nox.Session) -> None:
        session.install(".")
        # Alone, as one CI job: the reference is its own session; `nox -s merge` compares. The
        # session fails only for what the cell shows alone (load-error, build-error, ...).
        session.run(
            "driftmatrix",
            "run",
            _relative(MATRIX),
            "--cell",
            cell_id,
            "--no-reference",
            "--out",
            _relative(JOBS / cell_id),
            *session.posargs,
        )

    cell.__doc__ = (
        f"Run cell {cell_id} of {_relative(MATRIX)} alone into {_relative(JOBS / cell_id)}"
        " (then: nox -s merge)."
    )
    nox.session(name=cell_id, tags=["cells"])(cell)


for _cell_id in CELLS:
    _register_cell(_cell_id)
