"""requirements.txt lock files: ``name==version`` pins, as pip-compile and uv pip compile write.

What is read, as pip reads it: comments (``#`` at the start or after whitespace), line
continuations (``\\``), ``--hash`` options after a pin, environment markers, extras, ``-r``
includes and ``-c`` constraint files (read relative to the file that names them, from the same
place: a git revision reads them from that revision). The ``# via`` annotations of
pip-compile and uv pip compile tell a direct dependency (``# via -r requirements.in``, or
``# via project (pyproject.toml)``) from a transitive one (``# via scikit-learn``); a file
without them does not say.

Everything else is refused with the file and line, because a review of anything but exact
releases would not be a review of the lock: a range, a bare name, a URL, an editable install.
Index options (``--index-url``...) are left to uv's configuration, with a note.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from driftmatrix.errors import UsageError
from driftmatrix.lockfile import LockError, Pin, applies
from driftmatrix.locksource import Source

_COMMENT = re.compile(r"(^|\s+)#.*$")
_OPTION = re.compile(r"(--[\w-]+|-\w)(?:\s*=\s*|\s*)(.*)")
_INCLUDES = {"-r": False, "--requirement": False, "-c": True, "--constraint": True}
#: Options that choose where packages come from or how: uv's own configuration decides that for
#: every cell, so they are noted and not followed.
_IGNORED = (
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-index",
    "--trusted-host", "--pre", "--prefer-binary", "--only-binary", "--no-binary",
    "--require-hashes", "--use-feature",
)  # fmt: skip
_LOCK_HINT = "a lock pins every package with ==; `uv pip compile requirements.in -o FILE` writes it"


@dataclass(frozen=True)
class _Line:
    """One logical line (continuations joined), without its comment."""

    number: int
    text: str


@dataclass(frozen=True)
class _Entry:
    """A requirement line and the ``# via`` sources annotated under it."""

    line: _Line
    via: tuple[str, ...] | None


def read(
    source: Source, path: PurePosixPath, environment: Mapping[str, str]
) -> tuple[list[Pin], list[str]]:
    """Read a requirements lock and the files it includes.

    Args:
        source: Where the files are read.
        path: The top file.
        environment: Marker environment (:func:`driftmatrix.lockfile.marker_environment`).

    Returns:
        The pins whose markers hold, and notes on what was left out.

    Raises:
        LockError: A line is not an exact pin or a known option, or a file cannot be read.
    """
    reader = _Reader(source, environment)
    reader.file(path, chain=())
    for name, (spec, where) in reader.constraints.items():
        pin = next((p for p in reader.pins if p.name == name), None)
        if pin is not None and not spec.contains(pin.version, prereleases=True):
            raise LockError(
                pin.where,
                f"pins {name} {pin.version}, but the constraint at {where} allows only {spec}",
                "pip refuses this file; fix the pin or the constraint",
            )
    return reader.pins, reader.notes


class _Reader:
    """Reads one requirements file after another (includes), collecting pins and notes."""

    def __init__(self, source: Source, environment: Mapping[str, str]) -> None:
        self.source = source
        self.environment = environment
        self.pins: list[Pin] = []
        self.notes: list[str] = []
        self.constraints: dict[str, tuple[SpecifierSet, str]] = {}

    def file(
        self,
        path: PurePosixPath,
        chain: tuple[str, ...],
        constraint: bool = False,
        included: str = "",
    ) -> None:
        """Read one file; ``included`` names the line that includes it (for errors)."""
        label = self.source.label(path)
        if label in chain:
            raise LockError(label, "includes itself: " + " → ".join([*chain, label]))
        try:
            data = self.source.read(path)
        except UsageError as exc:
            if not included:
                raise
            raise LockError(included, str(exc)) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LockError(label, f"not UTF-8 text (byte {exc.start})") from exc
        entries = list(_entries(text))
        annotated = any(entry.via is not None for entry in entries)
        for entry in entries:
            where = f"{label}:{entry.line.number}"
            line = entry.line.text
            if line.startswith("-"):
                self._option(line, where, path, (*chain, label))
            elif constraint:
                self._constraint(line, where)
            else:
                pin = self._pin(line, where, _direct(entry.via) if annotated else None)
                if pin is not None:
                    self.pins.append(pin)

    def _option(self, line: str, where: str, path: PurePosixPath, chain: tuple[str, ...]) -> None:
        match = _OPTION.fullmatch(line)
        option, value = (match[1], match[2].strip()) if match else (line.split()[0], "")
        if option in _INCLUDES:
            if not value:
                raise LockError(where, f"{option} names no file", f"write {option} other.txt")
            if "://" in value:
                raise LockError(where, f"includes a URL: {value}", "download it and name the file")
            self.file(path.parent / value, chain, _INCLUDES[option], f"{where}: {option} {value}")
            return
        if option in ("-e", "--editable"):
            raise LockError(
                where,
                f"an editable install is not a release: {line}",
                "review the releases it needs: pin them with == instead",
            )
        if option in _IGNORED:
            self.notes.append(f"{where}: {option} ignored: cells install from uv's own index")
            return
        raise LockError(where, f"unknown option {option}", "only -r, -c and pip's index options")

    def _requirement(self, line: str, where: str) -> Requirement:
        text, _, options = line.partition(" --")
        for token in ("--" + options).split() if options else []:
            name = token.split("=")[0]
            if token.startswith("-") and name != "--hash":
                raise LockError(where, f"unknown option {name} after the pin", "only --hash")
        try:
            requirement = Requirement(text.strip())
        except InvalidRequirement as exc:
            # packaging's message draws a caret under the text on more lines: keep the first.
            why = str(exc).splitlines()[0] if str(exc) else "invalid"
            raise LockError(where, f"not a requirement: {text.strip()!r} ({why})") from exc
        if requirement.url:
            raise LockError(
                where,
                f"{requirement.name} comes from a URL, not the package index",
                f"pin a release: {requirement.name}==<version>",
            )
        return requirement

    def _pin(self, line: str, where: str, direct: bool | None) -> Pin | None:
        requirement = self._requirement(line, where)
        marker = str(requirement.marker) if requirement.marker else None
        if not applies(marker, self.environment, where):
            return None
        specs = list(requirement.specifier)
        exact = specs[0] if len(specs) == 1 and specs[0].operator == "==" else None
        if exact is None or "*" in exact.version:
            shown = f"{requirement.name}{requirement.specifier}" or requirement.name
            raise LockError(where, f"{shown!r} is not an exact pin", _LOCK_HINT)
        if requirement.extras:
            extras = ",".join(sorted(requirement.extras))
            self.notes.append(
                f"{where}: the extras [{extras}] of {requirement.name} are not installed as such; "
                "the packages they pull in are, when the lock pins them"
            )
        try:
            version = str(Version(exact.version))
        except InvalidVersion as exc:
            raise LockError(where, f"not a version: {exact.version!r}") from exc
        return Pin(canonicalize_name(requirement.name), version, direct, where)

    def _constraint(self, line: str, where: str) -> None:
        requirement = self._requirement(line, where)
        marker = str(requirement.marker) if requirement.marker else None
        if applies(marker, self.environment, where) and requirement.specifier:
            name = canonicalize_name(requirement.name)
            self.constraints[name] = (requirement.specifier, where)


def _lines(text: str) -> Iterator[tuple[_Line, str | None]]:
    """Logical lines (continuations joined, comments cut) and each physical comment line."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and stripped.startswith("#"):
            yield _Line(number, ""), stripped
            continue
        if not pending:
            start = number
        if raw.rstrip().endswith("\\") and not stripped.startswith("#"):
            pending.append(raw.rstrip()[:-1])
            continue
        pending.append("" if stripped.startswith("#") else raw)
        joined = _COMMENT.sub("", " ".join(pending)).strip()
        pending = []
        yield _Line(start, " ".join(joined.split())), None
    if pending:
        yield _Line(start, " ".join(_COMMENT.sub("", " ".join(pending)).split())), None


def _entries(text: str) -> Iterator[_Entry]:
    """Each non-empty line, a requirement with the ``# via`` sources written under it."""
    current: _Line | None = None
    via: list[str] | None = None
    in_via = False
    for line, comment in _lines(text):
        if comment is None:
            if current is not None:
                yield _Entry(current, tuple(via) if via is not None else None)
            current, via, in_via = (line if line.text else None), None, False
            continue
        body = comment.lstrip("#").strip()
        if current is not None and re.match(r"via(\s|$)", body):
            via = _sources(body[3:])
            in_via = True
        elif current is not None and in_via and comment.startswith("#   ") and body:
            via = [*(via or []), *_sources(body)]
        else:
            in_via = False
    if current is not None:
        yield _Entry(current, tuple(via) if via is not None else None)


def _sources(text: str) -> list[str]:
    """``-r requirements.in, scikit-learn`` → its entries (old pip-tools wrote them on one line)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _direct(via: tuple[str, ...] | None) -> bool | None:
    """Direct when one of the sources is a requirements file or a project, not a package."""
    if via is None:
        return None
    return any(
        source.startswith(("-r ", "--requirement")) or source.endswith(")") for source in via
    )
