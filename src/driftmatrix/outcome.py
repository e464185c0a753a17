"""The one outcome vocabulary of driftmatrix.

Every outcome a cell can have is a value of an enum defined here, never a boolean on a record:
the verdict (exactly one per cell, ordered by severity), the flags beside it (never hiding it),
and the status of each probe the in-cell runner reports. Reports, exit codes and the JSON files
all speak this vocabulary; ``decide`` in :mod:`driftmatrix.verdict` is the one place that picks a
verdict.
"""

from __future__ import annotations

import enum


class Verdict(enum.Enum):
    """A cell's single verdict. Declaration order is severity order, most severe first."""

    INFRA_ERROR = "infra-error"
    BUILD_ERROR = "build-error"
    TIMEOUT = "timeout"
    OOM = "oom"
    REJECTED = "rejected"
    IMPORT_ERROR = "import-error"
    LOAD_ERROR = "load-error"
    PREDICT_ERROR = "predict-error"
    # Not in DESIGN.md's table: the cell loads and predicts, but the reference cell failed, so
    # there is nothing to compare it with. Calling it "equivalent" or "identical" would be a lie.
    NOT_COMPARED = "not-compared"
    DRIFT = "drift"
    EQUIVALENT = "equivalent"
    IDENTICAL = "identical"

    @property
    def severity(self) -> int:
        """Larger is more severe; ``IDENTICAL`` is 0."""
        members = list(Verdict)
        return len(members) - 1 - members.index(self)

    @property
    def is_infrastructure(self) -> bool:
        """True when the tool or backend failed rather than the model (exit code 3)."""
        return self in (Verdict.INFRA_ERROR, Verdict.BUILD_ERROR)

    @property
    def ran(self) -> bool:
        """True when the cell produced outputs that can be compared."""
        return self in (Verdict.DRIFT, Verdict.EQUIVALENT, Verdict.IDENTICAL, Verdict.NOT_COMPARED)

    @classmethod
    def parse(cls, text: str) -> Verdict:
        """Return the verdict spelled ``text``; raises ``ValueError`` otherwise."""
        for member in cls:
            if member.value == text:
                return member
        raise ValueError(f"unknown verdict {text!r}")


#: The verdicts that fail a run unless ``[compare] fail_on`` says otherwise.
DEFAULT_FAIL_ON: tuple[Verdict, ...] = (
    Verdict.DRIFT,
    Verdict.PREDICT_ERROR,
    Verdict.LOAD_ERROR,
    Verdict.IMPORT_ERROR,
    Verdict.REJECTED,
    Verdict.OOM,
    Verdict.TIMEOUT,
)


class Flag(enum.Enum):
    """Facts shown beside a verdict; a flag never changes or hides the verdict."""

    VERSION_WARNING = "version-warning"  # scikit-learn's InconsistentVersionWarning on load
    LOAD_WARNING = "load-warning"  # any other warning while loading
    TRAIN_WARNING = "train-warning"  # train mode: a warning while the recipe fitted the model
    PREDICT_WARNING = "predict-warning"  # a warning while predicting on the golden set
    ROUNDTRIP_DIFFERS = "roundtrip-differs"  # dump -> load in the cell changed the outputs
    ROUNDTRIP_FAILED = "roundtrip-failed"  # dump or re-load in the cell raised
    # The parity probe: the model converted with skl2onnx and run by onnxruntime in the same cell
    # predicts other labels, or floats more than 1e-5 apart (probes/parity.py), than scikit-learn.
    # A measurement of the conversion, not of the artifact: it never changes the verdict.
    PARITY_DIFFERS = "parity-differs"
    SLOWER = "slower"
    HEAVIER = "heavier"
    CONTRACT_CHANGED = "contract-changed"
    LIMITS_NOT_ENFORCED = "limits-not-enforced"
    METHODS_DIFFER = "methods-differ"  # the cell offers other prediction methods than the reference

    @classmethod
    def parse(cls, text: str) -> Flag:
        """Return the flag spelled ``text``; raises ``ValueError`` otherwise."""
        for member in cls:
            if member.value == text:
                return member
        raise ValueError(f"unknown flag {text!r}")


class ProbeStatus(enum.Enum):
    """What the in-cell runner says about one probe (see docs/runner-protocol.md)."""

    OK = "ok"  # the probe ran and the thing it tests worked
    FAILED = "failed"  # the thing under test raised (an import, a load, a predict)
    SKIPPED = "skipped"  # not applicable, or an earlier probe failed
    RUNNING = "running"  # started but never finished: the process died inside it


class CaseOutcome(enum.Enum):
    """What one bad-input case of the ``contract`` probe did (docs/runner-protocol.md)."""

    ERROR = "error"  # every prediction method raised: a clear exception
    OUTPUT = "output"  # every method answered silently (its output schema is checked)
    MIXED = "mixed"  # some methods raised, others answered
    NOT_APPLICABLE = "not-applicable"  # the golden set offers nothing to change for this case
    CRASH = "crash"  # the process died inside the case (read by the host, never written)
