"""Sessions: demo, tests, lint, typecheck, reference, and one session per demo-matrix cell.

``nox -l --json`` lists the per-cell sessions with ids equal to cell ids, so a CI workflow can
turn them into a job matrix (each job runs ``nox -s <cell id>``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
DEMO = ROOT / "matrix" / "demo.toml"

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
    """ruff over the host package, the runner, tests and this file."""
    session.install("ruff")
    session.run("ruff", "check", "src", "probes", "tests", "noxfile.py", "artifacts")


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


def _demo_cells() -> list[str]:
    """The demo matrix's cell ids, read with driftmatrix's own (pure) matrix reader."""
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from driftmatrix.spec import load_matrix
    finally:
        sys.path.pop(0)
    return [cell.id for cell in load_matrix(DEMO).cells]


def _register_cell(cell_id: str) -> None:
    def cell(session: nox.Session) -> None:
        session.install(".")
        session.run(
            "driftmatrix",
            "run",
            str(DEMO.relative_to(ROOT)),
            "--cell",
            cell_id,
            *session.posargs,
            success_codes=[0, 1],
        )

    cell.__doc__ = f"Run the demo matrix's cell {cell_id} (and its reference)."
    nox.session(name=cell_id, tags=["cells"])(cell)


for _cell_id in _demo_cells():
    _register_cell(_cell_id)
