"""Lock files: the exact package versions an environment is made of, read from three formats.

``driftmatrix review`` compares the environment of two lock files. A lock is read into a
:class:`Lock`: every package that would be installed for one Python version on this platform,
each pinned to one exact release (:class:`Pin`), with whether the file says it is a direct
dependency or a transitive one. Three formats are read:

- ``requirements.txt`` with ``==`` pins (:mod:`driftmatrix.lock_requirements`), as written by
  ``pip-compile`` or ``uv pip compile`` (their ``# via`` annotations tell direct from transitive);
- ``uv.lock`` (:mod:`driftmatrix.lock_toml`): the project's dependency graph, walked from it;
- ``pylock.toml`` (PEP 751, :mod:`driftmatrix.lock_toml`).

Environment markers are evaluated here, once, for the review's Python. Anything that is not a
pinned release from the package index (a URL, a path, a version range) is either refused with
one line naming the file, the line or key, and what to do, or left out with a note saying so.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from packaging.markers import InvalidMarker, Marker, UndefinedEnvironmentName, default_environment
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from driftmatrix.errors import UsageError
from driftmatrix.locksource import Source

if sys.version_info >= (3, 11):
    import tomllib
else:  # remove once Python 3.10 leaves requires-python
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

LockFormat = Literal["requirements", "uv.lock", "pylock.toml"]


class LockError(UsageError):
    """A lock file cannot be used: names the file and line (or key), the problem, what to do.

    Args:
        where: ``requirements.txt:12``, ``uv.lock: package[3].version``, ``main:uv.lock``.
        problem: What is wrong.
        hint: What to do about it (may be empty).
    """

    def __init__(self, where: str, problem: str, hint: str = "") -> None:
        self.where = where
        self.problem = problem
        self.hint = hint
        super().__init__(f"{where}: {problem}" + (f" ({hint})" if hint else ""))


@dataclass(frozen=True)
class Pin:
    """One package of a lock, pinned to one release.

    Attributes:
        name: Canonical (PEP 503) distribution name.
        version: Normalized exact version.
        direct: True when the file says the project asks for it, False when only another
            package does, None when the file does not say.
        where: Where it is written, for messages (``requirements.txt:12``).
    """

    name: str
    version: str
    direct: bool | None
    where: str


@dataclass(frozen=True)
class Lock:
    """The packages a lock file installs for one Python on this platform.

    Attributes:
        label: The file as the user named it (``requirements.txt``, ``main:uv.lock``).
        format: Which of the three formats it is.
        python: The Python version its markers were evaluated for.
        pins: Every package to install, sorted by name.
        notes: What was left out and why (the project itself, a git source, ignored options).
    """

    label: str
    format: LockFormat
    python: str
    pins: tuple[Pin, ...]
    notes: tuple[str, ...] = ()

    @property
    def versions(self) -> dict[str, str]:
        """Name → version of every pin."""
        return {pin.name: pin.version for pin in self.pins}

    def pin(self, name: str) -> Pin | None:
        """The pin of ``name`` (canonical), or None."""
        return next((pin for pin in self.pins if pin.name == name), None)


def lock_format(path: PurePosixPath, doc: Mapping[str, Any] | None, label: str = "") -> LockFormat:
    """The format of a lock file: ``uv.lock`` and ``pylock[.name].toml`` by name, another TOML
    file by its content (``doc``), and a file that is not TOML (``doc`` None) is a requirements
    file, whatever its name (``requirements.txt``, ``prod.in``, rye's ``requirements.lock``).

    Raises:
        LockError: A TOML file that is neither a uv.lock nor a pylock.toml (``pyproject.toml``).
    """
    name = path.name.lower()
    if name == "uv.lock" or (doc is not None and "package" in doc and "version" in doc):
        return "uv.lock"
    if (name.startswith("pylock.") and name.endswith(".toml")) or (doc and "lock-version" in doc):
        return "pylock.toml"
    if doc is None:
        return "requirements"
    raise LockError(
        label or str(path),
        "not a lock file: a TOML file that is neither a uv.lock nor a pylock.toml",
        "give uv.lock, pylock.toml, or a requirements file pinning every package with ==",
    )


def read_lock(source: Source, path: PurePosixPath, python: str) -> Lock:
    """Read the lock file at ``path`` from ``source`` for Python ``python`` on this platform.

    Args:
        source: Where files are read: the working tree or a git revision.
        path: The lock file, relative to the current directory (or absolute).
        python: ``"3.11"`` (or ``"3.11.7"``): markers and ``requires-python`` are checked for it.

    Returns:
        The lock, with every pin exact and every marker evaluated.

    Raises:
        LockError: The file is missing, unreadable, malformed, or pins something inexactly.
    """
    from driftmatrix import lock_requirements, lock_toml

    environment = marker_environment(python)
    label = source.label(path)
    name = path.name.lower()
    doc = None
    if name.endswith(".toml") or name == "uv.lock":
        doc = parse_toml(source.read(path), label)
    elif name.endswith(".lock"):
        try:  # another tool's lock: TOML (pdm), or requirements (rye's requirements.lock)
            doc = parse_toml(source.read(path), label)
        except LockError:
            doc = None
    fmt = lock_format(path, doc, label)
    if doc is None:
        pins, notes = lock_requirements.read(source, path, environment)
    else:
        requires = doc.get("requires-python")
        if not python_allowed(requires, python, label):
            raise LockError(
                label,
                f"requires-python {requires} excludes Python {python}",
                "choose a --python it was locked for",
            )
        read = lock_toml.read_uv if fmt == "uv.lock" else lock_toml.read_pylock
        pins, notes = read(doc, label, environment)
    return Lock(label, fmt, python, unique(pins), tuple(notes))


def parse_toml(data: bytes, label: str) -> dict[str, Any]:
    """Parse a TOML lock file.

    Raises:
        LockError: It is not UTF-8 or not TOML.
    """
    try:
        doc: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LockError(
            label, f"not UTF-8 text (byte {exc.start})", "is this a lock file?"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise LockError(label, f"invalid TOML: {exc}", "regenerate it with uv lock") from exc
    return doc


def marker_environment(python: str) -> dict[str, str]:
    """The environment markers are evaluated in: this platform, with Python ``python``.

    Only the version is ours to choose; platform, machine and implementation are the host's,
    which is where venv cells run (and docker cells run Linux on the same machine type). A
    two-part version is taken as its ``.0`` release for ``python_full_version``.
    """
    parts = python.split(".")
    full = python if len(parts) >= 3 else f"{python}.0"
    environment = {key: str(value) for key, value in default_environment().items()}
    environment.update(
        python_version=".".join(parts[:2]),
        python_full_version=full,
        implementation_version=full,
    )
    return environment


def applies(
    marker: object,
    environment: Mapping[str, str],
    where: str,
    groups: Iterable[str] = (),
) -> bool:
    """Whether a package's marker holds in ``environment`` (True when there is none).

    Args:
        marker: The marker text (or None).
        environment: From :func:`marker_environment`.
        where: Named in errors.
        groups: pylock.toml: the dependency groups installed (``'dev' in dependency_groups``).

    Raises:
        LockError: The marker is not valid.
    """
    if marker is None:
        return True
    if not isinstance(marker, str):
        raise LockError(where, f"marker: expected a string, got {marker!r}")
    try:
        parsed = Marker(marker)
        lock_env: dict[str, str | frozenset[str]] = {
            **environment,
            "extras": frozenset(),
            "dependency_groups": frozenset(groups),
        }
        if "extras" in marker or "dependency_groups" in marker:
            return parsed.evaluate(lock_env, context="lock_file")
        return parsed.evaluate({**environment, "extra": ""})
    except (InvalidMarker, UndefinedEnvironmentName) as exc:
        raise LockError(where, f"invalid environment marker {marker!r}: {exc}") from exc


def python_allowed(requires: object, python: str, where: str) -> bool:
    """Whether ``requires-python`` (a specifier, or None) admits ``python``.

    Raises:
        LockError: It is not a version specifier.
    """
    if requires is None:
        return True
    try:
        full = marker_environment(python)["python_full_version"]
        return SpecifierSet(str(requires)).contains(full)
    except InvalidSpecifier as exc:
        raise LockError(where, f"requires-python is not a version specifier: {requires!r}") from exc


def exact_version(text: object, where: str) -> str:
    """A normalized version, from a lock's ``version`` field.

    Raises:
        LockError: It is missing or not a version.
    """
    if not isinstance(text, str):
        raise LockError(where, "no version", "a lock names one exact version of every package")
    try:
        return str(Version(text))
    except InvalidVersion as exc:
        raise LockError(where, f"not a version: {text!r}") from exc


def unique(pins: Iterable[Pin]) -> tuple[Pin, ...]:
    """The pins sorted by name, each package once (direct if any entry says so).

    Raises:
        LockError: Two entries pin one package to different versions for this environment.
    """
    found: dict[str, Pin] = {}
    for pin in pins:
        seen = found.get(pin.name)
        if seen is None:
            found[pin.name] = pin
            continue
        if seen.version != pin.version:
            raise LockError(
                pin.where,
                f"pins {pin.name} {pin.version}, but {seen.where} pins {seen.version}",
                "a lock installs one version of each package; keep one of them",
            )
        direct = (
            None if seen.direct is None and pin.direct is None else bool(seen.direct or pin.direct)
        )
        found[pin.name] = Pin(pin.name, pin.version, direct, seen.where)
    return tuple(found[name] for name in sorted(found))
