"""Proposed catchments: cells dissolved by assigned school, checked by hand on tiny districts."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

from schoolmap.catchments import (
    COLUMNS,
    dissolve_by_school,
    proposed_catchments,
    students_changing_by_cell,
)
from schoolmap.errors import ValidationError
from schoolmap.io.district import district_from_frames
from schoolmap.maps import (
    PROPOSED_COLOURS,
    add_proposed_catchments,
    shortfall_map,
    write_map,
)
from schoolmap.outputs import write_results
from schoolmap.scenario import Scenario, run_scenario
from schoolmap.testing import X0, Y0, tiny_town_layers

METHODS = ("catchment", "nearest", "optimal")


def _run(district, methods=METHODS, **kw):
    sc = Scenario(name="t", district=district.source, base_year=2026, levels=("primary",),
                  methods=methods, horizon=0, tiles="none", **kw)
    return run_scenario(sc, district)


def _rows(zones, method):
    z = zones[zones["method"] == method].set_index("school_id")
    return {sid: (r.students, r.students_changing, r.n_cells, r.n_pieces, r.n_parts,
                  r.area_km2) for sid, r in z.iterrows()}


@pytest.fixture
def strip():
    """Two rows of 12 touching 100 m cells (x 0–1200 m), 6 pupils each; P1 at x 100, P2 at
    x 1100; zone ZB (P2) covers x 400–800, zone ZA (P1) the rest: P1's zone is in two pieces.
    """
    layers = tiny_town_layers()
    rows = []
    geoms = []
    for j in range(2):
        for i in range(12):
            rows.append({"cell_id": f"R{j}C{i:02d}", **{f"age_{a}": 1 for a in range(18)},
                         "population": 100, "households": 35})
            geoms.append(box(X0 + 100 * i, Y0 + 100 * j, X0 + 100 * (i + 1), Y0 + 100 * (j + 1)))
    layers["cells"] = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=layers["cells"].crs)
    zones = layers["zones"]
    layers["zones"] = gpd.GeoDataFrame(
        {"zone_id": ["ZB", "ZA"], "level": ["primary", "primary"], "school_id": ["P2", "P1"],
         "name": ["Middle", "Ends"]},
        geometry=[box(X0 + 400, Y0 - 100, X0 + 800, Y0 + 300),  # first zone wins
                  box(X0 - 100, Y0 - 100, X0 + 1300, Y0 + 300)], crs=zones.crs)
    return district_from_frames(layers, source="strip")


def test_tiny_town_zones_by_hand(town):
    zones = proposed_catchments(_run(town))
    assert list(zones.columns) == [*COLUMNS, "geometry"]
    # catchment: P1 takes C1, C2 (touching) and C5 (apart: two polygons, but only fields lie
    # between, so one piece); P2 takes C3 and the empty C4 beside it
    assert _rows(zones, "catchment") == {"P1": (366.0, 0.0, 3, 1, 2, 0.03),
                                         "P2": (30.0, 0.0, 2, 1, 1, 0.02)}
    # nearest: C5's 6 pupils go to P2 instead of P1
    assert _rows(zones, "nearest") == {"P1": (360.0, 0.0, 2, 1, 1, 0.02),
                                       "P2": (36.0, 6.0, 3, 1, 2, 0.03)}
    # optimal: P1 has 270 seats, so 90 of C2's 300 pupils go to P2 (C2 stays with P1, its
    # main school): 90 + 6 change, counted by the flows
    assert _rows(zones, "optimal") == {"P1": (360.0, 90.0, 2, 1, 1, 0.02),
                                       "P2": (36.0, 6.0, 3, 1, 2, 0.03)}
    assert zones.crs == town.crs
    assert set(zones.geom_type) <= {"Polygon", "MultiPolygon"}


def test_without_flows_main_schools_are_compared(town):
    result = _run(town)
    result.allocations = {}
    zones = proposed_catchments(result, methods=["optimal"])
    # C2's main school is P1 under both: its 90 moved pupils are not seen without the flows
    assert zones.set_index("school_id")["students_changing"].to_dict() == {"P1": 0.0, "P2": 6.0}
    no_catchment = proposed_catchments(_run(town, methods=("nearest",)))
    assert no_catchment["students_changing"].isna().all()


def test_split_zone_is_two_pieces_and_changes_are_counted(strip):
    zones = proposed_catchments(_run(strip))
    # official: P2 takes columns 4–7 (8 cells, 48 pupils), P1 columns 0–3 and 8–11
    assert _rows(zones, "catchment") == {"P1": (96.0, 0.0, 16, 2, 2, 0.16),
                                         "P2": (48.0, 0.0, 8, 1, 1, 0.08)}
    # nearest (and optimal: seats suffice): the split is at x 600; columns 4–5 (24 pupils)
    # move to P1 and columns 8–11 (48 pupils) to P2
    for method in ("nearest", "optimal"):
        assert _rows(zones, method) == {"P1": (72.0, 24.0, 12, 1, 1, 0.12),
                                        "P2": (72.0, 48.0, 12, 1, 1, 0.12)}
    p1 = zones[(zones["method"] == "catchment") & (zones["school_id"] == "P1")].geometry.iloc[0]
    assert p1.geom_type == "MultiPolygon" and sorted(g.bounds[0] - X0 for g in p1.geoms) == [
        0.0, 800.0]


def test_students_changing_counts_split_cells_by_flows(town):
    result = _run(town)
    changing = students_changing_by_cell(result.allocations[("primary", "optimal")],
                                         result.allocations[("primary", "catchment")])
    assert changing.tolist() == [0.0, 90.0, 0.0, 0.0, 6.0]
    same = students_changing_by_cell(result.allocations[("primary", "catchment")],
                                     result.allocations[("primary", "catchment")])
    assert not same.any()


def test_students_changing_needs_the_same_level(town):
    sc = Scenario(name="t", district=town.source, base_year=2026, levels=("primary", "junior"),
                  methods=("catchment",), horizon=0)
    result = run_scenario(sc, town)
    with pytest.raises(ValidationError, match="same level"):
        students_changing_by_cell(result.allocations[("primary", "catchment")],
                                  result.allocations[("junior", "catchment")])


def test_overlapping_cells_are_unioned_exactly():
    cells = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100), box(50, 0, 150, 100),
                                       box(400, 0, 500, 100)], crs="EPSG:32651")
    z = dissolve_by_school(cells, ["A", "A", None], np.array([1.0, 2.0, 0.0]))
    assert z["area_km2"].tolist() == [0.025] and z["n_cells"].tolist() == [3]
    assert z["n_parts"].tolist() == [2] and z["n_pieces"].tolist() == [1]


def test_no_school_anywhere_gives_no_zones():
    cells = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100)], crs="EPSG:32651")
    assert len(dissolve_by_school(cells, [None], np.array([3.0]))) == 0
    with pytest.raises(ValidationError, match="one value per cell"):
        dissolve_by_school(cells, ["A", "B"], np.array([3.0]))


def test_unknown_method_names_the_missing_column(town):
    with pytest.raises(ValidationError, match="school_primary_bogus"):
        proposed_catchments(_run(town), methods=["bogus"])


def test_outputs_layer_csv_summary_and_map(town, tmp_path):
    result = _run(town)
    folder = write_results(result, tmp_path / "out")
    assert "proposed_catchments" in pyogrio.list_layers(folder / "results.gpkg")[:, 0]
    layer = gpd.read_file(folder / "results.gpkg", layer="proposed_catchments")
    assert len(layer) == 6 and layer.crs == town.crs
    table = pd.read_csv(folder / "proposed_catchments.csv")
    assert list(table.columns) == list(COLUMNS)
    assert table.loc[(table["method"] == "optimal") & (table["school_id"] == "P1"),
                     "students_changing"].item() == 90.0
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    figures = summary["proposed_catchments"]["primary"]
    assert figures["optimal"] == {"n_zones": 2, "n_zones_several_pieces": 0,
                                  "students_changing": 96.0, "students": 396.0}
    assert figures["catchment"]["students_changing"] == 0.0
    page = (folder / "map.html").read_text(encoding="utf-8")
    # the headline non-catchment method (nearest) is drawn: one dashed outline per zone
    assert json.dumps("建议学区 (就近) – 小学") in page  # the scenario's language
    assert page.count('"dashArray": "6 4"') == 2 and "需转学" in page  # Chinese only
    again = write_results(result, tmp_path / "again")
    assert (again / "proposed_catchments.csv").read_bytes() == (
        folder / "proposed_catchments.csv").read_bytes()


def test_map_layer_escapes_names_and_counts_split_zones(strip, tmp_path):
    result = _run(strip)
    hostile = "<script>alert(1)</script>"
    zones = proposed_catchments(result, methods=["catchment"])
    zones["name"] = hostile
    m = shortfall_map(result.schools[result.schools["method"] == "catchment"], tiles=None)
    assert add_proposed_catchments(m, zones, lang="zh") == 2
    page = write_map(m, tmp_path / "m.html").read_text(encoding="utf-8")
    assert hostile not in page and "&lt;script&gt;" in page
    assert "1 个学区不连片" in page  # lang="zh": the legend in Chinese only
    # P2's zone touches both pieces of P1's: different colours
    fills = re.findall(r'"fillColor": "(#[0-9a-f]{6})", "fillOpacity": 0.25', page)
    assert len(fills) == 2 and len(set(fills)) == 2
    with pytest.raises(ValueError, match="methods"):
        add_proposed_catchments(m, proposed_catchments(result))


def test_demo_sized_district_is_fast_and_official_zones_stay_whole():
    """22k cells × 3 levels × 3 methods on a synthetic grid with gaps (like the demo)."""
    import time

    rng = np.random.default_rng(1)
    side = 150
    xs, ys = np.meshgrid(np.arange(side), np.arange(side))
    keep = rng.random(side * side) < 0.98
    xs, ys = xs.ravel()[keep], ys.ravel()[keep]
    cells = gpd.GeoDataFrame(geometry=[box(x * 100, y * 100, x * 100 + 100, y * 100 + 100)
                                       for x, y in zip(xs, ys, strict=True)], crs="EPSG:32651")
    schools = rng.uniform(0, side * 100, (30, 2))
    d = np.hypot(xs[:, None] * 100 + 50 - schools[:, 0], ys[:, None] * 100 + 50 - schools[:, 1])
    ids = np.array([f"S{j:02d}" for j in range(30)], dtype=object)[d.argmin(axis=1)]
    students = rng.poisson(3, len(xs)).astype(float)
    ids[students == 0] = None
    from schoolmap.catchments import cell_layout

    t0 = time.perf_counter()
    layout = cell_layout(cells)
    for _ in range(9):
        z = dissolve_by_school(cells, ids, students, layout=layout)
    seconds = time.perf_counter() - t0
    # nearest-school zones are whole, but for a one-cell-wide strip cut by a gap (S20)
    assert len(z) == 30 and z.loc[z["n_pieces"] > 1, "school_id"].tolist() == ["S20"]
    assert z["students"].sum() == students.sum() and z["n_cells"].sum() == len(xs)
    assert seconds < 20  # about 1.5 s on a quiet 2-core machine
    assert [Point(p).within(z.union_all()) for p in schools[:3]] == [True] * 3


def test_map_layer_toggles_in_a_browser(town, tmp_path):
    from .test_browser import CHROMIUM, Browser, eventually

    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    folder = write_results(_run(town, lang="en"), tmp_path / "out")
    browser = Browser(tmp_path)
    try:
        page = browser.open(folder / "map.html")
        assert page.errors() == []

        def dashed() -> int:
            return page.evaluate("document.querySelectorAll("
                                 "'path[stroke-dasharray=\"6 4\"]').length")

        assert dashed() == 0  # off when the map opens
        labels = page.evaluate("[...document.querySelectorAll("
                               "'.leaflet-control-layers-overlays label')]"
                               ".map(l => l.textContent.trim())")
        k = labels.index("Proposed catchments (nearest) – primary")
        page.click(f"document.querySelectorAll('.leaflet-control-layers-overlays input')[{k}]")
        assert eventually(lambda: dashed() == 2)  # P1's and P2's zones

        fills = page.evaluate("[...document.querySelectorAll("
                              "'path[stroke-dasharray=\"6 4\"]')].map(p => p.getAttribute('fill'))")
        assert set(fills) <= set(PROPOSED_COLOURS)  # 400 m apart: may share a colour
        # the popups' content is checked in the page's HTML (test_outputs_layer_csv_summary...)
        page.close()
    finally:
        browser.close()
