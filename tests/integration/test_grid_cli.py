"""The producer × consumer grid of a decision tree across scikit-learn 1.2 → 1.9, for real.

Every outcome below was measured first in plain environments (the recipe run with each
release's own Python, numpy and scikit-learn, the file saved with joblib, loaded in each other
environment, predictions on the golden rows compared bit for bit with the producer's): a
mismatch is a bug in driftmatrix, never a reason to edit the table. What it shows:

* forward: a 1.2.2 tree no longer loads anywhere newer (the node dtype gained a field in 1.3);
  a 1.3.2 tree loads in 1.4–1.8 but ``predict`` raises (``monotonic_cst``, added in 1.4), and in
  1.9 it predicts again, with different probabilities;
* backward: nothing newer loads in 1.2.2; files from 1.4+ load in 1.3.2 and each other with a
  version warning and identical predictions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftmatrix.cli import main

pytestmark = pytest.mark.slow

MATRIX = Path(__file__).resolve().parents[1] / "data" / "grid" / "tree" / "matrix.toml"
CELLS = (
    "py3.10-scikit-learn1.2.2-numpy1.26.4",
    "py3.10-scikit-learn1.3.2-numpy1.26.4",
    "py3.10-scikit-learn1.4.2-numpy1.26.4",
    "py3.10-scikit-learn1.6.1-numpy1.26.4",
    "py3.13-scikit-learn1.9.1-numpy2.5.5",
)
L, P = "fail:load-error", "fail:predict-error"
#: Rows produce, columns consume, in CELLS order.
MEASURED = (
    ("ok", L, L, L, L),
    (L, "ok", P, P, "drift"),
    (L, "warn", "ok", "warn", "warn"),
    (L, "warn", "warn", "ok", "warn"),
    (L, "warn", "warn", "warn", "ok"),
)


def test_the_tree_grid_is_what_was_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "DRIFTMATRIX_CACHE", str(Path.home() / ".cache" / "driftmatrix-tests" / "cli")
    )
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    code = main(["grid", str(MATRIX), "--out", str(tmp_path / "out")])
    printed = capsys.readouterr()
    grid = json.loads((tmp_path / "out" / "grid.json").read_text())

    assert code == 1
    assert grid["cells"] == list(CELLS)
    outcomes = {(p["producer"], p["consumer"]): p for p in grid["pairs"]}
    got = tuple(tuple(outcomes[(p, c)]["outcome"] for c in CELLS) for p in CELLS)
    assert got == MEASURED
    dtype = outcomes[(CELLS[0], CELLS[1])]["error"]
    assert dtype["type"] == "ValueError" and "incompatible dtype" in dtype["message"]
    monotonic = outcomes[(CELLS[1], CELLS[2])]["error"]
    assert monotonic["type"] == "AttributeError" and "monotonic_cst" in monotonic["message"]
    assert outcomes[(CELLS[1], CELLS[4])]["flipped"] == 0  # probabilities moved, labels did not
    assert "25 pairs: 5 ok, 9 warn, 1 drift, 10 fail" in printed.out
    assert "Traceback" not in printed.out + printed.err
    assert (tmp_path / "out" / "grid.md").read_text().startswith("## Producer × consumer grid")
