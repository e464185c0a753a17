"""Lock files (lockfile.py, lock_requirements.py, lock_toml.py) read from real-shaped files.

The requirements files, ``uv.lock`` files and ``pylock.toml`` files under tests/data/review were
written by uv itself (``uv pip compile``, ``uv lock``, ``uv export --format pylock.toml``; see
regenerate.sh there); the hand-written ones show a feature uv does not write, or a mistake.
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

import pytest

from driftmatrix.errors import EXIT_USAGE
from driftmatrix.lockdiff import ChangeKind, diff_locks
from driftmatrix.lockfile import Lock, LockError, marker_environment, read_lock
from driftmatrix.locksource import Source

DATA = Path(__file__).resolve().parents[1] / "data" / "review"
REQUIREMENTS = DATA / "requirements"
BAD = DATA / "bad"

#: What uv resolved for the two sides (scikit-learn 1.2.2 as of 2023-05, 1.3.2 as of 2024-08).
BASE = {
    "joblib": "1.2.0",
    "numpy": "1.23.4",
    "scikit-learn": "1.2.2",
    "scipy": "1.10.1",
    "threadpoolctl": "3.1.0",
}
HEAD = {
    "joblib": "1.4.2",
    "numpy": "1.26.4",
    "scikit-learn": "1.3.2",
    "scipy": "1.14.0",
    "threadpoolctl": "3.5.0",
}


def read(path: Path, python: str = "3.11") -> Lock:
    return read_lock(Source(), PurePosixPath(path), python)


def direct(lock: Lock) -> dict[str, bool | None]:
    return {pin.name: pin.direct for pin in lock.pins}


def test_uv_pip_compile_output_gives_every_pin_and_tells_direct_from_transitive() -> None:
    lock = read(REQUIREMENTS / "base.txt")
    assert lock.format == "requirements"
    assert lock.versions == BASE
    # `# via -r base.in` (numpy also via scikit-learn: still direct); the rest only via packages.
    assert direct(lock) == {
        "joblib": False,
        "numpy": True,
        "scikit-learn": True,
        "scipy": False,
        "threadpoolctl": False,
    }
    assert lock.pin("scikit-learn") is not None
    assert lock.pin("scikit-learn").where == f"{REQUIREMENTS / 'base.txt'}:10"  # type: ignore[union-attr]
    assert lock.notes == ()


def test_hashes_and_line_continuations_are_read_as_pip_reads_them() -> None:
    hashed = read(REQUIREMENTS / "head-hashed.txt")
    plain = read(REQUIREMENTS / "head.txt")
    assert hashed.versions == plain.versions == HEAD
    assert direct(hashed) == direct(plain)


@pytest.mark.parametrize(("python", "numpy"), [("3.11", "1.26.4"), ("3.8", "1.24.4")])
def test_markers_includes_constraints_extras_and_old_annotations(python: str, numpy: str) -> None:
    lock = read(REQUIREMENTS / "features" / "requirements.txt", python)
    assert sys.platform != "win32"  # colorama's marker excludes this platform
    assert lock.versions == {
        "joblib": "1.4.2",  # from included.txt
        "numpy": numpy,  # the line whose marker holds for this Python
        "pandas": "2.2.2",  # pandas[performance]
        "scikit-learn": "1.3.2",  # written Scikit_Learn
        "scipy": "1.14.0",  # its --hash options on continuation lines
        "threadpoolctl": "3.5.0",
    }
    assert direct(lock) == {
        "joblib": False,
        "numpy": True,
        "pandas": True,  # via credit-model (pyproject.toml)
        "scikit-learn": True,
        "scipy": False,  # via scikit-learn, pandas (pip-tools' old one-line form)
        "threadpoolctl": None,  # no annotation in an annotated file: the file does not say
    }
    notes = " ".join(lock.notes)
    assert "--index-url ignored" in notes and "--extra-index-url ignored" in notes
    assert "extras [performance] of pandas" in notes


def test_a_constraint_the_pins_break_is_refused() -> None:
    with pytest.raises(LockError) as caught:
        read(BAD / "constrained.txt")
    assert "pins numpy 1.26.4, but the constraint at" in str(caught.value)
    assert "constraints-conflict.in:1 allows only <1.26" in str(caught.value)


def test_uv_lock_walks_the_project_graph() -> None:
    base = read(DATA / "uv" / "base" / "uv.lock")
    head = read(DATA / "uv" / "head" / "uv.lock")
    # The same resolution as uv pip compile's, and the same direct dependencies; colorama
    # (win32 only) and the dev group (iniconfig) are not installed.
    assert base.format == "uv.lock"
    assert base.versions == BASE and head.versions == HEAD
    assert direct(base) == direct(read(REQUIREMENTS / "base.txt"))
    notes = " ".join(base.notes)
    assert "the project credit-model itself is not installed" in notes
    assert "dependency groups not installed: dev" in notes


def test_pylock_lists_what_uv_export_installs() -> None:
    lock = read(DATA / "uv" / "head" / "pylock.toml")
    assert lock.format == "pylock.toml"
    # uv export includes the default group (dev: iniconfig); a pylock does not say what is direct.
    assert lock.versions == {**HEAD, "iniconfig": "2.0.0"}
    assert set(direct(lock).values()) == {None}
    assert "does not say which packages are direct" in " ".join(lock.notes)


@pytest.mark.parametrize(
    ("python", "expected"),
    [
        ("3.9", {"numpy": "2.0.2", "threadpoolctl": "3.5.0"}),
        ("3.11", {"numpy": "2.1.3", "threadpoolctl": "3.5.0"}),
        ("3.12", {"joblib": "1.4.2", "numpy": "2.1.3", "threadpoolctl": "3.5.0"}),
    ],
)
def test_a_forked_lock_gives_each_python_its_own_versions(
    python: str, expected: dict[str, str]
) -> None:
    for name in ("uv.lock", "pylock.toml"):
        lock = read(DATA / "uv-fork" / name, python)
        assert lock.versions == expected, name
        # helpers is a local directory: left out (its dependency threadpoolctl is not).
        assert any("(helpers): left out: a directory source" in n for n in lock.notes), name
    uv = read(DATA / "uv-fork" / "uv.lock", python)
    assert uv.pin("numpy").direct is True  # type: ignore[union-attr]
    assert uv.pin("threadpoolctl").direct is False  # type: ignore[union-attr]


def test_the_diff_says_what_moved_and_how() -> None:
    changes = diff_locks(read(REQUIREMENTS / "base.txt"), read(REQUIREMENTS / "head.txt"))
    # Direct dependencies first, then by name.
    assert [c.text for c in changes] == [
        "numpy 1.23.4 → 1.26.4",
        "scikit-learn 1.2.2 → 1.3.2",
        "joblib 1.2.0 → 1.4.2",
        "scipy 1.10.1 → 1.14.0",
        "threadpoolctl 3.1.0 → 3.5.0",
    ]
    assert {c.kind for c in changes} == {ChangeKind.UPGRADED}
    back = diff_locks(read(DATA / "uv" / "head" / "pylock.toml"), read(REQUIREMENTS / "base.txt"))
    kinds = {c.name: (c.kind, c.dependency) for c in back}
    assert kinds["iniconfig"] == (ChangeKind.REMOVED, "")
    assert kinds["numpy"] == (ChangeKind.DOWNGRADED, "direct")
    only = next(c for c in changes if c.name == "scipy")
    assert only.apply(BASE) == {**BASE, "scipy": "1.14.0"}
    assert only.undo(HEAD) == {**HEAD, "scipy": "1.10.1"}


#: Each bad file, the Python it is read for, and what its one-line message must say.
BAD_FILES = [
    ("range.txt", "range.txt:2: 'scikit-learn>=1.3' is not an exact pin"),
    ("bare-name.txt", "bare-name.txt:2: 'scikit-learn' is not an exact pin"),
    ("wildcard.txt", "wildcard.txt:1: 'numpy==1.26.*' is not an exact pin"),
    ("url.txt", "url.txt:2: mylib comes from a URL, not the package index"),
    ("editable.txt", "editable.txt:1: an editable install is not a release"),
    ("unknown-option.txt", "unknown-option.txt:1: unknown option --frobnicate"),
    ("pin-option.txt", "pin-option.txt:1: unknown option --config-settings after the pin"),
    ("bad-marker.txt", "bad-marker.txt:1: not a requirement"),
    ("bad-version.txt", "bad-version.txt:1: not a requirement: 'numpy==one.two'"),
    ("conflicting.txt", "conflicting.txt:3: pins numpy 2.0.0, but"),
    ("include-missing.txt", "include-missing.txt:2: -r missing-include.txt:"),
    ("include-cycle.txt", "include-cycle.txt: includes itself"),
    ("not-utf8.txt", "not-utf8.txt: not UTF-8 text (byte 14)"),
    ("invalid-toml/uv.lock", "uv.lock: invalid TOML: Expected ']]'"),
    ("no-project/uv.lock", "uv.lock: no project in it"),
    ("dangling/uv.lock", "its dependency scikit-learn names no such package"),
    ("requires-python/uv.lock", "uv.lock: requires-python >=3.12 excludes Python 3.11"),
    ("pylock-version/pylock.toml", "pylock.toml: lock-version '2.0': not a pylock.toml"),
    ("pylock-noversion/pylock.toml", "packages[0] (numpy): no version"),
    ("pylock-env/pylock.toml", "pylock.toml: locked only for other environments"),
    ("pyproject.toml", "pyproject.toml: not a lock file"),
]


@pytest.mark.parametrize(("name", "message"), BAD_FILES, ids=[n for n, _ in BAD_FILES])
def test_a_bad_lock_file_is_one_line_naming_file_and_line(name: str, message: str) -> None:
    with pytest.raises(LockError) as caught:
        read(BAD / name)
    text = str(caught.value)
    assert message in text
    assert text.startswith(str(BAD))
    assert "\n" not in text
    assert caught.value.exit_code == EXIT_USAGE


def test_every_bad_file_is_tested() -> None:
    tested = {name for name, _ in BAD_FILES} | {"constrained.txt", "constraints-conflict.in"}
    on_disk = {str(p.relative_to(BAD)) for p in BAD.rglob("*") if p.is_file()}
    assert on_disk == tested


def test_markers_are_evaluated_for_the_review_python() -> None:
    env = marker_environment("3.11")
    assert (env["python_version"], env["python_full_version"]) == ("3.11", "3.11.0")
    assert marker_environment("3.12.4")["python_full_version"] == "3.12.4"


def test_pylock_markers_on_groups_and_extras() -> None:
    # The default group is installed, the dev group and the gpu extra are not.
    lock = read(DATA / "pylock-groups" / "pylock.toml")
    assert lock.versions == {"numpy": "1.26.4", "scikit-learn": "1.5.2"}
