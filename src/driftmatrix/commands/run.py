"""``driftmatrix run``: build, probe and compare every cell of a matrix."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from driftmatrix.commands._shared import (
    JOBS_HELP,
    NO_CACHE_HELP,
    backends_for,
    check_jobs,
    log,
    run_options,
    write_reports,
)
from driftmatrix.errors import UsageError
from driftmatrix.paths import cache_dir


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` to the sub-command parsers."""
    run = sub.add_parser("run", help="build, probe and compare every cell of a matrix")
    run.add_argument("matrix", type=Path, help="the matrix file (TOML)")
    run.add_argument("--out", type=Path, help="output directory (default: out/<matrix name>)")
    run.add_argument("--backend", choices=["auto", "venv", "docker"], help="override backends")
    run.add_argument("--jobs", type=int, help=JOBS_HELP)
    run.add_argument("--cell", action="append", default=[], metavar="ID", help="only this cell")
    run.add_argument(
        "--shard",
        metavar="K/N",
        help="only the K-th of N shards (a CI job of `driftmatrix list --json`); implies"
        " --no-reference",
    )
    run.add_argument(
        "--no-reference",
        action="store_true",
        help="run exactly the chosen cells, without adding the reference; nothing is compared"
        " (cells that ran stay not-compared until `driftmatrix merge`)",
    )
    run.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
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
    # Imported here, not with the module: the parser imports every command (cli.build_parser).
    from driftmatrix.outcome import Verdict
    from driftmatrix.progress import display_for
    from driftmatrix.run import Runner
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
    cell_ids, compare = tuple(args.cell), not (args.no_reference or args.shard)
    if args.shard is not None:
        if cell_ids:
            raise UsageError("--shard and --cell: choose the cells one way, not both")
        from driftmatrix.cimatrix import select_shard

        cell_ids = tuple(cell.id for cell in select_shard(spec, args.shard).cells)
        if not cell_ids:
            raise UsageError(
                f"--shard {args.shard}: this shard has no cells (the matrix has"
                f" {len(spec.cells)}); use the shards `driftmatrix list --json` prints"
            )
    options = run_options(
        args,
        spec,
        out,
        cell_ids=cell_ids,
        compare=compare,
        trusted_sha256=tuple(digest.lower() for digest in args.trust_sha256),
    )
    with display_for(sys.stderr) as display:
        backends = backends_for(spec, options.backend, args.no_cache, display.log)
        runner = Runner(
            spec, options, backends, cache_dir(), progress=display.finished, phase=display.phase
        )
        results = runner.run()
    write_reports(out, results)
    fail_on = spec.compare.fail_on
    if not compare:
        # A job's exit code says only what it knows alone (load-error, oom, build-error, ...):
        # drift needs the reference, so `not-compared` is never this job's finding.
        fail_on = tuple(v for v in fail_on if v is not Verdict.NOT_COMPARED)
        log(
            f"not compared: {out} holds this job's share; `driftmatrix merge` it with the other"
            " jobs' directories to compare every cell with the reference"
        )
    return exit_code(results, fail_on)
