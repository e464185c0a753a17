"""The probe loop: run the requested probes in order and keep result.json current.

Every probe is written as ``running`` before it starts and rewritten when it ends, so a process
that dies inside a probe still leaves a result file that says where. Everything a probe raises
becomes data; ``KeyboardInterrupt`` and ``SystemExit`` (artifact code calling ``sys.exit``) are
recorded too, and then the run stops: the remaining probes are ``skipped``.
"""

from __future__ import annotations

import sys
import time

from . import (
    PROTOCOL,
    _memory,
    contract,
    coverage,
    environment,
    imports,
    latency,
    load,
    parity,
    predict,
    roundtrip,
    save,
    steps,
    train,
)
from ._errors import error_info
from ._warnings import capture, describe


class Probe:
    """How to run one probe and what it depends on.

    Args:
        run: ``run(ctx, record)``; fills ``record``, may set ``status``/``error`` itself (a
            partial failure) or raise (the probe failed).
        requires: Probes that must have run, and be ``ok``, earlier in this job: their results
            are this probe's input. A tuple entry is a choice: any one of its probes will do
            (:data:`MODEL`: the model comes from ``load`` or, in train mode, ``train``).
        after: Probes whose failure makes this one meaningless, when they were requested.
    """

    def __init__(self, run, requires=(), after=()) -> None:
        self.run = run
        self.requires = requires
        self.after = after


#: The probes that produce the model: the artifact's loader, or the recipe in train mode.
MODEL = ("load", "train")

#: Every probe this runner knows, by its protocol name.
PROBES = {
    "environment": Probe(environment.run),
    "imports": Probe(imports.run),
    "load": Probe(load.run, after=("imports",)),
    "train": Probe(train.run, after=("imports",)),
    "predict": Probe(predict.run, requires=(MODEL,)),
    "roundtrip": Probe(roundtrip.run, requires=(MODEL, "predict")),
    "parity": Probe(parity.run, requires=(MODEL, "predict")),  # skl2onnx + onnxruntime vs sklearn
    # Each pipeline step's output on the golden set: where a drift starts (feature skew).
    "steps": Probe(steps.run, requires=(MODEL, "predict")),
    # What the golden set exercises: classes, category levels, missing values, tree leaves.
    "coverage": Probe(coverage.run, requires=(MODEL, "predict")),
    "save": Probe(save.run, requires=(MODEL,)),
    # Bad inputs; after the outputs and the round trip, because a case may kill the process.
    "contract": Probe(contract.run, requires=(MODEL, "predict")),
    # Times calls on the model in memory: a measurement, never a verdict.
    "latency": Probe(latency.run, requires=(MODEL, "predict")),
}


#: The probes that may write bytecode when the job allows it (``write_bytecode``): the ones that
#: import the pinned libraries, so that an environment's first cell compiles them once for every
#: later cell (compiling scikit-learn, numpy and scipy from source costs ~1.3 s per start). Not
#: ``train``: it imports the user's recipe from the user's own directory, which is not ours to
#: write into. Later probes import little, and lazily.
WRITES_BYTECODE = ("environment", "imports", "load")


class ResultWriteError(Exception):
    """result.json could not be written (the work directory is unusable or full)."""


class Context:
    """What probes hand on to later probes in the same process."""

    def __init__(self, job) -> None:
        self.job = job
        self.installed = {}  # environment → top-level "installed"
        self.estimator = None  # load → predict, roundtrip
        self.golden = None  # predict → roundtrip
        self.outputs = None  # predict → top-level "outputs"
        self.predictions = {}  # predict → roundtrip: {method: {values, dtype, shape}}
        # Set by Run for the probe that is running: progress(fields) rewrites its ``running``
        # record as ``fields`` and writes result.json, so a probe that may kill the process
        # (contract) leaves behind how far it got.
        self.progress = None


class Run:
    """One run of the runner and its result document.

    Args:
        result_file: Where the document is written (a ``_job.ResultFile``).
        cell: The cell id from the job, copied into the result.
    """

    def __init__(self, result_file, cell=None) -> None:
        self.result_file = result_file
        self.ctx = None
        self.doc = {
            "protocol": PROTOCOL,
            "cell": cell,
            "finished": False,
            "stage": None,
            "python": environment.python_info(),
            "installed": {},
            "probes": {},
            "outputs": None,
            "error": None,
        }

    def execute(self, job) -> None:
        """Run every probe of ``job`` in order, writing the result after each one.

        Raises:
            ResultWriteError: result.json could not be written.
        """
        self.ctx = Context(job)
        records = self.doc["probes"]
        self.write()
        stopped = None
        for name in job.probes:
            if name in records:
                continue  # a name listed twice runs once
            probe = PROBES.get(name)
            reason = stopped or _blocked(name, probe, records, job.probes)
            if reason:
                records[name] = {"status": "skipped", "seconds": 0.0, "reason": reason}
            else:
                self.doc["stage"] = name
                records[name] = {"status": "running"}
                self.write()
                self.ctx.progress = self._progress(name)
                sys.dont_write_bytecode = not (job.write_bytecode and name in WRITES_BYTECODE)
                try:
                    records[name], stop = _execute(probe, self.ctx)
                finally:
                    sys.dont_write_bytecode = True
                self.ctx.progress = None
                if stop:
                    stopped = "the run stopped after {} in probe '{}'".format(stop, name)
            self.write()
        if records.get("environment", {}).get("status") == "ok":
            _add_blas(records["environment"])
        self.doc["finished"] = True
        self.write()

    def _progress(self, name: str):
        def progress(fields: dict) -> None:
            self.doc["probes"][name] = dict(fields, status="running")
            self.write()

        return progress

    def fail(self, exc: BaseException) -> None:
        """Record that the runner itself failed (bad job, a bug) and write the result.

        Raises:
            ResultWriteError: result.json could not be written.
        """
        self.doc["error"] = error_info(exc)
        self.write()

    def write(self) -> None:
        """Write the current document to result.json.

        Raises:
            ResultWriteError: The file could not be written.
        """
        if self.ctx is not None:
            self.doc["installed"] = self.ctx.installed
            self.doc["outputs"] = self.ctx.outputs
        try:
            self.result_file.write(self.doc)
        except OSError as exc:
            raise ResultWriteError(
                "cannot write {}: {}".format(self.result_file.path, exc)
            ) from exc


def _blocked(name: str, probe, records: dict, requested: list):
    """Return why ``probe`` cannot run now, or None when it can."""
    if probe is None:
        return "unknown probe '{}' (this runner knows: {})".format(name, ", ".join(PROBES))
    for needed in probe.requires:
        choices = needed if isinstance(needed, tuple) else (needed,)
        wanted = [name for name in choices if name in requested]
        label = " or ".join("'{}'".format(name) for name in choices)
        if not wanted:
            return "it needs probe {}, which the job does not request".format(label)
        dependency = wanted[0]
        if dependency not in records:
            return "it needs probe '{}' to run before it".format(dependency)
        if records[dependency]["status"] != "ok":
            return "probe '{}' {}".format(dependency, records[dependency]["status"])
    for dependency in probe.after:
        status = records.get(dependency, {}).get("status", "ok")
        if status != "ok":
            return "probe '{}' {}".format(dependency, status)
    return None


def _execute(probe, ctx):
    """Run one probe; return ``(record, stop)``, ``stop`` naming an exception that ends the run."""
    details = {"status": "running"}
    caught = []
    stop = None
    memory = _memory.start()  # this probe's own peak RSS (probes/_memory.py)
    start = time.perf_counter()
    try:
        with capture() as caught:
            probe.run(ctx, details)
    except BaseException as exc:
        details["status"] = "failed"
        details["error"] = error_info(exc)
        if not isinstance(exc, Exception):
            # KeyboardInterrupt, SystemExit and the like: whoever raised them wants the process
            # to end. Record it and stop rather than carry on in an interpreter told to quit.
            stop = type(exc).__name__
    seconds = round(time.perf_counter() - start, 6)
    status = details.pop("status")
    error = details.pop("error", None)
    if status == "skipped" and error is None:
        # A probe that found itself not applicable (roundtrip of an ONNX model): the protocol's
        # skipped record, as for a probe the loop never started.
        return {"status": "skipped", "seconds": 0.0, "reason": details.get("reason", "")}, stop
    record = {"status": "ok" if status == "running" else status, "seconds": seconds}
    peak = _memory.stop(memory)
    if peak is not None:
        record["memory"] = peak
    record.update(details)
    record["warnings"] = describe(caught)
    if error is not None:
        record["error"] = error
    return record, stop


def _add_blas(record: dict) -> None:
    # At the end of the run, when numpy, scipy and scikit-learn have loaded their native
    # libraries: threadpoolctl can only report libraries that are loaded.
    with capture() as caught:
        environment.add_blas(record)
    record["warnings"] = record.get("warnings", []) + describe(caught)
