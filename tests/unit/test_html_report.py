"""The HTML report: self-contained, escaped, deterministic, and sensible for odd runs.

Rendered from a real run's results.json (tests/data/html/results.json, produced by
``driftmatrix run tests/data/html/matrix.toml``: identical, drift, predict-error, oom and
build-error cells along Python × scikit-learn, with two memory limits), from a hostile
results.json kept as a file (tests/data/html/hostile.json), and from runs of the real Runner
over the fake backend (tests/unit/fakes.py). The plots themselves: tests/unit/test_html_plots.py;
the browser test: tests/integration/test_html_browser.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from driftmatrix.compare import MAX_SAMPLE_ROWS, compare
from driftmatrix.comparison import Observation, Tolerances
from driftmatrix.report import FORMATS, render
from driftmatrix.report._layout import layout
from driftmatrix.results import RunResults

DATA = Path(__file__).resolve().parents[1] / "data" / "html"
SRC = Path(__file__).resolve().parents[2] / "src"


def load(name: str) -> RunResults:
    return RunResults.from_json(json.loads((DATA / name).read_text(encoding="utf-8")))


class Page(HTMLParser):
    """Every start tag with its attributes, and the page's text, as a browser would parse it."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def names(self) -> set[str]:
        return {tag for tag, _ in self.tags}


@pytest.fixture(scope="module")
def page() -> str:
    return render(load("results.json"), "html")


def test_html_is_a_format_and_a_whole_page(page: str) -> None:
    assert "html" in FORMATS
    assert page.startswith("<!DOCTYPE html>\n") and page.endswith("</html>\n")
    parsed = Page(page)
    assert {"table", "figure", "svg", "details", "style"} <= parsed.names()
    assert len([t for t, _ in parsed.tags if t == "svg"]) == 3  # outputs, scores, costs
    text = "".join(parsed.text)
    assert "FAIL: 5 of 8 cells fail the policy" in text
    assert "8 cells:" in text


def test_nothing_outside_the_file_is_referenced(page: str) -> None:
    parsed = Page(page)
    assert "script" not in parsed.names() and "link" not in parsed.names()
    assert "img" not in parsed.names() and "iframe" not in parsed.names()
    for tag, attrs in parsed.tags:
        for name, value in attrs.items():
            if name in ("href", "src", "xlink:href", "action"):
                assert (value or "").startswith("#"), (tag, name, value)
    assert not re.search(r"url\(\s*['\"]?(?!#)", page), "a CSS or SVG url() outside the page"
    assert not re.search(r"(src|href)\s*=\s*['\"]?\s*(https?:)?//", page, re.IGNORECASE)
    assert "@import" not in page


def test_the_grid_is_laid_out_along_python_and_scikit_learn() -> None:
    results = load("results.json")
    grid = layout(results)
    assert grid.rows is not None and grid.columns is not None
    assert (grid.rows.name, grid.rows.values) == ("python", ("3.10", "3.12", "3.13"))
    assert (grid.columns.name, grid.columns.values) == ("scikit-learn", ("1.3.2", "1.4.2", "1.7.2"))
    assert [d.name for d in grid.others] == ["limits"]  # written inside the tiles
    # The reference and the cell with too little memory share a position; 3.13 has one cell.
    shared = grid.at(results.cells, "3.10", "1.3.2")
    assert [c.verdict.value for c in shared] == ["identical", "oom"]
    assert grid.at(results.cells, "3.13", "1.4.2") == []


def test_the_grid_and_table_show_every_cell_with_its_verdict(page: str) -> None:
    results = load("results.json")
    tiles = re.findall(r'<a class="tile v-([a-z-]+)( ref)?" href="#cell-(\d+)"', page)
    assert sorted(int(i) for _, _, i in tiles) == list(range(len(results.cells)))
    for verdict, ref, index in tiles:
        cell = results.cells[int(index)]
        assert verdict == cell.verdict.value
        assert bool(ref) == (cell.id == results.reference)
    for index, cell in enumerate(results.cells):
        assert f'<details id="cell-{index}" class="cell">' in page
        assert f'<a href="#cell-{index}"><code>{cell.id}</code></a>' in page


def test_details_show_at_least_what_markdown_shows(page: str) -> None:
    text = "".join(Page(page).text)
    for expected in (
        "38 of 280 rows flipped",  # labels
        "Flipped rows by tag: boundary",
        "280 of 280 rows beyond tolerance; max abs diff 33.2",  # scores
        "InconsistentVersionWarning",  # warnings, with versions
        "was saved with scikit-learn 1.3.2 and loaded with 1.4.2",
        "cases behave differently",  # bad-input contract
        "AttributeError: predict: 'ExtraTreeClassifier' object has no attribute 'monotonic_cst'",
        "OOMKilled: killed by its 40m memory limit",
        "has no wheel for this Python",
        "Packages that differ from the reference",
        "Against the reference",  # latency/memory ratios
        # What Markdown has no room for: limits and how they were enforced, where it ran, probes.
        "memory 1g (enforced by cgroup-v1)",
        "ran CPython 3.10.13",
        "Probes (10)",
    ):
        assert expected in text, expected


def test_hostile_text_from_a_run_stays_text() -> None:
    """Cell ids, messages, tags, versions and paths saying <script> are shown, never run."""
    page = render(load("hostile.json"), "html")
    parsed = Page(page)
    assert "script" not in parsed.names() and "img" not in parsed.names()
    assert all(not name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    assert "<script" not in page.lower()
    text = "".join(parsed.text)
    # The words are all there, as text a reader can see.
    assert '</pre><script>alert("pwned")</script><img src=x onerror=alert(1)>' in text
    assert 'py3.12-scikit-learn1.6.1"><script>alert(2)</script>' in text
    assert "<b onmouseover=alert(6)>edge</b>" in text
    assert "<svg onload=alert(4)>" in text
    assert "driftmatrix: <script>alert('name')</script>" in text
    # Attribute values cannot be broken out of either (the tile's title is the cell id).
    titles = [attrs.get("title") for tag, attrs in parsed.tags if tag == "a"]
    assert 'py3.12-scikit-learn1.6.1"><script>alert(2)</script>' in titles


def test_the_same_results_give_the_same_bytes(page: str, tmp_path: Path) -> None:
    assert render(load("results.json"), "html") == page
    # Another process (other hash seeds, nothing rendered before) writes the same bytes too.
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_bytes((DATA / "results.json").read_bytes())
    env = {"PYTHONPATH": str(SRC), "PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "driftmatrix", "report", str(run), "--format", "html"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert done.stdout == page + "\n"  # print() adds one newline


# --- odd runs, from the real Runner over the fake backend ----------------------------------------


def run_fake(tmp_path: Path, versions: tuple[str, ...], scenarios: dict[str, Any]) -> RunResults:
    from fakes import FakeBackend
    from test_run import REF, write_matrix

    from driftmatrix.run import Runner, RunOptions
    from driftmatrix.spec import load_matrix

    matrix = write_matrix(tmp_path / "m", (REF, *versions))
    backend = FakeBackend(scenarios)
    options = RunOptions(out_dir=tmp_path / "out")
    return Runner(load_matrix(matrix), options, {"venv": backend}, tmp_path / "c").run()


def test_a_run_of_one_cell_renders(tmp_path: Path) -> None:
    results = run_fake(tmp_path, (), {})
    assert len(results.cells) == 1
    page = render(results, "html")
    text = "".join(Page(page).text)
    assert "PASS: every cell passes the policy" in text
    assert "identical ★ reference" in text
    # Nothing varies: one tile, no axis headings; plots say there is nothing to compare.
    assert page.count('<a class="tile') == 1


def mixed_run(tmp_path: Path) -> RunResults:
    """A run whose cells drift, fail to load, time out, are OOM-killed, or are slower and
    heavier than the reference (also used by test_html_plots.py)."""
    from fakes import PROBA, healthy, load_failed, measured, oom_killed, timed_out
    from test_run import REF, cell_id

    drifted = tuple((round(1 - a, 2), round(1 - b, 2)) for a, b in PROBA)
    scenarios = {
        cell_id(REF): measured(2.0, 150_000),
        cell_id("1.6.1"): measured(9.0, 400_000),  # slower and heavier
        cell_id("1.7.2"): healthy(proba=drifted),
        cell_id("1.8.0"): load_failed(),
        cell_id("1.9.0"): timed_out(),
        cell_id("1.9.1"): oom_killed(),
    }
    return run_fake(tmp_path, ("1.6.1", "1.7.2", "1.8.0", "1.9.0", "1.9.1"), scenarios)


def test_failed_cells_and_missing_measurements_render(tmp_path: Path) -> None:
    page = render(mixed_run(tmp_path), "html")
    text = "".join(Page(page).text)
    for verdict in ("drift", "load-error", "timeout", "oom", "identical"):
        assert f'class="tile v-{verdict}' in page, verdict
    assert "slower" in text and "heavier" in text
    assert page.count("<svg ") == 3  # outputs, the drifted cell's scatter, latency and memory
    assert "UnpicklingError: pickle data was truncated" in text


def test_a_failed_reference_says_nothing_could_be_compared(tmp_path: Path) -> None:
    from fakes import load_failed
    from test_run import REF, cell_id

    results = run_fake(tmp_path, ("1.6.1",), {cell_id(REF): load_failed()})
    page = render(results, "html")
    text = "".join(Page(page).text)
    assert "so no other cell could be compared" in text
    assert "No cell could be compared with the reference: nothing to draw." in text
    assert "No cell measured its latency or memory: nothing to draw." in text
    assert page.count("<svg ") == 0


def test_an_empty_run_renders() -> None:
    results = RunResults(matrix={}, artifact={}, reference="gone", cells=())
    text = "".join(Page(render(results, "html")).text)
    assert "0 cells:" in text
    assert "Predictions against the reference" in text  # every section is there, empty
    assert "The reference cell gone is not in these results" in text


# --- the score sample the scatter plot draws (compare.py) ----------------------------------------


def test_a_comparison_keeps_a_bounded_sample_of_differing_scores() -> None:
    n = 250
    ref = Observation({"methods": {"p": [[i / n, 1 - i / n] for i in range(n)]}})
    cell = Observation({"methods": {"p": [[i / n + 0.5, 1 - i / n] for i in range(n)]}})
    scores = compare(ref, cell, Tolerances()).to_json()["scores"]["methods"]["p"]
    sample = scores["sample"]
    assert len(sample["reference"]) == len(sample["cell"]) == MAX_SAMPLE_ROWS
    # Evenly spaced over the golden rows, the first value of each row, both sides.
    assert sample["reference"][:3] == [0.0, 2 / n, 5 / n]
    assert sample["cell"][:3] == [0.5, 2 / n + 0.5, 5 / n + 0.5]
    same = compare(ref, ref, Tolerances()).to_json()["scores"]["methods"]["p"]
    assert "sample" not in same  # bit-identical: nothing to plot, nothing stored


def test_non_finite_sampled_scores_are_counted_not_drawn(tmp_path: Path) -> None:
    ref = Observation({"methods": {"p": [0.1, 0.2, 0.3]}})
    cell = Observation({"methods": {"p": [0.1, float("inf"), float("nan")]}})
    comparison = compare(ref, cell, Tolerances()).to_json()
    assert comparison["scores"]["methods"]["p"]["sample"]["cell"] == [0.1, "inf", "nan"]
    doc = json.loads((DATA / "hostile.json").read_text(encoding="utf-8"))
    doc["cells"][1]["comparison"]["scores"] = comparison["scores"]
    text = "".join(Page(render(RunResults.from_json(doc), "html")).text)
    assert "2 non-finite values not drawn" in text


def test_every_run_writes_report_html_beside_results_json(tmp_path: Path) -> None:
    from driftmatrix.commands._shared import REPORT_FILES, write_reports

    results = load("results.json")
    write_reports(tmp_path, results)
    assert REPORT_FILES["report.html"] == "html"
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == render(results, "html")
