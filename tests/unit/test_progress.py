"""progress.py: the live display on a terminal, plain lines elsewhere, driven by a fake clock.

The displays write to a real text stream (``io.StringIO``, or a real pseudo-terminal for
``display_for``); time is a fake clock the test moves, and the background thread is off
(``interval=None``) so every redraw happens where the test calls :meth:`tick`.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from pathlib import Path

import pytest
from fakes import FakeBackend, Scenario, healthy
from test_run import cell_id, write_matrix

from driftmatrix.outcome import Verdict
from driftmatrix.progress import (
    HEARTBEAT_SECONDS,
    LiveDisplay,
    Phase,
    PlainDisplay,
    clock_text,
    display_for,
    finished_line,
)
from driftmatrix.results import CellResult, ErrorInfo
from driftmatrix.run import Runner, RunOptions
from driftmatrix.spec import load_matrix

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def result(cell_id: str, verdict: Verdict = Verdict.IDENTICAL, error: str = "") -> CellResult:
    return CellResult(
        id=cell_id,
        backend="venv",
        python="3.11",
        packages={},
        installed={},
        limits={},
        verdict=verdict,
        error=ErrorInfo("ValueError", error) if error else None,
        seconds=12.34,
    )


def screen(raw: str) -> list[str]:
    """What a terminal shows after ``raw``: replays the two escapes the live display uses
    (cursor up N lines to column 0, clear to the end of the screen) on a list of lines."""
    lines: list[str] = []
    row = 0
    for token in re.split(r"(\x1b\[[0-9;?]*[A-Za-z]|\n)", raw):
        if token == "\n":
            row += 1
        elif token.startswith("\x1b["):
            if token.endswith("F"):
                row -= int(token[2:-1])
            elif token.endswith("J"):
                del lines[row:]
        elif token:
            while len(lines) <= row:
                lines.append("")
            lines[row] = token
    return lines


def test_finished_line_names_position_verdict_time_and_error() -> None:
    line = finished_line(result("a", Verdict.LOAD_ERROR, "x" * 500), 3, 12)
    assert line.startswith("[ 3/12] a  load-error  (12.3s) — ValueError: xxx")
    assert len(line) < 220  # the whole message is in the reports, not in the log


def test_clock_text() -> None:
    assert [clock_text(s) for s in (0, 59.9, 61, 3600 + 62, -5)] == [
        "0:00",
        "0:59",
        "1:01",
        "1:01:02",
        "0:00",
    ]


def test_plain_display_prints_finished_lines_and_no_escape_codes() -> None:
    stream, clock = io.StringIO(), Clock()
    with PlainDisplay(stream, clock, interval=None) as display:
        for cell in ("a", "b"):
            display.phase(cell, Phase.QUEUED)
        display.phase("a", Phase.BUILDING)
        display.finished(result("a"), 1, 2)
        display.log("a note")
        display.tick()
    assert stream.getvalue() == "[1/2] a  identical  (12.3s)\ndriftmatrix: a note\n"


def test_plain_display_says_what_still_runs_after_a_minute_of_silence() -> None:
    stream, clock = io.StringIO(), Clock()
    display = PlainDisplay(stream, clock, interval=None)
    for cell in ("slow", "other", "later"):
        display.phase(cell, Phase.QUEUED)
    display.phase("slow", Phase.BUILDING)
    clock.now += 30
    display.phase("other", Phase.PROBING)
    clock.now += HEARTBEAT_SECONDS - 31
    display.tick()
    assert stream.getvalue() == ""  # 59 s of silence: nothing yet
    clock.now += 2
    display.tick()
    assert stream.getvalue() == (
        "... 0 of 3 done · 1 probing · 1 building · 1 queued · 1:01; "
        "running: slow building 1:01, other probing 0:31\n"
    )
    clock.now += 10
    display.tick()  # said it just now: not again for another minute
    assert stream.getvalue().count("\n") == 1
    display.close()


def test_plain_display_is_silent_when_nothing_runs() -> None:
    stream, clock = io.StringIO(), Clock()
    display = PlainDisplay(stream, clock, interval=None)
    clock.now += 10 * HEARTBEAT_SECONDS
    display.tick()
    assert stream.getvalue() == ""


def test_live_display_shows_done_running_queued_and_each_running_cell() -> None:
    stream, clock = io.StringIO(), Clock()
    display = LiveDisplay(stream, clock, columns=lambda: 80, interval=None)
    for cell in ("ref", "b", "c", "d"):
        display.phase(cell, Phase.QUEUED)
    display.phase("ref", Phase.BUILDING)
    clock.now += 2
    display.phase("b", Phase.BUILDING)
    clock.now += 3
    display.phase("ref", Phase.PROBING)
    clock.now += 4
    display.tick()
    assert screen(stream.getvalue()) == [
        "0 of 4 done · 1 probing · 1 building · 2 queued · 0:09",
        "  building  b    0:07",
        "  probing   ref  0:04",
    ]
    display.phase("b", Phase.WAITING)
    display.finished(result("ref"), 1, 4)
    clock.now += 60
    display.tick()
    assert screen(stream.getvalue()) == [
        "[1/4] ref  identical  (12.3s)",
        "1 of 4 done · 1 waiting · 2 queued · 1:09",
        "  waiting   b  1:00",
    ]
    display.close()
    assert screen(stream.getvalue()) == ["[1/4] ref  identical  (12.3s)"]
    assert stream.getvalue().startswith("\x1b[?25l") and stream.getvalue().endswith("\x1b[?25h")


def test_both_displays_show_a_cell_built_ahead_and_waiting_for_a_worker() -> None:
    """Built while other cells run, a cell waits for a free worker: "ready", not "building"."""
    stream, clock = io.StringIO(), Clock()
    live = LiveDisplay(stream, clock, columns=lambda: 80, interval=None)
    plain_stream = io.StringIO()
    plain = PlainDisplay(plain_stream, clock, interval=None)
    for display in (live, plain):
        for cell in ("ref", "b"):
            display.phase(cell, Phase.QUEUED)
        display.phase("ref", Phase.PROBING)
        display.phase("b", Phase.BUILDING)
    clock.now += 1
    for display in (live, plain):
        display.phase("b", Phase.READY)
    clock.now += HEARTBEAT_SECONDS
    live.tick()
    plain.tick()
    assert screen(stream.getvalue()) == [
        "0 of 2 done · 1 probing · 1 ready · 0 queued · 1:01",
        "  probing   ref  1:01",
        "  ready     b    1:00",
    ]
    assert plain_stream.getvalue() == (
        "... 0 of 2 done · 1 probing · 1 ready · 0 queued · 1:01; "
        "running: ref probing 1:01, b ready 1:00\n"
    )
    live.close()
    plain.close()


def test_live_display_writes_nothing_when_nothing_changed() -> None:
    stream, clock = io.StringIO(), Clock()
    display = LiveDisplay(stream, clock, columns=lambda: 80, interval=None)
    display.phase("a", Phase.BUILDING)
    clock.now += 0.1
    before = stream.getvalue()
    display.tick()
    assert stream.getvalue() == before
    clock.now += 1
    display.tick()
    assert stream.getvalue() != before  # the seconds moved on


def test_live_display_never_wraps_a_line() -> None:
    """A wrapped line would take two rows and the erase would leave one behind."""
    stream, clock = io.StringIO(), Clock()
    display = LiveDisplay(stream, clock, columns=lambda: 30, interval=None)
    display.phase("py3.13-scikit-learn1.9.1-numpy2.3.5-memory256m", Phase.PROBING)
    display.finished(result("py3.10-scikit-learn1.2.2-numpy1.26.4", Verdict.LOAD_ERROR, "e"), 1, 9)
    display.phase("x", Phase.BUILDING)
    plain = ESCAPE.sub("", stream.getvalue())
    assert max(len(line) for line in plain.splitlines()) <= 29


def test_the_background_thread_redraws_on_its_own() -> None:
    stream = io.StringIO()
    with LiveDisplay(stream, columns=lambda: 80, interval=0.01) as display:
        display.phase("a", Phase.BUILDING)
        start = stream.getvalue()
        for _ in range(300):  # the seconds counter moves within ~1 s
            if stream.getvalue() != start:
                break
            time.sleep(0.01)
    assert stream.getvalue() != start


def test_display_for_picks_live_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    assert isinstance(display_for(io.StringIO()), PlainDisplay)
    primary, secondary = os.openpty()
    try:
        with open(secondary, "w", encoding="utf-8", closefd=False) as terminal:
            assert isinstance(display_for(terminal), LiveDisplay)
            monkeypatch.setenv("TERM", "dumb")
            assert isinstance(display_for(terminal), PlainDisplay)
    finally:
        os.close(primary)
        os.close(secondary)


def test_a_closed_stream_does_not_stop_the_run() -> None:
    stream = io.StringIO()
    display = PlainDisplay(stream, Clock(), interval=None)
    stream.close()
    display.finished(result("a"), 1, 1)  # no ValueError: progress is not worth a crash


def test_the_runner_reports_every_phase_in_order(tmp_path: Path) -> None:
    """Each cell: queued, building, probing; a cell that finishes before the reference waits."""
    matrix = write_matrix(tmp_path / "m", ("1.4.2", "1.5.2"))
    ref, other = cell_id("1.5.2"), cell_id("1.4.2")
    events: list[tuple[str, str]] = []
    # The reference finishes only once the other cell is reported waiting for it (a deadlock
    # would fail after the fake's 10 s, not hang).
    released = threading.Event()
    backend = FakeBackend({ref: Scenario(wait_for=released), other: healthy()})

    def phase(cell: str, value: Phase) -> None:
        events.append((cell, value.value))
        if (cell, value) == (other, Phase.WAITING):
            released.set()
    Runner(
        load_matrix(matrix),
        RunOptions(out_dir=tmp_path / "out", jobs=2),
        {"venv": backend},
        tmp_path / "cache",
        progress=lambda res, done, total: events.append((res.id, "finished")),
        phase=phase,
    ).run()
    for cell, expected in (
        (ref, ["queued", "building", "probing", "finished"]),
        (other, ["queued", "building", "probing", "waiting", "finished"]),
    ):
        assert [event for cid, event in events if cid == cell] == expected
    assert events.index((ref, "finished")) < events.index((other, "finished"))


def test_backend_notes_go_where_the_command_says(tmp_path: Path) -> None:
    """The docker backend's notes (image chosen, containers swept) reach the display's log
    instead of being printed under the live block; constructing it does not connect."""
    from driftmatrix.backends import resolve_backends

    notes: list[str] = []
    backends, _ = resolve_backends({"docker", "venv"}, cache_dir=tmp_path, log=notes.append)
    backends["docker"]._log("building python:3.11")  # type: ignore[attr-defined]
    assert notes == ["building python:3.11"]
