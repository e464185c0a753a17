"""The Markdown report fits a GitHub comment (65,536 characters) and says what it left out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from driftmatrix.outcome import Verdict
from driftmatrix.report import markdown
from driftmatrix.results import RunResults, read_results

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


def _many(copies: int) -> RunResults:
    """The report fixture with each non-reference cell repeated ``copies`` times."""
    results = read_results(REPORTS)
    cells = [c for c in results.cells if c.id == results.reference]
    for n in range(copies):
        cells += [
            replace(c, id=f"{c.id}-copy{n:03d}") for c in results.cells if c.id != results.reference
        ]
    return replace(results, cells=tuple(cells))


def test_a_small_run_is_rendered_whole() -> None:
    text = markdown.render(read_results(REPORTS))
    assert "left out" not in text


def test_hundreds_of_cells_fit_a_github_comment() -> None:
    results = _many(100)
    text = markdown.render(results)
    assert len(text) <= 65_536
    assert "cells' details left out to fit a GitHub comment; results.json has every cell." in text
    assert f"`{results.reference}` (reference)" in text  # the reference row always stays
    # Failures come before passing cells: the most severe rows (build-error here) are there
    # before any identical copy is.
    worst = [c for c in results.cells if c.verdict is Verdict.BUILD_ERROR]
    assert worst and all(f"`{c.id}`" in text for c in worst[:10])


def test_a_tight_budget_trims_the_table_too_and_counts_what_is_gone() -> None:
    results = _many(20)
    text = markdown.render(results, limit=8_000)
    assert len(text) <= 8_000 + 2_000  # the head is always kept whole
    assert "rows of this table left out to fit a GitHub comment" in text
    assert text.startswith("## driftmatrix:")
