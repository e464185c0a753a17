"""Peak resident memory of each probe, measured by the cell process itself.

The runner wraps every probe in :func:`start` / :func:`stop`, so each probe record carries the
peak resident set size (RSS) reached while that probe ran (``memory`` in the record).

How, and why this way:

* **Linux: ``VmHWM``, reset per probe.** The kernel keeps a high-water mark of the process's
  RSS (``VmHWM`` in ``/proc/self/status``), updated before RSS ever goes down, so a short spike
  that was freed again is still counted. Writing ``5`` to ``/proc/self/clear_refs`` (Linux 4.0+)
  resets the mark to the current RSS: reset before a probe, read after it, and the number is
  that probe's own peak. Measured here: it works as root, as an unprivileged user (uid 65534) and
  in driftmatrix's hardened container (read-only root file system, all capabilities dropped,
  user 65534): ``/proc`` is not part of the read-only root, and a process may always reset its
  own counters.
* **Fallback: ``getrusage().ru_maxrss``** where ``clear_refs`` cannot be written (kernels before
  4.0, sandboxes that hide it) or does not exist (macOS). It is the peak since the process
  started and cannot be reset, so a probe's number is the peak *so far*: never lower than an
  earlier probe's. The record says which method was used (``method``), and the host never
  compares numbers taken with different methods. macOS reports bytes; converted to KiB.
* Where neither exists (Windows) a probe simply has no ``memory``.

Numbers are KiB, as the kernel reports them: ``{"method", "start_kib", "peak_kib"}``, where
``start_kib`` is the RSS when the probe started (None when ``/proc`` is not there).
"""

from __future__ import annotations

import sys

METHOD_HWM = "VmHWM"
METHOD_MAXRSS = "ru_maxrss"

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
# "5" resets only the peak RSS; "1".."4" would clear page-table bits other tools rely on.
_RESET_PEAK = "5"

#: False once resetting failed: it will not work later in the same process either.
_reset_works = True


def start():
    """Reset the peak (where possible) before a probe; pass the result to :func:`stop`."""
    global _reset_works
    if _reset_works:
        try:
            with open(_CLEAR_REFS, "w") as handle:
                handle.write(_RESET_PEAK)
        except (OSError, ValueError):
            _reset_works = False
    start_kib = _status_kib("VmRSS:")
    if _reset_works and start_kib is not None:
        return METHOD_HWM, start_kib
    return METHOD_MAXRSS, start_kib


def stop(started):
    """The probe's ``memory`` record, or None when this platform cannot tell.

    Args:
        started: What :func:`start` returned before the probe.
    """
    method, start_kib = started
    peak = _status_kib("VmHWM:") if method == METHOD_HWM else _maxrss_kib()
    if peak is None:
        return None
    if start_kib is not None:
        # The kernel's RSS counters are per-CPU approximations: two reads can disagree by a few
        # pages. A peak below where the probe started is such a disagreement, never a fact.
        peak = max(peak, start_kib)
    return {"method": method, "start_kib": start_kib, "peak_kib": peak}


def _status_kib(field: str):
    """A ``kB`` line of /proc/self/status as an int, or None."""
    try:
        with open(_STATUS) as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _maxrss_kib():
    try:
        import resource
    except ImportError:  # Windows
        return None
    try:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (OSError, ValueError):
        return None
    # Linux and the BSDs report KiB; macOS reports bytes.
    return int(peak // 1024) if sys.platform == "darwin" else int(peak)
