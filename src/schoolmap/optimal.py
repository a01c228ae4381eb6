"""Exact capacitated allocation with an optimality certificate (two doors, one kernel).

minimise Σ_ij c_ij x_ij + Σ_i p_i u_i  subject to  Σ_j x_ij + u_i = students_i (every cell),
Σ_i x_ij ≤ seats_j (every school), x, u ≥ 0.

- :func:`transport` — array door: a dense (n, m) cost matrix or a scipy.sparse matrix (an absent
  entry = pair not allowed).
- :func:`assign` — coordinate door: cell and school points in metres; never builds an n × m
  matrix. It solves over each cell's nearest schools and then *proves* optimality over all pairs
  with the duals: a pair (i, k) can improve the answer only if c_ik + v_k < u_i, and since seat
  prices v are ≥ 0 only schools closer than u_i can; a KD-tree finds them. Cells whose proof
  fails get those schools as candidates and the problem is solved again, until the proof holds.

**Seat price** ``v_j`` (in cost units, metres for :func:`assign`): the travel the district would
save with one more seat at school j — zero where seats are spare; high where students are pushed
far away for lack of seats. It is where an expansion helps most. The **cell dual** ``u_i`` is the
cost of serving one more student living in cell i.

The certificate checks primal feasibility, complementary slackness, dual feasibility over all
pairs and equality of the primal and dual objectives; ``certificate["optimal"]`` is True only
when all hold within ``tol``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from schoolmap._kernels.candidates import (
    balls_from_bins,
    knn_violations,
    nearest_from_bins,
    pair_distance,
    reduced_cost_check,
    select_candidates,
    split_far,
)
from schoolmap._kernels.transport import STATUS_NO_PATH, ssp_transport
from schoolmap.errors import InfeasibleError, ValidationError

__all__ = ["TransportResult", "assign", "transport"]

_K_START = 4
_K_COLD = 32  # nearest schools per cell on the coarsest level (no price estimate yet)
_K_PRICED = 16  # nearest schools looked at per cell when prices are estimated
BINS_PER_SCHOOL = 8
MIN_BINS = 2000  # fewer cells than 2 × this are solved without a coarser level
LEVEL_FACTOR = 4
MARGIN_BINS = 0.5
_K_BIN_EXTRA = 4  # schools listed per grid square beyond those kept per cell


@dataclass(frozen=True)
class TransportResult:
    """An optimal capacitated allocation and its proof.

    Attributes
    ----------
    cell, school : ndarray of shape (n_flows,), int64
        Flow triplets (sorted by cell, then cost): ``students[t]`` students of cell ``cell[t]``
        go to school ``school[t]``.
    students : ndarray of shape (n_flows,)
        int64 when all supplies and capacities are whole numbers, else float64.
    cost : ndarray of shape (n_flows,), float64
        Cost per student of each flow (metres for :func:`assign`).
    unserved_by_cell : ndarray of shape (n_cells,)
        Students of each cell without a seat.
    objective : float
        Σ cost × students + Σ unserved_cost × unserved.
    seat_price : ndarray of shape (n_schools,), float64
        Dual price v_j ≥ 0 of one seat (see module docs).
    cell_dual : ndarray of shape (n_cells,), float64
        Dual u_i: the cost of one more student in cell i.
    unserved_cost : ndarray of shape (n_cells,), float64
    certificate : dict
        ``optimal`` (bool), ``duality_gap`` (relative), ``max_violation`` (reduced-cost or
        slackness violation found, cost units), ``pairs_checked`` (pairs whose reduced cost was
        checked explicitly), ``pairs_bounded`` (pairs cleared by the KD-tree bound without
        evaluating them), ``rounds``, ``paths`` (shortest paths augmented), ``candidates``.
    """

    cell: np.ndarray
    school: np.ndarray
    students: np.ndarray
    cost: np.ndarray
    unserved_by_cell: np.ndarray
    objective: float
    seat_price: np.ndarray
    cell_dual: np.ndarray
    unserved_cost: np.ndarray
    certificate: dict[str, Any] = field(default_factory=dict)

    @property
    def assigned_by_school(self) -> np.ndarray:
        """Students per school, shape (n_schools,)."""
        return np.bincount(self.school, weights=self.students, minlength=len(self.seat_price))

    def to_csr(self) -> sp.csr_matrix:
        """Flows as an (n_cells, n_schools) sparse matrix."""
        n = len(self.unserved_by_cell)
        return sp.csr_matrix((self.students, (self.cell, self.school)),
                             shape=(n, len(self.seat_price)))


def _vector(x: Any, name: str, length: int | None = None) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))
    problems = []
    if length is not None and len(a) != length:
        problems.append(f"{name} has {len(a)} entries, expected {length}")
    if np.isnan(a).any():
        problems.append(f"{name} contains NaN (entries {np.flatnonzero(np.isnan(a))[:5].tolist()})")
    if (a < 0).any():
        problems.append(f"{name} is negative (entries {np.flatnonzero(a < 0)[:5].tolist()})")
    if np.isinf(a).any() and name != "unserved_cost":
        problems.append(f"{name} contains inf")
    ValidationError.raise_if(problems, "transport input")
    return a


def _solve_candidates(supply, capacity, indptr, school, cost, unserved_cost, integral,
                      price0=None):
    eps = 0.5 if integral else 1e-9 * max(1.0, float(supply.sum()))
    if price0 is None:
        price0 = np.zeros(len(capacity))
    flow, unserved, price, n_paths, status = ssp_transport(
        supply, capacity, indptr, school, cost, unserved_cost,
        np.ascontiguousarray(price0, dtype=np.float64), eps)
    if status == STATUS_NO_PATH:
        raise InfeasibleError("students cannot all be placed and leaving them unserved is not "
                              "allowed (unserved_cost is infinite); give a finite unserved_cost")
    return flow, unserved, price, int(n_paths)


def _sorted_csr(n: int, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray):
    order = np.argsort(rows, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, np.ascontiguousarray(cols, dtype=np.int64), np.ascontiguousarray(vals)


def _duals_and_slackness(supply, capacity, indptr, school, cost, unserved_cost, flow, unserved,
                         price, tol):
    """Cell duals u, and the largest complementary-slackness violation."""
    n = len(supply)
    cell_of = np.repeat(np.arange(n), np.diff(indptr))
    priced = cost + price[school]
    best = np.full(n, np.inf)
    nonempty = np.diff(indptr) > 0
    if nonempty.any():
        best[nonempty] = np.minimum.reduceat(priced, indptr[:-1][nonempty])
    u = np.minimum(best, unserved_cost)
    viol = 0.0
    used = flow > 0
    if used.any():
        viol = max(viol, float((priced[used] - u[cell_of[used]]).max()))
    left = unserved > 0
    if left.any():
        viol = max(viol, float((unserved_cost[left] - u[left]).max()))
    load = np.bincount(school, weights=flow, minlength=len(capacity))
    spare = capacity - load > 0.5 * tol
    if (spare & (price > tol)).any():
        viol = max(viol, float(price[spare].max()))
    return u, viol, load


def _finish(supply, capacity, indptr, school, cost, unserved_cost, flow, unserved, price, u,
            integral, certificate):
    n = len(supply)
    cell_of = np.repeat(np.arange(n), np.diff(indptr))
    keep = flow > 0
    finite_p = np.where(np.isinf(unserved_cost), 0.0, unserved_cost)
    primal = float(cost[keep] @ flow[keep] + finite_p @ unserved)
    u_finite = np.where(np.isinf(u), 0.0, u)
    dual = float(supply @ u_finite - capacity @ price)
    gap = abs(primal - dual) / max(1.0, abs(primal))
    certificate["duality_gap"] = gap
    certificate["optimal"] = bool(certificate["max_violation"] <= certificate["tol"]
                                  and gap <= 1e-9)
    students = flow[keep]
    out_unserved = unserved
    if integral:
        students = np.rint(students).astype(np.int64)
        out_unserved = np.rint(unserved).astype(np.int64)
    return TransportResult(
        cell=cell_of[keep].astype(np.int64), school=school[keep].copy(), students=students,
        cost=cost[keep].copy(), unserved_by_cell=out_unserved, objective=primal,
        seat_price=price, cell_dual=u, unserved_cost=unserved_cost, certificate=certificate)


def _is_integral(*arrays: np.ndarray) -> bool:
    return all(np.array_equal(a, np.round(a)) for a in arrays)


def transport(
    supply: Any,
    capacity: Any,
    cost: Any,
    *,
    unserved_cost: Any = None,
    tol: float = 1e-6,
) -> TransportResult:
    """Exact capacitated transportation: the array door.

    Parameters
    ----------
    supply : array_like of shape (n,)
        Students per cell (≥ 0).
    capacity : array_like of shape (m,)
        Seats per school (≥ 0).
    cost : ndarray of shape (n, m) or scipy.sparse matrix
        Cost per student (≥ 0). In a sparse matrix an absent entry means the pair is not
        allowed (an explicit 0 is allowed at cost 0).
    unserved_cost : float or array_like of shape (n,), optional
        Cost per student left without a seat. Default: (m + 1) × the largest allowed cost + 1,
        so that students are unserved only when no seat can be had at all.
    tol : float
        Tolerance (cost units) of the certificate.

    Returns
    -------
    TransportResult

    Examples
    --------
    Two cells, two schools, one seat short:

    >>> r = transport([3, 2], [2, 2], np.array([[1.0, 4.0], [2.0, 3.0]]), unserved_cost=10)
    >>> r.objective, r.unserved_by_cell.tolist(), r.certificate["optimal"]
    (18.0, [1, 0], True)
    """
    supply = _vector(supply, "supply")
    capacity = _vector(capacity, "capacity")
    n, m = len(supply), len(capacity)
    if sp.issparse(cost):
        c = sp.coo_matrix(cost)
        if c.shape != (n, m):
            raise ValidationError([f"cost has shape {c.shape}, expected ({n}, {m})"],
                                  "transport input")
        rows, cols = c.row.astype(np.int64), c.col.astype(np.int64)
        vals = _vector(c.data, "cost")
        dense = None
        max_cost = float(vals.max()) if len(vals) else 0.0
    else:
        dense = np.asarray(cost, dtype=np.float64)
        if dense.shape != (n, m):
            raise ValidationError([f"cost has shape {dense.shape}, expected ({n}, {m})"],
                                  "transport input")
        _vector(dense, "cost")
        max_cost = float(dense.max()) if dense.size else 0.0
    p = _unserved(unserved_cost, n, m, max_cost)
    integral = _is_integral(supply, capacity)
    certificate: dict[str, Any] = {"tol": tol, "rounds": 0, "paths": 0, "pairs_checked": 0,
                                   "pairs_bounded": 0}
    if dense is None:
        indptr, school, cvals = _sorted_csr(n, rows, cols, vals)
        flow, unserved, price, paths = _solve_candidates(supply, capacity, indptr, school, cvals,
                                                         p, integral)
        u, viol, _ = _duals_and_slackness(supply, capacity, indptr, school, cvals, p, flow,
                                          unserved, price, tol)
        certificate.update(rounds=1, paths=paths, pairs_checked=len(school),
                           max_violation=viol, candidates=len(school))
        return _finish(supply, capacity, indptr, school, cvals, p, flow, unserved, price, u,
                       integral, certificate)

    # dense: start from each cell's K cheapest schools, widen where the proof fails
    k = min(m, _K_START)
    wide = np.zeros(n, dtype=bool)
    price = np.zeros(m)
    while True:
        certificate["rounds"] += 1
        rows_l, cols_l = [], []
        if k < m:
            part = np.argpartition(dense, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(m), (n, m))
        narrow = ~wide
        rows_l.append(np.repeat(np.flatnonzero(narrow), part.shape[1]))
        cols_l.append(part[narrow].ravel())
        if wide.any():
            rows_l.append(np.repeat(np.flatnonzero(wide), m))
            cols_l.append(np.tile(np.arange(m), int(wide.sum())))
        rows = np.concatenate(rows_l).astype(np.int64)
        cols = np.concatenate(cols_l).astype(np.int64)
        indptr, school, cvals = _sorted_csr(n, rows, cols, dense[rows, cols])
        flow, unserved, price, paths = _solve_candidates(supply, capacity, indptr, school, cvals,
                                                         p, integral, price)
        certificate["paths"] += paths
        u, viol, _ = _duals_and_slackness(supply, capacity, indptr, school, cvals, p, flow,
                                          unserved, price, tol)
        # dual feasibility over every pair, in blocks of rows
        worst = np.zeros(n)
        for start in range(0, n, 4096):
            block = dense[start:start + 4096] + price[None, :]
            worst[start:start + 4096] = u[start:start + 4096] - block.min(axis=1)
        certificate["pairs_checked"] += n * m
        bad = worst > tol
        certificate["max_violation"] = max(viol, float(worst.max(initial=0.0)))
        if not bad.any() or wide[bad].all():
            break
        wide |= bad
    certificate["candidates"] = len(school)
    return _finish(supply, capacity, indptr, school, cvals, p, flow, unserved, price, u,
                   integral, certificate)


def _unserved(unserved_cost: Any, n: int, m: int, max_cost: float) -> np.ndarray:
    if unserved_cost is None:
        return np.full(n, (m + 1) * max_cost + 1.0)
    p = np.broadcast_to(np.asarray(unserved_cost, dtype=np.float64), (n,)).copy()
    if np.isnan(p).any() or (p < 0).any():
        raise ValidationError(["unserved_cost must be ≥ 0 (inf allowed), not NaN"],
                              "transport input")
    return p


def assign(
    cell_xy: Any,
    students: Any,
    school_xy: Any,
    seats: Any,
    *,
    max_distance_m: float | None = None,
    unserved_cost: Any = None,
    metric: str = "euclidean",
    tol: float = 1e-6,
    k: int = _K_START,
    progress: Callable[[str], None] | None = None,
) -> TransportResult:
    """Exact capacitated allocation from coordinates: the coordinate door.

    Minimises total travel (metres, straight line or Manhattan) so that no school takes more
    students than seats; students who cannot get a seat (within ``max_distance_m`` if given)
    are unserved. Works on each cell's ``k`` nearest schools and proves optimality over all
    pairs with a KD-tree (see module docs); never builds an n × m matrix.

    Parameters
    ----------
    cell_xy : array_like of shape (n, 2)
        Cell points, metres (a projected CRS).
    students : array_like of shape (n,)
        Students per cell.
    school_xy : array_like of shape (m, 2)
        School points, metres.
    seats : array_like of shape (m,)
        Seats per school.
    max_distance_m : float, optional
        Pairs farther apart are not allowed.
    unserved_cost : float or array_like of shape (n,), optional
        Cost (metres) of leaving a student unserved. Default: (m + 1) × the largest allowed
        distance + 1 — students are unserved only when seats within reach run out.
    metric : {"euclidean", "manhattan"}
    tol : float
        Certificate tolerance (metres).
    k : int
        Nearest schools tried first per cell.
    progress : callable, optional
        Called with a short message at each stage (coarse price levels, solve rounds).

    Returns
    -------
    TransportResult
        Costs are distances in metres.

    Examples
    --------
    Three students on a line, two seats at x = 0 and one at x = 10:

    >>> r = assign([[1.0, 0.0], [2.0, 0.0]], [2, 1], [[0.0, 0.0], [10.0, 0.0]], [2, 1])
    >>> r.assigned_by_school.tolist(), r.objective, r.certificate["optimal"]
    ([2.0, 1.0], 10.0, True)
    """
    return _assign(cell_xy, students, school_xy, seats, max_distance_m, unserved_cost, metric,
                   tol, k, k, progress)


def _assign(cell_xy, students, school_xy, seats, max_distance_m, unserved_cost, metric, tol, k,
            k_cold, progress):
    """:func:`assign`; ``k_cold`` nearest schools per cell are candidates where no prices are
    estimated (on the coarsest level), the ``k`` nearest always are."""
    xy = np.ascontiguousarray(np.asarray(cell_xy, dtype=np.float64))
    sxy = np.ascontiguousarray(np.asarray(school_xy, dtype=np.float64))
    problems = []
    if xy.ndim != 2 or xy.shape[1] != 2:
        problems.append(f"cell_xy must have shape (n, 2), got {xy.shape}")
    if sxy.ndim != 2 or sxy.shape[1] != 2:
        problems.append(f"school_xy must have shape (m, 2), got {sxy.shape}")
    if metric not in ("euclidean", "manhattan"):
        problems.append(f"metric must be 'euclidean' or 'manhattan', got {metric!r}")
    if not np.isfinite(xy).all() or not np.isfinite(sxy).all():
        problems.append("coordinates must be finite (no NaN or inf)")
    ValidationError.raise_if(problems, "assign input")
    n, m = len(xy), len(sxy)
    supply = _vector(students, "students", n)
    capacity = _vector(seats, "seats", m)
    pnorm = 2 if metric == "euclidean" else 1
    if max_distance_m is not None:
        reach = float(max_distance_m)
    elif n and m:
        lo = np.minimum(xy.min(axis=0), sxy.min(axis=0))
        hi = np.maximum(xy.max(axis=0), sxy.max(axis=0))
        reach = float(np.abs(hi - lo).sum()) if pnorm == 1 else float(np.hypot(*(hi - lo)))
    else:
        reach = 0.0
    p = _unserved(unserved_cost, n, m, reach)
    integral = _is_integral(supply, capacity)
    certificate: dict[str, Any] = {"tol": tol, "rounds": 0, "paths": 0, "pairs_checked": 0,
                                   "pairs_bounded": 0}
    if m == 0 or n == 0:
        indptr = np.zeros(n + 1, dtype=np.int64)
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
        certificate.update(rounds=1, max_violation=0.0, candidates=0)
        u = p.copy()
        return _finish(supply, capacity, indptr, empty_i, empty_f, p, empty_f,
                       supply.copy(), np.zeros(m), u, integral, certificate)
    tree = cKDTree(sxy)
    upper = np.inf if max_distance_m is None else float(max_distance_m)
    say = progress or (lambda _msg: None)
    cand, known, nearest, bound, price = _candidates(tree, xy, supply, sxy, capacity, p, pnorm,
                                                     upper, k, k_cold, tol, say)
    rows, cols, dists = cand
    drows, dcols, ddists = known
    while True:
        certificate["rounds"] += 1
        say(f"{n:,} cells × {m:,} schools: exact solve, round {certificate['rounds']}")
        indptr, school, cvals = _sorted_csr(n, rows, cols, dists)
        flow, unserved, price, paths = _solve_candidates(supply, capacity, indptr, school, cvals,
                                                         p, integral, price)
        certificate["paths"] += paths
        u, viol, _ = _duals_and_slackness(supply, capacity, indptr, school, cvals, p, flow,
                                          unserved, price, tol)
        # dual feasibility over all pairs: known pairs (each cell's nearest schools, and the
        # listed others) are checked one by one; beyond a cell's bound only schools closer than
        # u_i can violate (v ≥ 0)
        need = bound < u - tol
        certificate["pairs_bounded"] += int((m - np.diff(indptr))[~need].sum())
        b_rows, b_cols, b_radius = _ball_pairs(tree, xy, u, need, pnorm, upper)
        bound[need] = b_radius
        if len(b_rows):
            drows = np.concatenate([drows, b_rows])
            dcols = np.concatenate([dcols, b_cols])
            ddists = np.concatenate([ddists, pair_distance(b_rows, b_cols, xy, sxy, pnorm)])
        bad, worst = reduced_cost_check(drows, dcols, ddists, price, u, tol)
        n_rows, n_cols, n_dists, n_worst, n_checked = knn_violations(*nearest, price, u, tol)
        certificate["pairs_checked"] += len(drows) + int(n_checked)
        certificate["max_violation"] = max(viol, float(worst), float(n_worst))
        if not bad.any() and not len(n_rows):
            break
        new_rows = np.concatenate([drows[bad], n_rows])
        new_cols = np.concatenate([dcols[bad], n_cols])
        new_dists = np.concatenate([ddists[bad], n_dists])
        _, first = np.unique(new_rows * m + new_cols, return_index=True)  # known twice
        rows = np.concatenate([rows, new_rows[first]])
        cols = np.concatenate([cols, new_cols[first]])
        dists = np.concatenate([dists, new_dists[first]])
        if bad.any():
            drows, dcols, ddists = drows[~bad], dcols[~bad], ddists[~bad]
    certificate["candidates"] = len(school)
    return _finish(supply, capacity, indptr, school, cvals, p, flow, unserved, price, u,
                   integral, certificate)


def _candidates(tree, xy, supply, sxy, capacity, p, pnorm, upper, k, k_cold, tol, say):
    """First candidate schools of each cell, the known others, and a bound on the unknown.

    With k nearest schools alone, a crowded area whose nearest schools are all full finds no
    free seat among its candidates and its prices jump to the unserved cost. So for large
    instances seat prices are first estimated on a grid of binned cells (solved exactly the same
    way, recursively: each level 4× coarser), and each cell gets the schools whose *priced*
    distance is within a margin of its best; the certificate then adds whatever is missing.
    On such a level the KD-tree is asked once per grid square, not per cell: a cell's nearest
    schools are taken among its square's, and a school not listed for the square is at least
    the square's bound minus the cell's distance from the square's centre away.

    Returns
    -------
    candidates, known : tuples (rows, cols, distances) of pairs
        Candidate pairs (no duplicates) and other known pairs around far cells (checked by the
        certificate).
    nearest : tuple (dist, idx, skip)
        Each cell's nearest schools, arrays of shape (n, kk) (inf / m where none), and the cells
        whose nearest schools are all candidates or listed in ``known`` (the certificate checks
        the other cells' nearest schools in place).
    bound : ndarray of shape (n,)
        Every school in none of these lists is at least this far from the cell.
    price : ndarray of shape (m,)
        Estimated seat prices (zeros on the coarsest level).
    """
    n, m = len(xy), len(sxy)
    kk = min(m, k_cold)
    estimate = None
    n_bins = max(n // LEVEL_FACTOR, BINS_PER_SCHOOL * m, MIN_BINS)
    if n > 2 * n_bins and m > kk:
        span = np.ptp(xy, axis=0)
        bin_m = max(float(np.sqrt(max(span[0] * span[1], 1.0) / n_bins)), 1.0)
        origin = xy.min(axis=0)
        key = np.floor((xy - origin) / bin_m).astype(np.int64)
        ny = int(key[:, 1].max()) + 1
        key = key[:, 0] * ny + key[:, 1]  # about n_bins grid squares
        counts = np.bincount(key)
        occupied = np.flatnonzero(counts)  # squares with cells, in key order
        inverse = (np.cumsum(counts > 0) - 1)[key]
        weight = np.bincount(inverse, weights=supply)
        has = weight > 0
        cxy = np.column_stack([np.bincount(inverse, weights=supply * xy[:, 0]),
                               np.bincount(inverse, weights=supply * xy[:, 1])])
        cxy = cxy[has] / weight[has, None]
        say(f"estimating seat prices on {int(has.sum()):,} bins of {bin_m:,.0f} m")
        coarse = _assign(cxy, weight[has], sxy, capacity,
                         None if np.isinf(upper) else upper, float(p.max()),
                         "manhattan" if pnorm == 1 else "euclidean", tol, k, _K_COLD, say)
        estimate = coarse.seat_price
        margin = MARGIN_BINS * bin_m * np.sqrt(2.0)
        kk = min(m, _K_PRICED)
    by_bins = estimate is not None and np.isinf(upper)
    if by_bins:
        # nearest schools of each grid square's centre, then of each cell among those
        centre = origin + bin_m * (np.column_stack([occupied // ny, occupied % ny]) + 0.5)
        listed = min(m, kk + _K_BIN_EXTRA)
        dist, idx, bound = _nearest(tree, centre, listed, pnorm, upper)
        dist, idx, bound = nearest_from_bins(xy, sxy, inverse, centre, idx, bound, kk, pnorm)
    else:
        dist, idx, bound = _nearest(tree, xy, kk, pnorm, upper)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if estimate is None:  # every nearest school is a candidate
        rows, cols = np.nonzero(np.isfinite(dist))
        return (rows, idx[rows, cols], dist[rows, cols]), empty, \
            (dist, idx, np.ones(n, dtype=bool)), bound, np.zeros(m)
    cr, cc, cd, best, far_mask = select_candidates(dist, idx, estimate, p, supply, bound,
                                                   float(margin), min(k, kk))
    cand, known = (cr, cc, cd), empty
    # where a cheaper priced school may lie beyond the kk nearest, take every school within
    # best + margin (a superset of the kk nearest there)
    far = np.flatnonzero(far_mask)
    if len(far):
        radius = np.minimum(best[far] + margin, upper)
        if by_bins:  # one ball per grid square, wide enough for each of its far cells
            off = xy[far] - centre[inverse[far]]
            off = np.abs(off).sum(axis=1) if pnorm == 1 else np.hypot(off[:, 0], off[:, 1])
            reach = np.zeros(len(centre))
            np.maximum.at(reach, inverse[far], (radius + off) * (1 + 1e-9) + 1e-6)
            squares = np.flatnonzero(reach)
            s_rows, s_cols, _ = _ball_pairs(tree, centre[squares], reach[squares],
                                            np.ones(len(squares), dtype=bool), pnorm, np.inf)
            square_ptr = np.zeros(len(centre) + 1, dtype=np.int64)
            np.cumsum(np.bincount(squares[s_rows], minlength=len(centre)), out=square_ptr[1:])
            r2, c2, d2 = balls_from_bins(xy, sxy, far, radius, inverse, square_ptr, s_cols, pnorm)
        else:
            r2, c2, _ = _ball_pairs(tree, xy, np.full(n, np.inf), far_mask, pnorm, radius)
            d2 = pair_distance(r2, c2, xy, sxy, pnorm)
        kth = np.ascontiguousarray(dist[:, min(k, kk) - 1])  # the k nearest stay candidates
        *far_cand, kr, kc, kd = split_far(r2, c2, d2, estimate, best, float(margin), kth)
        cand = tuple(np.concatenate([a, b]) for a, b in zip(cand, far_cand, strict=True))
        known = (kr, kc, kd)
        bound[far] = radius
    return cand, known, (dist, idx, far_mask), bound, estimate


def _nearest(tree, xy, kk, pnorm, upper):
    """The kk nearest schools of each point (inf / m where none) and the (kk + 1)-th distance."""
    n = len(xy)
    dist, idx = tree.query(xy, k=min(tree.n, kk + 1), p=pnorm, distance_upper_bound=upper,
                           workers=-1)
    dist = dist.reshape(n, -1)
    idx = idx.reshape(n, -1)
    if dist.shape[1] > kk:
        bound = dist[:, kk].copy()  # every school not among the candidates is at least this far
        dist, idx = dist[:, :kk], idx[:, :kk]
    else:
        bound = np.full(n, np.inf)
    return np.ascontiguousarray(dist), np.ascontiguousarray(idx, dtype=np.int64), bound


def _ball_pairs(tree, xy, u, need, pnorm, upper):
    """Every school within min(u_i, upper) of each flagged cell (the only ones that can beat u_i).

    ``upper`` is a number or an array over the flagged cells.
    """
    cells = np.flatnonzero(need)
    radius = np.minimum(u[cells], upper)
    if len(cells) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), radius
    hits = tree.query_ball_point(xy[cells], radius, p=pnorm, return_sorted=False, workers=-1)
    counts = np.fromiter(map(len, hits), dtype=np.int64, count=len(cells))
    rows = np.repeat(cells, counts)
    cols = np.fromiter(chain.from_iterable(hits), dtype=np.int64, count=int(counts.sum()))
    return rows, cols, radius
