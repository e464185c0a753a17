"""The ``[artifact]`` table of a matrix file: what every cell loads and probes, and what may be
trusted in it.

The host never opens the artifact beyond hashing and scanning it (:mod:`driftmatrix.scan`):
here it is only checked to exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from driftmatrix.specparse import Reader
from driftmatrix.suggest import suggestion as did_you_mean

Mode = Literal["load", "train"]
Format = Literal["joblib", "pickle", "skops", "onnx"]

#: File suffix → artifact format, used when ``[artifact] format`` is not given.
SUFFIX_FORMATS: dict[str, Format] = {
    ".joblib": "joblib",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".skops": "skops",
    ".onnx": "onnx",
}
FORMATS: tuple[Format, ...] = ("joblib", "pickle", "skops", "onnx")
#: Globals a pickle/skops artifact may reference unless ``[artifact] trusted`` says otherwise.
#: ``_loss.*`` is scikit-learn's own: its Cython loss module registers under that top-level name
#: (HistGradientBoosting models reference ``_loss:CyHalfBinomialLoss``).
DEFAULT_TRUSTED = ("sklearn.*", "_loss.*", "numpy.*", "scipy.*", "joblib.*")

_ARTIFACT_KEYS = (
    "mode",
    "path",
    "format",
    "recipe",
    "golden",
    "target",
    "trusted",
    "trusted_sha256",
    "sha256",
)


@dataclass(frozen=True)
class ArtifactSpec:
    """``[artifact]``: what every cell loads (or trains) and probes.

    Attributes:
        mode: ``"load"`` probes the file at ``path``; ``"train"`` runs ``recipe`` in every cell.
        path: Absolute path of the artifact (required in load mode, optional in train mode).
        format: ``joblib``, ``pickle``, ``skops`` or ``onnx``; from ``path``'s suffix unless
            given (``joblib`` in train mode without a path).
        recipe: ``"/abs/path/recipe.py:function"``, or None.
        golden: Absolute path of the golden dataset.
        target: Label column of the golden set, never fed to the model, or None.
        trusted: Global-name patterns (``sklearn.*``) a pickle/skops file may reference.
        sha256: The artifact's pinned sha256 (lowercase hex) when given; checked by the run.
        trusted_sha256: The one exact file (by sha256) the user trusts whatever globals it
            references: the scan still lists them, but they do not reject it. Only from the
            matrix or the command line, never from the artifact.
    """

    mode: Mode
    path: Path | None
    format: Format
    recipe: str | None
    golden: Path
    target: str | None = None
    trusted: tuple[str, ...] = DEFAULT_TRUSTED
    sha256: str | None = None
    trusted_sha256: str | None = None


def parse_artifact(read: Reader, value: object, base: Path) -> ArtifactSpec:
    """Read ``[artifact]``; paths in it are relative to ``base`` (the matrix's directory)."""
    table = read.table("artifact", value)
    read.keys("artifact", table, _ARTIFACT_KEYS)
    mode = table.get("mode", "load")
    if mode not in ("load", "train"):
        read.fail(
            "artifact.mode",
            f"unknown mode {mode!r}",
            did_you_mean(str(mode), ("load", "train")) or "expected load or train",
        )
    if mode == "load" and "path" not in table:
        read.fail(
            "artifact.path",
            "missing: load mode needs the artifact file",
            'add path = "model.joblib", or set mode = "train" with a recipe',
        )
    path = read.file("artifact.path", table["path"], base, built=True) if "path" in table else None
    recipe = None
    if "recipe" in table:
        text = read.string("artifact.recipe", table["recipe"], 'write "recipe.py:train"')
        file, _, function = text.rpartition(":")
        if not file or not function.isidentifier():
            read.fail(
                "artifact.recipe", f"not file.py:function: {text!r}", 'write "recipe.py:train"'
            )
        recipe = f"{read.file('artifact.recipe', file, base, '.py')}:{function}"
    elif mode == "train":
        read.fail(
            "artifact.recipe",
            "missing: train mode needs a recipe",
            'add recipe = "recipe.py:train", a function that returns a fitted estimator',
        )
    if "golden" not in table:
        read.fail(
            "artifact.golden",
            "missing: every matrix needs a golden dataset",
            'add golden = "golden.csv"',
        )
    golden = read.file("artifact.golden", table["golden"], base, built=True)
    target = read.string("artifact.target", table["target"]) if "target" in table else None
    return ArtifactSpec(
        mode=mode,
        path=path,
        format=_format(read, table.get("format"), path),
        recipe=recipe,
        golden=golden,
        target=target,
        trusted=read.patterns("artifact.trusted", table["trusted"])
        if "trusted" in table
        else DEFAULT_TRUSTED,
        sha256=_sha256(read, "artifact.sha256", table["sha256"], path)
        if "sha256" in table
        else None,
        trusted_sha256=_sha256(read, "artifact.trusted_sha256", table["trusted_sha256"], path)
        if "trusted_sha256" in table
        else None,
    )


def _format(read: Reader, value: object, path: Path | None) -> Format:
    """The artifact format: as given, else from the file suffix, else joblib (train mode)."""
    inferred = SUFFIX_FORMATS.get(path.suffix.lower()) if path else None
    if value is None:
        if path is not None and inferred is None:
            read.fail(
                "artifact.path",
                f"cannot tell the format from {path.name!r}",
                "set artifact.format to joblib, pickle, skops or onnx",
            )
        return inferred or "joblib"
    text = read.string("artifact.format", value)
    for known in FORMATS:
        if text == known:
            if inferred and inferred != known and path:
                read.fail(
                    "artifact.format",
                    f"{text!r} contradicts the file {path.name!r}",
                    f"the suffix says {inferred!r}; fix one of them",
                )
            return known
    read.fail(
        "artifact.format",
        f"unknown format {text!r}",
        did_you_mean(text, FORMATS) or "expected joblib, pickle, skops or onnx",
    )


def _sha256(read: Reader, key: str, value: object, path: Path | None) -> str:
    text = read.string(key, value).lower()
    if path is None:
        read.fail(key, "names the hash of no file", "set artifact.path too")
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        read.fail(
            key,
            "not a sha256: expected 64 hex digits",
            f"sha256sum {path.name} prints it",
        )
    return text
