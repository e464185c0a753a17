"""The run half of the Docker backend against a real daemon: profile, outcomes, cleanup.

Each test starts real containers of a small prototype image with a tiny runner written here (a
real implementation of the job contract of docs/runner-protocol.md: read job.json, write
result.json into ``work``, run the test's snippet in between). Every container carries a run
label unique to the test, and after every test no container with that label may remain.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker  # a dependency of driftmatrix
import pytest
from realparts import missing

from driftmatrix.backends.base import Execution, Invocation
from driftmatrix.backends.docker_images import Images
from driftmatrix.backends.docker_run import (
    LABEL,
    RUN_LABEL,
    remove_containers,
    run_container,
)
from driftmatrix.backends.interpreters import find_interpreter
from driftmatrix.cells import Cell as MatrixCell
from driftmatrix.errors import InfraError
from driftmatrix.limits import Limits

pytestmark = pytest.mark.docker

#: docker-py does not close the socket of a connection attempt that fails (its UnixHTTPConnection
#: connects a fresh socket and drops it on error): against a dead daemon, each failed call leaks
#: one, reported as a ResourceWarning when collected. Not ours to fix; tolerated only where a
#: daemon is gone, and collected (see `collect_garbage`) before the next test can be blamed.
DEAD_DAEMON_LEAKS = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture
def collect_garbage() -> Iterator[None]:
    """Collect the test's garbage in its own teardown, where its warning filters still apply.

    The leaked sockets sit in reference cycles (exception → traceback → frame); left to the
    cyclic collector, their warnings would surface in whichever test runs next.
    """
    yield
    gc.collect()


@dataclass(frozen=True)
class Image:
    """A cell image and the interpreter inside it."""

    name: str
    python: str


# The one place naming the images these tests run: test tags given, by the `client` fixture,
# to images made by the real image builder (the host's Python 3.11 on the bookworm base; the
# second adds scikit-learn 1.5.2 + numpy 1.26.4).
_PYENV_PYTHON = find_interpreter("3.11").executable
PYTHON_IMAGE = Image("driftmatrix-test/python:3.11", _PYENV_PYTHON)
SKLEARN_IMAGE = Image("driftmatrix-test/cell:scikit-learn-1.5.2", _PYENV_PYTHON)

MiB = 1024**2

#: The test runner: the job contract, plus ``job["test_code"]`` run between two result writes.
RUNNER = """\
import json, os, sys

with open(sys.argv[1]) as handle:
    job = json.load(handle)
work = job["work"]
result = {"protocol": 1, "cell": job.get("cell"), "finished": False, "probes": {}}


def write():
    tmp = os.path.join(work, ".result.json.tmp")
    with open(tmp, "w") as handle:
        json.dump(result, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, os.path.join(work, "result.json"))


write()
exec(job.get("test_code", ""), {"job": job, "result": result, "work": work, "os": os, "sys": sys})
result["finished"] = True
write()
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""

#: Wait (at most 60 s) until the test drops a file named "go" into the work directory.
WAIT_FOR_GO = """\
import time
for _ in range(600):
    if os.path.exists(os.path.join(work, "go")):
        break
    time.sleep(0.1)
"""


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    try:
        found = docker.from_env()
        found.ping()
    except Exception:  # any failure to reach a daemon means: there is none for these tests
        missing("no Docker daemon")
    images = Images(found, Path.home() / ".cache" / "driftmatrix-tests" / "docker")
    built = {
        PYTHON_IMAGE.name: images.python_image(find_interpreter("3.11")),
        SKLEARN_IMAGE.name: images.cell_image(
            MatrixCell(
                id="sklearn",
                python="3.11",
                packages=(("scikit-learn", "1.5.2"), ("numpy", "1.26.4")),
            )
        ).tag,
    }
    for alias, tag in built.items():
        repository, _, version = alias.rpartition(":")
        found.images.get(tag).tag(repository, version)
    yield found
    found.close()


def image(client: Any, wanted: Image) -> Image:
    try:
        client.images.get(wanted.name)
    except docker.errors.ImageNotFound:
        missing(f"the test image {wanted.name} is missing")
    return wanted


@pytest.fixture
def labels(client: Any) -> Iterator[dict[str, str]]:
    """A run label of this test's own; nothing carrying it may survive the test."""
    mine = {RUN_LABEL: f"test-{uuid.uuid4().hex[:12]}"}
    yield mine
    left = leftovers(client, mine)
    remove_containers(client, mine)  # never leak, even when the assertion below fails
    assert not left, f"containers left behind: {left}"


def leftovers(client: Any, labels: Mapping[str, str]) -> list[str]:
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    return [c["Id"][:12] for c in client.api.containers(all=True, filters=filters)]


@dataclass
class Cell:
    """One prepared invocation of the test runner."""

    invocation: Invocation
    work: Path

    def result(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.work / "result.json").read_text())
        return loaded


def prepare(
    tmp_path: Path, code: str, limits: Limits, files: Mapping[str, str] | None = None
) -> Cell:
    runner = tmp_path / "runner"
    (runner / "probes").mkdir(parents=True, exist_ok=True)
    (runner / "probes" / "__main__.py").write_text(RUNNER)
    work = tmp_path / "work"
    work.mkdir()
    job = {
        "protocol": 1,
        "cell": "py3.11-test-cell",
        "files": dict(files or {}),
        "work": str(work),
        "test_code": code,
    }
    return Cell(Invocation(runner, job, work, limits), work)


def run(
    client: Any,
    cell: Cell,
    labels: Mapping[str, str],
    *,
    using: Image = PYTHON_IMAGE,
    cancel: threading.Event | None = None,
) -> Execution:
    wanted = image(client, using)
    return run_container(
        client,
        image=wanted.name,
        python=wanted.python,
        invocation=cell.invocation,
        labels=labels,
        cancel=cancel or threading.Event(),
    )


def in_background(*args: Any, **kwargs: Any) -> Future[Execution]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(run, *args, **kwargs)
    pool.shutdown(wait=False)
    return future


def running_container(client: Any, labels: Mapping[str, str], within: float = 30) -> Any:
    """Inspect the (single) running container carrying ``labels`` as soon as there is one."""
    filters = {"label": [f"{k}={v}" for k, v in labels.items()], "status": "running"}
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = client.api.containers(filters=filters)
        if found:
            return client.api.inspect_container(found[0]["Id"])
        time.sleep(0.05)
    raise AssertionError("no running container appeared")


# --- normal runs -------------------------------------------------------------------------------


NORMAL = """\
import errno, socket
result["env"] = dict(os.environ)
result["cwd"] = os.getcwd()
result["ids"] = [os.getuid(), os.getgid()]
result["files"] = {}
for key, path in job["files"].items():
    seen = {"path": path}
    try:
        with open(path) as handle:
            seen["text"] = handle.read()
        open(path, "a").close()
        seen["write"] = "allowed"
    except OSError as exc:
        seen.setdefault("text", None)
        seen["write"] = errno.errorcode[exc.errno]
    result["files"][key] = seen
for where in ("/", "/dm/runner"):
    try:
        open(os.path.join(where, "x"), "w").close()
        result.setdefault("writable", []).append(where)
    except OSError:
        pass
open("/tmp/scratch", "w").close()  # the tmpfs is writable
os.makedirs(os.path.join(os.environ["HOME"], ".cache"), exist_ok=True)
sock = socket.socket()
sock.settimeout(2)
try:
    sock.connect(("1.1.1.1", 53))
    result["network"] = "reachable"
except OSError as exc:
    result["network"] = errno.errorcode.get(exc.errno, str(exc))
for i in range(20000):
    print(f"line {i:05d}")
print("the end", file=sys.stderr)
"""


def test_normal_run_rewrites_paths_and_passes_only_allow_listed_variables(
    client: Any, labels: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")  # what a CI job has in its environment
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "model.joblib").write_text("model bytes")
    # World-writable on the host: only the read-only mount can refuse the write (EROFS).
    (inputs / "model.joblib").chmod(0o666)
    (inputs / "golden.csv").write_text("a,b\n1,2\n")
    (inputs / "golden.csv").chmod(0o600)  # not readable by the container user: a copy is staged
    files = {
        "artifact": str(inputs / "model.joblib"),
        "golden": str(inputs / "golden.csv"),
        "extra": str(inputs / "absent.bin"),
    }
    cell = prepare(tmp_path, NORMAL, Limits(memory=256 * MiB, cpus=1.0, timeout=60), files)

    execution = run(client, cell, labels)

    assert execution.exit_code == 0, execution.stderr_tail
    assert (execution.signal, execution.timed_out, execution.oom_killed) == (None, False, False)
    assert execution.enforced == {"memory": "docker", "cpus": "docker", "timeout": "docker-kill"}
    assert 0 < execution.seconds < 30
    # The log tails are bounded and end with the last lines.
    assert len(execution.stdout_tail.encode()) <= 8 * 1024
    assert execution.stdout_tail.endswith("line 19999\n")
    assert execution.stderr_tail == "the end\n"

    result = cell.result()  # written by the container into the host work dir
    assert result["finished"] is True
    assert result["ids"] == [65534, 65534] and result["cwd"] == "/dm/runner"
    assert result["files"] == {
        "artifact": {
            "path": "/dm/in/artifact/model.joblib",
            "text": "model bytes",
            "write": "EROFS",
        },
        # The staged copy is not the container user's (mode 0444), on a read-only mount too.
        "golden": {"path": "/dm/in/golden/golden.csv", "text": "a,b\n1,2\n", "write": "EACCES"},
        "extra": {"path": "/dm/in/extra/absent.bin", "text": None, "write": "ENOENT"},
    }
    assert (inputs / "golden.csv").stat().st_mode & 0o777 == 0o600  # the user's file untouched
    assert "writable" not in result
    assert result["network"] == "ENETUNREACH"
    env = result["env"]
    assert "GITHUB_TOKEN" not in env
    assert env.pop("HOSTNAME")  # Docker always sets it; it is the container's id
    threads = dict.fromkeys(
        [
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS",
            "NUMEXPR_NUM_THREADS",
        ],
        "1",
    )
    assert env == {
        "PATH": "/root/.pyenv/versions/3.11.7/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin"
        ":/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/dm/work/home",
        "TMPDIR": "/tmp",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        **threads,
    }
    job = json.loads((cell.work / "job.json").read_text())
    assert job["work"] == "/dm/work" and job["files"]["artifact"] == "/dm/in/artifact/model.joblib"


def test_running_container_has_the_hardened_profile(
    client: Any, labels: dict[str, str], tmp_path: Path
) -> None:
    cell = prepare(tmp_path, WAIT_FOR_GO, Limits(memory=128 * MiB, cpus=0.5, timeout=60))
    future = in_background(client, cell, labels)
    try:
        info = running_container(client, labels)
    finally:
        (cell.work / "go").touch()
    execution = future.result(timeout=60)
    assert execution.exit_code == 0, execution.stderr_tail

    host = info["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert info["Config"]["User"] == "65534:65534"
    assert host["PidsLimit"] == 256
    assert host["Memory"] == host["MemorySwap"] == 128 * MiB
    assert host["NanoCpus"] == 500_000_000
    assert host["Init"] is True
    assert host["AutoRemove"] is False  # the state must survive the exit to be classified
    assert host["Tmpfs"] == {"/tmp": "rw,size=64m,mode=1777"}
    mounts = {m["Destination"]: m["RW"] for m in info["Mounts"]}
    assert mounts == {"/dm/runner": False, "/dm/work": True}
    assert info["Config"]["Labels"][LABEL] == "1"
    assert info["Config"]["Labels"][RUN_LABEL] == labels[RUN_LABEL]
    assert info["Config"]["Labels"]["org.driftmatrix.cell"] == "py3.11-test-cell"


# --- outcomes, classified from the daemon's facts ---------------------------------------------


def test_main_process_over_the_memory_limit_is_oom_killed(
    client: Any, labels: dict[str, str], tmp_path: Path
) -> None:
    cell = prepare(tmp_path, "block = b'x' * (400 << 20)", Limits(memory=128 * MiB, timeout=60))
    execution = run(client, cell, labels)
    assert execution.oom_killed is True and execution.timed_out is False
    assert (execution.exit_code, execution.signal) == (None, 9)
    assert cell.result()["finished"] is False


def test_child_oom_killed_while_parent_exits_zero_is_still_oom(
    client: Any, labels: dict[str, str], tmp_path: Path
) -> None:
    code = (
        "import subprocess\n"
        "child = subprocess.run([sys.executable, '-c', 'block = b\"x\" * (400 << 20)'])\n"
        "result['child'] = child.returncode\n"
    )
    cell = prepare(tmp_path, code, Limits(memory=128 * MiB, timeout=60))
    execution = run(client, cell, labels)
    assert execution.exit_code == 0 and execution.signal is None
    assert execution.oom_killed is True  # State.OOMKilled says so, whatever the exit code
    assert cell.result()["child"] == -9 and cell.result()["finished"] is True


def test_timeout_kills_the_container_and_says_so(
    client: Any, labels: dict[str, str], tmp_path: Path
) -> None:
    cell = prepare(tmp_path, "import time; time.sleep(60)", Limits(timeout=1.5))
    started = time.monotonic()
    execution = run(client, cell, labels)
    assert time.monotonic() - started < 10
    assert execution.timed_out is True and execution.oom_killed is False
    assert (execution.exit_code, execution.signal) == (None, 9)
    assert 1.4 <= execution.seconds < 5
    assert not leftovers(client, labels)


def test_segfault_is_reported_as_signal_11(
    client: Any, labels: dict[str, str], tmp_path: Path
) -> None:
    code = "import signal; os.kill(os.getpid(), signal.SIGSEGV)"
    cell = prepare(tmp_path, code, Limits(timeout=60))
    execution = run(client, cell, labels)
    assert (execution.exit_code, execution.signal) == (None, 11)
    assert execution.timed_out is False and execution.oom_killed is False


def test_importing_scikit_learn_under_48m_is_oom_killed(
    client: Any, labels: dict[str, str], tmp_path: Path
) -> None:
    # Measured here on the real cell image (cgroup v1, one BLAS thread, bytecode precompiled):
    # `import sklearn.ensemble` is OOM-killed at 64m and passes at 80m. 48m is well inside "too
    # small to import scikit-learn"; 256m is the control that proves the image itself works.
    # The control runs first, and that matters: with the image's files not in the page cache,
    # a container this small does not die, it thrashes (its file pages are evicted and read
    # again, which counts as progress to the kernel) until its timeout, for minutes. Once the
    # files are cached (charged to another cgroup), only its anonymous memory counts.
    code = "import sklearn.ensemble; result['sklearn'] = sklearn.__version__"
    enough = prepare(tmp_path / "enough", code, Limits(memory=256 * MiB, cpus=1.0, timeout=60))
    execution = run(client, enough, labels, using=SKLEARN_IMAGE)
    assert execution.exit_code == 0 and execution.oom_killed is False, execution.stderr_tail
    assert enough.result()["sklearn"] == "1.5.2"

    small = prepare(tmp_path / "small", code, Limits(memory=48 * MiB, cpus=1.0, timeout=60))
    execution = run(client, small, labels, using=SKLEARN_IMAGE)
    assert execution.oom_killed is True, execution.stderr_tail
    assert execution.timed_out is False and small.result()["finished"] is False


# --- cancellation and a daemon that is gone or refuses ----------------------------------------


def test_cancel_kills_and_removes_the_container_promptly(
    client: Any, labels: dict[str, str], tmp_path: Path
) -> None:
    cell = prepare(tmp_path, "import time; time.sleep(60)", Limits(timeout=60))
    cancel = threading.Event()
    future = in_background(client, cell, labels, cancel=cancel)
    running_container(client, labels)
    cancelled = time.monotonic()
    cancel.set()
    with pytest.raises(InfraError, match=r"^the run was cancelled$"):
        future.result(timeout=30)
    assert time.monotonic() - cancelled < 3
    assert not leftovers(client, labels)


@DEAD_DAEMON_LEAKS
@pytest.mark.usefixtures("collect_garbage")
def test_no_daemon_is_a_one_line_infra_error(tmp_path: Path) -> None:
    absent = docker.DockerClient(base_url=f"unix://{tmp_path}/docker.sock", version="1.41")
    cell = prepare(tmp_path, "", Limits(timeout=60))
    with pytest.raises(InfraError) as info:
        run_container(
            absent,
            image=PYTHON_IMAGE.name,
            python=PYTHON_IMAGE.python,
            invocation=cell.invocation,
            labels={},
            cancel=threading.Event(),
        )
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "the Docker daemon stopped answering while running cell py3.11-test-cell "
        "(create the container:"
    )
    with pytest.raises(InfraError, match="stopped answering while cleaning up"):
        remove_containers(absent, {RUN_LABEL: "whatever"})


def test_missing_image_is_refused_in_one_line(
    client: Any, labels: dict[str, str], tmp_path: Path
) -> None:
    cell = prepare(tmp_path, "", Limits(timeout=60))
    with pytest.raises(InfraError) as info:
        run_container(
            client,
            image="driftmatrix-proto/absent:none",
            python="/usr/bin/python3",
            invocation=cell.invocation,
            labels=labels,
            cancel=threading.Event(),
        )
    assert str(info.value) == (
        "Docker refused to create the container of cell py3.11-test-cell: "
        "No such image: driftmatrix-proto/absent:none"
    )


def test_missing_interpreter_is_an_infra_error(
    client: Any, labels: dict[str, str], tmp_path: Path
) -> None:
    cell = prepare(tmp_path, "", Limits(timeout=60))
    with pytest.raises(InfraError, match=r"^could not start /nope/python3 in image .*tini"):
        run(client, cell, labels, using=Image(PYTHON_IMAGE.name, "/nope/python3"))


class _SocketProxy:
    """A Unix-socket relay in front of the daemon that can be cut, like a daemon going away."""

    def __init__(self, target: str, path: Path) -> None:
        self.target = target
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen()
        self.listener.settimeout(0.05)
        self.sockets: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                near, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            far = socket.socket(socket.AF_UNIX)
            far.connect(self.target)
            self.sockets += [near, far]
            threading.Thread(target=self._pump, args=(near, far), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self.stopped.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.05)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (b if source is a else a).sendall(data)

    def stop(self) -> None:
        self.stopped.set()
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@DEAD_DAEMON_LEAKS
@pytest.mark.usefixtures("collect_garbage")
def test_daemon_stopping_mid_run_is_an_infra_error_and_the_sweep_cleans_up(
    client: Any, labels: dict[str, str], tmp_path: Path
) -> None:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://") or not os.path.exists(host[len("unix://") :]):
        missing("the Docker daemon has no local Unix socket to relay")
    image(client, PYTHON_IMAGE)
    proxy = _SocketProxy(host[len("unix://") :], tmp_path / "relay.sock")
    relayed = docker.DockerClient(base_url=f"unix://{tmp_path}/relay.sock", version="1.41")
    cell = prepare(tmp_path, "import time; time.sleep(60)", Limits(timeout=60))
    try:
        future = in_background(relayed, cell, labels)
        running_container(client, labels)
        proxy.stop()
        with pytest.raises(InfraError) as info:
            future.result(timeout=30)
    finally:
        proxy.stop()
        relayed.close()
    assert str(info.value).startswith(
        "the Docker daemon stopped answering while running cell py3.11-test-cell "
        "(inspect the container:"
    )
    # It could not be removed through a daemon that is gone: the run's sweep removes it.
    assert len(leftovers(client, labels)) == 1
    assert remove_containers(client, labels) == 1


def test_sweep_touches_only_driftmatrix_containers(client: Any, labels: dict[str, str]) -> None:
    image(client, PYTHON_IMAGE)
    foreign = client.containers.create(PYTHON_IMAGE.name, ["true"], labels=dict(labels))
    try:
        assert remove_containers(client, labels) == 0  # no org.driftmatrix=1 label: not ours
        foreign.reload()
    finally:
        foreign.remove(force=True)
