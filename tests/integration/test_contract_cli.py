"""A real contract change through the CLI: one ExtraTrees file, three scikit-learn releases.

Measured outside driftmatrix (tests/data/contract/README.md): the file pickled by scikit-learn
1.4.2 predicts the golden set bit for bit alike in 1.4.2, 1.5.2 and 1.6.1, but a NaN in its
input raises ``ValueError`` in 1.4.2 and 1.5.2 and is answered silently in 1.6.1. So every cell
is ``identical``, and only the 1.6.1 cell is ``contract-changed``, on exactly that case. Real uv
environments, cached with the cross-version tests' (``~/.cache/driftmatrix-tests/versions``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from driftmatrix.cli import main

MATRIX = Path(__file__).resolve().parents[1] / "data" / "contract" / "et10-from-1.4.2.toml"
SK142 = "py3.10-scikit-learn1.4.2-numpy1.26.4"
SK152 = "py3.10-scikit-learn1.5.2-numpy1.26.4"
SK161 = "py3.10-scikit-learn1.6.1-numpy1.26.4"
CASES = [
    "missing-column",
    "extra-column",
    "wrong-dtype",
    "unseen-missing",
    "unseen-category",
    "empty-batch",
    "single-row",
    "large-batch",
]


@pytest.fixture(scope="session")
def env_cache() -> Path:
    """The cross-version tests' environment cache: these cells are built there once."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    cache = Path(base) / "driftmatrix-tests" / "versions"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


@pytest.mark.slow
def test_a_release_that_starts_accepting_nan_is_contract_changed(
    env_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DRIFTMATRIX_CACHE", str(env_cache))
    out = tmp_path / "out"
    code = main(["run", str(MATRIX), "--out", str(out), "--jobs", "2"])

    results = json.loads((out / "results.json").read_text())
    cells = {cell["id"]: cell for cell in results["cells"]}
    assert {cell_id: cell["verdict"] for cell_id, cell in cells.items()} == {
        SK142: "identical",
        SK152: "identical",
        SK161: "identical",
    }, {cell_id: cell["error"] for cell_id, cell in cells.items()}
    assert code == 0  # a flag never fails the run
    for cell_id, cell in cells.items():
        assert ("contract-changed" in cell["flags"]) is (cell_id == SK161), cell_id
        contract = cell["comparison"]["contract"]
        assert contract["compared"] == CASES and contract["crashed"] is None, cell_id
    assert cells[SK161]["comparison"]["contract"]["changed"] == [
        {"case": "unseen-missing", "reference": "error (ValueError)", "cell": "output"}
    ]

    # What each cell's runner saw, in its own words (results.json keeps the probe records).
    for cell_id, behaviour in ((SK142, "error"), (SK152, "error"), (SK161, "output")):
        case = cells[cell_id]["probes"]["contract"]["cases"]["unseen-missing"]
        assert case["change"] == "NaN in row 1 of column 'f0', which has none in the golden set"
        assert case["outcome"] == behaviour, cell_id
    accepted = cells[SK161]["probes"]["contract"]["cases"]["unseen-missing"]["methods"]
    assert accepted["predict_proba"]["checks"] == {
        "rows": True, "dtype": True, "finite": True, "in_range": True, "sums_to_one": True
    }  # fmt: skip
    refused = cells[SK152]["probes"]["contract"]["cases"]["unseen-missing"]["methods"]
    assert refused["predict"]["error"]["message"].startswith("Input X contains NaN.")

    assert main(["report", str(out), "--format", "md"]) == 0
    report = capsys.readouterr().out
    assert "**Bad inputs:** 1 of 8 cases behave differently:" in report
    assert "<code>error (ValueError)</code> | <code>output</code> |" in report
