"""Where to put schools: the classic location models on a cost matrix (the array door).

``cost[i, j]`` is the cost (metres, minutes, …) per unit of demand of serving demand point i
from candidate site j. Every model returns a :class:`SitingResult` with the chosen sites, the
objective, a proven bound and the relative gap between them, so a planner can see how far a
fast answer can be from the best possible one.

- :func:`p_median` — p sites minimising total weighted cost (Σ w_i min_{j∈S} c_ij), optionally
  keeping existing sites (``fixed``) open.
- :func:`p_center` — p sites minimising the largest cost any demand point faces.
- :func:`mclp` — maximal covering: p sites covering as much demand as possible within a radius.
- :func:`lscp` — location set covering: the fewest sites that cover every demand point.
- :func:`cflp` — capacitated facility location with fixed opening costs (demand may be split).

Heuristics run in numba (greedy + vertex substitution with nearest / second-nearest
bookkeeping) with Lagrangian or combinatorial bounds; ``exact=True`` solves a MILP with HiGHS
(``highspy``, installed with schoolmap) and reaches the proven optimum unless ``time_limit``
runs out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from schoolmap._kernels.siting import (
    greedy_add,
    greedy_cover,
    interchange,
    interchange_lists,
    lagrangian_bound,
    packing_bound,
)
from schoolmap.errors import InfeasibleError, ValidationError
from schoolmap.highs import milp

__all__ = ["SitingResult", "cflp", "lscp", "mclp", "p_center", "p_median"]


_MAX_SWAPS = 100_000
_BOUND_WORK = 4e8  # cost-matrix entries visited by the Lagrangian bound at most
_REL_TOL = 1e-12


#: Most rounds (each tries every drop, add and swap) and seconds of the CFLP local search
#: before it returns its best set so far (each round lowers the total, so it ends anyway).
CFLP_MAX_ROUNDS, CFLP_SEARCH_S = 1_000, 600.0


@dataclass(frozen=True)
class SitingResult:
    """The sites a location model chose, and how good they are proven to be.

    Attributes
    ----------
    model : str
        ``"p_median"``, ``"p_center"``, ``"mclp"``, ``"lscp"`` or ``"cflp"``.
    sites : ndarray of shape (n_open,), int64
        Chosen candidate columns, sorted.
    objective : float
        Value of the chosen sites: total weighted cost (p-median), largest cost (p-center),
        covered weight (MCLP, maximised), number of sites (LSCP), fixed + transport cost (CFLP).
    lower_bound, upper_bound : float
        Proven bounds on the optimum. For a minimisation ``upper_bound == objective``; for
        MCLP (a maximisation) ``lower_bound == objective``. NaN when no bound is known.
    gap : float
        (upper_bound − lower_bound) / |upper_bound|: 0 when the answer is proven optimal.
    optimal : bool
        True when the gap is closed (within floating-point tolerance).
    exact : bool
        True when the exact (MILP) method was asked for.
    assignment : ndarray of shape (n_demand,), int64
        Column serving each demand point (its nearest chosen site; for CFLP the site serving
        the largest part of its demand; −1 for a demand point MCLP leaves uncovered).
    seconds : float
        Wall time of the call.
    detail : dict
        Model-specific figures (e.g. ``swaps``, ``bound_iterations``, ``uncovered``,
        ``flows``).
    """

    model: str
    sites: np.ndarray
    objective: float
    lower_bound: float
    upper_bound: float
    gap: float
    optimal: bool
    exact: bool
    assignment: np.ndarray
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


def _cost(cost: Any, name: str = "cost") -> np.ndarray:
    if sp.issparse(cost):
        raise ValidationError([f"{name} must be a dense array of shape (n_demand, n_sites), "
                               "not a sparse matrix; call .toarray() first"], "siting input")
    try:
        c = np.ascontiguousarray(np.asarray(cost, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise ValidationError([f"{name} is not numeric: {err}"], "siting input") from None
    problems = []
    if c.ndim != 2:
        problems.append(f"{name} must be 2-D (n_demand, n_sites), got shape {c.shape}")
    elif c.shape[0] == 0 or c.shape[1] == 0:
        problems.append(f"{name} is empty (shape {c.shape}); give at least one demand point "
                        "and one candidate site")
    else:
        bad = np.isnan(c)
        if bad.any():
            r, k = np.argwhere(bad)[0]
            problems.append(f"{name} contains {int(bad.sum())} NaN (first at [{r}, {k}])")
        if np.isinf(c).any():
            problems.append(f"{name} contains inf; use a large finite cost for pairs that "
                            "should not be used")
        neg = c < 0
        if neg.any():
            r, k = np.argwhere(neg)[0]
            problems.append(f"{name} has {int(neg.sum())} negative entries (first at [{r}, {k}]: "
                            f"{c[r, k]:g}); costs must be ≥ 0")
    ValidationError.raise_if(problems, "siting input")
    return c


def _vector(x: Any, name: str, n: int, positive: bool = False) -> np.ndarray:
    try:
        a = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))
    except (TypeError, ValueError) as err:
        raise ValidationError([f"{name} is not numeric: {err}"], "siting input") from None
    problems = []
    if len(a) != n:
        problems.append(f"{name} has {len(a)} entries, expected {n} (one per "
                        f"{'demand point' if name in ('weights', 'demand') else 'site'})")
    else:
        if np.isnan(a).any():
            problems.append(f"{name} contains NaN (entries "
                            f"{np.flatnonzero(np.isnan(a))[:5].tolist()})")
        if np.isinf(a).any():
            problems.append(f"{name} contains inf")
        if (a < 0).any():
            problems.append(f"{name} is negative (entries {np.flatnonzero(a < 0)[:5].tolist()})")
        if positive and (a == 0).all():
            problems.append(f"{name} is zero everywhere")
    ValidationError.raise_if(problems, "siting input")
    return a


def _count(p: Any, name: str, low: int, high: int, why: str) -> int:
    if isinstance(p, bool) or not isinstance(p, int | np.integer):
        if isinstance(p, float | np.floating) and float(p).is_integer():
            p = int(p)
        else:
            raise ValidationError([f"{name} must be a whole number, got {p!r}"], "siting input")
    p = int(p)
    if not low <= p <= high:
        raise ValidationError([f"{name} = {p} is out of range: expected {low} ≤ {name} ≤ {high} "
                               f"({why})"], "siting input")
    return p


def _radius(radius: Any) -> float:
    try:
        r = float(radius)
    except (TypeError, ValueError):
        raise ValidationError([f"radius must be a number, got {radius!r}"],
                              "siting input") from None
    if not np.isfinite(r) or r < 0:
        raise ValidationError([f"radius must be finite and ≥ 0, got {radius!r}"], "siting input")
    return r


def _fixed(fixed: Any, m: int) -> np.ndarray:
    mask = np.zeros(m, dtype=np.uint8)
    if fixed is None:
        return mask
    f = np.asarray(fixed).reshape(-1)
    if f.dtype == bool:
        if len(f) != m:
            raise ValidationError([f"fixed as a mask has {len(f)} entries, expected {m}"],
                                  "siting input")
        mask[f] = 1
        return mask
    if len(f) and not np.issubdtype(f.dtype, np.integer):
        raise ValidationError([f"fixed must hold column indices (integers) or be a boolean "
                               f"mask, got dtype {f.dtype}"], "siting input")
    out = f[(f < 0) | (f >= m)]
    if len(out):
        raise ValidationError([f"fixed holds column indices outside 0..{m - 1}: "
                               f"{out[:5].tolist()}"], "siting input")
    if len(np.unique(f)) != len(f):
        raise ValidationError(["fixed lists a column more than once"], "siting input")
    mask[f.astype(np.int64)] = 1
    return mask


def _gap(lower: float, upper: float) -> float:
    if np.isnan(lower) or np.isnan(upper):
        return float("nan")
    g = (upper - lower) / max(abs(upper), 1e-12)
    return 0.0 if g <= 1e-9 else float(g)


def _integral(a: np.ndarray) -> bool:
    """True when every entry is a whole number (checked in chunks: real costs fail at once)."""
    flat = a.ravel()
    step = 1 << 16
    for start in range(0, flat.size, step):
        chunk = flat[start:start + step]
        if not np.array_equal(chunk, np.round(chunk)):
            return False
    return True


def _nearest(cost: np.ndarray, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sub = cost[:, sites]
    k = np.argmin(sub, axis=1)
    return sites[k].astype(np.int64), sub[np.arange(len(sub)), k]


def _result(model, sites, objective, lower, upper, exact, assignment, t0, **detail):
    gap = _gap(lower, upper)
    return SitingResult(model=model, sites=np.sort(np.asarray(sites, dtype=np.int64)),
                        objective=float(objective), lower_bound=float(lower),
                        upper_bound=float(upper), gap=gap, optimal=bool(gap == 0.0),
                        exact=exact, assignment=assignment,
                        seconds=time.perf_counter() - t0, detail=detail)


def _pmedian_heuristic(cost, w, p, fixed_mask, start=None, lists=None):
    is_open = fixed_mask.copy() if start is None else start.copy()
    greedy_add(cost, w, is_open, p)
    if lists is not None and p >= 2:
        nbr_cost, rev_ptr, rev_row, rev_cost = lists
        obj, swaps, _ = interchange_lists(cost, nbr_cost, rev_ptr, rev_row, rev_cost, w, is_open,
                                          fixed_mask, _MAX_SWAPS, _REL_TOL)
    else:
        obj, swaps, _ = interchange(cost, w, is_open, fixed_mask, _MAX_SWAPS, _REL_TOL)
    return is_open, float(obj), int(swaps)


def _lists(cost, p):
    """Each row's K cheapest columns (sorted) and their transpose (each column's rows)."""
    n, m = cost.shape
    k = m if m <= 64 else int(min(m, max(64, 4 * m // p)))
    nbr, nbr_cost = _sorted_neighbours(cost, k)
    flat = nbr.ravel()
    order = np.argsort(flat, kind="stable")
    rev_ptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat, minlength=m), out=rev_ptr[1:])
    rev_row = np.ascontiguousarray(order // k, dtype=np.int64)
    rev_cost = np.ascontiguousarray(nbr_cost.ravel()[order])
    return nbr, nbr_cost, rev_ptr, rev_row, rev_cost


def _sorted_neighbours(cost, k):
    """Each row's k cheapest columns, cheapest first: (n, k) int64 and float64."""
    n, m = cost.shape
    if k >= m:
        nbr = np.argsort(cost, axis=1)
    else:
        nbr = np.argpartition(cost, k - 1, axis=1)[:, :k]
        nbr = np.take_along_axis(nbr, np.argsort(np.take_along_axis(cost, nbr, axis=1), axis=1),
                                 axis=1)
    nbr = np.ascontiguousarray(nbr, dtype=np.int64)
    return nbr, np.ascontiguousarray(np.take_along_axis(cost, nbr, axis=1))


def _pmedian_bound(cost, w, p, fixed_mask, upper, d12, nbr, nbr_cost, iterations=None):
    """Lagrangian bound, and the best site set the subgradient steps passed through."""
    n, m = cost.shape
    k = nbr.shape[1]
    if iterations is None:
        iterations = int(np.clip(_BOUND_WORK / (n * k), 20, 1000))
    lam = np.ascontiguousarray(w * d12)  # start halfway to the second-nearest open site
    integral = _integral(w) and _integral(cost)
    best_open = np.zeros(m, dtype=np.uint8)
    bound_open = np.zeros(m, dtype=np.uint8)
    lower, its, primal = lagrangian_bound(cost, nbr, nbr_cost, w, p, fixed_mask, lam, upper,
                                          iterations, integral, best_open, bound_open)
    return min(float(lower), upper), int(its), (best_open, bound_open)


def _pmedian_solve(cost, w, p, fixed_mask):
    """Greedy + interchange; then interchange from the best Lagrangian set; bound."""
    nbr, nbr_cost, *rev = _lists(cost, p)
    lists = (nbr_cost, *rev)
    is_open, upper, swaps = _pmedian_heuristic(cost, w, p, fixed_mask, lists=lists)
    sites = np.flatnonzero(is_open)
    _, d1 = _nearest(cost, sites)
    upper = float(w @ d1)
    d12 = d1
    if len(sites) >= 2:
        two = np.partition(cost[:, sites], 1, axis=1)[:, :2]
        d12 = two.mean(axis=1)
    lower, its, lag_sets = _pmedian_bound(cost, w, p, fixed_mask, upper, d12, nbr, nbr_cost)
    for lag_open in lag_sets:
        if _gap(lower, upper) == 0 or not lag_open.any():
            continue
        open2, _, swaps2 = _pmedian_heuristic(cost, w, p, fixed_mask, start=lag_open,
                                              lists=lists)
        sites2 = np.flatnonzero(open2)
        _, d2 = _nearest(cost, sites2)
        swaps += swaps2
        if float(w @ d2) < upper:
            sites, upper = sites2, float(w @ d2)
    return sites, upper, lower, {"swaps": swaps, "bound_iterations": its}


def _pmedian_milp(cost, w, p, fixed_mask, start_sites, time_limit):
    n, m = cost.shape
    nx = n * m
    # columns: x_ij (row-major), then y_j. rows: assignment (n), link x_ij ≤ y_j (nx), Σ y = p
    xi = np.arange(nx)
    rows = np.concatenate([xi // m, n + xi, n + xi, np.full(m, n + nx)])
    cols = np.concatenate([xi, xi, nx + xi % m, nx + np.arange(m)])
    vals = np.concatenate([np.ones(nx), np.ones(nx), -np.ones(nx), np.ones(m)])
    a = sp.csc_matrix((vals, (rows, cols)), shape=(n + nx + 1, nx + m))
    c = np.concatenate([(w[:, None] * cost).ravel(), np.zeros(m)])
    row_lo = np.concatenate([np.ones(n), np.full(nx, -np.inf), [p]])
    row_hi = np.concatenate([np.ones(n), np.zeros(nx), [p]])
    col_lo = np.concatenate([np.zeros(nx), fixed_mask.astype(np.float64)])
    col_hi = np.ones(nx + m)
    integer = np.concatenate([np.zeros(nx, bool), np.ones(m, bool)])
    start = np.zeros(nx + m)
    start[nx + start_sites] = 1.0
    near, _ = _nearest(cost, start_sites)
    start[np.arange(n) * m + near] = 1.0
    x, obj, bound, optimal = milp(c, a, row_lo, row_hi, col_lo, col_hi, integer, start=start,
                                   time_limit=time_limit)
    sites = np.flatnonzero(x[nx:] > 0.5)
    return sites, obj, bound, optimal


def p_median(
    cost: Any,
    weights: Any,
    p: int,
    *,
    fixed: Any = None,
    exact: bool = False,
    time_limit: float | None = None,
) -> SitingResult:
    """Choose p sites minimising the total weighted cost of serving every demand point.

    minimise Σ_i w_i min_{j ∈ S} c_ij over site sets S with |S| = p and S ⊇ ``fixed``.

    Parameters
    ----------
    cost : ndarray of shape (n_demand, n_sites)
        Cost per unit of demand (≥ 0, finite), e.g. metres.
    weights : array_like of shape (n_demand,)
        Demand (students) at each point (≥ 0).
    p : int
        Number of open sites in total, ``fixed`` ones included (|fixed| ≤ p ≤ n_sites).
    fixed : array_like of int or bool mask, optional
        Columns that are open whatever happens (schools that stay).
    exact : bool
        Solve the MILP (strong formulation x_ij ≤ y_j) with HiGHS, warm-started from the
        heuristic. Otherwise: greedy + vertex substitution, with a Lagrangian lower bound.
    time_limit : float, optional
        Seconds HiGHS may spend (exact only); when it runs out the result is not optimal and
        says so through its gap.

    Returns
    -------
    SitingResult
        ``assignment`` is each demand point's nearest chosen site; ``detail`` holds ``swaps``
        and ``bound_iterations``.

    Examples
    --------
    Three demand points, three candidate sites; one site must stay open:

    >>> cost = np.array([[0.0, 4.0, 9.0], [4.0, 0.0, 5.0], [9.0, 5.0, 0.0]])
    >>> r = p_median(cost, [10, 1, 10], 2, fixed=[1])
    >>> r.sites.tolist(), r.objective, r.gap
    ([1, 2], 40.0, 0.0)
    """
    t0 = time.perf_counter()
    cost = _cost(cost)
    n, m = cost.shape
    w = _vector(weights, "weights", n)
    fixed_mask = _fixed(fixed, m)
    n_fixed = int(fixed_mask.sum())
    p = _count(p, "p", max(1, n_fixed), m, f"{m} candidate sites, {n_fixed} fixed")
    sites, upper, lower, detail = _pmedian_solve(cost, w, p, fixed_mask)
    assignment, _ = _nearest(cost, sites)
    if exact and _gap(lower, upper) > 0:
        sites, obj, bound, _ = _pmedian_milp(cost, w, p, fixed_mask, sites, time_limit)
        assignment, d1 = _nearest(cost, sites)
        upper = min(upper, float(w @ d1))
        lower = max(lower, bound)
        if _integral(w) and _integral(cost):
            lower = float(np.ceil(lower - 1e-6))
        detail["milp"] = True
    return _result("p_median", sites, upper, lower, upper, exact, assignment, t0, **detail)


def _cover_milp(covers, time_limit=None, relax=False):
    n, m = covers.shape
    a = sp.csc_matrix(covers.astype(np.float64))
    x, obj, bound, optimal = milp(np.ones(m), a, np.ones(n), np.full(n, np.inf), np.zeros(m),
                                   np.ones(m), np.ones(m, bool), time_limit=time_limit,
                                   relax=relax)
    return np.flatnonzero(x > 0.5), obj, bound, optimal


def lscp(cost: Any, radius: float, *, exact: bool = False,
         time_limit: float | None = None) -> SitingResult:
    """The fewest sites such that every demand point has one within ``radius``.

    Parameters
    ----------
    cost : ndarray of shape (n_demand, n_sites)
    radius : float
        Largest acceptable cost (same units as ``cost``); c_ij ≤ radius covers.
    exact : bool
        Solve the set-covering MILP with HiGHS. Otherwise greedy covering with redundant sites
        dropped; the lower bound counts demand points no two of which share a covering site.
    time_limit : float, optional
        Seconds HiGHS may spend (exact only).

    Returns
    -------
    SitingResult
        ``objective`` is the number of sites.

    Raises
    ------
    InfeasibleError
        If some demand point has no candidate site within ``radius``.

    Examples
    --------
    >>> cost = np.array([[1.0, 9.0, 9.0], [9.0, 1.0, 1.0], [9.0, 9.0, 1.0]])
    >>> r = lscp(cost, 2.0)
    >>> r.sites.tolist(), r.objective, r.optimal
    ([0, 2], 2.0, True)
    """
    t0 = time.perf_counter()
    cost = _cost(cost)
    radius = _radius(radius)
    covers = np.ascontiguousarray(cost <= radius, dtype=np.uint8)
    lonely = np.flatnonzero(covers.sum(axis=1) == 0)
    if len(lonely):
        raise InfeasibleError(f"{len(lonely)} demand points have no candidate site within "
                              f"radius {radius:g} (rows {lonely[:5].tolist()}); raise the radius "
                              "or add candidate sites")
    must = np.ones(len(cost), dtype=np.uint8)
    sites = np.flatnonzero(greedy_cover(covers, must))
    lower = float(packing_bound(covers, must))
    upper = float(len(sites))
    if exact and lower < upper:
        s2, obj, bound, _ = _cover_milp(covers, time_limit)
        if len(s2) <= len(sites):
            sites = s2
        upper = float(len(sites))
        lower = max(lower, float(np.ceil(bound - 1e-6)))
    assignment, _ = _nearest(cost, sites)
    return _result("lscp", sites, upper, lower, upper, exact, assignment, t0,
                   radius=radius)


def mclp(cost: Any, weights: Any, p: int, radius: float, *, exact: bool = False,
         time_limit: float | None = None) -> SitingResult:
    """Maximal covering: p sites covering as much demand as possible within ``radius``.

    Solved as a p-median on the 0/1 matrix "demand point i not covered by site j": the same
    greedy + vertex substitution, and the Lagrangian bound on uncovered demand gives an upper
    bound on covered demand (as strong as the LP relaxation).

    Parameters
    ----------
    cost : ndarray of shape (n_demand, n_sites)
    weights : array_like of shape (n_demand,)
    p : int
        Number of sites (1 ≤ p ≤ n_sites).
    radius : float
        c_ij ≤ radius covers.
    exact : bool
        Solve the MILP with HiGHS.
    time_limit : float, optional
        Seconds HiGHS may spend (exact only).

    Returns
    -------
    SitingResult
        ``objective`` = covered weight (maximised; ``upper_bound`` is the proven bound);
        ``assignment`` = covering site of each demand point or −1; ``detail`` has ``covered``
        (bool mask), ``uncovered`` (count of demand points) and ``covered_share`` (of weight).

    Examples
    --------
    >>> cost = np.array([[1.0, 9.0], [9.0, 1.0], [9.0, 1.0]])
    >>> r = mclp(cost, [5, 2, 2], 1, radius=2.0)
    >>> r.sites.tolist(), r.objective, r.detail["uncovered"]
    ([0], 5.0, 2)
    """
    t0 = time.perf_counter()
    cost = _cost(cost)
    n, m = cost.shape
    w = _vector(weights, "weights", n)
    p = _count(p, "p", 1, m, f"{m} candidate sites")
    radius = _radius(radius)
    miss = np.ascontiguousarray(cost > radius, dtype=np.float64)
    none = np.zeros(m, dtype=np.uint8)
    sites, uncovered_w, low_unc, detail = _pmedian_solve(miss, w, p, none)
    total = float(w.sum())
    if exact and low_unc < uncovered_w - 1e-9 * max(1.0, total):
        # columns y_j then z_i; rows z_i − Σ_{j covers i} y_j ≤ 0, Σ y = p
        cov = sp.coo_matrix((miss == 0).astype(np.float64))
        card = sp.csr_matrix(np.concatenate([np.ones(m), np.zeros(n)])[None, :])
        a = sp.vstack([sp.hstack([-cov, sp.identity(n)]), card]).tocsc()
        c = np.concatenate([np.zeros(m), -w])
        start = np.zeros(m + n)
        start[sites] = 1
        start[m:] = 1 - miss[:, sites].min(axis=1)
        x, obj, bound, _ = milp(c, a, np.concatenate([np.full(n, -np.inf), [p]]),
                                 np.concatenate([np.zeros(n), [p]]), np.zeros(m + n),
                                 np.ones(m + n), np.arange(m + n) < m, start=start,
                                 time_limit=time_limit)
        s2 = np.flatnonzero(x[:m] > 0.5)
        unc2 = float(w @ miss[:, s2].min(axis=1))
        if unc2 <= uncovered_w:
            sites, uncovered_w = s2, unc2
        low_unc = max(low_unc, total + bound)  # bound is on −covered
        detail["milp"] = True
    covered = miss[:, sites].min(axis=1) == 0
    near, _ = _nearest(cost, sites)
    assignment = np.where(covered, near, -1)
    detail.update(covered=covered, uncovered=int((~covered).sum()),
                  covered_share=(total - uncovered_w) / total if total > 0 else 1.0,
                  radius=radius)
    upper = total - max(0.0, min(low_unc, uncovered_w))
    return _result("mclp", sites, total - uncovered_w, total - uncovered_w, upper, exact,
                   assignment, t0, **detail)


def p_center(cost: Any, p: int, *, exact: bool = False,
             time_limit: float | None = None) -> SitingResult:
    """Choose p sites minimising the largest cost any demand point faces.

    Bisection over the distinct costs: a radius is feasible when every demand point can be
    covered with ≤ p sites. The heuristic tests feasibility with greedy covering and proves
    infeasibility with a packing bound (more than p demand points no two of which share a
    covering site); ``exact=True`` settles the undecided radii with a set-covering MILP in
    HiGHS. Spare sites (when fewer than p cover) are added greedily by total cost.

    Parameters
    ----------
    cost : ndarray of shape (n_demand, n_sites)
    p : int
        Number of sites (1 ≤ p ≤ n_sites).
    exact : bool
        Settle every radius with HiGHS: the result is the optimum.
    time_limit : float, optional
        Seconds HiGHS may spend on each covering MILP (exact only).

    Returns
    -------
    SitingResult
        ``objective`` is the largest cost from a demand point to its nearest chosen site.

    Examples
    --------
    >>> cost = np.array([[0.0, 3.0, 6.0], [3.0, 0.0, 3.0], [6.0, 3.0, 0.0]])
    >>> r = p_center(cost, 1)
    >>> r.sites.tolist(), r.objective, r.optimal
    ([1], 3.0, True)
    """
    t0 = time.perf_counter()
    cost = _cost(cost)
    n, m = cost.shape
    p = _count(p, "p", 1, m, f"{m} candidate sites")
    floor = float(cost.min(axis=1).max())  # every point needs some site
    values = np.unique(cost)
    values = values[values >= floor]
    must = np.ones(n, dtype=np.uint8)
    lo, hi = 0, len(values) - 1  # values[hi] is always feasible (every site open covers)
    best_sites = None
    proven_lo = 0  # values below this index are proven infeasible
    milps = 0
    while lo < hi:
        mid = (lo + hi) // 2
        covers = np.ascontiguousarray(cost <= values[mid], dtype=np.uint8)
        s = np.flatnonzero(greedy_cover(covers, must))
        if len(s) <= p:
            hi, best_sites = mid, s
            continue
        if packing_bound(covers, must) > p:
            lo = proven_lo = mid + 1
            continue
        if exact:
            s2, obj, _, _ = _cover_milp(covers, time_limit)
            milps += 1
            if len(s2) <= p:
                hi, best_sites = mid, s2
            else:
                lo = proven_lo = mid + 1
        else:
            lo = mid + 1
    if best_sites is None:
        covers = np.ascontiguousarray(cost <= values[hi], dtype=np.uint8)
        best_sites = np.flatnonzero(greedy_cover(covers, must))
        if len(best_sites) > p:  # only when nothing smaller was feasible: all sites cover
            best_sites = np.argsort(cost.max(axis=0))[:1]
    is_open = np.zeros(m, dtype=np.uint8)
    is_open[best_sites] = 1
    if len(best_sites) < p:
        greedy_add(cost, np.ones(n), is_open, p)
    sites = np.flatnonzero(is_open)
    assignment, d = _nearest(cost, sites)
    upper = float(d.max())
    lower = float(values[min(proven_lo, len(values) - 1)])
    lower = min(max(lower, floor), upper)
    return _result("p_center", sites, upper, lower, upper, exact, assignment, t0,
                   covering_milps=milps)


def _cflp_eval(open_mask, cost, demand, capacity, fixed_cost, cache):
    key = open_mask.tobytes()
    if key in cache:
        return cache[key]
    from schoolmap.allocation.optimal import transport

    cols = np.flatnonzero(open_mask)
    if capacity[cols].sum() < demand.sum() - 1e-9 or len(cols) == 0:
        val = (np.inf, None)
    else:
        r = transport(demand, capacity[cols], cost[:, cols], unserved_cost=np.inf)
        val = (float(r.objective + fixed_cost[cols].sum()), (cols, r))
    cache[key] = val
    return val


def _cflp_local_search(cost, demand, capacity, fixed_cost, seconds=None):
    """Moves from all sites open while one lowers the total, within :data:`CFLP_MAX_ROUNDS`
    and ``seconds``: (open mask, value, sets, their number, which limit stopped it or "")."""
    m = cost.shape[1]
    limit = CFLP_SEARCH_S if seconds is None else float(seconds)
    t0 = time.perf_counter()
    cache: dict[bytes, Any] = {}
    current = np.ones(m, dtype=bool)
    value, _ = _cflp_eval(current, cost, demand, capacity, fixed_cost, cache)
    improved, rounds, stopped = True, 0, ""
    while improved:
        if rounds >= CFLP_MAX_ROUNDS:
            stopped = f"round limit ({CFLP_MAX_ROUNDS})"
            break
        rounds += 1
        improved = False
        best_val, best_mask = value, None
        moves = []
        for j in range(m):  # drop / add one site
            mask = current.copy()
            mask[j] = not mask[j]
            moves.append(mask)
        for r in np.flatnonzero(current):  # swap an open site for a closed one
            for j in np.flatnonzero(~current):
                mask = current.copy()
                mask[r], mask[j] = False, True
                moves.append(mask)
        for mask in moves:
            if time.perf_counter() - t0 > limit:
                stopped = f"time limit ({limit:g} s)"
                break
            v, _ = _cflp_eval(mask, cost, demand, capacity, fixed_cost, cache)
            if v < best_val - 1e-9 * max(1.0, abs(best_val)):
                best_val, best_mask = v, mask
        if best_mask is not None:
            current, value, improved = best_mask, best_val, True
        if stopped:
            break
    return current, value, cache, len(cache), stopped


def _cflp_model(cost, demand, capacity, fixed_cost):
    n, m = cost.shape
    nx = n * m
    xi = np.arange(nx)
    i_of, j_of = xi // m, xi % m
    # columns x_ij (share of i's demand served by j), then y_j
    # rows: Σ_j x_ij = 1 (n); Σ_i d_i x_ij − cap_j y_j ≤ 0 (m); x_ij − y_j ≤ 0 (nx);
    # Σ cap_j y_j ≥ Σ d (1)
    ym = nx + np.arange(m)
    rows = np.concatenate([i_of, n + j_of, n + np.arange(m), n + m + xi, n + m + xi,
                           np.full(m, n + m + nx)])
    cols = np.concatenate([xi, xi, ym, xi, nx + j_of, ym])
    vals = np.concatenate([np.ones(nx), demand[i_of], -capacity, np.ones(nx), -np.ones(nx),
                           capacity])
    a = sp.csc_matrix((vals, (rows, cols)), shape=(n + m + nx + 1, nx + m))
    c = np.concatenate([(demand[:, None] * cost).ravel(), fixed_cost])
    row_lo = np.concatenate([np.ones(n), np.full(m + nx, -np.inf), [demand.sum()]])
    row_hi = np.concatenate([np.ones(n), np.zeros(m + nx), [np.inf]])
    return c, a, row_lo, row_hi, np.zeros(nx + m), np.ones(nx + m)


def cflp(
    cost: Any,
    demand: Any,
    capacity: Any,
    fixed_cost: Any,
    *,
    exact: bool = False,
    time_limit: float | None = None,
) -> SitingResult:
    """Capacitated facility location: which sites to open, paying to open them.

    minimise Σ_j f_j y_j + Σ_ij d_i c_ij x_ij subject to Σ_j x_ij = 1, Σ_i d_i x_ij ≤ cap_j y_j,
    x ≥ 0, y binary (a demand point's demand may be split between sites).

    The heuristic starts with every site open and drops, adds or swaps one site at a time while
    that lowers the total, pricing each set of open sites with the exact transportation solver
    (:func:`schoolmap.optimal.transport`). The lower bound is the LP relaxation (strong
    formulation, HiGHS); ``exact=True`` solves the MILP.

    Parameters
    ----------
    cost : ndarray of shape (n_demand, n_sites)
        Cost per unit of demand.
    demand : array_like of shape (n_demand,)
    capacity : array_like of shape (n_sites,)
    fixed_cost : array_like of shape (n_sites,)
        Cost of opening each site.
    exact : bool
        Solve the MILP with HiGHS, warm-started from the heuristic.
    time_limit : float, optional
        Seconds the local search may spend (default :data:`CFLP_SEARCH_S`) and, with
        ``exact``, HiGHS on the MILP.

    Returns
    -------
    SitingResult
        ``detail["flows"]``: (n_demand, n_sites) demand units served. A local search stopped by
        :data:`CFLP_MAX_ROUNDS` or its time limit returns its best set (feasible, ``gap`` to
        the LP bound) and ``detail["search_stopped"]`` names the limit.

    Raises
    ------
    InfeasibleError
        If all sites together have less capacity than the total demand.

    Examples
    --------
    Opening the cheap site alone beats paying for both:

    >>> cost = np.array([[1.0, 3.0], [3.0, 1.0]])
    >>> r = cflp(cost, [1, 1], [2, 2], [1, 10])
    >>> r.sites.tolist(), r.objective, r.optimal
    ([0], 5.0, True)
    """
    t0 = time.perf_counter()
    cost = _cost(cost)
    n, m = cost.shape
    demand = _vector(demand, "demand", n)
    capacity = _vector(capacity, "capacity", m)
    fixed_cost = _vector(fixed_cost, "fixed_cost", m)
    if capacity.sum() < demand.sum():
        raise InfeasibleError(f"total demand {demand.sum():,.0f} exceeds the capacity of all "
                              f"{m} sites together ({capacity.sum():,.0f})")
    current, upper, cache, evaluated, stopped = _cflp_local_search(cost, demand, capacity,
                                                                   fixed_cost, time_limit)
    _, (cols, r) = cache[current.tobytes()]
    flows = np.zeros((n, m))
    np.add.at(flows, (r.cell, cols[r.school]), r.students)
    detail: dict[str, Any] = {"sets_evaluated": evaluated}
    if stopped:
        detail["search_stopped"] = stopped
    model = _cflp_model(cost, demand, capacity, fixed_cost)
    try:
        _, lp_value, _, _ = milp(*model, np.zeros(n * m + m, bool), relax=True)
        lower = lp_value
    except ImportError:
        if exact:
            raise
        lower = float("nan")
    if exact and _gap(lower, upper) > 0:
        nx = n * m
        start = np.concatenate([(flows / np.maximum(demand, 1e-300)[:, None]).ravel(),
                                current.astype(np.float64)])
        integer = np.arange(nx + m) >= nx
        x, obj, bound, _ = milp(*model, integer, start=start, time_limit=time_limit)
        if obj < upper - 1e-9 * abs(upper):
            upper = obj
            current = x[nx:] > 0.5
            flows = x[:nx].reshape(n, m) * demand[:, None]
        lower = max(lower, bound)
        detail["milp"] = True
    sites = np.flatnonzero(current)
    detail["flows"] = flows
    assignment = np.argmax(flows, axis=1).astype(np.int64)
    return _result("cflp", sites, upper, min(lower, upper), upper, exact, assignment, t0,
                   **detail)
