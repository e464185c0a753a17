"""The host's side of the runner protocol (docs/runner-protocol.md).

Finds the in-cell runner's code, stages a content-addressed copy of it for cells to start,
builds job documents and reads result files back. A result file is written by code running in
the cell — the artifact's code, in the worst case — so it is read as untrusted input: never
through a symlink, never more than a fixed number of bytes, and checked before use.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import driftmatrix

PROTOCOL = 1
RESULT_NAME = "result.json"
#: A result of a golden set with tens of thousands of rows stays far below this; a runner that
#: writes more is broken or hostile, and the host must not read it into memory.
MAX_RESULT_BYTES = 64 * 1024 * 1024
#: Parsed JSON costs far more memory than its text when it is mostly empty containers ("[]," is
#: three bytes, a list is 56); a real result has about one list per golden row.
MAX_RESULT_CONTAINERS = 4_000_000

#: Distribution name → import name, where they differ (the imports probe needs import names).
_IMPORT_NAMES = {
    "scikit-learn": "sklearn",
    "scikit-image": "skimage",
    "pyyaml": "yaml",
    "pillow": "PIL",
    "python-dateutil": "dateutil",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "protobuf": "google.protobuf",
    "onnxruntime-gpu": "onnxruntime",
}

# contract last: a bad-input case may kill the process, and what runs after it would be lost.
PROBES = (
    "environment", "imports", "load", "predict", "roundtrip", "steps", "coverage", "latency",
    "parity", "contract",
)  # fmt: skip


def source_dir() -> Path:
    """The directory that contains the ``probes`` package.

    In an installed wheel it is ``driftmatrix/_cell`` (pyproject's force-include); in a source
    checkout it is the repository root.
    """
    installed = Path(driftmatrix.__file__).parent / "_cell"
    if (installed / "probes" / "__main__.py").is_file():
        return installed
    checkout = Path(driftmatrix.__file__).resolve().parents[2]
    if (checkout / "probes" / "__main__.py").is_file():
        return checkout
    raise FileNotFoundError("the in-cell runner (probes/) is missing from this installation")


def _runner_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "probes").rglob("*.py") if "__pycache__" not in p.parts)


def code_hash(root: Path | None = None) -> str:
    """Content hash of the runner's code: part of every cell's fingerprint."""
    root = root or source_dir()
    digest = hashlib.sha256()
    for path in _runner_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def stage(cache_dir: Path) -> tuple[Path, str]:
    """Copy the runner to ``cache_dir/runner/<hash>/probes`` (once) and return (dir, hash).

    Why a copy: the cell's working directory must contain ``probes`` and nothing else of ours —
    never ``driftmatrix`` itself — and Docker mounts it read-only.
    """
    root = source_dir()
    digest = code_hash(root)
    target = cache_dir / "runner" / digest[:16]
    if not (target / "probes" / "__main__.py").is_file():
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for path in _runner_files(root):
            dest = tmp / path.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        try:
            tmp.rename(target)
        except OSError:
            # Another process staged the same content first; theirs is identical.
            shutil.rmtree(tmp, ignore_errors=True)
    return target, digest


def import_name(distribution: str) -> str:
    """The module to import to check that ``distribution`` works."""
    return _IMPORT_NAMES.get(distribution, distribution.replace("-", "_"))


def build_job(
    *,
    cell_id: str,
    artifact: Path | None,
    artifact_format: str,
    golden: Path,
    target: str | None,
    packages: Mapping[str, str],
    work: Path,
    probes: tuple[str, ...] = PROBES,
    trusted_types: tuple[str, ...] = (),
    recipe: str | None = None,
    imported: Collection[str] | None = None,
) -> dict[str, Any]:
    """The job document for one cell (host paths; the backend rewrites them).

    ``trusted_types``: for skops, the type names the screening trusted; the cell's skops loader
    gets exactly these (beyond its own defaults). ``recipe`` (``/abs/recipe.py:function``): train
    mode; the model then comes from the ``train`` probe instead of ``load``, and the recipe's
    directory is an input (it may read files beside itself). ``imported``: the pinned
    distributions the imports probe checks (None: every pin).
    """
    files = {"golden": str(golden)}
    if artifact is not None:
        files["artifact"] = str(artifact)
    job: dict[str, Any] = {
        "protocol": PROTOCOL,
        "cell": cell_id,
        "files": files,
        "work": str(work),
        "artifact": {"format": artifact_format, "trusted_types": list(trusted_types)},
        "golden": {"target": target, "id_column": "row_id", "tag_column": "tag"},
        "imports": {
            name: import_name(name)
            for name in packages
            if imported is None or name in imported
        },
        "probes": list(probes),
    }
    if recipe is not None:
        path, _, function = recipe.rpartition(":")
        files["recipe_dir"] = str(Path(path).parent)
        job["recipe"] = {"file": Path(path).name, "function": function}
        job["probes"] = ["train" if name == "load" else name for name in probes]
    return job


class ResultUnreadable(Exception):
    """The cell left no usable result file; the message says why."""


def read_result(work: Path) -> dict[str, Any]:
    """Read and check the runner's ``result.json`` from a cell's work directory.

    Raises:
        ResultUnreadable: missing, a symlink, too large, not JSON (or nested past Python's
            recursion limit), or not a protocol-1 result.
    """
    path = work / RESULT_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ResultUnreadable("the runner wrote no result file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ResultUnreadable("the result file is a symlink; refused") from None
        raise ResultUnreadable(f"the result file cannot be opened: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_RESULT_BYTES + 1)
    if len(data) > MAX_RESULT_BYTES:
        raise ResultUnreadable(f"the result file is larger than {MAX_RESULT_BYTES} bytes")
    if data.count(b"[") + data.count(b"{") > MAX_RESULT_CONTAINERS:
        raise ResultUnreadable(
            f"the result file has more than {MAX_RESULT_CONTAINERS} arrays/objects"
        )
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResultUnreadable(f"the result file is not JSON: {exc}") from None
    except RecursionError:
        raise ResultUnreadable("the result file nests too deeply to read") from None
    _check_result(doc)
    return doc  # type: ignore[no-any-return]


def _check_result(doc: Any) -> None:
    """The shape checks the host relies on; anything else is read defensively where used."""
    if not isinstance(doc, dict):
        raise ResultUnreadable("the result file is not a JSON object")
    if doc.get("protocol") != PROTOCOL:
        raise ResultUnreadable(f"result protocol {doc.get('protocol')!r}, expected {PROTOCOL}")
    probes = doc.get("probes")
    if not isinstance(probes, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("status"), str) for v in probes.values()
    ):
        raise ResultUnreadable("the result file has no valid 'probes' record")
    for key, kind in (("installed", dict), ("outputs", dict)):
        if doc.get(key) is not None and not isinstance(doc[key], kind):
            raise ResultUnreadable(f"the result file's {key!r} is not an object")
    error = doc.get("error")
    if error is not None and not isinstance(error, dict):
        raise ResultUnreadable("the result file's 'error' is not an object")
