"""resume.py's cell fingerprints: what every cached and resumed result is keyed on.

A fingerprint that changes with driftmatrix's code rather than with the cell makes every
user's result cache miss once: the values below were computed before the run-wide part was
gathered once per run (issue 7) and must not move without a reason.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from driftmatrix.resume import Fingerprints, RunInputs, cell_fingerprint
from driftmatrix.spec import load_matrix

DEMO = Path(__file__).resolve().parents[2] / "matrix" / "demo.toml"
INPUTS = RunInputs(
    runner_dir=Path("runner"),
    runner_hash="1" * 64,
    artifact_sha256="2" * 64,
    golden_sha256="3" * 64,
    recipe_sha256="4" * 64,
    probes=("environment", "load", "predict"),
)


@pytest.mark.parametrize(
    ("backend", "imported", "expected"),
    [
        ("venv", None, "b13852b4a63451a27b7796332f57f790d42faf8d6b9810cb93856ca56a14e3f3"),
        ("docker", None, "354c598ecdaae4a1d0c5630f8ba349e6f213380616261fb9c0d9073678cc6c30"),
        (
            "venv",
            frozenset({"numpy", "scikit-learn"}),
            "b6c6c556aae20849b1e07584c8885c47eb9e7f7204fbd18a60f418ffc849235a",
        ),
    ],
)
def test_a_cells_fingerprint_is_stable(
    backend: str, imported: frozenset[str] | None, expected: str
) -> None:
    spec = load_matrix(DEMO)
    inputs = replace(INPUTS, imported=imported)

    assert cell_fingerprint(spec, spec.reference_cell, backend, inputs) == expected


def test_a_runs_fingerprints_are_each_cells_own() -> None:
    spec = load_matrix(DEMO)
    once = Fingerprints(spec, INPUTS)
    for backend in ("docker", "venv"):  # nothing of a docker cell may stay for the next
        prints = [once.of(cell, backend) for cell in spec.cells]
        assert prints == [cell_fingerprint(spec, cell, backend, INPUTS) for cell in spec.cells]
        assert len(set(prints)) == len(spec.cells)
