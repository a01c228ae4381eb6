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
from collections.abc import Callable
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
    their number (a few of the cells: the plan keeps many allocations), and the flows' school,
    students and trip (metres)."""

    n_cells: int
    short_cells: np.ndarray
    short_students: np.ndarray
    school: np.ndarray
    students: np.ndarray
    cost: np.ndarray

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
                seats: np.ndarray) -> tuple[TransportResult, int]:
        """The exact engine on the cells ``live``; once more on the 2**-20 student grid when
        rounding drift makes it fail (:data:`QUANTUM`). Returns the result and 1 if it was
        solved on the grid, else 0."""
        try:
            return self._door(self.cell_xy[live], students, xy, seats), 0
        except InfeasibleError:
            grid = np.round(students / QUANTUM) * QUANTUM
            if np.array_equal(grid, students):
                raise
            return self._door(self.cell_xy[live], grid, xy, seats), 1

    def _door(self, cell_xy: np.ndarray, students: np.ndarray, xy: np.ndarray,
              seats: np.ndarray) -> TransportResult:
        """Straight lines (:func:`~schoolmap.allocation.assign`) or the roads."""
        if self.road is None:
            return assign(cell_xy, students, xy, seats, max_distance_m=self.reach)
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
        key = self._key(t, plan)
        if key not in self._memo:
            self._keep(key, self._compute(key))
        return self._memo[key]

    def missing(self, years: list[Any], plan: list[Site]) -> int:
        """How many of the allocations of ``years`` with the plan are not remembered yet."""
        return len({self._key(t, plan) for t in years} - self._memo.keys())

    def prefetch(self, years: list[Any], plan: list[Site],
                 done: Callable[[Any], None] | None = None, *,
                 only_together: bool = False) -> None:
        """Solve year by year the allocations of ``years`` with the plan not yet remembered,
        :data:`WORKERS` at a time: they are independent, and the engine's kernels release
        the GIL, so on two cores two run at once. The answers are the same as one by one
        (each solve is deterministic) and are remembered in year order; ``done(t)`` is
        called for every year in order as soon as its allocation is known (progress).
        ``only_together``: solve nothing unless they can run at once (for allocations that
        may turn out unused)."""
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
        if WORKERS > 1 and len(todo) > 1 and core_free() and self._room_for_two(todo[0]):
            with ThreadPoolExecutor(max_workers=WORKERS) as pool:
                for key, solved in zip(todo, pool.map(self._compute, todo), strict=True):
                    self._keep(key, solved)
                    tell()
        elif only_together:
            return
        for key in todo:
            if key not in self._memo:
                self._keep(key, self._compute(key))
                tell()

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

    def _compute(self, key: tuple) -> tuple[Solved, int, int]:
        """The allocation of a memo key, its augmenting paths and whether it was regridded
        (no shared state is changed: safe in a worker thread)."""
        t, sites = key
        ex = self.existing[t]
        xy = school_xy(ex)
        seats = ex["seats"].to_numpy(dtype=np.float64)
        if sites:
            xy = np.vstack([xy, self.cand_xy[[c for c, _ in sites]]])
            seats = np.concatenate([seats, self.options[[z for _, z in sites], 1]])
        if len(seats) == 0:
            xy, seats = np.zeros((1, 2)) + self.cell_xy.mean(axis=0), np.zeros(1)
        live, students = self._students(t)
        n = len(self.cell_xy)
        if not len(live):
            empty = np.zeros(0)
            none = empty.astype(np.int64)
            return Solved(n, none, empty, none, empty, empty), 0, 0
        r, regridded = self._assign(live, students, xy, seats)
        short = np.flatnonzero(r.unserved_by_cell > 0)
        return (Solved(n, live[short], r.unserved_by_cell[short], r.school, r.students, r.cost),
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
