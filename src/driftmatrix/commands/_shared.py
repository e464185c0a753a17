"""What several sub-commands share: the backends a matrix needs, the files a run writes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from driftmatrix.errors import UsageError
from driftmatrix.paths import cache_dir
from driftmatrix.results import RunResults

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


def backends_for(
    spec: MatrixSpec,
    override: str | None,
    no_cache: bool,
    log: Callable[[str], None] = log,
) -> Mapping[str, Backend]:
    """The backends the cells use; each note they give (now or while cells run) goes to
    ``log`` (the progress display's, so that notes never garble it)."""
    from driftmatrix.backends import resolve_backends

    names = {override or cell.backend for cell in spec.cells}
    backends, notes = resolve_backends(
        names, cache_dir=cache_dir(), no_cache=no_cache, docker=spec.docker, log=log
    )
    for note in notes:
        log(note)
    return dict(backends)


#: The report files every run (and merge) writes beside results.json: file name → format.
REPORT_FILES = {"report.md": "md", "junit.xml": "junit", "report.html": "html"}


def write_reports(out: Path, results: RunResults, *, echo: bool = True) -> None:
    """Write results.json and every report file into ``out``; print the terminal table and paths.

    Args:
        out: The output directory.
        results: The run's results.
        echo: Print the table and the paths (``review`` prints its own comment instead).
    """
    from driftmatrix.report import render
    from driftmatrix.results import write_results

    path = write_results(out, results)
    for name, fmt in REPORT_FILES.items():
        (out / name).write_text(render(results, fmt), encoding="utf-8")
    if not echo:
        return
    print(render(results, "terminal", color=sys.stdout.isatty()))
    files = "   ".join(f"{fmt}: {out / name}" for name, fmt in REPORT_FILES.items())
    print(f"\nresults: {path}   {files}")
