"""Done means: a run done one cell per CI job, merged, says what one full run says.

Real uv environments: tests/data/matrices/e2e/missing-pin.toml has three cells (the reference,
scikit-learn 1.4.2 which drifts, and a numpy pin that does not exist), the same environments
test_cli.py builds, in the same cache, so with warm caches this costs a few cell runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_cli import CACHE, E2E, NEXT, NO_NUMPY, REF, cache, cli

MATRIX = E2E / "missing-pin.toml"
#: Measured per run, so they differ between two runs of the same cell.
TIMING_FLAGS = {"slower", "heavier"}
TIMING_COMPARISONS = {"latency", "memory"}

__all__ = ["CACHE", "cache"]  # the fixture, shared with test_cli.py (same warm environments)


def cells(out: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {cell["id"]: cell for cell in doc["cells"]}


def outcome(cell: dict[str, Any], *, timing: bool) -> dict[str, Any]:
    """Verdict, flags and comparison; without what is measured anew each run unless ``timing``."""
    flags = [f for f in cell["flags"] if timing or f not in TIMING_FLAGS]
    comparison = cell["comparison"] and {
        key: value
        for key, value in cell["comparison"].items()
        if timing or key not in TIMING_COMPARISONS
    }
    return {"verdict": cell["verdict"], "flags": flags, "comparison": comparison}


@pytest.mark.slow
def test_one_cell_per_job_merged_equals_one_full_run(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, stderr = cli(capsys, "run", str(MATRIX), "--out", str(tmp_path / "full"))
    assert code == 1, stderr

    # One job per cell, as the workflow runs them: `list --json` then `run --shard K/N`.
    code, printed, _ = cli(capsys, "list", str(MATRIX), "--json")
    include = json.loads(printed)["include"]
    assert [entry["cells"] for entry in include] == [[REF], [NEXT], [NO_NUMPY]]
    exits = {}
    for entry in include:
        out = tmp_path / "jobs" / entry["id"]
        exits[entry["cells"][0]], _, stderr = cli(
            capsys, "run", str(MATRIX), "--shard", entry["shard"], "--out", str(out)
        )
        assert "not compared" in stderr
        assert list(cells(out)) == entry["cells"]  # the reference is never rerun
    # A job fails only for what it knows alone: drift needs the reference; a build error not.
    assert exits == {REF: 0, NEXT: 0, NO_NUMPY: 3}
    assert {c["verdict"] for c in cells(tmp_path / "jobs" / NEXT).values()} == {"not-compared"}

    jobs = sorted((tmp_path / "jobs").iterdir())
    code, table, stderr = cli(capsys, "merge", *map(str, jobs), "--out", str(tmp_path / "merged"))

    assert code == 1, stderr  # the run's own exit code: drift is a finding
    merged, full = cells(tmp_path / "merged"), cells(tmp_path / "full")
    assert list(merged) == list(full) == [REF, NEXT, NO_NUMPY]
    assert {k: outcome(c, timing=False) for k, c in merged.items()} == {
        k: outcome(c, timing=False) for k, c in full.items()
    }
    assert merged[NEXT]["verdict"] == "drift" and merged[NEXT]["comparison"]["labels"]["flipped"]
    assert "drift" in table and NEXT in table
    for name in ("report.md", "junit.xml", f"cells/{NEXT}.json"):
        assert (tmp_path / "merged" / name).is_file(), name

    # Merging the full run's own directory reproduces it exactly, timings included: the same
    # raw outputs compared by the same code.
    code, _, _ = cli(capsys, "merge", str(tmp_path / "full"), "--out", str(tmp_path / "again"))
    assert code == 1
    again = cells(tmp_path / "again")
    assert {k: outcome(c, timing=True) for k, c in again.items()} == {
        k: outcome(c, timing=True) for k, c in full.items()
    }
