"""commands/_shared.write_reports: report.html is drawn again only when what it shows changed."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from driftmatrix.commands._shared import RENDERED, write_reports
from driftmatrix.outcome import Verdict
from driftmatrix.report import render
from driftmatrix.results import RunResults

DATA = Path(__file__).resolve().parents[1] / "data" / "reports"
OLD = 1_000_000_000  # a modification time no write of this test can give


def load(name: str = "results_reference_failed.json") -> RunResults:
    """A run from tests/data/reports; by default one whose page has no plot (its reference
    failed: nothing was compared, nothing measured), so that drawing it takes milliseconds."""
    return RunResults.from_json(json.loads((DATA / name).read_text(encoding="utf-8")))


def with_plots() -> RunResults:
    """A run whose page has every plot: the reference and a drifting cell."""
    results = load("results.json")
    return replace(results, cells=(results.cells[0], results.cells[3]))


def reused(results: RunResults) -> RunResults:
    """The same run, every cell taken from the result cache."""
    return replace(results, cells=tuple(replace(c, reused="cache") for c in results.cells))


def age(out: Path) -> None:
    """Make every report file look old, so that a rewrite shows in its mtime."""
    for name in ("report.html", "report.md", "junit.xml"):
        os.utime(out / name, (OLD, OLD))


def rewritten(out: Path, name: str) -> bool:
    return (out / name).stat().st_mtime != OLD


@pytest.fixture
def written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """An output directory with every report of :func:`load`'s run, aged."""
    write_reports(tmp_path, load())
    capsys.readouterr()
    age(tmp_path)
    return tmp_path


def test_the_same_results_do_not_draw_the_page_again(written: Path) -> None:
    write_reports(written, load(), echo=False)

    assert not rewritten(written, "report.html")
    assert rewritten(written, "report.md") and rewritten(written, "junit.xml")  # cheap: always


def test_a_rerun_that_reused_every_cell_keeps_the_page_which_is_still_exact(
    tmp_path: Path,
) -> None:
    write_reports(tmp_path, with_plots(), echo=False)
    age(tmp_path)
    again = reused(with_plots())
    write_reports(tmp_path, again, echo=False)

    assert not rewritten(tmp_path, "report.html")
    # The page (plots included) does not show where a result came from: the kept page is the
    # very page these results give.
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == render(again, "html")
    assert "cached" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_changed_results_draw_the_page_again(written: Path) -> None:
    results = load()
    changed = replace(results, cells=(replace(results.cells[0], verdict=Verdict.OOM),))
    write_reports(written, changed, echo=False)

    assert rewritten(written, "report.html")
    assert (written / "report.html").read_text(encoding="utf-8") == render(changed, "html")


@pytest.mark.parametrize("damage", ["page-edited", "page-deleted", "record-damaged"])
def test_a_page_not_as_written_is_drawn_again(written: Path, damage: str) -> None:
    page = written / "report.html"
    if damage == "page-edited":
        page.write_text(page.read_text(encoding="utf-8") + "<!-- edited -->", encoding="utf-8")
    elif damage == "page-deleted":
        page.unlink()
    else:
        (written / RENDERED).write_text("{", encoding="utf-8")
    if page.exists():
        os.utime(page, (OLD, OLD))
    write_reports(written, load(), echo=False)

    assert rewritten(written, "report.html")
    assert page.read_text(encoding="utf-8") == render(load(), "html")
