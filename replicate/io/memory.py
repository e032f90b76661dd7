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

__all__ = ["peak_rss_bytes", "peak_rss_gb"]


def peak_rss_bytes() -> int:
    """The most resident memory this process has held since it started (its own ``exec``)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    # elsewhere: the best the OS offers (macOS reports bytes, Linux kB)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def peak_rss_gb() -> float:
    """:func:`peak_rss_bytes` in GiB."""
    return peak_rss_bytes() / 2**30
