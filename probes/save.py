"""The save probe: write the model this cell obtained to the work directory, in the job's format.

Used where a cell *produces* an artifact for others to load: the producer × consumer grid
(``driftmatrix grid``) trains in every cell and saves, then loads every cell's file in every
other cell. The file is written with the cell's own libraries and their defaults, exactly as a
user's training job in that environment would write it.
"""

from __future__ import annotations

import hashlib
import os

from .load import dump_file

#: The saved file's name in the work directory, before its format's suffix.
FILE_STEM = "artifact"


def run(ctx, record: dict) -> None:
    """Dump ``ctx.estimator``; records ``file`` (a name in the work dir), ``bytes``, ``sha256``."""
    job = ctx.job
    name = "{}.{}".format(FILE_STEM, job.artifact_format)
    path = os.path.join(job.work, name)
    dump_file(ctx.estimator, path, job.artifact_format)
    record["file"] = name
    record["format"] = job.artifact_format
    record["bytes"] = os.path.getsize(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    record["sha256"] = digest.hexdigest()
