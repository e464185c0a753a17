"""Typed readers for the values of a matrix file.

Each reader takes a raw TOML value and its key path and returns a typed value, or raises
:class:`~driftmatrix.errors.MatrixError` naming the file, the key path, the problem and a fix.
:mod:`driftmatrix.spec` assembles them into a :class:`~driftmatrix.spec.MatrixSpec`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn, TypeGuard, TypeVar

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from driftmatrix.cells import BACKENDS, Axis, LimitsPatch, Overrides, join_key
from driftmatrix.errors import MatrixError
from driftmatrix.outcome import Verdict
from driftmatrix.suggest import near_miss
from driftmatrix.suggest import suggestion as did_you_mean

#: Keys of ``[axes]``, ``[[include]]``, ``[[exclude]]`` and ``[reference]`` that are not packages.
RESERVED = ("python", "limits", "backend")
#: Docker refuses memory limits below 6 MiB; saying so here beats an infra error in every cell.
MIN_MEMORY = 6 * 1024**2
#: The in-cell runner supports Python 3.8 and newer (DESIGN.md).
MIN_PYTHON_MINOR = 8

_PYTHON = re.compile(r"3\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?", re.ASCII)
_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE | re.ASCII)
_RANGE = re.compile(r"\s*(===|==|~=|!=|<=|>=|<|>|\^|~)|.*[*,; ]")
# Docker's own size syntax (units.RAMInBytes): a number, then k/m/g with optional "i" and "b".
_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?(?:([kmg])i?)?b?", re.IGNORECASE | re.ASCII)
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[hms])+", re.ASCII)
_SIZE_HINT = 'write a size such as "512m" or "1g" (k, m, g: powers of 1024) or "none"'
_SECONDS = {"h": 3600, "m": 60, "s": 1}
T = TypeVar("T")
_GLOBAL = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?:\.\*)?")


_TYPES: tuple[tuple[type, str], ...] = ((bool, "a boolean"), (int, "an integer"))
_TYPES += ((float, "a number"), (str, "a string"), (dict, "a table"), (list, "an array"))


def type_name(value: object) -> str:
    """Name a TOML value's type the way a matrix author thinks of it."""
    return next((name for kind, name in _TYPES if isinstance(value, kind)), "a date/time")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@functools.lru_cache(maxsize=4096)  # a 10,000-cell matrix repeats a few versions and names
def _version(text: str) -> str | None:
    try:
        return str(Version(text))
    except InvalidVersion:
        return None


@functools.lru_cache(maxsize=4096)
def _reserved_typo(name: str) -> str | None:
    return next((r for r in (*RESERVED, "packages") if near_miss(name.lower(), r)), None)


@dataclass(frozen=True)
class Reader:
    """Reads the values of one matrix file; every error it raises names that file.

    Attributes:
        path: The matrix file.
        inputs_exist: Whether the artifact and golden files must already exist (False only
            while rebuilding them from the recipe).
    """

    path: Path
    inputs_exist: bool = True

    def fail(self, key: str, problem: str, hint: str = "") -> NoReturn:
        """Raise the :class:`MatrixError` for ``key``."""
        raise MatrixError(self.path, key, problem, hint)

    # -- TOML types -------------------------------------------------------------------------

    def table(self, key: str, value: object, hint: str = "") -> dict[str, Any]:
        """Return ``value`` if it is a table."""
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {type_name(value)}", hint)
        return value

    def array(self, key: str, value: object, hint: str = "", *, empty: bool = False) -> list[Any]:
        """Return ``value`` if it is an array (non-empty unless ``empty``)."""
        if not isinstance(value, list):
            self.fail(key, f"expected an array, got {type_name(value)}", hint)
        if not value and not empty:
            self.fail(key, "empty array", hint or "give at least one value or remove the key")
        return value

    def string(self, key: str, value: object, hint: str = "") -> str:
        """Return ``value`` if it is a non-empty one-line string."""
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {type_name(value)}", hint)
        if not value.strip() or "\n" in value:
            self.fail(key, f"expected a one-line, non-empty string, got {value!r}", hint)
        return value

    def number(self, key: str, value: object, hint: str = "") -> float:
        """Return ``value`` as a float if it is an integer or a number other than NaN."""
        if not _is_number(value):
            self.fail(key, f"expected a number, got {type_name(value)}", hint)
        try:
            number = float(value)
        except OverflowError:  # a TOML integer beyond any float
            self.fail(key, f"number too large: {value}", hint)
        if math.isnan(number):
            self.fail(key, "expected a number, got nan", hint)
        return number

    def keys(
        self, key: str, table: Mapping[str, Any], allowed: Iterable[str], hint: str = ""
    ) -> None:
        """Reject every key of ``table`` not in ``allowed``, with "did you mean" for typos."""
        allowed = tuple(allowed)
        for name in table:
            if name not in allowed:
                expected = "expected one of: " + ", ".join(allowed)
                self.fail(
                    join_key(key, name),
                    "unknown key",
                    did_you_mean(name, allowed) or hint or expected,
                )

    def file(
        self, key: str, value: object, base: Path, suffix: str = "", *, built: bool = False
    ) -> Path:
        """Return the absolute path of an existing file named relative to ``base``.

        ``built`` marks a file the recipe makes: it need not exist when ``inputs_exist`` is off.
        """
        text = self.string(key, value)
        if suffix and not text.endswith(suffix):
            self.fail(key, f"expected a {suffix} file, got {text!r}")
        try:
            resolved = (base / text).resolve()
            found = resolved.is_file()
        except (OSError, ValueError) as exc:  # a NUL byte, a name too long for the OS...
            self.fail(key, f"not a usable path: {text!r}", str(exc))
        if not found and (self.inputs_exist or not built):
            self.fail(key, f"no such file: {text!r}", f"looked for {resolved}")
        return resolved

    # -- matrix values ----------------------------------------------------------------------

    def python(self, key: str, value: object) -> str:
        """Return a Python version such as ``"3.12"`` or ``"3.12.1"`` (3.8 or newer)."""
        if _is_number(value):
            # TOML reads an unquoted 3.10 as the number 3.1: the classic matrix trap.
            self.fail(
                key,
                f"expected a string, got the number {value!r}",
                'quote it: python = "3.10"; unquoted, 3.10 is the number 3.1',
            )
        text = self.string(key, value)
        match = _PYTHON.fullmatch(text)
        if not match:
            self.fail(key, f"not a Python version: {text!r}", 'write "3.12" or "3.12.1"')
        if int(match[1]) < MIN_PYTHON_MINOR:
            self.fail(key, f"Python {text} is not supported", "cells need Python 3.8 or newer")
        return text

    def pin(self, key: str, value: object) -> str:
        """Return an exact package version, normalized (``"1.0.0-rc1"`` → ``"1.0.0rc1"``)."""
        if _is_number(value):
            self.fail(
                key, f"expected a version string, got the number {value!r}", f'quote it: "{value}"'
            )
        text = self.string(key, value, 'write an exact version such as "1.5.2"')
        if _RANGE.match(text):
            bare = text.strip().removeprefix("==").strip()
            hint = (
                f'write the version alone: "{bare}"'
                if bare != text
                else ('pin one exact version such as "1.5.2"; give each version its own axis value')
            )
            self.fail(key, f"not an exact pin: {text!r}", hint)
        normalized = _version(text)
        if normalized is None:
            self.fail(key, f"not a version: {text!r}", 'write a release such as "1.5.2"')
        return normalized

    def package(self, key: str, name: str, *, flat: bool = True) -> str:
        """Return the canonical form of a package name used as a key.

        Args:
            key: Key path of the name.
            name: The name as written.
            flat: The name sits beside reserved keys (``python``, ``limits``...), so a typo of
                one of those is reported instead of being taken for a package.
        """
        reserved = _reserved_typo(name) if flat else None
        if reserved is not None:
            self.fail(
                key,
                "unknown key",
                f"did you mean {reserved!r}? to pin a package so named, use a packages table",
            )
        if not _NAME.fullmatch(name):
            self.fail(
                key,
                f"not a package name: {name!r}",
                "use the distribution name as on PyPI, without extras or specifiers",
            )
        return canonicalize_name(name)

    def backend(self, key: str, value: object) -> str:
        """Return a backend name: ``venv``, ``docker`` or ``auto``."""
        text = self.string(key, value)
        if text not in BACKENDS:
            hint = did_you_mean(text, BACKENDS) or "expected venv, docker or auto"
            self.fail(key, f"unknown backend {text!r}", hint)
        return text

    def memory(self, key: str, value: object) -> int | None:
        """Return a memory size in bytes (Docker syntax, powers of 1024), None for ``"none"``."""
        if value == "none":
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.fail(key, f"expected a size, got {type_name(value)}", _SIZE_HINT)
        match = _SIZE.fullmatch(str(value).strip())
        if not match:
            self.fail(key, f"not a size: {value!r}", _SIZE_HINT)
        unit = 1024 ** " kmg".index((match[2] or " ").lower())
        size = (Fraction(match[1]) if "." in match[1] else int(match[1])) * unit
        if isinstance(size, Fraction) and size.denominator != 1:
            self.fail(key, f"not a whole number of bytes: {value!r}", _SIZE_HINT)
        if size < MIN_MEMORY:
            self.fail(
                key,
                f"{value!r} is below Docker's minimum of 6m",
                'a size without a unit is in bytes; write "512m"',
            )
        return int(size)

    def cpus(self, key: str, value: object) -> float | None:
        """Return a positive CPU quota (1.0 = one core), None for ``"none"``."""
        if value == "none":
            return None
        hint = 'write a positive number such as 1 or 0.5, or "none"'
        number = self.number(key, value, hint)
        if not 0 < number < math.inf:
            self.fail(key, f"must be positive and finite, got {number!r}", hint)
        return number

    def timeout(self, key: str, value: object) -> float:
        """Return a positive timeout in seconds: a number, or ``"300s"``, ``"5m"``, ``"1h30m"``."""
        hint = 'write a number of seconds or a duration such as "300s", "5m" or "1h30m"'
        if isinstance(value, str) and _DURATION.fullmatch(value):
            pairs = re.findall(r"(\d+(?:\.\d+)?)([hms])", value)
            seconds = sum(float(amount) * _SECONDS[unit] for amount, unit in pairs)
        elif isinstance(value, str):
            self.fail(key, f"not a duration: {value!r}", hint)
        else:
            seconds = self.number(key, value, hint)
        if not 0 < seconds < math.inf:
            self.fail(key, f"must be positive and finite, got {value!r}", hint)
        return seconds

    def limits(self, key: str, value: object) -> LimitsPatch:
        """Return the limits a ``limits`` table sets; the others stay unset."""
        table = self.table(key, value, 'write limits = { memory = "512m", cpus = 1 }')
        self.keys(key, table, ("memory", "cpus", "timeout"))
        return LimitsPatch(
            memory=self._get(key, table, "memory", self.memory),
            cpus=self._get(key, table, "cpus", self.cpus),
            timeout=self._get(key, table, "timeout", self.timeout),
            given=frozenset(table),
        )

    def _get(
        self, parent: str, table: Mapping[str, Any], name: str, read: Callable[[str, Any], T]
    ) -> T | None:
        """Read ``table[name]`` with ``read`` when it is there."""
        return read(join_key(parent, name), table[name]) if name in table else None

    def packages(self, key: str, value: object, seen: dict[str, str]) -> list[tuple[str, str]]:
        """Return the pins of a ``packages`` table; ``seen`` catches a package named twice."""
        table = self.table(key, value, 'write packages = { "scikit-learn" = "1.5.2" }')
        return [
            self._pin_entry(key, name, version, seen, flat=False) for name, version in table.items()
        ]

    def _name_entry(self, key: str, name: str, seen: dict[str, str], *, flat: bool) -> str:
        canonical = self.package(key, name, flat=flat)
        if canonical in seen:
            self.fail(key, f"names the same package as {seen[canonical]}", "name it once")
        seen[canonical] = key
        return canonical

    def _pin_entry(
        self, parent: str, name: str, value: object, seen: dict[str, str], *, flat: bool
    ) -> tuple[str, str]:
        key = join_key(parent, name)
        return self._name_entry(key, name, seen, flat=flat), self.pin(key, value)

    def overrides(self, key: str, value: object, hint: str = "") -> Overrides:
        """Return what an ``[[include]]``/``[[exclude]]``/``[reference]`` table sets.

        Its keys are ``python``, ``backend``, ``limits``, package names, and optionally a
        ``packages`` table (the spelling of ``[defaults]``).
        """
        table = self.table(key, value, hint)
        seen: dict[str, str] = {}
        pins: list[tuple[str, str]] = []
        for name, item in table.items():
            if name == "packages" and isinstance(item, dict):
                pins += self.packages(join_key(key, name), item, seen)
            elif name not in RESERVED:
                pins.append(self._pin_entry(key, name, item, seen, flat=True))
        return Overrides(
            key=key,
            python=self._get(key, table, "python", self.python),
            packages=tuple(pins),
            limits=self._get(key, table, "limits", self.limits),
            backend=self._get(key, table, "backend", self.backend),
        )

    def axis(self, key: str, name: str, value: object, seen: dict[str, str]) -> Axis:
        """Return one axis: ``python``, ``limits``, ``backend`` or a package's versions."""
        axis_key = join_key(key, name)
        if name == "packages" and isinstance(value, dict):
            self.fail(
                axis_key,
                "expected an array, got a table",
                'give each package its own axis: numpy = ["1.26.4", "2.1.3"]',
            )
        if name not in RESERVED:
            name = self._name_entry(axis_key, name, seen, flat=True)
        values: list[Overrides] = []
        firsts: dict[Overrides, str] = {}
        for index, item in enumerate(self.array(axis_key, value)):
            item_key = f"{axis_key}[{index}]"
            if name == "python":
                over = Overrides(python=self.python(item_key, item))
            elif name == "backend":
                over = Overrides(backend=self.backend(item_key, item))
            elif name == "limits":
                over = Overrides(limits=self.limits(item_key, item))
            else:
                over = Overrides(packages=((name, self.pin(item_key, item)),))
            if over in firsts:
                self.fail(item_key, f"repeats {firsts[over]}", "list each value once")
            firsts[over] = item_key
            values.append(
                Overrides(item_key, over.python, over.packages, over.limits, over.backend)
            )
        return Axis(axis_key, tuple(values))

    def patterns(self, key: str, value: object) -> tuple[str, ...]:
        """Return global-name patterns such as ``sklearn.*`` or ``numpy.dtype``."""
        patterns = []
        for index, item in enumerate(self.array(key, value, empty=True)):
            text = self.string(f"{key}[{index}]", item)
            if not _GLOBAL.fullmatch(text):
                self.fail(
                    f"{key}[{index}]",
                    f"not a global-name pattern: {text!r}",
                    'write a dotted name such as "sklearn.*" or "numpy.dtype"',
                )
            patterns.append(text)
        return tuple(dict.fromkeys(patterns))

    def verdicts(self, key: str, value: object) -> tuple[Verdict, ...]:
        """Return verdicts (``fail_on``), in the order written, without repeats."""
        names = [verdict.value for verdict in Verdict]
        verdicts = []
        for index, item in enumerate(self.array(key, value, empty=True)):
            text = self.string(f"{key}[{index}]", item)
            if text not in names:
                self.fail(
                    f"{key}[{index}]",
                    f"unknown verdict {text!r}",
                    did_you_mean(text, names) or "expected one of: " + ", ".join(names),
                )
            if text == Verdict.IDENTICAL.value:
                self.fail(
                    f"{key}[{index}]",
                    "'identical' cannot fail a run",
                    "every passing cell is identical",
                )
            verdicts.append(Verdict.parse(text))
        return tuple(dict.fromkeys(verdicts))
