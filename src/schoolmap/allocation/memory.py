"""The exact engine's memory guard: its peak estimated before any work, and a clear error
(:class:`~schoolmap.errors.MemoryLimitError`) instead of an out-of-memory kill."""

from __future__ import annotations

import os

import numpy as np

from schoolmap._kernels.transport import ladder_size
from schoolmap.errors import MemoryLimitError, ValidationError

__all__ = ["available_memory", "check_memory", "estimate_assign_bytes", "ladder_bytes"]

# bytes per cell and per candidate pair at the peak of a solve, measured on the benchmark panel
# (nearest-school lists, candidate and CSR arrays, the kernel's copies, the certificate's bins)
_BYTES_PER_CELL = 900.0
_BYTES_PER_PAIR = 160.0
_PAIRS_PER_CELL = 12.0


def estimate_assign_bytes(n_cells: int, n_schools: int) -> float:
    """Estimated peak memory (bytes above the inputs) of
    :func:`schoolmap.allocation.optimal.assign` on this many cells.

    >>> round(estimate_assign_bytes(1_000_000, 1_000) / 1e9, 1)
    3.0
    """
    # the kernel's workspace: arc tables and heap, and the arcs' ladders (at most 128 MB unless m
    # is huge) — one per call, shared by its levels and rounds (solver_workspace)
    school_graph = 6 * 8.0 * (n_schools + 2) ** 2 + ladder_bytes(n_schools)
    return n_cells * (_BYTES_PER_CELL + _PAIRS_PER_CELL * _BYTES_PER_PAIR) + school_graph


def ladder_bytes(n_schools: int) -> float:
    """Bytes of the transport kernel's arc ladders for this many schools (see
    :mod:`schoolmap._kernels.transport`): 16 bytes per rung on (m + 1)² arcs, plus counts."""
    return (16.0 * ladder_size(n_schools) + 17.0) * (n_schools + 1) ** 2


def available_memory() -> float:
    """Bytes of memory available now (``MemAvailable``; the physical size where unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def check_memory(needed: float, memory_limit: float | None, what: str) -> None:
    """Raise :class:`MemoryLimitError` before work starts if ``needed`` bytes exceed the limit.

    ``memory_limit`` in bytes; ``None``: 60 % of the memory available now.
    """
    if memory_limit is None:
        limit = 0.6 * available_memory()
        source = "60 % of the memory available now"
    else:
        if isinstance(memory_limit, bool) or not np.isfinite(float(memory_limit)) \
                or float(memory_limit) <= 0:
            raise ValidationError([f"memory_limit must be a number of bytes > 0, got "
                                   f"{memory_limit!r}"], "memory limit")
        limit = float(memory_limit)
        source = "memory_limit"
    if needed > limit:
        raise MemoryLimitError(
            f"{what} needs about {needed / 1e9:,.2f} GB at its peak, more than the "
            f"{limit / 1e9:,.2f} GB allowed ({source}). Allow more with memory_limit (bytes), "
            f"free memory (close other programs), or split the district or use coarser cells")
