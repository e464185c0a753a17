"""What changed between two lock files: each package upgraded, downgraded, added or removed.

A :class:`Change` is also a step that can be applied alone: ``--bisect`` builds the base with one
change applied (:meth:`Change.apply`) and the head with one change undone (:meth:`Change.undo`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.version import Version

from driftmatrix.lockfile import Lock
from driftmatrix.packages import diff_packages


class ChangeKind(enum.Enum):
    """How one package differs between the base and the head."""

    UPGRADED = "upgraded"
    DOWNGRADED = "downgraded"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class Change:
    """One package that differs between the base and the head lock.

    Attributes:
        name: Canonical distribution name.
        kind: Upgraded, downgraded, added or removed.
        base: Its version in the base (None when added).
        head: Its version in the head (None when removed).
        direct: Whether the project asks for it directly (from the head's lock, or the base's
            when it was removed); None when the lock does not say.
    """

    name: str
    kind: ChangeKind
    base: str | None
    head: str | None
    direct: bool | None

    @property
    def text(self) -> str:
        """``scikit-learn 1.2.2 → 1.3.2``, ``tqdm 4.66.1 (added)``, ``six 1.16.0 (removed)``."""
        if self.base is not None and self.head is not None:
            return f"{self.name} {self.base} → {self.head}"
        if self.head is not None:
            return f"{self.name} {self.head} (added)"
        return f"{self.name} {self.base} (removed)"

    @property
    def dependency(self) -> str:
        """``direct``, ``transitive``, or ``""`` when the lock does not say."""
        if self.direct is None:
            return ""
        return "direct" if self.direct else "transitive"

    def apply(self, versions: Mapping[str, str]) -> dict[str, str]:
        """``versions`` (the base's) with this one change made."""
        return _with(versions, self.name, self.head)

    def undo(self, versions: Mapping[str, str]) -> dict[str, str]:
        """``versions`` (the head's) with this one change taken back."""
        return _with(versions, self.name, self.base)


def _with(versions: Mapping[str, str], name: str, version: str | None) -> dict[str, str]:
    changed = {k: v for k, v in versions.items() if k != name}
    if version is not None:
        changed[name] = version
    return dict(sorted(changed.items()))


def diff_locks(base: Lock, head: Lock) -> tuple[Change, ...]:
    """Every package that differs, direct dependencies first, then by name.

    Args:
        base: The lock before the change (the reference).
        head: The lock after it.
    """
    diff = diff_packages(base.versions, head.versions)
    changes = [
        Change(
            name,
            ChangeKind.UPGRADED if Version(new) > Version(old) else ChangeKind.DOWNGRADED,
            old,
            new,
            _direct(head, name),
        )
        for name, old, new in diff.changed
    ]
    changes += [Change(n, ChangeKind.ADDED, None, v, _direct(head, n)) for n, v in diff.added]
    changes += [Change(n, ChangeKind.REMOVED, v, None, _direct(base, n)) for n, v in diff.removed]
    return tuple(sorted(changes, key=lambda c: (c.direct is not True, c.name)))


def _direct(lock: Lock, name: str) -> bool | None:
    pin = lock.pin(name)
    return pin.direct if pin is not None else None
