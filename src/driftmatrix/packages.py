"""Installed distributions compared across cells, by their canonical (PEP 503) names."""

from __future__ import annotations

import re
from collections.abc import Mapping

from driftmatrix.comparison import PackageDiff


def canonical_name(name: str) -> str:
    """PEP 503 canonical distribution name: ``Scikit_Learn`` → ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def diff_packages(reference: Mapping[str, str], cell: Mapping[str, str]) -> PackageDiff:
    """Which installed distributions changed, appeared or disappeared relative to the reference.

    Args:
        reference: The reference cell's installed distributions (name → version).
        cell: The cell's installed distributions.

    Returns:
        The differences, by canonical name, sorted.
    """
    ref = {canonical_name(k): str(v) for k, v in reference.items()}
    new = {canonical_name(k): str(v) for k, v in cell.items()}
    return PackageDiff(
        changed=tuple(
            (n, ref[n], new[n]) for n in sorted(ref.keys() & new.keys()) if ref[n] != new[n]
        ),
        added=tuple((n, new[n]) for n in sorted(new.keys() - ref.keys())),
        removed=tuple((n, ref[n]) for n in sorted(ref.keys() - new.keys())),
    )
