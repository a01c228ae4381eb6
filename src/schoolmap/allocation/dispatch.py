"""One door to the three allocation methods: :func:`allocate` turns a district's level into
arrays (students per cell, school points and seats, the level's zones) and calls
``catchment``, ``nearest`` or ``optimal`` (:mod:`schoolmap.allocation.methods`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np

from schoolmap.allocation.methods import (
    METHODS,
    Allocation,
    allocate_catchment,
    allocate_nearest,
    allocate_optimal,
)
from schoolmap.demand import demand_by_cell_grade, level_schools
from schoolmap.errors import ValidationError
from schoolmap.io.district import District
from schoolmap.io.roads import RoadGraph
from schoolmap.norms import Norms, default_norms

if TYPE_CHECKING:
    from schoolmap.allocation.network import Travel

__all__ = ["allocate", "district_xy", "level_zones", "school_points"]


def allocate(
    district: District,
    level: str,
    method: str = "catchment",
    *,
    year: int | None = None,
    norms: Norms | None = None,
    max_distance_m: float | None = None,
    schools: gpd.GeoDataFrame | None = None,
    demand_by_cell: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
    travel: Travel | None = None,
    graph: RoadGraph | None = None,
) -> Allocation:
    """Assign a district's students of one level to its schools.

    Parameters
    ----------
    district : District
    level : str
        ``kindergarten``, ``primary``, ``junior`` or ``senior``.
    method : {"catchment", "nearest", "optimal"}
        ``catchment``: the official zone's school(s) (nearest school where the level has no
        zones); ``nearest``: the closest school; both ignore seats, so shortfalls show.
        ``optimal``: least total travel with no school over its seats (exact, certified);
        students without a seat are unassigned.
    year : int, optional
        School year (schools open / closed); default: open schools regardless of year.
    norms : Norms, optional
        Default: the national norms.
    max_distance_m : float, optional
        ``optimal`` only: farthest allowed trip (metres).
    schools, demand_by_cell : optional
        The level's school table and students per cell, when already computed.
    progress : callable, optional
        Called with short messages during long (``optimal``) solves.
    travel : Travel, optional
        The scenario's ``[travel]``: with ``mode`` walk or drive, ``nearest`` and ``optimal``
        (and ``catchment`` where the level has no zones, i.e. nearest) run on road distances
        (:mod:`schoolmap.allocation.network`); default and ``euclidean``: straight lines.
    graph : RoadGraph, optional
        The road graph for ``travel.mode``, when already built (built from the district's
        ``roads`` layer otherwise).

    Returns
    -------
    Allocation
        Rows of ``Allocation.school`` index :func:`schoolmap.demand.level_schools`.
    """
    if method not in METHODS:
        raise ValidationError([f"method {method!r} unknown; use one of {', '.join(METHODS)}"],
                              "allocate")
    norms = norms or default_norms()
    if schools is None:
        schools = level_schools(district, norms, level, 9999 if year is None else year)
    if demand_by_cell is None:
        demand_by_cell = demand_by_cell_grade(district.cells, norms, level).sum(axis=1)
    cell_xy = district.cell_xy
    if travel is not None and travel.mode != "euclidean" and (
            method != "catchment" or len(level_zones(district, level)) == 0):
        return _allocate_by_road(district, level, method, schools, demand_by_cell, travel,
                                 graph, max_distance_m, progress)
    if method == "optimal":
        return allocate_optimal(cell_xy, demand_by_cell, school_points(schools),
                                schools["seats"].to_numpy(dtype=np.float64), level=level,
                                max_distance_m=max_distance_m, progress=progress)
    zones = level_zones(district, level)
    if method == "catchment" and len(zones) == 0:
        alloc = allocate_nearest(cell_xy, demand_by_cell, school_points(schools), level=level)
        return dataclasses.replace(alloc, method="catchment", notes=(
            *alloc.notes, f"no {level} zones in the district: catchment = nearest school "
            "(kindergartens are usually not zoned)"))
    if method == "catchment":
        return allocate_catchment(cell_xy, demand_by_cell, schools, zones, level=level)
    return allocate_nearest(cell_xy, demand_by_cell, school_points(schools), level=level)


def _allocate_by_road(district, level, method, schools, demand_by_cell, travel, graph,
                      max_distance_m, progress) -> Allocation:
    """``nearest`` / ``optimal`` (and zone-less ``catchment``) on the district's roads."""
    from schoolmap.allocation.network import allocate_nearest_network, allocate_optimal_network
    from schoolmap.allocation.travel import district_graph

    graph = graph if graph is not None else district_graph(district, travel)
    ids = schools["school_id"].astype(str).tolist()
    xy = school_points(schools)
    if method == "optimal":
        return allocate_optimal_network(
            graph, district.cell_xy, demand_by_cell, xy,
            schools["seats"].to_numpy(dtype=np.float64), level=level,
            max_distance_m=max_distance_m, max_connector_m=travel.max_connector_m,
            detour_max=travel.detour_max, school_ids=ids, progress=progress)
    alloc = allocate_nearest_network(graph, district.cell_xy, demand_by_cell, xy, level=level,
                                     max_connector_m=travel.max_connector_m, school_ids=ids)
    if method == "catchment":
        return dataclasses.replace(alloc, method="catchment", notes=(
            *alloc.notes, f"no {level} zones in the district: catchment = nearest school by "
            "road (kindergartens are usually not zoned)"))
    return alloc


def school_points(schools: gpd.GeoDataFrame) -> np.ndarray:
    """School points of a level table, ndarray of shape (n_schools, 2), metres."""
    if len(schools) == 0:
        return np.zeros((0, 2))
    return np.column_stack([schools.geometry.x.to_numpy(), schools.geometry.y.to_numpy()])


def level_zones(district: District, level: str) -> gpd.GeoDataFrame:
    """The district's official zones of one level (an empty table when it has none)."""
    z = district.zones
    if z is None:
        return gpd.GeoDataFrame({"zone_id": [], "school_id": []}, geometry=[], crs=district.crs)
    return z[z["level"] == level].reset_index(drop=True)


#: Former name of :func:`school_points`.
district_xy = school_points
