"""Reports render from results.json alone; terminal and Markdown output are pinned by golden files.

The fixtures under ``tests/data/reports/`` are hand-maintained results.json documents with a
realistic mix of cells. When a report's wording changes on purpose, regenerate the expected files
and review the diff::

    DRIFTMATRIX_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_reports.py

Without that variable, any change in the output fails the test.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from driftmatrix.compare import compare
from driftmatrix.comparison import Observation, Tolerances
from driftmatrix.errors import UsageError
from driftmatrix.outcome import Flag, Verdict
from driftmatrix.report import FORMATS, render
from driftmatrix.results import CellResult, ErrorInfo, RunResults

DATA = Path(__file__).parent.parent / "data" / "reports"
UPDATE = os.environ.get("DRIFTMATRIX_UPDATE_GOLDEN") == "1"

GOLDEN = [
    ("results.json", "terminal", "terminal.txt"),
    ("results.json", "md", "report.md"),
    ("results_reference_failed.json", "terminal", "terminal_reference_failed.txt"),
    ("results_reference_failed.json", "md", "report_reference_failed.md"),
]


def load(name: str) -> RunResults:
    return RunResults.from_json(json.loads((DATA / name).read_text(encoding="utf-8")))


@pytest.mark.parametrize(("fixture", "fmt", "expected"), GOLDEN, ids=[g[2] for g in GOLDEN])
def test_golden(fixture: str, fmt: str, expected: str) -> None:
    text = render(load(fixture), fmt)
    path = DATA / expected
    if UPDATE:
        path.write_text(text, encoding="utf-8")
        pytest.skip(f"rewrote {path.name}; review the diff")
    assert text == path.read_text(encoding="utf-8"), (
        f"{path.name} is out of date; if the change is intended, rerun with "
        "DRIFTMATRIX_UPDATE_GOLDEN=1 and review the diff"
    )


def test_json_report_is_the_results_document() -> None:
    for name in ("results.json", "results_reference_failed.json"):
        text = render(load(name), "json")
        assert json.loads(text) == json.loads((DATA / name).read_text(encoding="utf-8"))
        assert text.endswith("}\n") and "\n  " in text


def test_fixture_comparisons_have_the_shape_compare_writes() -> None:
    """The hand-written fixture must not drift from what ``Comparison.to_json`` produces."""
    kinds = {"predict": {"kind": "labels"}, "predict_proba": {"kind": "scores"}}
    # Latency and memory measured on both sides, so that their ratios are in the shape too.
    peak = {"method": "VmHWM", "peak_kib": 1000}
    timed = [{"rows": 1000, "status": "ok", "p50_ms": 1.0}]
    probes = {
        "load": {"status": "ok", "memory": peak},
        "predict": {"status": "ok", "methods": kinds, "memory": peak},
        "latency": {"status": "ok", "method": "predict", "batches": timed},
    }
    ref = Observation(
        {"methods": {"predict": [0, 1], "predict_proba": [[1.0, 0.0], [0.4, 0.6]]}},
        probes,
        {"numpy": "1.26.4", "scipy": "1.11.4"},
    )
    cell = Observation(
        {"methods": {"predict": [0, 0], "predict_proba": [[1.0, 0.0], [0.6, 0.4]]}},
        probes,
        {"numpy": "2.1.3", "joblib": "1.4.2"},
    )
    real = compare(ref, cell, Tolerances(), reference_id="r").to_json()
    compared = [c.comparison for c in load("results.json").cells if c.comparison is not None]
    assert compared
    for comparison in compared:
        assert comparison.keys() == real.keys()
        assert _paths(comparison) <= _paths(real)


def _paths(doc: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every key path of a JSON document; names of methods, classes and packages become ``*``."""
    named = {"per_class", "changed", "added", "removed"}
    paths: set[tuple[str, ...]] = set()
    if isinstance(doc, dict):
        for key, value in doc.items():
            is_name = prefix and (prefix[-1] in named or prefix[-2:] == ("scores", "methods"))
            path = (*prefix, "*" if is_name else key)
            paths |= {path} | _paths(value, path)
    elif isinstance(doc, list):
        for item in doc:
            paths |= _paths(item, (*prefix, "[]"))
    return paths


def test_terminal_is_plain_unless_coloured() -> None:
    results = load("results.json")
    assert "\033[" not in render(results, "terminal")
    coloured = render(results, "terminal", color=True)
    assert "\033[31mload-error\033[0m" in coloured and "\033[32midentical\033[0m" in coloured
    # Colour never changes the words.
    assert _strip_ansi(coloured).split() == render(results, "terminal").split()


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\033\[[0-9;]*m", "", text)


def test_formats_are_a_plain_mapping_and_unknown_ones_are_usage_errors() -> None:
    assert {"terminal", "md", "json"} <= set(FORMATS)
    with pytest.raises(UsageError, match="choose one of"):
        render(load("results.json"), "pdf")


# --- small synthetic runs ------------------------------------------------------------------------


def cell(cid: str, verdict: Verdict, **extra: Any) -> CellResult:
    base = CellResult(
        id=cid,
        backend="venv",
        python="3.12",
        packages={"scikit-learn": "1.5.2"},
        installed={"scikit-learn": "1.5.2"},
        limits={"memory": None, "cpus": None, "timeout": 300.0, "enforced": {}},
        verdict=verdict,
    )
    return replace(base, **extra)


def run(*cells: CellResult, reference: str = "ref") -> RunResults:
    return RunResults(
        matrix={"name": "m"}, artifact={"path": "model.joblib", "format": "joblib"},
        reference=reference, cells=cells,
    )  # fmt: skip


def test_a_passing_run_says_so() -> None:
    results = run(cell("ref", Verdict.IDENTICAL), cell("a", Verdict.EQUIVALENT))
    text = render(results, "terminal")
    assert "2 cells: 1 identical, 1 equivalent" in text
    assert "PASS: every cell passes the policy" in text
    assert "**✅ PASS" in render(results, "md")


def test_infrastructure_only_is_not_called_a_finding() -> None:
    error = ErrorInfo("BuildError", "no wheel")
    results = run(cell("ref", Verdict.IDENTICAL), cell("b", Verdict.BUILD_ERROR, error=error))
    assert "INFRASTRUCTURE ERROR: 1 cell could not be built or run" in render(results, "terminal")
    assert "**⚠️ INFRASTRUCTURE ERROR" in render(results, "md")


def test_a_missing_reference_is_said_plainly() -> None:
    results = run(cell("a", Verdict.NOT_COMPARED), reference="gone")
    for fmt in ("terminal", "md"):
        assert "The reference cell gone is not in these results" in render(results, fmt)


def test_untrusted_text_cannot_break_the_markdown() -> None:
    error = ErrorInfo("Evil|Type", "<script>alert(1)</script> | `tick` *bold* [link](x)")
    results = run(cell("ref", Verdict.IDENTICAL), cell("a", Verdict.LOAD_ERROR, error=error))
    text = render(results, "md")
    assert "<script>" not in text
    assert "Evil&#124;Type" in text
    assert "\\| \\`tick\\` \\*bold\\* \\[link\\](x)" in text


def test_markdown_lists_the_first_twenty_flipped_rows_with_ids_and_tags() -> None:
    n = 30
    ref = Observation({"row_ids": [f"id{i}" for i in range(n)], "tags": ["edge"] * n,
                       "methods": {"predict": [0] * n}})  # fmt: skip
    comparison = compare(ref, Observation({"methods": {"predict": [1] * n}}), Tolerances())
    drifted = cell("a", Verdict.DRIFT, comparison=comparison.to_json())
    text = render(run(cell("ref", Verdict.IDENTICAL), drifted), "md")
    assert "**Labels** (`predict`): 30 of 30 rows flipped." in text
    assert "Flipped rows (the first 20):" in text
    assert "<code>id19</code> | edge" in text and "<code>id20</code>" not in text
    assert "| `a` | **drift** | — | 1.5.2 | 30/30 |" in text


def test_packages_that_differ_are_listed_against_the_reference() -> None:
    ref = cell("ref", Verdict.IDENTICAL, installed={"numpy": "1.26.4", "scipy": "1.11.4"})
    other = replace(ref, id="a", installed={"NumPy": "2.1.3", "narwhals": "1.9.0"})
    text = render(run(ref, other), "md")
    assert "**Packages that differ from the reference** (3, dependencies included):" in text
    assert "| `numpy` | 1.26.4 | 2.1.3 |" in text
    assert "| `narwhals` | — | 1.9.0 |" in text and "| `scipy` | 1.11.4 | — |" in text


def test_shape_changes_missing_methods_and_roundtrip_details_are_explained() -> None:
    ref = Observation({"methods": {"predict": [0, 1], "predict_proba": [[0.5, 0.5], [0.1, 0.9]]}})
    new = Observation({"methods": {"predict": [0, 1, 1], "decision_function": [0.1, 0.2]}})
    comparison = compare(ref, new, Tolerances()).to_json()
    probes = {"roundtrip": {"status": "ok", "identical": False, "differs": ["predict"]}}
    flags = (Flag.ROUNDTRIP_DIFFERS, Flag.METHODS_DIFFER)
    drifted = cell("a", Verdict.DRIFT, comparison=comparison, probes=probes, flags=flags)
    text = render(run(cell("ref", Verdict.IDENTICAL), drifted), "md")
    assert "the output shape changed from <code>[2]</code> to <code>[3]</code>" in text
    assert "`predict_proba` is missing: the reference has it" in text
    assert "`decision_function` exists only in this cell" in text
    assert "changed its outputs (predict)" in text
    terminal = render(run(cell("ref", Verdict.IDENTICAL), drifted), "terminal")
    assert (
        "a: drift: predict output shape changed from [2] to [3]; predict_proba missing" in terminal
    )


def test_an_empty_error_message_leaves_just_the_type() -> None:
    failed = cell("a", Verdict.LOAD_ERROR, error=ErrorInfo("EOFError", ""))
    results = run(cell("ref", Verdict.IDENTICAL), failed)
    assert "  a: load-error: EOFError\n" in render(results, "terminal")
    assert "**Error:** <code>EOFError</code>\n" in render(results, "md")
