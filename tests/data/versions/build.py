"""Rebuild the cross-version fixtures: every producer's models, golden sets and manifest.

Usage (from the repository root)::

    PYTHONPATH=src python3 tests/data/versions/build.py [PRODUCER_ID ...]

Each producer environment is provisioned by driftmatrix's own venv backend (so it is built
exactly like the matrices' reference cells, cached under ``DRIFTMATRIX_CACHE`` or
``~/.cache/driftmatrix``), and ``produce.py`` runs there with that environment's interpreter:
this process never imports scikit-learn nor loads an artifact. The outputs replace
``tests/data/versions/<producer cell id>/``.

Rebuilding is reproducible: with the same environments the files come out byte for byte the
same (the manifest records the transitive versions uv resolved; a newer scipy or joblib in a
freshly built environment is the one thing that may change them). The exception is a ``.skops``
file: skops names its members after ``id()`` of the arrays and stamps them with the current
time, so each build writes other bytes for the same model (same predictions: the manifest's
output hashes do not change).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from driftmatrix.backends.venv import VenvBackend
from driftmatrix.cells import Cell, make_id
from driftmatrix.cli import cache_dir
from driftmatrix.limits import Limits

HERE = Path(__file__).resolve().parent
PRODUCE = HERE / "produce.py"

#: (python, pins, models): the environments the fixture artifacts are saved in. Python 3.10
#: and numpy 1.26.4 are the oldest stack every one of these scikit-learn releases has wheels for.
#: A model is saved with joblib unless it is named ``MODEL.skops`` (its producer pins skops).
PRODUCERS: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]], ...] = (
    ("3.10", (("scikit-learn", "1.2.2"), ("numpy", "1.26.4")), ("dt_2c", "lr_liblinear_3c")),
    ("3.10", (("scikit-learn", "1.3.2"), ("numpy", "1.26.4")), ("et10_2c",)),
    ("3.10", (("scikit-learn", "1.5.2"), ("numpy", "1.26.4")), ("qda_3c",)),
    # The same trees with skops 0.9.0, the newest skops when scikit-learn 1.3.2 was released.
    (
        "3.10",
        (("scikit-learn", "1.3.2"), ("numpy", "1.26.4"), ("skops", "0.9.0")),
        ("et10_2c.skops",),
    ),
)


def producer_cells() -> list[tuple[Cell, tuple[str, ...]]]:
    """Every producer as a driftmatrix cell (its id names the fixture directory) and its models."""
    return [
        (Cell(id=make_id(python, pins, Limits()), python=python, packages=pins), models)
        for python, pins, models in PRODUCERS
    ]


def producer_environment() -> dict[str, str]:
    """An allow-listed environment: one BLAS/OpenMP thread (as in every cell), fixed hashing."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONHASHSEED": "0",
    }
    threads = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    return {**env, **dict.fromkeys(threads, "1")}


def build(backend: VenvBackend, cell: Cell, models: tuple[str, ...]) -> Path:
    """Provision ``cell``, run produce.py there into a fresh directory; return the directory."""
    env = backend.provision(cell)
    out = HERE / cell.id
    # Start empty: a file left from an older model list would otherwise stay beside the new
    # manifest without being listed in it.
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(
        [env.python, "-s", "-B", str(PRODUCE), str(out), *models],
        check=True,
        env=producer_environment(),
        cwd=HERE,
    )
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["producer"]["cell"] = cell.id
    manifest["built_by"] = "PYTHONPATH=src python3 tests/data/versions/build.py"
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out


def main(argv: list[str]) -> int:
    """Build the producers named in ``argv`` (cell ids), or all of them."""
    cells = producer_cells()
    unknown = set(argv) - {cell.id for cell, _ in cells}
    if unknown:
        known = ", ".join(cell.id for cell, _ in cells)
        print(f"unknown producer {', '.join(sorted(unknown))}; known: {known}", file=sys.stderr)
        return 2
    backend = VenvBackend(cache_dir())
    for cell, models in cells:
        if not argv or cell.id in argv:
            print(f"wrote {build(backend, cell, models).relative_to(HERE.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
