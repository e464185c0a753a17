"""Real cross-version verdicts: models pickled with scikit-learn 1.2.2, 1.3.2 and 1.5.2 (and
one saved with skops 0.9.0), probed through the CLI in the releases after them (scikit-learn
1.2-1.9, numpy 1.26/2.x, skops 0.6-0.16, Python 3.10-3.13), every cell a real uv environment.

The expected verdicts are facts measured outside driftmatrix (the same artifacts loaded and
predicted in plain environments, outputs compared bit for bit): a mismatch is a bug in
driftmatrix or in the fixtures, never a reason to edit the table. The fixtures (artifacts,
golden sets, manifests) are in ``tests/data/versions``, rebuilt by its ``build.py``; the matrix
files there hold the cells, this file the verdicts.

Environments are cached across runs in ``~/.cache/driftmatrix-tests/versions`` (first run: a
minute or two with a warm uv cache; then seconds per matrix).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from driftmatrix.cli import main
from driftmatrix.spec import load_matrix

VERSIONS = Path(__file__).resolve().parents[1] / "data" / "versions"
MATRICES = VERSIONS / "matrices"
PRODUCERS = sorted(path.parent.name for path in VERSIONS.glob("*/manifest.json"))

# Cell ids (py<python>-scikit-learn<version>-numpy<version>), named by what they pin.
SK102 = "py3.10-scikit-learn1.0.2-numpy1.26.4"
SK122 = "py3.10-scikit-learn1.2.2-numpy1.26.4"
SK122_NP2 = "py3.10-scikit-learn1.2.2-numpy2.2.6"
SK132 = "py3.10-scikit-learn1.3.2-numpy1.26.4"
SK142 = "py3.10-scikit-learn1.4.2-numpy1.26.4"
SK152 = "py3.10-scikit-learn1.5.2-numpy1.26.4"
SK152_PY312_NP2 = "py3.12-scikit-learn1.5.2-numpy2.5.5"
SK161 = "py3.10-scikit-learn1.6.1-numpy1.26.4"
SK172_NP2 = "py3.10-scikit-learn1.7.2-numpy2.2.6"
SK180_PY311_NP2 = "py3.11-scikit-learn1.8.0-numpy2.4.6"
SK191_PY313_NP2 = "py3.13-scikit-learn1.9.1-numpy2.5.5"
# ... and, for the skops artifact, the skops release each cell loads it with.
SK132_SKOPS090 = "py3.10-scikit-learn1.3.2-numpy1.26.4-skops0.9.0"
SK132_SKOPS0160 = "py3.10-scikit-learn1.3.2-numpy1.26.4-skops0.16.0"
SK132_SKOPS060 = "py3.10-scikit-learn1.3.2-numpy1.26.4-skops0.6.0"
SK142_SKOPS090 = "py3.10-scikit-learn1.4.2-numpy1.26.4-skops0.9.0"
SK152_SKOPS0100 = "py3.10-scikit-learn1.5.2-numpy1.26.4-skops0.10.0"
SK161_SKOPS0110 = "py3.10-scikit-learn1.6.1-numpy1.26.4-skops0.11.0"
SK172_NP2_SKOPS0130 = "py3.10-scikit-learn1.7.2-numpy2.2.6-skops0.13.0"
SK191_PY313_NP2_SKOPS0160 = "py3.13-scikit-learn1.9.1-numpy2.5.5-skops0.16.0"

#: The tree node dtype changed in 1.3: older tree pickles no longer load.
DTYPE_ERROR = ("ValueError", "node array from the pickle has an incompatible dtype")
#: Trees pickled by 1.3 lack the attribute 1.4 added; 1.6-1.8 need it to predict.
MONOTONIC_ERROR = ("AttributeError", "object has no attribute 'monotonic_cst'")
#: scikit-learn<1.3 is compiled against numpy 1.x; numpy 2 changed the ABI.
ABI_ERROR = ("ValueError", "numpy.dtype size changed")


@dataclass(frozen=True)
class Expected:
    """What one cell measurably does.

    Attributes:
        verdict: The verdict.
        version_warning: Loading emits scikit-learn's version warning (the flag is asserted
            present when True and absent when False).
        error: ``(exception type, fragment of its message)`` for a failed cell.
        flipped: Labels of ``predict`` that differ from the reference (out of 1100 rows).
        max_abs: The largest difference of a score (``predict_proba``/``decision_function``).
        changed_rows: Golden rows where any output differs from the reference, bit for bit.
        changed_tags: The tags of those rows.
        untrusted_types: skops only: the types the cell's skops audit lists as not trusted by
            default (the load probe's ``untrusted_types``); each release has its own defaults.
    """

    verdict: str
    version_warning: bool = False
    error: tuple[str, str] | None = None
    flipped: int | None = None
    max_abs: float | None = None
    changed_rows: int | None = None
    changed_tags: frozenset[str] | None = None
    untrusted_types: tuple[str, ...] | None = None


IDENTICAL = Expected("identical", flipped=0, max_abs=0.0, changed_rows=0)
BOTH = frozenset({"holdout", "gaussian"})

#: Matrix file stem → (exit code, cell id → expected). The reference is the producer's own
#: environment, listed first.
EXPECTED: dict[str, tuple[int, dict[str, Expected]]] = {
    "dt-from-1.2.2": (1, {
        SK122: IDENTICAL,
        SK132: Expected("load-error", error=DTYPE_ERROR),
        # Backwards across two releases the tree still loads (with a UserWarning naming both
        # versions, which 1.0 raises instead of InconsistentVersionWarning) and predicts the same.
        SK102: Expected("identical", version_warning=True, flipped=0, max_abs=0.0, changed_rows=0),
    }),
    "et10-from-1.3.2": (1, {
        SK132: IDENTICAL,
        # Loads with only a version warning, then predicts other labels: the silent failure.
        SK142: Expected(
            "drift", version_warning=True, flipped=150, max_abs=19.8, changed_rows=1100,
            changed_tags=BOTH,
        ),
        SK172_NP2: Expected("predict-error", version_warning=True, error=MONOTONIC_ERROR),
        SK191_PY313_NP2: Expected(
            "drift", version_warning=True, flipped=150, max_abs=19.8, changed_rows=1100,
            changed_tags=BOTH,
        ),
    }),
    # The same trees saved with skops (file protocol 1): every cell's skops reads it, 0.6 to 0.16
    # (0.10 and later write protocol 2), and scikit-learn then behaves as with the joblib file.
    "et10-skops-from-1.3.2": (1, {
        SK132_SKOPS090: replace(IDENTICAL, untrusted_types=()),
        SK142_SKOPS090: Expected(
            "drift", version_warning=True, flipped=150, max_abs=19.8, changed_rows=1100,
            changed_tags=BOTH, untrusted_types=(),
        ),
        SK152_SKOPS0100: Expected(
            "drift", version_warning=True, flipped=150, max_abs=19.8, changed_rows=1100,
            changed_tags=BOTH, untrusted_types=(),
        ),
        SK161_SKOPS0110: Expected(
            "predict-error", version_warning=True, error=MONOTONIC_ERROR, untrusted_types=(),
        ),
        SK172_NP2_SKOPS0130: Expected(
            "predict-error", version_warning=True, error=MONOTONIC_ERROR, untrusted_types=(),
        ),
        # skops 0.16 no longer trusts the tree state by default: it loads because the default
        # trusted patterns (sklearn.*) let the host hand that name to the cell's loader.
        SK191_PY313_NP2_SKOPS0160: Expected(
            "drift", version_warning=True, flipped=150, max_abs=19.8, changed_rows=1100,
            changed_tags=BOTH, untrusted_types=("sklearn.tree._tree.Tree",),
        ),
        SK132_SKOPS0160: replace(IDENTICAL, untrusted_types=("sklearn.tree._tree.Tree",)),
        SK132_SKOPS060: replace(IDENTICAL, untrusted_types=("numpy.int64",)),
    }),
    "lr-liblinear-from-1.2.2": (1, {
        SK122: IDENTICAL,
        SK122_NP2: Expected("import-error", error=ABI_ERROR),
        SK172_NP2: Expected("identical", version_warning=True, flipped=0, max_abs=0.0,
                            changed_rows=0),
        # Same labels and decision_function; predict_proba of every row changes.
        SK180_PY311_NP2: Expected(
            "drift", version_warning=True, flipped=0, max_abs=0.4977346468271777,
            changed_rows=1100, changed_tags=BOTH,
        ),
    }),
    "qda-from-1.5.2": (0, {
        SK152: IDENTICAL,
        # predict_proba moves by at most 1.1e-16 on 91 of the 100 held-out rows only.
        SK161: Expected(
            "equivalent", version_warning=True, flipped=0, max_abs=1.1102230246251565e-16,
            changed_rows=91, changed_tags=frozenset({"holdout"}),
        ),
        SK172_NP2: Expected(
            "equivalent", version_warning=True, flipped=0, max_abs=1.1102230246251565e-16,
            changed_rows=91, changed_tags=frozenset({"holdout"}),
        ),
        # Same release, other Python and numpy 2: not one bit changes.
        SK152_PY312_NP2: IDENTICAL,
    }),
}  # fmt: skip

RAN = ("identical", "equivalent", "drift")


@pytest.fixture(scope="session")
def env_cache() -> Path:
    """The environments' cache, kept between runs so each environment is built once."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    cache = Path(base) / "driftmatrix-tests" / "versions"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bits(value: Any) -> Any:
    """``value`` with every float replaced by its hex form: equal means bit-identical."""
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, list):
        return [bits(item) for item in value]
    return (type(value).__name__, value)


def changed_rows(reference: dict[str, Any], cell: dict[str, Any]) -> set[int]:
    """Indices of golden rows where any method's output differs bit for bit (raw outputs)."""
    ref_methods, cell_methods = reference["methods"], cell["methods"]
    assert set(ref_methods) == set(cell_methods)
    return {
        row
        for method in ref_methods
        for row, (a, b) in enumerate(zip(ref_methods[method], cell_methods[method], strict=True))
        if bits(a) != bits(b)
    }


def test_matrices_hold_the_cells_of_the_table() -> None:
    """Every matrix expands to exactly the table's cells, with the producer as reference."""
    assert sorted(path.stem for path in MATRICES.glob("*.toml")) == sorted(EXPECTED)
    for stem, (_, cells) in EXPECTED.items():
        spec = load_matrix(MATRICES / f"{stem}.toml")
        assert [cell.id for cell in spec.cells] == list(cells)
        assert spec.artifact.path is not None
        manifest = json.loads((spec.artifact.path.parent / "manifest.json").read_text())
        assert spec.reference == manifest["producer"]["cell"] == next(iter(cells))


@pytest.mark.parametrize("producer", PRODUCERS)
def test_fixtures_match_their_manifest(producer: str) -> None:
    """The committed files are the ones the producer wrote (sha256), nothing more or less."""
    directory = VERSIONS / producer
    manifest = json.loads((directory / "manifest.json").read_text())
    on_disk = {p.name for p in directory.iterdir() if p.name != "manifest.json"}
    assert on_disk == set(manifest["files"])
    for name, digest in manifest["files"].items():
        assert sha256_file(directory / name) == digest, name
    assert manifest["producer"]["cell"] == producer


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_verdicts_match_the_measured_behaviour(
    stem: str, env_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run one matrix through the CLI and check every cell against the measured facts."""
    exit_code, expected = EXPECTED[stem]
    monkeypatch.setenv("DRIFTMATRIX_CACHE", str(env_cache))
    out = tmp_path / stem
    code = main(["run", str(MATRICES / f"{stem}.toml"), "--out", str(out), "--jobs", "2"])

    results = json.loads((out / "results.json").read_text())
    got = {cell["id"]: cell for cell in results["cells"]}
    verdicts = {cell_id: cell["verdict"] for cell_id, cell in got.items()}
    assert verdicts == {cell_id: e.verdict for cell_id, e in expected.items()}, {
        cell_id: cell["error"] for cell_id, cell in got.items()
    }
    assert code == exit_code

    reference = next(iter(expected))
    assert results["reference"] == reference
    raw = {cell_id: json.loads((out / "cells" / f"{cell_id}.json").read_text()) for cell_id in got}
    atol = results["compare"]["scores"]["atol"]
    for cell_id, want in expected.items():
        cell = got[cell_id]
        where = f"{stem}: {cell_id}"
        # The environment is the one the row names.
        for name, version in cell["packages"].items():
            assert cell["installed"][name] == version, where
        assert ("version-warning" in cell["flags"]) is want.version_warning, where
        if want.untrusted_types is not None:
            load = cell["probes"]["load"]
            assert load["untrusted_types"] == list(want.untrusted_types), where
        if want.verdict not in RAN:
            assert cell["comparison"] is None, where
            assert cell["error"] is not None, where
            error_type, fragment = want.error or ("", "")
            assert cell["error"]["type"] == error_type, where
            assert fragment in cell["error"]["message"], where
            continue
        assert cell["error"] is None, where
        comparison = cell["comparison"]
        labels, scores = comparison["labels"], comparison["scores"]
        assert comparison["methods"] == {"missing": [], "extra": []}, where

        # driftmatrix's own numbers agree with its verdict ...
        if want.verdict == "identical":
            assert labels["identical"] and scores["identical"], where
            assert labels["flipped"] == 0 and scores["beyond"] == 0, where
        elif want.verdict == "equivalent":
            assert labels["identical"] and not scores["identical"], where
            assert scores["beyond"] == 0 and 0 < scores["max_abs"] <= atol, where
        else:
            assert labels["flipped"] > 0 or scores["beyond"] > 0, where
        # ... with the measured ones ...
        if want.flipped is not None:
            assert labels["flipped"] == want.flipped, where
        if want.max_abs is not None:
            assert scores["max_abs"] == pytest.approx(want.max_abs, rel=1e-9, abs=0.0), where
        # ... and with the raw outputs: identical is never claimed where a bit differs.
        changed = changed_rows(raw[reference]["outputs"], raw[cell_id]["outputs"])
        assert bool(changed) is (want.verdict != "identical"), where
        if want.changed_rows is not None:
            assert len(changed) == want.changed_rows, where
        if want.changed_tags is not None:
            tags = raw[cell_id]["outputs"]["tags"]
            assert {tags[row] for row in changed} == want.changed_tags, where

    # The reference reproduces the producer's own predictions bit for bit: the golden CSV
    # round-trips the producer's array exactly (repr floats).
    artifact = Path(results["artifact"]["path"])
    manifest = json.loads((artifact.parent / "manifest.json").read_text())
    assert results["artifact"]["sha256"] == manifest["files"][artifact.name]
    produced = manifest["models"][artifact.stem]["outputs_sha256"]
    methods = raw[reference]["outputs"]["methods"]
    assert set(methods) == set(produced)
    for method, values in methods.items():
        assert hashlib.sha256(json.dumps(values).encode()).hexdigest() == produced[method], method
