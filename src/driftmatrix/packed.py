"""A JSON object kept as compact text: what a large run holds of each cell, in a quarter of the
memory.

A cell's probe records and its comparison are small JSON documents, but as Python objects
(dicts, lists, floats, strings) they cost four times their text: about 60 KiB a cell, 60 MiB for
1,000 cells, all held until every report is written. :class:`Packed` keeps each member as its
compact JSON text and parses a member again on every access. Reports read a few members of each
cell (a latency, a flipped-label count), so the parsing costs microseconds; and each access
returns a fresh object, so no reader can change what the run keeps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any


class Packed(Mapping[str, Any]):
    """A read-only mapping whose values live as compact JSON text until they are read.

    Values round-trip exactly as JSON does (floats by their shortest ``repr``, NaN and
    infinities included); tuples come back as lists, as they would from a file.

    Args:
        values: The mapping to pack; its values must be JSON-serialisable.
    """

    __slots__ = ("_texts",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._texts = {
            key: json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            for key, value in values.items()
        }

    def __getitem__(self, key: str) -> Any:
        return json.loads(self._texts[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __contains__(self, key: object) -> bool:
        return key in self._texts  # without parsing the value

    def __repr__(self) -> str:
        return f"Packed({dict(self)!r})"


def pack(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``value`` packed (None stays None; a packed mapping is not packed again)."""
    if value is None or isinstance(value, Packed):
        return value
    return Packed(value)
