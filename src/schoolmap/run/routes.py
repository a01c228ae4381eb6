"""The road routes of the scenario map's assignment lines (``[map] assignment_lines`` with
``[travel] mode`` walk or drive): computed here, drawn by
:func:`schoolmap.present.maps.render_result_map` (``present/`` computes nothing)."""

from __future__ import annotations

from typing import Any

import numpy as np

from schoolmap.allocation.dispatch import level_zones, school_points
from schoolmap.allocation.network import school_routes
from schoolmap.allocation.travel import district_graph

__all__ = ["assignment_routes"]


def assignment_routes(result: Any) -> dict[tuple[str, str], np.ndarray]:
    """Road routes of the headline method's flows to each school of ``[map] assignment_lines``.

    Parameters
    ----------
    result : schoolmap.scenario.ScenarioResult

    Returns
    -------
    dict
        ``(level, school_id)`` → ndarray of shapely.LineString, one per flow to that school in
        the allocation's order (:func:`schoolmap.allocation.network.school_routes`), in the
        district's planning CRS, metres: cell → its road node → the shortest road path → the
        school, the route the allocation's distance measures. Empty when the run travels by
        straight line or asks for no lines; a level whose allocation was not measured by road
        (a zoned ``catchment``: the zones decide, the trips are straight lines) has none.
    """
    sc = result.scenario
    wanted = tuple(str(s) for s in getattr(sc, "assignment_lines", ()))
    if sc.travel.mode == "euclidean" or not wanted:
        return {}
    method = sc.methods[0]
    graph = district_graph(result.district, sc.travel)
    cell_xy = result.district.cell_points
    out: dict[tuple[str, str], np.ndarray] = {}
    for level in sc.levels:
        alloc = result.allocations.get((level, method))
        if alloc is None or (method == "catchment" and len(level_zones(result.district, level))):
            continue
        rows = result.schools[(result.schools["level"] == level)
                              & (result.schools["method"] == method)]
        ids = rows["school_id"].astype(str).to_numpy()
        sxy = school_points(rows)
        for school_id in wanted:
            found = np.flatnonzero(ids == school_id)
            if len(found):
                out[(level, school_id)] = school_routes(
                    graph, alloc, cell_xy, sxy, int(found[0]),
                    max_connector_m=sc.travel.max_connector_m)
    return out
