"""Cells: one environment (Python × pinned packages × resource limits × backend) of a matrix.

Cells are frozen values with a readable, stable ``id`` (usable on a command line) and a content
``fingerprint``. Expanding a matrix into cells is a pure function (:func:`expand`).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from driftmatrix.errors import MatrixError
from driftmatrix.limits import Limits, format_memory, format_number

#: The backends a cell may name; ``auto`` lets the run pick Docker when a daemon answers.
BACKENDS = ("venv", "docker", "auto")
#: The backend of a cell when neither ``[defaults]`` nor the cell names one (DESIGN.md).
DEFAULT_BACKEND = "venv"
#: What a cell id may contain: safe on a command line, in a file name and as a nox session.
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Cell:
    """One environment of the matrix.

    Attributes:
        id: Stable readable id, e.g. ``py3.12-scikit-learn1.5.2-numpy2.1.3-mem512m-cpu1``.
        python: Python version as written in the matrix, ``"3.12"`` (or ``"3.12.1"``).
        packages: Canonical distribution name → exact version, in id order.
        limits: Resource limits.
        backend: ``"venv"``, ``"docker"`` or ``"auto"``.
    """

    id: str
    python: str
    packages: tuple[tuple[str, str], ...]
    limits: Limits = field(default_factory=Limits)
    backend: str = "venv"

    @property
    def pins(self) -> dict[str, str]:
        """The requested pins as a mapping."""
        return dict(self.packages)

    def environment_key(self) -> dict[str, Any]:
        """What identifies the *environment* (not the limits): Python and the sorted pins."""
        return {"python": self.python, "packages": sorted(self.packages)}

    def fingerprint(self) -> str:
        """Content hash of everything that defines this cell (environment, limits, backend)."""
        doc = {
            "env": self.environment_key(),
            "limits": self.limits.to_json(),
            "backend": self.backend,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@functools.lru_cache(maxsize=4096)  # a large matrix repeats a few versions in every id
def safe_version(version: str) -> str:
    """Return ``version`` with every character an id may not hold replaced by ``_``.

    Why: a local version (``1.5.2+cpu``) or an epoch (``1!2.0``) would otherwise put ``+`` or
    ``!`` into an id. Normalized versions never contain ``_``, so this rarely collides, and
    :func:`expand` rejects the matrix when it does.
    """
    return re.sub(r"[^A-Za-z0-9.]", "_", version)


def make_id(
    python: str,
    packages: tuple[tuple[str, str], ...],
    limits: Limits,
    backend_suffix: str | None = None,
    *,
    with_timeout: bool = False,
) -> str:
    """Build a cell id: ``py{python}-{name}{version}...[-{limits}][-t{timeout}s][-{backend}]``.

    Args:
        python: The Python version as written in the matrix.
        packages: Canonical name → version, already in id order.
        limits: The cell's limits; memory and cpus appear when set.
        backend_suffix: Appended when given (the backend differs from ``[defaults]``).
        with_timeout: Append the timeout (it differs from ``[defaults]``).

    Returns:
        The id, e.g. ``py3.12-scikit-learn1.5.2-numpy2.1.3-mem512m-cpu1``.
    """
    parts = [f"py{python}"]
    parts.extend(f"{name}{safe_version(version)}" for name, version in packages)
    label = limits.label
    if label:
        parts.append(label)
    if with_timeout:
        parts.append(f"t{format_number(limits.timeout)}s")
    if backend_suffix:
        parts.append(backend_suffix)
    return "-".join(parts)


def join_key(parent: str, name: str) -> str:
    """Return the key path of ``name`` inside ``parent``, quoting names TOML would quote."""
    part = _key_part(name)
    return f"{parent}.{part}" if parent else part


@functools.lru_cache(maxsize=1024)  # the same few names, once per table of a large matrix
def _key_part(name: str) -> str:
    # json.dumps quotes like TOML and escapes control characters: messages stay one line.
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


_LIMIT_FIELDS = ("memory", "cpus", "timeout")


def describe_limit(name: str, value: float | None) -> str:
    """Return a limit value as a matrix file spells it: ``512m``, ``0.5``, ``300s``, ``none``."""
    if value is None:
        return "none"
    if name == "memory":
        return format_memory(int(value))
    return format_number(value) + ("s" if name == "timeout" else "")


@dataclass(frozen=True)
class LimitsPatch:
    """Limits as one table of a matrix sets them: only the fields named in ``given`` apply.

    Why a patch rather than :class:`Limits`: ``limits = { memory = "512m" }`` on an axis keeps
    the timeout of ``[defaults]``, and ``memory = "none"`` must be told apart from "not set".
    """

    memory: int | None = None
    cpus: float | None = None
    timeout: float | None = None
    given: frozenset[str] = frozenset()

    def apply(self, base: Limits) -> Limits:
        """Return ``base`` with the given fields replaced."""
        changes: dict[str, Any] = {name: getattr(self, name) for name in self.given}
        return replace(base, **changes)

    def matches(self, limits: Limits) -> bool:
        """True when every given field equals the one of ``limits``."""
        return all(getattr(limits, name) == getattr(self, name) for name in self.given)


@dataclass(frozen=True)
class Overrides:
    """What one table of a matrix sets: ``[defaults]``, an axis value, an include or exclude
    entry, or ``[reference]``. None (or empty) means "not set".

    Attributes:
        key: Key path of the table, e.g. ``include[1]``; names it in error messages.
        python: Python version.
        packages: Canonical name → normalized exact version, in the order written.
        limits: The limits it sets.
        backend: The backend it sets.
    """

    key: str = ""
    python: str | None = None
    packages: tuple[tuple[str, str], ...] = ()
    limits: LimitsPatch | None = None
    backend: str | None = None

    @property
    def is_empty(self) -> bool:
        """True when the table sets nothing."""
        limits = self.limits.given if self.limits else ()
        return not (self.python or self.packages or limits or self.backend)

    def matches(self, cell: Cell) -> bool:
        """True when every field set here equals the cell's (limits field by field)."""
        return (
            (self.python is None or cell.python == self.python)
            and (self.backend is None or cell.backend == self.backend)
            # A cell names a package once: a pair among its packages is its pin (no dict built).
            and all(pin in cell.packages for pin in self.packages)
            and (self.limits is None or self.limits.matches(cell.limits))
        )


@dataclass(frozen=True)
class Axis:
    """One key of ``[axes]``: its key path (``axes.numpy``) and one :class:`Overrides` per value."""

    key: str
    values: tuple[Overrides, ...]


@dataclass(frozen=True)
class _Draft:
    """A cell before it has an id; ``origin`` lists the tables that made it, for errors."""

    python: str | None
    pins: tuple[tuple[str, str], ...]
    limits: Limits
    backend: str
    origin: tuple[str, ...] = ()

    def merge(self, *overs: Overrides) -> _Draft:
        """This draft with ``overs`` applied in order (a later one wins), in one step."""
        pins = dict(self.pins)
        python, limits, backend = self.python, self.limits, self.backend
        for over in overs:
            pins.update(over.packages)
            python = over.python or python
            limits = over.limits.apply(limits) if over.limits else limits
            backend = over.backend or backend
        origin = (*self.origin, *(over.key for over in overs))
        return _Draft(python, tuple(pins.items()), limits, backend, origin)


def expand(
    defaults: Overrides,
    axes: Sequence[Axis] = (),
    exclude: Sequence[Overrides] = (),
    include: Sequence[Overrides] = (),
    *,
    source: Path | str = "<matrix>",
) -> tuple[Cell, ...]:
    """Expand a matrix into its cells (GitHub Actions semantics: exclude first, then include).

    With axes, the cells are the cartesian product of their values in declared order (the first
    axis varies slowest), each merged over ``defaults``; each exclude entry drops the cells that
    match all of its keys; each include entry, merged over ``defaults``, then adds a cell unless
    an identical one exists. Without axes the cells are exactly the includes, or the one cell of
    ``defaults`` when there are none.

    Ids name the packages in order of first appearance (defaults, axes, includes); the timeout
    and the backend appear in an id only when they differ from ``defaults``.

    Args:
        defaults: ``[defaults]``; its backend defaults to :data:`DEFAULT_BACKEND`.
        axes: ``[axes]``, in declared order.
        exclude: ``[[exclude]]`` entries.
        include: ``[[include]]`` entries.
        source: The matrix file, named in errors.

    Returns:
        The cells in matrix order: the product minus the excluded cells, then the includes.

    Raises:
        MatrixError: a cell has no Python version, an axis is empty, an exclude entry names
            something no cell has, everything is excluded, or two different cells share an id.
    """
    base = _Draft(
        python=defaults.python,
        pins=defaults.packages,
        limits=defaults.limits.apply(Limits()) if defaults.limits else Limits(),
        backend=defaults.backend or DEFAULT_BACKEND,
    )
    order = list(dict.fromkeys(name for name, _ in defaults.packages))
    for over in [*(value for axis in axes for value in axis.values), *include]:
        order.extend(name for name, _ in over.packages if name not in order)

    def build(draft: _Draft, python_key: str = "defaults.python") -> Cell:
        if draft.python is None:
            hint = "set defaults.python, a python axis, or python in every include"
            raise MatrixError(source, python_key, "no Python version for this cell", hint)
        pins = dict(draft.pins)
        packages = tuple((name, pins[name]) for name in order if name in pins)
        suffix = draft.backend if draft.backend != base.backend else None
        timeout = draft.limits.timeout != base.limits.timeout
        cell_id = make_id(draft.python, packages, draft.limits, suffix, with_timeout=timeout)
        return Cell(cell_id, draft.python, packages, draft.limits, draft.backend)

    cells: list[tuple[Cell, tuple[str, ...]]] = []
    if axes:
        for axis in (axis for axis in axes if not axis.values):
            raise MatrixError(source, axis.key, "empty axis", "give it a value or remove it")
        for combo in itertools.product(*(axis.values for axis in axes)):
            draft = base.merge(*combo)
            cells.append((build(draft), draft.origin))
        known = known_values([cell for cell, _ in cells])  # once, not once per entry
        for entry in exclude:
            check_selector(entry, known, source=source)
        cells = [(c, o) for c, o in cells if not any(e.matches(c) for e in exclude)]
        if not cells and not include:
            hint = "narrow the exclude entries or add [[include]] cells"
            raise MatrixError(source, "exclude", "every cell of the axes is excluded", hint)
    elif exclude:
        hint = "exclude drops cells of the [axes] product; remove it or add [axes]"
        raise MatrixError(source, exclude[0].key, "exclude without axes", hint)
    elif not include:
        cells.append((build(base), ("defaults",)))
    present = {cell for cell, _ in cells}  # a set: a CI script may write 10,000 includes
    for entry in include:
        draft = base.merge(entry)
        cell = build(draft, join_key(entry.key, "python"))
        # An include equal to an existing cell is not a second cell (GitHub Actions agrees).
        if cell not in present:
            present.add(cell)
            cells.append((cell, draft.origin))
    _check_ids(cells, source)
    return tuple(cell for cell, _ in cells)


def _check_ids(cells: list[tuple[Cell, tuple[str, ...]]], source: Path | str) -> None:
    """Raise when an id is unsafe or names two cells, pointing at the table that repeats it."""
    seen: dict[str, tuple[str, ...]] = {}
    for cell, origin in cells:
        if not ID_PATTERN.fullmatch(cell.id):
            hint = "ids may hold only letters, digits, '.', '_' and '-'"
            raise MatrixError(source, origin[-1], f"cell id {cell.id!r} is not safe", hint)
        if cell.id in seen:
            # Blame the first table where the two cells' origins part ways: the repeated value.
            first = seen[cell.id]
            diff = [(a, b) for a, b in zip(first, origin, strict=False) if a != b]
            key, other = diff[0][::-1] if diff else (origin[-1], first[-1])
            hint = "every cell needs its own python, pins, memory, cpus, timeout or backend"
            raise MatrixError(source, key, f"gives the same cell id {cell.id!r} as {other}", hint)
        seen[cell.id] = origin


def known_values(cells: Sequence[Cell]) -> dict[str, list[str]]:
    """What the cells have, as :func:`check_selector` names it, in one pass over the cells.

    Returns:
        ``python``, ``backend``, ``package`` (the names), each package's name (its versions)
        and each limit (as a matrix spells it) → the values, without repeats, in order of first
        appearance.
    """
    known: dict[str, dict[str, None]] = {"python": {}, "backend": {}, "package": {}}
    limits: dict[str, dict[float | None, None]] = {limit: {} for limit in _LIMIT_FIELDS}
    for cell in cells:
        known["python"][cell.python] = None
        known["backend"][cell.backend] = None
        for name, version in cell.packages:
            known["package"][name] = None
            known.setdefault(f"package {name}", {})[version] = None
        for limit, values in limits.items():
            values[getattr(cell.limits, limit)] = None
    found = {what: list(values) for what, values in known.items()}
    for limit, values in limits.items():
        found[limit] = list(dict.fromkeys(describe_limit(limit, value) for value in values))
    return found


def check_selector(
    selector: Overrides, known: Mapping[str, Sequence[str]], *, source: Path | str
) -> None:
    """Check that every key of an exclude or reference entry names something some cell has.

    Why: a typo in an exclude (``numpy = "2.1.33"``) would otherwise silently drop nothing.

    Args:
        selector: The entry.
        known: What the cells it selects from have (:func:`known_values`: computed once for
            every entry, as a 10,000-cell matrix may have many).
        source: The matrix file, named in errors.

    Raises:
        MatrixError: the entry sets nothing, or one of its keys matches no cell.
    """
    if selector.is_empty:
        hint = "name the python, packages, limits or backend of the cells it selects"
        raise MatrixError(source, selector.key, "selects nothing", hint)
    key = selector.key
    checks: list[tuple[str, str, str | None, Sequence[str]]] = [
        (join_key(key, "python"), "python", selector.python, known["python"]),
        (join_key(key, "backend"), "backend", selector.backend, known["backend"]),
    ]
    for name, version in selector.packages:
        checks += [(join_key(key, name), "package", name, known["package"])]
        checks += [(join_key(key, name), name, version, known.get(f"package {name}", []))]
    patch = selector.limits or LimitsPatch()
    for limit in (limit for limit in _LIMIT_FIELDS if limit in patch.given):
        wanted = describe_limit(limit, getattr(patch, limit))
        checks += [(join_key(f"{key}.limits", limit), limit, wanted, known[limit])]
    for where, what, value, have in checks:
        if value is not None and value not in have:
            guess = difflib.get_close_matches(value, have, n=1, cutoff=0.8)
            hint = f"did you mean {guess[0]!r}?" if guess else "this matrix has: "
            hint += "" if guess else ", ".join(have)
            raise MatrixError(source, where, f"no cell has {what} {value!r}", hint)
