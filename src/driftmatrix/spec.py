"""The matrix file: read, validate and expand it into a :class:`MatrixSpec`.

Validation happens here, at the edge: TOML is parsed with ``tomllib`` and every value is checked
by hand into frozen, typed values (:mod:`driftmatrix.specparse` holds the low-level readers). Any
malformed input raises :class:`~driftmatrix.errors.MatrixError` naming the file, the key path and
a fix; nothing else escapes :func:`load_matrix`. The host never opens the artifact: it is only
checked to exist.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftmatrix.artifactspec import (
    DEFAULT_TRUSTED,
    FORMATS,
    SUFFIX_FORMATS,
    ArtifactSpec,
    Format,
    Mode,
    parse_artifact,
)
from driftmatrix.cells import Axis, Cell, Overrides, check_selector, expand, known_values
from driftmatrix.dockerspec import DockerSpec, parse_docker
from driftmatrix.outcome import DEFAULT_FAIL_ON, Verdict
from driftmatrix.specparse import Reader
from driftmatrix.suggest import suggestion as did_you_mean

__all__ = [
    "DEFAULT_TRUSTED",
    "FORMATS",
    "SUFFIX_FORMATS",
    "ArtifactSpec",
    "CompareSpec",
    "Format",
    "MatrixSpec",
    "Mode",
    "load_matrix",
]

if sys.version_info >= (3, 11):
    import tomllib
else:  # remove once Python 3.10 leaves requires-python
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

_TOP_KEYS = (
    "name",
    "artifact",
    "defaults",
    "axes",
    "exclude",
    "include",
    "reference",
    "compare",
    "docker",
)
_DEFAULTS_KEYS = ("python", "backend", "packages", "limits")
_COMPARE_KEYS = ("labels", "scores", "latency_ratio", "memory_ratio", "fail_on")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class CompareSpec:
    """``[compare]``: how cells are compared with the reference, and what fails a run.

    Attributes:
        labels: How labels are compared; only ``"exact"``.
        atol: Absolute tolerance for scores (probabilities, decision values, regressions).
        rtol: Relative tolerance for scores.
        latency_ratio: Flag a cell ``slower`` beyond this multiple of the reference latency.
        memory_ratio: Flag a cell ``heavier`` beyond this multiple of the reference memory.
        fail_on: Verdicts that make the run exit 1.
    """

    labels: str = "exact"
    atol: float = 1e-9
    rtol: float = 0.0
    latency_ratio: float = 2.0
    memory_ratio: float = 1.5
    fail_on: tuple[Verdict, ...] = DEFAULT_FAIL_ON

    def to_json(self) -> dict[str, Any]:
        """The policy as results.json records it (the shape of the ``[compare]`` table)."""
        return {
            "labels": self.labels,
            "scores": {"atol": self.atol, "rtol": self.rtol},
            "latency_ratio": self.latency_ratio,
            "memory_ratio": self.memory_ratio,
            "fail_on": [verdict.value for verdict in self.fail_on],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CompareSpec:
        """The policy :meth:`to_json` recorded (raises ``KeyError``/``ValueError``/``TypeError``
        when it is malformed)."""
        scores = doc["scores"]
        return cls(
            labels=str(doc["labels"]),
            atol=float(scores["atol"]),
            rtol=float(scores["rtol"]),
            latency_ratio=float(doc["latency_ratio"]),
            memory_ratio=float(doc["memory_ratio"]),
            fail_on=tuple(Verdict.parse(str(name)) for name in doc["fail_on"]),
        )


@dataclass(frozen=True)
class MatrixSpec:
    """A validated, expanded matrix file.

    Attributes:
        name: ``name``, or the file's stem; safe as a directory name.
        path: The matrix file, as given to :func:`load_matrix`.
        sha256: sha256 of the file's bytes.
        artifact: ``[artifact]``.
        cells: Every cell, in matrix order.
        reference: Id of the reference cell.
        compare: ``[compare]``.
        docker: ``[docker]``: the Python images of docker cells.
    """

    name: str
    path: Path
    sha256: str
    artifact: ArtifactSpec
    cells: tuple[Cell, ...]
    reference: str
    compare: CompareSpec = field(default_factory=CompareSpec)
    docker: DockerSpec = field(default_factory=DockerSpec)

    @property
    def reference_cell(self) -> Cell:
        """The cell every other cell is compared with."""
        return next(cell for cell in self.cells if cell.id == self.reference)


def load_matrix(path: Path | str, *, inputs_exist: bool = True) -> MatrixSpec:
    """Read, validate and expand a matrix file.

    Args:
        path: The matrix TOML file. Paths in ``[artifact]`` are relative to its directory.
        inputs_exist: Require the artifact and golden files to exist; off only while they are
            being rebuilt from the recipe.

    Returns:
        The matrix with its cells expanded and its reference cell chosen.

    Raises:
        MatrixError: for any unreadable or invalid file (and nothing else).
    """
    path = Path(path)
    read = Reader(path, inputs_exist)
    try:
        data = path.read_bytes()
    except OSError as exc:
        read.fail("", f"cannot read the matrix file: {exc.strerror or exc}")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        read.fail("", f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8")
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, or an int too long to parse
        read.fail("", f"invalid TOML: {exc}")
    read.keys("", doc, _TOP_KEYS)
    if "name" in doc:
        name = read.string("name", doc["name"])
        if not _NAME.fullmatch(name):
            read.fail(
                "name",
                f"not a usable name: {name!r}",
                "use letters, digits, '.', '_' and '-'; it names the output directory",
            )
    else:
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._")[:100] or "matrix"
    if "artifact" not in doc:
        read.fail("artifact", "missing table", "add [artifact] with golden, and path or recipe")
    artifact = parse_artifact(read, doc["artifact"], path.resolve().parent)
    compare = _compare(read, doc.get("compare", {}))
    defaults = _defaults(read, doc.get("defaults", {}))
    axes = _axes(read, doc["axes"]) if "axes" in doc else ()
    exclude = _entries(read, "exclude", doc.get("exclude", []))
    include = _entries(read, "include", doc.get("include", []))
    cells = expand(defaults, axes, exclude, include, source=path)
    _check_loader_pins(read, artifact, cells)
    return MatrixSpec(
        name=name,
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        artifact=artifact,
        cells=cells,
        reference=_reference(read, doc.get("reference"), cells),
        compare=compare,
        docker=parse_docker(read, doc.get("docker", {}), [cell.python for cell in cells]),
    )


#: Formats read by a library that is not a dependency of scikit-learn: every cell must pin it,
#: because its version decides what the cell can read (a file from a newer skops is refused, a
#: model with a newer ONNX IR version or opset than the cell's onnxruntime knows too).
_LOADER_PACKAGES = {"skops": "skops", "onnx": "onnxruntime"}


def _check_loader_pins(read: Reader, artifact: ArtifactSpec, cells: tuple[Cell, ...]) -> None:
    package = _LOADER_PACKAGES.get(artifact.format) if artifact.mode == "load" else None
    if package is None:
        return
    missing = [cell.id for cell in cells if package not in cell.pins]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        read.fail(
            "defaults.packages",
            f"{artifact.format} files are loaded with the cell's own {package}, but cell"
            f" {missing[0]}{more} pins no {package}",
            f'add a pin such as "{package}" = "<version>" to [defaults] packages, or an axis',
        )


def _compare(read: Reader, value: object) -> CompareSpec:
    table = read.table("compare", value)
    read.keys(
        "compare",
        table,
        _COMPARE_KEYS,
        "tolerances go in compare.scores = { atol = ..., rtol = ... }",
    )
    labels = read.string("compare.labels", table.get("labels", "exact"))
    if labels != "exact":
        read.fail("compare.labels", f"unknown label comparison {labels!r}", "expected exact")
    scores = read.table("compare.scores", table.get("scores", {}), "write { atol = 1e-9 }")
    read.keys("compare.scores", scores, ("atol", "rtol"))
    defaults = CompareSpec()

    def amount(key: str, raw: object, low: float, what: str) -> float:
        number = read.number(key, raw)
        if number < low:
            read.fail(key, f"must be {what}, got {number!r}")
        return number

    return CompareSpec(
        labels=labels,
        atol=amount("compare.scores.atol", scores.get("atol", defaults.atol), 0, ">= 0"),
        rtol=amount("compare.scores.rtol", scores.get("rtol", defaults.rtol), 0, ">= 0"),
        latency_ratio=amount(
            "compare.latency_ratio", table.get("latency_ratio", defaults.latency_ratio), 1, ">= 1"
        ),
        memory_ratio=amount(
            "compare.memory_ratio", table.get("memory_ratio", defaults.memory_ratio), 1, ">= 1"
        ),
        fail_on=read.verdicts("compare.fail_on", table["fail_on"])
        if "fail_on" in table
        else DEFAULT_FAIL_ON,
    )


def _defaults(read: Reader, value: object) -> Overrides:
    table = read.table("defaults", value)
    read.keys(
        "defaults",
        table,
        _DEFAULTS_KEYS,
        'package pins go in defaults.packages = { "scikit-learn" = "1.5.2" }',
    )
    if "packages" in table:
        read.table("defaults.packages", table["packages"], 'write packages = { numpy = "2.1.3" }')
    return read.overrides("defaults", table)


def _axes(read: Reader, value: object) -> tuple[Axis, ...]:
    table = read.table("axes", value, 'write [axes] with one array per key: numpy = ["2.1.3"]')
    if not table:
        read.fail("axes", "empty table", 'add an axis such as python = ["3.11"] or remove [axes]')
    seen: dict[str, str] = {}
    return tuple(read.axis("axes", name, item, seen) for name, item in table.items())


def _entries(read: Reader, key: str, value: object) -> tuple[Overrides, ...]:
    hint = f"write [[{key}]], an array of tables"
    entries = []
    for index, item in enumerate(read.array(key, value, hint, empty=True)):
        entry = read.overrides(f"{key}[{index}]", item, hint)
        if entry.is_empty:
            read.fail(entry.key, "sets no key", "give python, packages, limits or backend")
        entries.append(entry)
    return tuple(entries)


def _reference(read: Reader, value: object, cells: tuple[Cell, ...]) -> str:
    """The id of the one cell ``[reference]`` selects; the first cell when it is absent."""
    if value is None:
        return cells[0].id
    # reference = "<cell id>" is short for [reference] id = "<cell id>".
    id_key = "reference" if isinstance(value, str) else "reference.id"
    table = {"id": value} if isinstance(value, str) else dict(read.table("reference", value))
    ids = [cell.id for cell in cells]
    wanted = read.string(id_key, table.pop("id")) if "id" in table else None
    if wanted is not None and wanted not in ids:
        read.fail(
            id_key,
            f"no cell has the id {wanted!r}",
            did_you_mean(wanted, ids) or "driftmatrix list shows the ids",
        )
    criteria = read.overrides("reference", table)
    if wanted is None or not criteria.is_empty:
        check_selector(criteria, known_values(cells), source=read.path)
    matches = [c.id for c in cells if criteria.matches(c) and wanted in (None, c.id)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(matches[:4]) + (
            f" and {len(matches) - 4} more" if len(matches) > 4 else ""
        )
        read.fail(
            "reference",
            f"selects {len(matches)} cells: {shown}",
            "add keys (e.g. limits or python) until exactly one cell matches",
        )
    # Rank cells by how many of the reference's keys they match, to show the closest ones.
    atoms = [Overrides(python=criteria.python), Overrides(backend=criteria.backend)]
    atoms += [Overrides(packages=(pin,)) for pin in criteria.packages]
    atoms += [Overrides(limits=criteria.limits)] if criteria.limits else []
    atoms = [atom for atom in atoms if not atom.is_empty]
    ranked = sorted(cells, key=lambda c: -sum(atom.matches(c) for atom in atoms))
    read.fail(
        "reference",
        "no cell matches all of its keys",
        "closest: " + ", ".join(cell.id for cell in ranked[:3]),
    )
