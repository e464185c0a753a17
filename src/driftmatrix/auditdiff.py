"""skops' own audit, compared across cells: the types each cell's skops does not trust by default.

Every cell reports what ``skops.io.get_untrusted_types`` says about the file (the load probe's
``untrusted_types``). The list changes with skops releases — 0.16 stopped trusting
``sklearn.tree._tree.Tree`` by default, 0.6 did not trust ``numpy.int64`` — so code that
reviews and passes that list to ``skops.io.load`` in production needs another review after the
upgrade, even when predictions are identical. The comparison says what was added and removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuditDiff:
    """The cell's skops audit against the reference's.

    Attributes:
        added: Types the cell's skops reports and the reference's does not.
        removed: Types the reference's skops reports and the cell's does not.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def differs(self) -> bool:
        """Whether the two audits differ."""
        return bool(self.added or self.removed)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"added": list(self.added), "removed": list(self.removed)}


def diff_audit(reference: Mapping[str, Any], cell: Mapping[str, Any]) -> AuditDiff | None:
    """Compare the load probes' ``untrusted_types``; None unless both cells report one."""
    ref_types, cell_types = _types(reference), _types(cell)
    if ref_types is None or cell_types is None:
        return None
    return AuditDiff(
        added=tuple(sorted(cell_types - ref_types)), removed=tuple(sorted(ref_types - cell_types))
    )


def _types(probes: Mapping[str, Any]) -> set[str] | None:
    load = probes.get("load")
    if not isinstance(load, Mapping):
        return None
    types = load.get("untrusted_types")
    if not isinstance(types, list):
        return None
    return {str(name) for name in types}
