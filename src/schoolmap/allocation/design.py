"""Catchment design (划片调整): contiguous zones within seats, least travel, few families moved.

The array door :func:`design_zones`. Cells (planning units) are atomic: each goes whole to one
zone or is left unzoned. A zone belongs to one school (schools sharing a cell form one zone,
多校划片), contains the school's own cell, is contiguous through the cell adjacency and holds at
most ``max_utilisation`` × seats resident students. The design minimises

    F = travel + move_weight × moved + compactness_weight × cut + P × (unzoned students + cells)
        + λ × students below ``min_utilisation`` × seats

- travel: Σ students × cost to the zone's school (student-metres with metric costs);
- moved: students of cells whose zone differs from their official one (cells with no official
  zone count as not moved);
- cut: the boundary between zones — the summed weight of adjacency edges whose two cells lie in
  different zones (the shared edge length in metres from the district door; 1 per edge when the
  adjacency carries no weights): the compactness penalty (a ragged zone has a long boundary);
- P: larger than any design's other terms, so a cell is left unzoned only when no contiguous
  zone within seats can take it — those students are reported, not hidden; λ = P × (students +
  cells + 1): seats below the band cost more than leaving every cell unzoned.

**Exact** (``method="exact"``): a HiGHS MILP with one flow commodity per zone from its school's
cell (Shirabe's contiguity: every other cell of the zone consumes one unit, flow runs only
between cells of the zone). For small instances (a few hundred cells); ``time_limit_s`` bounds
it and ``proven`` says whether it finished.

**Heuristic** (``method="heuristic"``, the default above ``EXACT_MAX_CELLS`` cells): seeded from
the exact capacitated transport optimum (:mod:`schoolmap.optimal`) with the move term priced in
(each cell to its cheapest zone at the optimum's seat prices: travel + move term + the zone's
seat price — zones nearly contiguous and within seats), zones cut down to the piece holding the
school and the rest reattached to the cheapest neighbouring zone, ejection chains to bring zones
within seats, then local search in numba
(:mod:`schoolmap._kernels.zoning`: boundary moves, neighbour swaps, simulated annealing with a
seed — the same input gives the same design).

**Lower bounds** (both proven, neither needs contiguity): ``travel_bound`` — the exact
capacitated allocation's travel (students may split, zones need not be contiguous), a bound on
travel + P × unzoned students; ``bound`` — the same transport with the move term in the costs,
its dual clipped over every cell × school pair (weak duality), a bound on travel + moves +
P × unzoned. ``gap`` and ``travel_gap`` compare the design with them. The exact mode adds the
MILP's own bound (its LP relaxation tightened by branching).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from schoolmap._kernels.zoning import design_cost, improve, rebalance, repair
from schoolmap.allocation._milp import solve_milp
from schoolmap.allocation.design_bounds import design_bounds
from schoolmap.errors import InfeasibleError, Problem, ValidationError

__all__ = ["DEFAULT_MOVE_WEIGHT_M", "EXACT_MAX_CELLS", "ZoneDesign", "design_zones"]

#: Default ``move_weight``: metres of travel one pupil kept in the official zone is worth.
DEFAULT_MOVE_WEIGHT_M = 300.0
#: Up to this many cells ``method="auto"`` solves exactly.
EXACT_MAX_CELLS = 60
#: Candidate zones per cell in the heuristic (the nearest by cost, and the official one).
CANDIDATES = 16
_WHERE = "design_zones"


@dataclass(frozen=True)
class ZoneDesign:
    """A catchment design on arrays: one zone per school group, cells labelled.

    Attributes
    ----------
    zone_by_cell : ndarray of shape (n_cells,), int64
        Zone of each cell (row of ``zone_schools``), −1 for unzoned cells.
    zone_schools : tuple of tuple of int
        School rows of each zone (one school, or several sharing a cell: 多校划片).
    zone_cell : ndarray of shape (n_zones,), int64
        The schools' own cell (the zone's root).
    students_by_zone, seats_by_zone : ndarray of shape (n_zones,)
        Resident students of the zone; seats of its schools (× 1, not × max_utilisation).
    moved_by_zone : ndarray of shape (n_zones,)
        Students of the zone whose official zone was another one.
    pieces_by_zone : ndarray of shape (n_zones,), int64
        Connected parts of the zone through the adjacency (1 for every zone of a design).
    unzoned_by_cell : ndarray of shape (n_cells,)
        Students left without a zone (no contiguous zone within seats can take them).
    travel : float
        Σ students × cost (student-metres with metric costs).
    moved : float
        Students whose zone changes from the official one.
    cut : float
        Boundary between zones (summed adjacency weight; metres from the district door).
    objective : float
        F (module docs).
    travel_bound, bound : float
        Proven lower bounds on travel + P × unzoned, and on travel + moves + P × unzoned.
    travel_gap, gap : float
        Relative distance of the design to each bound (0 when it meets it).
    peak_students_by_zone : ndarray of shape (n_zones,) or None
        With ``peak_students_by_cell``: the zone's cells' peak students summed (≤ its seats ×
        ``max_utilisation``, so the zone is within seats in every year); None otherwise.
    moved_bound : float
        Proven lower bound on students moved + students unzoned, whatever the travel: a zone
        keeps at most ``max_utilisation`` × seats of its official students, and students whose
        official school has no zone all move (Σ_z max(0, official_z − hi_z) + those).
    travel_bound_at_moved : float
        Proven lower bound on the travel of any design that leaves no student unzoned and moves
        at most :attr:`moved` students: ``bound`` − ``move_weight`` × :attr:`moved` (weak
        duality at this move weight; ``travel_bound`` when it is higher). The design's travel
        above it is what contiguity and whole cells cost at its number of moves.
    penalty : float
        P, per unzoned student and per unzoned cell.
    method : str
        ``exact`` or ``heuristic``.
    proven : bool
        ``exact``: the MILP finished (the design is optimal); ``heuristic``: False.
    milp_bound : float
        ``exact``: the MILP's lower bound on F (NaN for the heuristic).
    seconds : float
    problems : tuple of Problem
        Bad input found and worked around (islands, schools outside the district, schools whose
        own cell overfills them, communities larger than any school); the design went on.
    notes : tuple of str
    """

    zone_by_cell: np.ndarray
    zone_schools: tuple[tuple[int, ...], ...]
    zone_cell: np.ndarray
    students_by_zone: np.ndarray
    seats_by_zone: np.ndarray
    moved_by_zone: np.ndarray
    pieces_by_zone: np.ndarray
    unzoned_by_cell: np.ndarray
    travel: float
    moved: float
    cut: float
    objective: float
    travel_bound: float
    bound: float
    travel_gap: float
    gap: float
    penalty: float
    method: str
    proven: bool
    milp_bound: float = float("nan")
    moved_bound: float = 0.0
    peak_students_by_zone: np.ndarray | None = None
    travel_bound_at_moved: float = 0.0
    seconds: float = 0.0
    problems: tuple[Problem, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def school_by_cell(self) -> np.ndarray:
        """First school row of each cell's zone (−1 unzoned), shape (n_cells,)."""
        first = np.array([s[0] for s in self.zone_schools] + [-1], dtype=np.int64)
        return first[self.zone_by_cell]

    @property
    def unzoned(self) -> float:
        """Students left without a zone."""
        return float(self.unzoned_by_cell.sum())


@dataclass(frozen=True)
class _Instance:
    """Everything the solvers need, on units (cells, or communities merged) and zones."""

    adj: sp.csr_matrix  # unit × unit, weights = boundary
    students: np.ndarray
    official: np.ndarray  # unit's official zone (−1 none)
    cand_ptr: np.ndarray
    cand_zone: np.ndarray
    cand_cost: np.ndarray
    root: np.ndarray  # zone → unit
    hi: np.ndarray
    lo: np.ndarray
    mw: float
    cw: float
    pen: float


def design_zones(
    adjacency: Any,
    costs: Any,
    students_by_cell: Any,
    seats_by_school: Any,
    school_cell: Any,
    official_by_cell: Any = None,
    *,
    max_utilisation: float = 1.0,
    min_utilisation: float | None = None,
    move_weight: float = DEFAULT_MOVE_WEIGHT_M,
    compactness_weight: float = 0.0,
    community_by_cell: Any = None,
    peak_students_by_cell: Any = None,
    method: str = "auto",
    time_limit_s: float = 60.0,
    seed: int = 0,
    iterations: int | None = None,
    restarts: int = 3,
    cell_xy: Any = None,
    school_xy: Any = None,
    cell_ids: Any = None,
    school_ids: Any = None,
) -> ZoneDesign:
    """Design contiguous catchments within seats: the array door.

    Parameters
    ----------
    adjacency : scipy.sparse matrix of shape (n_cells, n_cells)
        Which cells touch (symmetric; the stored value is the edge's weight in the compactness
        penalty, e.g. the shared boundary in metres; the diagonal is ignored).
    costs : ndarray of shape (n_cells, n_schools), scipy.sparse matrix, or None
        Travel per student (metres: straight line, or network distances from
        :mod:`schoolmap.allocation.network`). In a sparse matrix an absent entry means the pair
        is not allowed. None: straight lines between ``cell_xy`` and ``school_xy``.
    students_by_cell : array_like of shape (n_cells,)
        Resident students (≥ 0).
    seats_by_school : array_like of shape (n_schools,)
        Seats (≥ 0).
    school_cell : array_like of shape (n_schools,), int
        Row of the cell each school stands in; −1 for a school outside the district (reported,
        left out).
    official_by_cell : array_like of shape (n_cells,), int, optional
        School row of each cell's official zone (−1 none): the zones families know. Label the
        empty cells too (the zone their point lies in): they cost nothing to move, but the seed
        keeps them with their zone, so a design keeping an official zone keeps it in one piece.
    max_utilisation : float
        A zone's resident students ≤ this × its seats (default 1.00).
    min_utilisation : float, optional
        And ≥ this × its seats where the students allow (a soft bound).
    move_weight : float
        Cost (metres) of one student whose zone changes from the official one.
    compactness_weight : float
        Cost (student-metres) per unit of boundary between zones.
    community_by_cell : array_like of shape (n_cells,), optional
        Community (小区) of each cell (None / NaN / −1 for none): a community is never split.
    peak_students_by_cell : array_like of shape (n_cells,), optional
        A design that must hold over several years: each cell's most students in any of them
        (≥ ``students_by_cell``). Seats then bound the zones' peak loads, Σ peak ≤
        ``max_utilisation`` × seats — within seats in every year (conservatively: the cells
        need not peak in the same year); travel and moves are still those of
        ``students_by_cell``, and so are the bounds (proven for the one year, so for the
        years together too).
    method : {"auto", "exact", "heuristic"}
        ``auto``: exact up to :data:`EXACT_MAX_CELLS` cells.
    time_limit_s : float
        Exact mode's time limit (seconds).
    seed : int
        Heuristic's random seed.
    iterations, restarts : int, optional
        Annealing proposals per round (default 40 × cells, at least 20,000) and rounds.
    cell_xy, school_xy : array_like of shape (n, 2), optional
        Points (metres): needed when ``costs`` is None.
    cell_ids, school_ids : sequence, optional
        Labels used in messages (default: row numbers).

    Returns
    -------
    ZoneDesign

    Examples
    --------
    Four cells in a row, schools in the end cells with three seats each; the middle cells
    (2 students each) go one to each side — the official zones put both in the first:

    >>> import numpy as np, scipy.sparse as sp
    >>> adj = sp.diags([np.ones(3), np.ones(3)], [1, -1], shape=(4, 4))
    >>> xy = np.array([[0., 0.], [100., 0.], [200., 0.], [300., 0.]])
    >>> d = design_zones(adj, None, [1, 2, 2, 1], [3, 3], [0, 3], [0, 0, 0, 1],
    ...                  cell_xy=xy, school_xy=xy[[0, 3]], move_weight=0)
    >>> d.zone_by_cell.tolist(), d.students_by_zone.tolist(), d.travel, d.proven
    ([0, 0, 1, 1], [3.0, 3.0], 400.0, True)

    A school whose own cell already overfills it gets no zone; the design goes on:

    >>> d = design_zones(adj, None, [5, 2, 2, 1], [3, 10], [0, 3], cell_xy=xy,
    ...                  school_xy=xy[[0, 3]])
    >>> d.zone_schools, d.zone_by_cell.tolist(), str(d.problems[0])[:44]
    (((1,),), [0, 0, 0, 0], 'design_zones: school 0: its own cell 0 holds')
    """
    import time

    start = time.perf_counter()
    inst, units, ctx, groups, problems, notes = _prepare(
        adjacency, costs, students_by_cell, seats_by_school, school_cell, official_by_cell,
        max_utilisation, min_utilisation, move_weight, compactness_weight, community_by_cell,
        cell_xy, school_xy, cell_ids, school_ids)
    n_units = len(inst.students)
    if method not in ("auto", "exact", "heuristic"):
        raise ValidationError([f"method {method!r} unknown; use 'auto', 'exact' or 'heuristic'"],
                              _WHERE)
    exact = method == "exact" or (method == "auto" and n_units <= EXACT_MAX_CELLS)
    search = _peak_instance(inst, units, peak_students_by_cell, ctx["students"])
    bounds = design_bounds(inst, costs, units, ctx, cell_xy, school_xy, groups)
    milp_bound = float("nan")
    proven = False
    if len(inst.root) == 0:
        label = np.full(n_units, -1, dtype=np.int64)
    elif exact:
        try:
            label, milp_bound, proven = solve_milp(search, time_limit_s)
        except InfeasibleError:  # no solution within the time limit
            notes.append(f"the exact design found no solution in {time_limit_s:g} s; the "
                         "heuristic's design is given")
            exact = False
    if len(inst.root) and not exact:
        label = _search(search, bounds["seed"], iterations, restarts, seed)
        for again in range(3):  # unzoned cells: widen their candidates, search again
            if not ((label < 0).any() and costs is not None and search is inst
                    and n_units == len(units)):
                break
            wider = _widen(label, inst, costs, ctx["zone_of"])
            if wider is inst:
                break
            inst = search = wider
            label = _search(search, label, iterations, 1, seed + 7 + again)
    label = _drop_overfull(label, search, notes)
    peak_z = (None if search is inst else np.bincount(
        label[label >= 0], weights=search.students[label >= 0], minlength=len(inst.root)))
    return _result(inst, label, units, ctx, groups, bounds, milp_bound, proven, peak_z,
                   "exact" if exact else "heuristic", problems, notes,
                   time.perf_counter() - start)


def _peak_instance(inst: _Instance, units: np.ndarray, peak: Any,
                   students: np.ndarray) -> _Instance:
    """The instance the solvers see: ``inst`` itself, or with a design over several years the
    units' peak students as their load and the year's travel and move terms folded into the
    cost per peak student (s/q × (cost + move_weight × moved); move_weight 0)."""
    if peak is None:
        return inst
    q = np.asarray(peak, dtype=np.float64).reshape(-1)
    if q.shape != students.shape or not np.isfinite(q).all() or (q < students - 1e-9).any():
        bad = (np.flatnonzero(~np.isfinite(q) | (q < students - 1e-9))[:20]
               if q.shape == students.shape else ())
        raise ValidationError([Problem(_WHERE, "peak_students_by_cell must give "
                                       f"{len(students)} numbers, each ≥ the cell's students",
                                       tuple(str(b) for b in bad))], _WHERE)
    q_u = np.bincount(units, weights=q, minlength=len(inst.students))
    unit_of = np.repeat(np.arange(len(q_u)), np.diff(inst.cand_ptr))
    moved = (inst.official[unit_of] >= 0) & (inst.official[unit_of] != inst.cand_zone)
    ratio = np.where(q_u > 0, inst.students / np.where(q_u > 0, q_u, 1.0), 1.0)[unit_of]
    cost = ratio * (inst.cand_cost + inst.mw * moved)
    pen = float(inst.pen * max(1.0, q_u.sum() / max(inst.students.sum(), 1e-12)))
    return dataclasses.replace(inst, students=q_u, cand_cost=cost, mw=0.0, pen=pen)


def _ints(x: Any, name: str, n: int, lo: int, hi: int) -> np.ndarray:
    a = np.asarray(x)
    if a.shape != (n,) or (a.size and not np.all(np.mod(a, 1) == 0)):
        raise ValidationError([f"{name} must be {n} whole numbers, got shape {a.shape}"], _WHERE)
    a = a.astype(np.int64)
    bad = np.flatnonzero((a < lo) | (a >= hi))
    if len(bad):
        raise ValidationError([Problem(_WHERE, f"{name} must lie in [{lo}, {hi - 1}]",
                                       tuple(str(b) for b in bad))], _WHERE)
    return a


def _label(ids: Any, n: int) -> list[str]:
    return [str(v) for v in ids] if ids is not None else [str(i) for i in range(n)]


def _prepare(adjacency, costs, students, seats, school_cell, official, max_u, min_u, mw, cw,
             community, cell_xy, school_xy, cell_ids, school_ids):
    students = np.asarray(students, dtype=np.float64).reshape(-1)
    seats = np.asarray(seats, dtype=np.float64).reshape(-1)
    n, m = len(students), len(seats)
    bad = []
    if not np.isfinite(students).all() or (students < 0).any():
        bad.append("students_by_cell must be finite and ≥ 0")
    if not np.isfinite(seats).all() or (seats < 0).any():
        bad.append("seats_by_school must be finite and ≥ 0")
    if not sp.issparse(adjacency) or adjacency.shape != (n, n):
        bad.append(f"adjacency must be a scipy.sparse matrix of shape ({n}, {n})")
    if not (max_u > 0) or (min_u is not None and not 0 <= min_u <= max_u):
        bad.append(f"need 0 < max_utilisation and 0 ≤ min_utilisation ≤ max_utilisation, got "
                   f"{max_u} and {min_u}")
    if not (mw >= 0 and cw >= 0):
        bad.append("move_weight and compactness_weight must be ≥ 0")
    if costs is None and (cell_xy is None or school_xy is None):
        bad.append("give costs, or cell_xy and school_xy for straight lines")
    if costs is not None and getattr(costs, "shape", None) != (n, m):
        bad.append(f"costs must have shape ({n}, {m}), got {getattr(costs, 'shape', None)}")
    ValidationError.raise_if(bad, _WHERE)
    cells, schools = _label(cell_ids, n), _label(school_ids, m)
    school_cell = _ints(school_cell, "school_cell", m, -1, n)
    official = (np.full(n, -1, np.int64) if official is None
                else _ints(official, "official_by_cell", n, -1, m))
    adj = sp.csr_matrix(adjacency, dtype=np.float64)
    adj = ((adj + adj.T) * 0.5).tocsr()
    adj.setdiag(0)
    adj.eliminate_zeros()
    adj.sort_indices()
    problems: list[Problem] = []
    notes: list[str] = []
    # zones: schools grouped by their cell; schools outside the district get none
    outside = np.flatnonzero(school_cell < 0)
    for j in outside:
        problems.append(Problem(_WHERE, f"school {schools[j]}: outside the district (its point "
                                "lies in no cell); it gets no zone"))
    roots, zone_of_school = np.unique(school_cell[school_cell >= 0], return_inverse=True)
    zone_of = np.full(m, -1, np.int64)
    zone_of[school_cell >= 0] = zone_of_school
    groups = [tuple(np.flatnonzero(zone_of == z).tolist()) for z in range(len(roots))]
    for g in groups:
        if len(g) > 1:
            notes.append(f"schools {', '.join(schools[j] for j in g)} share cell "
                         f"{cells[school_cell[g[0]]]}: one zone (多校划片)")
    # units: cells, with each community merged into one (never split)
    unit_of_cell = np.arange(n, dtype=np.int64)
    if community is not None:
        unit_of_cell = _communities(community, students, seats, max_u, n, cells, problems)
    n_units = int(unit_of_cell.max()) + 1 if n else 0
    units = unit_of_cell
    s_unit = np.bincount(units, weights=students, minlength=n_units)
    seat_zone = np.array([seats[list(g)].sum() for g in groups])
    hi = max_u * seat_zone
    # a school whose own cell (or community) overfills it: no zone
    keep = []
    for z, g in enumerate(groups):
        r = roots[z]
        if s_unit[units[r]] > hi[z] + 1e-9:
            what = (f"its own cell {cells[r]}" if np.sum(units == units[r]) == 1
                    else f"the community of its cell {cells[r]}")
            problems.append(Problem(_WHERE, f"school {', '.join(schools[j] for j in g)}: "
                                    f"{what} holds {s_unit[units[r]]:,.0f} students, more than "
                                    f"its {hi[z]:,.0f} seats × max_utilisation; it gets no zone"))
        else:
            keep.append(z)
    two = [z for z in keep if np.sum(units[roots[keep]] == units[roots[z]]) > 1]
    for z in two[1:]:
        problems.append(Problem(_WHERE, f"school {schools[groups[z][0]]}: its cell lies in the "
                                "community of another school's cell; it gets no zone"))
        keep.remove(z)
    groups = [groups[z] for z in keep]
    roots, seat_zone, hi = roots[keep], seat_zone[keep], hi[keep]
    zone_of = np.full(m, -1, np.int64)
    for z, g in enumerate(groups):
        zone_of[list(g)] = z
    # islands: no neighbour, no school: no zone can reach them
    deg = np.diff(adj.indptr)
    lone = np.flatnonzero((deg == 0) & ~np.isin(np.arange(n), roots))
    if len(lone) and len(groups):
        problems.append(Problem(_WHERE, f"{len(lone)} cell(s) with no neighbour: no zone can "
                                f"reach them; their {students[lone].sum():,.0f} students are "
                                "unzoned", tuple(cells[i] for i in lone)))
    # candidate zones per cell, then per unit
    ptr, zone, cost = _cell_candidates(costs, groups, zone_of, official, roots, cell_xy,
                                       school_xy, n, len(groups), n_units <= EXACT_MAX_CELLS)
    cell_cand = (ptr, zone, cost)
    official_zone = np.where(official >= 0, zone_of[np.maximum(official, 0)], -1)
    adj_u, official_u, (ptr, zone, cost) = _merge(units, n_units, adj, students, official_zone,
                                                  ptr, zone, cost, roots)
    pen = float(students.sum() * (cost.max() if len(cost) else 0.0) + mw * students.sum()
                + cw * adj.data.sum() + 1.0)
    lo = (min_u or 0.0) * seat_zone
    inst = _Instance(adj_u, s_unit, official_u, ptr, zone, cost, units[roots].astype(np.int64),
                     hi, lo, float(mw), float(cw), pen)
    ctx = {"cells": cells, "schools": schools, "zone_of": zone_of, "adj": adj,
           "students": students, "official_zone": official_zone, "seat_zone": seat_zone,
           "roots": roots, "cell_cand": cell_cand, "official_school": official}
    return inst, units, ctx, groups, problems, notes


def _communities(community, students, seats, max_u, n, cells, problems):
    codes = np.asarray(community, dtype=object).reshape(-1)
    if len(codes) != n:
        raise ValidationError([f"community_by_cell must have {n} entries, got {len(codes)}"],
                              _WHERE)
    none = np.array([c is None or (isinstance(c, float) and np.isnan(c)) or c == -1
                     for c in codes])
    unit = np.arange(n, dtype=np.int64)
    if (~none).any():
        names, inv = np.unique(codes[~none].astype(str), return_inverse=True)
        big = max_u * seats.max() if len(seats) else 0.0
        size = np.bincount(inv, weights=students[~none])
        for c in np.flatnonzero(size > big + 1e-9):
            problems.append(Problem(_WHERE, f"community {names[c]}: {size[c]:,.0f} students, "
                                    f"more than any school holds ({big:,.0f}); its cells are "
                                    "zoned one by one"))
            inv = np.where(inv == c, -1, inv)
        rows = np.flatnonzero(~none)
        first = {}
        for r, c in zip(rows, inv, strict=True):
            if c >= 0:
                unit[r] = first.setdefault(c, r)
    _, unit = np.unique(unit, return_inverse=True)
    return unit.astype(np.int64)


def _cell_candidates(costs, groups, zone_of, official, roots, cell_xy, school_xy, n, k, full):
    """Each cell's allowed zones and travel per student (CSR, cells × zones)."""
    if k == 0:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.int64), np.zeros(0)
    kk = k if (full or n * k <= 200_000) else min(k, CANDIDATES)
    if costs is None:
        zxy = np.asarray(school_xy, dtype=np.float64)[[g[0] for g in groups]]
        cxy = np.asarray(cell_xy, dtype=np.float64)
        dist, idx = cKDTree(zxy).query(cxy, k=kk)
        dist, idx = dist.reshape(n, kk), idx.reshape(n, kk)
        rows, cols, vals = np.repeat(np.arange(n), kk), idx.ravel(), dist.ravel()
        extra = np.flatnonzero(official >= 0)
        if len(extra):
            oz = zone_of[official[extra]]
            extra, oz = extra[oz >= 0], oz[oz >= 0]
            rows = np.concatenate([rows, extra, roots])
            cols = np.concatenate([cols, oz, np.arange(k)])
            vals = np.concatenate([vals, np.hypot(*(cxy[extra] - zxy[oz]).T),
                                   np.hypot(*(cxy[roots] - zxy).T)])
    else:
        if sp.issparse(costs):
            c = sp.coo_matrix(costs)
            rows, cols, vals = c.row.astype(np.int64), c.col.astype(np.int64), c.data
        else:
            dense = np.asarray(costs, dtype=np.float64)
            rows = np.repeat(np.arange(n), dense.shape[1])
            cols = np.tile(np.arange(dense.shape[1]), n)
            vals = dense.ravel()
        cols = zone_of[cols]
        ok = cols >= 0
        rows, cols, vals = rows[ok], cols[ok], np.asarray(vals, dtype=np.float64)[ok]
        order = np.lexsort((vals, cols, rows))  # the cheapest school of each zone first
        rows, cols, vals = rows[order], cols[order], vals[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, vals = rows[first], cols[first], vals[first]
        if kk < k:  # keep each cell's kk cheapest zones and its official one
            order = np.lexsort((vals, rows))
            rows, cols, vals = rows[order], cols[order], vals[order]
            rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
            oz = np.where(official >= 0, zone_of[np.maximum(official, 0)], -1)
            keep = (rank < kk) | (cols == oz[rows])
            rows, cols, vals = rows[keep], cols[keep], vals[keep]
    vals = np.asarray(vals, dtype=np.float64)
    bad = ~np.isfinite(vals) | (vals < 0)
    if bad.any():
        raise ValidationError([Problem(_WHERE, "costs must be finite and ≥ 0",
                                       tuple(str(r) for r in np.unique(rows[bad])[:20]))],
                              _WHERE)
    m = sp.coo_matrix((vals, (rows, cols)), shape=(n, k)).tocsr()
    m.sum_duplicates()  # duplicates (official among the nearest) are the same value twice
    dup = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, k)).tocsr()
    dup.sum_duplicates()
    m.data = m.data / dup.data
    return m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(np.float64)


def _merge(units, n_units, adj, students, official_zone, ptr, zone, cost, roots):
    """Cells → units (communities merged): adjacency, official zone (the students' majority)
    and candidates (zones allowed for every cell of the unit, at the student-weighted mean
    cost); each school's unit gets its own zone."""
    n = len(units)
    k = len(roots)
    cell_of = np.repeat(np.arange(n), np.diff(ptr))
    if n_units == n:
        adj_u, official_u = adj, official_zone
        rows, cols, vals = cell_of, zone, cost
    else:
        p = sp.csr_matrix((np.ones(n), (np.arange(n), units)), shape=(n, n_units))
        adj_u = (p.T @ adj @ p).tocsr()
        adj_u.setdiag(0)
        adj_u.eliminate_zeros()
        adj_u.sort_indices()
        has = official_zone >= 0
        votes = sp.coo_matrix((students[has] + 1e-9, (units[has], official_zone[has])),
                              shape=(n_units, max(k, 1))).tocsr()
        official_u = np.where(np.diff(votes.indptr) > 0,
                              np.asarray(votes.argmax(axis=1)).ravel(), -1).astype(np.int64)
        size = np.bincount(units, minlength=n_units)
        s_u = np.bincount(units, weights=students, minlength=n_units)
        w = np.where(s_u[units] > 0, students / np.where(s_u[units] > 0, s_u[units], 1.0),
                     1.0 / size[units])
        u = units[cell_of]
        count = sp.coo_matrix((np.ones(len(u)), (u, zone)), shape=(n_units, k)).tocsr()
        mean = sp.coo_matrix((w[cell_of] * cost, (u, zone)), shape=(n_units, k)).tocsr()
        count.sum_duplicates()
        mean.sum_duplicates()
        c, m_ = count.tocoo(), mean.tocoo()
        full = c.data == size[c.row]
        rows, cols, vals = c.row[full], c.col[full], m_.data[full]
    have = set(zip(rows.tolist(), cols.tolist(), strict=True))
    ru = units[roots]
    add = [z for z in range(k) if (int(ru[z]), z) not in have]
    if add:
        rows = np.concatenate([rows, ru[add]])
        cols = np.concatenate([cols, np.asarray(add, dtype=np.int64)])
        vals = np.concatenate([vals, np.zeros(len(add))])
    m = sp.coo_matrix((vals, (rows, cols)), shape=(n_units, k)).tocsr()
    m.sort_indices()
    return (adj_u, np.asarray(official_u, dtype=np.int64),
            (m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(np.float64)))


def _search(inst: _Instance, seed_label: np.ndarray, iterations: int | None, restarts: int,
            seed: int) -> np.ndarray:
    """The heuristic: repair the seed, improve it; where that leaves students unzoned, repair
    and improve once more, and if students are still left out search for a packing first
    (seats above all: travel scaled down to a tie-breaker) and improve that, keeping the
    better design."""
    label = seed_label.copy()
    repair(label, inst.root, inst.students, inst.adj.indptr, inst.adj.indices, inst.cand_ptr,
           inst.cand_zone, inst.cand_cost, inst.hi)
    rebalance(label, inst.root, inst.students, inst.official, inst.adj.indptr,
              inst.adj.indices, inst.cand_ptr, inst.cand_zone, inst.cand_cost, inst.hi,
              inst.mw, 2 * len(label))
    start = label.copy()
    its = int(iterations if iterations is not None else max(20_000, 40 * len(label)))
    args = (inst.root, inst.students, inst.official, inst.adj.indptr, inst.adj.indices,
            inst.adj.data, inst.cand_ptr, inst.cand_zone)
    f = improve(label, *args, inst.cand_cost, inst.hi, inst.lo, inst.mw, inst.cw, inst.pen,
                _lam(inst), its, int(restarts), int(seed), 0.0)
    if not (label < 0).any():
        return label
    # a few cells left out (their zones full): reattach them, pass the excess on, improve once
    # more — a fraction of the packing search's time (demo primary: 0.4 s instead of 5.5 s)
    again = label.copy()
    repair(again, inst.root, inst.students, inst.adj.indptr, inst.adj.indices, inst.cand_ptr,
           inst.cand_zone, inst.cand_cost, inst.hi)
    rebalance(again, inst.root, inst.students, inst.official, inst.adj.indptr,
              inst.adj.indices, inst.cand_ptr, inst.cand_zone, inst.cand_cost, inst.hi,
              inst.mw, 2 * len(again))
    improve(again, *args, inst.cand_cost, inst.hi, inst.lo, inst.mw, inst.cw, inst.pen,
            _lam(inst), its, 1, int(seed) + 3, 0.0)
    if not (again < 0).any():
        return again
    eps = 1e-3 / inst.pen
    packed = start
    improve(packed, *args, inst.cand_cost * eps, inst.hi, inst.lo, inst.mw * eps,
            inst.cw * eps, inst.pen, 1.0, its, int(restarts), int(seed) + 1,
            max(float(inst.students.mean()), 1e-9))
    f2 = improve(packed, *args, inst.cand_cost, inst.hi, inst.lo, inst.mw, inst.cw, inst.pen,
                 _lam(inst), its, int(restarts), int(seed) + 2, 0.0)
    return packed if f2 < f else label


def _widen(label: np.ndarray, inst: _Instance, costs: Any, zone_of: np.ndarray) -> _Instance:
    """Candidates widened for the cells left unzoned and their neighbours (two rings): every
    zone of a cell within two steps, at its cost from ``costs`` — a zone next door across a
    river may be far by road and so not among the nearest candidates. Cells only."""
    n, k = len(inst.students), len(inst.root)
    ring = np.zeros(n, dtype=bool)
    ring[label < 0] = True
    adj = inst.adj.tocsr()
    for _ in range(2):
        ring |= np.asarray(adj[ring].sum(axis=0)).ravel() > 0
    cells = np.flatnonzero(ring)
    near = adj[cells] + adj[cells] @ adj + sp.identity(n, format="csr")[cells]
    near = near.tocoo()
    zones = label[near.col]
    ok = zones >= 0
    want = sp.csr_matrix((np.ones(int(ok.sum())), (cells[near.row[ok]], zones[ok])), shape=(n, k))
    want.data[:] = 1.0
    full = sp.coo_matrix(costs)
    z = zone_of[full.col]
    keep = (z >= 0) & np.isin(full.row, cells)
    rows, cols, vals = full.row[keep], z[keep], np.asarray(full.data, np.float64)[keep]
    order = np.lexsort((vals, cols, rows))  # a zone's cheapest school first
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])] if len(rows) \
        else np.zeros(0, bool)
    rows, cols, vals = rows[first], cols[first], vals[first]
    unit_of = np.repeat(np.arange(n), np.diff(inst.cand_ptr))
    have = sp.csr_matrix((np.ones(len(unit_of)), (unit_of, inst.cand_zone)), shape=(n, k))
    add = (np.asarray(want[rows, cols]).ravel() > 0) & (np.asarray(have[rows, cols]).ravel() == 0)
    if not add.any():
        return inst
    m = sp.coo_matrix((np.concatenate([inst.cand_cost, vals[add]]),
                       (np.concatenate([unit_of, rows[add]]),
                        np.concatenate([inst.cand_zone, cols[add]]))), shape=(n, k)).tocsr()
    m.sort_indices()
    return dataclasses.replace(inst, cand_ptr=m.indptr.astype(np.int64),
                               cand_zone=m.indices.astype(np.int64),
                               cand_cost=m.data.astype(np.float64))


def _lam(inst: _Instance) -> float:
    """Cost per student above seats: more than leaving every cell unzoned."""
    return inst.pen * (float(inst.students.sum()) + len(inst.students) + 1.0)


def _pieces(label: np.ndarray, adj: sp.csr_matrix, k: int) -> np.ndarray:
    """Connected parts of each zone through the adjacency, shape (k,)."""
    a = adj.tocoo()
    same = (label[a.row] == label[a.col]) & (label[a.row] >= 0)
    g = sp.coo_matrix((np.ones(int(same.sum())), (a.row[same], a.col[same])), shape=adj.shape)
    _, comp = connected_components(g, directed=False)
    out = np.zeros(k, dtype=np.int64)
    zoned = label >= 0
    if zoned.any():
        pairs = np.unique(np.column_stack([label[zoned], comp[zoned]]), axis=0)
        out += np.bincount(pairs[:, 0], minlength=k)
    return out


def _drop_overfull(label: np.ndarray, inst: _Instance, notes: list[str]) -> np.ndarray:
    """Last guard: a zone above its seats sheds its dearest cells (keeping one piece) as
    unzoned. The search should never leave one; a note says when it did."""
    label = label.copy()
    load = np.bincount(label[label >= 0], weights=inst.students[label >= 0],
                       minlength=len(inst.root))
    for z in np.flatnonzero(load > inst.hi + 1e-9):
        cells = np.flatnonzero(label == z)
        cost = np.array([inst.cand_cost[inst.cand_ptr[i]:inst.cand_ptr[i + 1]][
            inst.cand_zone[inst.cand_ptr[i]:inst.cand_ptr[i + 1]] == z][0] for i in cells])
        shed = 0.0
        for i in cells[np.argsort(-cost)]:
            if load[z] <= inst.hi[z] + 1e-9:
                break
            if i == inst.root[z] or inst.students[i] == 0:
                continue
            label[i] = -1
            if _pieces(np.where(label == z, 0, -1), inst.adj, 1)[0] > 1:
                label[i] = z
                continue
            load[z] -= inst.students[i]
            shed += inst.students[i]
        notes.append(f"zone {z}: the search left it over its seats; {shed:,.0f} students of "
                     "its farthest cells are unzoned instead")
    return label


def _result(inst, label, units, ctx, groups, bounds, milp_bound, proven, peak_z, method, problems,
            notes, seconds) -> ZoneDesign:
    k = len(groups)
    s = ctx["students"]
    zone = label[units] if len(units) else label
    travel, _, cut, _, _, _ = design_cost(label, inst.students, inst.official, inst.adj.indptr,
                                          inst.adj.indices, inst.adj.data, inst.cand_ptr,
                                          inst.cand_zone, inst.cand_cost, inst.hi, inst.lo,
                                          inst.mw, inst.cw, inst.pen, _lam(inst))
    oz = ctx["official_zone"]
    moved_cell = np.where((zone >= 0) & (oz >= 0) & (oz != zone), s, 0.0)
    # cells whose official school has no zone (outside, overfull) must move too
    off = ctx["official_school"]
    moved_cell = np.where((zone >= 0) & (off >= 0) & (oz < 0), s, moved_cell)
    zoned = zone >= 0
    students_z = np.bincount(zone[zoned], weights=s[zoned], minlength=k)
    moved_z = np.bincount(zone[zoned], weights=moved_cell[zoned], minlength=k)
    unzoned = np.where(zoned, 0.0, s)
    n_unzoned_cells = int((~zoned).sum())
    moved = float(moved_cell.sum())
    has = oz >= 0
    official_load = np.bincount(oz[has], weights=s[has], minlength=k)
    moved_bound = float(np.maximum(official_load - inst.hi, 0.0).sum()
                        + s[(off >= 0) & (oz < 0)].sum())
    lack = float(np.maximum(inst.lo - students_z, 0).sum())
    objective = (travel + inst.mw * moved + inst.cw * cut
                 + inst.pen * (unzoned.sum() + n_unzoned_cells) + _lam(inst) * lack)
    t_value = travel + inst.pen * unzoned.sum()
    f_value = t_value + inst.mw * moved

    def rel(v: float, b: float) -> float:
        return max(0.0, (v - b) / b) if b > 0 else (0.0 if v <= 0 else float("inf"))

    if unzoned.sum() > 0:
        notes.append(f"{unzoned.sum():,.0f} students in {int((unzoned > 0).sum())} cells are "
                     "unzoned: no contiguous zone within seats can take them")
    return ZoneDesign(
        zone_by_cell=zone.astype(np.int64), zone_schools=tuple(groups),
        zone_cell=np.asarray(ctx["roots"], dtype=np.int64), students_by_zone=students_z,
        seats_by_zone=np.asarray(ctx["seat_zone"], dtype=np.float64), moved_by_zone=moved_z,
        pieces_by_zone=_pieces(zone, ctx["adj"], k), unzoned_by_cell=unzoned,
        travel=float(travel), moved=moved, cut=float(cut), objective=float(objective),
        travel_bound=bounds["travel_bound"], bound=bounds["bound"],
        travel_gap=rel(t_value, bounds["travel_bound"]), gap=rel(f_value, bounds["bound"]),
        penalty=inst.pen, method=method, proven=proven, milp_bound=milp_bound,
        moved_bound=moved_bound, peak_students_by_zone=peak_z,
        travel_bound_at_moved=max(bounds["travel_bound"], bounds["bound"] - inst.mw * moved),
        seconds=seconds, problems=tuple(problems), notes=tuple(notes))
