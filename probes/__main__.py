"""Entry point: ``python -s -B -m probes /abs/work/job.json``.

Exit codes (docs/runner-protocol.md): 0 whenever result.json was written, whatever the probes
found; 2 when the job file could not be read (or result.json could not be written), with one
line on standard error. Nothing the artifact, the golden set or a library does produces a
traceback here: it all ends up in result.json.
"""

from __future__ import annotations

import contextlib
import os
import sys

from ._errors import one_line
from ._job import Job, JobError, JobFileError, ResultFile, check_protocol, read_job
from ._runner import ResultWriteError, Run

EXIT_OK = 0
EXIT_UNREADABLE = 2


def main(argv=None) -> int:
    """Run the job named on the command line.

    Args:
        argv: The arguments after ``-m probes`` (default ``sys.argv[1:]``): one job path.

    Returns:
        The process exit code.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1:
        _complain("usage: python -m probes JOB.json")
        return EXIT_UNREADABLE
    try:
        doc, work = read_job(args[0])
    except JobFileError as exc:
        _complain("cannot read job file {}: {}".format(args[0], exc))
        return EXIT_UNREADABLE

    cell = doc.get("cell")
    run = Run(ResultFile(work), cell=cell if isinstance(cell, str) else None)
    try:
        try:
            check_protocol(doc)
            job = Job(doc, work)
        except JobError as exc:
            run.fail(exc)  # readable but invalid: the host learns why from result.json
            return EXIT_OK
        try:
            run.execute(job)
        except ResultWriteError:
            raise
        except BaseException as exc:
            # A bug in the runner itself (probes' own failures never get here): say so in the
            # result, where the host classifies it as infra-error.
            run.fail(exc)
    except ResultWriteError as exc:
        _complain(str(exc))
        return EXIT_UNREADABLE
    return EXIT_OK


def _complain(message: str) -> None:
    try:
        sys.stderr.write("probes: {}\n".format(one_line(message, limit=1000)))
        sys.stderr.flush()
    except Exception:
        pass  # artifact code may have closed or replaced stderr


if __name__ == "__main__":
    _code = main()
    for _stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # artifact code may have closed them
            _stream.flush()
    # os._exit, not sys.exit: result.json is final, and a thread or atexit hook left behind by
    # artifact code (a non-daemon thread, a process pool) must not keep the cell alive until the
    # host's timeout turns a finished run into a "timeout" verdict.
    os._exit(_code)
