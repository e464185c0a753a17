"""Rebuild the ONNX fixtures: the exported models, the golden set and the manifest.

Usage (from the repository root)::

    PYTHONPATH=src python3 tests/data/onnx/build.py

The producer environment is provisioned by driftmatrix's own venv backend (cached under
``DRIFTMATRIX_CACHE`` or ``~/.cache/driftmatrix``, exactly like a matrix's cell), and
``produce.py`` runs there with that environment's interpreter: this process never imports
scikit-learn, skl2onnx or onnxruntime. The outputs replace ``tests/data/onnx/<producer id>/``.

Every pin that decides the exported bytes is pinned: skl2onnx picks the default opset and onnx
the IR version it writes, so the same environment writes the same files byte for byte.
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

#: The producer: the newest skl2onnx (1.20.0, with onnx 1.23.2) and its era's scikit-learn.
PYTHON = "3.12"
PINS: tuple[tuple[str, str], ...] = (
    ("scikit-learn", "1.7.2"),
    ("numpy", "2.2.6"),
    ("skl2onnx", "1.20.0"),
    ("onnx", "1.23.2"),
    ("onnxruntime", "1.23.2"),
)


def producer_cell() -> Cell:
    """The producer as a driftmatrix cell; its id names the fixture directory."""
    return Cell(id=make_id(PYTHON, PINS, Limits()), python=PYTHON, packages=PINS)


def producer_environment() -> dict[str, str]:
    """An allow-listed environment with one BLAS/OpenMP thread, as in every cell."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONHASHSEED": "0",
    }
    threads = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    return {**env, **dict.fromkeys(threads, "1")}


def main() -> int:
    """Provision the producer, run produce.py there into a fresh directory."""
    cell = producer_cell()
    env = VenvBackend(cache_dir()).provision(cell)
    out = HERE / cell.id
    shutil.rmtree(out, ignore_errors=True)  # no file of an older model list may stay behind
    subprocess.run(
        [env.python, "-s", "-B", str(PRODUCE), str(out)],
        check=True,
        env=producer_environment(),
        cwd=HERE,
    )
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["producer"]["cell"] = cell.id
    manifest["built_by"] = "PYTHONPATH=src python3 tests/data/onnx/build.py"
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out.relative_to(HERE.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
