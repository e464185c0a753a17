"""The benchmark's steps in order, and the command line of ``benchmarks/run.py``."""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from benchmarks import bytecode, details, machine, plain_nox, report, scale, summary
from benchmarks.dm import ROOT, MatrixRun, forget_results, run_matrix
from benchmarks.summary import Measurements
from driftmatrix.backends.interpreters import find_interpreter
from driftmatrix.spec import MatrixSpec, load_matrix

STEPS = ("plain", "demo", "eight", "scale", "bytecode")
DEMO = ROOT / "matrix" / "demo.toml"
EIGHT = ROOT / "benchmarks" / "matrices" / "eight.toml"
T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """Where and how the steps run.

    Attributes:
        work: Scratch space (environments, outputs, caches, logs).
        env: The environment every command gets (``PATH`` leads to the demo's interpreters).
        cores: The machine's cores.
        jobs: driftmatrix's default ``--jobs`` for the demo.
        session_timeout: Seconds a plain nox session may take.
        run_timeout: Seconds a driftmatrix command may take.
        quiet_wait: Seconds to wait, at most, for the machine to be idle before each step.
    """

    work: Path
    env: Mapping[str, str]
    cores: int
    jobs: int
    session_timeout: float
    run_timeout: float
    quiet_wait: float

    def step(self, label: str, action: Callable[[], T], seconds: Callable[[T], float]) -> T:
        """Run one step once the machine is quiet (or after ``quiet_wait``); say so on stderr."""
        waited = machine.wait_until_quiet(self.quiet_wait)
        print(f"{label} (waited {waited:.0f} s for a quiet machine) ...", file=sys.stderr)
        result = action()
        print(f"{label}: {seconds(result):.2f} s", file=sys.stderr, flush=True)
        return result

    @property
    def logs(self) -> Path:
        """Every command's output, one file each."""
        return self.work / "logs"

    def plain(self, sessions: Sequence[plain_nox.Session], label: str, jobs: int) -> PlainResult:
        """Run the plain sessions in fresh environments; delete them afterwards (gigabytes)."""
        envdir = self.work / f"plain-{label}"
        run = self.step(
            f"plain nox, {label}",
            lambda: plain_nox.run_plain(
                sessions,
                jobs=jobs,
                envdir=envdir,
                logs=self.logs / f"plain-{label}",
                timeout=self.session_timeout,
                env=self.env,
            ),
            lambda run: run.seconds,
        )
        pip = plain_nox.seeded_pip(envdir)
        shutil.rmtree(envdir, ignore_errors=True)
        return PlainResult(run, pip)

    def matrix(
        self,
        label: str,
        matrix: Path,
        *,
        cache: str,
        out: str,
        fresh: bool = True,
        args: Sequence[str] = (),
    ) -> MatrixRun:
        """``driftmatrix run`` with ``DRIFTMATRIX_CACHE=work/cache`` into ``work/out``.

        ``fresh``: a fresh output directory (results.json is read back from it) and no cell
        result cached by an earlier run, so that every cell runs, in environments already
        built. Otherwise the run reuses whatever it finds, as a user's rerun does.
        """
        if fresh:
            shutil.rmtree(self.work / out, ignore_errors=True)
            forget_results(self.work / cache)
        jobs = int(args[list(args).index("--jobs") + 1]) if "--jobs" in args else self.jobs
        return self.step(
            f"driftmatrix, {label}",
            lambda: run_matrix(
                label.replace(" ", "-").replace(",", ""),
                matrix,
                out=self.work / out,
                cache=self.work / cache,
                logs=self.logs,
                timeout=self.run_timeout,
                env=self.env,
                jobs=jobs,
                args=args,
            ),
            lambda run: run.timed.seconds,
        )


@dataclass(frozen=True)
class PlainResult:
    """A plain run and the pip version its environments had."""

    run: plain_nox.PlainRun
    pip: str


def main(argv: list[str] | None = None) -> int:
    """Run every step not skipped, then write the results file."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark driftmatrix against the plain-nox way; write RESULTS.md.",
    )
    parser.add_argument("--skip", action="append", choices=STEPS, default=[], help="skip a step")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench", help="scratch space")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--session-timeout", type=float, default=900, help="seconds per session")
    parser.add_argument("--run-timeout", type=float, default=1800, help="seconds per command")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="seconds to wait, at most, for an idle machine before each step (0: never wait)",
    )
    args = parser.parse_args(argv)

    started, start, load_start = _now(), time.perf_counter(), machine.load_average()
    described = machine.describe(ROOT)
    m = measure(args, frozenset(args.skip))
    rows = summary.rows(m)
    args.results.write_text(
        report.render(
            machine=described,
            started=started,
            minutes=(time.perf_counter() - start) / 60,
            load=(load_start, machine.load_average()),
            rows=rows,
            sections=details.sections(m),
            notes=[f"Skipped in this run: {', '.join(sorted(set(args.skip)))}."]
            if args.skip
            else [],
        ),
        encoding="utf-8",
    )
    for row in rows:
        print(f"{row.result:8} {row.shown:>9}  {row.what}")
    print(f"wrote {args.results}")
    return 0


def measure(args: argparse.Namespace, skip: frozenset[str]) -> Measurements:
    """Run the steps. The two sides of each ratio run back to back, so that the machine's other
    load changes as little as possible between them."""
    demo = load_matrix(DEMO)
    pythons = {cell.python: find_interpreter(cell.python).executable for cell in demo.cells}
    ctx = Context(
        work=args.work,
        env=plain_nox.path_with(list(pythons.values()), user_environment(os.environ)),
        cores=os.cpu_count() or 1,
        jobs=_default_jobs(demo),
        session_timeout=args.session_timeout,
        run_timeout=args.run_timeout,
        quiet_wait=args.quiet_wait,
    )
    shutil.rmtree(ctx.logs, ignore_errors=True)
    m = Measurements(cores=ctx.cores)
    if "plain" not in skip:
        m = replace(m, sessions=tuple(plain_nox.list_sessions(ctx.env)))
        cells = [(c.python, c.pins["scikit-learn"], c.pins["numpy"]) for c in demo.cells]
        plain_nox.check_cells(m.sessions, cells)
        m = replace(m, plain_warmup=ctx.plain(m.sessions, "warm-up", 1).run)
    if "demo" not in skip:
        for cache in ("dm-cache-warmup", "dm-cache"):
            shutil.rmtree(ctx.work / cache, ignore_errors=True)
        m = replace(m, dm_warmup=ctx.matrix("warm-up", DEMO, cache="dm-cache-warmup", out="w"))
        shutil.rmtree(ctx.work / "dm-cache-warmup", ignore_errors=True)
    if "plain" not in skip:
        serial = ctx.plain(m.sessions, "serial", 1)
        m = replace(m, plain=serial.run, pip=serial.pip)
    if "demo" not in skip:
        m = replace(m, cold=ctx.matrix("cold", DEMO, cache="dm-cache", out="dm-cold"))
    if "plain" not in skip and ctx.cores > 1:
        m = replace(m, plain_parallel=ctx.plain(m.sessions, "parallel", ctx.cores).run)
    if "demo" not in skip:
        m = _demo_warm(ctx, m)
    if "eight" not in skip:
        m = _eight(ctx, m)
    if "scale" not in skip:
        run = ctx.step(
            "expand + plan 10,000 cells",
            lambda: scale.measure(ctx.work / "scale", ctx.logs, ctx.env, ctx.run_timeout),
            lambda run: run.listing.seconds,
        )
        m = replace(m, scale=run)
    if "bytecode" not in skip:
        reference = next(cell for cell in demo.cells if cell.id == demo.reference)
        imports = ctx.step(
            "imports without and with bytecode",
            lambda: bytecode.measure(
                pythons[reference.python],
                reference.pins,
                work=ctx.work / "bytecode-env",
                logs=ctx.logs,
                env=ctx.env,
                timeout=ctx.run_timeout,
            ),
            lambda run: 0.0 if run is None else run.source.seconds,
        )
        m = replace(m, bytecode=imports)
    return m


def _demo_warm(ctx: Context, m: Measurements) -> Measurements:
    """The demo on the environments the cold run built: a fresh output, then reruns into it."""
    warm = ctx.matrix("warm", DEMO, cache="dm-cache", out="dm-warm")
    rerun = ctx.matrix("rerun", DEMO, cache="dm-cache", out="dm-warm", fresh=False)
    resume = ctx.matrix(
        "rerun --resume", DEMO, cache="dm-cache", out="dm-warm", fresh=False, args=("--resume",)
    )
    return replace(m, warm=warm, rerun=rerun, resume=resume)


def _eight(ctx: Context, m: Measurements) -> Measurements:
    """The 8-cell matrix: an untimed run builds its environments, then --jobs 1 and --jobs 2."""

    def run(label: str, jobs: str) -> MatrixRun:
        return ctx.matrix(
            label, EIGHT, cache="dm-cache", out=f"eight-{jobs}", args=("--jobs", jobs)
        )

    run("8 cells, warm-up", "2")
    return replace(
        m, eight_jobs1=run("8 cells, jobs 1", "1"), eight_jobs2=run("8 cells, jobs 2", "2")
    )


def user_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` as a user's shell has it: without ``PYTHONDONTWRITEBYTECODE``.

    The machines these benchmarks run on set it for their own sessions. With it, every command
    compiles its own Python code again on each start (about 0.17 s for driftmatrix's CLI, as
    much for nox's), which no user pays after a first run; both sides run without it.
    """
    return {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _default_jobs(spec: MatrixSpec) -> int:
    """The ``--jobs`` driftmatrix picks for ``spec`` when none is given (for the floor)."""
    try:  # driftmatrix.jobs: the cores and the memory the cells need
        default_jobs = importlib.import_module("driftmatrix.jobs").default_jobs
    except (ImportError, AttributeError):  # before it: one per core
        return os.cpu_count() or 1
    return int(default_jobs(cell.limits for cell in spec.cells))
