"""``driftmatrix grid``: save the model in every cell, load every cell's file in every cell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driftmatrix.commands._shared import (
    JOBS_HELP,
    NO_CACHE_HELP,
    backends_for,
    check_jobs,
    run_options,
)
from driftmatrix.paths import cache_dir


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``grid`` to the sub-command parsers."""
    grid = sub.add_parser(
        "grid", help="save the model in every cell and load every cell's file in every cell"
    )
    grid.add_argument("matrix", type=Path, help="the matrix file (TOML) with a recipe")
    grid.add_argument("--out", type=Path, help="output directory (default: out/<name>-grid)")
    grid.add_argument("--backend", choices=["auto", "venv", "docker"], help="override backends")
    grid.add_argument("--jobs", type=int, help=JOBS_HELP)
    grid.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    grid.add_argument("--resume", action="store_true", help="keep finished, unchanged cells")
    grid.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Build the producer × consumer grid; write grid.json and grid.md; print the table."""
    from driftmatrix.grid import build_grid, grid_exit_code
    from driftmatrix.progress import display_for
    from driftmatrix.report.grid import render_grid
    from driftmatrix.results import write_json_atomic
    from driftmatrix.spec import load_matrix

    spec = load_matrix(args.matrix)
    check_jobs(args.jobs)
    out = args.out or Path("out") / f"{spec.name}-grid"
    options = run_options(args, spec, out)
    with display_for(sys.stderr) as display:
        backends = backends_for(spec, options.backend, args.no_cache, display.log)
        grid = build_grid(
            spec,
            options,
            backends,
            cache_dir(),
            progress=display.finished,
            phase=display.phase,
            log=display.log,
        )
    write_json_atomic(out / "grid.json", grid.to_json())
    (out / "grid.md").write_text(render_grid(grid, "md"), encoding="utf-8")
    print(render_grid(grid, "terminal"))
    print(f"grid: {out / 'grid.json'}   report: {out / 'grid.md'}")
    return grid_exit_code(grid, spec.compare.fail_on)
