"""backends/interpreters.py: finding each cell's Python, with fake interpreters in a pyenv root.

A fake interpreter is a shell script that answers driftmatrix's check the way a real one does
(a Python tuple on stdout); each test asks for Python versions no other test asks for, since
what is found is kept for the life of the process.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from driftmatrix.backends.interpreters import Interpreter, find_interpreter

FAKE = """#!/bin/sh
{before}
echo "({version!r}, '$0', {implementation!r}, {venv})"
"""


def fake(
    root: Path,
    version: str,
    *,
    before: str = "",
    implementation: str = "cpython",
    venv: bool = False,
    answer: str | None = None,
) -> Path:
    """A fake ``python3.X`` of release ``version`` in the pyenv root ``root``."""
    release = version.split()[0]
    minor = ".".join(release.split(".")[:2])
    path = root / "versions" / release / "bin" / f"python{minor}"
    path.parent.mkdir(parents=True)
    text = FAKE.format(before=before, version=version, implementation=implementation, venv=venv)
    path.write_text(text if answer is None else f"#!/bin/sh\necho {answer!r}\n")
    path.chmod(0o755)
    return path


def test_only_a_cpython_base_interpreter_is_a_cells_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    good = fake(tmp_path, "3.96.0 (main, Nov 24 2026) [GCC 12.2.0]")
    fake(tmp_path, "3.96.1", implementation="pypy")
    fake(tmp_path, "3.96.2", venv=True)  # a virtual environment, not a base
    fake(tmp_path, "3.96.3", answer="Python 3.96.3")  # not an answer to the check

    assert find_interpreter("3.96") == Interpreter(str(good.resolve()), "3.96.0", "pyenv")


def test_a_prerelease_is_named_as_platform_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    fake(tmp_path, "3.95.0rc1 (main, Nov 24 2026) [GCC 12.2.0]")

    assert find_interpreter("3.95").version == "3.95.0rc1"


def test_different_pythons_are_checked_at_the_same_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each fake starts, then waits for the other to have started: checked one after the other
    # (one lock for every request), the first gives up after 10 s and is not found.
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    for mine, other in (("3.97", "3.98"), ("3.98", "3.97")):
        wait = (
            f"touch {tmp_path}/started-{mine}; n=0\n"
            f"while [ ! -e {tmp_path}/started-{other} ]; do\n"
            '  n=$((n + 1)); [ "$n" -gt 100 ] && exit 1; sleep 0.1\n'
            "done"
        )
        fake(tmp_path, f"{mine}.0", before=wait)
    found: dict[str, str] = {}

    def find(request: str) -> None:
        found[request] = find_interpreter(request).version

    threads = [threading.Thread(target=find, args=(request,)) for request in ("3.97", "3.98")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert found == {"3.97": "3.97.0", "3.98": "3.98.0"}
