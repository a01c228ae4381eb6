"""The siting planner's exact allocations: one level, a year and a set of planned sites.

:class:`Planner` solves the exact capacitated allocation (travel-minimising, no school over its
seats, no trip beyond ``reach``) of one planning year's students to the year's schools plus the
planned sites open that year, and remembers each answer by (year, open sites, sizes).

Only the cells with students go to the engine (:func:`schoolmap.allocation.assign` with
``max_distance_m = reach``); each memoised answer keeps only its cells with unserved students
and its flows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from schoolmap.allocation.memory import available_memory, estimate_assign_bytes
from schoolmap.allocation.network import Travel, network_pair_costs, network_transport
from schoolmap.allocation.optimal import TransportResult, assign
from schoolmap.errors import InfeasibleError
from schoolmap.io.roads import RoadGraph
from schoolmap.planning.siting.bound import school_xy

__all__ = ["QUANTUM", "WORKERS", "Planner", "Site", "Solved", "core_free"]


#: Most exact allocations :meth:`Planner.prefetch` runs at once (threads; the engine's kernels
#: release the GIL): two on a machine of two cores or more (while a core is free:
#: :func:`core_free`), else one.
WORKERS = 2 if (os.cpu_count() or 1) >= 2 else 1


#: Grid (students) the demand is rounded to when the exact engine fails on fractional students
#: (at most 0.5e-6 student per cell): sums and differences of such numbers are exact in float64,
#: so the engine's balance of students and seats cannot drift by rounding. Fractional forecast
#: demand at 250,000 cells made the engine lose its last augmenting path ("students cannot all
#: be placed …") although unserved students have a finite cost.
QUANTUM = 2.0 ** -20


@dataclass
class Site:
    """A planned new school: candidate index, size (index into the size options) and the
    first school year it is open (0: no planning years)."""

    cand: int
    size: int
    open_year: int


@dataclass(frozen=True)
class Solved:
    """What the planner keeps of one exact allocation: the cells with unserved students and
    their number (a few of the cells: the plan keeps many allocations), the flows' school,
    students and trip (metres), and the seat prices (metres, one per school: the year's
    schools, then the open sites). An allocation without planned sites also keeps the cell
    duals of the year's cells with students (metres): later allocations start from them
    (:meth:`Planner.parent`)."""

    n_cells: int
    short_cells: np.ndarray
    short_students: np.ndarray
    school: np.ndarray
    students: np.ndarray
    cost: np.ndarray
    seat_price: np.ndarray | None = None
    cell_dual: np.ndarray | None = None

    @property
    def unserved_by_cell(self) -> np.ndarray:
        """Unserved students of every cell, shape (n_cells,)."""
        out = np.zeros(self.n_cells)
        out[self.short_cells] = self.short_students
        return out


def core_free() -> bool:
    """True when a core is free for a second solve: the 1-minute load average (this run
    counts about 1 in it) is below the number of cores − 0.5. On a busy machine two solves at
    once took more CPU and longer than one after the other (100k city, load 4: 77 s wall /
    47 s CPU against 67 / 44 s for its kindergarten siting)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this system
        return True
    return load < (os.cpu_count() or 1) - 0.5


class Planner:
    """Exact allocations of one level for a year and a set of planned sites (memoised).

    Parameters
    ----------
    cell_xy : ndarray of shape (n_cells, 2)
        Cell points (metres).
    demand : mapping year → ndarray of shape (n_cells,)
        Students per cell.
    existing : mapping year → GeoDataFrame
        The year's schools (``school_id``, ``seats``, points in metres).
    options : ndarray of shape (k, 2)
        Standard sizes as (classes, seats), ascending.
    reach : float
        Longest trip (metres).
    target : float
        Students who may stay unserved.
    road : (RoadGraph, Travel), optional
        Trips and ``reach`` along the roads (:func:`~schoolmap.allocation.network_transport`,
        certified over all pairs); default straight lines.
    """

    def __init__(self, cell_xy, demand, existing, options, reach, target,
                 road: tuple[RoadGraph, Travel] | None = None):
        self.road = road
        self.cell_xy = cell_xy
        self.demand = demand
        self.existing = existing
        self.options = options
        self.reach = float(reach)
        self.target = target
        self._cand_xy = np.zeros((0, 2))
        self.site_ids = np.zeros(0, dtype=object)
        self._memo: dict[tuple, Solved] = {}
        self._cand_tree: cKDTree | None = None
        self._cand_road: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.n_solves = 0
        self.n_regridded = 0  # allocations solved on the student grid
        self.n_paths = 0  # augmenting paths of every solve (how much each start left to do)
        self._live: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
        self._live_tree: dict[Any, cKDTree] = {}
        self._years = sorted(t for t in demand if t is not None)

    @property
    def cand_xy(self) -> np.ndarray:
        """Candidate site points (metres), shape (k, 2)."""
        return self._cand_xy

    @cand_xy.setter
    def cand_xy(self, xy: np.ndarray) -> None:
        self._cand_xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self._cand_tree = None
        self._cand_road = None

    def open_sites(self, t: Any, plan: list[Site]) -> list[Site]:
        """The plan's sites open in year ``t`` (in plan order: school ``m0 + k``)."""
        return [s for s in plan if t is None or s.open_year <= t]

    def _students(self, t: Any) -> tuple[np.ndarray, np.ndarray]:
        """The year's cells with students, and their students."""
        if t not in self._live:
            d = np.asarray(self.demand[t], dtype=np.float64)
            live = np.flatnonzero(d > 0)
            self._live[t] = live, d[live]
        return self._live[t]

    def _assign(self, live: np.ndarray, students: np.ndarray, xy: np.ndarray,
                seats: np.ndarray, start: np.ndarray | None = None
                ) -> tuple[TransportResult, int]:
        """The exact engine on the cells ``live``; once more on the 2**-20 student grid when
        rounding drift makes it fail (:data:`QUANTUM`). Returns the result and 1 if it was
        solved on the grid, else 0."""
        try:
            return self._door(self.cell_xy[live], students, xy, seats, start), 0
        except InfeasibleError:
            grid = np.round(students / QUANTUM) * QUANTUM
            if np.array_equal(grid, students):
                raise
            return self._door(self.cell_xy[live], grid, xy, seats, start), 1

    def _door(self, cell_xy: np.ndarray, students: np.ndarray, xy: np.ndarray,
              seats: np.ndarray, start: np.ndarray | None = None) -> TransportResult:
        """Straight lines (:func:`~schoolmap.allocation.assign`, from seat prices ``start``)
        or the roads."""
        if self.road is None:
            return assign(cell_xy, students, xy, seats, max_distance_m=self.reach,
                          start_price=start)
        graph, travel = self.road
        return network_transport(graph, cell_xy, students, xy, seats, max_distance_m=self.reach,
                                 max_connector_m=travel.max_connector_m,
                                 detour_max=travel.detour_max)

    def _key(self, t: Any, plan: list[Site]) -> tuple:
        """Memo key of year ``t`` with the plan's open sites: (year, ((candidate, size), …))."""
        return (t, tuple((s.cand, s.size) for s in self.open_sites(t, plan)))

    def solve(self, t: Any, plan: list[Site]) -> Solved:
        """Exact allocation of year ``t``'s students to its schools and the plan's open sites.

        Only cells with students go to the engine (a cell without any takes no seat and
        changes nothing); their unserved students are put back on the full cell list.
        """
        return self._solve_key(self._key(t, plan))

    def _solve_key(self, key: tuple) -> Solved:
        """The allocation of a memo key (solved, and remembered, if not known yet)."""
        if key not in self._memo:
            self._keep(key, self._compute(key, self._start(key, self.parent(key))))
        return self._memo[key]

    def missing(self, years: list[Any], plan: list[Site]) -> int:
        """How many of the allocations of ``years`` with the plan are not remembered yet."""
        return len({self._key(t, plan) for t in years} - self._memo.keys())

    def prefetch(self, years: list[Any], plan: list[Site],
                 done: Callable[[Any], None] | None = None, *,
                 only_together: bool = False) -> None:
        """Solve year by year the allocations of ``years`` with the plan not yet remembered,
        :data:`WORKERS` at a time where they do not start from one another
        (:meth:`parent`): the engine's kernels release the GIL, so on two cores two run at
        once. The answers are the same as one by one (each solve is deterministic, and so is
        where it starts) and ``done(t)`` is called for every year in order as soon as its
        allocation is known (progress). ``only_together``: solve nothing unless the first
        two can run at once (for allocations that may turn out unused)."""
        keys = [self._key(t, plan) for t in years]
        for t in years:
            self._students(t)  # the years' live cells, before any thread reads them
        todo = list(dict.fromkeys(k for k in keys if k not in self._memo))
        told = 0

        def tell() -> None:  # every year whose answer is known, in order
            nonlocal told
            while told < len(years) and keys[told] in self._memo:
                if done is not None:
                    done(years[told])
                told += 1

        tell()
        parents = {k: self.parent(k, todo) for k in todo}  # fixed before any of them is solved
        together = (WORKERS > 1 and len(todo) > 1 and core_free()
                    and self._room_for_two(todo[0]))
        pool = ThreadPoolExecutor(max_workers=WORKERS) if together else None
        try:
            while todo:
                wave = [k for k in todo if parents[k] is None or parents[k] in self._memo]
                wave = wave[:WORKERS] if pool else []
                if len(wave) < 2:
                    if only_together:
                        return
                    wave = todo[:1]
                only_together = False
                starts = [self._start(k, parents[k]) for k in wave]
                if len(wave) > 1:
                    answers = list(pool.map(self._compute, wave, starts))
                else:
                    answers = [self._compute(wave[0], starts[0])]
                for key, solved in zip(wave, answers, strict=True):
                    self._keep(key, solved)
                tell()
                todo = [k for k in todo if k not in self._memo]
        finally:
            if pool is not None:
                pool.shutdown()

    def parent(self, key: tuple, pending: Collection[tuple] = ()) -> tuple | None:
        """The allocation whose seat prices the allocation of ``key`` starts from
        (``assign(start_price=)``), or None to estimate them on coarser grids.

        The same open sites the planning year before, if that allocation is remembered or
        ``pending`` (solved first, in the same batch), else the year after, if remembered: a
        year on, the students move a little and the prices with them. Starts from the same
        year with fewer sites are poor (the prices of a shortage the new sites relieve:
        kindergartens of the 100,000-cell city took 2.1 million augmenting paths so, 91,000
        cold), so such allocations start cold. By road, none. Only the remembered
        allocations decide, never the order threads finish in (:meth:`prefetch` fixes a
        batch's parents before solving any of it), so the answers — which may differ from
        cold solves where optima tie — are the same however the solves are scheduled.
        """
        if self.road is not None:
            return None
        t, sites = key
        years = self._years
        if t not in years:
            return None
        k = years.index(t)
        if k > 0 and ((years[k - 1], sites) in self._memo or (years[k - 1], sites) in pending):
            return (years[k - 1], sites)
        if k + 1 < len(years) and (years[k + 1], sites) in self._memo:
            return (years[k + 1], sites)
        return None

    def _start(self, key: tuple, parent: tuple | None) -> np.ndarray | None:
        """Seat prices (metres) to start the allocation of ``key`` from: its ``parent``'s
        (:meth:`parent`; the same sites), by school id for the year's schools, then the
        sites; a school the parent lacks at the price no cell of the parent would pay more
        than for its own option, max(0, max_i(u_i − c_ij)) over the cells within reach
        (no start when the parent kept no cell duals)."""
        if parent is None:
            return None
        p = self._solve_key(parent)
        if p.seat_price is None:
            return None
        xy, _ = self._schools(key)
        price = np.full(len(xy), np.nan)
        t, pt = key[0], parent[0]
        ids = self.existing[t]["school_id"].astype(str).to_numpy()
        was = self.existing[pt]["school_id"].astype(str).to_numpy()
        at = dict(zip(was, range(len(was)), strict=True))
        for i, sid in enumerate(ids):
            j = at.get(sid, -1)
            if 0 <= j < len(p.seat_price):
                price[i] = p.seat_price[j]
        n_sites = len(key[1])
        if n_sites and len(p.seat_price) >= len(was) + n_sites:
            price[len(ids):len(ids) + n_sites] = p.seat_price[len(was):len(was) + n_sites]
        new = np.flatnonzero(np.isnan(price))
        if len(new):
            if p.cell_dual is None:
                return None
            price[new] = self._entry_price(pt, p.cell_dual, xy[new])
        return np.maximum(price, 0.0)

    def _entry_price(self, t: Any, cell_dual: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """max(0, max_i(u_i − c_ij)) for each point j over year ``t``'s cells with students
        within reach (``cell_dual`` u on those cells, metres)."""
        live, _ = self._students(t)
        if t not in self._live_tree:
            self._live_tree[t] = cKDTree(self.cell_xy[live])
        out = np.zeros(len(xy))
        for j, hits in enumerate(self._live_tree[t].query_ball_point(xy, self.reach)):
            if hits:
                h = np.asarray(hits, dtype=np.int64)
                c = np.hypot(*(self.cell_xy[live[h]] - xy[j]).T)
                out[j] = max(0.0, float((cell_dual[h] - c).max()))
        return out

    def _room_for_two(self, key: tuple) -> bool:
        """True when two allocations like ``key``'s fit at once in 60 % of the memory
        available (the engine's own limit for one, :func:`~schoolmap.allocation.check_memory`);
        else they are solved one by one."""
        t, sites = key
        n_schools = max(len(self.existing[t]) + len(sites), 1)
        needed = estimate_assign_bytes(len(self._students(t)[0]), n_schools)
        return 2 * needed <= 0.6 * available_memory()

    def _keep(self, key: tuple, solved: tuple[Solved, int, int]) -> None:
        """Remember one allocation and count its solve, paths and regridding."""
        self._memo[key], paths, regridded = solved
        self.n_solves += 1
        self.n_paths += paths
        self.n_regridded += regridded

    def _schools(self, key: tuple) -> tuple[np.ndarray, np.ndarray]:
        """Points (metres) and seats of the schools of a memo key: the year's, then the open
        sites (one empty school at the cells' centre when there are none)."""
        t, sites = key
        ex = self.existing[t]
        xy = school_xy(ex)
        seats = ex["seats"].to_numpy(dtype=np.float64)
        if sites:
            xy = np.vstack([xy, self.cand_xy[[c for c, _ in sites]]])
            seats = np.concatenate([seats, self.options[[z for _, z in sites], 1]])
        if len(seats) == 0:
            xy, seats = np.zeros((1, 2)) + self.cell_xy.mean(axis=0), np.zeros(1)
        return xy, seats

    def _compute(self, key: tuple, start: np.ndarray | None = None
                 ) -> tuple[Solved, int, int]:
        """The allocation of a memo key (seat prices from ``start``, :meth:`_start`), its
        augmenting paths and whether it was regridded (no shared state is changed: safe in a
        worker thread)."""
        t, sites = key
        xy, seats = self._schools(key)
        live, students = self._students(t)
        n = len(self.cell_xy)
        if not len(live):
            empty = np.zeros(0)
            none = empty.astype(np.int64)
            return Solved(n, none, empty, none, empty, empty), 0, 0
        r, regridded = self._assign(live, students, xy, seats, start)
        short = np.flatnonzero(r.unserved_by_cell > 0)
        return (Solved(n, live[short], r.unserved_by_cell[short], r.school, r.students, r.cost,
                       r.seat_price, None if sites else r.cell_dual),
                int(r.certificate.get("paths", 0)), regridded)

    def unserved_at_least(self, t: Any, plan: list[Site]) -> float:
        """A proven lower bound on the unserved students of year ``t`` with the plan's open
        sites, without an exact allocation: the students of cells with no school within reach,
        plus the other students beyond all the seats (Hall's condition on those two sets of
        cells). Lets the planner skip allocations whose answer it already knows. (By road the
        straight line is shorter than every trip, so a cell alone by it is alone by road.)"""
        sites = self.open_sites(t, plan)
        ex = self.existing[t]
        xy = np.vstack([school_xy(ex), self.cand_xy[[s.cand for s in sites]].reshape(-1, 2)])
        seats = float(ex["seats"].to_numpy(dtype=np.float64).sum()
                      + self.options[[s.size for s in sites], 1].sum())
        live, students = self._students(t)
        if len(live) == 0:
            return 0.0
        if len(xy) == 0:
            return float(students.sum())
        # a trip of exactly ``reach`` is allowed: only cells clearly beyond it count as alone
        far, _ = cKDTree(xy).query(self.cell_xy[live], k=1,
                                   distance_upper_bound=self.reach * (1 + 1e-9) + 1e-6)
        alone = ~np.isfinite(far)
        return float(students[alone].sum()) + max(0.0, float(students[~alone].sum()) - seats)

    @staticmethod
    def unserved(r: Solved) -> float:
        """Students without a seat within reach."""
        return float(r.short_students.sum())

    def best_candidate(self, r: Solved, used: set[int]) -> tuple[int, float]:
        """The unused candidate with most unserved students within reach, and their number.

        (−1, 0) when no unused candidate reaches an unserved student. By road, within reach
        along the roads (:meth:`_road_reach`).
        """
        if len(self.cand_xy) == 0:
            return -1, 0.0
        if self.road is not None:
            cell, cand, cost = self._road_reach()
            u = r.unserved_by_cell[cell]
            score = np.bincount(cand, weights=u, minlength=len(self.cand_xy))
            near = np.bincount(cand, weights=u * cost, minlength=len(self.cand_xy))
            return self._pick(score, near, used)
        if self._cand_tree is None:
            self._cand_tree = cKDTree(self.cand_xy)
        idx = r.short_cells
        score = np.zeros(len(self.cand_xy))
        near = np.zeros(len(self.cand_xy))
        hits = self._cand_tree.query_ball_point(self.cell_xy[idx], self.reach)
        for i, u, js in zip(idx, r.short_students, hits, strict=True):
            if js:
                js = np.asarray(js)
                score[js] += u
                near[js] += u * np.hypot(*(self.cand_xy[js] - self.cell_xy[i]).T)
        return self._pick(score, near, used)

    @staticmethod
    def _pick(score: np.ndarray, near: np.ndarray, used: set[int]) -> tuple[int, float]:
        """The unused candidate of highest score, the nearest (score-weighted) of equals."""
        if used:
            score[list(used)] = 0.0
        if score.max() <= 0:
            return -1, 0.0
        best = np.flatnonzero(score >= score.max() - 1e-9)
        j = int(best[np.argmin(near[best] / score[best])])
        return j, float(score[j])

    def _road_reach(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cell, candidate, road metres) of every cell with students in some year and
        candidate site within reach along the roads (one bounded search per candidate, kept;
        cells or candidates off the network are left out)."""
        if self._cand_road is None:
            graph, travel = self.road
            cells = np.flatnonzero(np.any([np.asarray(d) > 0 for d in self.demand.values()],
                                          axis=0))
            c, j, d = network_pair_costs(graph, self.cell_xy[cells], self.cand_xy, self.reach,
                                         max_connector_m=travel.max_connector_m)
            keep = d <= self.reach
            self._cand_road = (cells[c[keep]], j[keep], d[keep])
        return self._cand_road

    def flow_into(self, t: Any, plan: list[Site], r: Solved) -> dict[int, float]:
        """Students each open planned site takes (by candidate index)."""
        sites = self.open_sites(t, plan)
        m0 = len(self.existing[t])
        taken = np.bincount(r.school, weights=r.students, minlength=m0 + len(sites))
        return {s.cand: float(taken[m0 + k]) for k, s in enumerate(sites)}
