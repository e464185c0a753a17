"""The command line. The only module that turns exceptions into messages and exit codes."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from driftmatrix import __version__
from driftmatrix.errors import EXIT_INFRA, BuildError, DriftmatrixError, UsageError
from driftmatrix.results import CellResult

if TYPE_CHECKING:
    from driftmatrix.backends.base import Backend
    from driftmatrix.spec import MatrixSpec

EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit code 2 (never a traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def cache_dir() -> Path:
    """Where environments and the staged runner are kept (``DRIFTMATRIX_CACHE`` overrides)."""
    explicit = os.environ.get("DRIFTMATRIX_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "driftmatrix"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = _Parser(
        prog="driftmatrix",
        description="Does this model still load and predict the same in other environments?",
    )
    parser.add_argument("--version", action="version", version=f"driftmatrix {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

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

    grid = sub.add_parser(
        "grid", help="save the model in every cell and load every cell's file in every cell"
    )
    grid.add_argument("matrix", type=Path, help="the matrix file (TOML) with a recipe")
    grid.add_argument("--out", type=Path, help="output directory (default: out/<name>-grid)")
    grid.add_argument("--backend", choices=["auto", "venv", "docker"], help="override backends")
    grid.add_argument("--jobs", type=int, help="cells to run at once (default: one per core)")
    grid.add_argument("--no-cache", action="store_true", help="rebuild environments")
    grid.add_argument("--resume", action="store_true", help="keep finished, unchanged cells")

    lst = sub.add_parser("list", help="show the cells a matrix expands to")
    lst.add_argument("matrix", type=Path)
    lst.add_argument("--json", action="store_true", help="a CI matrix include-list")

    dock = sub.add_parser("docker", help="the Docker engine and base images")
    dock_sub = dock.add_subparsers(dest="docker_command", required=True, parser_class=_Parser)
    setup = dock_sub.add_parser(
        "setup", help="install/start the engine (as root) and build the Python base images"
    )
    setup.add_argument("matrix", nargs="?", type=Path, help="build what this matrix's cells need")
    setup.add_argument("--python", action="append", default=[], metavar="X.Y", help="a Python")

    rep = sub.add_parser("report", help="render the results of a run again (never re-runs)")
    rep.add_argument("dir", type=Path, help="a run's output directory")
    rep.add_argument("--format", default="terminal", help="terminal | md | json | junit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the exit code (0 pass · 1 finding · 2 usage · 3 infrastructure)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = build_parser().parse_args(args_list)
        if args.command == "run":
            return _run(args)
        if args.command == "grid":
            return _grid(args)
        if args.command == "list":
            return _list(args)
        if args.command == "docker":
            return _docker_setup(args)
        return _report(args)
    except DriftmatrixError as exc:
        print(f"driftmatrix: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(
            "driftmatrix: interrupted; finished cells are kept (continue with --resume)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if debug:
            traceback.print_exc()
        print(
            f"driftmatrix: internal error: {type(exc).__name__}: {exc}"
            + ("" if debug else " (run with --debug for the traceback)"),
            file=sys.stderr,
        )
        return EXIT_INFRA


def _progress(result: CellResult, done: int, total: int) -> None:
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


def _run(args: argparse.Namespace) -> int:
    from driftmatrix.report import render
    from driftmatrix.results import write_results
    from driftmatrix.run import Runner, RunOptions, default_jobs
    from driftmatrix.spec import load_matrix
    from driftmatrix.verdict import exit_code

    spec = load_matrix(args.matrix)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be 1 or more")
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
    backends = _backends(spec, options.backend, args.no_cache)
    runner = Runner(spec, options, backends, cache_dir(), progress=_progress)
    results = runner.run()
    write_results(out, results)
    (out / "report.md").write_text(render(results, "md"), encoding="utf-8")
    (out / "junit.xml").write_text(render(results, "junit"), encoding="utf-8")
    print(render(results, "terminal", color=sys.stdout.isatty()))
    print(f"\nresults: {out / 'results.json'}   report: {out / 'report.md'}", end="")
    print(f"   junit: {out / 'junit.xml'}")
    return exit_code(results, spec.compare.fail_on)


def _backends(spec: MatrixSpec, override: str | None, no_cache: bool) -> dict[str, Backend]:
    """The backends the cells use, with one line on stderr for each note they give."""
    from driftmatrix.backends import resolve_backends

    names = {override or cell.backend for cell in spec.cells}
    backends, notes = resolve_backends(
        names, cache_dir=cache_dir(), no_cache=no_cache, docker=spec.docker
    )
    for note in notes:
        print(f"driftmatrix: {note}", file=sys.stderr)
    return dict(backends)


def _grid(args: argparse.Namespace) -> int:
    from driftmatrix.grid import build_grid, grid_exit_code
    from driftmatrix.report.grid import render_grid
    from driftmatrix.results import write_json_atomic
    from driftmatrix.run import RunOptions, default_jobs
    from driftmatrix.spec import load_matrix

    spec = load_matrix(args.matrix)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be 1 or more")
    out = args.out or Path("out") / f"{spec.name}-grid"
    options = RunOptions(
        out_dir=out, jobs=args.jobs or default_jobs(), resume=args.resume, backend=args.backend
    )
    backends = _backends(spec, options.backend, args.no_cache)
    grid = build_grid(
        spec,
        options,
        backends,
        cache_dir(),
        progress=_progress,
        log=lambda line: print(f"driftmatrix: {line}", file=sys.stderr, flush=True),
    )
    write_json_atomic(out / "grid.json", grid.to_json())
    (out / "grid.md").write_text(render_grid(grid, "md"), encoding="utf-8")
    print(render_grid(grid, "terminal"))
    print(f"grid: {out / 'grid.json'}   report: {out / 'grid.md'}")
    return grid_exit_code(grid, spec.compare.fail_on)


def _list(args: argparse.Namespace) -> int:
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


def _docker_setup(args: argparse.Namespace) -> int:
    from driftmatrix.backends import docker_engine
    from driftmatrix.backends.docker_images import Images
    from driftmatrix.dockerspec import DockerSpec
    from driftmatrix.spec import load_matrix

    pythons = list(args.python)
    docker = DockerSpec()
    if args.matrix is not None:
        spec = load_matrix(args.matrix)
        pythons += [cell.python for cell in spec.cells]
        docker = spec.docker
    if not pythons:
        raise UsageError("docker setup: name a matrix file or at least one --python X.Y")

    def log(line: str) -> None:
        print(f"driftmatrix: {line}", file=sys.stderr, flush=True)

    client = docker_engine.ensure_engine(log, cache_dir=cache_dir())
    images = Images(
        client,
        cache_dir(),
        python_source=docker.source,
        python_images=dict(docker.images),
    )
    failed, printed = 0, set()
    for python in sorted(set(pythons)):
        # One version that cannot be set up (a mapped image that is missing) must not keep
        # the others from being ready; each failure is one line, and the exit says so.
        try:
            tags = images.setup([python], log)
        except BuildError as exc:
            print(f"driftmatrix: error: {exc}", file=sys.stderr, flush=True)
            failed += 1
            continue
        for tag in tags:
            if tag not in printed:
                print(tag)
                printed.add(tag)
    return EXIT_INFRA if failed else 0


def _report(args: argparse.Namespace) -> int:
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
