"""Catchment design for a district: :func:`design_catchments`, the district door of
:func:`schoolmap.allocation.design.design_zones`.

It builds what the array door needs from a district's level:

- **adjacency** (:func:`cell_adjacency`): cells sharing an edge (``rook``, the default) or also a
  corner (``queen``), weighted by the shared boundary in metres (the compactness penalty counts
  it); cells separated only by land without cells (fields, water, gaps in a population grid)
  are neighbours when their nearest-cell territories touch (an edge of the Delaunay
  triangulation of cell centres between two otherwise unconnected groups of cells), so a zone
  may reach across empty land but never through another zone's cells;
- **costs**: straight lines from each cell's point to the schools, or road distances
  (``roads``: a :class:`schoolmap.io.roads.RoadGraph`, via
  :func:`schoolmap.allocation.network.network_pair_costs`; cells off the network travel by
  straight line);
- **students** per cell (:func:`schoolmap.demand.demand_by_cell_grade`), the schools open in
  ``year`` with their seats and the cell each stands in (a school just outside every cell — on
  a road, in a park — stands in the nearest cell within 1 km), and the **official zones** (the
  ``catchment`` allocation's school for each cell).

The result, :class:`CatchmentDesign`, holds a row per designed zone with its polygon (the
zone's cells dissolved) and the official zones' figures for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError

from schoolmap.allocation.design import DEFAULT_MOVE_WEIGHT_M, ZoneDesign, design_zones
from schoolmap.allocation.dispatch import allocate, school_points
from schoolmap.demand import demand_by_cell_grade, level_schools
from schoolmap.errors import ValidationError
from schoolmap.io.district import District
from schoolmap.io.zones import zone_of_points
from schoolmap.norms import Norms, default_norms

__all__ = ["ZONE_COLUMNS", "CatchmentDesign", "ZoneDesign", "barrier_lines", "cell_adjacency",
           "design_catchments", "design_zones", "school_groups"]

#: Columns of :attr:`CatchmentDesign.zones` (then ``geometry``).
ZONE_COLUMNS = ("level", "zone", "school_id", "name", "students", "seats", "utilisation",
                "pieces", "students_moved", "mean_trip_m", "share_beyond_radius", "n_cells",
                "area_km2")


def cell_adjacency(cells: gpd.GeoDataFrame, contiguity: str = "rook",
                   barriers: tuple[np.ndarray, np.ndarray] | None = None) -> sp.csr_matrix:
    """Which cells are neighbours, weighted by their shared boundary (metres).

    Parameters
    ----------
    cells : GeoDataFrame
        Cell polygons in a metric CRS.
    contiguity : {"rook", "queen"}
        ``rook``: cells sharing an edge; ``queen``: a corner is enough (weight 1e-6 m). Groups of
        cells that touch no other group are joined where their nearest-cell territories touch
        (Delaunay edges of the cell centres; weight 1e-6 m).
    barriers : (lines, crossings), optional
        Barrier lines (rivers, railways, expressways) and the points where roads cross them
        (:func:`barrier_lines`): two cells whose centres a barrier separates are neighbours
        only where a crossing lies in one of them — a zone reaches across a river only at a
        bridge. A pocket cut off with no crossing at all stays joined across its barriers.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_cells, n_cells)
        Symmetric; the stored value is the shared boundary in metres.

    Examples
    --------
    Two touching squares and one 200 m away: the far one is joined across the gap.

    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> cells = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100),
    ...                                    box(400, 0, 500, 100)], crs="EPSG:32651")
    >>> cell_adjacency(cells).toarray().round(6).tolist()
    [[0.0, 100.0, 0.0], [100.0, 0.0, 1e-06], [0.0, 1e-06, 0.0]]
    """
    if contiguity not in ("rook", "queen"):
        raise ValidationError([f"contiguity must be 'rook' or 'queen', got {contiguity!r}"],
                              "cell_adjacency")
    geoms = cells.geometry.to_numpy()
    n = len(geoms)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.length(shapely.intersection(geoms[a], geoms[b]))
    use = shared > 1e-6 if contiguity == "rook" else np.ones(len(a), dtype=bool)
    a, b, w = a[use], b[use], np.maximum(shared[use], 1e-6)
    m = sp.coo_matrix((w, (a, b)), shape=(n, n)).tocsr()
    n_groups, group = connected_components(m, directed=False)
    if n_groups > 1 and n > 2:
        xy = shapely.get_coordinates(shapely.point_on_surface(geoms))
        try:
            s = Delaunay(xy - xy.min(axis=0)).simplices
            da = np.concatenate([s[:, 0], s[:, 1], s[:, 2]])
            db = np.concatenate([s[:, 1], s[:, 2], s[:, 0]])
        except QhullError:  # all centres on one line
            order = np.lexsort((xy[:, 1], xy[:, 0]))
            da, db = order[:-1], order[1:]
        across = group[da] != group[db]
        bridge = sp.coo_matrix((np.full(int(across.sum()), 1e-6),
                                (da[across], db[across])), shape=(n, n)).tocsr()
        bridge.data[:] = 1e-6
        m = m + bridge
    if barriers is not None and len(barriers[0]):
        m = _cut_barriers(sp.triu(m + m.T, k=1).tocoo(), geoms, barriers)
    m = (m + m.T).tocsr()
    m.sort_indices()
    return m


def _cut_barriers(m: sp.coo_matrix, geoms: np.ndarray,
                  barriers: tuple[np.ndarray, np.ndarray]) -> sp.coo_matrix:
    """Drop the neighbour pairs a barrier line separates, unless a crossing lies in either
    cell (upper-triangle pairs in, the same out)."""
    lines, crossings = barriers
    xy = shapely.point_on_surface(geoms)
    segments = shapely.linestrings(np.stack([shapely.get_coordinates(xy[m.row]),
                                             shapely.get_coordinates(xy[m.col])], axis=1))
    hit = np.unique(shapely.STRtree(lines).query(segments, predicate="intersects")[0])
    keep = np.ones(len(m.row), dtype=bool)
    keep[hit] = False
    if len(crossings) and len(hit):
        tree = shapely.STRtree(crossings)
        near = np.zeros(len(geoms), dtype=bool)
        near[np.unique(tree.query(geoms, predicate="intersects")[0])] = True
        keep[hit] = near[m.row[hit]] | near[m.col[hit]]
    # a pocket the barriers cut off with no crossing at all keeps its pairs across them (no
    # road leads out of it: its travel is the straight line too)
    kept = sp.coo_matrix((m.data[keep], (m.row[keep], m.col[keep])), shape=m.shape)
    _, part = connected_components(kept, directed=False)
    keep |= part[m.row] != part[m.col]
    return sp.coo_matrix((m.data[keep], (m.row[keep], m.col[keep])), shape=m.shape)


def barrier_lines(roads: gpd.GeoDataFrame | None,
                  crs: Any = None) -> tuple[np.ndarray, np.ndarray] | None:
    """A roads layer's barrier lines (``barrier`` set: a river, a railway, an expressway) and
    the points where its other lines cross them, for :func:`cell_adjacency`; None when the
    layer has no barrier.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> roads = gpd.GeoDataFrame({"barrier": ["river", "no"]}, geometry=[
    ...     LineString([(200, -10), (200, 210)]), LineString([(0, 50), (400, 50)])])
    >>> lines, crossings = barrier_lines(roads)
    >>> len(lines), [p.wkt for p in crossings]
    (1, ['POINT (200 50)'])
    """
    if roads is None or "barrier" not in roads.columns or len(roads) == 0:
        return None
    if crs is not None and roads.crs is not None and roads.crs != crs:
        roads = roads.to_crs(crs)
    from schoolmap.io.roads import FALSE_WORDS

    text = roads["barrier"].astype(str).str.strip().str.lower()
    is_barrier = ~text.isin(FALSE_WORDS).to_numpy()
    geoms = roads.geometry.to_numpy()
    lines, other = geoms[is_barrier], geoms[~is_barrier]
    if not len(lines):
        return None
    a, b = shapely.STRtree(other).query(lines, predicate="intersects")
    points = shapely.get_parts(shapely.intersection(lines[a], other[b]))
    points = shapely.get_parts(shapely.extract_unique_points(points)) if len(points) else points
    return lines, np.asarray(points[shapely.get_type_id(points) == 0] if len(points) else points)


@dataclass(frozen=True)
class CatchmentDesign:
    """A district level's designed catchments, with the official zones to compare.

    Attributes
    ----------
    level : str
    year : int or None
    zones : GeoDataFrame
        One row per designed zone, columns :data:`ZONE_COLUMNS`: ``school_id`` (several joined
        by ``;`` for schools sharing a cell), ``students`` (resident students of the level),
        ``seats``, ``utilisation`` (students / seats), ``pieces`` (connected parts; 1),
        ``students_moved`` (students of the zone whose official zone is another school's),
        ``mean_trip_m`` (student-weighted trip to the school, metres: straight line or road),
        ``share_beyond_radius`` (share of the zone's students living farther than the level's
        service radius), ``n_cells``, ``area_km2``; the zone's polygon (cells dissolved).
    zone_by_cell : pandas.Series
        Designed school id(s) of each cell (None: unzoned), on the cells' index.
    official : dict
        The official zones' figures: ``zones_over_capacity`` (zones whose resident students
        exceed ``max_utilisation`` × seats), ``mean_trip_m``, ``students``.
    dissolved_optimum_moved : float
        Students who would change school if the optimal allocation were dissolved by main
        school (each cell whole to its main school) — what today's proposed catchments move.
    design : ZoneDesign
        The array-level result (bounds, gaps, problems, notes).
    settings : dict
        The design's settings (max/min utilisation, weights, contiguity, travel).
    changed_by_cell : ndarray of shape (n_cells,), bool
        Cells whose designed zone is not their official school's (cells without an official
        zone, or unzoned, are not changed): the areas that change school.
    adjacency : scipy.sparse.csr_matrix or None
        The cell adjacency used (hand it to the next level's design to build it once).
    """

    level: str
    year: int | None
    zones: gpd.GeoDataFrame
    zone_by_cell: pd.Series
    official: dict[str, Any]
    dissolved_optimum_moved: float
    design: ZoneDesign
    settings: dict[str, Any] = field(default_factory=dict)
    changed_by_cell: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    adjacency: sp.csr_matrix | None = None

    def summary(self) -> dict[str, Any]:
        """Figures for ``summary.json``: designed vs official, bounds and gaps."""
        z, d = self.zones, self.design
        students = float(z["students"].sum())
        trip = float((z["mean_trip_m"] * z["students"]).sum() / students) if students else 0.0
        over = int((z["students"] > self.settings["max_utilisation"] * z["seats"] + 1e-9).sum())
        return {
            "level": self.level, "year": self.year, "method": d.method,
            "n_zones": len(z), "zones_several_pieces": int((z["pieces"] > 1).sum()),
            "zones_over_capacity": over, "students": students,
            "students_moved": d.moved, "students_unzoned": d.unzoned, "mean_trip_m": trip,
            "travel_student_m": d.travel, "travel_bound_student_m": d.travel_bound,
            "travel_gap": d.travel_gap, "bound": d.bound, "gap": d.gap,
            "students_moved_bound": d.moved_bound,
            "peak_max_utilisation": (None if d.peak_students_by_zone is None else float(
                np.max(d.peak_students_by_zone / np.maximum(d.seats_by_zone, 1e-12),
                       initial=0.0))),
            "travel_bound_at_moved_student_m": d.travel_bound_at_moved,
            "official": self.official,
            "dissolved_optimum_students_moved": self.dissolved_optimum_moved,
            "problems": [str(p) for p in d.problems], "notes": list(d.notes),
            "seconds": d.seconds, **{f"setting_{k}": v for k, v in self.settings.items()},
        }


def design_catchments(
    district: District,
    level: str,
    year: int | None = None,
    *,
    max_utilisation: float = 1.0,
    min_utilisation: float | None = None,
    move_weight: float = DEFAULT_MOVE_WEIGHT_M,
    compactness_weight: float = 0.0,
    contiguity: str = "rook",
    norms: Norms | None = None,
    demand_by_cell: np.ndarray | None = None,
    roads: Any = None,
    community_column: str | None = "community_id",
    method: str = "auto",
    seed: int = 0,
    adjacency: sp.csr_matrix | None = None,
    barriers: tuple[np.ndarray, np.ndarray] | None = None,
    multi_school: bool = True,
    **options: Any,
) -> CatchmentDesign:
    """Design a level's catchments: contiguous zones within seats, short trips, few moves.

    Parameters
    ----------
    district : District
    level : str
        ``primary``, ``junior``, … (a level with schools; official zones optional).
    year : int, optional
        School year: which schools are open (default: all).
    max_utilisation, min_utilisation, move_weight, compactness_weight :
        See :func:`schoolmap.allocation.design.design_zones` (``move_weight`` in metres per
        student moved; ``compactness_weight`` in student-metres per metre of zone boundary).
    contiguity : {"rook", "queen"}
        See :func:`cell_adjacency`.
    norms : Norms, optional
        Default: the national norms (service radius, demand rates).
    demand_by_cell : ndarray of shape (n_cells,), optional
        Students per cell (e.g. a forecast year's); default: the district's cells now.
    roads : RoadGraph, optional
        Road distances instead of straight lines.
    community_column : str, optional
        Cells column naming each cell's community (小区, kept whole) when present.
    method, seed, **options :
        Passed to :func:`~schoolmap.allocation.design.design_zones`.
    adjacency : scipy.sparse matrix, optional
        :func:`cell_adjacency` of the cells, when already built.
    barriers : (lines, crossings), optional
        :func:`barrier_lines` of the district's roads: zones cross a barrier only at a road
        crossing (used when the adjacency is built here).
    multi_school : bool
        True: the schools an official zone names together (``school_id`` ``"P03;P04"``, a
        多校划片 zone) are designed as one zone, their seats together, every school's cell
        in it, students split between them by seats. False: every school its own zone (a
        cell of a 多校划片 zone counts as moved unless it stays with its main school).
        Schools sharing a cell are one zone either way (cells are whole).

    Returns
    -------
    CatchmentDesign
    """
    norms = norms or default_norms()
    schools = level_schools(district, norms, level, 9999 if year is None else year)
    if len(schools) == 0:
        raise ValidationError([f"no {level} school is open in {year}: nothing to design"],
                              "design_catchments")
    cells = district.cells
    if demand_by_cell is None:
        demand_by_cell = demand_by_cell_grade(cells, norms, level).sum(axis=1)
    students = np.asarray(demand_by_cell, dtype=np.float64)
    cell_xy = district.cell_xy
    sxy = school_points(schools)
    school_cell = _school_cells(sxy, cells)
    seats = schools["seats"].to_numpy(dtype=np.float64)
    official = allocate(district, level, "catchment", year=year, norms=norms, schools=schools,
                        demand_by_cell=students)
    official_school = official.main_school_by_cell()
    # every cell's official school, empty cells too (the zone its point lies in): the zones
    # families know are whole areas, and empty land between a zone's homes belongs to it — so
    # a design keeping the official zones keeps them in one piece
    covering = allocate(district, level, "catchment", year=year, norms=norms, schools=schools,
                        demand_by_cell=np.ones(len(students))).main_school_by_cell()
    covering = np.where(official_school >= 0, official_school, covering)
    adj = (adjacency if adjacency is not None
           else cell_adjacency(cells, contiguity, barriers=barriers))
    costs = None if roads is None else _road_costs(roads, cell_xy, sxy)
    community = (cells[community_column].to_numpy(dtype=object)
                 if community_column and community_column in cells.columns else None)
    ids = schools["school_id"].astype(str).tolist()
    group = school_groups(district, level, ids) if multi_school else None
    d = design_zones(adj, costs, students, seats, school_cell, covering, school_group=group,
                     max_utilisation=max_utilisation, min_utilisation=min_utilisation,
                     move_weight=move_weight, compactness_weight=compactness_weight,
                     community_by_cell=community, method=method, seed=seed, cell_xy=cell_xy,
                     school_xy=sxy, cell_ids=cells["cell_id"].astype(str).tolist(),
                     school_ids=ids, **options)
    radius = norms.level(level).service_radius_m
    trip = _trip_by_cell(d, costs, cell_xy, sxy, seats)
    zones = _zone_rows(cells, d, schools, students, trip, radius, level)
    zone_ids = np.array([";".join(ids[j] for j in g) for g in d.zone_schools] + [None],
                        dtype=object)
    by_cell = pd.Series(zone_ids[d.zone_by_cell], index=cells.index, name=f"zone_{level}")
    # official zones and the dissolved optimum, for comparison
    zone_of = np.full(len(seats) + 1, -1, dtype=np.int64)
    for z, g in enumerate(d.zone_schools):
        zone_of[list(g)] = z
    # official loads by the design's zones (a 多校划片 group's schools together)
    o_zone = np.where(official_school >= 0, zone_of[official_school], -1)
    o_load = np.bincount(o_zone[o_zone >= 0], weights=students[o_zone >= 0],
                         minlength=len(d.zone_schools))
    o_trip = official.distance_by_cell() if roads is None else trip * np.nan
    has = (official_school >= 0) & (students > 0)
    opt = allocate(district, level, "optimal", year=year, norms=norms, schools=schools,
                   demand_by_cell=students).main_school_by_cell()
    changed = (opt >= 0) & (official_school >= 0) & (zone_of[opt] != zone_of[official_school])
    moved = ((d.zone_by_cell >= 0) & (official_school >= 0) & (students > 0)
             & (zone_of[official_school] != d.zone_by_cell))
    return CatchmentDesign(
        level=level, year=year, zones=zones, zone_by_cell=by_cell,
        official={"zones_over_capacity": int((o_load > max_utilisation * d.seats_by_zone
                                              + 1e-9).sum()),
                  "n_zones": int((o_load > 0).sum()),
                  "mean_trip_m": float(np.nansum(o_trip[has] * students[has])
                                       / max(students[has].sum(), 1e-12)),
                  "students": float(students[has].sum())},
        dissolved_optimum_moved=float(students[changed].sum()), design=d,
        settings={"max_utilisation": max_utilisation, "min_utilisation": min_utilisation,
                  "move_weight": move_weight, "compactness_weight": compactness_weight,
                  "contiguity": contiguity, "travel": "road" if roads is not None else
                  "straight line", "multi_school": multi_school},
        changed_by_cell=moved, adjacency=adj)


#: A school whose point lies in no cell stands in the nearest cell if it is this close (m).
NEAREST_CELL_M = 1000.0


def _school_cells(sxy: np.ndarray, cells: gpd.GeoDataFrame) -> np.ndarray:
    """Cell holding each school; a school just outside every cell (on a road, in a park)
    takes the nearest cell within :data:`NEAREST_CELL_M`; farther away: −1 (outside)."""
    out = zone_of_points(sxy, cells)
    miss = np.flatnonzero(out < 0)
    if len(miss):
        tree = shapely.STRtree(cells.geometry.to_numpy())
        pts, hit = tree.query_nearest(shapely.points(sxy[miss]), max_distance=NEAREST_CELL_M,
                                      all_matches=False)
        out[miss[pts]] = hit
    return out


def _road_costs(roads: Any, cell_xy: np.ndarray, sxy: np.ndarray) -> sp.csr_matrix:
    from schoolmap.allocation.network import network_pair_costs

    cell, school, cost = network_pair_costs(roads, cell_xy, sxy)
    n, m = len(cell_xy), len(sxy)
    off = np.setdiff1d(np.arange(n), cell)  # off the network: straight lines
    rows = np.concatenate([cell, np.repeat(off, m)])
    cols = np.concatenate([school, np.tile(np.arange(m), len(off))])
    extra = np.hypot(*(cell_xy[np.repeat(off, m)] - sxy[np.tile(np.arange(m), len(off))]).T)
    return sp.csr_matrix((np.concatenate([cost, extra]), (rows, cols)), shape=(n, m))


def _trip_by_cell(d: ZoneDesign, costs, cell_xy, sxy, seats) -> np.ndarray:
    """Trip (metres) of each cell to its zone's schools (the seat-weighted mean over a
    多校划片 zone's schools the cell reaches, as the design counts it); NaN unzoned."""
    trip = np.full(len(d.zone_by_cell), np.nan)
    c = None if costs is None else sp.csr_matrix(costs)
    for z, g in enumerate(d.zone_schools):
        cells = np.flatnonzero(d.zone_by_cell == z)
        if not len(cells):
            continue
        total = np.zeros(len(cells))
        weight = np.zeros(len(cells))
        for j in g:
            w = seats[j] / seats[list(g)].sum() if seats[list(g)].sum() > 0 else 1.0 / len(g)
            if c is None:
                t = np.hypot(*(cell_xy[cells] - sxy[j]).T)
                has = np.ones(len(cells), dtype=bool)
            else:
                col = c[cells, j]
                t = np.asarray(col.todense()).ravel()
                has = np.zeros(len(cells), dtype=bool)
                has[col.tocoo().row] = True
            total += np.where(has, w * t, 0.0)
            weight += np.where(has, w, 0.0)
        trip[cells] = np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)
    return trip


def school_groups(district: District, level: str, school_ids: list[str]) -> np.ndarray:
    """多校划片 groups of a level's schools from its official zones: the schools an official
    zone names together (``school_id`` ``"P03;P04"``) share a group number; −1 for a school
    no such zone names. Shape (n_schools,), int64.

    Examples
    --------
    >>> from schoolmap.testing import tiny_town
    >>> town = tiny_town()
    >>> school_groups(town, "primary", ["P1", "P2"]).tolist()
    [-1, -1]
    """
    from schoolmap.allocation.dispatch import level_zones

    zones = level_zones(district, level)
    row = {sid: j for j, sid in enumerate(school_ids)}
    group = np.full(len(school_ids), -1, dtype=np.int64)
    if "school_id" not in zones.columns:
        return group
    for text in zones["school_id"].dropna().astype(str):
        members = [row[t.strip()] for t in text.split(";") if t.strip() in row]
        if len(members) > 1:
            old = sorted({int(group[j]) for j in members if group[j] >= 0})
            g = old[0] if old else int(group.max()) + 1
            group[members] = g
            for o in old[1:]:
                group[group == o] = g
    return group


def _zone_rows(cells, d: ZoneDesign, schools, students, trip, radius, level):
    geoms = cells.geometry.to_numpy()
    ids = schools["school_id"].astype(str).tolist()
    names = schools["name"].astype(str).tolist() if "name" in schools.columns else ids
    rows = []
    for z, g in enumerate(d.zone_schools):
        members = np.flatnonzero(d.zone_by_cell == z)
        s = students[members]
        total = float(s.sum())
        shape = shapely.coverage_union_all(geoms[members]) if len(members) else None
        if shape is not None and not shape.is_valid:
            shape = shapely.union_all(geoms[members])
        rows.append({
            "level": level, "zone": z, "school_id": ";".join(ids[j] for j in g),
            "name": ";".join(names[j] for j in g), "students": total,
            "seats": float(d.seats_by_zone[z]),
            "utilisation": total / d.seats_by_zone[z] if d.seats_by_zone[z] > 0 else np.nan,
            "pieces": int(d.pieces_by_zone[z]), "students_moved": float(d.moved_by_zone[z]),
            "mean_trip_m": float((trip[members] * s).sum() / total) if total else np.nan,
            "share_beyond_radius": float(s[trip[members] > radius].sum() / total)
            if total else 0.0,
            "n_cells": len(members),
            "area_km2": round(float(shape.area) / 1e6, 6) if shape is not None else 0.0,
            "geometry": shape,
        })
    return gpd.GeoDataFrame(rows, columns=[*ZONE_COLUMNS, "geometry"], geometry="geometry",
                            crs=cells.crs)
