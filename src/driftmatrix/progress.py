"""What a run shows while it runs: a live display on a terminal, plain lines anywhere else.

The runner reports two kinds of events: a cell entering a :class:`Phase` (queued, building its
environment, ready and waiting for a free worker, probing, waiting for the reference) and a cell
finishing. A display turns them into output on stderr:

- :class:`LiveDisplay` (a terminal): every finished cell is one permanent line, and below them a
  block redrawn several times a second — cells done / in each phase / queued, the elapsed time, and
  each running cell with its phase and how long it has been in it.
- :class:`PlainDisplay` (CI logs, pipes, files): one line per finished cell, nothing redrawn, no
  escape codes; after a minute without output, one line saying what is still running, so a log
  never looks hung while a long cell builds.

Both draw from a background thread because a cell can run for minutes without any event.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import TextIO

from driftmatrix.report._common import reuse_word
from driftmatrix.results import CellResult

#: Seconds between redraws of the live block (fast enough to look live, cheap on 2 cores).
REDRAW_SECONDS = 0.25

#: Seconds of silence after which the plain display says what is still running.
HEARTBEAT_SECONDS = 60.0

#: Longest error text on a finished cell's line (the whole message is in the reports).
_ERROR_CHARS = 160


class Phase(str, Enum):
    """Where a cell is in its run."""

    QUEUED = "queued"
    BUILDING = "building"
    #: Its environment is built (ahead, while other cells run); it waits for a free worker.
    READY = "ready"
    PROBING = "probing"
    #: Probed, waiting for the reference cell to finish before it can be compared.
    WAITING = "waiting"


#: The phases the summary counts, in the order a cell goes through them (queued is counted last).
_SHOWN = (Phase.PROBING, Phase.BUILDING, Phase.READY, Phase.WAITING)


@dataclass(frozen=True)
class _Running:
    """A cell that has not finished: its phase and when it entered it (monotonic seconds)."""

    phase: Phase
    since: float


def finished_line(result: CellResult, done: int, total: int) -> str:
    """The line for a finished cell: position, id, verdict, wall time, and why it failed."""
    width = len(str(total))
    error = ""
    if result.error:
        message = result.error.message
        error = f" — {result.error.type}" + (f": {message}" if message else "")
    word = reuse_word(result)
    took = f"{result.seconds:.1f}s" + (f", {word}" if word else "")
    return (
        f"[{done:>{width}}/{total}] {result.id}  {result.verdict.value}  "
        f"({took}){error[:_ERROR_CHARS]}"
    )


def clock_text(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _Display:
    """The state both displays keep, and the thread that wakes them up.

    Args:
        stream: Where to write (stderr).
        clock: Monotonic seconds; tests pass a fake.
        interval: Seconds between :meth:`_tick` calls from the background thread.
    """

    def __init__(self, stream: TextIO, clock: Callable[[], float], interval: float | None) -> None:
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.cells: dict[str, _Running] = {}
        # The cells past QUEUED, apart: a run queues every cell up front, and a redraw that
        # walked all of them at each event would cost O(cells²) before the first one starts.
        self._active: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if interval is not None:
            self._thread = threading.Thread(
                target=self._loop, args=(interval,), name="driftmatrix-progress", daemon=True
            )

    def __enter__(self) -> _Display:
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the background thread and leave the terminal as it was."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join()
        with self._lock:
            self._closed()

    def phase(self, cell_id: str, phase: Phase) -> None:
        """A cell entered ``phase``."""
        with self._lock:
            self.cells[cell_id] = _Running(phase, self.clock())
            if phase is Phase.QUEUED:
                self._active.pop(cell_id, None)
            else:
                self._active[cell_id] = self.cells[cell_id]
            self._changed()

    def finished(self, result: CellResult, done: int, total: int) -> None:
        """A cell finished: its permanent line."""
        with self._lock:
            self.cells.pop(result.id, None)
            self._active.pop(result.id, None)
            self.done += 1
            self._line(finished_line(result, done, total))

    def log(self, line: str) -> None:
        """A note of the command's or a backend's, as ``driftmatrix: LINE``, that must not
        garble the display."""
        with self._lock:
            self._line(f"driftmatrix: {line}")

    def tick(self) -> None:
        """What the background thread does each interval (tests call it with a fake clock)."""
        with self._lock:
            self._tick()

    def running(self) -> list[tuple[str, _Running]]:
        """The cells building or probing, longest-running first."""
        return sorted(self._active.items(), key=lambda item: (item[1].since, item[0]))

    def summary(self) -> str:
        """``3 of 7 done · 2 probing · 1 building · 1 queued · 1:02``.

        Each phase counted apart: cells build ahead of the ``--jobs`` workers, so a single
        "running" count could exceed ``--jobs`` and read as a broken bound.
        """
        counts = Counter(run.phase for run in self._active.values())
        queued = len(self.cells) - len(self._active)
        total = self.done + len(self.cells)
        elapsed = clock_text(self.clock() - self.started)
        phases = [f"{counts[phase]} {phase.value}" for phase in _SHOWN if counts[phase]]
        return " · ".join([f"{self.done} of {total} done", *phases, f"{queued} queued", elapsed])

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.tick()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            # stderr closed or gone (a pipe whose reader quit): progress is not worth a crash.
            pass

    # The parts each display decides; called with the lock held.
    def _line(self, line: str) -> None:
        raise NotImplementedError

    def _changed(self) -> None:
        pass

    def _tick(self) -> None:
        pass

    def _closed(self) -> None:
        pass


class PlainDisplay(_Display):
    """One line per finished cell; after ``heartbeat`` seconds of silence, what still runs.

    Args:
        stream: Where to write.
        clock: Monotonic seconds.
        heartbeat: Seconds of silence before a "still running" line.
        interval: Seconds between checks (None: no background thread; tests call :meth:`tick`).
    """

    def __init__(
        self,
        stream: TextIO,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: float = HEARTBEAT_SECONDS,
        interval: float | None = 5.0,
    ) -> None:
        super().__init__(stream, clock, interval)
        self.heartbeat = heartbeat
        self._last_output = self.started

    def _line(self, line: str) -> None:
        self._write(line + "\n")
        self._last_output = self.clock()

    def _tick(self) -> None:
        now = self.clock()
        if not self.cells or now - self._last_output < self.heartbeat:
            return
        running = ", ".join(
            f"{cell_id} {run.phase.value} {clock_text(now - run.since)}"
            for cell_id, run in self.running()
        )
        self._line(f"... {self.summary()}" + (f"; running: {running}" if running else ""))


class LiveDisplay(_Display):
    """Permanent lines for finished cells, and a live block below them (a terminal only).

    Args:
        stream: A terminal.
        clock: Monotonic seconds.
        columns: The terminal's width, asked at every redraw (the window can be resized).
        interval: Seconds between redraws (None: tests call :meth:`tick`).
    """

    def __init__(
        self,
        stream: TextIO,
        clock: Callable[[], float] = time.monotonic,
        columns: Callable[[], int] = lambda: shutil.get_terminal_size().columns,
        interval: float | None = REDRAW_SECONDS,
    ) -> None:
        super().__init__(stream, clock, interval)
        self.columns = columns
        self._drawn: list[str] = []  # the block currently on screen
        self._write("\x1b[?25l")  # no blinking cursor jumping around the block

    def block(self) -> list[str]:
        """The live block's lines, each cut to the terminal's width (a wrapped line would
        throw off the cursor arithmetic that erases the block)."""
        now = self.clock()
        lines = [self.summary()]
        running = self.running()
        width = max((len(cell_id) for cell_id, _ in running), default=0)
        lines += [
            f"  {run.phase.value:<8}  {cell_id:<{width}}  {clock_text(now - run.since)}"
            for cell_id, run in running
        ]
        limit = max(10, self.columns() - 1)
        return [line[:limit] for line in lines]

    def _erase(self) -> None:
        if self._drawn:
            # Up to the block's first line, then clear from there to the end of the screen.
            self._write(f"\x1b[{len(self._drawn)}F\x1b[J")
            self._drawn = []

    def _draw(self) -> None:
        lines = self.block()
        self._write("".join(line + "\n" for line in lines))
        self._drawn = lines

    def _line(self, line: str) -> None:
        self._erase()
        self._write(line[: max(10, self.columns() - 1)] + "\n")
        self._draw()

    def _changed(self) -> None:
        self._erase()
        self._draw()

    def _tick(self) -> None:
        if self.block() != self._drawn:  # most ticks change nothing: write nothing
            self._changed()

    def _closed(self) -> None:
        self._erase()
        self._write("\x1b[?25h")


Display = PlainDisplay | LiveDisplay


def display_for(stream: TextIO) -> Display:
    """The live display when ``stream`` is a terminal that can take escape codes, else plain."""
    try:
        tty = stream.isatty()
    except (OSError, ValueError):
        tty = False
    if tty and os.environ.get("TERM", "") not in ("", "dumb"):
        return LiveDisplay(stream)
    return PlainDisplay(stream)
