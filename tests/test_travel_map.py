"""The scenario map of a walk-mode run (issue 14): its assignment lines follow the roads — the
route the allocation measured, computed in ``run/`` (``run.routes.assignment_routes``) and
drawn by ``present/`` — read from ``map.html`` and in headless chromium (skipped without it)."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from schoolmap.present.maps.style import ASSIGNMENT_LINE_COLOUR
from schoolmap.run.outputs import write_results
from schoolmap.run.routes import assignment_routes
from schoolmap.run.scenario import run_scenario
from schoolmap.testing import CRS

from .test_browser import CHROMIUM, Browser
from .test_travel_run import _roads, _scenario

#: Every feature of a folium GeoJson layer: ``{"geometry": {..}, "properties": {"cell": ..}}``.
_FEATURE = re.compile(r'\{"geometry": \{"coordinates": (\[\[[^"]*?\]\]), "type": "LineString"\}'
                      r', "id": \d+, "properties": (\{[^}]*\}), "type": "Feature"\}')
#: Metres a vertex may lie off the roads in map.html (its lon/lat have 6 decimals: ~0.1 m).
ON_ROAD_M = 0.2


def _run(tmp_path, travel: str):
    sc = _scenario(tmp_path, f'{travel}[map]\ntiles = "none"\nassignment_lines = ["P1"]\n',
                   'horizon = 0\nlevels = ["primary"]\nmethods = ["nearest"]\n')
    result = run_scenario(sc)
    return result, write_results(result, tmp_path / "out")


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("walk"), '[travel]\nmode = "walk"\n')


def _lines(folder) -> list[tuple[np.ndarray, dict]]:
    """The assignment lines of ``map.html``: planning-CRS vertices (metres) and properties."""
    back = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    out = []
    for coords, props in _FEATURE.findall((folder / "map.html").read_text(encoding="utf-8")):
        lonlat = np.asarray(json.loads(coords), dtype=float)
        out.append((np.column_stack(back.transform(lonlat[:, 0], lonlat[:, 1])),
                    json.loads(props)))
    return out


def _on_roads(xy: np.ndarray) -> np.ndarray:
    """Distance (metres) of each point to the roads layer."""
    roads = shapely.union_all(_roads().geometry.to_numpy())
    return shapely.distance(shapely.points(xy), roads)


def test_walk_map_lines_follow_the_roads_the_allocation_measured(walk):
    result, folder = walk
    lines = _lines(folder)
    alloc = result.allocations[("primary", "nearest")]
    to_p1 = np.flatnonzero(alloc.school == 0)  # P1, the first primary school
    assert len(lines) == len(to_p1) == 3  # C1, C2 and C5 walk to P1
    for xy, props in lines:
        assert len(xy) > 2  # home → along the street → up the lane: not one straight segment
        # every vertex but the home's lies on a road (the first leg is the connector)
        assert _on_roads(xy[1:]).max() < ON_ROAD_M
        # the drawn route is as long as the distance the allocation measured (1 m: the
        # tooltip's rounding and the 2 m simplification of straight runs)
        k = to_p1[[result.cells["cell_id"].iloc[alloc.cell[f]] == props["cell"]
                   for f in to_p1].index(True)]
        assert abs(float(shapely.length(shapely.linestrings(xy))) - alloc.distance_m[k]) < 1.0
    # C5 (x 650): up to the street, 500 m west, up P1's lane — the road, not the field between
    c5 = next(xy for xy, p in lines if p["cell"] == "C5")
    assert len(c5) == 4 and np.allclose(c5[1:] - [500_000, 3_500_000],
                                        [[600, 100], [100, 100], [100, 150]], atol=ON_ROAD_M)


def test_routes_are_computed_in_run_and_the_same_every_time(walk, tmp_path):
    result, folder = walk
    routes = assignment_routes(result)
    assert list(routes) == [("primary", "P1")]
    assert [g.wkb for g in routes[("primary", "P1")]] == [
        g.wkb for g in assignment_routes(result)[("primary", "P1")]]
    again = write_results(result, tmp_path / "again")
    assert (again / "map.html").read_bytes() == (folder / "map.html").read_bytes()
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "walking distance along the roads (travel mode walk)" in report


def test_straight_line_run_draws_straight_lines(tmp_path):
    result, folder = _run(tmp_path, "")
    assert assignment_routes(result) == {}
    lines = _lines(folder)
    assert lines and all(len(xy) == 2 for xy, _ in lines)
    assert isinstance(result.cells, gpd.GeoDataFrame)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_walk_map_lines_follow_the_roads_in_chromium(walk, tmp_path):
    _, folder = walk
    browser = Browser(tmp_path)
    try:
        page = browser.open(folder / "map.html")
        assert page.errors() == []
        # the polylines Leaflet holds in the assignment-line colour, and the SVG paths drawn
        drawn = page.evaluate(
            "(() => { const out = new Map(); for (const v of Object.values(window)) { "
            "if (!(v instanceof L.Map)) continue; v.eachLayer(l => { "
            "if (l instanceof L.Polyline && !(l instanceof L.Polygon) && "
            f"l.options.color === '{ASSIGNMENT_LINE_COLOUR}') "
            "out.set(L.stamp(l), l.getLatLngs().map(p => [p.lng, p.lat])); }); } "
            "return [...out.values()]; })()")
        assert len(drawn) == 3 and all(len(c) > 2 for c in drawn)
        back = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
        for c in drawn:
            lonlat = np.asarray(c, dtype=float)
            xy = np.column_stack(back.transform(lonlat[:, 0], lonlat[:, 1]))
            assert _on_roads(xy[1:]).max() < ON_ROAD_M
        corners = page.evaluate(
            f"[...document.querySelectorAll('path[stroke=\"{ASSIGNMENT_LINE_COLOUR}\"]')]"
            ".map(p => (p.getAttribute('d').match(/[ML]/g) || []).length)")
        assert len(corners) == 3 and min(corners) > 2  # on screen, too: corners, not a chord
        page.close()
    finally:
        browser.close()
