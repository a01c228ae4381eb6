"""Exact capacitated allocation with an optimality certificate (two doors, one kernel).

minimise Σ_ij c_ij x_ij + Σ_i p_i u_i  subject to  Σ_j x_ij + u_i = students_i (every cell),
Σ_i x_ij ≤ seats_j (every school), x, u ≥ 0.

- :func:`transport` — array door: a dense (n, m) cost matrix or a scipy.sparse matrix (an absent
  entry = pair not allowed).
- :func:`assign` — coordinate door: cell and school points in metres; never builds or stores
  an n × m matrix. It solves over candidate pairs (each cell's schools whose distance + estimated
  seat price is near its best) and then *proves* optimality over all pairs with the duals: a
  pair (i, k) can improve the answer only if c_ik + v_k < u_i. That is checked for every pair in
  one streamed pass over grid squares of cells: a school's distance to the square's bounding box
  plus its price bounds c_ik + v_k for every cell of the square, so most schools are cleared a
  square at a time and only the rest are evaluated, none stored. Violating pairs (the worst few
  per cell) are priced in and the problem solved again from the previous flows, until the proof
  holds — or, after ``max_rounds`` rounds, the answer is refused as unproven
  (:class:`~schoolmap.errors.UnprovenError`), never passed off as optimal.

**Seat price** ``v_j`` (in cost units, metres for :func:`assign`): the travel the district would
save with one more seat at school j — zero where seats are spare; high where students are pushed
far away for lack of seats. It is where an expansion helps most. The **cell dual** ``u_i`` is the
cost of serving one more student living in cell i.

The certificate checks primal feasibility (no school over its seats, every student assigned or
unserved), dual feasibility over all pairs (u_i ≤ c_ij + v_j within ``tol``, u_i ≤ p_i, v ≥ 0)
and the duality gap: by weak duality the dual objective Σ s_i u_i − Σ seats_j v_j is a lower
bound on every allocation, so a relative gap ≤ ``GAP_TOL`` (1e-8) proves the answer optimal to
that precision. ``certificate["optimal"]`` is True only when all three hold. Complementary
slackness is reported too (``max_slackness``), for information.

**Memory.** Before any work :func:`assign` estimates its peak (:func:`estimate_assign_bytes`)
and stops with a :class:`~schoolmap.errors.MemoryLimitError` naming the size, the estimate and
the ``memory_limit`` option if it would exceed the limit (default 60 % of available memory).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from schoolmap._kernels.auction import auction_prices
from schoolmap._kernels.bins import ascending_ids, square_keys
from schoolmap._kernels.candidates import bin_boxes
from schoolmap._kernels.transport import STATUS_NO_PATH, STATUS_PATH_LIMIT, ssp_transport
from schoolmap.allocation.bins import (  # noqa: F401  (cell_bins: its old home was here)
    cell_bins,
    grouped_cell_bins,
    streamed_candidates,
    streamed_violations,
)
from schoolmap.allocation.memory import (  # noqa: F401  (their old home: optimal)
    available_memory,
    borrowed_workspace,
    check_memory,
    estimate_assign_bytes,
    ladder_bytes,
)
from schoolmap.errors import InfeasibleError, MemoryLimitError, UnprovenError, ValidationError

__all__ = ["TransportResult", "UnprovenWarning", "assign", "check_memory", "estimate_assign_bytes",
           "refuse_unproven", "transport"]

_K_START = 4
_K_COLD = 32  # nearest schools per cell on the coarsest level (no price estimate yet)
BINS_PER_SCHOOL = 2
MIN_BINS = 500  # fewer cells than 2 × this are solved without a coarser level
LEVEL_FACTOR = 4
MARGIN_BINS = 0.5
OCCUPIED_SHARE = 0.8  # a level's grid is taken once this share of its squares hold students
CELLS_PER_CHECK_BIN = 32  # cells per grid square of the streamed certificate (on average)
KEEP_VIOLATIONS = 4  # violating pairs priced in per cell and round (the most violating)
MAX_ROUNDS = 50  # solve rounds before an answer is reported unproven
WARM_PATHS = 10  # a round's warm re-solve may take this many times the first round's paths
WARM_SLACK = 1  # … plus this many per cell and school (and 10,000), then it starts afresh
GAP_TOL = 1e-8  # relative duality gap accepted as proof (total travel within 1e-8 of optimal)
AUCTION_MAX_PAIRS = 4_000_000  # coarsest levels up to this many pairs start from auction prices
AUCTION_MIN_SCHOOLS = 50  # below this a cold start is cheap already
AUCTION_NEAREST = 1_000_000  # schools a cell bids for (its nearest); fewer than all: bad prices
AUCTION_EPS_END = 1e-3  # last bid increment, as a share of the district's diagonal
AUCTION_MARGIN = 16.0  # candidate margin on auction prices, in last bid increments
AUCTION_BIDS_PER_CELL = 200  # the auction's bid budget (plus 100,000); past it, a cold start


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
        ``optimal`` (bool), ``duality_gap`` (relative), ``max_violation`` (largest dual
        infeasibility u_i − c_ij − v_j over all pairs, cost units), ``max_slackness`` (largest
        complementary-slackness violation, for information), ``max_infeasibility`` (students
        over seats or not accounted for), ``pairs_checked`` (pairs whose reduced cost was
        evaluated explicitly), ``pairs_bounded`` (pairs cleared by a bound without evaluating
        them), ``rounds``, ``round_limit_hit`` (present and True when ``max_rounds`` stopped the
        search), ``paths`` (shortest paths augmented), ``candidates``.
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
    # always a writable copy: numba compiles its kernels again for read-only arrays (a pandas
    # column under copy-on-write is one), 8 s more on a cold run
    a = np.array(x, dtype=np.float64).reshape(-1)
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
                      price0=None, flow0=None, workspace=None, path_budget=None):
    if workspace is None:  # one for this solve (kept for the next inside shared_solver_memory)
        with borrowed_workspace(len(capacity)) as work:
            return _solve_candidates(supply, capacity, indptr, school, cost, unserved_cost,
                                     integral, price0, flow0, work, path_budget)
    if max(len(school), len(supply)) >= 2**31 - 1:  # the kernel's ladders hold int32 slots
        raise MemoryLimitError(f"{len(supply):,} cells with {len(school):,} candidate pairs are "
                               "more than one exact solve can hold; split the district")
    eps = 0.5 if integral else 1e-12 * max(1.0, float(supply.sum()))
    if price0 is None:
        price0 = np.zeros(len(capacity))
    flow, unserved, price, n_paths, status = ssp_transport(
        supply, capacity, indptr, school, cost, unserved_cost,
        np.ascontiguousarray(price0, dtype=np.float64), eps,
        np.zeros(0) if flow0 is None else np.ascontiguousarray(flow0, dtype=np.float64),
        max_paths(len(supply), len(capacity)) if path_budget is None else int(path_budget),
        *workspace)
    if status == STATUS_NO_PATH:
        raise InfeasibleError("students cannot all be placed and leaving them unserved is not "
                              "allowed (unserved_cost is infinite); give a finite unserved_cost")
    if status == STATUS_PATH_LIMIT:
        raise UnprovenError(f"the exact solve of {len(supply):,} cells × {len(capacity):,} "
                            f"schools stopped after {int(n_paths):,} augmenting paths, its "
                            "bound (the benchmark panel's solves take under one per cell): no "
                            "answer is returned; report this district")
    return flow, unserved, price, int(n_paths)


def max_paths(n_cells: int, n_schools: int) -> int:
    """Augmenting paths one exact solve may take before it stops (``UnprovenError``): 100 per
    cell and school, plus 100,000 — the panel's solves take under one per cell."""
    return 100 * (n_cells + n_schools) + 100_000


def _sorted_csr(n: int, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, order=None):
    if order is None:
        order = np.argsort(rows, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, np.ascontiguousarray(cols, dtype=np.int64), np.ascontiguousarray(vals)


def _duals_and_slackness(supply, capacity, indptr, school, cost, unserved_cost, flow, unserved,
                         price, tol):
    """Cell duals u, and the largest complementary-slackness violation (for information: with
    primal and dual feasibility, the duality gap is what proves optimality)."""
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
    # primal feasibility: no school over its seats, every cell's students assigned or unserved
    load = np.bincount(school[keep], weights=flow[keep], minlength=len(capacity))
    placed = np.bincount(cell_of[keep], weights=flow[keep], minlength=n) + unserved
    infeasible = max(float((load - capacity).max(initial=0.0)),
                     float(np.abs(placed - supply).max(initial=0.0)))
    certificate["max_infeasibility"] = infeasible
    feasible = infeasible <= (0.0 if integral else 1e-9 * max(1.0, float(supply.sum())))
    certificate["optimal"] = bool(feasible and certificate["max_violation"] <= certificate["tol"]
                                  and gap <= GAP_TOL)
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
    start: TransportResult | np.ndarray | None = None,
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
    start : TransportResult or array_like of shape (m,), optional
        Sparse costs only: where the solve starts — a previous answer on the same cells and
        schools (its seat prices, and its flows on the pairs still allowed), or estimated seat
        prices. The answer and its proof do not depend on it, only the time: from prices near
        the optimal ones few students need to move.

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
        price0, flow0 = _start(start, n, m, indptr, school)
        flow, unserved, price, paths = _solve_candidates(supply, capacity, indptr, school, cvals,
                                                         p, integral, price0, flow0)
        u, viol, _ = _duals_and_slackness(supply, capacity, indptr, school, cvals, p, flow,
                                          unserved, price, tol)
        # u is the cheapest priced option of each cell: dual feasible on every allowed pair
        certificate.update(rounds=1, paths=paths, pairs_checked=len(school), max_violation=0.0,
                           max_slackness=viol, candidates=len(school))
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
                                                         p, integral, price, None)
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
        certificate["max_violation"] = float(worst.max(initial=0.0))
        certificate["max_slackness"] = viol
        if not bad.any() or wide[bad].all():
            break
        wide |= bad
    certificate["candidates"] = len(school)
    return _finish(supply, capacity, indptr, school, cvals, p, flow, unserved, price, u,
                   integral, certificate)


def _start(start: Any, n: int, m: int, indptr: np.ndarray,
           school: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Seat prices and per-pair flows to start the sparse solve from (see :func:`transport`)."""
    if start is None:
        return None, None
    if isinstance(start, TransportResult):
        price = np.asarray(start.seat_price, dtype=np.float64)
        if len(price) != m or len(start.unserved_by_cell) != n:
            raise ValidationError([f"start is an answer for {len(start.unserved_by_cell)} cells "
                                   f"× {len(price)} schools, not {n} × {m}"], "transport input")
        # its flows, on the pairs still allowed (pairs keyed cell × m + school)
        cell_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        key = cell_of * m + school
        flow = np.zeros(len(key))
        if len(key):
            order = np.argsort(key, kind="stable")
            ordered = key[order]
            old = start.cell.astype(np.int64) * m + start.school.astype(np.int64)
            at = np.minimum(np.searchsorted(ordered, old), len(key) - 1)
            hit = ordered[at] == old
            flow[order[at[hit]]] = np.asarray(start.students, dtype=np.float64)[hit]
        return np.maximum(price, 0.0), flow
    price = _vector(start, "start (seat prices)", m)
    return price, None


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
    memory_limit: float | None = None,
    max_rounds: int = MAX_ROUNDS,
    on_unproven: str = "raise",
    start_price: Any = None,
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
    memory_limit : float, optional
        Bytes the solve may use at its peak, above its inputs. Default: 60 % of the memory
        available when the call starts. The peak is estimated before any work; above the limit a
        :class:`~schoolmap.errors.MemoryLimitError` names the size, the estimate and this option.
    max_rounds : int
        Solve rounds (each prices in the pairs the certificate found violated) before giving up.
    on_unproven : {"raise", "warn"}
        When the certificate does not hold after ``max_rounds`` rounds: raise
        :class:`~schoolmap.errors.UnprovenError` (default; the best answer is its ``result``), or
        return it with ``certificate["optimal"]`` False after a :class:`UnprovenWarning`.
    start_price : array_like of shape (m,), optional
        Seat prices (metres, ≥ 0) to start from instead of estimating them on coarser grids —
        an earlier answer's ``seat_price`` for a district that changed a little (a year on; a
        new school at max(0, max_i(u_i − c_ij)) from the answer's ``cell_dual``, not at 0).
        It changes how long the solve takes, never its proof; where optima tie, the answer
        may be another one of them. A first solve past one path per cell and school (plus
        10,000) is dropped and the prices are estimated as without a start.

    Returns
    -------
    TransportResult
        Costs are distances in metres; ``certificate["optimal"]`` is True.

    Examples
    --------
    Three students on a line, two seats at x = 0 and one at x = 10:

    >>> r = assign([[1.0, 0.0], [2.0, 0.0]], [2, 1], [[0.0, 0.0], [10.0, 0.0]], [2, 1])
    >>> r.assigned_by_school.tolist(), r.objective, r.certificate["optimal"]
    ([2.0, 1.0], 10.0, True)
    """
    if on_unproven not in ("raise", "warn"):
        raise ValidationError([f"on_unproven must be 'raise' or 'warn', got {on_unproven!r}"],
                              "assign input")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise ValidationError([f"max_rounds must be a whole number ≥ 1, got {max_rounds!r}"],
                              "assign input")
    n, m = np.shape(cell_xy)[0], np.shape(school_xy)[0]
    check_memory(estimate_assign_bytes(n, m), memory_limit,
                 f"exact allocation of {n:,} cells × {m:,} schools")
    start = None if start_price is None else np.asarray(start_price, dtype=np.float64)
    ValidationError.raise_if([] if start is None or (start.shape == (m,) and np.isfinite(
        start).all() and (start >= 0).all()) else [f"start_price must be {m} finite seat prices "
        f"≥ 0 (one per school), got shape {start.shape}"], "assign input")
    try:
        r = _assign(cell_xy, students, school_xy, seats, max_distance_m, unserved_cost, metric,
                    tol, k, k, progress, max_rounds, start_price=start)
    except UnprovenError:
        if start is None:
            raise
        r = _assign(cell_xy, students, school_xy, seats, max_distance_m, unserved_cost, metric,
                    tol, k, k, progress, max_rounds)  # the start was poor: estimate prices
    if not r.certificate["optimal"]:
        refuse_unproven(r, f"exact allocation of {n:,} cells × {m:,} schools", max_rounds,
                        "raise max_rounds, or report this district", on_unproven)
    return r


def refuse_unproven(result: TransportResult, what: str, max_rounds: int, fix: str,
                    on_unproven: str) -> None:
    """Raise :class:`UnprovenError` for an answer whose certificate does not hold (or warn
    with :class:`UnprovenWarning` when ``on_unproven`` is ``"warn"``), naming why and the fix."""
    c = result.certificate
    why = (f"the round limit ({max_rounds}) was reached" if c.get("round_limit_hit")
           else "the certificate does not hold")
    text = (f"{what} is NOT proven optimal: {why} (largest violation "
            f"{c['max_violation']:.6g} m, duality gap {c['duality_gap']:.3g}); {fix}")
    if on_unproven == "raise":
        raise UnprovenError(text, result)
    warnings.warn(text, UnprovenWarning, stacklevel=3)


class UnprovenWarning(UserWarning):
    """An answer returned although its optimality is not proven (``on_unproven="warn"``)."""


def _assign(cell_xy, students, school_xy, seats, max_distance_m, unserved_cost, metric, tol, k,
            k_cold, progress, max_rounds=MAX_ROUNDS, workspace=None, start_price=None):
    """:func:`assign`; ``k_cold`` nearest schools per cell are candidates where no prices are
    estimated (on the coarsest level), the ``k`` nearest always are. ``workspace``: the
    kernel's (:func:`~schoolmap._kernels.transport.solver_workspace`), shared by every level
    and round of one call."""
    if workspace is None:  # one for the whole call (kept inside shared_solver_memory)
        with borrowed_workspace(np.shape(school_xy)[0]) as work:
            return _assign(cell_xy, students, school_xy, seats, max_distance_m, unserved_cost,
                           metric, tol, k, k_cold, progress, max_rounds, work, start_price)
    xy = np.array(cell_xy, dtype=np.float64, order="C")  # writable copies (see _vector)
    sxy = np.array(school_xy, dtype=np.float64, order="C")
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
        certificate.update(rounds=1, max_violation=0.0, max_slackness=0.0, candidates=0)
        u = p.copy()
        return _finish(supply, capacity, indptr, empty_i, empty_f, p, empty_f,
                       supply.copy(), np.zeros(m), u, integral, certificate)
    tree = cKDTree(sxy)
    upper = np.inf if max_distance_m is None else float(max_distance_m)
    say = progress or (lambda _msg: None)
    bin_cells, bin_ptr, group_ptr = grouped_cell_bins(xy, CELLS_PER_CHECK_BIN)
    box = bin_boxes(xy, bin_cells, bin_ptr)
    (rows, cols, dists), price, warm = _candidates(
        tree, xy, supply, sxy, capacity, p, pnorm, upper, k, k_cold, tol, say,
        (bin_cells, bin_ptr, box, group_ptr), workspace, start_price)
    pair_flow = None  # flows of the last round, per pair (new pairs: 0)
    estimate = price.copy()
    wanted = np.zeros(m)
    while True:
        certificate["rounds"] += 1
        say(f"{n:,} cells × {m:,} schools: exact solve, round {certificate['rounds']}")
        order = np.argsort(rows, kind="stable")
        indptr, school, cvals = _sorted_csr(n, rows, cols, dists, order)
        if pair_flow is not None:
            # a school the last round's candidates could not fill came out free (price 0),
            # and every violating cell prefers it: start it from the price at which none of
            # them does (and at least its estimate), or they all rush to it and must be led
            # back path by path; it then draws its seats' worth from cells on the margin
            price = np.where(price > 0.0, price, np.maximum(estimate, wanted))
        if pair_flow is None:  # from given prices: within a budget, else as if none were given
            flow, unserved, price, paths = _solve_candidates(
                supply, capacity, indptr, school, cvals, p, integral, price, None, workspace,
                None if start_price is None else WARM_SLACK * (n + m + 10_000))
            first_paths = paths
        else:
            flow, unserved, price, paths = _resolve(
                supply, capacity, indptr, school, cvals, p, integral, price, pair_flow[order],
                workspace, first_paths, say, estimate, warm or certificate["rounds"] > 2)
        pair_flow = np.empty(len(rows))
        pair_flow[order] = flow
        certificate["paths"] += paths
        say(f"  solved: {len(school):,} candidate pairs, {paths:,} paths")
        u, viol, _ = _duals_and_slackness(supply, capacity, indptr, school, cvals, p, flow,
                                          unserved, price, tol)
        # dual feasibility over all pairs, streamed bin by bin (nothing stored but violations)
        b_rows, b_cols, b_dists, worst, checked, u = streamed_violations(
            xy, bin_cells, bin_ptr, box, group_ptr, sxy, price, u, upper, tol, pnorm,
            KEEP_VIOLATIONS, supply, p)
        certificate["pairs_checked"] += int(checked)
        certificate["pairs_bounded"] += n * m - int(checked)
        certificate["max_violation"] = float(worst)
        certificate["max_slackness"] = viol
        if not len(b_rows):
            break
        if certificate["rounds"] >= max_rounds:
            certificate["round_limit_hit"] = True
            break
        wanted[:] = 0.0  # per school, the price that stops its violations
        np.maximum.at(wanted, b_cols, u[b_rows] - b_dists)
        rows = np.concatenate([rows, b_rows])
        cols = np.concatenate([cols, b_cols])
        dists = np.concatenate([dists, b_dists])
        pair_flow = np.concatenate([pair_flow, np.zeros(len(b_rows))])
    certificate["candidates"] = len(school)
    return _finish(supply, capacity, indptr, school, cvals, p, flow, unserved, price, u,
                   integral, certificate)


def _resolve(supply, capacity, indptr, school, cost, p, integral, price, flow0, workspace,
             first_paths, say, estimate, warm):
    """A certificate round's re-solve. Warm (``warm`` True: the level's prices came from an
    exact coarser level, or a coarsest level's third round on) from the last round's flows and
    prices, within ``WARM_PATHS`` × the first round's paths (+ one per cell and school): some
    warm searches wander (a 250,000-cell city's kindergartens: 1.8 million paths, 7,001 fresh),
    so past that budget the round starts afresh from the level's ``estimate``. The coarsest
    level's second round (its first candidates came from approximate auction prices) starts
    from ``estimate``: that first optimum over too few pairs is a worse start (a satellite
    city's 2,339 squares: 10,289 paths warm, 2,534 afresh); later rounds add few pairs to a
    near-final answer (a ring city's 2,837 squares, rounds 3–5: 2,332 warm, 19,127 afresh)."""
    spent = 0
    if warm:
        budget = WARM_PATHS * first_paths + WARM_SLACK * (len(supply) + len(capacity) + 10_000)
        try:
            return _solve_candidates(supply, capacity, indptr, school, cost, p, integral, price,
                                     flow0, workspace, min(budget, max_paths(len(supply),
                                                                             len(capacity))))
        except UnprovenError:
            say(f"  the warm re-solve passed {budget:,} paths: solving this round afresh")
            spent = budget
    flow, unserved, price, paths = _solve_candidates(supply, capacity, indptr, school, cost, p,
                                                     integral, estimate, None, workspace)
    return flow, unserved, price, paths + spent


def _candidates(tree, xy, supply, sxy, capacity, p, pnorm, upper, k, k_cold, tol, say, bins,
                workspace=None, start_price=None):
    """First candidate schools of each cell, and estimated seat prices.

    With the k nearest schools alone, a crowded area whose nearest schools are all full finds no
    free seat among its candidates and its prices jump to the unserved cost. So for large
    instances seat prices are first estimated on a grid of binned cells (solved exactly the same
    way, recursively: each level 4× coarser), and each cell gets every school whose *priced*
    distance (distance + estimated price) is within a margin of its best — found bin by bin
    with box bounds (:func:`~schoolmap._kernels.candidates.priced_candidates`), so the lists
    are as long as the prices make them and never n × m; the certificate adds whatever is
    missing. The coarsest level starts from seat prices found by an ε-scaled auction over all
    its pairs (:func:`_auction_start`; a start, never the answer), or, where that does not
    apply, from each cell's ``k_cold`` nearest schools and no prices. Given ``start_price``,
    no level is solved: the candidates are taken at those prices, with the margin the next
    coarser level would have given.

    Returns
    -------
    candidates : tuple (rows, cols, distances) of pairs, no duplicates
    price : ndarray of shape (m,)
        Estimated seat prices (the auction's on the coarsest level, or zeros).
    warm : bool
        Whether later rounds re-solve warm (False where the prices are the auction's).
    """
    n, m = len(xy), len(sxy)
    kk = min(m, k_cold)
    n_bins = max(n // LEVEL_FACTOR, BINS_PER_SCHOOL * m, MIN_BINS)
    if start_price is None and not (n > 2 * n_bins and m > kk):
        start = _auction_start(tree, xy, supply, sxy, capacity, p, pnorm, upper, bins)
        if start is not None:
            return (*start, False)
        dist, idx, _ = _nearest(tree, xy, kk, pnorm, upper)
        rows, cols = np.nonzero(np.isfinite(dist) & (supply[:, None] > 0))
        return (rows, idx[rows, cols], dist[rows, cols]), np.zeros(m), True
    # the margin is the coarser level's (with a start: the one it would have had)
    bin_m, key = _grid_for(xy, n_bins if start_price is None else min(n_bins, n), supply > 0)
    estimate = start_price.copy() if start_price is not None else _coarse_prices(
        xy, supply, sxy, capacity, p, pnorm, upper, tol, k, say, workspace, bin_m, key)
    rows, cols, dists, _ = streamed_candidates(xy, *bins, sxy, estimate, p, supply,
                                               float(MARGIN_BINS * bin_m * np.sqrt(2.0)),
                                               upper, pnorm)
    return (rows, cols, dists), estimate, True


def _coarse_prices(xy, supply, sxy, capacity, p, pnorm, upper, tol, k, say, workspace, bin_m,
                   key):
    """Seat prices from the exact allocation of each grid square's students (``key``, side
    ``bin_m`` metres) from their weighted centre."""
    inverse = ascending_ids(key)
    weight = np.bincount(inverse, weights=supply)
    has = weight > 0
    cxy = np.column_stack([np.bincount(inverse, weights=supply * xy[:, 0]),
                           np.bincount(inverse, weights=supply * xy[:, 1])])
    cxy = cxy[has] / weight[has, None]
    say(f"estimating seat prices on {int(has.sum()):,} bins of {bin_m:,.0f} m")
    return _assign(cxy, weight[has], sxy, capacity, None if np.isinf(upper) else upper,
                   float(p.max()), "manhattan" if pnorm == 1 else "euclidean", tol, k,
                   _K_COLD, say, MAX_ROUNDS, workspace).seat_price


def _auction_start(tree, xy, supply, sxy, capacity, p, pnorm, upper, bins):
    """Candidates and seat prices of the coarsest level from an auction over each cell's
    ``AUCTION_NEAREST`` nearest schools (:func:`~schoolmap._kernels.auction.auction_prices`),
    or None where that does not apply (few schools, too many pairs to hold, an infinite unserved
    cost, or the auction's bid budget ran out): the level then starts cold from each cell's
    nearest schools. The candidates are then taken over *all* schools by priced distance."""
    n, m = len(xy), len(sxy)
    kk = min(m, AUCTION_NEAREST)
    if m < AUCTION_MIN_SCHOOLS or n * kk > AUCTION_MAX_PAIRS or not np.isfinite(p).all():
        return None
    if kk == m:  # every school: the dense matrix, cheaper than a k-nearest query of all
        dist = cdist(xy, sxy, "cityblock" if pnorm == 1 else "euclidean")
        dist[dist > upper] = np.inf
        near = np.broadcast_to(np.arange(m, dtype=np.int64), (n, m)).copy()
    else:
        dist, near, _ = _nearest(tree, xy, kk, pnorm, upper)
    near = np.where(np.isfinite(dist), near, -1)
    span = np.ptp(np.vstack([xy, sxy]), axis=0)
    diagonal = float(np.abs(span).sum()) if pnorm == 1 else float(np.hypot(*span))
    eps_end = max(AUCTION_EPS_END * diagonal, 1.0)
    eps_start = max(0.5 * min(float(p.max()), diagonal), eps_end)
    price, _bids, ok = auction_prices(near, dist, supply, capacity, p, eps_start, eps_end, 4.0,
                                      AUCTION_BIDS_PER_CELL * n + 100_000)
    if not ok:
        return None
    rows, cols, dists, _ = streamed_candidates(xy, *bins, sxy, price, p, supply,
                                               AUCTION_MARGIN * eps_end, upper, pnorm)
    return (rows, cols, dists), price


def _grid_for(xy: np.ndarray, n_bins: int,
              counted: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """A grid square side (metres) giving about ``n_bins`` *occupied* squares (at least
    ``OCCUPIED_SHARE`` of them: the side shrinks where cells crowd), and each cell's square key.
    ``counted`` (n,) bool: only these cells occupy a square (the cells with students: a square
    of empty cells is no bin of the coarser level; counting it left a dense core 16× coarser)."""
    span = np.ptp(xy, axis=0)
    origin = xy.min(axis=0)
    bin_m = max(float(np.sqrt(max(span[0] * span[1], 1.0) / n_bins)), 1.0)
    live = np.ones(len(xy), np.bool_) if counted is None else np.asarray(counted, np.bool_)
    for _ in range(8):
        key, occupied = square_keys(xy, float(origin[0]), float(origin[1]), bin_m, live)
        if occupied >= OCCUPIED_SHARE * n_bins or bin_m <= 1.0:
            break
        bin_m = max(bin_m * float((occupied / n_bins) ** 0.75), 1.0)
    return bin_m, key


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
