"""The ``[docker]`` table of a matrix file: which image each Python version's cells start from.

```toml
[docker]
images = { "3.11" = "python:3.11-slim", "3.12" = "corp/python@sha256:..." }
source = "auto"     # versions without an entry: auto | local | registry
```

A mapped image may be any Linux image with a CPython of that version on its ``PATH``
(``pythonX.Y``, else ``python3``); driftmatrix finds the interpreter in it, checks its version
and builds the cell images on top. Versions without an entry get ``python:X.Y-slim`` when a
registry answers and the host's own interpreter otherwise (``source``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from driftmatrix.cells import join_key
from driftmatrix.specparse import Reader
from driftmatrix.suggest import suggestion as did_you_mean

#: Where versions without an entry in ``images`` get their Python (see
#: :data:`driftmatrix.backends.docker_images.PYTHON_SOURCES`, the same words).
SOURCES = ("auto", "local", "registry")
_KEYS = ("images", "source")
# Docker's reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest].
# The domain is only recognised before a '/', so "python:3.11-slim" is a name and a tag.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?P<tag>:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?",
    re.ASCII,
)


@dataclass(frozen=True)
class DockerSpec:
    """``[docker]``: the Python images of docker cells.

    Attributes:
        images: (Python version as written in the cells, image reference) pairs, sorted.
        source: Where versions without an entry get their Python: ``auto`` (``python:X.Y-slim``
            when a registry answers, else the host's interpreter), ``local`` or ``registry``.
    """

    images: tuple[tuple[str, str], ...] = ()
    source: str = "auto"

    def image_for(self, python: str) -> str | None:
        """The image mapped to the cells of ``python`` (as written in the matrix), or None."""
        return dict(self.images).get(python)

    def identity(self, python: str) -> str:
        """What decides the Python image of a ``python`` cell, for fingerprints (``--resume``).

        A mapped tag that moves is not noticed here; a digest reference (``@sha256:``) pins it.
        """
        image = self.image_for(python)
        return f"image:{image}" if image is not None else f"source:{self.source}"

    def to_json(self) -> dict[str, Any]:
        """The table as written to ``results.json``."""
        return {"images": dict(self.images), "source": self.source}


def parse_docker(read: Reader, value: object, pythons: Sequence[str]) -> DockerSpec:
    """Read ``[docker]``.

    Args:
        read: The matrix file's reader.
        value: The raw table.
        pythons: The Python versions the cells use, as written: every key of ``images`` must
            be one of them (a key no cell uses is a typo that would silently change nothing).

    Raises:
        MatrixError: an unknown key, a bad version or image reference, an unknown source.
    """
    table = read.table("docker", value)
    read.keys("docker", table, _KEYS)
    source = read.string("docker.source", table.get("source", "auto"))
    if source not in SOURCES:
        read.fail(
            "docker.source",
            f"unknown source {source!r}",
            did_you_mean(source, SOURCES) or f"choose one of: {', '.join(SOURCES)}",
        )
    images = read.table(
        "docker.images",
        table.get("images", {}),
        'map Python versions to images: images = { "3.11" = "python:3.11-slim" }',
    )
    mapped: list[tuple[str, str]] = []
    used = sorted(set(pythons))
    for version, raw in images.items():
        key = join_key("docker.images", version)
        read.python(key, version)
        if version not in used:
            read.fail(
                key,
                f"no cell uses Python {version}",
                f"the cells use {', '.join(used)}; fix the version or remove the entry",
            )
        mapped.append((version, image_reference(read, key, raw)))
    return DockerSpec(images=tuple(sorted(mapped)), source=source)


def image_reference(read: Reader, key: str, value: object) -> str:
    """Return ``value`` if it is a Docker image reference with a tag or a digest."""
    text = read.string(key, value, 'write an image such as "python:3.11-slim"')
    match = _REFERENCE.fullmatch(text)
    if match is None:
        read.fail(
            key,
            f"not a Docker image reference: {text!r}",
            'write [registry/]name:tag or name@sha256:<digest>, e.g. "python:3.11-slim"',
        )
    if not match["tag"] and not match["digest"]:
        read.fail(
            key,
            f"no tag or digest in {text!r}",
            f'name the version you mean, e.g. "{text}:3.11-slim" (or "{text}:latest")',
        )
    return text
