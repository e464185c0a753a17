"""The HTML report's plots, written as SVG by hand: round ticks, text that never overlaps or
leaves the picture, escaped text, accessible figures, and the caps on what is drawn.

Rendered from a real run's results.json (tests/data/html/results.json), from a run whose cell
ids, package versions and score method say ``<script>``, quotes and ``&`` and whose label is
too long for the label column (tests/data/html/hostile_plots.json, made from results.json), and
from runs of the real Runner over the fake backend. How they look is checked in a browser by
tests/integration/test_html_browser.py.
"""

from __future__ import annotations

import copy
import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftmatrix.report import _axes as axes
from driftmatrix.report import _text as text
from driftmatrix.report._layout import dimensions
from driftmatrix.report._plot_scores import MAX_PANELS, scatter
from driftmatrix.report._plots import MAX_ROWS, costs, outputs
from driftmatrix.report.html import render
from driftmatrix.results import RunResults

DATA = Path(__file__).resolve().parents[1] / "data" / "html"
SRC = Path(__file__).resolve().parents[2] / "src"


#: Attributes whose values are numbers, written with one decimal at most.
NUMERIC = {"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height", "stroke-width"}


def load(name: str) -> RunResults:
    return RunResults.from_json(json.loads((DATA / name).read_text(encoding="utf-8")))


def plots(results: RunResults) -> list[str]:
    """The three figures' SVG (None where there was nothing to draw is left out)."""
    varying = dimensions(results)
    drawn = [outputs(results, varying), scatter(results, varying), costs(results, varying)]
    return [p.svg for p in drawn if p.svg is not None]


@dataclass(frozen=True)
class Text:
    """A text element as a browser would lay it out by our estimate, and its tooltip."""

    x: float
    y: float
    size: float
    anchor: str
    vertical: bool
    bold: bool
    words: str
    tooltip: str | None

    def box(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) in the SVG's pixels."""
        long = text.width(self.words, self.size, bold=self.bold)
        start = {"start": 0.0, "middle": -long / 2, "end": -long}[self.anchor]
        if self.vertical:  # rotated -90° about (x, y): it runs upwards
            return (self.x - self.size / 2, self.y - long - start, self.x + self.size / 2, self.y)
        return (
            self.x + start,
            self.y - self.size / 2,
            self.x + start + long,
            self.y + self.size / 2,
        )


class Svg(HTMLParser):
    """One ``<svg>`` as a browser's HTML parser reads it: tags, texts, tooltips, titles."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[Text] = []
        self.titles: list[str] = []  # every <title>, the figure's first
        self.desc = ""
        self._open: list[str] = []
        self._data = ""
        self._text: dict[str, str | None] | None = None
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open.append(tag)
        self._data = ""
        if tag == "text":
            self._text = dict(attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self._data += data

    def handle_endtag(self, tag: str) -> None:
        self._open.pop()
        if tag == "title":
            self.titles.append(self._data)
        elif tag == "desc":
            self.desc = self._data
        elif tag == "text" and self._text is not None:
            attrs = self._text
            tooltip = self.titles[-1] if self._open and self._open[-1] == "g" else None
            self.texts.append(
                Text(
                    x=float(attrs["x"] or 0),
                    y=float(attrs["y"] or 0),
                    size=float(attrs.get("font-size") or 12),
                    anchor=attrs.get("text-anchor") or "start",
                    vertical="rotate(-90" in (attrs.get("transform") or ""),
                    bold=attrs.get("font-weight") == "bold",
                    words=self._data,
                    tooltip=tooltip if len(self.titles) > 1 else None,
                )
            )
            self._text = None


def overlaps(a: Text, b: Text) -> bool:
    al, at, ar, ab = a.box()
    bl, bt, br, bb = b.box()
    return al < br - 0.5 and bl < ar - 0.5 and at < bb - 0.5 and bt < ab - 0.5


def many(count: int) -> RunResults:
    """The fixture run with its drifting cell copied ``count`` times (other Python versions)."""
    doc = json.loads((DATA / "results.json").read_text(encoding="utf-8"))
    drift = next(c for c in doc["cells"] if c["verdict"] == "drift")
    for index in range(count):
        cell = copy.deepcopy(drift)
        cell["id"] = f"{drift['id']}-copy{index}"
        cell["python"] = f"3.{20 + index}"
        doc["cells"].append(cell)
    return RunResults.from_json(doc)


# --- ticks and text ------------------------------------------------------------------------------


def step_of(scale: axes.Scale) -> float:
    values = [v for v, _ in scale.ticks]
    return (values[-1] - values[0]) / (len(values) - 1)


@given(
    low=st.floats(-1e9, 1e9, allow_nan=False),
    span=st.floats(1e-9, 1e9, allow_nan=False),
    length=st.floats(120, 900),
)
def test_linear_ticks_are_round_cover_the_values_and_their_labels_fit(
    low: float, span: float, length: float
) -> None:
    high = low + span
    room = axes.width_room()
    scale = axes.linear(low, high, (0.0, length), room)
    values = [v for v, _ in scale.ticks]
    assert 2 <= len(values) <= 9
    step = step_of(scale)
    # Every value inside the axis, to float rounding (a millionth of a step, a few ulps).
    ulps = 8 * math.ulp(max(abs(v) for v in values))
    assert scale.low == values[0] <= low + step * 1e-6 + ulps
    assert scale.high == values[-1] >= high - step * 1e-6 - ulps
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    # 1, 2 or 5 times a power of ten, up to the rounding of values far larger than the step.
    assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6 + 5 * ulps / step, step
    labels = [label for _, label in scale.ticks]
    assert len(set(labels)) == len(labels), labels  # distinct: enough decimals
    # Labels that do not fit make a coarser step taken, down to the last one or two intervals.
    intervals = len(values) - 1
    assert intervals <= 2 or max(room(label) for label in labels) <= length / intervals


def test_tick_labels_read_as_numbers() -> None:
    room = axes.width_room()

    def labels(low: float, high: float, **kw: Any) -> list[str]:
        return [label for _, label in axes.linear(low, high, (0, 300), room, **kw).ticks]

    assert labels(0, 280, integer=True) == ["0", "50", "100", "150", "200", "250", "300"]
    assert labels(0, 1.6) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0", "1.2", "1.4", "1.6"]
    assert labels(0, 2, integer=True) == ["0", "1", "2"]  # counts are never halved
    assert labels(-2, 2, most=4) == ["−2", "−1", "0", "1", "2"]  # a typographic minus, no "-0"
    assert labels(0, 3e-9) == ["0", "1e-9", "2e-9", "3e-9"]
    log = axes.logarithmic(1e-11, 1e4, (0, 300), room)
    assert log.ticks[0] == (1e-12, "10⁻¹²") and log.ticks[-1][1] == "10⁶"
    assert all(label.startswith("10") for _, label in log.ticks)


def test_fit_and_wrap_shorten_with_an_ellipsis_within_the_room() -> None:
    long = "py3.10 · scikit-learn 1.3.2 · numpy 1.26.4 · scipy 1.11.4 · mem256m-cpu0.5"
    assert text.fit("short", 200, 12) == "short"
    for words in ("py3.10 · scikit-learn 1.3.2", "mem1g-cpu1", long):  # room measured from it
        room = text.width(words + " (reference)", 12) - text.width(" (reference)", 12)
        assert text.fit(words, room, 12) == words
    cut = text.fit(long, 150, 12)
    assert cut.endswith("…") and long.startswith(cut[:-1]) and text.width(cut, 12) <= 150
    lines = text.wrap(long, 300, 12, bold=True)
    assert lines == ["py3.10 · scikit-learn 1.3.2 · numpy 1.26.4", "scipy 1.11.4 · mem256m-cpu0.5"]
    assert text.wrap("x" * 300, 100, 12)[0].endswith("…")
    assert text.width("世界", 12) > text.width("ab", 12)  # wide characters count double


# --- the figures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["results.json", "hostile_plots.json", "fake", "many"])
def test_no_text_overlaps_or_leaves_the_figure(source: str, tmp_path: Path) -> None:
    if source == "fake":
        from test_html_report import mixed_run

        results = mixed_run(tmp_path)
    elif source == "many":
        results = many(80)
    else:
        results = load(source)
    figures = plots(results)
    assert len(figures) == 3
    for figure in figures:
        width = float(re.search(r'<svg[^>]* width="([\d.]+)"', figure).group(1))  # type: ignore[union-attr]
        height = float(re.search(r'<svg[^>]* height="([\d.]+)"', figure).group(1))  # type: ignore[union-attr]
        texts = Svg(figure).texts
        for item in texts:
            left, top, right, bottom = item.box()
            assert left >= 0 and top >= 0 and right <= width and bottom <= height, item
        clashes = [(a, b) for i, a in enumerate(texts) for b in texts[i + 1 :] if overlaps(a, b)]
        assert not clashes, clashes[:3]


def test_hostile_text_in_plots_stays_text_and_long_labels_keep_the_id() -> None:
    """Cell ids, versions (in labels) and score method names come from user files; the file
    also says ``NaN`` for a latency and ``Infinity`` for ``memory_ratio`` (Python's json
    writes and reads both)."""
    results = load("hostile_plots.json")
    hostile = results.cells[1].id
    assert '"' in hostile and "'" in hostile and "&" in hostile and "<script>" in hostile
    figures = plots(results)
    for figure in figures:
        parsed = Svg(figure)
        names = {tag for tag, _ in parsed.tags}
        assert names <= {"svg", "title", "desc", "g", "text", "rect", "line", "circle"}, names
        assert all(not n.startswith("on") for _, attrs in parsed.tags for n in attrs)
        assert not any(n in ("href", "xlink:href", "style") for _, a in parsed.tags for n in a)
        assert "<script" not in figure.lower()
        assert hostile in parsed.titles  # the whole id, as a tooltip
        numbers = [v for _, a in parsed.tags for n, v in a.items() if n in NUMERIC]
        assert all(re.fullmatch(r"-?\d+(\.\d)?", v or "") for v in numbers), figure[:200]
    page = render(results)
    assert "<script" not in page.lower()
    words = [t.words for f in figures for t in Svg(f).texts]
    assert 'scikit-learn 1.4.2 & <b title="x">"bold"</b> · mem1g-cpu1' in words
    assert "reference predict_proba<script>&\"'[:, 0]" in words
    # The label too long for its column is cut with an ellipsis, the cell id kept as its tooltip.
    long_id = results.cells[2].id
    rows = [t for t in Svg(figures[0]).texts if t.tooltip == long_id]
    assert rows and rows[0].words.endswith("…") and len(rows[0].words) < 90


def test_figures_are_titled_and_described_for_screen_readers() -> None:
    results = load("results.json")
    for figure in plots(results):
        assert figure.startswith('<svg role="img" aria-label="')
        parsed = Svg(figure)
        assert parsed.tags[1][0] == "title" and parsed.tags[2][0] == "desc"
        assert parsed.titles[0] and parsed.desc
        # No ids: nothing that could clash between figures or depend on what was drawn before.
        assert not any("id" in attrs for _, attrs in parsed.tags)
    outputs_desc = Svg(plots(results)[0]).desc
    assert "py3.10 · scikit-learn 1.4.2 · mem1g-cpu1: 38 of 280" in outputs_desc
    assert "predict-error: no predictions" in outputs_desc


def test_large_runs_draw_the_capped_number_of_rows_and_panels_and_say_so() -> None:
    results = many(80)  # 88 cells, 82 of them differ from the reference
    varying = dimensions(results)
    for plot in (outputs(results, varying), costs(results, varying)):
        assert plot.svg is not None
        rows = {t.tooltip for t in Svg(plot.svg).texts if t.anchor == "end" and t.tooltip}
        assert len(rows) == MAX_ROWS
        assert results.reference in rows  # the reference, then the most severe
        assert f"88 cells ran; the chart draws at most {MAX_ROWS}" in plot.caption
    plot = scatter(results, varying)
    assert plot.svg is not None
    panels = {t.tooltip for t in Svg(plot.svg).texts if t.bold and t.tooltip}
    assert len(panels) == MAX_PANELS
    assert f"70 more cells differ; at most {MAX_PANELS} panels are drawn" in plot.caption
    small = load("results.json")
    assert "draws at most" not in outputs(small, dimensions(small)).caption


def test_the_bars_are_drawn_to_scale_in_the_verdict_colours() -> None:
    from driftmatrix.outcome import Verdict
    from driftmatrix.report import _palette as palette

    figure = plots(load("results.json"))[0]
    drift = palette.VERDICT[Verdict.DRIFT].strong
    bars = [a for tag, a in Svg(figure).tags if tag == "rect" and a.get("fill") == drift]
    assert len(bars) == 2  # the two drifting cells' flipped labels: 38 of 280 each
    ticks = dict((t.words, t.x) for t in Svg(figure).texts if t.anchor == "middle")
    per_row = (ticks["100"] - ticks["0"]) / 100
    for bar in bars:
        assert float(bar["x"] or 0) == pytest.approx(ticks["0"], abs=0.1)
        assert float(bar["width"] or 0) == pytest.approx(38 * per_row, abs=0.2)


def test_rendering_the_page_imports_no_plotting_library() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from driftmatrix.report import html\n"
        "from driftmatrix.results import read_results\n"
        "before = set(sys.modules)\n"
        f"html.render(read_results(Path({str(DATA)!r})))\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(n for n in new if n not in sys.stdlib_module_names and n != 'driftmatrix'))\n"
        "print('matplotlib' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert done.stdout.split("\n")[:2] == ["[]", "False"]
