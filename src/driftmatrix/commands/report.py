"""``driftmatrix report``: render the results of a run again (never re-runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driftmatrix.errors import UsageError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` to the sub-command parsers."""
    from driftmatrix.report import FORMATS

    rep = sub.add_parser("report", help="render the results of a run again (never re-runs)")
    rep.add_argument("dir", type=Path, help="a run's output directory")
    rep.add_argument("--format", default="terminal", help=" | ".join(FORMATS))
    rep.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Print ``DIR/results.json`` in the chosen format."""
    from driftmatrix.report import FORMATS, render
    from driftmatrix.results import read_results

    if args.format not in FORMATS:
        raise UsageError(
            f"--format {args.format}: unknown format; choose one of {', '.join(FORMATS)}"
        )
    path = args.dir / "results.json"
    try:
        results = read_results(args.dir)
    except FileNotFoundError:
        raise UsageError(f"{path}: not found; run `driftmatrix run` first") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a driftmatrix results file ({exc})") from None
    print(render(results, args.format, color=sys.stdout.isatty()))
    return 0
