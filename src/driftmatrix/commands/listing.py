"""``driftmatrix list``: the cells a matrix expands to, as a table or a CI job matrix."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from driftmatrix.cimatrix import GITHUB_MAX_JOBS, job_matrix


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``list`` to the sub-command parsers."""
    lst = sub.add_parser("list", help="show the cells a matrix expands to")
    lst.add_argument("matrix", type=Path)
    lst.add_argument(
        "--json",
        action="store_true",
        help='a GitHub Actions strategy.matrix ({"include": [...]}, one line): one job per'
        " shard of cells, each run with `driftmatrix run MATRIX --shard K/N`",
    )
    lst.add_argument(
        "--max-jobs",
        type=int,
        default=GITHUB_MAX_JOBS,
        metavar="N",
        help=f"with --json: pack the cells into at most N jobs (default {GITHUB_MAX_JOBS},"
        " GitHub's limit per matrix)",
    )
    lst.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Print the expanded cells."""
    from driftmatrix.spec import load_matrix

    spec = load_matrix(args.matrix)
    if args.json:
        # One line: a workflow stores it with `echo "matrix=$(...)" >> "$GITHUB_OUTPUT"`.
        print(json.dumps(job_matrix(spec, args.max_jobs), separators=(",", ":")))
        return 0
    from tabulate import tabulate  # here: `list --json`, a CI job's first step, needs none

    rows = [
        [
            ("* " if cell.id == spec.reference else "  ") + cell.id,
            cell.python,
            " ".join(f"{k}=={v}" for k, v in cell.packages),
            cell.limits.label or "-",
            cell.backend,
        ]
        for cell in spec.cells
    ]
    headers = ["cell", "python", "packages", "limits", "backend"]
    print(tabulate(rows, headers=headers, disable_numparse=True))  # "3.10" is not 3.1
    count = len(spec.cells)
    print(f"\n{count} cell{'s' if count != 1 else ''}; * marks the reference cell")
    return 0
