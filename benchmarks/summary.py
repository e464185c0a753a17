"""From measurements to RESULTS.md's rows (one per target) and the detail tables behind them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchmarks.bytecode import BytecodeRun
from benchmarks.dm import MatrixRun
from benchmarks.measures import (
    FLOOR_PROBES,
    Row,
    Target,
    floor_seconds,
    probe_seconds,
    ratio,
)
from benchmarks.plain_nox import PlainRun, Session
from benchmarks.scale import ScaleRun
from benchmarks.timing import Timed


@dataclass(frozen=True)
class Measurements:
    """Everything one benchmark run measured; None where a step was skipped or not possible.

    Attributes:
        cores: The machine's cores.
        sessions: The plain noxfile's sessions (noxfile order = the matrix's cell order).
        plain_warmup: The untimed plain run that fills pip's caches.
        plain: The plain run, sessions one after another (nox's default).
        plain_parallel: The plain run, ``cores`` sessions at a time (like ``nox --parallel``).
        pip: The pip version virtualenv seeded into the plain sessions.
        dm_warmup: The untimed driftmatrix run that fills uv's cache.
        cold: driftmatrix, fresh cache directory (cold environments), warm uv cache.
        warm: driftmatrix again, environments built, fresh output directory.
        rerun: The same command as ``warm`` again, nothing changed.
        resume: The same with ``--resume``.
        eight_jobs1: The 8-cell matrix, ``--jobs 1``, warm environments.
        eight_jobs2: The same with ``--jobs 2``.
        scale: Expanding and planning 10,000 cells.
        bytecode: The imports with and without compiled bytecode.
    """

    cores: int
    sessions: tuple[Session, ...] = ()
    plain_warmup: PlainRun | None = None
    plain: PlainRun | None = None
    plain_parallel: PlainRun | None = None
    pip: str = "unknown"
    dm_warmup: MatrixRun | None = None
    cold: MatrixRun | None = None
    warm: MatrixRun | None = None
    rerun: MatrixRun | None = None
    resume: MatrixRun | None = None
    eight_jobs1: MatrixRun | None = None
    eight_jobs2: MatrixRun | None = None
    scale: ScaleRun | None = None
    bytecode: BytecodeRun | None = None


def rows(m: Measurements) -> list[Row]:
    """One row per target of issue 7 (in its order), plus rows that help read them."""
    return [
        *_plain_rows(m),
        *_floor_rows(m),
        _wall_row(
            "rerun",
            "unchanged rerun: the same `driftmatrix run` again",
            m.rerun,
            Target("<=", 1, "s"),
        ),
        _wall_row("resume", "unchanged rerun with `--resume`", m.resume, None),
        _jobs_row(m),
        *_scale_rows(m),
        _bytecode_row(m),
    ]


def _plain_rows(m: Measurements) -> list[Row]:
    target = Target(">=", 10, "×")
    what = "plain nox (virtualenv + pip) ÷ driftmatrix, cold environments, warm package caches"
    if m.plain is None or m.cold is None:
        return [Row("plain-vs-cold", what, None, "×", "not measured", target)]
    broken = _broken(m.cold, plain=(m.plain, m.plain_parallel))
    if broken:
        return [Row("plain-vs-cold", what, None, "×", "", target, error=broken)]
    cold = f"driftmatrix {run_text(m.cold)}"
    result = [
        Row(
            "plain-vs-cold",
            what + "; nox's default: one session after another",
            ratio(m.plain.seconds, m.cold.timed.seconds),
            "×",
            f"plain {_plain(m.plain)} / {cold}",
            target,
        )
    ]
    if m.plain_parallel is not None:
        result.append(
            Row(
                "parallel-vs-cold",
                f"the same, plain sessions {m.plain_parallel.jobs} at a time (like `nox -j`)",
                ratio(m.plain_parallel.seconds, m.cold.timed.seconds),
                "×",
                f"plain {_plain(m.plain_parallel)} / {cold}",
            )
        )
    return result


def _floor_rows(m: Measurements) -> list[Row]:
    target = Target("<=", 1.3, "×")
    what = "driftmatrix wall ÷ floor (in-cell imports + load + predict ÷ cores), warm environments"
    if m.warm is None:
        return [Row("floor", what, None, "×", "not measured", target)]
    if _broken(m.warm) or m.warm.results is None:
        return [Row("floor", what, None, "×", "", target, error=_broken(m.warm))]
    cores = min(m.warm.jobs, m.cores)
    wall = m.warm.timed.seconds
    result = []
    for key, label, probes, row_target in (
        ("floor", what, FLOOR_PROBES, target),
        ("floor-all", "the same against every probe's in-cell seconds", None, None),
    ):
        in_cell = probe_seconds(m.warm.results, probes)
        floor = floor_seconds(in_cell, m.warm.jobs, m.cores)
        raw = (
            f"wall {run_text(m.warm)}; floor {floor:.2f} s = {sum(in_cell.values()):.2f} s in"
            f" {len(in_cell)} cells ÷ {cores} cores"
        )
        result.append(Row(key, label, ratio(wall, floor), "×", raw, row_target))
    return result


def _wall_row(key: str, what: str, run: MatrixRun | None, target: Target | None) -> Row:
    if run is None:
        return Row(key, what, None, "s", "not measured", target)
    if _broken(run, fresh=False):
        return Row(key, what, None, "s", "", target, error=_broken(run, fresh=False))
    return Row(key, what, run.timed.seconds, "s", run_text(run), target)


def _jobs_row(m: Measurements) -> Row:
    target = Target(">=", 1.7, "×")
    what = "`--jobs 1` ÷ `--jobs 2`, 8-cell matrix, warm environments"
    one, two = m.eight_jobs1, m.eight_jobs2
    if one is None or two is None:
        return Row("jobs", what, None, "×", "not measured", target)
    if _broken(one, two):
        return Row("jobs", what, None, "×", "", target, error=_broken(one, two))
    raw = f"--jobs 1 {run_text(one)} / --jobs 2 {run_text(two)}"
    return Row("jobs", what, ratio(one.timed.seconds, two.timed.seconds), "×", raw, target)


def _scale_rows(m: Measurements) -> list[Row]:
    plan_target, rss_target = Target("<", 2, "s"), Target("<", 200, "MB")
    plan_what = "expand + plan 10,000 cells"
    rss_what = "host peak RSS, 1,000 cells"
    s = m.scale
    if s is None:
        return [
            Row("scale", plan_what, None, "s", "not measured", plan_target),
            Row("rss-1000", rss_what, None, "MB", "not measured", rss_target),
        ]
    listing = Row(
        "list-10k",
        "`driftmatrix list --json`, 10,000 cells (read, expand, pack into CI jobs; CLI start-up"
        " included)",
        s.listing.seconds,
        "s",
        f"{s.cells} cells into {s.jobs} CI jobs, {exit_text(s.listing)}, CPU"
        f" {s.listing.cpu_seconds:.2f} s, peak RSS {s.listing.peak_rss_mib:.0f} MiB; expansion"
        f" alone (`load_matrix`, in-process) {s.expand_seconds:.2f} s",
    )
    if s.plan is None or s.memory is None:
        missing = s.driver_error or "tests/scale.py is not in this checkout"
        return [
            replace(listing, key="scale", target=plan_target, note=f"{missing}: this stands in"),
            Row("rss-1000", rss_what, None, "MB", "", rss_target, error=s.driver_error)
            if s.driver_error
            else Row("rss-1000", rss_what, None, "MB", "not measured", rss_target, missing),
        ]
    plan, memory = s.plan, s.memory
    return [
        Row(
            "scale",
            plan_what + ": everything `driftmatrix run` does before its first cell"
            " (`tests/scale.py plan`)",
            float(plan["plan_seconds"]),
            "s",
            f"{plan['planned']} of {plan['cells']} cells planned in {plan['plan_seconds']} s"
            f" (reading and expanding the matrix included; that alone: {plan['load_seconds']} s)",
            plan_target,
        ),
        listing,
        Row(
            "rss-1000",
            rss_what + ": the real runner, comparisons and reports, cells replayed from recorded"
            " results (`tests/scale.py memory`)",
            float(memory["peak_rss_mib"]) * 2**20 / 1e6,
            "MB",
            f"peak {memory['peak_rss_mib']} MiB, {memory['baseline_rss_mib']} MiB before the run;"
            f" {memory['cells']} cells in {memory['seconds']} s",
            rss_target,
        ),
    ]


def _bytecode_row(m: Measurements) -> Row:
    what = (
        "an environment's first cell: importing the demo's libraries from source (no .pyc) −"
        " compiled, what every later cell in it saves"
    )
    b = m.bytecode
    if b is None:
        return Row("bytecode", what, None, "s", "not measured")
    raw = (
        f"{b.pins}: {b.source.seconds:.2f} s without .pyc, {b.compiled.seconds:.2f} s with"
        " (best of 2 each, throwaway uv environment)"
    )
    return Row("bytecode", what, b.source.seconds - b.compiled.seconds, "s", raw)


def _broken(
    *runs: MatrixRun | None, plain: tuple[PlainRun | None, ...] = (), fresh: bool = True
) -> str:
    """Why these runs are no measurement ("" when they all are): exit 0 or 1 with results and,
    when ``fresh``, every cell run rather than reused."""
    problems = [
        f"{run.timed.name}: {exit_text(run.timed)}, {'no ' if run.results is None else ''}results"
        f" (log: {run.timed.log})"
        for run in runs
        if run is not None and not run.ok
    ]
    problems += [
        f"{run.timed.name}: {run.reused} cells reused, not run"
        for run in runs
        if fresh and run is not None and run.ok and run.reused
    ]
    problems += [
        f"plain, {run.jobs} at a time: no session succeeded (logs: {run.sessions[0].log.parent})"
        for run in plain
        if run is not None and not any(timed.returncode == 0 for timed in run.sessions)
    ]
    return "; ".join(problems)


def _plain(run: PlainRun) -> str:
    ok = sum(1 for timed in run.sessions if timed.returncode == 0)
    late = sum(1 for timed in run.sessions if timed.timed_out)
    failed = len(run.sessions) - ok - late
    parts = [f"{ok} ok", f"{failed} failed"] + ([f"{late} timed out"] if late else [])
    return (
        f"{run.seconds:.1f} s ({len(run.sessions)} sessions: {', '.join(parts)};"
        f" {others_text(run.other_cores)})"
    )


def run_text(run: MatrixRun) -> str:
    timed = run.timed
    reused = f", {run.reused} reused" if run.reused else ""
    return (
        f"{timed.seconds:.2f} s ({run.cells} cells{reused}, {exit_text(timed)};"
        f" {others_text(timed.other_cores)})"
    )


def others_text(cores: float) -> str:
    return f"other load ≈ {cores:.1f} cores"


def exit_text(timed: Timed) -> str:
    return "timed out" if timed.timed_out else f"exit {timed.returncode}"


def seconds_text(seconds: float) -> str:
    return f"{seconds:.2f}"
