"""The TOML lock formats: ``uv.lock`` and ``pylock.toml`` (PEP 751).

**uv.lock** is a universal lock: it may hold several versions of one package for different
Pythons or platforms. What one environment installs is found the way ``uv sync`` finds it: walk
the dependency graph from the project (the package whose source is ``virtual`` or ``editable``),
following each dependency whose marker holds here, and the extras it asks for. The project's own
dependencies are the direct ones; the project itself, and packages that do not come from a
package index (git, URL, path sources), are left out with a note (a cell installs releases by
version). Dependency groups (``dev``) are not followed: the model's environment is what the
project needs to run.

**pylock.toml** lists what to install, each package with an optional marker; the markers may ask
for the lock's default dependency groups. It does not say which packages are direct.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftmatrix.lockfile import LockError, Pin, applies, exact_version
from driftmatrix.packages import canonical_name

#: The ``source`` kinds of a uv.lock package that come from a package index.
_REGISTRY = "registry"
#: The ``source`` kinds of the project being locked (and workspace members).
_PROJECT = ("virtual", "editable")


def read_uv(
    doc: Mapping[str, Any], label: str, environment: Mapping[str, str]
) -> tuple[list[Pin], list[str]]:
    """The pins of a ``uv.lock`` for one environment.

    Raises:
        LockError: The file is not a uv lock, has no project, or names a package it lacks.
    """
    if not isinstance(doc.get("version"), int) or not isinstance(doc.get("package"), list):
        raise LockError(label, "not a uv.lock: no version and [[package]] tables")
    packages = [_table(p, f"{label}: package[{i}]") for i, p in enumerate(doc["package"])]
    by_name: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for index, package in enumerate(packages):
        name = package.get("name")
        if not isinstance(name, str):
            raise LockError(f"{label}: package[{index}]", "no name")
        by_name.setdefault(canonical_name(name), []).append((index, package))
    roots = [(i, p) for i, p in enumerate(packages) if _kind(p) in _PROJECT]
    at_top = [(i, p) for i, p in roots if _source(p).get(_kind(p)) == "."]
    roots = at_top or roots
    if not roots:
        raise LockError(
            label,
            "no project in it (no package with a virtual or editable source)",
            "a uv.lock locks a project; give its requirements.txt or pylock.toml instead",
        )
    notes = [
        f"{label}: the project {p.get('name')} itself is not installed; its dependencies are"
        for _, p in roots
    ]
    groups = sorted({g for _, p in roots for g in _table(p.get("dev-dependencies", {}), label)})
    if groups:
        notes.append(f"{label}: dependency groups not installed: {', '.join(groups)}")
    walk = _Walk(label, by_name, environment)
    for index, root in roots:
        walk.visit(index, root, direct=None)
    pins = []
    for index, direct in sorted(walk.reached.items()):
        package = packages[index]
        name = canonical_name(str(package["name"]))
        where = f"{label}: package[{index}] ({name})"
        kind = _kind(package)
        if kind != _REGISTRY:
            notes.append(
                f"{where}: left out: a {kind or 'unknown'} source, not a release from an index"
            )
            continue
        pins.append(Pin(name, exact_version(package.get("version"), where), direct, where))
    return pins, notes


class _Walk:
    """The packages reached from the roots: package index → reached from a root directly."""

    def __init__(
        self,
        label: str,
        by_name: Mapping[str, list[tuple[int, Mapping[str, Any]]]],
        environment: Mapping[str, str],
    ) -> None:
        self.label = label
        self.by_name = by_name
        self.environment = environment
        self.reached: dict[int, bool] = {}
        self._done: set[tuple[int, tuple[str, ...]]] = set()

    def visit(
        self,
        index: int,
        package: Mapping[str, Any],
        direct: bool | None,
        extras: Sequence[str] = (),
    ) -> None:
        if direct is not None:
            self.reached[index] = self.reached.get(index, False) or direct
        key = (index, tuple(sorted(extras)))
        if key in self._done:
            return
        self._done.add(key)
        where = f"{self.label}: package[{index}] ({package.get('name')})"
        deps = list(_array(package.get("dependencies", []), where))
        optional = _table(package.get("optional-dependencies", {}), where)
        for extra in extras:
            deps += _array(optional.get(extra, []), f"{where}: optional-dependencies.{extra}")
        for dep in deps:
            dep = _table(dep, where)
            if not applies(dep.get("marker"), self.environment, where):
                continue
            target, found = self._find(dep, where)
            wanted = [str(e) for e in _array(dep.get("extra", []), where)]
            # The project's own dependencies are direct; everything below them is transitive.
            self.visit(target, found, direct=direct is None, extras=wanted)

    def _find(self, dep: Mapping[str, Any], where: str) -> tuple[int, Mapping[str, Any]]:
        name = canonical_name(str(dep.get("name")))
        candidates = [
            (i, p)
            for i, p in self.by_name.get(name, [])
            if dep.get("version") in (None, p.get("version"))
            and dep.get("source") in (None, p.get("source"))
        ]
        if len(candidates) > 1:
            # A forked lock: the version for this environment is the one whose resolution
            # markers hold here.
            candidates = [(i, p) for i, p in candidates if self._resolved_here(p, where)]
        if len(candidates) != 1:
            problem = "names no such package" if not candidates else "is ambiguous here"
            raise LockError(
                where,
                f"its dependency {name} {problem}",
                "the lock is inconsistent; regenerate it with uv lock",
            )
        return candidates[0]

    def _resolved_here(self, package: Mapping[str, Any], where: str) -> bool:
        markers = package.get("resolution-markers")
        if markers is None:
            return True
        return any(applies(m, self.environment, where) for m in _array(markers, where))


def read_pylock(
    doc: Mapping[str, Any], label: str, environment: Mapping[str, str]
) -> tuple[list[Pin], list[str]]:
    """The pins of a ``pylock.toml`` (PEP 751) for one environment.

    Raises:
        LockError: The file is not a pylock of version 1, or is not for this environment.
    """
    version = doc.get("lock-version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        raise LockError(
            label,
            f"lock-version {version!r}: not a pylock.toml this version reads",
            'expected lock-version = "1.0" (PEP 751)',
        )
    groups = [str(g) for g in _array(doc.get("default-groups", []), label)]
    markers = _array(doc.get("environments", []), f"{label}: environments")
    if markers and not any(applies(m, environment, f"{label}: environments") for m in markers):
        raise LockError(
            label,
            f"locked only for other environments: {'; '.join(map(str, markers))}",
            "choose a --python it was locked for",
        )
    pins: list[Pin] = []
    notes = [f"{label}: a pylock.toml does not say which packages are direct"]
    for index, raw in enumerate(_array(doc.get("packages"), f"{label}: packages")):
        where = f"{label}: packages[{index}]"
        package = _table(raw, where)
        name = package.get("name")
        if not isinstance(name, str):
            raise LockError(where, "no name")
        where = f"{where} ({name})"
        if not applies(package.get("marker"), environment, where, groups):
            continue
        origin = next((k for k in ("vcs", "directory", "archive") if k in package), None)
        if origin is not None:
            notes.append(f"{where}: left out: a {origin} source, not a release from an index")
            continue
        version = exact_version(package.get("version"), where)
        pins.append(Pin(canonical_name(name), version, None, where))
    return pins, notes


def _kind(package: Mapping[str, Any]) -> str:
    """A uv.lock package's source kind: ``registry``, ``virtual``, ``editable``, ``git``..."""
    source = _source(package)
    return next(iter(source), "")


def _source(package: Mapping[str, Any]) -> Mapping[str, Any]:
    source = package.get("source")
    return source if isinstance(source, dict) else {}


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise LockError(where, f"expected a table, got {type(value).__name__}")
    return value


def _array(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise LockError(where, f"expected an array, got {type(value).__name__}")
    return value
