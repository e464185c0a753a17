"""Reading matrix files: good files load into typed values, bad files raise one MatrixError.

Bad files live under ``tests/data/matrices/bad/``; the first line of each says what it must
raise: ``# expect: KEY: FRAGMENT`` (``-`` for the whole file). The error's key must equal KEY
and its one-line message must contain FRAGMENT.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from driftmatrix.dockerspec import DockerSpec
from driftmatrix.errors import MatrixError
from driftmatrix.limits import Limits
from driftmatrix.outcome import DEFAULT_FAIL_ON, Verdict
from driftmatrix.spec import DEFAULT_TRUSTED, CompareSpec, MatrixSpec, load_matrix

DATA = Path(__file__).resolve().parents[1] / "data" / "matrices"
GOOD = DATA / "good"
BAD = sorted((DATA / "bad").glob("*.toml"))
MiB = 1024**2

Write = Callable[..., Path]

HEAD = """
[artifact]
path = "model.joblib"
golden = "golden.csv"
"""


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write a matrix (``[artifact]`` prepended unless given) beside tiny artifact files."""
    for name in (
        "model.joblib",
        "model.pkl",
        "model.bin",
        "model.skops",
        "golden.csv",
        "recipe.py",
    ):
        (tmp_path / name).write_text("x\n")

    def _write(body: str, *, head: str = HEAD) -> Path:
        path = tmp_path / "matrix.toml"
        path.write_text(head + body, encoding="utf-8")
        return path

    return _write


def expectation(path: Path) -> tuple[str, str]:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: ...'"
    key, _, fragment = first.removeprefix("# expect: ").partition(": ")
    return ("" if key == "-" else key), fragment


# -- bad files -----------------------------------------------------------------------------


def test_the_bad_corpus_covers_many_failure_kinds() -> None:
    assert len(BAD) >= 20
    assert len({expectation(path) for path in BAD}) == len(BAD)  # no two files test one thing


@pytest.mark.parametrize("path", BAD, ids=[path.stem for path in BAD])
def test_bad_matrix_raises_one_clear_matrix_error(path: Path) -> None:
    key, fragment = expectation(path)
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    message = str(caught.value)
    assert caught.value.key == key, message
    assert message.startswith(f"{path}: " + (f"{key}: " if key else "")), message
    assert fragment in message
    assert "\n" not in message and "\r" not in message


def test_missing_file_and_directory_are_matrix_errors(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="cannot read the matrix file"):
        load_matrix(tmp_path / "absent.toml")
    with pytest.raises(MatrixError, match="cannot read the matrix file"):
        load_matrix(tmp_path)


# -- good files ----------------------------------------------------------------------------


def test_design_example_expands_to_the_documented_cells() -> None:
    spec = load_matrix(GOOD / "design.toml")
    assert spec.name == "credit-model-upgrade"
    # 2 pythons x 3 scikit-learn x 2 numpy x 2 limits = 24; exclude drops 4; include adds 1.
    assert len(spec.cells) == 21
    assert spec.cells[0].id == "py3.10-scikit-learn1.3.2-numpy1.26.4-mem512m-cpu1"
    assert "py3.12-scikit-learn1.5.2-numpy2.1.3-mem512m-cpu1" in {c.id for c in spec.cells}
    assert not any(c.pins == {"scikit-learn": "1.3.2", "numpy": "2.1.3"} for c in spec.cells)
    include = spec.cells[-1]
    assert include.id == "py3.13-scikit-learn1.7.2-numpy2.2.6-mem1g-cpu1"
    assert include.limits == Limits(memory=1024 * MiB, cpus=1.0, timeout=300.0)
    assert spec.reference == spec.cells[0].id == spec.reference_cell.id
    assert spec.cells[1].limits == Limits(memory=96 * MiB, cpus=0.5, timeout=300.0)


def test_design_example_artifact_and_compare() -> None:
    spec = load_matrix(GOOD / "design.toml")
    artifact = spec.artifact
    assert artifact.mode == "load" and artifact.format == "joblib"
    assert artifact.path == GOOD / "artifacts" / "model.joblib"
    assert artifact.recipe == f"{GOOD / 'artifacts' / 'recipe.py'}:train"
    assert artifact.golden == GOOD / "artifacts" / "golden.csv"
    assert artifact.target == "default" and artifact.trusted == ("sklearn.*", "numpy.*")
    assert spec.compare.to_json() == {
        "labels": "exact",
        "scores": {"atol": 1e-9, "rtol": 0.0},
        "latency_ratio": 2.0,
        "memory_ratio": 1.5,
        "fail_on": [
            "drift",
            "predict-error",
            "load-error",
            "import-error",
            "rejected",
            "oom",
            "timeout",
        ],
    }


def test_design_md_reference_verbatim_is_ambiguous(write: Write) -> None:
    # DESIGN.md's [reference] does not name the limits axis, so it selects two cells.
    text = (GOOD / "design.toml").read_text().replace('limits = { memory = "512m" }\n\n', "\n")
    with pytest.raises(MatrixError, match=r"reference: selects 2 cells") as caught:
        load_matrix(write(text.replace("artifacts/", ""), head=""))
    assert "mem512m" in str(caught.value) and "mem96m" in str(caught.value)


def test_minimal_matrix_is_one_cell_named_after_its_file() -> None:
    spec = load_matrix(GOOD / "minimal.toml")
    assert spec.name == "minimal"
    assert [c.id for c in spec.cells] == ["py3.11-scikit-learn1.5.2"]
    assert spec.cells[0].limits == Limits() and spec.cells[0].backend == "venv"
    assert spec.artifact.trusted == DEFAULT_TRUSTED
    assert spec.compare == CompareSpec() and spec.compare.fail_on == DEFAULT_FAIL_ON


def test_include_only_matrix_has_exactly_its_includes() -> None:
    spec = load_matrix(GOOD / "include-only.toml")
    assert spec.artifact.format == "onnx"
    assert [c.id for c in spec.cells] == [
        "py3.11-numpy1.26.4-onnxruntime1.17.3",
        "py3.12-numpy2.1.3-onnxruntime1.19.2-mem256m-t120s-docker",
    ]
    assert spec.cells[1].limits == Limits(memory=256 * MiB, timeout=120.0)


def test_train_mode_canonical_names_and_local_versions() -> None:
    spec = load_matrix(GOOD / "train.toml")
    assert spec.artifact.mode == "train" and spec.artifact.path is None
    assert spec.artifact.format == "joblib"
    assert [c.id for c in spec.cells] == [
        "py3.12-scikit-learn1.4.2",
        "py3.12-scikit-learn1.4.2-docker",
        "py3.12-scikit-learn1.5.2_cpu",
        "py3.12-scikit-learn1.5.2_cpu-docker",
    ]
    assert spec.cells[2].pins == {"scikit-learn": "1.5.2+cpu"}
    assert spec.reference == "py3.12-scikit-learn1.4.2"


@pytest.mark.parametrize("path", sorted(GOOD.glob("*.toml")), ids=lambda p: p.stem)
def test_loading_is_deterministic_and_hashes_the_file(path: Path) -> None:
    first, second = load_matrix(path), load_matrix(path)
    assert first == second
    assert [c.fingerprint() for c in first.cells] == [c.fingerprint() for c in second.cells]
    assert first.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len({c.id for c in first.cells}) == len(first.cells)
    assert first.reference in {c.id for c in first.cells}


def test_artifact_paths_are_relative_to_the_matrix_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = load_matrix(Path(os.path.relpath(GOOD / "minimal.toml", tmp_path)))
    assert spec.artifact.path == GOOD / "artifacts" / "model.joblib"
    assert spec.artifact.golden.is_absolute()


def test_fingerprints_ignore_how_packages_are_ordered(write: Write) -> None:
    defaults = '[defaults]\npython = "3.12"\npackages = {{ {} }}\n'
    one = load_matrix(write(defaults.format('numpy = "2.1.3", scipy = "1.14.1"')))
    two = load_matrix(write(defaults.format('scipy = "1.14.1", numpy = "2.1.3"')))
    assert one.cells[0].id == "py3.12-numpy2.1.3-scipy1.14.1"
    assert two.cells[0].id == "py3.12-scipy1.14.1-numpy2.1.3"
    assert one.cells[0].fingerprint() == two.cells[0].fingerprint()
    assert one.sha256 != two.sha256


# -- values --------------------------------------------------------------------------------


def one_cell(write: Write, limits: str) -> MatrixSpec:
    return load_matrix(write(f'[defaults]\npython = "3.12"\nlimits = {{ {limits} }}\n'))


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ('"512m"', 512 * MiB),
        ('"512M"', 512 * MiB),
        ('"512mb"', 512 * MiB),
        ('"256MiB"', 256 * MiB),
        ('"1g"', 1024 * MiB),
        ('"1.5g"', 1536 * MiB),
        ('"6m"', 6 * MiB),
        ('"8192k"', 8 * MiB),
        (str(7 * MiB), 7 * MiB),
        ('"none"', None),
    ],
)
def test_memory_sizes(write: Write, text: str, size: int | None) -> None:
    assert one_cell(write, f"memory = {text}").cells[0].limits.memory == size


@pytest.mark.parametrize(
    "text", ['"1 gig"', '"512x"', '"-1g"', '""', '"0.1k"', '"5m5"', '"1t"', '"1m"', "1.5", "true"]
)
def test_bad_memory_sizes(write: Write, text: str) -> None:
    with pytest.raises(MatrixError, match=r"defaults\.limits\.memory: "):
        one_cell(write, f"memory = {text}")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300", 300.0),
        ("2.5", 2.5),
        ('"300s"', 300.0),
        ('"5m"', 300.0),
        ('"1h30m"', 5400.0),
        ('"0.5s"', 0.5),
    ],
)
def test_timeouts(write: Write, text: str, seconds: float) -> None:
    assert one_cell(write, f"timeout = {text}").cells[0].limits.timeout == seconds


@pytest.mark.parametrize("text", ['"0s"', '"5 minutes"', "-1", "0", '""', "true", "inf", '"none"'])
def test_bad_timeouts(write: Write, text: str) -> None:
    with pytest.raises(MatrixError, match=r"defaults\.limits\.timeout: "):
        one_cell(write, f"timeout = {text}")


@pytest.mark.parametrize("text", ["0", "-0.5", "inf", "nan", '"1"', "1" + "0" * 400])
def test_bad_cpus(write: Write, text: str) -> None:
    with pytest.raises(MatrixError, match=r"defaults\.limits\.cpus: "):
        one_cell(write, f"cpus = {text}")


@pytest.mark.parametrize(
    ("version", "valid"),
    [
        ("3.8", True),
        ("3.10", True),
        ("3.12.1", True),
        ("3.13", True),
        ("3.7", False),
        ("2.7", False),
        ("3", False),
        ("3.12.1rc1", False),
        ("3.08", False),
        (" 3.12", False),
    ],
)
def test_python_versions(write: Write, version: str, valid: bool) -> None:
    path = write(f'[defaults]\npython = "{version}"\n')
    if valid:
        assert load_matrix(path).cells[0].python == version
    else:
        with pytest.raises(MatrixError, match=r"defaults\.python: "):
            load_matrix(path)


@pytest.mark.parametrize(
    ("written", "pinned", "in_id"),
    [
        ("1.0.0-rc1", "1.0.0rc1", "1.0.0rc1"),
        ("v1.2", "1.2", "1.2"),
        ("1.5.2+CPU", "1.5.2+cpu", "1.5.2_cpu"),
        ("1!2.0", "1!2.0", "1_2.0"),
    ],
)
def test_versions_are_normalized_and_ids_made_safe(
    write: Write, written: str, pinned: str, in_id: str
) -> None:
    packages = f'packages = {{ Foo_Bar = "{written}" }}'
    spec = load_matrix(write(f'[defaults]\npython = "3.12"\n{packages}\n'))
    assert spec.cells[0].pins == {"foo-bar": pinned}
    assert spec.cells[0].id == f"py3.12-foo-bar{in_id}"


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        ('path = "model.pkl"', "pickle"),
        ('path = "model.bin"\nformat = "pickle"', "pickle"),
        ('path = "model.joblib"\nformat = "joblib"', "joblib"),
    ],
)
def test_artifact_format(write: Write, head: str, fmt: str) -> None:
    artifact = f'[artifact]\n{head}\ngolden = "golden.csv"\n'
    spec = load_matrix(write('[defaults]\npython = "3.12"\n', head=artifact))
    assert spec.artifact.format == fmt


def test_skops_needs_skops_in_every_cell(write: Write) -> None:
    artifact = '[artifact]\npath = "model.skops"\ngolden = "golden.csv"\n'
    pins = 'packages = { "scikit-learn" = "1.5.2", skops = "0.16.0" }'
    spec = load_matrix(write(f'[defaults]\npython = "3.12"\n{pins}\n', head=artifact))
    assert spec.artifact.format == "skops"
    assert spec.cells[0].pins["skops"] == "0.16.0"


def test_artifact_sha256_is_kept_lowercase(write: Write) -> None:
    digest = "AB" * 32
    spec = load_matrix(write(f'sha256 = "{digest}"\n[defaults]\npython = "3.12"\n'))
    assert spec.artifact.sha256 == digest.lower()


def test_fail_on_and_tolerances(write: Write) -> None:
    spec = load_matrix(
        write(
            '[defaults]\npython = "3.12"\n[compare]\nscores = { rtol = 1e-6 }\n'
            'fail_on = ["oom", "drift", "oom", "equivalent"]\nlatency_ratio = inf\n'
        )
    )
    assert spec.compare.fail_on == (Verdict.OOM, Verdict.DRIFT, Verdict.EQUIVALENT)
    assert (spec.compare.atol, spec.compare.rtol) == (1e-9, 1e-6)
    assert spec.compare.latency_ratio == float("inf")
    empty = load_matrix(write('[defaults]\npython = "3.12"\n[compare]\nfail_on = []\n'))
    assert empty.compare.fail_on == ()


# -- reference -----------------------------------------------------------------------------

AXES = """
[defaults]
python = "3.12"
packages = { numpy = "1.26.4" }
[axes]
python = ["3.10", "3.12"]
limits = [{ memory = "512m" }, { memory = "96m", cpus = 0.5 }]
"""


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("", "py3.10-numpy1.26.4-mem512m"),
        ('python = "3.12"\nlimits = { cpus = 0.5 }', "py3.12-numpy1.26.4-mem96m-cpu0.5"),
        ('python = "3.12"\nlimits = { memory = "512MiB" }', "py3.12-numpy1.26.4-mem512m"),
        (
            'python = "3.10"\npackages = { numpy = "1.26.4" }\nlimits = { memory = "96m" }',
            "py3.10-numpy1.26.4-mem96m-cpu0.5",
        ),
        ('id = "py3.12-numpy1.26.4-mem512m"', "py3.12-numpy1.26.4-mem512m"),
    ],
)
def test_reference_selects_exactly_one_cell(write: Write, reference: str, expected: str) -> None:
    table = f"[reference]\n{reference}\n" if reference else ""
    assert load_matrix(write(AXES + table)).reference == expected


def test_reference_may_be_a_cell_id_string(write: Write) -> None:
    text = 'reference = "py3.12-numpy1.26.4-mem512m"\n' + HEAD + AXES
    assert load_matrix(write(text, head="")).reference == "py3.12-numpy1.26.4-mem512m"


def test_reference_matching_several_cells_lists_them(write: Write) -> None:
    with pytest.raises(MatrixError, match=r"reference: selects 2 cells: py3\.10-numpy1\.26\.4-mem"):
        load_matrix(write(AXES + '[reference]\npython = "3.10"\n'))


def test_reference_id_and_keys_must_agree(write: Write) -> None:
    with pytest.raises(MatrixError, match="reference: no cell matches all of its keys"):
        reference = '[reference]\nid = "py3.10-numpy1.26.4-mem512m"\npython = "3.12"\n'
        load_matrix(write(AXES + reference))


# -- [docker] ------------------------------------------------------------------------------

DOCKER_CELLS = """
[defaults]
backend = "docker"
packages = { numpy = "1.26.4" }
[axes]
python = ["3.10", "3.11"]
"""


def test_docker_table_maps_python_versions_to_images(write: Write) -> None:
    digest = "sha256:" + "ab" * 32
    spec = load_matrix(
        write(
            DOCKER_CELLS
            + "[docker]\n"
            + 'source = "local"\n'
            + "[docker.images]\n"
            + '"3.11" = "registry.corp:5000/ml/python:3.11-prod"\n'
            + f'"3.10" = "py@{digest}"\n'
        )
    )
    assert spec.docker == DockerSpec(
        images=(("3.10", f"py@{digest}"), ("3.11", "registry.corp:5000/ml/python:3.11-prod")),
        source="local",
    )
    assert spec.docker.image_for("3.11") == "registry.corp:5000/ml/python:3.11-prod"
    assert spec.docker.identity("3.10") == f"image:py@{digest}"
    assert spec.docker.to_json()["source"] == "local"


def test_without_a_docker_table_every_python_comes_from_the_source_auto(write: Write) -> None:
    spec = load_matrix(write(DOCKER_CELLS))
    assert spec.docker == DockerSpec()
    assert spec.docker.image_for("3.10") is None
    assert spec.docker.identity("3.10") == "source:auto"


def test_the_mapped_image_is_part_of_a_docker_cell_fingerprint(
    write: Write, tmp_path: Path
) -> None:
    from driftmatrix.resume import RunInputs, cell_fingerprint

    inputs = RunInputs(tmp_path, "runner", "artifact", "golden")
    plain = load_matrix(write(DOCKER_CELLS))
    mapped = load_matrix(write(DOCKER_CELLS + '[docker]\nimages = { "3.10" = "corp/py:3.10" }\n'))
    cell = plain.cells[0]
    assert cell.python == "3.10" and mapped.cells[0] == cell

    def prints(backend: str) -> set[str]:
        return {cell_fingerprint(spec, cell, backend, inputs) for spec in (plain, mapped)}

    assert len(prints("docker")) == 2  # --resume must not reuse a result of the other image
    assert len(prints("venv")) == 1  # a venv cell does not depend on [docker]
    other = mapped.cells[1]  # 3.11: not mapped, so the mapping of 3.10 does not concern it
    assert cell_fingerprint(plain, other, "docker", inputs) == cell_fingerprint(
        mapped, other, "docker", inputs
    )
