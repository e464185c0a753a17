"""A harness killed with -9 leaves its cells running; the next run's sweep ends them.

Real processes: a small harness (a Python child) records a long ``sleep`` in its own session,
as the venv backend records a cell, and is then killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from driftmatrix.backends.leftovers import (
    LiveGroups,
    boot_id,
    owner,
    owner_gone,
    start_time,
    sweep_groups,
)

SRC = Path(__file__).resolve().parents[2] / "src"

HARNESS = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    from driftmatrix.backends.leftovers import LiveGroups
    live = LiveGroups(Path(sys.argv[1]))
    cell = subprocess.Popen(["sleep", "300"], start_new_session=True)
    with live.holding(cell.pid):
        print(cell.pid, flush=True)
        time.sleep(300)
    """
)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped by its new parent


def _harness(directory: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(directory)],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    cell = int(proc.stdout.readline())
    proc.stdout.close()
    return proc, cell


def test_the_cells_of_a_killed_harness_are_killed_by_the_next_sweep(tmp_path: Path) -> None:
    harness, cell = _harness(tmp_path)
    try:
        assert sweep_groups(tmp_path) == 0  # its harness lives: not ours to kill
        assert _running(cell)
        harness.send_signal(signal.SIGKILL)
        harness.wait()
        time.sleep(0.2)
        assert _running(cell)  # the cell outlives its harness...
        assert sweep_groups(tmp_path) == 1  # ...until the next run sweeps
        deadline = time.monotonic() + 10
        while _running(cell) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(cell)
        assert list(tmp_path.glob("*.json")) == []  # the record went with it
    finally:
        if _running(cell):
            os.killpg(cell, signal.SIGKILL)


def test_a_reused_pid_is_never_killed(tmp_path: Path) -> None:
    """A record whose pid now belongs to another process (another start time) is skipped."""
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        record = {
            "owner": f"{boot_id()}:999999999:1",  # a dead harness
            "groups": [{"pgid": bystander.pid, "start": "1"}],  # not its start time
        }
        (tmp_path / "999999999-1.json").write_text(json.dumps(record))
        assert sweep_groups(tmp_path) == 0
        assert _running(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


def test_owners(tmp_path: Path) -> None:
    me = owner()
    assert me.split(":")[1] == str(os.getpid()) and start_time(os.getpid())
    assert not owner_gone(me)
    assert owner_gone(f"{boot_id()}:999999999:1")
    elsewhere = f"another-boot:{os.getpid()}:{start_time(os.getpid())}"
    assert owner_gone(elsewhere)  # a record in our cache from before a reboot
    assert not owner_gone(elsewhere, earlier_boots=False)  # maybe a host sharing the daemon
    assert not owner_gone("") and not owner_gone("garbage")


def test_the_record_holds_only_running_groups(tmp_path: Path) -> None:
    live = LiveGroups(tmp_path)
    with live.holding(os.getpid()):
        (record,) = tmp_path.glob("*.json")
        doc = json.loads(record.read_text())
        assert doc["owner"] == owner()
        assert doc["groups"] == [{"pgid": os.getpid(), "start": start_time(os.getpid())}]
    assert list(tmp_path.glob("*")) == []


@pytest.mark.parametrize("content", ["", "{", "[]", '{"owner": 1}', '{"owner": "x", "groups": 5}'])
def test_unreadable_records_are_left_alone(tmp_path: Path, content: str) -> None:
    (tmp_path / "1-1.json").write_text(content)
    assert sweep_groups(tmp_path) == 0
    assert (tmp_path / "1-1.json").exists()
