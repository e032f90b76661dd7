"""Peak resident memory of this process, measured so that a child process reports its own.

``getrusage(RUSAGE_SELF).ru_maxrss`` is the wrong tool for a benchmark's child process on Linux:
the kernel carries the parent's high-water mark across ``fork`` and ``exec``, so a child started
from a parent holding 6 GB reports at least 6 GB whatever it does itself. The high-water mark of
the process's own address space (``VmHWM`` in ``/proc/self/status``) starts afresh at ``exec``.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import resource
except ImportError:  # not on Windows; /proc/self/status is read first anyway
    resource = None

__all__ = ["peak_rss_bytes", "peak_rss_gb", "reset_peak", "rss_bytes"]

_STATUS = Path("/proc/self/status")


def _status_kb(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` in bytes; None where there is no such file (not Linux)."""
    if not _STATUS.is_file():
        return None
    for line in _STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return None


def rss_bytes() -> int | None:
    """The memory this process holds resident now; None where the system does not say (not Linux)."""
    return _status_kb("VmRSS")


def reset_peak() -> bool:
    """Lower this process's high-water mark to what it holds now, so that :func:`peak_rss_bytes` measures
    the block that follows; False where the kernel offers no reset (Linux's ``/proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak resident set size to the current one
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    """The most resident memory this process has held since it started (its own ``exec``)."""
    peak = _status_kb("VmHWM")
    if peak is not None:
        return peak
    # elsewhere: the best the OS offers (macOS reports bytes, Linux kB)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def peak_rss_gb() -> float:
    """:func:`peak_rss_bytes` in GiB."""
    return peak_rss_bytes() / 2**30
