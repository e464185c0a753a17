"""What several sub-commands share: the backends a matrix needs, one progress line per cell."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from driftmatrix.errors import UsageError
from driftmatrix.paths import cache_dir
from driftmatrix.results import CellResult, RunResults

if TYPE_CHECKING:
    from driftmatrix.backends.base import Backend
    from driftmatrix.spec import MatrixSpec


def log(line: str) -> None:
    """One ``driftmatrix: ...`` line on stderr, at once."""
    print(f"driftmatrix: {line}", file=sys.stderr, flush=True)


def check_jobs(jobs: int | None) -> None:
    """``--jobs`` must be 1 or more.

    Raises:
        UsageError: It is not.
    """
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs {jobs}: must be 1 or more")


def progress_line(result: CellResult, done: int, total: int) -> None:
    """One line on stderr for a finished cell: position, id, verdict, time, why it failed."""
    width = len(str(total))
    error = ""
    if result.error:
        message = result.error.message
        error = f" — {result.error.type}" + (f": {message}" if message else "")
    print(
        f"[{done:>{width}}/{total}] {result.id}  {result.verdict.value}  "
        f"({result.seconds:.1f}s){error[:160]}",
        file=sys.stderr,
        flush=True,
    )


def backends_for(spec: MatrixSpec, override: str | None, no_cache: bool) -> Mapping[str, Backend]:
    """The backends the cells use, with one line on stderr for each note they give."""
    from driftmatrix.backends import resolve_backends

    names = {override or cell.backend for cell in spec.cells}
    backends, notes = resolve_backends(
        names, cache_dir=cache_dir(), no_cache=no_cache, docker=spec.docker
    )
    for note in notes:
        log(note)
    return dict(backends)


#: The report files every run (and merge) writes beside results.json: file name → format.
REPORT_FILES = {"report.md": "md", "junit.xml": "junit"}


def write_reports(out: Path, results: RunResults) -> None:
    """Write results.json and every report file into ``out``; print the terminal table and paths.

    Args:
        out: The output directory.
        results: The run's results.
    """
    from driftmatrix.report import render
    from driftmatrix.results import write_results

    path = write_results(out, results)
    for name, fmt in REPORT_FILES.items():
        (out / name).write_text(render(results, fmt), encoding="utf-8")
    print(render(results, "terminal", color=sys.stdout.isatty()))
    files = "   ".join(f"{fmt}: {out / name}" for name, fmt in REPORT_FILES.items())
    print(f"\nresults: {path}   {files}")
