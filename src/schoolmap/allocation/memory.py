"""The exact engine's memory guard: its peak estimated before any work, and a clear error
(:class:`~schoolmap.errors.MemoryLimitError`) instead of an out-of-memory kill."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from schoolmap._kernels.transport import ladder_size, solver_workspace
from schoolmap.errors import MemoryLimitError, ValidationError

__all__ = ["available_memory", "borrowed_workspace", "check_memory", "estimate_assign_bytes",
           "ladder_bytes", "shared_solver_memory"]

MAX_SHARED = 2  # workspaces of one size kept inside shared_solver_memory (two solves at once)
_LOCK = threading.Lock()
_ACTIVE = 0  # shared_solver_memory blocks open (any thread)
_FREE: dict[int, list[tuple[np.ndarray, ...]]] = {}  # free workspaces by number of schools

# bytes per cell and per candidate pair at the peak of a solve, measured on the benchmark panel
# (nearest-school lists, candidate and CSR arrays, the kernel's copies, the certificate's bins)
_BYTES_PER_CELL = 900.0
_BYTES_PER_PAIR = 160.0
_PAIRS_PER_CELL = 12.0


def estimate_assign_bytes(n_cells: int, n_schools: int) -> float:
    """Estimated peak memory (bytes above the inputs) of
    :func:`schoolmap.allocation.optimal.assign` on this many cells.

    >>> round(estimate_assign_bytes(1_000_000, 1_000) / 1e9, 1)
    3.4
    """
    # the kernel's workspace: arc tables and heap, and the arcs' ladders (at most 512 MB unless m
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



@contextmanager
def shared_solver_memory() -> Iterator[None]:
    """Within this block, exact solves with the same number of schools share kernel workspaces
    (:func:`~schoolmap._kernels.transport.solver_workspace`, lent by :func:`borrowed_workspace`)
    instead of each allocating its own: a caller that solves one district many times (siting
    tries site after site, two at a time) faults their pages in once. At 2,121 schools a
    workspace is ~430 MB, faulted in at ~1 ms per MB on a virtual machine. At most
    ``MAX_SHARED`` workspaces of one size are kept, and only until the outermost block ends.

    >>> with shared_solver_memory():
    ...     with borrowed_workspace(40) as a:
    ...         pass
    ...     with borrowed_workspace(40) as b:
    ...         pass
    >>> a is b
    True
    >>> with borrowed_workspace(40) as c:
    ...     pass
    >>> c is a
    False
    """
    global _ACTIVE
    with _LOCK:
        _ACTIVE += 1
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE -= 1
            if _ACTIVE == 0:
                _FREE.clear()


@contextmanager
def borrowed_workspace(n_schools: int) -> Iterator[tuple[np.ndarray, ...]]:
    """A kernel workspace for one solve with this many schools (its contents do not matter):
    inside :func:`shared_solver_memory` one kept from an earlier solve if there is one free,
    handed back after; else a new one."""
    with _LOCK:
        free = _FREE.get(n_schools) if _ACTIVE else None
        work = free.pop() if free else None
    if work is None:
        work = solver_workspace(n_schools)
    try:
        yield work
    finally:
        with _LOCK:
            if _ACTIVE:
                if n_schools not in _FREE:  # one size at a time: the last one asked for
                    _FREE.clear()
                    _FREE[n_schools] = []
                if len(_FREE[n_schools]) < MAX_SHARED:
                    _FREE[n_schools].append(work)
