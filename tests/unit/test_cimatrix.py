"""cimatrix.py: packing a matrix's cells into CI jobs (``list --json``, ``run --shard K/N``)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftmatrix.cells import Cell
from driftmatrix.cimatrix import GITHUB_MAX_JOBS, job_matrix, parse_shard, select_shard, shards
from driftmatrix.cli import main
from driftmatrix.errors import UsageError
from driftmatrix.spec import MatrixSpec, load_matrix

GOLDEN = "row_id,x,label\nr1,1.0,0\nr2,2.0,1\n"


def big_matrix(directory: Path, sklearn: int = 20, numpy: int = 10) -> Path:
    """A matrix of 3 Pythons x ``sklearn`` x ``numpy`` versions (600 cells by default).

    The versions need not exist: nothing is built, only expanded and packed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.joblib").write_bytes(b"never opened\n")
    (directory / "golden.csv").write_text(GOLDEN, encoding="utf-8")
    sk = ", ".join(f'"1.{i}.0"' for i in range(sklearn))
    np_ = ", ".join(f'"2.{i}.0"' for i in range(numpy))
    path = directory / "big.toml"
    path.write_text(
        f"""name = "big"

[artifact]
path = "model.joblib"
golden = "golden.csv"
target = "label"

[defaults]
python = "3.11"
packages = {{ "scikit-learn" = "1.0.0", numpy = "2.0.0" }}

[axes]
python = ["3.10", "3.11", "3.12"]
"scikit-learn" = [{sk}]
numpy = [{np_}]

[reference]
python = "3.11"
"scikit-learn" = "1.3.0"
numpy = "2.4.0"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> MatrixSpec:
    return load_matrix(big_matrix(tmp_path_factory.mktemp("big")))


def test_more_cells_than_jobs_are_packed_into_at_most_256_jobs_each_cell_once(
    big: MatrixSpec,
) -> None:
    assert len(big.cells) == 600

    include = job_matrix(big)["include"]

    assert len(include) == GITHUB_MAX_JOBS
    listed = [cell for entry in include for cell in entry["cells"]]
    assert Counter(listed) == Counter(cell.id for cell in big.cells)  # every cell exactly once
    # The reference is a job of its own, first: every comparison waits for it.
    assert include[0]["cells"] == [big.reference] and include[0]["reference"] is True
    assert not any(entry["reference"] for entry in include[1:])
    # The others in matrix order, in contiguous runs whose sizes differ by at most one.
    others = [cell.id for cell in big.cells if cell.id != big.reference]
    assert [cell for entry in include[1:] for cell in entry["cells"]] == others
    assert {len(entry["cells"]) for entry in include[1:]} == {2, 3}
    # Unique, readable job ids and names; shard labels K/N in order.
    assert len({entry["id"] for entry in include}) == len({entry["name"] for entry in include})
    assert len({entry["id"] for entry in include}) == GITHUB_MAX_JOBS
    assert [entry["shard"] for entry in include] == [f"{k}/256" for k in range(1, 257)]
    assert include[1]["id"] == "shard-002-of-256"
    assert include[1]["name"] == f"2/256: {others[0]} and {len(include[1]['cells']) - 1} more"


def test_packing_is_deterministic_and_run_shard_selects_what_list_printed(
    big: MatrixSpec, tmp_path: Path
) -> None:
    include = job_matrix(big, 40)["include"]
    again = load_matrix(big_matrix(tmp_path / "again"))

    assert job_matrix(again, 40)["include"] == include
    for entry in include:
        assert [cell.id for cell in select_shard(again, entry["shard"]).cells] == entry["cells"]


def test_a_job_sets_up_exactly_the_pythons_of_its_cells(big: MatrixSpec) -> None:
    by_id = {cell.id: cell for cell in big.cells}
    for entry in job_matrix(big, 7)["include"]:
        wanted = {by_id[cell].python for cell in entry["cells"]}
        assert set(entry["python"].split("\n")) == wanted


def test_cells_that_fit_get_one_job_each_named_by_cell_id(big: MatrixSpec) -> None:
    include = job_matrix(big, 600)["include"]

    assert [entry["cells"] for entry in include[1:]] == [
        [cell.id] for cell in big.cells if cell.id != big.reference
    ]
    assert all(entry["id"] == entry["cells"][0] for entry in include)
    assert include[0]["name"] == f"{big.reference} (reference)"
    assert include[5]["name"] == include[5]["cells"][0]


def test_one_job_runs_every_cell(big: MatrixSpec) -> None:
    (entry,) = job_matrix(big, 1)["include"]

    assert entry["shard"] == "1/1" and entry["reference"] is True
    assert entry["cells"] == [cell.id for cell in big.cells]
    assert entry["id"] == "shard-1-of-1"


def cells_named(count: int) -> list[Cell]:
    return [Cell(f"py3.11-pkg1.{i}", "3.11", (("pkg", f"1.{i}"),)) for i in range(count)]


@given(
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=1, max_value=80),
    st.data(),
)
def test_every_cell_is_in_exactly_one_of_n_shards(
    cells: int, count: int, data: st.DataObject
) -> None:
    matrix = cells_named(cells)
    reference = matrix[data.draw(st.integers(min_value=0, max_value=cells - 1))].id

    packed = shards(matrix, reference, count)

    assert len(packed) == count
    assert [shard.index for shard in packed] == list(range(1, count + 1))
    assert Counter(c.id for s in packed for c in s.cells) == Counter(c.id for c in matrix)
    assert [s.reference for s in packed if s.reference] == [reference]
    if count > 1:
        assert [c.id for c in packed[0].cells] == [reference]
        sizes = [len(s.cells) for s in packed[1:]]
        assert max(sizes) - min(sizes) <= 1
    assert shards(matrix, reference, count) == packed


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "3", "", "1/2/3", "-1/2", "1 / 2x"])
def test_a_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(text)


def test_shard_k_of_n_parses() -> None:
    assert parse_shard("3/256") == (3, 256)
    assert parse_shard(" 1/1 ") == (1, 1)


def test_list_json_prints_one_line_and_max_jobs_packs(
    big: MatrixSpec, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["list", str(big.path), "--json", "--max-jobs", "10"])
    out = capsys.readouterr().out

    assert code == 0 and out.count("\n") == 1  # `echo "matrix=$(...)" >> $GITHUB_OUTPUT`
    assert json.loads(out) == job_matrix(big, 10)
    assert len(json.loads(out)["include"]) == 10


@pytest.mark.parametrize("jobs", ["0", "-3"])
def test_list_max_jobs_below_one_is_one_line_exit_2(
    big: MatrixSpec, jobs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["list", str(big.path), "--json", "--max-jobs", jobs])
    captured = capsys.readouterr()

    assert code == 2 and captured.out == ""
    assert captured.err.strip() == f"driftmatrix: error: --max-jobs {jobs}: must be 1 or more"
