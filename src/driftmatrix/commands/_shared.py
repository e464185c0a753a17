"""What several sub-commands share: the backends a matrix needs, the files a run writes."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftmatrix.errors import UsageError
from driftmatrix.paths import cache_dir

if TYPE_CHECKING:  # every command imports this module to build its parser: keep that light
    import argparse

    from driftmatrix.backends.base import Backend
    from driftmatrix.results import RunResults
    from driftmatrix.run import RunOptions
    from driftmatrix.spec import MatrixSpec


#: ``--jobs`` of every command that runs cells (driftmatrix.jobs.default_jobs).
JOBS_HELP = "cells to run at once (default: one per core, as many as the memory holds)"
#: ``--no-cache`` of every command that runs cells.
NO_CACHE_HELP = "run every cell and rebuild environments: reuse no cached result or environment"


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


def run_options(args: argparse.Namespace, spec: MatrixSpec, out: Path, **more: Any) -> RunOptions:
    """The :class:`~driftmatrix.run.RunOptions` of a command that runs cells, from the options
    they all share (``--jobs``, ``--resume``, ``--no-cache``, ``--backend``) and ``more``."""
    from driftmatrix.jobs import default_jobs
    from driftmatrix.run import RunOptions

    return RunOptions(
        out_dir=out,
        jobs=args.jobs or default_jobs(cell.limits for cell in spec.cells),
        resume=args.resume,
        cache=not args.no_cache,
        backend=args.backend,
        **more,
    )


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
#: Beside them: what report.html was rendered from (:func:`write_reports`).
RENDERED = ".driftmatrix-reports.json"


def write_reports(out: Path, results: RunResults, *, echo: bool = True) -> None:
    """Write results.json and every report file into ``out``; print the terminal table and paths.

    report.html is rendered again only when what it shows changed: drawing its plots takes
    seconds, the rest milliseconds. It shows everything in results.json except where a reused
    cell came from (``reused``), so the page is keyed on a hash of the results without it and
    of the report code; ``RENDERED`` records the key and the page's sha256, and a page that was
    edited, damaged or deleted since is rendered again.

    Args:
        out: The output directory.
        results: The run's results.
        echo: Print the table and the paths (``review`` prints its own comment instead).
    """
    from driftmatrix.report import render
    from driftmatrix.results import write_json_atomic, write_results

    path = write_results(out, results)
    rendered = _rendered(out)
    for name, fmt in REPORT_FILES.items():
        if fmt != "html":
            (out / name).write_text(render(results, fmt), encoding="utf-8")
            continue
        key = _html_key(results)
        if _unchanged(out / name, rendered.get(name) or {}, key):
            continue
        page = render(results, fmt).encode()
        (out / name).write_bytes(page)
        rendered[name] = {"key": key, "sha256": hashlib.sha256(page).hexdigest()}
        write_json_atomic(out / RENDERED, rendered)
    if not echo:
        return
    print(render(results, "terminal", color=sys.stdout.isatty()))
    files = "   ".join(f"{fmt}: {out / name}" for name, fmt in REPORT_FILES.items())
    print(f"\nresults: {path}   {files}")


def _rendered(out: Path) -> dict[str, Any]:
    try:
        doc = json.loads((out / RENDERED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in doc.items() if isinstance(v, dict)} if isinstance(doc, dict) else {}


def _unchanged(path: Path, recorded: Mapping[str, Any], key: str) -> bool:
    """``path`` is the page rendered from ``key``, byte for byte as it was written."""
    if recorded.get("key") != key:
        return False
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == recorded.get("sha256")
    except OSError:
        return False


def _html_key(results: RunResults) -> str:
    """What report.html is a function of: the results but ``reused``, and the code drawing it."""
    import driftmatrix.report
    from driftmatrix.results import strict_json

    doc = results.to_json()
    doc["cells"] = [{k: v for k, v in cell.items() if k != "reused"} for cell in doc["cells"]]
    digest = hashlib.sha256(driftmatrix.__version__.encode() + b"\0")
    for source in sorted(Path(driftmatrix.report.__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    digest.update(json.dumps(strict_json(doc), sort_keys=True).encode())
    return digest.hexdigest()
