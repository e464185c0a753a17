"""``driftmatrix list``: the cells a matrix expands to, as a table or a CI include-list."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``list`` to the sub-command parsers."""
    lst = sub.add_parser("list", help="show the cells a matrix expands to")
    lst.add_argument("matrix", type=Path)
    lst.add_argument("--json", action="store_true", help="a CI matrix include-list")
    lst.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Print the expanded cells."""
    from tabulate import tabulate

    from driftmatrix.spec import load_matrix

    spec = load_matrix(args.matrix)
    if args.json:
        include = [
            {
                "cell": cell.id,
                "python": cell.python,
                "packages": cell.pins,
                "limits": cell.limits.to_json(),
                "backend": cell.backend,
                "reference": cell.id == spec.reference,
            }
            for cell in spec.cells
        ]
        print(json.dumps({"include": include}, indent=2))
        return 0
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
