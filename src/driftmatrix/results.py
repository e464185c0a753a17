"""Result values and the files they live in: ``cells/<id>.json`` and ``results.json``.

A :class:`CellResult` is what one cell ended with; :class:`RunResults` is a whole run. Both are
frozen and serialise to the JSON of DESIGN.md's "results.json" section. Every report is rendered
from ``results.json`` alone; the raw outputs a comparison needs live only in the per-cell files.
Files are written atomically (temp file, fsync, ``os.replace``) so a crash never leaves half a
file (FIELD-NOTES.md: ENOSPC can surface only at ``close()``).
"""

from __future__ import annotations

import json
import math
import operator
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from driftmatrix.outcome import Flag, Verdict
from driftmatrix.packed import pack

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ErrorInfo:
    """Why a cell failed: an exception type (or a kind such as ``BuildError``) and one line."""

    type: str
    message: str

    def to_json(self) -> dict[str, str]:
        """JSON form."""
        return {"type": self.type, "message": self.message}


@dataclass(frozen=True)
class CellResult:
    """Everything one cell ended with.

    Attributes:
        id: The cell id.
        backend: The backend that ran it (``venv``/``docker``), after ``auto`` was resolved.
        python: Python version requested in the matrix.
        packages: Requested pins.
        installed: Every distribution installed in the cell, transitive ones included.
        environment: Where the cell ran: ``location`` (venv directory or image tag), ``base``
            (host interpreter, or Python image and its source), ``python`` (version,
            implementation, executable, as the cell itself reported them). Empty when the
            environment could not be built.
        limits: ``{memory, cpus, timeout, enforced}``; ``enforced`` maps each limit to the
            mechanism that enforced it, or None when it was not enforced.
        verdict: The single verdict.
        flags: Flags beside it, in vocabulary order.
        probes: Probe name → the runner's probe record (status, seconds, details).
        comparison: The comparison with the reference cell (see ``compare.py``), or None when
            none was possible.
        error: Why it failed, or None.
        outputs: Raw outputs (row ids, tags, classes, per-method values); kept in the per-cell
            file only, not in results.json.
        fingerprint: Content hash of the cell's inputs (environment, limits, artifact, golden
            set, probe code); ``--resume`` reuses a result only when it matches.
        seconds: Wall time of the cell, build included (when it ran, also if reused now).
        reused: Where this run took the result from instead of running the cell: ``"cache"``
            (the result cache, same fingerprint), ``"resume"`` (this output directory's
            ``cells/``, ``--resume``); None when the cell ran in this run (the key is left
            out of the JSON then).
    """

    id: str
    backend: str
    python: str
    packages: Mapping[str, str]
    installed: Mapping[str, str]
    limits: Mapping[str, Any]
    verdict: Verdict
    flags: tuple[Flag, ...] = ()
    probes: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    comparison: Mapping[str, Any] | None = None
    error: ErrorInfo | None = None
    outputs: Mapping[str, Any] | None = None
    fingerprint: str = ""
    seconds: float = 0.0
    reused: str | None = None

    def with_comparison(
        self, verdict: Verdict, flags: tuple[Flag, ...], comparison: Mapping[str, Any] | None
    ) -> CellResult:
        """A copy with the verdict and comparison decided against the reference."""
        return replace(self, verdict=verdict, flags=flags, comparison=comparison)

    def kept(self) -> CellResult:
        """This result as a run of many cells holds it once its file is written: without the
        raw outputs (the file has them), probe records and comparison packed (packed.py)."""
        probes = pack(self.probes) or {}
        return replace(self, outputs=None, probes=probes, comparison=pack(self.comparison))

    def to_json(self, *, with_outputs: bool) -> dict[str, Any]:
        """JSON form; ``with_outputs`` adds the raw outputs (per-cell files only)."""
        doc: dict[str, Any] = {
            "id": self.id,
            "backend": self.backend,
            "python": self.python,
            "packages": dict(self.packages),
            "installed": dict(self.installed),
            "environment": dict(self.environment),
            "limits": dict(self.limits),
            "verdict": self.verdict.value,
            "flags": [flag.value for flag in self.flags],
            "probes": dict(self.probes),
            "comparison": dict(self.comparison) if self.comparison is not None else None,
            "error": self.error.to_json() if self.error else None,
            "fingerprint": self.fingerprint,
            "seconds": round(self.seconds, 3),
            # Only on reused cells: a run's file stays what it was before caching existed.
            **({"reused": self.reused} if self.reused else {}),
        }
        if with_outputs:
            doc["outputs"] = dict(self.outputs) if self.outputs is not None else None
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CellResult:
        """Parse the JSON form (raises ``KeyError``/``ValueError``/``TypeError`` when malformed)."""
        error = doc.get("error")
        return cls(
            id=str(doc["id"]),
            backend=str(doc["backend"]),
            python=str(doc["python"]),
            packages=dict(doc["packages"]),
            installed=dict(doc.get("installed") or {}),
            environment=dict(doc.get("environment") or {}),
            limits=dict(doc["limits"]),
            verdict=Verdict.parse(doc["verdict"]),
            flags=tuple(Flag.parse(f) for f in doc.get("flags") or ()),
            probes=dict(doc.get("probes") or {}),
            comparison=doc.get("comparison"),
            error=ErrorInfo(str(error["type"]), str(error["message"])) if error else None,
            outputs=doc.get("outputs"),
            fingerprint=str(doc.get("fingerprint", "")),
            seconds=float(doc.get("seconds", 0.0)),
            reused=str(doc["reused"]) if doc.get("reused") else None,
        )


@dataclass(frozen=True)
class RunResults:
    """A whole run: the matrix, the artifact, the reference cell and every cell's result.

    Attributes:
        matrix: ``{name, path, sha256}``.
        artifact: ``{path, format, sha256, globals}``.
        reference: Id of the reference cell.
        cells: Results in matrix order.
        compare: The ``[compare]`` policy used (tolerances, ratios, fail_on).
        inputs: What every cell shares (hashes of the matrix, artifact, golden set, runner
            code; see ``RunInputs.to_json``): ``driftmatrix merge`` checks it. Empty in files
            written before it existed; omitted from the JSON then.
    """

    matrix: Mapping[str, Any]
    artifact: Mapping[str, Any]
    reference: str
    cells: tuple[CellResult, ...]
    compare: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reference_result(self) -> CellResult | None:
        """The reference cell's result, if it ran."""
        return next((c for c in self.cells if c.id == self.reference), None)

    def to_json(self) -> dict[str, Any]:
        """The results.json document, built whole (:meth:`json_text` never builds it)."""
        return {**self._head(), "cells": [cell.to_json(with_outputs=False) for cell in self.cells]}

    def _head(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "matrix": dict(self.matrix),
            "artifact": dict(self.artifact),
            "reference": self.reference,
            "compare": dict(self.compare),
            **({"inputs": dict(self.inputs)} if self.inputs else {}),
        }

    def json_text(self) -> Iterator[str]:
        """The text of results.json (strict JSON, indented by 2) in pieces: joined, they are
        ``json.dumps(strict_json(self.to_json()), indent=2)``, but the document is never built
        whole, only one cell's part at a time (1,000 cells are 25 MB of text, several times
        that as objects)."""
        text = strict_dumps({**self._head(), "cells": []}, indent=2)
        if not self.cells:
            yield text
            return
        yield text[: -len("[]\n}")] + "[\n"  # the document ends with `"cells": []\n}`
        for index, cell in enumerate(self.cells):
            lines = strict_dumps(cell.to_json(with_outputs=False), indent=2)
            yield ("    " if index == 0 else ",\n    ") + lines.replace("\n", "\n    ")
        yield "\n  ]\n}"

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RunResults:
        """Parse a results.json document."""
        if doc.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {doc.get('schema_version')!r}, expected {SCHEMA_VERSION}"
            )
        return cls(
            matrix=dict(doc["matrix"]),
            artifact=dict(doc["artifact"]),
            reference=str(doc["reference"]),
            cells=tuple(CellResult.from_json(c) for c in doc["cells"]),
            compare=dict(doc.get("compare") or {}),
            inputs=dict(doc.get("inputs") or {}),
        )


def strict_json(value: Any) -> Any:
    """``value`` with non-finite floats replaced by ``"nan"``/``"inf"``/``"-inf"``.

    Every JSON file and report driftmatrix writes is strict JSON (``NaN`` is not), so readers in
    any language can parse it. Dicts and lists without such a float are returned as they are,
    not copied (results.json of 1,000 cells would otherwise be copied whole); other mappings
    and tuples become dicts and lists.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        items = [(k, v, strict_json(v)) for k, v in value.items()]
        same = isinstance(value, dict) and all(new is old for _, old, new in items)
        return value if same else {k: new for k, _, new in items}
    if isinstance(value, (list, tuple)):
        values = [strict_json(v) for v in value]
        same = isinstance(value, list) and all(map(operator.is_, values, value))
        return value if same else values
    return value


def strict_dumps(doc: Any, **options: Any) -> str:
    """``json.dumps(strict_json(doc), **options)``, without walking ``doc`` first when it holds
    no NaN or infinity (the encoder says so: it refuses them)."""
    try:
        return json.dumps(doc, allow_nan=False, **options)
    except ValueError:  # a non-finite float somewhere (or worse, which the retry raises again)
        return json.dumps(strict_json(doc), allow_nan=False, **options)


def write_json_atomic(
    path: Path, doc: Any, *, durable: bool = True, indent: int | None = 2
) -> None:
    """Write ``doc`` as JSON to ``path`` atomically: temp file, fsync, ``os.replace``.

    ``durable=False`` skips the fsync, for files whose loss in a crash costs only time (caches:
    a missing or empty entry is a miss). ``indent=None`` writes compact JSON with the C
    encoder, for files nobody reads by eye: indenting takes Python's encoder, five times as long
    on a document holding a cell's raw outputs.
    """
    if indent is None:
        _write_atomic(path, [strict_dumps(doc, separators=(",", ":"))], durable=durable)
        return
    encoder = json.JSONEncoder(indent=indent, allow_nan=False)
    _write_atomic(path, encoder.iterencode(strict_json(doc)), durable=durable)


def _write_atomic(path: Path, chunks: Iterable[str], *, durable: bool = True) -> None:
    """Write ``chunks`` and a newline to ``path`` atomically (see :func:`write_json_atomic`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; results are meant to be read by others (CI artifacts, reviewers).
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.write("\n")
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cell_path(out_dir: Path, cell_id: str) -> Path:
    """Where a cell's own result file lives."""
    return out_dir / "cells" / f"{cell_id}.json"


def write_cell(out_dir: Path, result: CellResult) -> Path:
    """Write one cell's result (with its outputs) atomically; returns the path.

    Compact JSON, from the C encoder: a cell file holds every golden row's outputs and is
    written twice per cell, and indenting it (Python's encoder) took five times as long.
    """
    path = cell_path(out_dir, result.id)
    doc = {"schema_version": SCHEMA_VERSION, **result.to_json(with_outputs=True)}
    _write_atomic(path, [strict_dumps(doc, separators=(",", ":"))])
    return path


def read_cell(path: Path) -> CellResult:
    """Read a cell file written by :func:`write_cell`."""
    with path.open(encoding="utf-8") as handle:
        return CellResult.from_json(json.load(handle))


def write_results(out_dir: Path, results: RunResults) -> Path:
    """Write ``results.json`` atomically, a cell at a time; returns the path."""
    path = out_dir / "results.json"
    _write_atomic(path, results.json_text())
    return path


def read_results(out_dir: Path) -> RunResults:
    """Read ``DIR/results.json``; its cells are kept packed (:meth:`CellResult.kept`)."""
    with (out_dir / "results.json").open(encoding="utf-8") as handle:
        results = RunResults.from_json(json.load(handle))
    return replace(results, cells=tuple(cell.kept() for cell in results.cells))
