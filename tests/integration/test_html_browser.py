"""The HTML report opens in a headless browser without network, and shows the grid and plots.

Debian's Chromium renders the report of a real run (tests/data/html/results.json) from a
``file://`` URL, in a network namespace with no interface when the test may create one, and
takes a screenshot. The test then reads the pixels: each verdict's tile colour in the grid, at
the place the grid's axes put it (Python down, scikit-learn across, in version order), and
below the grid the plots' marks: the drift colour's flipped-label bars, the scatter's points,
the latency/memory bars and a memory-limit tick in each cell's row. A page whose CSS or SVG did
not load, or whose plots lost a figure, cannot pass.

Chromium missing: skipped locally, a failure in CI (.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from realparts import missing

from driftmatrix.outcome import Verdict
from driftmatrix.report import _palette as palette
from driftmatrix.report import render
from driftmatrix.results import read_results

DATA = Path(__file__).resolve().parents[1] / "data" / "html"
WIDTH, HEIGHT = 1400, 4400


@dataclass(frozen=True)
class Mark:
    """Where a colour first fills a horizontal run of pixels: its top row and left edge."""

    top: int
    left: int
    rows: tuple[int, ...]


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    missing("chromium is not installed (Debian: apt-get install chromium)")


def offline() -> list[str]:
    """A prefix that runs a command with no network at all, where this user may create one."""
    for prefix in (["unshare", "--net"], ["unshare", "--map-root-user", "--net"]):
        if (
            shutil.which(prefix[0])
            and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0
        ):
            return prefix
    return []


@pytest.fixture(scope="module")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    from PIL import Image

    browser = chromium()
    work = tmp_path_factory.mktemp("html")
    page = work / "report.html"
    page.write_text(render(read_results(DATA), "html"), encoding="utf-8")
    png = work / "report.png"
    command = [
        *offline(),
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={work / 'profile'}",
        f"--screenshot={png}",
        f"--window-size={WIDTH},{HEIGHT}",
        page.as_uri(),
    ]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert png.exists(), f"no screenshot: {done.returncode}\n{done.stderr[-2000:]}"
    print(f"screenshot: {png}")  # to look at it: pytest -s
    with Image.open(png) as image:
        return np.asarray(image.convert("RGB"))


def find(pixels: np.ndarray, colour: str, width: int, height: int = 1) -> Mark | None:
    """Where ``colour`` (#rrggbb) first fills a ``width`` × ``height`` rectangle, from the top."""
    full = _runs(np.all(pixels == _rgb(colour), axis=2), width, axis=1)  # [y, x]: a run starts at x
    full = _runs(full, height, axis=0)  # ... and in the next height - 1 rows too
    rows = np.nonzero(full.any(axis=1))[0]
    if rows.size == 0:
        return None
    top = int(rows[0])
    return Mark(top, int(np.nonzero(full[top])[0][0]), tuple(int(r) for r in rows))


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)


def _runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """``out[i]`` is true where ``length`` true values start at ``i`` along ``axis``."""
    counts = np.cumsum(mask, axis=axis, dtype=np.int32)
    pad = np.zeros_like(np.take(counts, [0], axis=axis))
    counts = np.concatenate([pad, counts], axis=axis)
    ends = np.take(counts, range(length, counts.shape[axis]), axis=axis)
    starts = np.take(counts, range(counts.shape[axis] - length), axis=axis)
    return (ends - starts) == length


def tile(pixels: np.ndarray, verdict: Verdict, below: int = 0) -> Mark:
    """A verdict's first tile under row ``below`` (the outcome banner above shares a tint)."""
    # Tiles are at least 165 px wide; the table's badges in the same tint are narrower.
    mark = find(pixels[below:], palette.VERDICT[verdict].tint, 150)
    assert mark is not None, f"no {verdict.value} tile in the screenshot"
    return Mark(mark.top + below, mark.left, tuple(r + below for r in mark.rows))


def test_the_verdict_grid_is_coloured_and_laid_out_along_the_axes(screenshot: np.ndarray) -> None:
    reference = tile(screenshot, Verdict.IDENTICAL)  # python 3.10 × scikit-learn 1.3.2
    top = reference.top - 4
    drift = tile(screenshot, Verdict.DRIFT, top)  # 3.10 × 1.4.2
    broken = tile(screenshot, Verdict.PREDICT_ERROR, top)  # 3.10 × 1.7.2
    oom = tile(screenshot, Verdict.OOM, top)  # 3.10 × 1.3.2, under the reference
    build = tile(screenshot, Verdict.BUILD_ERROR, top)  # 3.13 × 1.3.2
    # One row: the same top, columns in version order.
    assert abs(drift.top - reference.top) < 8 and abs(broken.top - reference.top) < 8
    assert reference.left < drift.left < broken.left
    # One column: the same left edge, rows in version order.
    assert abs(oom.left - reference.left) < 8 and abs(build.left - reference.left) < 8
    assert reference.top < oom.top < build.top
    # The grid comes first on the page: right under the outcome line.
    assert reference.top < 700


def test_the_plots_are_drawn_below_the_grid(screenshot: np.ndarray) -> None:
    top = tile(screenshot, Verdict.IDENTICAL).top
    build = tile(screenshot, Verdict.BUILD_ERROR, top)  # the grid's last row
    grid_bottom = max(r for r in build.rows if r < build.top + 120)
    # Flipped labels: the two drifting cells' bars, in the drift colour.
    drift = palette.VERDICT[Verdict.DRIFT].strong
    bars = find(screenshot, drift, 25, 10)
    assert bars is not None and bars.top > grid_bottom, "no flipped-label bars below the grid"
    # Latency and memory: bars for the cells that measured them, below the first figure.
    measured = find(screenshot, palette.MEASURED, 25, 10)
    assert measured is not None and measured.top > max(bars.rows)
    # Between them, the score scatter: points in the drift colour (beyond the tolerance).
    band = screenshot[max(bars.rows) + 12 : measured.top]
    rgb = _rgb(drift)
    points = int(np.all(band == rgb, axis=2).sum())
    assert points > 200, f"only {points} pixels of scatter points"
    # In the memory panel, each cell's memory limit: a black tick across its row (8 cells).
    below = screenshot[measured.top - 4 : measured.top + 8 * 30]
    ticks = _runs(np.all(below == _rgb(palette.LIMIT), axis=2), 16, axis=0).any(axis=1)
    starts = np.nonzero(ticks[1:] & ~ticks[:-1])[0].size + int(ticks[0])
    assert starts == 8, f"{starts} rows with a memory-limit tick, expected 8"
