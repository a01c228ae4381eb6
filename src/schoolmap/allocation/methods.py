"""Assigning students to schools: by official catchment, or to the nearest school.

Both methods ignore capacity on purpose: they show where students *would* go, so that seats
short (学位缺口) and oversized classes appear at the schools. Students who have no school (a cell
outside every zone, a zone whose school is closed, a level with no school) are reported as
unassigned by cell — conservation always holds::

    allocation.assigned.sum() + allocation.unassigned_by_cell.sum() == demand_by_cell.sum()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from schoolmap.allocation.optimal import TransportResult, assign, transport
from schoolmap.io.zones import split_ids, zone_of_points

__all__ = [
    "METHODS",
    "Allocation",
    "TransportResult",
    "allocate_catchment",
    "allocate_nearest",
    "allocate_optimal",
    "assign",
    "transport",
]

#: Allocation methods the scenario runner offers.
METHODS = ("catchment", "nearest", "optimal")


@dataclass(frozen=True)
class Allocation:
    """Students of one level assigned to schools, as (cell, school, students) flows.

    Attributes
    ----------
    level, method : str
    cell : ndarray of shape (n_flows,), int64
        Cell row of each flow; flows are sorted by cell, then school.
    school : ndarray of shape (n_flows,), int64
        Row in the level's school table.
    students : ndarray of shape (n_flows,), float64
        Students in the flow (> 0).
    distance_m : ndarray of shape (n_flows,), float64
        Straight-line distance from cell to school (metres).
    demand_by_cell : ndarray of shape (n_cells,), float64
        Students needing a seat in each cell.
    unassigned_by_cell : ndarray of shape (n_cells,), float64
        Students of each cell given no school.
    n_schools : int
        Rows of the level's school table.
    notes : tuple of str
        What a reader should know (fallbacks, cells outside zones).
    seat_price : ndarray of shape (n_schools,) or None
        ``optimal`` only: metres of travel one more seat at each school would save.
    certificate : dict or None
        ``optimal`` only: the optimality proof (see :class:`schoolmap.optimal.TransportResult`).
    """

    level: str
    method: str
    cell: np.ndarray
    school: np.ndarray
    students: np.ndarray
    distance_m: np.ndarray
    demand_by_cell: np.ndarray
    unassigned_by_cell: np.ndarray
    n_schools: int
    notes: tuple[str, ...] = field(default=())
    seat_price: np.ndarray | None = None
    certificate: dict | None = None

    @property
    def assigned(self) -> np.ndarray:
        """Students assigned to each school, ndarray of shape (n_schools,)."""
        return np.bincount(self.school, weights=self.students, minlength=self.n_schools)

    def main_school_by_cell(self) -> np.ndarray:
        """School row taking most of each cell's students (-1 for none), shape (n_cells,)."""
        out = np.full(len(self.demand_by_cell), -1, dtype=np.int64)
        order = np.lexsort((-self.students, self.cell))  # by cell, largest flow first
        first = np.ones(len(order), dtype=bool)
        first[1:] = self.cell[order][1:] != self.cell[order][:-1]
        out[self.cell[order][first]] = self.school[order][first]
        return out

    def distance_by_cell(self) -> np.ndarray:
        """Student-weighted mean distance to the assigned school(s), metres (NaN if none)."""
        n = len(self.demand_by_cell)
        w = np.bincount(self.cell, weights=self.students, minlength=n)
        d = np.bincount(self.cell, weights=self.students * self.distance_m, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(w > 0, d / np.where(w > 0, w, 1.0), np.nan)


def check_inputs(cell_xy: np.ndarray, demand_by_cell: np.ndarray) -> None:
    if cell_xy.ndim != 2 or cell_xy.shape[1] != 2 or len(cell_xy) != len(demand_by_cell):
        raise ValueError(f"cell_xy must have shape (n_cells, 2) matching demand_by_cell "
                         f"({len(demand_by_cell)}), got {cell_xy.shape}")
    if not np.isfinite(demand_by_cell).all() or (demand_by_cell < 0).any():
        raise ValueError("demand_by_cell must be finite and ≥ 0 students")


def allocate_nearest(
    cell_xy: np.ndarray, demand_by_cell: np.ndarray, school_xy: np.ndarray, *, level: str = ""
) -> Allocation:
    """Send every cell's students to the nearest school (straight line; KD-tree).

    Never builds a cells × schools matrix. Ties go to the school listed first.

    Parameters
    ----------
    cell_xy : ndarray of shape (n_cells, 2)
        Cell points (metres).
    demand_by_cell : ndarray of shape (n_cells,)
        Students (≥ 0).
    school_xy : ndarray of shape (n_schools, 2)
        School points (metres).
    level : str
        Label kept in the result.

    Examples
    --------
    >>> import numpy as np
    >>> a = allocate_nearest(np.array([[0., 0.], [900., 0.]]), np.array([10., 4.]),
    ...                      np.array([[100., 0.], [1000., 0.]]))
    >>> a.assigned.tolist(), a.distance_m.tolist()
    ([10.0, 4.0], [100.0, 100.0])

    With no school every student is unassigned:

    >>> allocate_nearest(np.zeros((1, 2)), np.array([3.]), np.zeros((0, 2))).unassigned_by_cell
    array([3.])
    """
    cell_xy = np.ascontiguousarray(cell_xy, dtype=np.float64)
    demand_by_cell = np.ascontiguousarray(demand_by_cell, dtype=np.float64)
    check_inputs(cell_xy, demand_by_cell)
    n = len(cell_xy)
    if len(school_xy) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Allocation(level, "nearest", empty, empty, np.zeros(0), np.zeros(0),
                          demand_by_cell, demand_by_cell.copy(), 0,
                          (f"no {level or 'open'} school: all students unassigned",))
    has = np.flatnonzero(demand_by_cell > 0)
    tree = cKDTree(np.asarray(school_xy, dtype=np.float64))
    dist, idx = tree.query(cell_xy[has], k=1)
    return Allocation(level, "nearest", has.astype(np.int64), idx.astype(np.int64),
                      demand_by_cell[has], dist.astype(np.float64), demand_by_cell,
                      np.zeros(n), len(school_xy))


def allocate_optimal(
    cell_xy: np.ndarray,
    demand_by_cell: np.ndarray,
    school_xy: np.ndarray,
    seats: np.ndarray,
    *,
    level: str = "",
    max_distance_m: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> Allocation:
    """Assign students so that no school exceeds its seats and total travel is least.

    Exact, with a certificate (see :mod:`schoolmap.optimal`); an answer whose proof does not
    hold is never returned: :class:`~schoolmap.errors.UnprovenError` is raised instead, and a
    run stops with its message. Students who cannot get a seat
    (within ``max_distance_m`` when given) are unassigned — where they live is where seats are
    missing.

    Examples
    --------
    >>> import numpy as np
    >>> a = allocate_optimal(np.array([[0., 0.], [10., 0.]]), np.array([2., 1.]),
    ...                      np.array([[0., 0.], [12., 0.]]), np.array([1., 5.]))
    >>> a.assigned.tolist(), a.seat_price.tolist(), a.certificate["optimal"]
    ([1.0, 2.0], [12.0, 0.0], True)
    """
    demand_by_cell = np.ascontiguousarray(demand_by_cell, dtype=np.float64)
    check_inputs(np.ascontiguousarray(cell_xy, dtype=np.float64), demand_by_cell)
    r = assign(cell_xy, demand_by_cell, school_xy, seats, max_distance_m=max_distance_m,
               progress=progress)
    notes = []
    left = float(np.sum(r.unserved_by_cell))
    if left > 0:
        where = f" within {max_distance_m:,.0f} m" if max_distance_m else ""
        notes.append(f"{left:,.0f} {level} students get no seat{where}: seats run out")
    return Allocation(level, "optimal", r.cell, r.school, r.students.astype(np.float64),
                      r.cost, demand_by_cell, r.unserved_by_cell.astype(np.float64),
                      len(seats), tuple(notes), r.seat_price, r.certificate)


def allocate_catchment(
    cell_xy: np.ndarray,
    demand_by_cell: np.ndarray,
    schools: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    level: str = "",
) -> Allocation:
    """Send every cell's students to the school(s) of the official zone it lies in (划片).

    A cell belongs to the first zone (in layer order) containing its point. A zone naming
    several schools (多校划片, ``"P03;P04"``) splits its students between them in proportion
    to seats. Students of cells outside every zone, or of zones whose schools are not open,
    are unassigned.

    Parameters
    ----------
    cell_xy : ndarray of shape (n_cells, 2)
        Cell points (metres).
    demand_by_cell : ndarray of shape (n_cells,)
        Students (≥ 0).
    schools : GeoDataFrame
        The level's schools (``school_id``, ``seats``, point geometry), as from
        :func:`schoolmap.demand.level_schools`.
    zones : GeoDataFrame
        The level's zones (``zone_id``, ``school_id``), polygons in the same CRS.
    level : str
        Label kept in the result.
    """
    cell_xy = np.ascontiguousarray(cell_xy, dtype=np.float64)
    demand_by_cell = np.ascontiguousarray(demand_by_cell, dtype=np.float64)
    check_inputs(cell_xy, demand_by_cell)
    n = len(cell_xy)
    notes: list[str] = []
    zone_of_cell = zone_of_points(cell_xy, zones)
    # zone → schools (CSR), with each school's share of the zone's students
    row_of = {sid: i for i, sid in enumerate(schools["school_id"])}
    seats = schools["seats"].to_numpy(dtype=np.float64)
    indptr = [0]
    members: list[int] = []
    weights: list[float] = []
    for zid, ids in zip(zones["zone_id"], zones["school_id"], strict=True):
        rows = [row_of[s] for s in split_ids(ids) if s in row_of]
        if not rows and (zone_of_cell == len(indptr) - 1).any():
            notes.append(f"zone {zid}: none of its schools ({ids}) takes {level} students this "
                         "year; its students are unassigned")
        total = sum(seats[r] for r in rows)
        members += rows
        weights += [seats[r] / total if total > 0 else 1.0 / len(rows) for r in rows]
        indptr.append(len(members))
    ptr = np.asarray(indptr, dtype=np.int64)
    member = np.asarray(members, dtype=np.int64)
    weight = np.asarray(weights, dtype=np.float64)

    has = np.flatnonzero((demand_by_cell > 0) & (zone_of_cell >= 0))
    z = zone_of_cell[has]
    counts = ptr[z + 1] - ptr[z]
    cell = np.repeat(has, counts)
    pos = np.repeat(ptr[z], counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts)
                                                                          - counts, counts))
    school = member[pos]
    students = demand_by_cell[cell] * weight[pos]
    sxy = np.asarray(shapely.get_coordinates(schools.geometry.array)[:, :2], dtype=np.float64)
    distance = np.hypot(*(cell_xy[cell] - sxy[school]).T) if len(cell) else np.zeros(0)

    assigned_cell = np.zeros(n)
    np.add.at(assigned_cell, cell, students)
    unassigned = np.where(demand_by_cell > 0, demand_by_cell - assigned_cell, 0.0)
    unassigned[np.abs(unassigned) < 1e-9 * np.maximum(demand_by_cell, 1.0)] = 0.0
    outside = (zone_of_cell < 0) & (demand_by_cell > 0)
    if outside.any():
        notes.append(f"{int(outside.sum())} cells with {demand_by_cell[outside].sum():,.0f} "
                     f"{level} students lie outside every zone; they are unassigned")
    return Allocation(level, "catchment", cell.astype(np.int64), school, students, distance,
                      demand_by_cell, unassigned, len(schools), tuple(notes))
