"""Proposed catchments: cells dissolved by the school an allocation sends them to.

Any allocation (``nearest``, ``optimal``, a scenario's) can be read as a catchment map: each cell
goes to its *main* school (the one taking most of its students, see
:meth:`schoolmap.allocation.Allocation.main_school_by_cell`) and the cells of one school are
dissolved into one proposed catchment polygon. The planner compares them with the official
zones (划片):

- ``students_changing`` — students who would go to another school than under the official
  catchment allocation (``catchment`` method). With the allocations' flows a cell split between
  schools counts student by student: in cell *i*, of the students who have a school under both
  allocations, ``min(a_i, c_i)``, those who can keep their school are ``Σ_j min(x_ij, y_ij)``
  (flows to school *j* under each allocation); the rest change. Without flows (a cells table
  only) a cell's students all change when its main school differs. Students who get no seat
  under one of the two allocations are not counted as changing (they are *unassigned*, reported
  in the school and district tables).
- ``n_pieces`` — parts of the zone not connected through the cells where students live: two
  such cells are neighbours when they touch (at a corner too) or when their nearest-cell
  territories touch (neighbours in the Delaunay triangulation of their centres), so parts
  separated only by land without students (a river, fields, cells of no students of the level)
  count as one piece, while a part cut off by another school's students is a piece of its
  own. ``n_parts`` is the number of polygons of the dissolved geometry itself. Contiguity
  repair is not done here: a zone in several pieces is reported, not changed.

Cells without a main school (no students of the level, or none of them got a seat) go with the
nearest cell that has one, so the proposed zones have no holes where nobody of the level lives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError, cKDTree

from schoolmap.allocation import Allocation
from schoolmap.errors import ValidationError

__all__ = ["COLUMNS", "CellLayout", "cell_layout", "changing_summary", "dissolve_by_school",
           "grid_touching", "proposed_catchments", "students_changing_by_cell"]

#: Columns of :func:`proposed_catchments` (then ``geometry``).
COLUMNS = ("level", "method", "school_id", "name", "students", "students_changing", "n_cells",
           "n_pieces", "n_parts", "area_km2")


def students_changing_by_cell(allocation: Allocation, official: Allocation) -> np.ndarray:
    """Students of each cell who would change school from ``official`` to ``allocation``.

    Parameters
    ----------
    allocation : Allocation
        The proposed allocation (e.g. ``nearest`` or ``optimal``).
    official : Allocation
        The official catchment allocation of the same level (same cells, same school rows).

    Returns
    -------
    ndarray of shape (n_cells,), float64
        ``min(a_i, c_i) − Σ_j min(x_ij, y_ij)`` students per cell, where ``a_i`` and ``c_i`` are
        the cell's students with a school under each allocation and ``x_ij``, ``y_ij`` its flows
        to school ``j`` (see the module docs).

    Raises
    ------
    ValidationError
        If the two allocations do not cover the same cells and schools.

    Examples
    --------
    A cell of 10 students split 7 / 3 between two schools, officially all at the first:
    3 change; a cell with no official school (outside every zone) changes nobody:

    >>> import numpy as np
    >>> from schoolmap.allocation import Allocation
    >>> def alloc(cell, school, students):
    ...     cell, students = np.array(cell), np.array(students, dtype=float)
    ...     demand = np.array([10.0, 4.0])
    ...     return Allocation("primary", "m", cell, np.array(school), students,
    ...                       np.zeros(len(cell)), demand,
    ...                       demand - np.bincount(cell, students, minlength=2), 2)
    >>> students_changing_by_cell(alloc([0, 0, 1], [0, 1, 1], [7, 3, 4]),
    ...                           alloc([0], [0], [10])).tolist()
    [3.0, 0.0]
    """
    n = len(allocation.demand_by_cell)
    if len(official.demand_by_cell) != n or official.n_schools != allocation.n_schools:
        raise ValidationError(
            [f"allocations differ in size: {n} cells × {allocation.n_schools} schools "
             f"({allocation.level}/{allocation.method}) vs {len(official.demand_by_cell)} × "
             f"{official.n_schools} ({official.level}/{official.method}); compare allocations "
             "of the same level and district"], "students_changing_by_cell")
    m = max(allocation.n_schools, 1)
    a = np.bincount(allocation.cell, weights=allocation.students, minlength=n)
    c = np.bincount(official.cell, weights=official.students, minlength=n)
    keys_a, flow_a = _flows_by_key(allocation, m)
    keys_c, flow_c = _flows_by_key(official, m)
    common, ia, ic = np.intersect1d(keys_a, keys_c, assume_unique=True, return_indices=True)
    kept = np.bincount(common // m, weights=np.minimum(flow_a[ia], flow_c[ic]), minlength=n)
    out = np.minimum(a, c) - kept
    out[out < 1e-9 * np.maximum(np.minimum(a, c), 1.0)] = 0.0  # rounding noise, never < 0
    return out


def _flows_by_key(alloc: Allocation, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Flows summed per (cell, school) key ``cell * m + school``, keys sorted and unique."""
    keys, inverse = np.unique(alloc.cell * m + alloc.school, return_inverse=True)
    return keys, np.bincount(inverse.ravel(), weights=alloc.students, minlength=len(keys))


def dissolve_by_school(
    cells: gpd.GeoDataFrame,
    school_by_cell: Sequence[Any] | np.ndarray,
    students_by_cell: np.ndarray,
    students_changing: np.ndarray | None = None,
    *,
    layout: CellLayout | None = None,
) -> gpd.GeoDataFrame:
    """Dissolve cells by their school into one zone per school.

    Parameters
    ----------
    cells : GeoDataFrame
        Cell polygons in a projected CRS in metres (the planning CRS).
    school_by_cell : sequence of shape (n_cells,)
        School id of each cell; None (or NaN) for none — such a cell goes with the nearest cell
        (by centre) that has a school. Where no cell has one, the result is empty.
        ``n_pieces`` counts the cells with students only (see the module docs).
    students_by_cell : ndarray of shape (n_cells,)
        Resident students of each cell.
    students_changing : ndarray of shape (n_cells,), optional
        Students of each cell who would change school; NaN when not known.
    layout : CellLayout, optional
        ``cell_layout(cells)``: pass it when dissolving the same cells several times (the
        triangulation and the coverage check are the slow part).

    Returns
    -------
    GeoDataFrame
        One row per school, in order of school id: ``school_id``, ``students``,
        ``students_changing``, ``n_cells``, ``n_pieces`` (parts not connected through cells),
        ``n_parts`` (polygons), ``area_km2``; (Multi)Polygon geometry in the cells' CRS.

    Examples
    --------
    Three cells in a row, the middle one going to another school, and an empty cell beside
    the last: ``A`` is in two pieces and takes the empty cell.

    >>> import geopandas as gpd, numpy as np
    >>> from shapely.geometry import box
    >>> cells = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100),
    ...                                    box(200, 0, 300, 100), box(300, 0, 400, 100)],
    ...                          crs="EPSG:32651")
    >>> z = dissolve_by_school(cells, ["A", "B", "A", None], np.array([5., 6., 7., 0.]))
    >>> z[["school_id", "students", "n_cells", "n_pieces", "area_km2"]].values.tolist()
    [['A', 12.0, 3, 2, 0.03], ['B', 6.0, 1, 1, 0.01]]
    """
    n = len(cells)
    ids = pd.Series(np.asarray(school_by_cell, dtype=object))
    students_by_cell = np.asarray(students_by_cell, dtype=np.float64)
    changing = (np.full(n, np.nan) if students_changing is None
                else np.asarray(students_changing, dtype=np.float64))
    if len(ids) != n or len(students_by_cell) != n or len(changing) != n:
        raise ValidationError([f"cells: {n} rows, but school_by_cell has {len(ids)}, "
                               f"students_by_cell {len(students_by_cell)} and students_changing "
                               f"{len(changing)}; give one value per cell"], "dissolve_by_school")
    layout = layout if layout is not None else cell_layout(cells)
    if len(layout.centres) != n:
        raise ValidationError([f"layout is of {len(layout.centres)} cells, not {n}; make it with "
                               "cell_layout(cells)"], "dissolve_by_school")
    geoms = cells.geometry.to_numpy()
    xy = layout.centres
    usable = ~np.isnan(xy[:, 0])
    has = ids.notna().to_numpy() & usable
    empty = gpd.GeoDataFrame({c: [] for c in COLUMNS[2:] if c != "name"},
                             geometry=gpd.GeoSeries([], crs=cells.crs))
    if not has.any():
        return empty
    school = ids.to_numpy().copy()
    fill = usable & ~has
    if fill.any():  # cells without a school go with the nearest cell that has one
        _, nearest = cKDTree(xy[has]).query(xy[fill])
        school[fill] = school[has][nearest]
    rows = np.flatnonzero(usable)
    codes, names = pd.factorize(pd.Series(school[rows]).astype(str), sort=True)
    # pieces: among the cells where students live (the others are land without students)
    lived = usable & (students_by_cell > 0)
    a, b = layout.neighbours(lived)
    code_of_cell = np.full(n, -1, dtype=np.int64)
    code_of_cell[rows] = codes
    same = code_of_cell[a] == code_of_cell[b]
    graph = coo_matrix((np.ones(int(same.sum())), (a[same], b[same])), shape=(n, n))
    piece = np.where(lived, connected_components(graph, directed=False)[1], -1)[rows]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    union = shapely.coverage_union_all if layout.coverage else shapely.union_all
    shapes, students, changes = [], [], []
    for k in range(len(names)):
        members = rows[order[bounds[k]:bounds[k + 1]]]
        parts = geoms[members]
        shapes.append(parts[0] if len(parts) == 1 else union(parts))
        students.append(float(students_by_cell[members].sum()))
        changes.append(float(changing[members].sum()))
    shapes = np.array(shapes, dtype=object)
    return gpd.GeoDataFrame({
        "school_id": list(names),
        "students": students,
        "students_changing": changes,
        "n_cells": np.diff(bounds).tolist(),
        "n_pieces": _n_pieces(codes, piece, len(names)).tolist(),
        "n_parts": shapely.get_num_geometries(shapes).astype(int).tolist(),
        "area_km2": [round(float(a) / 1e6, 6) for a in shapely.area(shapes)],
    }, geometry=gpd.GeoSeries(shapes, crs=cells.crs), crs=cells.crs)


def _n_pieces(codes: np.ndarray, piece: np.ndarray, n_zones: int) -> np.ndarray:
    """Distinct pieces (≥ 0; -1 marks cells without students) of each zone's cells."""
    lived = piece >= 0
    pairs = np.unique(np.column_stack([codes[lived], piece[lived]]), axis=0)
    return np.bincount(pairs[:, 0], minlength=n_zones)


@dataclass(frozen=True)
class CellLayout:
    """What dissolving depends on in the cells alone, computed once by :func:`cell_layout`.

    Attributes
    ----------
    centres : ndarray of shape (n_cells, 2)
        Cell centroids (metres); NaN for cells without geometry.
    touch_a, touch_b : ndarray of shape (n_pairs,), int64
        Rows of cells that touch (at a corner too), both orders (see :meth:`neighbours`).
    coverage : bool
        The cells form a valid coverage (no overlaps, matching edges): the fast coverage union
        is exact. Otherwise cells are unioned with ``union_all``.
    """

    centres: np.ndarray
    touch_a: np.ndarray
    touch_b: np.ndarray
    coverage: bool
    _neighbours: dict[bytes, tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, compare=False, repr=False)

    def neighbours(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbouring pairs among the cells of ``mask`` (boolean, shape (n_cells,)): cells
        that touch, and edges of the Delaunay triangulation of their centres, so that cells
        are also neighbours when their nearest-cell territories touch across land without such
        cells (all centres on one line: neighbours along it). Cached per mask."""
        key = np.packbits(mask).tobytes()
        if key not in self._neighbours:
            rows = np.flatnonzero(mask & ~np.isnan(self.centres[:, 0]))
            a = b = np.zeros(0, dtype=np.int64)
            if len(rows) >= 2:
                pts = self.centres[rows]
                try:
                    s = Delaunay(pts - pts.min(axis=0)).simplices
                    a = np.concatenate([s[:, 0], s[:, 1], s[:, 2]])
                    b = np.concatenate([s[:, 1], s[:, 2], s[:, 0]])
                except QhullError:  # all centres on one line
                    order = np.lexsort((pts[:, 1], pts[:, 0]))
                    a, b = order[:-1], order[1:]
                a, b = rows[a].astype(np.int64), rows[b].astype(np.int64)
            both = mask[self.touch_a] & mask[self.touch_b]
            self._neighbours[key] = (np.concatenate([a, self.touch_a[both]]),
                                     np.concatenate([b, self.touch_b[both]]))
        return self._neighbours[key]


def cell_layout(cells: gpd.GeoDataFrame) -> CellLayout:
    """Centres, touching pairs and coverage check of cell polygons (see :class:`CellLayout`)."""
    geoms = cells.geometry.to_numpy()
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    xy = np.full((len(geoms), 2), np.nan)
    xy[usable] = shapely.get_coordinates(shapely.centroid(geoms[usable]))
    rows = np.flatnonzero(usable)
    grid = grid_touching(geoms[rows])
    if grid is not None:  # squares of one grid: a valid coverage, touching = 8 neighbours
        touch_a, touch_b = grid
        return CellLayout(xy, rows[touch_a], rows[touch_b], True)
    touch_a, touch_b = shapely.STRtree(geoms[rows]).query(geoms[rows], predicate="intersects")
    other = touch_a != touch_b
    coverage = bool(shapely.coverage_is_valid(geoms[usable])) if len(rows) else True
    return CellLayout(xy, rows[touch_a[other]].astype(np.int64),
                      rows[touch_b[other]].astype(np.int64), coverage)


def grid_touching(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Touching pairs of cells that are the squares of one grid, without a spatial query.

    The cells qualify when every one is a four-corner square of one side ``s`` whose corners
    lie on a lattice of spacing ``s`` (to 1e-6 · s: cells projected from geographic
    coordinates carry rounding noise), no two on one square, and the corners two cells share
    are the same numbers bit for bit. Such cells form a valid coverage (no overlaps, edges
    matching exactly), and two of them touch — at an edge or a corner — exactly when their
    squares are among each other's 8 neighbours.

    Parameters
    ----------
    geoms : ndarray of shapely geometries, shape (n,)

    Returns
    -------
    (touch_a, touch_b) or None
        Positions in ``geoms`` of the touching pairs, both orders, int64 (the pairs
        ``shapely.STRtree(geoms).query(geoms, predicate="intersects")`` finds between two
        different cells); None when the cells are not such a grid.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = np.array([box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 1, 3, 2)])
    >>> a, b = grid_touching(cells)
    >>> sorted(zip(a.tolist(), b.tolist()))
    [(0, 1), (1, 0), (1, 2), (2, 1)]
    >>> grid_touching(np.array([box(0, 0, 1, 1), box(0.5, 0, 1.5, 1)])) is None
    True
    """
    n = len(geoms)
    if n < 2 or not (shapely.get_type_id(geoms) == 3).all() or \
            (shapely.get_num_interior_rings(geoms) != 0).any() or \
            (shapely.get_num_coordinates(geoms) != 5).any():
        return None
    ring = shapely.get_coordinates(geoms).reshape(n, 5, 2)
    corners = ring[:, :4]
    if not (ring[:, 0] == ring[:, 4]).all():
        return None
    low = corners.min(axis=1)
    side = float(np.median(corners.max(axis=1)[:, 0] - low[:, 0]))
    if not side > 0 or (np.abs(corners.max(axis=1) - low - side) > 1e-6 * side).any():
        return None
    origin = low.min(axis=0)
    lattice = np.rint((corners - origin) / side)
    if (np.abs(corners - origin - lattice * side) > 1e-6 * side).any():
        return None
    lattice = lattice.astype(np.int64)
    square = lattice.min(axis=1)  # the lattice point at each cell's lower left
    offset = lattice - square[:, None, :]
    if not (np.sort(offset[:, :, 0] * 2 + offset[:, :, 1], axis=1) == np.arange(4)).all():
        return None  # not the four corners of one lattice square
    width = int(lattice[:, :, 1].max()) + 2
    key = square[:, 0] * width + square[:, 1]
    order = np.argsort(key, kind="stable")
    keys = key[order]
    if (np.diff(keys) == 0).any():
        return None  # two cells on one square
    point = (lattice[:, :, 0] * width + lattice[:, :, 1]).ravel()
    xy = corners.reshape(-1, 2)[np.argsort(point, kind="stable")]
    same = np.diff(np.sort(point)) == 0
    if not (xy[1:][same] == xy[:-1][same]).all():
        return None  # a shared corner differs in its last bits: not a coverage for GEOS
    touch_a, touch_b = [], []
    for di, dj in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        target = key + di * width + dj
        pos = np.minimum(np.searchsorted(keys, target), n - 1)
        hit = keys[pos] == target
        touch_a.append(np.flatnonzero(hit))
        touch_b.append(order[pos[hit]])
    return (np.concatenate(touch_a).astype(np.int64),
            np.concatenate(touch_b).astype(np.int64))


def proposed_catchments(
    result: Any,
    *,
    levels: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Proposed catchments of a scenario run, per level × method.

    Parameters
    ----------
    result : schoolmap.scenario.ScenarioResult
        A run: its ``cells`` carry ``demand_<level>`` and ``school_<level>_<method>`` (main
        school id); its ``allocations`` give the flows for ``students_changing`` (without them,
        main schools are compared). ``students_changing`` is NaN when the run has no
        ``catchment`` method.
    levels, methods : sequence of str, optional
        Default: the scenario's.

    Returns
    -------
    GeoDataFrame
        Columns :data:`COLUMNS` (``students``: resident students of the level in the zone's
        cells; see :func:`dissolve_by_school` for the others), then the geometry in the
        planning CRS; rows by level, method and school id.

    Examples
    --------
    In tiny town the nearest school takes cell C5 (6 pupils) from P1 to P2; the optimal
    allocation also sends 90 of cell C2's 300 pupils to P2, since P1 has 270 seats. Cells lie in
    a row, so no zone is in two pieces, but P2's nearest-school zone has two polygons (C5 does not
    touch C3):

    >>> from schoolmap.scenario import Scenario, run_scenario
    >>> from schoolmap.testing import tiny_town
    >>> town = tiny_town()
    >>> sc = Scenario(name="t", district=town.source, base_year=2026, levels=("primary",),
    ...               methods=("catchment", "nearest", "optimal"), horizon=0)
    >>> z = proposed_catchments(run_scenario(sc, town), methods=["nearest", "optimal"])
    >>> z[["method", "school_id", "students", "students_changing", "n_pieces", "n_parts"]
    ...   ].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['nearest', 'P1', 360.0, 0.0, 1, 1], ['nearest', 'P2', 36.0, 6.0, 1, 2],
     ['optimal', 'P1', 360.0, 90.0, 1, 1], ['optimal', 'P2', 36.0, 6.0, 1, 2]]
    """
    sc = result.scenario
    cells = result.cells
    levels = list(levels) if levels is not None else list(sc.levels)
    methods = list(methods) if methods is not None else list(sc.methods)
    problems = [f"result.cells lacks column {col!r} (level {lv!r}, method {me!r} not run?)"
                for lv in levels for me in methods
                for col in (f"demand_{lv}", f"school_{lv}_{me}") if col not in cells.columns]
    ValidationError.raise_if(sorted(set(problems)), "proposed_catchments")
    schools = result.schools
    layout = cell_layout(cells)
    frames = []
    for level in levels:
        students = pd.to_numeric(cells[f"demand_{level}"]).to_numpy(dtype=np.float64)
        rows = schools[schools["level"] == level] if len(schools) else schools
        names = dict(zip(rows["school_id"], rows["name"], strict=True)) \
            if "name" in rows.columns else {}
        for method in methods:
            changing = _changing(result, level, method)
            zones = dissolve_by_school(cells, cells[f"school_{level}_{method}"].to_numpy(),
                                       students, changing, layout=layout)
            zones.insert(0, "level", level)
            zones.insert(1, "method", method)
            zones.insert(3, "name", [names.get(s) for s in zones["school_id"]])
            frames.append(zones)
    if not frames or not sum(len(f) for f in frames):
        return gpd.GeoDataFrame({c: [] for c in COLUMNS}, geometry=gpd.GeoSeries([],
                                                                                  crs=cells.crs))
    out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=cells.crs)


def _changing(result: Any, level: str, method: str) -> np.ndarray | None:
    """Students of each cell changing school vs the official catchments (None: unknown)."""
    allocations = getattr(result, "allocations", None) or {}
    mine, official = allocations.get((level, method)), allocations.get((level, "catchment"))
    if mine is not None and official is not None:
        return students_changing_by_cell(mine, official)
    column = f"school_{level}_catchment"
    if column not in result.cells.columns:
        return None
    cells = result.cells
    now, before = cells[f"school_{level}_{method}"], cells[column]
    differs = (now.notna() & before.notna() & (now != before)).to_numpy()
    return np.where(differs, pd.to_numeric(cells[f"demand_{level}"]).to_numpy(float), 0.0)


def changing_summary(zones: gpd.GeoDataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """Figures for ``summary.json``: per level and method, zones, zones in several pieces and
    students changing school (None when unknown)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (level, method), z in zones.groupby(["level", "method"], sort=False):
        changing = z["students_changing"]
        out.setdefault(str(level), {})[str(method)] = {
            "n_zones": len(z),
            "n_zones_several_pieces": int((z["n_pieces"] > 1).sum()),
            "students_changing": None if changing.isna().all() else float(changing.sum()),
            "students": float(z["students"].sum()),
        }
    return out
