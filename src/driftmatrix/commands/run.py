"""``driftmatrix run``: build, probe and compare every cell of a matrix."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from driftmatrix.commands._shared import backends_for, check_jobs, write_reports
from driftmatrix.errors import UsageError
from driftmatrix.paths import cache_dir
from driftmatrix.progress import display_for


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` to the sub-command parsers."""
    run = sub.add_parser("run", help="build, probe and compare every cell of a matrix")
    run.add_argument("matrix", type=Path, help="the matrix file (TOML)")
    run.add_argument("--out", type=Path, help="output directory (default: out/<matrix name>)")
    run.add_argument("--backend", choices=["auto", "venv", "docker"], help="override backends")
    run.add_argument("--jobs", type=int, help="cells to run at once (default: one per core)")
    run.add_argument("--cell", action="append", default=[], metavar="ID", help="only this cell")
    run.add_argument("--no-cache", action="store_true", help="rebuild environments")
    run.add_argument("--resume", action="store_true", help="keep finished, unchanged cells")
    run.add_argument(
        "--trust-sha256",
        action="append",
        default=[],
        metavar="HEX",
        help="load this exact artifact (by sha256) even if it references untrusted globals",
    )
    run.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Run the matrix; write results.json, report.md and junit.xml; print the table."""
    from driftmatrix.run import Runner, RunOptions, default_jobs
    from driftmatrix.spec import load_matrix
    from driftmatrix.verdict import exit_code

    spec = load_matrix(args.matrix)
    check_jobs(args.jobs)
    for digest in args.trust_sha256:
        if not re.fullmatch(r"[0-9A-Fa-f]{64}", digest):
            raise UsageError(
                f"--trust-sha256 {digest[:80]}: not a sha256 (64 hex digits; sha256sum prints it)"
            )
    out = args.out or Path("out") / spec.name
    options = RunOptions(
        out_dir=out,
        jobs=args.jobs or default_jobs(),
        cell_ids=tuple(args.cell),
        resume=args.resume,
        backend=args.backend,
        trusted_sha256=tuple(digest.lower() for digest in args.trust_sha256),
    )
    with display_for(sys.stderr) as display:
        backends = backends_for(spec, options.backend, args.no_cache, display.log)
        runner = Runner(
            spec, options, backends, cache_dir(), progress=display.finished, phase=display.phase
        )
        results = runner.run()
    write_reports(out, results)
    return exit_code(results, spec.compare.fail_on)
