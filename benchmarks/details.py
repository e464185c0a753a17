"""RESULTS.md's detail tables: the raw measurements behind each row of the results."""

from __future__ import annotations

from benchmarks.dm import MatrixRun
from benchmarks.measures import FLOOR_PROBES, probe_seconds
from benchmarks.report import Section
from benchmarks.summary import Measurements, exit_text, others_text, seconds_text


def sections(m: Measurements) -> list[Section]:
    """The raw measurements behind the rows."""
    result = []
    if m.plain is not None:
        result.append(_cells_section(m))
    runs = [
        ("warm-up (untimed)", m.dm_warmup),
        ("cold", m.cold),
        ("warm", m.warm),
        ("unchanged rerun", m.rerun),
        ("rerun --resume", m.resume),
        ("8 cells, --jobs 1", m.eight_jobs1),
        ("8 cells, --jobs 2", m.eight_jobs2),
    ]
    result.append(
        Section(
            "driftmatrix runs",
            (
                "run",
                "exit",
                "wall s",
                "CPU s",
                "other load",
                "peak RSS MiB (one process)",
                "verdicts",
            ),
            tuple(
                (
                    label,
                    exit_text(run.timed),
                    seconds_text(run.timed.seconds),
                    seconds_text(run.timed.cpu_seconds),
                    f"{run.timed.other_cores:.1f} cores",
                    f"{run.timed.peak_rss_mib:.0f}",
                    run.verdicts(),
                )
                for label, run in runs
                if run is not None
            ),
            "Each run's wall time includes starting the CLI; CPU time adds up the CLI and every"
            " cell process; other load is the CPU the rest of the machine used meanwhile (other"
            " engineers' work), in cores kept busy on average. Exit 1 is the demo's expected"
            " outcome (it has findings).",
        )
    )
    if m.warm is not None and m.warm.results is not None:
        result += [_floor_section(m.warm), _breakdown_section(m.warm, m.cores)]
    return result


def _cells_section(m: Measurements) -> Section:
    assert m.plain is not None
    cold = (m.cold.results if m.cold is not None else None) or {}
    verdicts = {cell["id"]: cell["verdict"] for cell in cold.get("cells", [])}
    runs = [("warm-up", m.plain_warmup), ("timed", m.plain), ("parallel", m.plain_parallel)]
    present = [(label, run) for label, run in runs if run is not None]
    rows = []
    for index, session in enumerate(m.sessions):
        cell_id = session.name.partition("(")[2].rstrip(")")
        cells = [
            f"{exit_text(run.sessions[index])}, {seconds_text(run.sessions[index].seconds)} s"
            for _, run in present
        ]
        rows.append((cell_id, *cells, verdicts.get(cell_id, "—")))
    totals = tuple(
        f"**{seconds_text(run.seconds)} s** ({others_text(run.other_cores)})" for _, run in present
    )
    rows.append(("**all sessions (wall)**", *totals, ""))
    return Section(
        "Plain nox sessions, cold environments",
        ("cell", *(f"plain {label}: exit, wall" for label, _ in present), "driftmatrix verdict"),
        tuple(rows),
        f"Each session is `nox -s NAME` in a fresh `--envdir` (virtualenv + {m.pip}). A plain"
        " session only fails when the model does not install, load or predict: it passes where"
        " driftmatrix finds drift (it compares nothing).",
    )


def _floor_section(run: MatrixRun) -> Section:
    assert run.results is not None
    rows = []
    for cell in run.results["cells"]:
        probes = cell.get("probes") or {}
        seconds = [float((probes.get(name) or {}).get("seconds") or 0.0) for name in FLOOR_PROBES]
        everything = sum(float(record.get("seconds") or 0.0) for record in probes.values())
        wall = float(cell.get("seconds") or 0.0)
        rows.append(
            (
                cell["id"],
                *map(seconds_text, seconds),
                seconds_text(sum(seconds)),
                seconds_text(everything),
                seconds_text(wall),
            )
        )
    return Section(
        "In-cell seconds of the warm run (the floor)",
        ("cell", *FLOOR_PROBES, "floor probes", "all probes", "cell wall (results.json)"),
        tuple(rows),
        "Each probe's `seconds` as the cell recorded it. The floor counts imports, load and"
        " predict; driftmatrix also runs environment, roundtrip, steps, coverage, latency, parity"
        " and contract, and the CLI has no option to run fewer.",
    )


def _breakdown_section(run: MatrixRun, cores: int) -> Section:
    """Where the warm run's wall time went, from its own results.json (each part ÷ the cores)."""
    assert run.results is not None
    used = max(1, min(run.jobs, cores))
    floor = sum(probe_seconds(run.results, FLOOR_PROBES).values())
    probes = sum(probe_seconds(run.results).values())
    cells = sum(float(cell.get("seconds") or 0.0) for cell in run.results["cells"])
    parts = [
        ("the floor: imports, load, predict", floor / used),
        ("the other probes", (probes - floor) / used),
        ("each cell's process beyond its probes (start, runner, result)", (cells - probes) / used),
        (
            "the host beyond the cells (CLI, planning, comparing, reports)",
            run.timed.seconds - cells / used,
        ),
    ]
    return Section(
        "Where the warm run's wall time went",
        ("part", "seconds", "share of the wall"),
        tuple(
            (label, seconds_text(seconds), f"{seconds / run.timed.seconds:.0%}")
            for label, seconds in parts
        ),
        f"From the warm run's results.json: in-cell seconds and each cell's own wall time, added"
        f" up and divided by the {used} cores the run used (as if the cells packed perfectly);"
        " the host's part is what is left of the wall.",
    )
