"""The venv backend's run side with real processes: limits, timeouts, environment, tails.

The runner here is a real (tiny) implementation of the runner contract, written by each test into
``tmp_path/runner/probes/__main__.py`` and started with the interpreter running the tests.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from realparts import IN_CI

from driftmatrix.backends import BACKENDS, get_backend, resolve_backends
from driftmatrix.backends.base import Environment, Execution, Invocation
from driftmatrix.backends.interpreters import Interpreter, find_interpreter
from driftmatrix.backends.oslimits import RLIMIT_AS, Confinement, cgroup_support
from driftmatrix.backends.supervise import TAIL_BYTES, supervise
from driftmatrix.backends.uv import summarize_uv_error
from driftmatrix.backends.venv import VenvBackend, environment_key
from driftmatrix.cells import Cell
from driftmatrix.errors import BuildError, InfraError, UsageError
from driftmatrix.limits import Limits

MiB = 1024 * 1024
SUPPORT = cgroup_support()
# Skipped only off CI: CI runs as root on a machine with writable cgroups, so there a missing
# controller is a failure, not a skip.
needs_memory_cgroup = pytest.mark.skipif(
    SUPPORT["memory"] is None and not IN_CI,
    reason="no writable cgroup memory controller on this host",
)
needs_cpu_cgroup = pytest.mark.skipif(
    SUPPORT["cpus"] is None and not IN_CI,
    reason="no writable cgroup cpu controller on this host",
)

# Shared by the runners below: read the job, find the work directory.
PRELUDE = """\
import json, os, sys, time, subprocess
job = json.load(open(sys.argv[1]))
work = job["work"]
"""


def run_runner(tmp_path: Path, body: str, limits: Limits | None = None) -> tuple[Execution, Path]:
    """Write a runner whose __main__ is PRELUDE + body, run it with the venv backend."""
    runner = tmp_path / "runner"
    (runner / "probes").mkdir(parents=True, exist_ok=True)
    (runner / "probes" / "__main__.py").write_text(PRELUDE + textwrap.dedent(body))
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = Environment(
        backend="venv",
        key="system-python",
        python=sys.executable,
        python_version=platform.python_version(),
        location=sys.prefix,
    )
    invocation = Invocation(
        runner_dir=runner,
        job={"protocol": 1, "cell": "test", "work": str(work), "files": {}},
        work_dir=work,
        limits=limits or Limits(timeout=60),
    )
    return VenvBackend(tmp_path / "cache").run(env, invocation), work


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_dead(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_exit_code_tails_and_job_file(tmp_path: Path) -> None:
    execution, work = run_runner(
        tmp_path,
        """
        json.dump({"cwd": os.getcwd(), "argv": sys.argv, "job": job,
                   "flags": [sys.flags.no_user_site, sys.flags.dont_write_bytecode,
                             sys.flags.hash_randomization]},
                  open(os.path.join(work, "seen.json"), "w"))
        print("hello out"); print("hello err", file=sys.stderr)
        sys.exit(3)
        """,
    )
    assert execution.exit_code == 3
    assert execution.signal is None
    assert not execution.timed_out and not execution.oom_killed
    assert execution.stdout_tail == "hello out\n"
    assert execution.stderr_tail == "hello err\n"
    assert execution.enforced == {"memory": None, "cpus": None, "timeout": "wall-clock"}
    seen = json.loads((work / "seen.json").read_text())
    assert seen["cwd"] == str(tmp_path / "runner")
    assert seen["argv"] == [
        str(tmp_path / "runner" / "probes" / "__main__.py"),
        str(work / "job.json"),
    ]
    assert seen["job"]["cell"] == "test"
    # Venv environments are installed without bytecode: the runner writes it while importing.
    assert seen["job"]["write_bytecode"] is True
    assert seen["flags"] == [1, 1, 0]  # -s -B, PYTHONHASHSEED=0 as the runner protocol says


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    execution, work = run_runner(
        tmp_path,
        """
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open(os.path.join(work, "grandchild.pid"), "w").write(str(child.pid))
        time.sleep(60)
        """,
        Limits(timeout=1.5),
    )
    assert execution.timed_out
    assert execution.signal == signal.SIGKILL and execution.exit_code is None
    assert not execution.oom_killed
    assert 1.5 <= execution.seconds < 10
    assert wait_dead(int((work / "grandchild.pid").read_text()))


@needs_memory_cgroup
def test_descendants_that_left_the_session_die_with_the_cell(tmp_path: Path) -> None:
    started = time.monotonic()
    execution, work = run_runner(
        tmp_path,
        """
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                 start_new_session=True)
        open(os.path.join(work, "grandchild.pid"), "w").write(str(child.pid))
        """,
        Limits(memory=512 * MiB, timeout=30),
    )
    assert execution.exit_code == 0 and not execution.timed_out
    assert wait_dead(int((work / "grandchild.pid").read_text()))
    # It held our stdout open; killing it through the cgroup means we do not wait for it.
    assert time.monotonic() - started < 10


def test_environment_is_an_allow_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("PYTHONPATH", "/nonexistent")
    monkeypatch.setenv("LD_PRELOAD", "")
    execution, work = run_runner(
        tmp_path,
        'json.dump(dict(os.environ), open(os.path.join(work, "env.json"), "w"))\n',
    )
    assert execution.exit_code == 0, execution.stderr_tail
    seen = json.loads((work / "env.json").read_text())
    assert "GITHUB_TOKEN" not in seen
    assert "PYTHONPATH" not in seen and "LD_PRELOAD" not in seen
    assert seen["PYTHONHASHSEED"] == "0"
    assert seen["PYTHONDONTWRITEBYTECODE"] == "1"
    assert seen["HOME"] == str(work / "home") and seen["TMPDIR"] == str(work / "tmp")
    assert seen["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert seen["OMP_NUM_THREADS"] == seen["OPENBLAS_NUM_THREADS"] == "1"
    allowed = {
        "PATH",
        "HOME",
        "TMPDIR",
        "PYTHONHASHSEED",
        "PYTHONDONTWRITEBYTECODE",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    }
    # The interpreter itself may add LC_CTYPE (PEP 538 locale coercion); nothing else appears.
    assert set(seen) <= allowed


def test_thread_variables_follow_the_cpu_quota(tmp_path: Path) -> None:
    execution, work = run_runner(
        tmp_path,
        'json.dump(dict(os.environ), open(os.path.join(work, "env.json"), "w"))\n',
        Limits(cpus=1.5, timeout=60),
    )
    assert execution.exit_code == 0, execution.stderr_tail
    seen = json.loads((work / "env.json").read_text())
    assert seen["OMP_NUM_THREADS"] == seen["MKL_NUM_THREADS"] == "2"


def test_output_tails_are_bounded(tmp_path: Path) -> None:
    execution, _ = run_runner(
        tmp_path,
        """
        chunk = "x" * 1023 + "\\n"
        for stream in (sys.stdout, sys.stderr):
            for _ in range(10 * 1024):
                stream.write(chunk)
        sys.stdout.write("END-OUT\\n"); sys.stderr.write("END-ERR\\n")
        """,
    )
    assert execution.exit_code == 0
    assert len(execution.stdout_tail.encode()) <= TAIL_BYTES
    assert len(execution.stderr_tail.encode()) <= TAIL_BYTES
    assert execution.stdout_tail.endswith("xx\nEND-OUT\n")
    assert execution.stderr_tail.endswith("xx\nEND-ERR\n")


@needs_memory_cgroup
def test_allocation_over_the_memory_limit_is_oom_killed(tmp_path: Path) -> None:
    execution, _ = run_runner(
        tmp_path,
        'data = b"\\x01" * (400 * 1024 * 1024)\nprint("survived")\n',
        Limits(memory=128 * MiB, timeout=60),
    )
    assert execution.oom_killed
    assert execution.signal == signal.SIGKILL and not execution.timed_out
    assert "survived" not in execution.stdout_tail
    assert execution.enforced["memory"] == SUPPORT["memory"]


@needs_memory_cgroup
def test_allocation_under_the_memory_limit_is_not_oom_killed(tmp_path: Path) -> None:
    execution, _ = run_runner(
        tmp_path,
        'data = b"\\x01" * (32 * 1024 * 1024)\nprint("survived")\n',
        Limits(memory=128 * MiB, timeout=60),
    )
    assert execution.exit_code == 0 and not execution.oom_killed
    assert execution.stdout_tail == "survived\n"


@needs_cpu_cgroup
def test_cpu_quota_throttles(tmp_path: Path) -> None:
    execution, _ = run_runner(
        tmp_path,
        """
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            pass
        print(time.process_time())
        """,
        Limits(cpus=0.5, timeout=60),
    )
    assert execution.exit_code == 0 and execution.enforced["cpus"] == SUPPORT["cpus"]
    assert float(execution.stdout_tail) < 1.5  # about 1.0 s of CPU in 2 s at half a core


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS fallback is Linux-only")
def test_without_cgroups_memory_falls_back_to_rlimit_as(tmp_path: Path) -> None:
    limits = Limits(memory=256 * MiB, timeout=60)
    with Confinement(limits, cgroups=False) as confinement:
        assert confinement.enforced["memory"] == RLIMIT_AS
    execution = supervise(
        [sys.executable, "-c", 'data = b"\\x01" * (400 * 1024 * 1024)'],
        cwd=tmp_path,
        env={"PATH": os.defpath},
        limits=limits,
        cgroups=False,
    )
    # A weak limit: the allocation fails inside the process, nobody is killed.
    assert execution.exit_code == 1 and not execution.oom_killed
    assert "MemoryError" in execution.stderr_tail
    assert execution.enforced == {"memory": RLIMIT_AS, "cpus": None, "timeout": "wall-clock"}


def test_vanished_interpreter_is_an_infrastructure_error(tmp_path: Path) -> None:
    env = Environment("venv", "gone", str(tmp_path / "bin" / "python"), "3.11.0", str(tmp_path))
    work = tmp_path / "work"
    work.mkdir()
    invocation = Invocation(tmp_path, {"work": str(work)}, work, Limits(timeout=10))
    with pytest.raises(InfraError, match="is gone"):
        VenvBackend(tmp_path / "cache").run(env, invocation)


def test_launch_failure_is_an_infrastructure_error(tmp_path: Path) -> None:
    not_executable = tmp_path / "python"
    not_executable.write_text("")
    with pytest.raises(InfraError, match="could not start"):
        supervise([str(not_executable)], cwd=tmp_path, env={}, limits=Limits(timeout=10))


def test_finds_the_running_python_by_minor_and_full_version() -> None:
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = find_interpreter(minor)
    assert found.version.startswith(minor + ".")
    assert os.access(found.executable, os.X_OK)
    assert found.source in {"pyenv", "PATH", "uv"}
    assert find_interpreter(minor) is found  # cached per process
    assert find_interpreter(found.version).version == found.version


@pytest.mark.parametrize("request_", ["3.99", "2.99.1"])
def test_missing_python_is_a_build_error_saying_where_we_looked(request_: str) -> None:
    with pytest.raises(BuildError, match=rf"no Python {request_} interpreter found") as info:
        find_interpreter(request_)
    assert "PATH" in str(info.value) and "uv python find" in str(info.value)


def test_malformed_python_request_is_a_build_error() -> None:
    with pytest.raises(BuildError, match="invalid Python version"):
        find_interpreter("three")


def test_environment_key_ignores_pin_order_but_not_versions() -> None:
    interp = Interpreter("/usr/bin/python3.11", "3.11.7", "PATH")
    a = environment_key(interp, (("numpy", "1.26.4"), ("scikit-learn", "1.5.2")))
    b = environment_key(interp, (("scikit-learn", "1.5.2"), ("numpy", "1.26.4")))
    c = environment_key(interp, (("scikit-learn", "1.5.1"), ("numpy", "1.26.4")))
    d = environment_key(Interpreter("/opt/python3.11", "3.11.7", "PATH"), (("numpy", "1.26.4"),))
    assert a == b != c
    assert d != environment_key(interp, (("numpy", "1.26.4"),))


# uv's report when stderr is a terminal: colours, box drawing, wrapped lines.
FANCY_UV_ERROR = (
    "Using Python 3.12.1 environment at: /tmp/x\n"
    "  \x1b[31m×\x1b[0m No solution found when resolving dependencies:\n"
    "  ╰─▶ Because scikit-learn==1.2.2 has no usable wheels and you require\n"
    "      scikit-learn==1.2.2, we can conclude that your requirements are\n"
    "      unsatisfiable.\n"
    "\n"
    "      \x1b[36mhint\x1b[0m: Wheels are required for `scikit-learn` because building from\n"
    "      source is disabled for all packages (i.e., with `--no-build`)\n"
)


def test_uv_errors_are_trimmed_to_the_explanation() -> None:
    assert summarize_uv_error(FANCY_UV_ERROR) == (
        "scikit-learn==1.2.2 has no wheel for this Python and platform. "
        "(driftmatrix installs wheels only; it never builds from source)"
    )
    plain = "error: Failed to create virtualenv\n  cause: io error\n  cause: Permission denied\n"
    assert summarize_uv_error(plain) == "Failed to create virtualenv: Permission denied"


def test_backends_are_selected_by_name(tmp_path: Path) -> None:
    assert "venv" in BACKENDS
    backend: Any = get_backend("venv", cache_dir=tmp_path)
    assert isinstance(backend, VenvBackend) and backend.name == "venv"
    with pytest.raises(UsageError, match="unknown backend 'podman'; choose one of: docker, venv"):
        get_backend("podman")


def test_relative_host_paths_reach_the_runner_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The runner's working directory is the runner directory, not ours (a relative --out).
    monkeypatch.chdir(tmp_path)
    runner = Path("runner")
    (runner / "probes").mkdir(parents=True)
    (runner / "probes" / "__main__.py").write_text(
        PRELUDE + 'json.dump(job, open(os.path.join(work, "seen.json"), "w"))\n'
    )
    work = Path("out") / "work"
    work.mkdir(parents=True)
    env = Environment("venv", "system", sys.executable, platform.python_version(), sys.prefix)
    job = {"work": str(work), "files": {"golden": "golden.csv"}}
    execution = VenvBackend(Path("cache")).run(env, Invocation(runner, job, work, Limits()))
    assert execution.exit_code == 0, execution.stderr_tail
    seen = json.loads((work / "seen.json").read_text())
    assert seen["work"] == str(tmp_path / "out" / "work")
    assert seen["files"] == {"golden": str(tmp_path / "golden.csv")}


def test_auto_shares_the_instance_of_the_backend_it_picks(tmp_path: Path) -> None:
    backends, notes = resolve_backends({"auto", "venv"}, cache_dir=tmp_path)
    picked = backends["auto"].name  # docker when a daemon answers, venv otherwise
    assert backends["auto"] is backends[picked]
    assert notes and f"chose {picked}" in notes[0]
    assert resolve_backends(["venv"], cache_dir=tmp_path)[1] == []
    with pytest.raises(UsageError):
        resolve_backends(["podman"], cache_dir=tmp_path)


def test_missing_uv_is_an_infrastructure_error(tmp_path: Path) -> None:
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    backend = VenvBackend(tmp_path, uv=str(tmp_path / "no-uv-here"))
    with pytest.raises(InfraError, match="uv not found"):
        backend.provision(Cell(id="x", python=minor, packages=()))
    assert not list((tmp_path / "envs").glob(".build-*"))
