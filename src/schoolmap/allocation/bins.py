"""Cells in grid squares, and the engine's streamed passes over them, on every core.

The exact engine (:mod:`schoolmap.allocation.optimal`) never stores an n × m matrix: it walks
the cells square by square and bounds each school's priced distance for a whole square at once
(:mod:`schoolmap._kernels.candidates`). The squares come in blocks, and the blocks are
independent, so a pass splits them into contiguous runs of blocks, one per task, and runs the
tasks on threads (the kernels release the GIL). The results are put together in block order, so
they are the serial kernel's to the bit, whatever the number of threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from schoolmap._kernels.bins import square_order
from schoolmap._kernels.candidates import priced_candidates, priced_violations

__all__ = ["cell_bins", "grouped_cell_bins", "stream_threads", "streamed_candidates",
           "streamed_violations"]

MIN_CELLS_PER_TASK = 25_000  # below this a pass is not split (a task costs ~0.1 ms to start)
TASKS_PER_THREAD = 3  # blocks differ in work (dense cores): more tasks than threads balance it


def cell_bins(xy: np.ndarray, per_bin: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells grouped by grid square, about ``per_bin`` cells a square on average.

    Returns ``bin_cells`` (n,) — cell indices in square order — and ``bin_ptr`` (n_squares + 1,):
    the cells of square b are ``bin_cells[bin_ptr[b]:bin_ptr[b + 1]]`` (occupied squares only).
    Squares come in blocks of 4 × 4 squares (see :func:`grouped_cell_bins`).

    >>> cells, ptr = cell_bins(np.array([[0.0, 0.0], [5.0, 5.0], [0.5, 0.5]]), 1)
    >>> cells.tolist(), ptr.tolist()
    ([0, 2, 1], [0, 2, 3])
    """
    bin_cells, bin_ptr, _ = grouped_cell_bins(xy, per_bin)
    return bin_cells, bin_ptr


def grouped_cell_bins(xy: np.ndarray, per_bin: int,
                      group_side: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`cell_bins`, with the squares ordered by blocks of ``group_side`` × ``group_side``
    squares, and ``group_ptr`` (n_blocks + 1,): the squares of block g are
    ``group_ptr[g]:group_ptr[g + 1]`` (occupied blocks only). The streamed kernels screen the
    schools once per block and then per square among the block's survivors."""
    n = len(xy)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64)
    xy = np.ascontiguousarray(xy, dtype=np.float64)
    span = np.ptp(xy, axis=0)
    side = max(float(np.sqrt(max(span[0] * span[1], 1.0) * per_bin / n)), 1e-9)
    return square_order(xy, side, int(group_side))


def stream_threads() -> int:
    """Threads a streamed pass may use: the cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _runs(bin_ptr: np.ndarray, group_ptr: np.ndarray, threads: int) -> list[tuple[int, int]]:
    """Contiguous runs of blocks ``(g0, g1)`` holding about equal numbers of cells."""
    n_groups = len(group_ptr) - 1
    n = int(bin_ptr[-1])
    tasks = min(threads * TASKS_PER_THREAD, n // MIN_CELLS_PER_TASK, n_groups)
    if threads <= 1 or tasks <= 1:
        return [(0, n_groups)]
    first_cell = bin_ptr[group_ptr[:-1]]  # the first cell (in bin order) of every block
    cuts = np.searchsorted(first_cell, np.linspace(0, n, tasks + 1)[1:-1], side="left")
    edges = np.unique(np.r_[0, cuts, n_groups])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _run_all(job, runs: list[tuple[int, int]], threads: int) -> list:
    if len(runs) == 1:
        return [job(*runs[0])]
    with ThreadPoolExecutor(max_workers=min(threads, len(runs))) as pool:
        return list(pool.map(lambda r: job(*r), runs))


def _per_cell(base, runs, parts, item: int, bin_cells, bin_ptr, group_ptr) -> np.ndarray:
    """A per-cell array put together from the runs: each run's values for its own cells."""
    out = np.asarray(base, dtype=np.float64).copy()
    for (g0, g1), part in zip(runs, parts, strict=True):
        cells = bin_cells[bin_ptr[group_ptr[g0]]:bin_ptr[group_ptr[g1]]]
        out[cells] = part[item][cells]
    return out


def _joined(parts, count: int) -> tuple[np.ndarray, ...]:
    return tuple(np.concatenate([p[t] for p in parts]) for t in range(count))


def streamed_candidates(cell_xy, bin_cells, bin_ptr, bin_box, group_ptr, school_xy, price,
                        unserved_cost, supply, margin, upper, pnorm, threads: int | None = None):
    """:func:`~schoolmap._kernels.candidates.priced_candidates` over runs of blocks on
    ``threads`` threads (default :func:`stream_threads`); the same arrays, bit for bit."""
    threads = stream_threads() if threads is None else threads
    runs = _runs(bin_ptr, group_ptr, threads)

    def job(g0, g1):
        return priced_candidates(cell_xy, bin_cells, bin_ptr, bin_box, group_ptr[g0:g1 + 1],
                                 school_xy, price, unserved_cost, supply, margin, upper, pnorm)

    parts = _run_all(job, runs, threads)
    if len(parts) == 1:
        return parts[0]
    return (*_joined(parts, 3),
            _per_cell(unserved_cost, runs, parts, 3, bin_cells, bin_ptr, group_ptr))


def streamed_violations(cell_xy, bin_cells, bin_ptr, bin_box, group_ptr, school_xy, price, dual,
                        upper, tol, pnorm, keep, supply, unserved_cost,
                        threads: int | None = None):
    """:func:`~schoolmap._kernels.candidates.priced_violations` over runs of blocks on
    ``threads`` threads (default :func:`stream_threads`); the same results, bit for bit."""
    threads = stream_threads() if threads is None else threads
    runs = _runs(bin_ptr, group_ptr, threads)

    def job(g0, g1):
        return priced_violations(cell_xy, bin_cells, bin_ptr, bin_box, group_ptr[g0:g1 + 1],
                                 school_xy, price, dual, upper, tol, pnorm, keep, supply,
                                 unserved_cost)

    parts = _run_all(job, runs, threads)
    if len(parts) == 1:
        return parts[0]
    return (*_joined(parts, 3), max(float(p[3]) for p in parts), sum(int(p[4]) for p in parts),
            _per_cell(dual, runs, parts, 5, bin_cells, bin_ptr, group_ptr))
