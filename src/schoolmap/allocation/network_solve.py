"""The road door's solves (:func:`schoolmap.allocation.network.network_transport`): the exact
solve over the known pairs by column generation (:func:`solve_priced`), and its first solve's
start, seat prices estimated on grid squares of cells (:func:`coarse_prices`). Costs in metres.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from schoolmap._kernels.network import bin_pairs, sort_pairs
from schoolmap.allocation.optimal import TransportResult, cell_bins, transport

__all__ = ["COARSE_CELLS", "COARSE_MIN", "PRICE_SLACK", "SLACK_EST", "coarse_prices",
           "is_flow", "near_pairs", "solve_priced"]

PRICE_SLACK = 0.25
COARSE_CELLS = 16
COARSE_MIN = 2_000
SLACK_EST = 0.5


def coarse_prices(xy: np.ndarray, supply: np.ndarray, cap: np.ndarray, rows: np.ndarray,
                   cols: np.ndarray, vals: np.ndarray, unserved_cost: Any, tol: float,
                   say: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray] | None:
    """Estimated seat prices (m,) and cell duals (n,: their square's), metres, for the first
    solve, from the same problem on cells grouped by grid square (``COARSE_CELLS`` a square;
    recursively, while over ``COARSE_MIN`` squares): a square's students, its known pairs'
    supply-weighted mean cost to each school.

    A start only (:func:`schoolmap.optimal.transport`'s ``start``): the answer and its proof do
    not depend on it. ``None`` below ``COARSE_MIN`` squares or with per-cell unserved costs.
    """
    n, m = len(supply), len(cap)
    if n < COARSE_CELLS * COARSE_MIN or np.ndim(unserved_cost) or not len(rows):
        return None
    bin_cells, bin_ptr = cell_bins(xy, COARSE_CELLS)
    nb = len(bin_ptr) - 1
    bin_of = np.empty(n, np.int64)
    bin_of[bin_cells] = np.repeat(np.arange(nb), np.diff(bin_ptr))
    if len(rows) > 1 and not bool(np.all(rows[1:] >= rows[:-1])):
        rows, cols, vals, _ = sort_pairs(rows.astype(np.int32), cols.astype(np.int32), vals, n,
                                         np.inf)
    row_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=row_ptr[1:])
    b_rows, b_cols, b_cost = bin_pairs(bin_cells, bin_ptr, row_ptr,
                                       np.ascontiguousarray(cols), np.ascontiguousarray(vals),
                                       supply, m)
    b_supply = np.bincount(bin_of, weights=supply, minlength=nb)
    weight = np.bincount(bin_of, weights=supply + 1e-9, minlength=nb)
    b_xy = np.column_stack([np.bincount(bin_of, weights=(supply + 1e-9) * xy[:, k],
                                        minlength=nb) for k in (0, 1)]) / weight[:, None]
    coarser = coarse_prices(b_xy, b_supply, cap, b_rows, b_cols, b_cost, unserved_cost, tol,
                             say)
    say(f"  estimating seat prices on {nb:,} squares of cells ({len(b_rows):,} pairs)")
    t0 = time.process_time()
    r = transport(b_supply, cap, sp.coo_matrix((b_cost, (b_rows, b_cols)), shape=(nb, m)),
                  unserved_cost=unserved_cost, tol=tol,
                  start=None if coarser is None else coarser[0])
    say(f"  … {r.certificate['paths']:,} paths, {time.process_time() - t0:.1f} s CPU")
    return r.seat_price, r.cell_dual[bin_of]


def solve_priced(supply: np.ndarray, cap: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                  vals: np.ndarray, unserved_cost: Any, tol: float,
                  start: TransportResult | tuple[np.ndarray, np.ndarray] | None,
                  max_pricing: int,
                  say: Callable[[str], None]) -> tuple[TransportResult, int, int, bool]:
    """Optimal on all the known pairs, solving on as few as the prices ask (column generation).

    The first solve takes every pair without ``start`` (measured: starting it cold on fewer
    and pricing the rest in was slower), or, from estimated seat prices and cell duals
    (:func:`coarse_prices`), the pairs whose reduced cost at them is at most ``SLACK_EST`` ×
    the median known pair (at 250,000 cells: 1.27M of 2.96M pairs, first solve 1.6 s CPU instead
    of 2.0 s). Later ones (``start`` the last round's answer) take the pairs whose reduced
    cost ``c_ij + v_j − u_i`` at the last prices is at most ``PRICE_SLACK`` × the median trip,
    and the last answer's flows; after each solve every known pair left out is priced exactly,
    and those below −tol come in with the ones near zero, until none does — then the answer is
    optimal over all known pairs (the solve's own certificate covers the ones in it), or
    ``max_pricing`` solves pass (the last flag: unproven). At 250,000 cells × 250 schools the
    solve sees a fraction of the known pairs: its memory and paths grow with what it sees.

    Returns the answer, the pairs in its solve, the solves made and whether the limit was hit.
    """
    n, m = len(supply), len(cap)
    if isinstance(start, tuple):  # estimated prices and duals: the pairs near them (metres)
        slack = SLACK_EST * float(np.median(vals)) if len(vals) else 0.0
        active = vals + start[0][cols] - start[1][rows] <= slack
        start = start[0]
    elif not isinstance(start, TransportResult):  # the first solve
        active = np.ones(len(rows), bool)
    else:
        active = near_pairs(rows, cols, vals, start)
        active |= is_flow(rows, cols, start, n, m)
    r = start
    for solve in range(1, max_pricing + 1):
        matrix = sp.coo_matrix((vals[active], (rows[active], cols[active])), shape=(n, m))
        t0 = time.process_time()
        r = transport(supply, cap, matrix, unserved_cost=unserved_cost, tol=tol, start=r)
        del matrix
        say(f"  solve {solve}: {r.certificate['paths']:,} paths on {int(active.sum()):,} "
            f"pairs, {time.process_time() - t0:.1f} s CPU")
        out = r.seat_price[cols] - r.cell_dual[rows]
        out += vals  # reduced cost of every known pair
        bad = int(np.count_nonzero((out < -tol) & ~active))
        if not bad:
            return r, int(active.sum()), solve, False
        say(f"  {bad:,} known pairs priced in (solve {solve} saw {int(active.sum()):,})")
        active |= near_pairs(rows, cols, vals, r, out)
    return r, int(active.sum()), max_pricing, True


def is_flow(rows: np.ndarray, cols: np.ndarray, r: TransportResult, n: int,
             m: int) -> np.ndarray:
    """Which pairs (``rows``, ``cols``) carry a flow of ``r``, for ``n`` cells × ``m`` schools.

    Most cells send their students to one school: each pair is checked against its cell's
    first flow (one gather), and only pairs of cells split between schools are looked up in
    their sorted flows (``np.isin`` sorted every known pair: seconds at millions).
    """
    cell, school = r.cell.astype(np.int64), r.school.astype(np.int64)
    if len(cell) > 1 and not bool(np.all(cell[1:] >= cell[:-1])):  # the engine's are by cell
        order = np.argsort(cell, kind="stable")
        cell, school = cell[order], school[order]
    first = np.full(n, -1, np.int64)
    first[cell[::-1]] = school[::-1]  # the last write of a cell is its first flow
    hit = first[rows] == cols
    split = np.zeros(n, bool)
    split[cell[1:][cell[1:] == cell[:-1]]] = True
    look = np.flatnonzero(~hit & split[rows])
    if len(look):
        at = split[cell]
        flows = np.sort(cell[at] * m + school[at])
        key = rows[look].astype(np.int64) * m + cols[look]
        hit[look] = flows[np.minimum(np.searchsorted(flows, key), len(flows) - 1)] == key
    return hit


def near_pairs(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, r: TransportResult,
          reduced: np.ndarray | None = None) -> np.ndarray:
    """Known pairs whose reduced cost at ``r``'s prices is at most the slack (metres)."""
    if reduced is None:
        reduced = vals + r.seat_price[cols] - r.cell_dual[rows]
    used = r.cost[r.students > 0]
    slack = PRICE_SLACK * float(np.median(used)) if len(used) else 0.0
    return reduced <= slack
