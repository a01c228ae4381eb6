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

from schoolmap._kernels.zoning import design_cost, improve, rebalance, repair
from schoolmap.allocation._milp import solve_milp
from schoolmap.allocation.design_bounds import design_bounds
from schoolmap.allocation.design_lns import neighbourhood_search
from schoolmap.allocation.design_units import (
    cell_candidates,
    communities,
    join_groups,
    merge_units,
    zone_pairs,
    zones_of_schools,
)
from schoolmap.errors import InfeasibleError, Problem, ValidationError

__all__ = ["DEFAULT_MOVE_WEIGHT_M", "EXACT_MAX_CELLS", "ZoneDesign", "design_zones"]

#: Default ``move_weight``: metres of travel one pupil kept in the official zone is worth.
DEFAULT_MOVE_WEIGHT_M = 300.0
#: Up to this many cells ``method="auto"`` solves exactly.
EXACT_MAX_CELLS = 60
#: Descent sweeps of the heuristic's local search, at most (each sweep visits every cell).
MAX_SWEEPS = 1000
#: Default time limits (seconds): the exact mode's MILP, and the heuristic's phases.
EXACT_TIME_S = 60.0
HEURISTIC_TIME_S = 600.0
#: Rounds of widening the candidates of unzoned cells and searching again, at most.
WIDEN_ROUNDS = 6
_WHERE = "design_zones"
#: Notes for the caps of the heuristic that stopped a phase.
LIMIT_NOTES = {
    "time": "the time limit ({t:g} s) was reached: later phases of the search were skipped; "
            "the design is the best found so far",
    "sweeps": "a descent of the local search stopped after {sweeps} sweeps, before a local "
              "optimum",
    "chain moves": "the ejection chains stopped at their cap of cell moves with zones still "
                   "above seats (the local search went on)",
    "lns time": "the neighbourhood search stopped at its time budget ({lns:g} s) or a MILP at "
                "its seconds: the best design so far (a slower machine may differ)",
}
#: Time budget (seconds) of the neighbourhood search (``lns_passes``).
LNS_TIME_S = 120.0


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
    limits_hit : tuple of str
        The heuristic's caps that stopped a phase before it finished (``time``, ``sweeps``,
        ``chain moves``, ``lns time``; empty: none) — the design is then the best found within them.
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
    limits_hit: tuple[str, ...] = field(default=())

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
    fixed_unit: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    fixed_zone: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


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
    time_limit_s: float | None = None,
    seed: int = 0,
    iterations: int | None = None,
    restarts: int = 3,
    max_sweeps: int = MAX_SWEEPS,
    max_chain_moves: int | None = None,
    school_group: Any = None,
    lns_passes: int = 0,
    lns_zones: int = 2,
    lns_time_s: float = LNS_TIME_S,
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
    time_limit_s : float, optional
        Time limit (seconds; default :data:`EXACT_TIME_S` for the exact mode's MILP,
        :data:`HEURISTIC_TIME_S` for the heuristic): no further phase of the heuristic (search
        again for unzoned cells, the packing search) starts after it; the design is the best
        found so far and ``limits_hit`` says ``time``.
    seed : int
        Heuristic's random seed.
    iterations, restarts : int, optional
        Annealing proposals per round (default 40 × cells, at least 20,000) and rounds.
    max_sweeps, max_chain_moves : int, optional
        The heuristic's other caps: sweeps of a descent (default :data:`MAX_SWEEPS`) and cell
        moves of the ejection chains (default 2 × cells); a cap that stops a phase is named in
        ``limits_hit`` and the notes.
    school_group : array_like of shape (n_schools,), int, optional
        多校划片 groups: schools with the same group number (≥ 0; −1 none) get one zone —
        their seats together, every school's cell inside, one piece (the cells of a shortest
        path between their cells, through the official zone where it can, are kept in it);
        travel to it is the seat-weighted mean over its schools (students split by seats).
        Schools sharing a cell always form one zone (cells are atomic).
    lns_passes, lns_zones, lns_time_s : int, int, float
        Heuristic: sweeps (0: none) of the large-neighbourhood search after the local search —
        the boundary cells of each pair of neighbouring zones (``lns_zones`` 3: then of each
        zone with two neighbours) re-solved by the MILP (:mod:`~.design_lns`) — and its time
        budget in seconds (:data:`LNS_TIME_S`; past it ``limits_hit`` says ``lns time``).
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
    if method not in ("auto", "exact", "heuristic"):
        raise ValidationError([f"method {method!r} unknown; use 'auto', 'exact' or 'heuristic'"],
                              _WHERE)
    given = (adjacency, costs, students_by_cell, seats_by_school, school_cell, official_by_cell,
             max_utilisation, min_utilisation, move_weight, compactness_weight,
             community_by_cell, cell_xy, school_xy, cell_ids, school_ids, school_group)
    # the exact mode holds a 多校划片 group's cells in its zone; the heuristic joins them with
    # a path first (one root per zone)
    inst, units, ctx, groups, problems, notes = _prepare(*given, join=method == "heuristic")
    n_units = len(inst.students)
    exact = method == "exact" or (method == "auto" and n_units <= EXACT_MAX_CELLS)
    if not exact and len(inst.fixed_unit):
        inst, units, ctx, groups, problems, notes = _prepare(*given, join=True)
        n_units = len(inst.students)
    search = _peak_instance(inst, units, peak_students_by_cell, ctx["students"])
    bounds = design_bounds(inst, costs, units, ctx, cell_xy, school_xy, groups)
    milp_bound = float("nan")
    proven = False
    exact_s = EXACT_TIME_S if time_limit_s is None else float(time_limit_s)
    if len(inst.root) == 0:
        label = np.full(n_units, -1, dtype=np.int64)
    elif exact:
        try:
            label, milp_bound, proven = solve_milp(search, exact_s)
        except InfeasibleError:  # no solution within the time limit
            exact = False
            if len(inst.fixed_unit):  # the heuristic's instance: groups joined by a path
                inst, units, ctx, groups, problems, notes = _prepare(*given, join=True)
                n_units = len(inst.students)
                search = _peak_instance(inst, units, peak_students_by_cell, ctx["students"])
                bounds = design_bounds(inst, costs, units, ctx, cell_xy, school_xy, groups)
            notes.append(f"the exact design found no solution in {exact_s:g} s; the "
                         "heuristic's design is given")
    budget = HEURISTIC_TIME_S if time_limit_s is None else float(time_limit_s)
    # given costs (roads): zones are ragged, half the proposals from their boundaries
    limits = _Limits(int(max_sweeps), max_chain_moves, start + budget,
                     p_front=0.5 if costs is not None else 0.0)
    if len(inst.root) and not exact:
        label = _search(search, bounds["seed"], iterations, restarts, seed, limits)
        # unzoned cells: widen their candidates and search again while that zones more of
        # their students (at most WIDEN_ROUNDS rounds)
        left = float(search.students[label < 0].sum())
        for again in range(WIDEN_ROUNDS):
            if not ((label < 0).any() and costs is not None and search is inst) \
                    or limits.late():
                break
            inst = search = _widen(label, inst, costs, ctx["zone_of"], ctx["share"], units)
            tried = _search(search, label, iterations, 1, seed + 7 + again, limits)
            now = float(search.students[tried < 0].sum())
            if now >= left - 1e-9 and (tried < 0).sum() >= (label < 0).sum():
                break
            label, left = tried, now
    if len(inst.root) and not exact and lns_passes > 0 and not limits.late():
        label, _, stopped = neighbourhood_search(
            search, label, _lam(search), passes=int(lns_passes),
            sizes=tuple(range(2, max(2, int(lns_zones)) + 1)),
            deadline=min(limits.deadline, time.perf_counter() + float(lns_time_s)))
        if stopped:
            limits.hit.add("lns time")
    for cap in sorted(limits.hit):
        notes.append(LIMIT_NOTES[cap].format(t=budget, sweeps=max_sweeps, lns=lns_time_s))
    label = _drop_overfull(label, search, notes)
    peak_z = (None if search is inst else np.bincount(
        label[label >= 0], weights=search.students[label >= 0], minlength=len(inst.root)))
    out = _result(inst, label, units, ctx, groups, bounds, milp_bound, proven, peak_z,
                  "exact" if exact else "heuristic", problems, notes,
                  time.perf_counter() - start)
    return dataclasses.replace(out, limits_hit=tuple(sorted(limits.hit)))


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
             community, cell_xy, school_xy, cell_ids, school_ids, school_group=None,
             join=True):
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
    # zones: schools grouped by their cell and by school_group (多校划片); schools outside
    # the district get none
    outside = np.flatnonzero(school_cell < 0)
    for j in outside:
        problems.append(Problem(_WHERE, f"school {schools[j]}: outside the district (its point "
                                "lies in no cell); it gets no zone"))
    group = (np.full(m, -1, np.int64) if school_group is None
             else _ints(school_group, "school_group", m, -1, 2**62))
    roots, zone_of = zones_of_schools(school_cell, group)
    groups = [tuple(np.flatnonzero(zone_of == z).tolist()) for z in range(len(roots))]
    for g in groups:
        where = np.unique(school_cell[list(g)])
        if len(g) > 1:
            notes.append(f"schools {', '.join(schools[j] for j in g)} "
                         + (f"share cell {cells[where[0]]}" if len(where) == 1 else
                            f"form one group (cells {', '.join(cells[c] for c in where)})")
                         + ": one zone (多校划片)")
    # units: cells, with each community merged into one (never split), and a group's cells
    # joined with a path between them (the zone holds all its schools)
    unit_of_cell = np.arange(n, dtype=np.int64)
    if community is not None:
        unit_of_cell = communities(community, students, seats, max_u, n, cells, problems)
    multi = [np.unique(school_cell[list(g)]) for g in groups]
    if join and any(len(c) > 1 for c in multi):
        blocked = np.zeros(n, dtype=bool)
        blocked[school_cell[school_cell >= 0]] = True
        official_cells = [np.flatnonzero(np.isin(official, g)) for g in groups]
        unit_of_cell, failed = join_groups(unit_of_cell, adj, multi, blocked, official_cells)
        if failed:  # no path joins a group's cells: its schools get a zone each
            for z in failed:
                names = ", ".join(schools[j] for j in groups[z])
                problems.append(Problem(_WHERE, f"schools {names}: no path through the cells "
                                        "joins them; each gets its own zone"))
            for z in failed:
                group[list(groups[z])] = -1
            return _prepare(adjacency, costs, students, seats, school_cell, official, max_u,
                            min_u, mw, cw, community, cell_xy, school_xy, cell_ids, school_ids,
                            group, join)
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
    seat_of = np.zeros(m)
    seat_of[zone_of >= 0] = seat_zone[zone_of[zone_of >= 0]]
    share = np.where(seat_of > 0, seats / np.where(seat_of > 0, seat_of, 1.0),
                     1.0 / np.maximum(np.bincount(np.maximum(zone_of, 0), minlength=m)[
                         np.maximum(zone_of, 0)], 1))
    share[zone_of < 0] = 0.0
    root_unit = np.full(n_units, -1, np.int64)
    root_unit[units[roots]] = np.arange(len(roots))
    forced = np.flatnonzero(root_unit[units] >= 0)
    ptr, zone, cost = cell_candidates(costs, groups, zone_of, official, roots, cell_xy,
                                      school_xy, n, len(groups), n_units <= EXACT_MAX_CELLS,
                                      share, (forced, root_unit[units[forced]]))
    cell_cand = (ptr, zone, cost)
    official_zone = np.where(official >= 0, zone_of[np.maximum(official, 0)], -1)
    adj_u, official_u, (ptr, zone, cost) = merge_units(units, n_units, adj, students,
                                                       official_zone, ptr, zone, cost, roots)
    pen = float(students.sum() * (cost.max() if len(cost) else 0.0) + mw * students.sum()
                + cw * adj.data.sum() + 1.0)
    lo = (min_u or 0.0) * seat_zone
    # not joined (the exact mode): a group's other cells are held in its zone
    fixed = sorted({(int(units[c]), z) for z, g in enumerate(groups)
                    for c in school_cell[list(g)] if units[c] != units[roots[z]]})
    inst = _Instance(adj_u, s_unit, official_u, ptr, zone, cost, units[roots].astype(np.int64),
                     hi, lo, float(mw), float(cw), pen,
                     np.array([u for u, _ in fixed], dtype=np.int64),
                     np.array([z for _, z in fixed], dtype=np.int64))
    ctx = {"cells": cells, "schools": schools, "zone_of": zone_of, "adj": adj,
           "students": students, "official_zone": official_zone, "seat_zone": seat_zone,
           "roots": roots, "cell_cand": cell_cand, "official_school": official,
           "share": share}
    return inst, units, ctx, groups, problems, notes


@dataclass
class _Limits:
    """The heuristic's caps: descent sweeps, ejection-chain moves (None: 2 × units) and a
    deadline (``time.perf_counter()`` seconds) after which no further phase starts; ``hit``
    names the caps that stopped a phase early."""

    max_sweeps: int = MAX_SWEEPS
    max_moves: int | None = None
    deadline: float = float("inf")
    hit: set[str] = field(default_factory=set)
    p_front: float = 0.0  # share of annealing proposals from zone boundaries

    def late(self) -> bool:
        import time

        if time.perf_counter() > self.deadline:
            self.hit.add("time")
            return True
        return False


def _search(inst: _Instance, seed_label: np.ndarray, iterations: int | None, restarts: int,
            seed: int, limits: _Limits | None = None) -> np.ndarray:
    """The heuristic: repair the seed, improve it; where that leaves students unzoned, repair
    and improve once more, and if students are still left out search for a packing first
    (seats above all: travel scaled down to a tie-breaker) and improve that, keeping the
    better design. Every phase is bounded (``limits``: sweeps, chain moves, a deadline checked
    between phases); the caps hit are added to ``limits.hit``."""
    lim = limits if limits is not None else _Limits()
    label = seed_label.copy()
    moves = int(lim.max_moves if lim.max_moves is not None else 2 * len(label))
    args = (inst.root, inst.students, inst.official, inst.adj.indptr, inst.adj.indices,
            inst.adj.data, inst.cand_ptr, inst.cand_zone)

    def fix(lab: np.ndarray) -> None:
        repair(lab, inst.root, inst.students, inst.adj.indptr, inst.adj.indices, inst.cand_ptr,
               inst.cand_zone, inst.cand_cost, inst.hi)
        if rebalance(lab, inst.root, inst.students, inst.official, inst.adj.indptr,
                     inst.adj.indices, inst.cand_ptr, inst.cand_zone, inst.cand_cost, inst.hi,
                     inst.mw, moves)[1]:
            lim.hit.add("chain moves")

    def run(lab, cost, mw, cw, lam, its, rounds, s, t0) -> float:
        f, capped = improve(lab, *args, cost, inst.hi, inst.lo, mw, cw, inst.pen, lam, its,
                            int(rounds), int(s), t0, int(lim.max_sweeps), lim.p_front)
        if capped:
            lim.hit.add("sweeps")
        return f

    fix(label)
    start = label.copy()
    its = int(iterations if iterations is not None else max(20_000, 40 * len(label)))
    f = run(label, inst.cand_cost, inst.mw, inst.cw, _lam(inst), its, restarts, seed, 0.0)
    if not (label < 0).any() or lim.late():
        return label
    # a few cells left out (their zones full): reattach them, pass the excess on, improve once
    # more — a fraction of the packing search's time (demo primary: 0.4 s instead of 5.5 s)
    again = label.copy()
    fix(again)
    run(again, inst.cand_cost, inst.mw, inst.cw, _lam(inst), its, 1, seed + 3, 0.0)
    if not (again < 0).any() or lim.late():
        return again if not (again < 0).any() else label
    eps = 1e-3 / inst.pen
    packed = start
    run(packed, inst.cand_cost * eps, inst.mw * eps, inst.cw * eps, 1.0, its, restarts,
        seed + 1, max(float(inst.students.mean()), 1e-9))
    f2 = run(packed, inst.cand_cost, inst.mw, inst.cw, _lam(inst), its, restarts, seed + 2, 0.0)
    return packed if f2 < f else label


def _widen(label: np.ndarray, inst: _Instance, costs: Any, zone_of: np.ndarray,
           share: np.ndarray | None = None, units: np.ndarray | None = None) -> _Instance:
    """Candidates widened for the cells left unzoned and their neighbours (two rings): every
    zone of a cell within two steps, at its cost from ``costs`` — a zone next door across a
    river may be far by road and so not among the nearest candidates. Units of one cell only
    (``units``: the unit of each cell; a merged unit keeps its candidates)."""
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
    row = full.row.astype(np.int64)
    alone = np.ones(len(row), dtype=bool)
    if units is not None:  # units of one cell only (a merged unit keeps its candidates)
        alone = np.bincount(units, minlength=n)[units[row]] == 1
        row = units[row]
    keep = alone & np.isin(row, cells)
    rows, cols, vals = zone_pairs(row[keep], full.col[keep].astype(np.int64), full.data[keep],
                                  zone_of, share, n, k)
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
