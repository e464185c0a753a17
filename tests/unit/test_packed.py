"""What a large run keeps and writes stays what a small one did: packed values (packed.py)
read back as the JSON they were, reports of packed cells are byte for byte the same, and
results.json written a cell at a time is the document written whole."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from driftmatrix.packed import Packed, pack
from driftmatrix.report import render
from driftmatrix.results import RunResults, read_results, strict_json, write_results

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


def test_packed_values_read_as_the_json_they_were() -> None:
    values = {
        "labels": {"flipped": 3, "rows": [{"row": "h1", "tag": "é", "reference": 0, "cell": 1}]},
        "scores": {
            "max_abs": 1e-300,
            "max_rel": float("inf"),
            "sample": [[0.1, 0.30000000000000004]],
        },
        "missing": [],
        "none": None,
    }
    packed = Packed(values)

    assert packed == values and values == packed
    assert list(packed) == list(values) and len(packed) == 4 and "none" in packed
    assert packed["scores"]["max_rel"] == float("inf")
    assert packed["labels"] is not packed["labels"]  # a fresh copy: nobody changes what is kept
    assert pack(packed) is packed and pack(None) is None


def test_nan_survives_packing() -> None:
    value = Packed({"x": [float("nan")]})["x"][0]
    assert math.isnan(value)


@pytest.mark.parametrize("name", ["results.json", "results_reference_failed.json"])
@pytest.mark.parametrize("fmt", ["terminal", "md", "junit", "json", "html"])
def test_reports_of_packed_cells_are_the_same(name: str, fmt: str) -> None:
    results = RunResults.from_json(json.loads((REPORTS / name).read_text(encoding="utf-8")))
    kept = replace(results, cells=tuple(cell.kept() for cell in results.cells))

    assert render(kept, fmt) == render(results, fmt)


def _with_nan(results: RunResults) -> RunResults:
    cells = list(results.cells)
    cells[-1] = replace(cells[-1], probes={**cells[-1].probes, "odd": {"v": [float("-inf")]}})
    return replace(results, cells=tuple(cells))


@pytest.mark.parametrize("cells", [0, 1, 2])
def test_results_json_is_written_a_cell_at_a_time_as_the_whole_document(
    tmp_path: Path, cells: int
) -> None:
    full = RunResults.from_json(json.loads((REPORTS / "results.json").read_text(encoding="utf-8")))
    results = replace(full, cells=full.cells[:cells])
    results = _with_nan(results) if cells else results

    path = write_results(tmp_path, results)

    whole = json.dumps(strict_json(results.to_json()), indent=2, allow_nan=False) + "\n"
    assert path.read_text(encoding="utf-8") == whole == "".join(results.json_text()) + "\n"
    assert read_results(tmp_path).to_json() == json.loads(whole)


def test_strict_json_copies_nothing_it_need_not() -> None:
    doc = {"a": [1.5, {"b": "x"}], "c": (1, 2)}
    clean = {"a": [1.5, {"b": "x"}], "c": [1, 2]}
    assert strict_json(clean) is clean
    assert strict_json(doc) == clean  # a tuple becomes a list

    nan = {"keep": {"b": [1.0]}, "deep": [{"v": float("nan")}]}
    fixed = strict_json(nan)
    assert fixed == {"keep": {"b": [1.0]}, "deep": [{"v": "nan"}]}
    assert fixed["keep"] is nan["keep"] and nan["deep"][0]["v"] != 0  # the original is intact
