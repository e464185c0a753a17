"""Exceptions that reach the user. Only ``cli.py`` turns them into messages and exit codes."""

from __future__ import annotations

from pathlib import Path

#: Exit codes (DESIGN.md): every cell passed · a finding · usage/matrix error · infrastructure only.
EXIT_OK = 0
EXIT_FINDING = 1
EXIT_USAGE = 2
EXIT_INFRA = 3


class DriftmatrixError(Exception):
    """Base of every error driftmatrix reports as one line."""

    exit_code = EXIT_USAGE


class UsageError(DriftmatrixError):
    """The command line asks for something that cannot be done (exit 2)."""


class MatrixError(DriftmatrixError):
    """A matrix file is invalid: names the file, the key path, the problem and a hint (exit 2).

    Args:
        path: The matrix file.
        key: Dotted key path inside it, e.g. ``axes.scikit-learn[2]``; empty for the whole file.
        problem: What is wrong.
        hint: What to do about it (may be empty).
    """

    def __init__(self, path: Path | str, key: str, problem: str, hint: str = "") -> None:
        self.path = Path(path)
        self.key = key
        self.problem = problem
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}: {self.key}: " if self.key else f"{self.path}: "
        return where + self.problem + (f" ({self.hint})" if self.hint else "")


class InfraError(DriftmatrixError):
    """The tool or a backend failed independently of the model (exit 3)."""

    exit_code = EXIT_INFRA


class BuildError(DriftmatrixError):
    """A cell's environment could not be built; becomes that cell's ``build-error`` verdict.

    Args:
        message: The reason, e.g. the resolver's own message, trimmed to what a user needs.
    """

    exit_code = EXIT_INFRA
