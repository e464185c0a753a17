"""Make the corrupted variants of the demo model in this directory (deterministic).

Run from the repository root: ``python tests/data/artifacts/corrupt/make.py``. The outputs are
committed; tests read them and never run this. Nothing here unpickles anything: every variant
is made by cutting, flipping or replacing bytes. ``expected.json`` says what each must end as
(tests/integration/test_corrupt_artifacts.py): ``load-error``, or ``rejected`` where the damage
turns a global's name into one outside ``trusted`` (or into no valid name at all).
"""

from __future__ import annotations

import gzip
import io
import json
import random
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
MODEL = (ROOT / "artifacts" / "demo" / "model.joblib").read_bytes()
GOLDEN = (ROOT / "artifacts" / "demo" / "golden.csv").read_bytes()


def flip(data: bytes, offset: int, bit: int = 0) -> bytes:
    return data[:offset] + bytes([data[offset] ^ (1 << bit)]) + data[offset + 1 :]


def npy() -> bytes:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }"
    header += " " * (64 - 10 - len(header) - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(32)


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("golden.csv", GOLDEN)
    return buffer.getvalue()


VARIANTS: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "load-error"),
    "one-byte": (MODEL[:1], "load-error"),
    "header-only": (MODEL[:11], "load-error"),
    "cut-in-a-class-name": (MODEL[:30], "load-error"),
    "cut-after-300-bytes": (MODEL[:300], "load-error"),
    "cut-at-1000": (MODEL[:1000], "load-error"),
    "cut-at-5000": (MODEL[:5000], "load-error"),
    "cut-in-half": (MODEL[: len(MODEL) // 2], "load-error"),
    "cut-last-byte": (MODEL[:-1], "load-error"),
    "protocol-99": (b"\x80\x63" + MODEL[2:], "load-error"),
    "frame-length-huge": (MODEL[:3] + b"\xff" * 8 + MODEL[11:], "load-error"),
    "stop-only": (b".", "load-error"),
    "stop-replaced": (MODEL[:-1] + b"\x00", "load-error"),
    "opcode-flipped-to-invalid": (MODEL[:11] + b"\xff" + MODEL[12:], "load-error"),
    "module-name-flipped": (flip(MODEL, 0x13, 0), "rejected"),  # "sklearn" -> "sklgarn"
    # Not valid Python names any more ("sklearn.ensemble,_forest", "Extr`TreesClassifier"):
    # no pattern trusts a name that cannot be a real module or attribute.
    "submodule-name-flipped": (flip(MODEL, 0x1D, 1), "rejected"),
    "class-name-flipped": (flip(MODEL, 0x2C, 0), "rejected"),
    "zeros": (bytes(len(MODEL)), "load-error"),
    "random-bytes": (random.Random(7).randbytes(len(MODEL)), "load-error"),
    "text-file": (b"this is not a model\n", "load-error"),
    "csv-renamed": (GOLDEN, "load-error"),
    "json-renamed": (json.dumps({"model": "ExtraTrees"}).encode(), "load-error"),
    "zip-archive": (zipped(), "load-error"),
    "npy-renamed": (npy(), "load-error"),
    "gzip-cut": (gzip.compress(MODEL, mtime=0)[:2000], "load-error"),
    "zlib-garbage": (b"\x78\x9c" + random.Random(8).randbytes(500), "load-error"),
    "zlib-of-text": (zlib.compress(b"hello, not a pickle"), "load-error"),
    "gzip-of-csv": (gzip.compress(GOLDEN, mtime=0), "load-error"),
}


def main() -> None:
    expected = {}
    for name, (data, verdict) in VARIANTS.items():
        (HERE / f"{name}.joblib").write_bytes(data)
        expected[f"{name}.joblib"] = verdict
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()
