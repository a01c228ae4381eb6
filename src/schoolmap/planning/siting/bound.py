"""The proven lower bound of the siting planner: the fewest new schools any plan needs.

Two bounds, the better one reported (:func:`lower_bound`):

- ``seats``: the seats missing in the worst year ÷ the largest standard size;
- ``lp``: the linear-programming relaxation of the covering problem over the (up to three)
  years missing most seats (the worst year first, one more while the bound is below the plan's
  count: an LP over fewer years is valid too), on demand pooled into squares, solved with
  HiGHS under a size and a time budget. When the LP on the finest squares is over its size
  budget (or runs out of its share of the time) it is built again on coarser squares — a
  weaker, still valid bound, and a note says so. When the seats bound already equals the
  plan's count the plan is proven minimal and no LP is built.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from schoolmap.highs import milp

#: The planner's allocations (``planner.Planner``: ``demand``, ``existing``, ``cell_xy``,
#: ``options``, ``reach``, ``target``, ``unserved``) and one solved year (``unserved_by_cell``).
Planner = Any
Solved = Any

__all__ = ["DEFAULT_LP_TIME_LIMIT_S", "lower_bound"]


#: Seconds HiGHS may spend on the siting LP lower bound before the weaker bound is used.
DEFAULT_LP_TIME_LIMIT_S = 60.0


TOL = 0.5  # students: fractional demand below half a student counts as met


#: Most (square, school) pairs of the LP over all its years (its columns).
LP_MAX_PAIRS = 2_000_000


#: Most (cell, school) pairs within reach per year the LP's squares are pooled from.
LP_MAX_CELL_PAIRS = 8_000_000


#: Squares per reach the LP pools demand into, finest first; a coarser one is tried when the
#: finer LP is over :data:`LP_MAX_PAIRS` or not solved within its share of the time.
LP_SQUARES_PER_REACH = (6.0, 3.0, 1.5)


LP_YEARS = 3  # years in the LP bound (those missing most seats): any subset gives a valid bound


def lower_bound(planner: Planner, before: Mapping[Any, Solved], after: Mapping[Any, Solved],
                years: list[Any], cand_xy: np.ndarray, notes: list[str], time_limit_s: float,
                n_new: int) -> tuple[int, str]:
    """Proven fewest new schools reaching the plan's unserved level in every year.

    The seats missing in each year ÷ the largest size, and the LP relaxation over the (up to
    three) years missing most seats together: one set of sites must serve every one of them.
    The LP is skipped when the seats bound already reaches ``n_new`` (the plan's count).
    Returns the bound and which it is (``lp`` or ``seats``).
    """
    biggest = planner.options[-1, 1]
    limit = {t: max(planner.target, planner.unserved(after[t])) for t in years}
    deficit = {t: planner.unserved(before[t]) - limit[t] for t in years}
    short = [t for t in years if deficit[t] > TOL]
    if not short:
        return 0, "lp"
    bound = max(math.ceil((deficit[t] - TOL) / biggest) for t in short)
    if bound >= n_new:
        return bound, "seats"  # proven minimal already: no LP can say more
    # the years missing most seats bind hardest; a few of them keep the LP small. They are
    # added one at a time, the worst first: an LP over fewer years is a valid bound too and far
    # cheaper, and once it proves the plan's count no more years can say more
    chosen = sorted(short, key=lambda t: -deficit[t])[:LP_YEARS]
    start = time.perf_counter()
    pairs: dict[Any, tuple] = {}
    best, why, used = None, "", 0
    for k in range(1, len(chosen) + 1):
        years_k = sorted(chosen[:k])
        left = time_limit_s - (time.perf_counter() - start)
        if left <= 0:
            why = f"the LP was not solved within its time limit of {time_limit_s:g} s"
            break
        try:
            lp, why = lp_bound(planner, years_k, cand_xy, {t: limit[t] + TOL for t in years_k},
                               left, notes, pairs, stated_limit_s=time_limit_s)
        except ImportError:
            notes.append("lower bound from seats missing only (install highspy for the LP bound)")
            return bound, "seats"
        if lp is None:
            break
        best, used = lp, k
        if math.ceil(lp - 1e-6) >= n_new:
            break  # proven minimal: more years cannot raise the bound above the plan's count
    if best is None:
        notes.append(f"lower bound from seats missing only, weaker than the LP bound ({why})")
        return bound, "seats"
    if used < len(chosen):
        if math.ceil(best - 1e-6) < n_new:
            notes.append(f"LP lower bound over the {used} year(s) missing most seats, not "
                         f"{len(chosen)} ({why})")
    return max(bound, math.ceil(best - 1e-6)), "lp"


def lp_bound(planner: Planner, years: list[Any], cand_xy: np.ndarray,
             limit: Mapping[Any, float], time_limit_s: float = DEFAULT_LP_TIME_LIMIT_S,
             notes: list[str] | None = None,
             reach_pairs: dict[Any, tuple] | None = None,
             stated_limit_s: float | None = None) -> tuple[float | None, str]:
    """LP relaxation of the fewest-sites problem over ``years`` (a proven lower bound).

    min Σ y_j over candidates such that in every year every student is served within reach
    except ``limit[t]``, candidate j holding at most (largest size) × y_j, 0 ≤ y ≤ 1, the same
    y in every year. Cells are pooled into squares (reach / 6 first, coarser when that LP is too
    large or too slow: :data:`LP_SQUARES_PER_REACH`); a square may use every school any of its
    cells reaches, which only relaxes the problem further, so the optimum stays a valid lower
    bound. A coarser square adds a note to ``notes``. ``reach_pairs`` keeps each year's cells
    and schools within reach between calls. ``stated_limit_s``: the limit the user set, quoted
    in the reason (default ``time_limit_s``; a caller passing what is left of it says so).
    Returns the LP optimum, or None and why not (too large, time limit).
    """
    start = time.perf_counter()
    stated = time_limit_s if stated_limit_s is None else stated_limit_s
    reach_pairs = {} if reach_pairs is None else reach_pairs
    why = ""
    for step, per_reach in enumerate(LP_SQUARES_PER_REACH):
        last = step == len(LP_SQUARES_PER_REACH) - 1
        left = time_limit_s - (time.perf_counter() - start)
        if left <= 0:
            break
        value, reason = _lp_on_squares(planner, years, cand_xy, limit, per_reach,
                                       left if last else left / 2, reach_pairs)
        if value is not None:
            if step and notes is not None:
                notes.append(f"LP lower bound on squares of {planner.reach / per_reach:,.0f} m, "
                             f"weaker than on {planner.reach / LP_SQUARES_PER_REACH[0]:,.0f} m "
                             f"squares ({why})")
            return value, ""
        if reason == "time":
            reason = f"the LP was not solved within its time limit of {stated:g} s"
        why = why or reason
        if reason.startswith("the pairs"):
            break  # cell-to-school pairs alone are over budget: coarser squares do not help
    return None, why or f"the LP was not solved within its time limit of {stated:g} s"


def _lp_on_squares(planner, years, cand_xy, limit, per_reach, time_limit_s, reach_pairs):
    """The LP of :func:`lp_bound` on squares of reach / ``per_reach``: (value or None, why)."""
    k = len(cand_xy)
    parts, row_lo, row_hi = [], [], []
    n_rows = n_cols = 0
    budget = LP_MAX_PAIRS
    for t in years:
        if t not in reach_pairs:
            reach_pairs[t] = _reach_pairs(planner, t, cand_xy)
        if reach_pairs[t] is None:
            return None, "the pairs of cells and schools within reach are too many"
        part = _lp_year(planner, t, cand_xy, limit[t], budget, per_reach, reach_pairs[t])
        if part is None:
            return None, f"the LP is over its size budget of {LP_MAX_PAIRS:,} pairs"
        a, lo, hi, nv = part
        budget -= nv
        parts.append((a, n_rows, n_cols, nv))
        row_lo.append(lo)
        row_hi.append(hi)
        n_rows += a.shape[0]
        n_cols += nv
    rows, cols, vals = [], [], []
    for a, r0, c0, nv in parts:
        rows.append(a.row + r0)
        cols.append(np.where(a.col < nv, a.col + c0, a.col - nv + n_cols))
        vals.append(a.data)
    big = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(n_rows, n_cols + k))
    c = np.concatenate([np.zeros(n_cols), np.ones(k)])
    col_hi = np.concatenate([np.full(n_cols, np.inf), np.ones(k)])
    _, value, _, optimal = milp(c, big, np.concatenate(row_lo), np.concatenate(row_hi),
                                 np.zeros(n_cols + k), col_hi, np.zeros(n_cols + k, dtype=bool),
                                 relax=True, time_limit=time_limit_s)
    if optimal:
        return value, ""
    return None, "time"


def _reach_pairs(planner: Planner, t: Any, cand_xy: np.ndarray):
    """Year ``t``'s cells with students and, for each, the schools (existing, then candidates)
    within reach: (live cells, pairs per cell, school of each pair); None when too many."""
    demand = planner.demand[t]
    xy = np.vstack([school_xy(planner.existing[t]), cand_xy])
    live = np.flatnonzero(demand > 0)
    hits = cKDTree(xy).query_ball_point(planner.cell_xy[live], planner.reach,
                                        return_sorted=False)
    counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
    if counts.sum() > LP_MAX_CELL_PAIRS:
        return None
    cols = np.fromiter((j for h in hits for j in h), dtype=np.int64, count=int(counts.sum()))
    return live, counts, cols


def _lp_year(planner: Planner, t: Any, cand_xy: np.ndarray, limit: float, budget: int,
             per_reach: float, pairs: tuple):
    """One year's rows of :func:`lp_bound`: (A as COO with the k candidate columns last,
    row lower and upper bounds, number of the year's own columns); None beyond ``budget``."""
    demand = planner.demand[t]
    ex = planner.existing[t]
    m0, m, k = len(ex), len(ex) + len(cand_xy), len(cand_xy)
    cap = np.concatenate([ex["seats"].to_numpy(dtype=np.float64),
                          np.full(k, planner.options[-1, 1])])
    live, counts, cols = pairs
    square = planner.reach / per_reach
    key = np.floor(planner.cell_xy[live] / square).astype(np.int64)
    _, block = np.unique(key, axis=0, return_inverse=True)
    block = block.ravel()
    n = int(block.max()) + 1
    load = np.bincount(block, weights=demand[live], minlength=n)
    pair = np.unique(np.repeat(block, counts) * m + cols)
    if len(pair) > budget:
        return None
    rows, cols = pair // m, pair % m
    nx = len(pair)
    # columns: x (block, school) pairs, u (unserved per block), then y (candidates)
    # rows: block demand (n), school capacity (m), unserved limit (1), then the strong rows
    # x_bj ≤ load_b · y_j for candidate pairs (implied by the same rows cell by cell)
    strong = np.flatnonzero(cols >= m0)
    ns = len(strong)
    r0 = n + m + 1
    a = sp.coo_matrix((
        np.concatenate([np.ones(nx), np.ones(n), np.ones(nx), -cap[m0:], np.ones(n),
                        np.ones(ns), -load[rows[strong]]]),
        (np.concatenate([rows, np.arange(n), n + cols, n + m0 + np.arange(k), np.full(n, n + m),
                         r0 + np.arange(ns), r0 + np.arange(ns)]),
         np.concatenate([np.arange(nx), nx + np.arange(n), np.arange(nx),
                         nx + n + np.arange(k), nx + np.arange(n),
                         strong, nx + n + cols[strong] - m0]))),
        shape=(r0 + ns, nx + n + k))
    row_lo = np.concatenate([load, np.full(m + 1 + ns, -np.inf)])
    row_hi = np.concatenate([load, cap[:m0], np.zeros(k), [limit], np.zeros(ns)])
    return a, row_lo, row_hi, nx + n


def school_xy(schools: gpd.GeoDataFrame) -> np.ndarray:
    """Points of a school table (metres), shape (n, 2)."""
    if len(schools) == 0:
        return np.zeros((0, 2))
    return np.column_stack([schools.geometry.x.to_numpy(), schools.geometry.y.to_numpy()])
