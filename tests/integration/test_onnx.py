"""Real ONNX verdicts through the CLI: skl2onnx exports run by onnxruntime 1.8 (2021) to 1.32.

The expected results are facts measured outside driftmatrix (each export loaded and run in a
plain uv environment per onnxruntime release, one intra-op thread, outputs hashed; the parity
numbers from scikit-learn and the converted model side by side): a mismatch is a bug in
driftmatrix or in the fixtures, never a reason to edit the table. Fixtures: tests/data/onnx
(rebuilt by its build.py); the matrix files there hold the cells, this file the results.

Environments are cached in ``~/.cache/driftmatrix-tests/onnx`` (first run: about a minute with
a warm uv cache; then seconds per matrix).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from driftmatrix.cli import main
from driftmatrix.spec import load_matrix

ONNX = Path(__file__).resolve().parents[1] / "data" / "onnx"
MATRICES = ONNX / "matrices"
PRODUCER = next(ONNX.glob("py*/manifest.json")).parent

ORT181 = "py3.8-onnxruntime1.8.1-numpy1.24.4"
ORT1100 = "py3.8-onnxruntime1.10.0-numpy1.24.4"
ORT1121 = "py3.10-onnxruntime1.12.1-numpy1.26.4"
ORT1173 = "py3.10-onnxruntime1.17.3-numpy1.26.4"
ORT1181 = "py3.10-onnxruntime1.18.1-numpy1.26.4"
ORT1232 = "py3.12-onnxruntime1.23.2-numpy2.2.6"
ORT1320 = "py3.13-onnxruntime1.32.0-numpy2.2.6"

#: How each refusal of the default export reads: the model's facts, then onnxruntime's reason.
REFUSED = "refused the model (IR 10, opsets ai.onnx 9, ai.onnx.ml 1): "
#: One float32 ulp of a probability in [0.5, 1): two intra-op threads sum the trees in another
#: order (measured on 129 of 400 rows, every onnxruntime release from 1.10 to 1.23).
ULP = 5.960464477539063e-08


@dataclass(frozen=True)
class Expected:
    """What one cell measurably does.

    Attributes:
        verdict: The verdict.
        error: ``(exception type, fragment of its message)`` for a failed cell.
        ir_version: The IR version the load probe read from the file.
        max_abs: The largest probability difference from the reference.
        changed_rows: Golden rows whose probabilities differ from the reference, bit for bit.
    """

    verdict: str
    error: tuple[str, str] | None = None
    ir_version: int | None = None
    max_abs: float = 0.0
    changed_rows: int = 0


def identical(ir: int) -> Expected:
    """A cell that reproduces the reference bit for bit."""
    return Expected("identical", ir_version=ir)


def refused(runtime: str, reason: str) -> Expected:
    """The default export refused by an older onnxruntime."""
    return Expected("load-error", ("Fail", f"onnxruntime {runtime} {REFUSED}{reason}"), 10)


#: Matrix file stem → (exit code, cell id → expected); the reference is listed first.
EXPECTED: dict[str, tuple[int, dict[str, Expected]]] = {
    # skl2onnx's default export (IR 10): onnxruntime before 1.18 cannot open it.
    "lr-default-export": (1, {
        ORT1232: identical(10),
        # 1.8 does not name the IR version itself: the message does, from the file.
        ORT181: refused("1.8.1", "Unknown model file format version."),
        ORT1100: refused("1.10.0", "Unsupported model IR version: 10, max supported IR version: 8"),
        ORT1121: refused("1.12.1", "Unsupported model IR version: 10, max supported IR version: 8"),
        ORT1173: refused("1.17.3", "Unsupported model IR version: 10, max supported IR version: 9"),
        ORT1181: identical(10),
        ORT1320: identical(10),
    }),
    # The same model with target_opset=13 (IR 7) runs everywhere, bit for bit.
    "lr-opset13": (0, {
        ORT1232: identical(7), ORT181: identical(7), ORT1100: identical(7), ORT1121: identical(7),
        ORT1173: identical(7), ORT1181: identical(7), ORT1320: identical(7),
    }),
    # float32 probabilities one ulp apart: equivalent, not drift (atol = 1e-9 in the matrix).
    "rf-opset13-threads": (0, {
        f"{ORT1232}-cpu1": identical(7),
        f"{ORT1100}-cpu1": identical(7),
        f"{ORT1232}-cpu2": Expected("equivalent", ir_version=7, max_abs=ULP, changed_rows=129),
        f"{ORT1100}-cpu2": Expected("equivalent", ir_version=7, max_abs=ULP, changed_rows=129),
    }),
}  # fmt: skip

PARITY_REFERENCE = "py3.12-scikit-learn1.7.2-numpy2.2.6-skl2onnx1.20.0-onnxruntime1.23.2"
PARITY_OLD_RUNTIME = "py3.10-scikit-learn1.7.2-numpy1.26.4-skl2onnx1.20.0-onnxruntime1.17.3"


@pytest.fixture(scope="session")
def env_cache() -> Path:
    """The environments' cache, kept between runs so each environment is built once."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    cache = Path(base) / "driftmatrix-tests" / "onnx"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def run_matrix(stem: str, out: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run one matrix through the CLI with two jobs; return the exit code."""
    monkeypatch.setenv("DRIFTMATRIX_CACHE", str(cache))
    return main(["run", str(MATRICES / f"{stem}.toml"), "--out", str(out), "--jobs", "2"])


def digest(values: Any) -> str:
    """sha256 of values as the runner writes them."""
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def changed_rows(reference: list[Any], cell: list[Any]) -> int:
    """Rows whose values differ bit for bit."""
    return sum(
        1
        for a, b in zip(reference, cell, strict=True)
        if [float(x).hex() for x in a] != [float(y).hex() for y in b]
    )


def test_fixtures_match_their_manifest() -> None:
    """The committed files are the ones the producer wrote (sha256), nothing more or less."""
    manifest = json.loads((PRODUCER / "manifest.json").read_text())
    assert {p.name for p in PRODUCER.iterdir() if p.name != "manifest.json"} == set(
        manifest["files"]
    )
    for name, sha in manifest["files"].items():
        assert hashlib.sha256((PRODUCER / name).read_bytes()).hexdigest() == sha, name
    assert manifest["producer"]["cell"] == PRODUCER.name


def test_matrices_hold_the_cells_of_the_table() -> None:
    """Every matrix expands to exactly the table's cells, the first one the reference."""
    assert sorted(p.stem for p in MATRICES.glob("*.toml")) == sorted([*EXPECTED, "lr-parity"])
    for stem, (_, cells) in EXPECTED.items():
        spec = load_matrix(MATRICES / f"{stem}.toml")
        assert [cell.id for cell in spec.cells] == list(cells)
        assert spec.reference == next(iter(cells))
        assert spec.artifact.format == "onnx"


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_onnx_verdicts_match_the_measured_behaviour(
    stem: str, env_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run one matrix and check every cell against the measured facts."""
    exit_code, expected = EXPECTED[stem]
    out = tmp_path / stem
    code = run_matrix(stem, out, env_cache, monkeypatch)
    results = json.loads((out / "results.json").read_text())
    got = {cell["id"]: cell for cell in results["cells"]}
    assert {k: c["verdict"] for k, c in got.items()} == {
        k: e.verdict for k, e in expected.items()
    }, {k: c["error"] for k, c in got.items()}
    assert code == exit_code
    reference = next(iter(expected))
    raw = {k: json.loads((out / "cells" / f"{k}.json").read_text()) for k in got}
    for cell_id, want in expected.items():
        cell, where = got[cell_id], f"{stem}: {cell_id}"
        for name, version in cell["packages"].items():
            assert cell["installed"][name] == version, where
        load = cell["probes"]["load"]
        assert load["onnx"]["ir_version"] == want.ir_version, where
        if want.error is not None:
            assert cell["error"]["type"] == want.error[0], where
            assert want.error[1] in cell["error"]["message"], (where, cell["error"])
            assert cell["comparison"] is None, where
            continue
        assert load["onnx"]["providers"] == ["CPUExecutionProvider"], where
        assert cell["error"] is None, where
        comparison = cell["comparison"]
        assert comparison["labels"]["flipped"] == 0, where
        proba = comparison["scores"]["methods"]["predict_proba"]
        assert proba["max_abs"] == want.max_abs, where
        assert proba["beyond"] == 0, where
        # float32 outputs: the tolerance applied is four float32 ulps of 1.0, not the matrix's.
        assert proba["atol"] == proba["rtol"] == 4 * 2.0**-23, where
        ref_proba = raw[reference]["outputs"]["methods"]["predict_proba"]
        cell_proba = raw[cell_id]["outputs"]["methods"]["predict_proba"]
        assert changed_rows(ref_proba, cell_proba) == want.changed_rows, where
        if want.verdict == "equivalent":
            assert want.max_abs > results["compare"]["scores"]["atol"], where  # drift unwidened

    # The reference reproduces the producer's onnxruntime outputs bit for bit.
    artifact = Path(results["artifact"]["path"]).name
    produced = json.loads((PRODUCER / "manifest.json").read_text())["models"][artifact]
    methods = raw[reference]["outputs"]["methods"]
    assert {m: digest(v) for m, v in methods.items()} == produced["outputs_sha256"]


@pytest.mark.slow
def test_parity_in_the_cells_that_have_skl2onnx(
    env_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The converted model matches scikit-learn in 1.23; 1.17 cannot open skl2onnx's IR 10."""
    code = run_matrix("lr-parity", tmp_path / "parity", env_cache, monkeypatch)
    results = json.loads((tmp_path / "parity" / "results.json").read_text())
    got = {cell["id"]: cell for cell in results["cells"]}
    assert {k: c["verdict"] for k, c in got.items()} == {
        PARITY_REFERENCE: "identical",
        PARITY_OLD_RUNTIME: "identical",  # parity is a measurement: it never sets the verdict
    }
    assert code == 0
    parity = got[PARITY_REFERENCE]["probes"]["parity"]
    assert parity["status"] == "ok"
    assert parity["methods"]["predict"]["flipped"] == 0
    assert parity["methods"]["predict_proba"]["max_abs"] == 1.8311841898377423e-07
    assert parity["differs"] == []
    old = got[PARITY_OLD_RUNTIME]["probes"]["parity"]
    assert old["status"] == "failed" and old["converted"] is True
    assert old["error"]["type"] == "InvalidArgument"
    assert old["error"]["message"].startswith(f"onnxruntime 1.17.3 {REFUSED}")
    assert "max supported IR version: 9" in old["error"]["message"]
    for cell in got.values():
        assert "parity-differs" not in cell["flags"]
