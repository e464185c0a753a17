"""Rebuild the demo's reference artifact in its producer environment: ``nox -s reference``.

The producer environment is the demo matrix's reference cell, provisioned by driftmatrix's own
venv backend; the recipe runs there (never in this process, which must not load artifacts).
Writes ``model.joblib``, ``golden.csv`` and ``manifest.json`` next to this file. The manifest
holds the producer's versions, every file's sha256 and the reference outputs: the sha256 of each
prediction method's outputs on the golden set, as driftmatrix's own reference cell reports them
(``--outputs-only`` refreshes just those, without rebuilding the files).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from driftmatrix.backends.venv import VenvBackend
from driftmatrix.cli import cache_dir
from driftmatrix.run import Runner, RunOptions
from driftmatrix.spec import MatrixSpec, load_matrix

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


def reference_outputs(spec: MatrixSpec) -> dict[str, str]:
    """Run the demo's reference cell with driftmatrix; the sha256 of each method's outputs."""
    with tempfile.TemporaryDirectory() as out:
        options = RunOptions(out_dir=Path(out), cell_ids=(spec.reference,))
        backends = {"venv": VenvBackend(cache_dir())}
        results = Runner(spec, options, backends, cache_dir()).run()
    (cell,) = (cell for cell in results.cells if cell.id == spec.reference)
    methods = (cell.outputs or {}).get("methods") or {}
    if not methods:
        raise SystemExit(f"the reference cell gave no outputs: {cell.verdict.value} {cell.error}")
    return {name: output_sha256(values) for name, values in sorted(methods.items())}


def output_sha256(values: object) -> str:
    """The sha256 of outputs as the runner serialises them (JSON of ``tolist()``)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def main() -> int:
    """Provision the producer, run the recipe there, write the manifest."""
    if sys.argv[1:] == ["--outputs-only"]:
        manifest = json.loads((HERE / "manifest.json").read_text())
        manifest["outputs"] = reference_outputs(load_matrix(MATRIX))
        (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        print(f"refreshed the reference outputs in {HERE / 'manifest.json'}")
        return 0
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
        "outputs": reference_outputs(load_matrix(MATRIX)),
    }
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"wrote {HERE / 'model.joblib'} with {cell.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
