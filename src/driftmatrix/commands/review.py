"""``driftmatrix review``: is the environment of a new lock file safe for this model?

Reads two lock files (from disk, or from git revisions), shows what changed, runs the base and
the head as two cells (the base is the reference), optionally bisects the change, and writes one
Markdown comment (``OUT/review.md``, also printed) with the verdict first. Progress goes to
stderr, so stdout is the comment alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar

from driftmatrix.artifactspec import FORMATS
from driftmatrix.commands._shared import (
    JOBS_HELP,
    NO_CACHE_HELP,
    backends_for,
    check_jobs,
    run_options,
    write_reports,
)
from driftmatrix.errors import MatrixError, UsageError
from driftmatrix.locksource import Source
from driftmatrix.paths import cache_dir

if TYPE_CHECKING:  # the run machinery is imported when a review runs, not to build the parser
    from driftmatrix.lockfile import Lock
    from driftmatrix.report.review import Review
    from driftmatrix.review import Setup

T = TypeVar("T")

#: Lock files looked for at a git revision when ``--lock`` is not given, in this order.
LOCK_NAMES = ("uv.lock", "pylock.toml", "requirements.txt")
#: What a flag sets in ``[artifact]``, to name the flag in an error instead of the key.
_FLAGS = {
    "artifact.path": "--artifact",
    "artifact.format": "--format",
    "artifact.recipe": "--recipe",
    "artifact.golden": "--golden",
    "artifact.target": "--target",
    "artifact": "--artifact",
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``review`` to the sub-command parsers."""
    review = sub.add_parser(
        "review",
        help="is a dependency upgrade (two lock files) safe for this model?",
        description="Build the environments of two lock files, probe the model in both, and "
        "write one Markdown comment: safe, drift or breaks, then the evidence.",
    )
    sides = review.add_argument_group("the two lock files (a file, or a git revision)")
    sides.add_argument("--base", type=Path, metavar="FILE", help="the lock before the change")
    sides.add_argument("--head", type=Path, metavar="FILE", help="the lock after the change")
    sides.add_argument(
        "--base-ref", metavar="REV", help="read the base lock from this git revision"
    )
    sides.add_argument(
        "--head-ref", metavar="REV", help="read the head lock from this git revision"
    )
    sides.add_argument(
        "--lock",
        metavar="PATH",
        help="the lock file's path in those revisions (default: the other side's file, else the "
        f"first of {', '.join(LOCK_NAMES)} found)",
    )
    model = review.add_argument_group("the model (or --matrix M.toml for its [artifact])")
    model.add_argument("--artifact", metavar="MODEL", help="the model file (load mode)")
    model.add_argument("--recipe", metavar="FILE.py:FN", help="train mode: refit in every cell")
    model.add_argument("--golden", metavar="CSV", help="the golden dataset")
    model.add_argument("--target", metavar="COL", help="the golden set's label column")
    model.add_argument(
        "--format", choices=FORMATS, help="the model file's format (default: from its suffix)"
    )
    model.add_argument(
        "--matrix", type=Path, help="take [artifact], [compare], [docker], Python and limits here"
    )
    review.add_argument("--python", help="the cells' Python (default: --matrix's, else this one)")
    review.add_argument("--backend", choices=["auto", "venv", "docker"], help="where cells run")
    review.add_argument("--out", type=Path, help="output directory (default: out/review)")
    review.add_argument("--jobs", type=int, help=JOBS_HELP)
    review.add_argument("--bisect", action="store_true", help="find the change that causes it")
    review.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    review.add_argument("--resume", action="store_true", help="keep finished, unchanged cells")
    review.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Review the change; write review.md, review.json and the run's files; print the comment."""
    from driftmatrix.lockdiff import diff_locks
    from driftmatrix.lockfile import read_lock
    from driftmatrix.report.review import Review, render
    from driftmatrix.results import write_json_atomic

    check_jobs(args.jobs)
    (base_source, base_path), (head_source, head_path) = _sides(args)
    setup = _setup(args)
    base = read_lock(base_source, base_path, setup.python)
    head = read_lock(head_source, head_path, setup.python)
    out: Path = args.out or Path("out") / "review"
    out.mkdir(parents=True, exist_ok=True)
    changes = diff_locks(base, head)
    review = Review(base, head, changes, None, bisect_requested=args.bisect, backend=setup.backend)
    code = 0
    if review.changes:
        review, code = _run(args, setup, review, out)
    text = render(review)
    (out / "review.md").write_text(text, encoding="utf-8")
    write_json_atomic(out / "review.json", review.to_json())
    print(text, end="")
    files = f"   results: {out / 'results.json'}" if review.run is not None else ""
    print(f"\nreview: {out / 'review.md'}{files}", file=sys.stderr)
    return code


def _run(args: argparse.Namespace, setup: Setup, review: Review, out: Path) -> tuple[Review, int]:
    """Run the base and head cells (and the bisect); the review with what they found, and the
    exit code (``run``'s rule over the two cells)."""
    from driftmatrix.bisect import Hooks, bisect
    from driftmatrix.progress import display_for
    from driftmatrix.review import IMPORTED, Outcome, base_and_head, judge
    from driftmatrix.run import Runner
    from driftmatrix.verdict import exit_code

    spec = base_and_head(setup, review.base, review.head)
    # Only the model libraries are imported by name: see review.IMPORTED.
    options = run_options(args, spec, out, imported=IMPORTED)
    with display_for(sys.stderr) as display:
        display.log(f"review: {_summary(review.base, review.head, len(review.changes))}")
        backends = backends_for(spec, options.backend, args.no_cache, display.log)
        run = Runner(spec, options, backends, cache_dir(), display.finished, display.phase)
        judged = judge(run.run())
        write_reports(out, judged.results, echo=False)
        review = replace(review, run=judged)
        if args.bisect and judged.outcome in (Outcome.BREAKS, Outcome.DRIFT):
            hooks = Hooks(display.finished, display.phase, display.log)
            locks = (review.base, review.head)
            bisection, results = bisect(
                setup, locks, review.changes, judged, options, backends, cache_dir(), hooks
            )
            if results is not None:
                write_reports(out / "bisect", results, echo=False)
            review = replace(review, bisection=bisection)
    return review, exit_code(judged.results, setup.compare.fail_on)


def _summary(base: Lock, head: Lock, changed: int) -> str:
    return (
        f"{changed} of {len(set(base.versions) | set(head.versions))} packages differ between "
        f"{base.label} and {head.label}; building both on Python {base.python}"
    )


def _sides(args: argparse.Namespace) -> tuple[tuple[Source, PurePosixPath], ...]:
    """Where each lock is read: ``(source, path)`` for the base and for the head."""
    for side in ("base", "head"):
        given = [f"--{side}" for f in (getattr(args, side),) if f is not None]
        given += [f"--{side}-ref" for r in (getattr(args, f"{side}_ref"),) if r is not None]
        if len(given) != 1:
            problem = (
                "both --{0} and --{0}-ref" if len(given) == 2 else "neither --{0} nor --{0}-ref"
            )
            raise UsageError(
                f"{problem.format(side)} given: name the {side} lock file with one of them "
                f"(e.g. --{side} requirements.txt, or --{side}-ref main)"
            )
    files = [PurePosixPath(f) for f in (args.base, args.head) if f is not None]
    if args.lock is not None and len(files) == 2:
        raise UsageError("--lock names the file in --base-ref/--head-ref; both sides are files")
    sides = []
    for side in ("base", "head"):
        file, ref = getattr(args, side), getattr(args, f"{side}_ref")
        if file is not None:
            sides.append((Source(), PurePosixPath(file)))
            continue
        source = Source(ref)
        source.check()
        if args.lock is not None:
            sides.append((source, PurePosixPath(args.lock)))
        elif files:
            sides.append((source, files[0]))
        else:
            sides.append((source, _find_lock(source, f"--{side}-ref {ref}")))
    return tuple(sides)


def _find_lock(source: Source, flag: str) -> PurePosixPath:
    for name in LOCK_NAMES:
        try:
            source.read(PurePosixPath(name))
        except UsageError:
            continue
        return PurePosixPath(name)
    raise UsageError(
        f"{flag}: no lock file found (looked for {', '.join(LOCK_NAMES)} in the current "
        "directory of that revision); name it with --lock PATH"
    )


def _setup(args: argparse.Namespace) -> Setup:
    """The settings every cell shares: from --matrix, the flags, or the defaults."""
    from driftmatrix.artifactspec import parse_artifact
    from driftmatrix.review import Setup
    from driftmatrix.spec import load_matrix
    from driftmatrix.specparse import Reader

    flags = {k: getattr(args, k) for k in ("artifact", "recipe", "golden", "target", "format")}
    read = Reader(Path("driftmatrix review"))
    python = _flag("--python", lambda: read.python("python", args.python)) if args.python else None
    if args.matrix is not None:
        given = [f"--{k}" for k, v in flags.items() if v is not None]
        if given:
            raise UsageError(
                f"--matrix gives the model and golden set; {' and '.join(given)} would override "
                "its [artifact]: give one or the other"
            )
        spec = load_matrix(args.matrix)
        reference = spec.reference_cell
        return Setup(
            artifact=spec.artifact,
            python=python or reference.python,
            compare=spec.compare,
            docker=spec.docker,
            limits=reference.limits,
            backend=args.backend or reference.backend,
            source=args.matrix,
        )
    if args.artifact is None and args.recipe is None:
        raise UsageError(
            "no model: give --artifact MODEL (load mode) or --recipe FILE.py:FN (train mode) "
            "with --golden CSV, or --matrix M.toml"
        )
    if args.artifact is not None and args.recipe is not None:
        raise UsageError("--artifact and --recipe: give one (a file to load, or a recipe to fit)")
    if args.golden is None:
        raise UsageError("--golden CSV is needed: the golden dataset every cell predicts on")
    table: dict[str, str] = {"mode": "load" if args.artifact is not None else "train"}
    table.update({("path" if k == "artifact" else k): v for k, v in flags.items() if v})
    artifact = _flag("", lambda: parse_artifact(read, table, Path.cwd()))
    here = ".".join(str(part) for part in sys.version_info[:2])
    return Setup(artifact=artifact, python=python or here, backend=args.backend or "venv")


def _flag(flag: str, parse: Callable[[], T]) -> T:
    """Run a matrix-file reader on a flag's value; its error then names the flag."""
    try:
        return parse()
    except MatrixError as exc:
        name = flag or _FLAGS.get(exc.key, exc.key)
        hint = exc.hint
        if exc.problem.startswith("cannot tell the format"):
            hint = f"give --format {'|'.join(FORMATS)}"
        raise UsageError(f"{name}: {exc.problem}" + (f" ({hint})" if hint else "")) from None
