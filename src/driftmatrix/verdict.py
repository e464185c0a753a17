"""The one place that decides a cell's verdict, its flags, its error, and the run's exit code.

The wording of an error (signals, stderr, one-line messages) is failure.py's.

A verdict is decided from facts, most severe first (DESIGN.md's table): a backend failure, a
build failure, how the runner process ended (:class:`~driftmatrix.backends.base.Execution`), what
the runner wrote (``result.json``, docs/runner-protocol.md), and the comparison with the
reference cell. Decisions:

* **The result file is the truth; the exit code is secondary.** A finished result with every
  probe ``ok`` wins over an odd exit code (some libraries crash at interpreter shutdown).
  Timeout and OOM come only from the backend's facts, never from guessing at exit code 137.
* **A death inside a probe belongs to that probe.** The runner writes ``running`` before each
  probe, so a process killed by SIGSEGV with ``load`` still ``running`` crashed the interpreter
  while deserializing: ``load-error`` with error type ``Signal SIGSEGV``. The same holds for
  ``imports`` (``import-error``) and ``predict`` (``predict-error``). A death inside
  ``environment`` or between probes is ``infra-error``; a death inside ``roundtrip`` (after the
  outputs were written) only flags ``roundtrip-failed``. A death inside ``contract`` (bad
  inputs, after the outputs) is a finding about the case it was running, not about the cell:
  that case is ``crash`` (contract.py) and, when the reference's is not, ``contract-changed``.
  An exit code 128+N with no signal is read as signal N (the shell/Docker convention).
* **"Not otherwise explained"**: a runner ``error``, an unfinished result or missing outputs are
  ``infra-error`` only when no probe failure, timeout or OOM explains the cell first.
* **Comparison.** No comparison (the reference failed, or it comes later through
  :func:`decide_compared`) → ``not-compared``. Flipped labels, scores beyond tolerance, a shape
  change or a method the reference had and the cell lacks → ``drift`` (see compare.py: the
  method's outputs are gone); within tolerance → ``equivalent``; bit-identical → ``identical``.
* **Flags** never change the verdict and come back in :class:`Flag` declaration order. A load
  warning that carries ``original_sklearn_version`` is ``version-warning`` whatever its category
  (scikit-learn<1.3 raised a plain ``UserWarning``); any other is ``load-warning``. In train
  mode, warnings while the recipe fits (a ``FutureWarning`` announcing a new default) are
  ``train-warning``, and a recipe that raises is ``load-error``: the model could not be obtained.
* **Exit code**: a non-infrastructure verdict in ``fail_on`` → 1 (a finding), even when other
  cells hit infrastructure errors, because a real finding must not be reported as a flaky
  backend. Otherwise any ``infra-error``/``build-error`` → 3: a cell that never ran never passes,
  whatever ``fail_on`` says. Otherwise 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftmatrix.backends.base import Execution
from driftmatrix.comparison import Comparison
from driftmatrix.errors import EXIT_FINDING, EXIT_INFRA, EXIT_OK
from driftmatrix.failure import (
    death,
    died_message,
    error_of,
    one_line,
    probe_error,
    runner_error,
    seconds,
)
from driftmatrix.limits import Limits
from driftmatrix.outcome import Flag, ProbeStatus, Verdict
from driftmatrix.results import CellResult, ErrorInfo, RunResults

#: The probes whose failure (or death inside) is the cell's verdict, in runner order.
_STAGES: tuple[tuple[str, Verdict], ...] = (
    ("environment", Verdict.INFRA_ERROR),
    ("imports", Verdict.IMPORT_ERROR),
    ("load", Verdict.LOAD_ERROR),
    # Train mode: the model could not be obtained, the same finding as a failed load.
    ("train", Verdict.LOAD_ERROR),
    ("predict", Verdict.PREDICT_ERROR),
)

#: Flags that depend on the reference; recomputed by :func:`decide_compared`.
_COMPARISON_FLAGS = frozenset(
    {Flag.METHODS_DIFFER, Flag.SLOWER, Flag.HEAVIER, Flag.CONTRACT_CHANGED}
)

_LIMIT_NAMES = ("memory", "cpus", "timeout")


@dataclass(frozen=True)
class _Facts:
    """Everything known about one cell; the arguments of :func:`decide` and :func:`error_info`."""

    execution: Execution | None
    result: Mapping[str, Any] | None
    unreadable: str | None
    requested_limits: Limits | Mapping[str, Any] | None
    build_error: BaseException | str | None
    infra_error: BaseException | str | None
    rejected_globals: Sequence[str]
    comparison: Comparison | None

    @property
    def requested(self) -> Mapping[str, Any]:
        """The requested limits in their JSON form ``{memory, cpus, timeout}``."""
        limits = self.requested_limits
        return limits.to_json() if isinstance(limits, Limits) else dict(limits or {})


def decide(
    *,
    execution: Execution | None = None,
    result: Mapping[str, Any] | None = None,
    unreadable: str | None = None,
    requested: Limits | Mapping[str, Any] | None = None,
    build_error: BaseException | str | None = None,
    infra_error: BaseException | str | None = None,
    rejected_globals: Sequence[str] = (),
    comparison: Comparison | None = None,
) -> tuple[Verdict, tuple[Flag, ...]]:
    """Decide a cell's verdict and flags from everything known about it.

    Args:
        execution: How the runner process ended, as the backend observed it.
        result: The runner's parsed ``result.json``; None when it is missing or unreadable.
        unreadable: Why ``result`` is None (e.g. a JSON error), for the error message.
        requested: The requested limits (``Limits`` or its JSON form ``{memory, cpus, timeout}``).
        build_error: The environment could not be built (a ``BuildError`` or its message).
        infra_error: The backend failed (an ``InfraError`` or its message).
        rejected_globals: Globals outside ``trusted`` found by the artifact scan.
        comparison: The comparison with the reference; None gives ``not-compared`` to a cell
            that ran (the reference failed, or the comparison is decided later).

    Returns:
        The verdict and the flags beside it (in :class:`Flag` order, unique).
    """
    facts = _Facts(
        execution, result, unreadable, requested, build_error, infra_error, rejected_globals,
        comparison,
    )  # fmt: skip
    verdict, _ = _classify(facts)
    return verdict, _flags(facts, verdict)


def error_info(
    *,
    execution: Execution | None = None,
    result: Mapping[str, Any] | None = None,
    unreadable: str | None = None,
    requested: Limits | Mapping[str, Any] | None = None,
    build_error: BaseException | str | None = None,
    infra_error: BaseException | str | None = None,
    rejected_globals: Sequence[str] = (),
    comparison: Comparison | None = None,
) -> ErrorInfo | None:
    """Why the cell failed, for its record: an error type and a one-line message.

    Takes the same facts as :func:`decide` and explains the verdict it returns: the failing
    probe's exception (for ``predict``, the first failing method, named in the message), the
    signal that killed the process, the limit that stopped it, or what the runner left behind.

    Returns:
        The error, or None when the verdict is not a failure.
    """
    facts = _Facts(
        execution, result, unreadable, requested, build_error, infra_error, rejected_globals,
        comparison,
    )  # fmt: skip
    return _classify(facts)[1]


def decide_compared(
    *, cell: CellResult, comparison: Comparison | None
) -> tuple[Verdict, tuple[Flag, ...]]:
    """Settle the verdict of a recorded cell once the reference is known.

    A cell that failed on its own keeps its verdict and flags. A cell that ran (recorded as
    ``not-compared`` before the reference finished, or read back by ``--resume``) is decided from
    the comparison; the flags that depend on the reference are recomputed, the others kept.

    Args:
        cell: The cell as recorded after its own run.
        comparison: Its comparison with the reference; None when the reference did not run.

    Returns:
        The final verdict and flags.
    """
    if not cell.verdict.ran:
        return cell.verdict, cell.flags
    kept = {flag for flag in cell.flags if flag not in _COMPARISON_FLAGS}
    verdict = _compared(comparison)
    return verdict, _ordered(kept | _comparison_flags(comparison))


def exit_code(results: RunResults, fail_on: Iterable[Verdict]) -> int:
    """The process exit code of a run (DESIGN.md).

    Args:
        results: Every cell's final result.
        fail_on: The verdicts that fail the run (``[compare] fail_on``).

    Returns:
        1 when any cell's verdict is a finding in ``fail_on`` (findings win over infrastructure
        errors); else 3 when any cell hit ``infra-error``/``build-error``; else 0.
    """
    failing = frozenset(fail_on)
    verdicts = [cell.verdict for cell in results.cells]
    if any(v in failing and not v.is_infrastructure for v in verdicts):
        return EXIT_FINDING
    if any(v.is_infrastructure for v in verdicts):
        return EXIT_INFRA
    return EXIT_OK


# --- classification ----------------------------------------------------------------------------


def _classify(f: _Facts) -> tuple[Verdict, ErrorInfo | None]:
    """The verdict and the error that explains it: the table of DESIGN.md, top to bottom."""
    if f.infra_error is not None:
        return Verdict.INFRA_ERROR, error_of(f.infra_error, "InfraError")
    if f.build_error is not None:
        return Verdict.BUILD_ERROR, error_of(f.build_error, "BuildError")
    execution, result = f.execution, f.result
    stage = _running_probe(result)
    during = f" while the {stage} probe was running" if stage else ""
    if execution is not None and execution.timed_out:
        limit = f.requested.get("timeout")
        limit_text = f"its {seconds(limit)} time limit" if limit else "its time limit"
        return Verdict.TIMEOUT, ErrorInfo("Timeout", f"stopped at {limit_text}{during}")
    if execution is not None and execution.oom_killed:
        limit = f.requested.get("memory")
        limit_text = f"its {limit} memory limit" if limit else "its memory limit"
        return Verdict.OOM, ErrorInfo("OOMKilled", f"killed by {limit_text}{during}")
    if f.rejected_globals:
        names = ", ".join(f.rejected_globals)
        message = f"the artifact references globals outside `trusted`: {names}; never loaded"
        return Verdict.REJECTED, ErrorInfo("UntrustedGlobals", one_line(message))
    if result is None:
        why = f.unreadable or "result.json is missing"
        return Verdict.INFRA_ERROR, ErrorInfo(
            "NoResult", died_message(f"no result: {why}", execution)
        )
    probes = _mapping(result.get("probes"))
    refused = _refused_types(probes)
    if refused:
        # skops' own audit in the cell found types the screening had not trusted: nothing of
        # the file was constructed. Cell output can only make this cell look worse, never pass.
        message = f"skops' audit found types outside `trusted`: {', '.join(refused)}; never loaded"
        return Verdict.REJECTED, ErrorInfo("UntrustedTypes", one_line(message))
    for name, verdict in _STAGES:
        record = _mapping(probes.get(name))
        status = record.get("status")
        if status == ProbeStatus.RUNNING.value:
            return verdict, death(name, execution)
        if status == ProbeStatus.FAILED.value and verdict is not Verdict.INFRA_ERROR:
            return verdict, probe_error(name, record)
    reported = result.get("error")
    if reported:
        return Verdict.INFRA_ERROR, runner_error(reported)
    if not result.get("finished") and stage is None:
        message = died_message("the runner stopped between probes", execution)
        return Verdict.INFRA_ERROR, ErrorInfo("RunnerStopped", message)
    predict = _mapping(probes.get("predict"))
    if predict.get("status") != ProbeStatus.OK.value or not isinstance(
        result.get("outputs"), Mapping
    ):
        reason = predict.get("reason") or f"status {predict.get('status', 'absent')}"
        message = one_line(f"the runner reported no predictions (predict probe: {reason})")
        return Verdict.INFRA_ERROR, ErrorInfo("NoOutputs", message)
    return _compared(f.comparison), None


def _compared(comparison: Comparison | None) -> Verdict:
    if comparison is None:
        return Verdict.NOT_COMPARED
    if comparison.drifted:
        return Verdict.DRIFT
    return Verdict.IDENTICAL if comparison.identical else Verdict.EQUIVALENT


def _refused_types(probes: Mapping[str, Any]) -> list[str]:
    """The types skops refused in the cell's load probe (only when that probe failed)."""
    load = _mapping(probes.get("load"))
    if load.get("status") != ProbeStatus.FAILED.value:
        return []
    return [str(name) for name in _list(load.get("refused_types"))][:50]


def _running_probe(result: Mapping[str, Any] | None) -> str | None:
    """The probe the process died in (status still ``running``), if any."""
    probes = _mapping((result or {}).get("probes"))
    for name, record in probes.items():
        if _mapping(record).get("status") == ProbeStatus.RUNNING.value:
            return str(name)
    return None


# --- flags -------------------------------------------------------------------------------------


def _flags(f: _Facts, verdict: Verdict) -> tuple[Flag, ...]:
    probes = _mapping((f.result or {}).get("probes"))
    flags: set[Flag] = set()
    for warning in map(_mapping, _list(_mapping(probes.get("load")).get("warnings"))):
        # scikit-learn<1.3 said the same thing with a plain UserWarning; the runner parses the
        # versions out of both, so the versions, not the category, make it a version warning.
        is_version = warning.get("category") == "InconsistentVersionWarning" or bool(
            warning.get("original_sklearn_version")
        )
        flags.add(Flag.VERSION_WARNING if is_version else Flag.LOAD_WARNING)
    if _list(_mapping(probes.get("train")).get("warnings")):
        flags.add(Flag.TRAIN_WARNING)
    if _list(_mapping(probes.get("predict")).get("warnings")):
        flags.add(Flag.PREDICT_WARNING)
    roundtrip = _mapping(probes.get("roundtrip"))
    status = roundtrip.get("status")
    # "running" means the process died inside the round trip; under a timeout or OOM the verdict
    # already says why, and "dump or re-load raised" would not be true.
    if status == ProbeStatus.FAILED.value or (status == ProbeStatus.RUNNING.value and verdict.ran):
        flags.add(Flag.ROUNDTRIP_FAILED)
    elif status == ProbeStatus.OK.value and roundtrip.get("identical") is False:
        flags.add(Flag.ROUNDTRIP_DIFFERS)
    parity = _mapping(probes.get("parity"))
    if parity.get("status") == ProbeStatus.OK.value and _list(parity.get("differs")):
        flags.add(Flag.PARITY_DIFFERS)
    enforced = f.execution.enforced if f.execution is not None else {}
    if _not_enforced(f.requested, enforced):
        flags.add(Flag.LIMITS_NOT_ENFORCED)
    if verdict.ran:
        flags |= _comparison_flags(f.comparison)
    return _ordered(flags)


def _not_enforced(requested: Mapping[str, Any], enforced: Mapping[str, Any]) -> bool:
    """A limit was requested and the backend says no mechanism enforced it."""
    asked = {name for name in _LIMIT_NAMES if requested.get(name) is not None}
    return any(name in enforced and enforced[name] is None for name in asked)


def _comparison_flags(comparison: Comparison | None) -> set[Flag]:
    if comparison is None:
        return set()
    flags = set()
    if comparison.methods_differ:
        flags.add(Flag.METHODS_DIFFER)
    if comparison.latency is not None and comparison.latency.exceeded:
        flags.add(Flag.SLOWER)
    if comparison.memory is not None and comparison.memory.exceeded:
        flags.add(Flag.HEAVIER)
    if comparison.contract is not None and comparison.contract.differs:
        flags.add(Flag.CONTRACT_CHANGED)
    return flags


def _ordered(flags: Iterable[Flag]) -> tuple[Flag, ...]:
    present = set(flags)
    return tuple(flag for flag in Flag if flag in present)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
