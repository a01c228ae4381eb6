"""Assignment lines along the roads (issue 14): the drawn route is the road path the allocation
measured, offline and byte-for-byte the same every time."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely

from schoolmap.allocation.methods import allocate_nearest
from schoolmap.allocation.network import network_pair_costs, road_routes, school_routes
from schoolmap.io.roads import build_road_graph
from schoolmap.maps import add_assignment_lines, shortfall_map
from schoolmap.testing import X0, Y0

from .test_network import _river_town


def test_route_crosses_the_bridge_and_measures_the_road_distance():
    g = build_road_graph(_river_town(bridges=(500,)), "walk")
    cells = np.array([[400.0, 0.0], [300.0, 700.0], [700.0, 100.0]])
    school = np.array([650.0, 0.0])
    lines = road_routes(g, cells, school, simplify_m=0)
    rows, _, cost = network_pair_costs(g, cells, school[None, :])
    cost = cost[np.argsort(rows)]
    np.testing.assert_allclose(shapely.length(lines), cost, rtol=0, atol=1e-6)
    assert lines[0].intersects(shapely.Point(500, 500).buffer(1e-6))  # over the bridge
    simple = road_routes(g, cells, school)  # 2 m tolerance: the grid's corners only
    # home on the road at (400, 0), up to the bridge, over, down, along to the school
    assert shapely.get_coordinates(simple[0]).tolist() == [[400, 0], [400, 500], [600, 500],
                                                          [600, 0], [650, 0]]
    np.testing.assert_allclose(shapely.length(simple), cost, atol=1e-6)
    assert [x.wkb for x in simple] == [x.wkb for x in road_routes(g, cells, school)]


def test_off_network_points_are_drawn_straight():
    g = build_road_graph(_river_town(), "walk")
    lines = road_routes(g, np.array([[300.0, 5000.0]]), [300.0, 0.0], max_connector_m=300)
    assert shapely.get_coordinates(lines[0]).tolist() == [[300.0, 5000.0], [300.0, 0.0]]
    two = build_road_graph(_river_town(bridges=()), "walk")  # no bridge: no road route
    lines = road_routes(two, np.array([[100.0, 100.0]]), [900.0, 100.0])
    assert len(shapely.get_coordinates(lines[0])) == 2


def _geojson_lines(m: folium.Map) -> list[list]:
    out = []
    for child in m._children.values():
        for sub in getattr(child, "_children", {}).values():
            if isinstance(sub, folium.GeoJson):
                out += [f["geometry"]["coordinates"] for f in sub.data["features"]]
    return out


def test_map_lines_follow_the_roads(town):
    """Tiny town with one street along y = 50 and a lane up to each school: the lines to P2
    turn at the lane's foot instead of cutting across."""
    roads = gpd.GeoDataFrame(geometry=[
        shapely.LineString([(X0, Y0 + 50), (X0 + 1200, Y0 + 50)]),
        shapely.LineString([(X0 + 100, Y0 + 50), (X0 + 100, Y0 + 150)]),
        shapely.LineString([(X0 + 1100, Y0 + 50), (X0 + 1100, Y0 + 150)])], crs=town.crs)
    g = build_road_graph(roads, "walk")
    p = town.schools[town.schools["level"] == "primary"].reset_index(drop=True)
    sxy = np.column_stack([p.geometry.x, p.geometry.y])
    cxy = np.column_stack([town.cells.geometry.centroid.x, town.cells.geometry.centroid.y])
    alloc = allocate_nearest(cxy, np.array([60.0, 300.0, 30.0, 0.0, 6.0]), sxy, level="primary")
    rep = shapely.get_coordinates(town.cells.geometry.representative_point().to_numpy())
    drawn = []
    for _ in range(2):
        m = shortfall_map(p, tiles=None)
        routes = school_routes(g, alloc, rep, sxy, 1)
        assert add_assignment_lines(m, alloc, p, town.cells, "P2", routes=routes) == 2  # C3, C5
        drawn.append(_geojson_lines(m))
    assert drawn[0] == drawn[1]
    # C3: cell → the lane's foot (1100, 50) → P2; C5 is 450 m from the street's nearest node,
    # beyond max_connector_m (300 m): straight, as the road allocation would measure it
    assert sorted(len(c) for c in drawn[0]) == [2, 3]
    m = shortfall_map(p, tiles=None)
    add_assignment_lines(m, alloc, p, town.cells, "P2",
                         routes=school_routes(g, alloc, rep, sxy, 1, max_connector_m=500))
    assert sorted(len(c) for c in _geojson_lines(m)) == [3, 3]
    m = shortfall_map(p, tiles=None)
    add_assignment_lines(m, alloc, p, town.cells, "P2")
    assert sorted(len(c) for c in _geojson_lines(m)) == [2, 2]  # without routes: straight
    with pytest.raises(ValueError, match="routes has 1 lines, school 'P2' 2 flows"):
        add_assignment_lines(m, alloc, p, town.cells, "P2", routes=routes[:1])
