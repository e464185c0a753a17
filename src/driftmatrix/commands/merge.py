"""``driftmatrix merge``: combine the output directories of a run's CI jobs into one run."""

from __future__ import annotations

import argparse
from pathlib import Path

from driftmatrix.commands._shared import log, write_reports
from driftmatrix.errors import UsageError

#: Cell ids named in one line before "and N more".
_NAMED = 10


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``merge`` to the sub-command parsers."""
    merge = sub.add_parser(
        "merge",
        help="combine CI jobs' output directories into one run, compared with the reference",
    )
    merge.add_argument(
        "dirs", nargs="+", type=Path, metavar="DIR", help="a job's `run --out` directory"
    )
    merge.add_argument("--out", type=Path, help="output directory (default: out/<matrix name>)")
    merge.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Merge; write results.json, cells/, report.md and junit.xml; print the table."""
    from driftmatrix.merge import merge, read_part
    from driftmatrix.results import write_cell
    from driftmatrix.verdict import exit_code

    parts = [read_part(path) for path in args.dirs]
    name = parts[0].results.matrix.get("name") if parts else None
    out: Path = args.out or Path("out") / str(name or "merged")
    for part in parts:
        if out.resolve() == part.path.resolve():
            raise UsageError(
                f"--out {out}: is one of the directories being merged; choose another"
                " (merging never overwrites a job's results)"
            )
    # Each merged cell's file is written as it is compared: the run keeps none of their outputs.
    merged = merge(parts, write=lambda cell: write_cell(out, cell))
    results = merged.results
    for duplicate in merged.duplicates:
        log(
            f"{duplicate.cell} is in {duplicate.kept} and {duplicate.dropped} (same inputs):"
            f" using {duplicate.kept}"
        )
    total = len(results.cells)
    found = total - len(merged.missing)
    log(f"merged {found} of {total} cells from {_count(len(parts), 'directory', 'directories')}")
    if merged.missing:
        log(
            f"{len(merged.missing)} of {total} cells are in none of the directories (recorded as"
            f" infra-error): {_names(merged.missing)}"
        )
    if results.reference in merged.missing:
        log(f"the reference cell {results.reference} never ran: no cell could be compared")
    write_reports(out, results)
    return exit_code(results, merged.policy.fail_on)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _names(ids: tuple[str, ...]) -> str:
    shown = ", ".join(ids[:_NAMED])
    return shown + (f" and {len(ids) - _NAMED} more" if len(ids) > _NAMED else "")
