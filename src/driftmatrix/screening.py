"""Screening the artifact before any cell opens it: scan it statically, decide whether to trust it.

Runs on the host, once per run, before any environment is built. Loading a pickle runs its
code, so a file that references a global outside ``trusted`` is ``rejected`` in every cell and
never opened by any of them; so is a file the scanner cannot decide about. The one way to run
such a file anyway is to trust its exact bytes by sha256, from the matrix
(``artifact.trusted_sha256``) or the command line (``--trust-sha256``), never from the file.

A skops file is screened the same way, from the types its ``schema.json`` names
(:mod:`driftmatrix.skops_scan`), with the skops baseline of plain containers; the types the
screening trusts (:attr:`Screening.trusted_types`) are exactly what the cell's skops loader may
construct beyond its own defaults, and skops' own audit there refuses anything else.

Static scanning is triage: the sandbox of the docker backend is the control.
Scans are cached by the file's sha256, the scanner and its version (a multi-GB joblib file is
decompressed and walked once, not once per run).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftmatrix.scan import SCANNER_VERSION, ScanResult, scan_file
from driftmatrix.skops_scan import SKOPS_SCANNER_VERSION, scan_skops_file
from driftmatrix.trust import BASELINE, SKOPS_BASELINE, untrusted

#: Formats the host scans. An ONNX file is not scanned: onnxruntime runs no code from it (the
#: cells register no custom-op library), and the one thing it could be made to do, read files
#: named as external tensor data, the cell refuses before onnxruntime opens the model
#: (probes/onnx_model.py).
SCANNED_FORMATS = ("joblib", "pickle", "skops")
#: Per format: the scanner's name in the cache (pickle and joblib files are read by the same
#: scanner, with the same result), its version, and the scan.
_SCANNERS: dict[str, tuple[str, int, Callable[[Path], ScanResult]]] = {
    "joblib": ("pickle", SCANNER_VERSION, scan_file),
    "pickle": ("pickle", SCANNER_VERSION, scan_file),
    "skops": ("skops", SKOPS_SCANNER_VERSION, scan_skops_file),
}


@dataclass(frozen=True)
class Screening:
    """What the scan found and what was decided.

    Attributes:
        scanned: False for formats the host does not scan (see :data:`SCANNED_FORMATS`).
        globals: Every global the file references, ``module:qualname``.
        untrusted: The globals outside ``trusted`` (or on the deny list).
        complete: The scan reached the end of the data.
        decidable: False when the scanner cannot know what a loader would run.
        problem: One line: why the scan stopped early or could not decide ("" when neither).
        trusted_by_hash: The file's sha256 was trusted explicitly.
    """

    scanned: bool
    globals: tuple[str, ...] = ()
    untrusted: tuple[str, ...] = ()
    complete: bool = True
    decidable: bool = True
    problem: str = ""
    trusted_by_hash: bool = False

    @property
    def rejection(self) -> tuple[str, ...]:
        """Why no cell may open the file (names, or the scan's problem); empty when it may."""
        if self.trusted_by_hash or not self.scanned:
            return ()
        if not self.decidable:
            return (f"<unscannable: {self.problem or 'unknown reason'}>",)
        return self.untrusted

    @property
    def trusted_types(self) -> tuple[str, ...]:
        """The found types the cell's skops loader may trust, ``module.qualname``, sorted.

        All of them when the file is trusted by hash, else those not ``untrusted``; skops names
        a type by its module and name joined with a dot.
        """
        refused = () if self.trusted_by_hash else self.untrusted
        # By the dotted name: were a trusted and a refused name to join the same way, neither.
        return tuple(sorted(_dotted(self.globals) - _dotted(refused)))

    def to_json(self) -> dict[str, Any]:
        """The ``artifact.scan`` object of results.json."""
        return {
            "scanned": self.scanned,
            "complete": self.complete,
            "decidable": self.decidable,
            "problem": self.problem,
            "untrusted": list(self.untrusted),
            "trusted_by_hash": self.trusted_by_hash,
            "rejected": bool(self.rejection),
        }


#: The screening of a run whose artifact is not scanned (train mode, or not yet screened).
NOT_SCANNED = Screening(scanned=False)


def screen(
    path: Path,
    fmt: str,
    sha256: str,
    trusted: Sequence[str],
    trusted_sha256: Sequence[str],
    cache_dir: Path,
) -> Screening:
    """Scan ``path`` (a ``fmt`` artifact whose bytes hash to ``sha256``) and decide.

    Args:
        path: The artifact.
        fmt: Its format.
        sha256: Its sha256, computed by the caller from the same bytes.
        trusted: Global patterns from the matrix (``artifact.trusted``).
        trusted_sha256: File hashes trusted whatever they reference.
        cache_dir: driftmatrix's cache; scans are kept under ``scans/``.
    """
    if fmt not in SCANNED_FORMATS:
        return NOT_SCANNED
    result = _cached_scan(path, sha256, cache_dir, *_SCANNERS[fmt])
    decidable, problem = result.decidable, result.problem
    if fmt == "pickle" and result.container == "joblib":
        # pickle.load would run a joblib file's raw array bytes as opcodes: what that executes
        # is not what the scan of the joblib reading found (see driftmatrix.scan).
        decidable = False
        problem = 'a joblib file loaded as a plain pickle; set format = "joblib"'
    return Screening(
        scanned=True,
        globals=result.globals,
        untrusted=untrusted(
            result.globals, trusted, SKOPS_BASELINE if fmt == "skops" else BASELINE
        ),
        complete=result.complete,
        decidable=decidable,
        problem=problem,
        trusted_by_hash=sha256.lower() in {h.lower() for h in trusted_sha256},
    )


def _dotted(names: Sequence[str]) -> set[str]:
    return {name.replace(":", ".", 1) for name in names}


def _cached_scan(
    path: Path,
    sha256: str,
    cache_dir: Path,
    scanner: str,
    version: int,
    scan: Callable[[Path], ScanResult],
) -> ScanResult:
    # The scanner is part of the name: the same bytes screened as a pickle and as a skops
    # file give different results.
    entry = cache_dir / "scans" / f"{sha256}-{scanner}-v{version}.json"
    try:
        doc = json.loads(entry.read_text(encoding="utf-8"))
        return ScanResult(**{**doc, "globals": tuple(str(name) for name in doc["globals"])})
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not cached yet, or a damaged entry: scan again
    result = scan(path)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        temporary = entry.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(dataclasses.asdict(result)), encoding="utf-8")
        os.replace(temporary, entry)
    except OSError:
        pass  # a read-only cache costs a rescan next time, nothing else
    return result
