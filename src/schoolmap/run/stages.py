"""Time and peak memory of each stage of a run (written to ``stages.json`` beside the results).

A :class:`StageTimer` is told where each stage begins (``start``); a stage ends where the next
begins or at ``stop``. For every stage it keeps the wall time (s), the CPU time of the process
(s), the resident memory at its end and the peak resident memory *within* the stage (MB).

The peak within a stage comes from Linux's ``VmHWM`` in ``/proc/self/status``, reset at the start
of each stage by writing ``5`` to ``/proc/self/clear_refs``; where that is not possible (other
systems, a locked-down ``/proc``) the figure is the process's peak since it began
(``resource.getrusage``), and ``peak_scope`` says so (``"stage"`` or ``"process"``).

The figures are measurements, so they differ from run to run: they are written to their own
file, ``stages.json``, and never to ``summary.json`` or the tables, which stay byte-identical
for identical inputs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["StageTimer"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(key: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``), None if unreadable."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark of this process; False where that is not possible."""
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _process_peak_mb() -> float:
    """Peak resident memory of this process since it began (MB)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # kilobytes on Linux, bytes on macOS
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


class StageTimer:
    """Wall time, CPU time and peak memory of consecutive stages of one run.

    Examples
    --------
    >>> timer = StageTimer()
    >>> timer.start("read district")
    >>> timer.start("allocation: primary")   # ends "read district"
    >>> timer.stop()
    >>> [row["stage"] for row in timer.rows]
    ['read district', 'allocation: primary']
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._name: str | None = None
        self._wall0 = 0.0
        self._cpu0 = 0.0
        self._scope = "process"
        self._began = time.perf_counter()

    @property
    def current(self) -> str | None:
        """Name of the stage running now (None between stages)."""
        return self._name

    def start(self, name: str) -> None:
        """End the running stage (if any) and begin stage ``name``."""
        self.stop()
        self._name = name
        self._scope = "stage" if _reset_peak() and _status_kb("VmHWM") is not None else "process"
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()

    def stop(self) -> None:
        """End the running stage and record it (nothing when no stage runs)."""
        if self._name is None:
            return
        wall = time.perf_counter() - self._wall0
        cpu = time.process_time() - self._cpu0
        hwm = _status_kb("VmHWM") if self._scope == "stage" else None
        rss = _status_kb("VmRSS")
        self.rows.append({
            "stage": self._name,
            "seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3),
            "rss_mb": None if rss is None else round(rss / 1024.0, 1),
            "peak_rss_mb": round(hwm / 1024.0 if hwm is not None else _process_peak_mb(), 1),
            "peak_scope": "stage" if hwm is not None else "process",
        })
        self._name = None

    def summary(self) -> dict[str, Any]:
        """The content of ``stages.json``: every stage, the total and the run's peak memory.

        ``total_seconds`` is the wall time since the timer was made; ``peak_rss_mb`` the
        largest peak of any stage (or the process's peak where stages have no own peak).
        """
        peaks = [row["peak_rss_mb"] for row in self.rows]
        return {
            "stages": list(self.rows),
            "total_seconds": round(time.perf_counter() - self._began, 3),
            "peak_rss_mb": max(peaks) if peaks else round(_process_peak_mb(), 1),
            "cpus": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        }
