"""Rebuild the demo's reference artifact in its producer environment: ``nox -s reference``.

The producer environment is the demo matrix's reference cell, provisioned by driftmatrix's own
venv backend; the recipe runs there (never in this process, which must not load artifacts).
Writes ``model.joblib``, ``golden.csv`` and ``manifest.json`` next to this file.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from driftmatrix.backends.venv import VenvBackend
from driftmatrix.cli import cache_dir
from driftmatrix.spec import load_matrix

HERE = Path(__file__).resolve().parent
MATRIX = HERE.parents[1] / "matrix" / "demo.toml"
VERSIONS = (
    "import importlib.metadata as m, json, platform; "
    "print(json.dumps({'python': platform.python_version(), 'packages': "
    "{d.metadata['Name'].lower(): d.version for d in m.distributions()}}))"
)


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    """Provision the producer, run the recipe there, write the manifest."""
    spec = load_matrix(MATRIX, inputs_exist=False)
    cell = next(c for c in spec.cells if c.id == spec.reference)
    env = VenvBackend(cache_dir()).provision(cell)
    threads = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run([env.python, str(HERE / "recipe.py"), str(HERE)], check=True, env=threads)
    producer = json.loads(
        subprocess.run(
            [env.python, "-c", VERSIONS], check=True, capture_output=True, text=True, env=threads
        ).stdout
    )
    manifest = {
        "recipe": "recipe.py:train",
        "built_by": "nox -s reference (artifacts/demo/build.py)",
        "producer": {"cell": cell.id, **producer},
        "files": {name: sha256(HERE / name) for name in ("model.joblib", "golden.csv")},
    }
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"wrote {HERE / 'model.joblib'} with {cell.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
