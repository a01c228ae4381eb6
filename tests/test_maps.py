"""Tests of schoolmap.maps: render the shortfall map, write it, and read the HTML back."""

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

try:
    from schoolmap.maps import (
        add_developments,
        add_milestone_years,
        add_new_sites,
        add_seat_prices,
        add_unserved,
        render_result_map,
        shortfall_map,
        write_map,
    )
except ModuleNotFoundError as exc:  # package not installed: use the source tree
    if exc.name != "schoolmap":
        raise
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from schoolmap.maps import (
        add_developments,
        add_milestone_years,
        add_new_sites,
        add_seat_prices,
        add_unserved,
        render_result_map,
        shortfall_map,
        write_map,
    )
from schoolmap.io.district import district_from_frames
from schoolmap.scenario import Scenario, run_scenario

pytestmark = pytest.mark.filterwarnings("error")

EVIL_SCHOOL = "<script>alert(1)</script>"
EVIL_SCHOOL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
EVIL_ZONE = "<img src=x onerror=alert(2)>"
EVIL_ZONE_ESCAPED = "&lt;img src=x onerror=alert(2)&gt;"
UTM51 = "EPSG:32651"  # WGS 84 / UTM zone 51N; (354000, 3456000) is in Shanghai
X0, Y0 = 354_000.0, 3_456_000.0


@pytest.fixture
def schools() -> gpd.GeoDataFrame:
    """Three schools on two levels, four rows: N1 is a nine-year school (primary + junior)."""
    return gpd.GeoDataFrame(
        {
            "school_id": ["P1", "P2", "N1", "N1"],
            "name": [
                "Xinhua Primary 新华小学",
                EVIL_SCHOOL,
                "Binjiang 滨江学校",
                "Binjiang 滨江学校",
            ],
            "level": ["primary", "primary", "primary", "junior"],
            "school_type": ["primary", "primary", "nine_year", "nine_year"],
            "sector": ["public", "public", "public", "public"],
            "seats": [1080, 0, 1620, 900],
            "classes": [24, 0, 36, 18],
            "demand": [1230.4, 310.0, 1500.0, 1150.0],
            "shortfall": [150.4, 310.0, 0.0, 250.0],
            "utilisation": [1230.4 / 1080, np.nan, 1500 / 1620, 1150 / 900],
            "classes_needed": [28, 7, 34, 23],
            "avg_class_size": [51.27, np.nan, 41.7, 63.9],
            "n_classes_56_65": [3, 0, 0, 10],
            "n_classes_66_plus": [0, 0, 0, 2],
            "share_beyond_radius": [0.12, np.nan, 0.3, 0.05],
            "mean_distance_m": [420.0, np.nan, 650.0, 1234.5],
        },
        geometry=[
            Point(X0 + 500, Y0 + 500),
            Point(X0 + 2500, Y0 + 600),
            Point(X0 + 1500, Y0 + 2200),
            Point(X0 + 1500, Y0 + 2200),
        ],
        crs=UTM51,
    )


@pytest.fixture
def zones() -> gpd.GeoDataFrame:
    """A primary zone (over capacity, hostile name) and a junior zone with 0 seats (NaN)."""
    return gpd.GeoDataFrame(
        {
            "zone_id": ["ZP1", "ZJ1"],
            "level": ["primary", "junior"],
            "name": [EVIL_ZONE, "Whole town 全镇"],
            "school_id": ["P1;N1", "N1"],
            "demand": [2730.4, 1150.0],
            "seats": [2700, 0],
            "shortfall": [150.4, 1150.0],
            "utilisation": [2730.4 / 2700, np.nan],
        },
        geometry=[box(X0, Y0, X0 + 3000, Y0 + 3000), box(X0 - 200, Y0 - 200, X0 + 3000, Y0 + 3100)],
        crs=UTM51,
    )


# -- reading the HTML back --------------------------------------------------------------------


def render(m, tmp_path: Path, name: str = "map.html") -> str:
    path = write_map(m, tmp_path / name)
    assert path == tmp_path / name
    return path.read_text(encoding="utf-8")


def circle_markers(text: str) -> dict[str, dict]:
    """Circle markers by variable name: location, options, layer and tooltip text."""
    pattern = re.compile(
        r"var (circle_marker_\w+) = L\.circleMarker\(\s*(\[[^\]]*\]),\s*(\{.*?\})\s*\)"
        r"\.addTo\((\w+)\);",
        re.S,
    )
    markers = {
        var: {"location": json.loads(loc), "options": json.loads(opts), "layer": layer}
        for var, loc, opts, layer in pattern.findall(text)
    }
    for var, tip in re.findall(
        r"(circle_marker_\w+)\.bindTooltip\(\s*`<div>\s*(.*?)\s*</div>`", text, re.S
    ):
        markers[var]["tooltip"] = tip
    for var, content in re.findall(r"(circle_marker_\w+)\.bindPopup\(`(.*?)`, \{", text, re.S):
        markers[var]["popup"] = content
    return markers


def by_school(markers: dict[str, dict], layers: dict[str, str]) -> dict[tuple[str, str], dict]:
    """Markers keyed by (layer name, school id), the id read from the tooltip."""
    layer_names = {var: name for name, var in layers.items()}
    out = {}
    for marker in markers.values():
        school_id = re.search(r"\(([^()]*)\)<br>", marker["tooltip"]).group(1)
        out[(layer_names[marker["layer"]], school_id)] = marker
    return out


def overlays(text: str) -> dict[str, str]:
    """LayerControl overlays: layer name (JSON-decoded) -> feature group variable."""
    block = re.search(r"overlays :\s*\{(.*?)\},", text, re.S).group(1)
    return {json.loads(key): var for key, var in re.findall(r'("(?:[^"\\]|\\.)*") : (\w+),', block)}


def shown(text: str, var: str) -> bool:
    """Whether a feature group is added to the map when the page opens."""
    return re.search(rf"\b{var}\.addTo\(map_\w+\);", text) is not None


def geojson_layers(text: str) -> dict[str, dict]:
    """Embedded GeoJSON data by geo_json variable name."""
    decoder = json.JSONDecoder()
    out = {}
    for match in re.finditer(r"(geo_json_\w+)_add\(\{", text):
        data, _ = decoder.raw_decode(text, match.end() - 1)
        out[match.group(1)] = data
    return out


def fit_bounds(text: str) -> list[list[float]]:
    return json.loads(re.search(r"map_\w+\.fitBounds\(\s*(\[\[.*?\]\])", text, re.S).group(1))


OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
#: http(s) strings a page may hold that the browser never fetches.
NOT_FETCHED = {
    "http://www.w3.org/2000/svg",  # SVG namespace name in Leaflet's code
    "https://leafletjs.com",  # Leaflet's licence comment and "Leaflet" attribution link
    "https://bugzilla.mozilla.org/show_bug.cgi?id=888319",  # a comment in leaflet.css
}


def urls(text: str) -> set[str]:
    """Every http(s) URL written anywhere in the page (HTML, CSS, JavaScript, comments)."""
    return set(re.findall(r"https?://[^\s\"'`<>()\\]+", text))


def remote_resources(text: str) -> list[str]:
    """What the page would load: src of media and scripts, link hrefs, CSS url() and @import,
    tile URL templates; data: URIs and #fragments excepted."""
    found = re.findall(
        r"<(?:script|img|iframe|source|embed|audio|video)\b[^>]*?\bsrc\s*=\s*[\"']?([^\"'\s>]+)",
        text,
        re.I,
    )
    found += re.findall(r"<link\b[^>]*?\bhref\s*=\s*[\"']?([^\"'\s>]+)", text, re.I)
    found += re.findall(r"url\(\s*[\"']?([^\"')\s]+)", text)
    found += re.findall(r"@import\s+(?:url\()?\s*[\"']?([^\"')\s;]+)", text)
    found += re.findall(r"L\.tileLayer\(\s*\"([^\"]+)\"", text)
    return [url for url in found if not url.startswith(("data:", "#"))]


# -- tests -------------------------------------------------------------------------------------


def test_hostile_names_are_escaped_everywhere(schools, zones, tmp_path):
    m = shortfall_map(schools, zones, title="<b>Plan</b> 规划", tiles=None)
    text = render(m, tmp_path)

    assert EVIL_SCHOOL not in text
    assert "<script>alert" not in text
    assert EVIL_SCHOOL_ESCAPED in text
    assert EVIL_ZONE not in text
    assert "<b>Plan</b>" not in text
    assert "<title>&lt;b&gt;Plan&lt;/b&gt; 规划</title>" in text
    assert '<div class="schoolmap-box schoolmap-title">&lt;b&gt;Plan&lt;/b&gt; 规划</div>' in text

    markers = by_school(circle_markers(text), overlays(text))
    evil = markers[("Schools – primary", "P2")]
    assert f'<div class="name">{EVIL_SCHOOL_ESCAPED}</div>' in evil["popup"]
    assert evil["tooltip"].startswith(f"<b>{EVIL_SCHOOL_ESCAPED}</b>")

    all_names = {
        f["properties"]["zone_id"]: f["properties"]["name"]
        for data in geojson_layers(text).values()
        for f in data["features"]
    }
    assert all_names["ZP1"] == EVIL_ZONE_ESCAPED
    assert all_names["ZJ1"] == "Whole town 全镇"


def test_javascript_template_literal_cannot_be_broken_out_of(schools, tmp_path):
    # folium puts popups and tooltips inside JavaScript `...` strings: ` and ${ must not survive.
    schools.loc[0, "name"] = "`${alert(3)}` \\u{41} Primary"
    schools.loc[0, "sector"] = "$public"
    text = render(shortfall_map(schools, tiles=None), tmp_path)

    assert "${alert(3)}" not in text
    assert "\\u{41}" not in text
    assert "&#96;&#36;&#123;alert(3)&#125;&#96; &#92;u&#123;41&#125; Primary" in text
    assert "&#36;public" in text


def test_one_circle_marker_per_school_row_with_size_colour_and_ring(schools, zones, tmp_path):
    text = render(shortfall_map(schools, zones, tiles=None), tmp_path)
    markers = circle_markers(text)
    assert text.count("L.circleMarker(") == len(schools) == len(markers) == 4

    layers = overlays(text)
    m = by_school(markers, layers)
    assert set(m) == {
        ("Schools – primary", "P1"),
        ("Schools – primary", "P2"),
        ("Schools – primary", "N1"),
        ("Schools – junior", "N1"),
    }
    options = {key: marker["options"] for key, marker in m.items()}
    p1, p2 = options[("Schools – primary", "P1")], options[("Schools – primary", "P2")]
    n1p, n1j = options[("Schools – primary", "N1")], options[("Schools – junior", "N1")]

    # area proportional to seats: radius² ratio equals seat ratio (1,620 / 1,080 = 1.5)
    assert p1["radius"] == pytest.approx(10 * math.sqrt(1.08), abs=0.01)
    assert (n1p["radius"] / p1["radius"]) ** 2 == pytest.approx(1620 / 1080, rel=1e-3)
    assert p2["radius"] == 4.0  # 0 seats: smallest marker

    # fill by shortfall: 0 green, 150 (50–199) orange, 250 / 310 (≥ 200) red
    assert n1p["fillColor"] == "#1a9641"
    assert p1["fillColor"] == "#f46d43"
    assert p2["fillColor"] == "#d7191c"
    assert n1j["fillColor"] == "#d7191c"

    # rings: 大班额 purple, 超大班额 thick black, none thin grey
    assert (p1["color"], p1["weight"]) == ("#7b3294", 3.0)
    assert (n1j["color"], n1j["weight"]) == ("#000000", 5.0)
    assert (n1p["color"], n1p["weight"]) == ("#4d4d4d", 1.0)

    # every marker in lon/lat near Shanghai, same place for both rows of the nine-year school
    for marker in markers.values():
        lat, lon = marker["location"]
        assert 31.0 < lat < 31.5 and 121.0 < lon < 122.0
    assert m[("Schools – primary", "N1")]["location"] == m[("Schools – junior", "N1")]["location"]


def test_popup_lists_the_figures_and_shows_missing_values_as_dash(schools, tmp_path):
    text = render(shortfall_map(schools, tiles=None), tmp_path)
    m = by_school(circle_markers(text), overlays(text))

    def cells(popup: str) -> dict[str, str]:
        return dict(re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", popup))

    p1 = cells(m[("Schools – primary", "P1")]["popup"])
    assert p1["Seats"] == "1,080"
    assert p1["Demand (students)"] == "1,230"
    assert p1["Shortfall"] == "150"
    assert p1["Utilisation"] == "114 %"
    assert p1["Avg class size"] == "51.3"
    assert p1["Large classes (56–65)"] == "3"
    assert p1["Very large classes (66+)"] == "0"
    assert p1["Beyond service radius"] == "12 %"
    assert p1["Mean distance"] == "420 m"
    assert p1["Level"] == "primary"

    p2 = cells(m[("Schools – primary", "P2")]["popup"])
    assert p2["Utilisation"] == "—"
    assert p2["Avg class size"] == "—"
    assert p2["Mean distance"] == "—"
    assert "Utilisation: —" in m[("Schools – primary", "P2")]["tooltip"]

    n1j = cells(m[("Schools – junior", "N1")]["popup"])
    assert n1j["Type"] == "nine_year"
    assert n1j["Mean distance"] == "1,234 m"  # round half to even
    assert len(p1) == 15


def test_catchments_coloured_by_utilisation_with_grey_for_nan(schools, zones, tmp_path):
    text = render(shortfall_map(schools, zones, tiles=None), tmp_path)
    features = {
        f["properties"]["zone_id"]: f
        for data in geojson_layers(text).values()
        for f in data["features"]
    }
    assert set(features) == {"ZP1", "ZJ1"}
    zp1, zj1 = features["ZP1"]["properties"], features["ZJ1"]["properties"]
    assert zp1["fill"] == "#f7f7f7"  # 101 %: the white middle class
    assert zp1["utilisation"] == "101 %"
    assert zp1["school_id"] == "P1; N1"
    assert zp1["seats"] == "2,700"
    assert zj1["fill"] == "#bdbdbd"  # 0 seats -> NaN utilisation -> grey
    assert zj1["utilisation"] == "—"
    # the styles folium computed from style_function carry the same colours
    assert '"fillColor": "#f7f7f7"' in text and '"fillColor": "#bdbdbd"' in text
    # polygons in lon/lat, rounded to 1e-6 degrees
    ring = features["ZP1"]["geometry"]["coordinates"][0]
    assert all(121.0 < lon < 122.0 and 31.0 < lat < 31.5 for lon, lat in ring)
    assert all(round(v, 6) == v for xy in ring for v in xy)


def test_layers_per_level_and_kind_only_first_level_shown(schools, zones, tmp_path):
    text = render(shortfall_map(schools, zones, tiles=None), tmp_path)
    layers = overlays(text)
    assert list(layers) == [
        "Catchments – primary",
        "Schools – primary",
        "Catchments – junior",
        "Schools – junior",
    ]
    assert shown(text, layers["Catchments – primary"])
    assert shown(text, layers["Schools – primary"])
    assert not shown(text, layers["Catchments – junior"])
    assert not shown(text, layers["Schools – junior"])
    spec = json.loads(re.search(r"schoolmapControls\(map_\w+, \w+_layers,\s*(\{.*?\})\);\n",
                                text, re.S).group(1))
    # the switcher groups the layers by level, the shown level's group unfolded
    assert [(g["key"], g["open"], g["names"]) for g in spec["groups"]] == [
        ("primary", True, ["Catchments – primary", "Schools – primary"]),
        ("junior", False, ["Catchments – junior", "Schools – junior"])]
    assert spec["search"] == ["Schools – primary", "Schools – junior"]
    assert {(e["name"], e["kind"]) for e in spec["labels"]} == {
        ("Catchments – primary", "zones"), ("Catchments – junior", "zones"),
        ("Schools – primary", "schools"), ("Schools – junior", "schools")}
    # main_level: that level's layers on, the others off
    text = render(shortfall_map(schools, zones, tiles=None, main_level="junior"), tmp_path)
    layers = overlays(text)
    assert [name for name, var in layers.items() if shown(text, var)] == [
        "Catchments – junior", "Schools – junior"]


def test_levels_argument_chooses_and_orders_layers(schools, zones, tmp_path):
    text = render(shortfall_map(schools, zones, tiles=None, levels=["junior", "senior"]), tmp_path)
    layers = overlays(text)
    assert list(layers) == ["Catchments – junior", "Schools – junior"]  # senior has no data
    assert all(shown(text, var) for var in layers.values())
    assert text.count("L.circleMarker(") == 1

    with pytest.raises(ValueError, match=r"'primay' not found .*levels found: junior, primary"):
        shortfall_map(schools, zones, levels=["primay"])
    with pytest.raises(TypeError, match="sequence of level names"):
        shortfall_map(schools, zones, levels="primary")


def test_legend_explains_colours_in_the_map_language(schools, zones, tmp_path):
    text = render(shortfall_map(schools, zones, tiles=None), tmp_path)
    legend = re.search(r'<div class="schoolmap-box schoolmap-legend">(.*?)</details></div>', text)
    assert legend is not None
    legend_text = legend.group(1)
    for label in (
        "<summary>Legend</summary>",
        "Catchment utilisation",
        "95–105 %",
        "≥ 130 %",
        "School shortfall",
        "≥ 200 seats",
        "Large classes (56–65 students)",
        "Very large classes (66+ students)",
        "Circle area ∝ seats",
    ):
        assert label in legend_text
    for colour in ("#2166ac", "#f7f7f7", "#b2182b", "#1a9641", "#d7191c", "#7b3294"):
        assert colour in legend_text


def test_without_zones_there_are_no_catchment_layers_or_utilisation_legend(schools, tmp_path):
    empty_zones = gpd.GeoDataFrame(geometry=[], crs=UTM51)
    for z in (None, empty_zones):
        text = render(shortfall_map(schools, z, tiles=None), tmp_path)
        assert list(overlays(text)) == ["Schools – primary", "Schools – junior"]
        assert "Catchment utilisation" not in text
        assert "School shortfall" in text
        assert "geo_json_" not in text


def test_tiles_none_gives_plain_background(schools, zones, tmp_path):
    plain = render(shortfall_map(schools, zones, tiles=None), tmp_path, "plain.html")
    assert "tile.openstreetmap" not in plain
    assert "L.tileLayer(" not in plain
    osm = render(shortfall_map(schools, zones), tmp_path, "osm.html")
    assert "tile.openstreetmap" in osm


def test_without_tiles_the_page_loads_nothing_from_the_network(schools, zones, tmp_path):
    text = render(shortfall_map(schools, zones, title="Offline 离线", tiles=None), tmp_path)
    assert remote_resources(text) == []
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", text, re.I)
    assert "<link" not in text.lower()
    assert "jquery" not in text.lower() and "$(" not in text  # popups are bound without jQuery
    # Leaflet's images (layer-switcher icon, default marker) are inlined, not read beside the file
    assert "images/" not in text
    assert urls(text) <= NOT_FETCHED


def test_with_osm_tiles_the_tile_server_is_the_only_remote_resource(schools, zones, tmp_path):
    text = render(shortfall_map(schools, zones), tmp_path)
    assert remote_resources(text) == [OSM_TILES]
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", text, re.I)
    assert "<link" not in text.lower()
    # besides the tiles, only the attribution link to OpenStreetMap's copyright page
    assert urls(text) - NOT_FETCHED == {OSM_TILES, "https://www.openstreetmap.org/copyright"}


def test_leaflet_is_written_into_the_page_before_the_map(schools, tmp_path):
    text = render(shortfall_map(schools, tiles=None), tmp_path)
    head = text[: text.index("</head>")]
    script = re.search(r"<script>\s*/\* @preserve\s*\* Leaflet (1\.9\.\d+),", head)
    assert script is not None
    assert f'version="{script.group(1)}"' in head  # the code itself, not only its banner
    assert head.index(".leaflet-container") < head.index(".schoolmap-box")  # our CSS wins ties
    assert "sourceMappingURL" not in text
    assert text.index(f'version="{script.group(1)}"') < text.index("L.map(")


def test_jinja_syntax_in_the_data_is_shown_not_run(schools, zones, tmp_path):
    # folium renders popup, tooltip and title HTML as a Jinja template a second time
    schools.loc[0, "name"] = "{{ 6 * 7 }} {% if true %}x{% endif %}"
    zones.loc[0, "name"] = "{{ cycler.__init__.__globals__.os.getcwd() }}"
    text = render(shortfall_map(schools, zones, title="{{ 8 * 8 }}", tiles=None), tmp_path)
    assert "{{" not in text and "{%" not in text
    assert os.getcwd() not in text
    assert "<title>&#123;&#123; 8 * 8 &#125;&#125;</title>" in text
    assert ">&#123;&#123; 8 * 8 &#125;&#125;</div>" in text  # the title box, not "64"
    p1 = by_school(circle_markers(text), overlays(text))[("Schools – primary", "P1")]
    assert "&#123;&#123; 6 * 7 &#125;&#125; &#123;% if true %&#125;x" in p1["popup"]
    assert p1["tooltip"].startswith("<b>&#123;&#123; 6 * 7 &#125;&#125;")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (Debian package)")
def test_map_draws_in_a_browser_with_the_network_cut_off(schools, zones, tmp_path):
    path = write_map(shortfall_map(schools, zones, tiles=None), tmp_path / "map.html")
    run = subprocess.run(
        [
            shutil.which("chromium"),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--proxy-server=127.0.0.1:9",  # nothing listens there: every request fails
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
        check=True,
    )
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # e.g. "Uncaught ReferenceError: L is not defined"
    dom = run.stdout
    # the primary layers are shown: 1 catchment polygon and 3 school markers drawn as SVG paths
    assert len(re.findall(r'<path class="leaflet-interactive"', dom)) == 4
    assert "leaflet-control-layers-expanded" in dom and "leaflet-control-scale" in dom


def test_fit_bounds_cover_schools_and_zones_in_lon_lat(schools, zones, tmp_path):
    text = render(shortfall_map(schools, zones, tiles=None), tmp_path)
    (south, west), (north, east) = fit_bounds(text)
    assert -90 <= south < north <= 90 and -180 <= west < east <= 180
    assert 31.0 < south < north < 31.5 and 121.0 < west < east < 122.0
    expected = np.vstack([schools.to_crs(4326).total_bounds, zones.to_crs(4326).total_bounds])
    assert west == pytest.approx(expected[:, 0].min(), abs=1e-5)
    assert south == pytest.approx(expected[:, 1].min(), abs=1e-5)
    assert east == pytest.approx(expected[:, 2].max(), abs=1e-5)
    assert north == pytest.approx(expected[:, 3].max(), abs=1e-5)


def test_write_map_is_atomic_and_replaces(schools, tmp_path, monkeypatch):
    m = shortfall_map(schools, tiles=None)
    target = tmp_path / "map.html"
    target.write_text("old", encoding="utf-8")
    path = write_map(m, str(target))
    assert path == target
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]  # no temp file left
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_map(m, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]
    assert target.read_text(encoding="utf-8") == text  # the old file is untouched

    with pytest.raises(FileNotFoundError):
        write_map(m, tmp_path / "missing-folder" / "map.html")


def test_geographic_and_polygon_inputs_are_accepted(schools, zones, tmp_path):
    schools_ll = schools.to_crs(4326)
    schools_ll.loc[0, "geometry"] = schools_ll.geometry.iloc[0].buffer(0.0005)  # a site polygon
    text = render(shortfall_map(schools_ll, zones.to_crs(4326), tiles=None), tmp_path)
    assert text.count("L.circleMarker(") == 4
    (south, west), (north, east) = fit_bounds(text)
    assert 31.0 < south < north < 31.5 and 121.0 < west < east < 122.0


def test_schools_without_location_are_counted_in_the_legend(schools, tmp_path):
    schools.loc[1, "geometry"] = None
    text = render(shortfall_map(schools, tiles=None), tmp_path)
    assert text.count("L.circleMarker(") == 3
    assert "1 school row(s) without location not shown" in text


def test_bad_inputs_are_reported_together(schools, zones):
    no_crs = schools.set_crs(None, allow_override=True)
    bad_zones = zones.drop(columns=["zone_id"])
    with pytest.raises(
        ValueError, match=r"2 problems — schools has no CRS.*zones lacks column\(s\) 'zone_id'"
    ):
        shortfall_map(no_crs, bad_zones)
    schools.loc[2, "level"] = None
    with pytest.raises(ValueError, match=r"schools has 1 row\(s\) without a level \(rows 2\)"):
        shortfall_map(schools)
    with pytest.raises(TypeError, match="must be a geopandas.GeoDataFrame"):
        shortfall_map(schools.drop(columns="geometry").to_dict())


def test_results_of_several_allocation_methods_are_refused(schools):
    both = gpd.GeoDataFrame(
        pd.concat([schools.assign(method="catchment"), schools.assign(method="nearest")]),
        crs=UTM51,
    )
    with pytest.raises(ValueError, match=r"2 allocation methods \(catchment, nearest\)"):
        shortfall_map(both)
    one = shortfall_map(both[both["method"] == "nearest"], tiles=None)
    assert one.get_root().render().count("L.circleMarker(") == 4


# -- seat prices and unserved students ----------------------------------------------------------


def tiny_result(district, levels=("primary",), methods=("catchment", "optimal"), horizon=0,
                tiles="none"):
    """A scenario run on a tiny town, map without tiles (no forecast unless ``horizon``)."""
    sc = Scenario(name="tiny", district=district.source, base_year=2026, levels=levels,
                  methods=methods, tiles=tiles, lang="en", horizon=horizon)
    return run_scenario(sc, district)


@pytest.fixture
def closed_p2(town_layers):
    """Tiny town with P2 closed in 2026: zone ZB (cell C3, 30 pupils) has no primary school."""
    schools = town_layers["schools"]
    schools.loc[schools["school_id"] == "P2", "close_year"] = 2026
    return district_from_frames(town_layers, source="tiny_town_p2_closed")


def render_result(result, tmp_path: Path) -> str:
    path = render_result_map(result, tmp_path / "map.html")
    return path.read_text(encoding="utf-8")


def result_overlays(text: str) -> dict[str, str]:
    """Overlays of a result map but the proposed catchments (tested with schoolmap.catchments)."""
    return {name: var for name, var in overlays(text).items()
            if not name.startswith(("Proposed catchments", "建议学区"))}


def legend_of(text: str) -> str:
    return re.search(r'<div class="schoolmap-box schoolmap-legend">(.*?)</details></div>', text)[1]


def popup_cells(popup: str) -> dict[str, str]:
    return dict(re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", popup))


def square_layers(text: str) -> dict[str, list[dict]]:
    """Features of the unserved-squares GeoJSON, by layer name (squares have a 'cells' field)."""
    names = {var: name for name, var in overlays(text).items()}
    out = {}
    for var, data in geojson_layers(text).items():
        features = data["features"]
        if features and "cells" in features[0]["properties"]:
            group = re.search(rf"\b{var}\.addTo\((\w+)\);", text)
            out[names[group[1]]] = features
    return out


def test_result_map_shows_seat_prices_of_the_optimal_method(town, tmp_path):
    text = render_result(tiny_result(town), tmp_path)
    layers = result_overlays(text)
    # every primary pupil gets a seat under both methods: no unserved layer
    assert list(layers) == ["Catchments – primary", "Schools – primary", "Seat prices – primary"]
    assert shown(text, layers["Schools – primary"])
    assert not shown(text, layers["Seat prices – primary"])

    markers = by_school(circle_markers(text), layers)
    p1, p2 = markers[("Seat prices – primary", "P1")], markers[("Seat prices – primary", "P2")]
    # P1 is full: one more seat spares a C2 pupil the trip to P2 (955 m instead of 112 m)
    assert "one more seat here saves 843 m of travel" in p1["tooltip"]
    assert "学位" not in p1["tooltip"]  # an English map is English only
    assert p1["options"]["fillColor"] == "#fd8d3c"  # 500–1,000 m
    assert "one more seat here saves 0 m of travel (seats spare" in p2["tooltip"]
    assert p2["options"]["fillColor"] == "#f0f0f0"  # neutral grey: seats spare
    cells = popup_cells(p1["popup"])
    assert cells["Seat price"] == "843 m"
    assert cells["Demand, optimal (students)"] == "270"  # not catchment's 366
    assert cells["Seats"] == "270"
    assert popup_cells(p2["popup"])["Demand, optimal (students)"] == "126"
    # same place and size as the school marker of the headline (catchment) layer
    school = markers[("Schools – primary", "P1")]
    assert p1["location"] == school["location"]
    assert p1["options"]["radius"] == school["options"]["radius"]
    assert text.count("L.circleMarker(") == 4

    legend = legend_of(text)
    assert legend.count("Seat price") == 1
    assert "0 m: seats spare" in legend and "≥ 2,000 m" in legend
    assert "Unserved students" not in legend


def test_result_map_without_optimal_has_no_seat_prices(town, tmp_path):
    text = render_result(tiny_result(town, methods=("catchment", "nearest")), tmp_path)
    assert list(result_overlays(text)) == ["Catchments – primary", "Schools – primary"]
    assert "Seat price" not in text and "Unserved" not in text


def test_result_map_layer_names_follow_the_scenario_language(closed_p2, tmp_path):
    import dataclasses

    result = tiny_result(closed_p2)
    assert result.scenario.language == "en"
    result.scenario = dataclasses.replace(result.scenario, lang=None)  # 6+3: Chinese
    text = render_result(result, tmp_path)
    assert list(result_overlays(text)) == ["学区 – 小学", "学校 – 小学", "学位影子价格 – 小学",
                                    "未获学位学生 – 小学", "未获学位学生 (最优分配) – 小学"]
    assert "tiny · 2026 · 划片" in text
    with pytest.raises(ValueError, match="lang must be one of en, zh"):
        shortfall_map(result.schools[result.schools["method"] == "catchment"], lang="fr")


def test_result_map_layers_per_level_only_where_students_are_unserved(town, tmp_path):
    # junior: J1 takes all 198 pupils by catchment, but optimal leaves 48 without a seat
    text = render_result(tiny_result(town, levels=("primary", "junior")), tmp_path)
    layers = result_overlays(text)
    assert list(layers) == [
        "Catchments – primary",
        "Schools – primary",
        "Catchments – junior",
        "Schools – junior",
        "Seat prices – primary",
        "Seat prices – junior",
        "Unserved (optimal) – junior",
    ]
    assert [name for name, var in layers.items() if shown(text, var)] == [
        "Catchments – primary",
        "Schools – primary",
    ]
    squares = square_layers(text)
    assert list(squares) == ["Unserved (optimal) – junior"]
    junior = squares["Unserved (optimal) – junior"]
    assert sum(int(f["properties"]["students"]) for f in junior) == 48


def test_unserved_students_of_a_closed_school_are_drawn_as_squares(closed_p2, tmp_path):
    result = tiny_result(closed_p2)
    cells = result.cells.set_index("cell_id")
    assert cells["unassigned_primary_catchment"].to_dict() == {
        "C1": 0, "C2": 0, "C3": 30, "C4": 0, "C5": 0
    }

    text = render_result(result, tmp_path)
    layers = result_overlays(text)
    assert list(layers) == [
        "Catchments – primary",
        "Schools – primary",
        "Seat prices – primary",
        "Unserved students – primary",
        "Unserved (optimal) – primary",
    ]
    assert not shown(text, layers["Unserved students – primary"])
    assert not shown(text, layers["Unserved (optimal) – primary"])

    squares = square_layers(text)
    headline = squares["Unserved students – primary"]
    # C3 only: one 500 m square, 30 pupils from 1 cell, class 25–50
    assert [f["properties"] for f in headline] == [
        {"fill": "#f768a1", "students": "30", "cells": "1"}
    ]
    ring = headline[0]["geometry"]["coordinates"][0]
    assert len(ring) == 5 and all(123.0 < lon < 123.1 and 31.6 < lat < 31.7 for lon, lat in ring)

    # optimal: P1's 270 seats go to the nearest pupils; 90 of C2, all of C5 and C3 are left.
    # 500 m squares from x = 500,000: C1 + C2 (x 0–200) share one, C5 (x 650) and C3 + C4
    # (x 1,000–1,200) have their own, so three squares in west-to-east order
    assert cells["unassigned_primary_optimal"].to_dict() == {
        "C1": 0, "C2": 90, "C3": 30, "C4": 0, "C5": 6
    }
    optimal = squares["Unserved (optimal) – primary"]
    assert [f["properties"]["students"] for f in optimal] == ["90", "6", "30"]
    assert [f["properties"]["fill"] for f in optimal] == ["#c51b8a", "#fcc5c0", "#f768a1"]

    assert len(re.findall(r'createPane\(\s*"schoolmap_density"\)', text)) == 1
    legend = legend_of(text)
    assert legend.count("Unserved students") == 1  # one section for both layers
    assert "per 500 m square" in legend and "#7a0177" in legend
    assert remote_resources(text) == []
    assert urls(text) <= NOT_FETCHED


def test_add_unserved_sums_cells_into_display_squares(schools, tmp_path):
    # a 2 km × 2 km block of 400 cells of 100 m, one student each, 1 km offset from the grid
    xs, ys = np.meshgrid(np.arange(20) * 100.0, np.arange(20) * 100.0)
    x0, y0 = X0 + 1000, Y0
    cells = gpd.GeoDataFrame(
        {"unserved": np.ones(xs.size)},
        geometry=[
            box(x0 + x, y0 + y, x0 + x + 100, y0 + y + 100)
            for x, y in zip(xs.ravel(), ys.ravel(), strict=True)
        ],
        crs=UTM51,
    )
    cells.loc[0, "unserved"] = np.nan  # counts as 0
    cells.loc[1, "geometry"] = None  # not drawn
    m = shortfall_map(schools, tiles=None)
    assert add_unserved(m, cells, "unserved", name="<b>Unserved</b>", show=True) == 16
    assert add_unserved(m, cells.assign(unserved=0.0), "unserved", name="none") == 0
    assert add_unserved(m, cells.iloc[:0], "unserved", name="empty") == 0
    assert add_unserved(m, cells, "unserved", name="1 km", square_m=1000) == 4
    text = render(m, tmp_path)

    layers = overlays(text)
    assert list(layers)[-2:] == ["&lt;b&gt;Unserved&lt;/b&gt;", "1 km"]
    assert "none" not in layers and "empty" not in layers
    assert shown(text, layers["&lt;b&gt;Unserved&lt;/b&gt;"])
    squares = square_layers(text)
    fine = sorted(int(f["properties"]["students"]) for f in squares["&lt;b&gt;Unserved&lt;/b&gt;"])
    assert fine == [23] + [25] * 15 and fine[0] == 25 - 2  # cells 0 and 1 are in one square
    assert {f["properties"]["fill"] for f in squares["&lt;b&gt;Unserved&lt;/b&gt;"]} == {
        "#fa9fb5", "#f768a1"
    }
    coarse = squares["1 km"]
    assert sorted(int(f["properties"]["students"]) for f in coarse) == [98, 100, 100, 100]
    assert sorted(f["properties"]["cells"] for f in coarse) == ["100", "100", "100", "98"]
    legend = legend_of(text)
    assert "per 500 m square" in legend and "per 1,000 m square" in legend

    # the same cells as points, or in lon/lat, give the same squares
    points = cells.copy()
    points.loc[points.geometry.notna(), "geometry"] = points.geometry.dropna().centroid
    m2 = shortfall_map(schools, tiles=None)
    assert add_unserved(m2, points, "unserved", name="points") == 16
    assert add_unserved(m2, cells.to_crs(4326), "unserved", name="lon/lat") == 16


def test_add_unserved_keeps_a_big_district_small(schools, tmp_path):
    # 50,000 cells of 100 m (25 km × 20 km): 2,000 squares of 500 m
    rng = np.random.default_rng(0)
    xs, ys = np.meshgrid(np.arange(250) * 100.0 + 50, np.arange(200) * 100.0 + 50)
    cells = gpd.GeoDataFrame(
        {"unserved": rng.uniform(0, 2, xs.size)},
        geometry=gpd.points_from_xy(X0 + xs.ravel(), Y0 + ys.ravel()),
        crs=UTM51,
    )
    m = shortfall_map(schools, tiles=None)
    assert add_unserved(m, cells, "unserved", name="big") == 50 * 40
    text = render(m, tmp_path)
    features = square_layers(text)["big"]
    assert len(features) == 2000
    total = sum(float(f["properties"]["students"].replace(",", "")) for f in features)
    assert total == pytest.approx(cells["unserved"].sum(), abs=2000 * 0.5)
    assert len(text.encode("utf-8")) < 1_500_000


def test_seat_prices_escape_data_and_colour_by_class(schools, tmp_path):
    schools = schools.assign(seat_price_m=[0.2, 1200.0, np.nan, 2500.0])
    schools.loc[0, "name"] = "`${alert(5)}` {{ 6 * 7 }}"
    m = shortfall_map(schools, tiles=None, levels=["primary"])
    assert add_seat_prices(m, schools, levels=["primary", "senior"], show=True) == 3
    text = render(m, tmp_path)
    layers = overlays(text)
    assert list(layers) == ["Schools – primary", "Seat prices – primary"]  # no senior data
    assert shown(text, layers["Seat prices – primary"])
    markers = by_school(circle_markers(text), layers)
    p1 = markers[("Seat prices – primary", "P1")]
    p2 = markers[("Seat prices – primary", "P2")]
    n1 = markers[("Seat prices – primary", "N1")]
    assert (p1["options"]["fillColor"], p2["options"]["fillColor"]) == ("#f0f0f0", "#f03b20")
    assert n1["options"]["fillColor"] == "#bdbdbd"
    assert "saves 0 m of travel (seats spare" in p1["tooltip"]
    assert "saves 1,200 m of travel" in p2["tooltip"]
    assert "Seat price: —" in n1["tooltip"]
    assert p2["popup"].startswith(
        f'<div class="schoolmap-popup"><div class="name">{EVIL_SCHOOL_ESCAPED}</div>'
    )
    assert "<script>alert" not in text and "${alert(5)}" not in text and "{{" not in text
    assert "&#96;&#36;&#123;alert(5)&#125;&#96;" in p1["tooltip"]


def test_seat_prices_and_unserved_need_a_shortfall_map_and_their_columns(schools):
    m = shortfall_map(schools, tiles=None)
    with pytest.raises(
        ValueError, match=r"add_seat_prices: 1 problem — schools lacks .*'seat_price_m'"
    ):
        add_seat_prices(m, schools)
    with pytest.raises(ValueError, match="m must be a map made by schoolmap.maps.shortfall_map"):
        add_seat_prices(folium_map(), schools.assign(seat_price_m=0.0))
    with pytest.raises(ValueError, match=r"add_unserved: 1 problem — cells lacks .*'unserved'"):
        add_unserved(m, schools, "unserved", name="x")
    with pytest.raises(ValueError, match="square_m must be a positive number"):
        add_unserved(m, schools.assign(unserved=1.0), "unserved", name="x", square_m=0)
    with pytest.raises(TypeError, match="sequence of level names"):
        add_seat_prices(m, schools.assign(seat_price_m=0.0), levels="primary")


def folium_map():
    import folium

    return folium.Map(tiles=None)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (Debian package)")
def test_seat_price_and_unserved_layers_draw_in_a_browser(closed_p2, tmp_path):
    result = tiny_result(closed_p2)
    schools = result.schools[result.schools["method"] == "catchment"]
    optimal = result.schools[result.schools["method"] == "optimal"]
    m = shortfall_map(schools, result.zones, tiles=None)
    assert add_seat_prices(m, optimal, show=True) == 1
    assert add_unserved(m, result.cells, "unassigned_primary_catchment", name="u", show=True) == 1
    path = write_map(m, tmp_path / "map.html")
    run = subprocess.run(
        [
            shutil.which("chromium"),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--proxy-server=127.0.0.1:9",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
        check=True,
    )
    assert [line for line in run.stderr.splitlines() if ":CONSOLE" in line] == []
    # 2 catchments, 1 school (P1; closed P2 is not listed), 1 seat-price marker, 1 square
    assert len(re.findall(r'<path class="leaflet-interactive"', run.stdout)) == 5
    assert 'class="leaflet-pane leaflet-schoolmap_density-pane"' in run.stdout


# -- Gaode tiles: layers shifted to GCJ-02 -----------------------------------------------------

GAODE_TILES = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
               "&x={x}&y={y}&z={z}")
#: The URL as written in the page's JavaScript (a JSON string: & is \u0026).
GAODE_TILES_JSON = GAODE_TILES.replace("&", "\\u0026")


def test_gaode_tiles_shift_every_drawn_coordinate_to_gcj02(schools, zones, tmp_path):
    from schoolmap.io.crs import wgs84_to_gcj02

    plain = render(shortfall_map(schools, zones, tiles=None), tmp_path, "plain.html")
    gaode = render(shortfall_map(schools, zones, tiles="gaode"), tmp_path, "gaode.html")
    assert remote_resources(gaode) == [GAODE_TILES_JSON]
    # no other server named anywhere (urls() stops at the first backslash of \u0026)
    assert urls(gaode) - NOT_FETCHED == {GAODE_TILES_JSON.split("\\")[0]}
    assert "tile.openstreetmap" not in gaode and '"subdomains": "1234"' in gaode
    assert '"attribution": "\\u0026copy; \\u9ad8\\u5fb7\\u5730\\u56fe AutoNavi' in gaode  # 高德地图

    # P1 at (354,500, 3,456,500) in UTM 51N: WGS 84 lon/lat, then the GCJ-02 closed form
    wgs = gpd.GeoSeries([Point(X0 + 500, Y0 + 500)], crs=UTM51).to_crs("EPSG:4326")[0]
    lon, lat = wgs84_to_gcj02(wgs.x, wgs.y)
    p1_plain = by_school(circle_markers(plain), overlays(plain))[("Schools – primary", "P1")]
    p1 = by_school(circle_markers(gaode), overlays(gaode))[("Schools – primary", "P1")]
    assert p1_plain["location"] == [round(wgs.y, 6), round(wgs.x, 6)]
    assert p1["location"] == [round(float(lat), 6), round(float(lon), 6)]
    # in Shanghai GCJ-02 lies about 470 m east-south-east... of WGS 84: hundreds of metres
    shift_m = math.hypot((lon - wgs.x) * 111_320 * math.cos(math.radians(wgs.y)),
                         (lat - wgs.y) * 111_320)
    assert 300 < shift_m < 700

    # every zone vertex moves the same way (to within the 1e-6 degree rounding)
    def vertices(text):
        return np.array([xy for data in geojson_layers(text).values() for f in data["features"]
                         for ring in f["geometry"]["coordinates"] for xy in ring])

    before, after = vertices(plain), vertices(gaode)
    assert before.shape == after.shape and len(before) >= 10
    expected = np.column_stack(wgs84_to_gcj02(before[:, 0], before[:, 1]))
    assert np.abs(after - expected).max() < 2e-6
    # the view is fitted to the shifted data
    (s0, w0), _ = fit_bounds(plain)
    (s1, w1), _ = fit_bounds(gaode)
    assert abs(w1 - float(wgs84_to_gcj02(w0, s0)[0])) < 5e-6  # 0.5 m


def test_gaode_scenario_shifts_the_result_layers_too(closed_p2, tmp_path):
    from schoolmap.io.crs import wgs84_to_gcj02

    plain = render_result(tiny_result(closed_p2), tmp_path)
    result = tiny_result(closed_p2, tiles="gaode")
    gaode = render_result_map(result, tmp_path / "gaode.html").read_text(encoding="utf-8")
    assert remote_resources(gaode) == [GAODE_TILES_JSON]
    for name in ("Unserved students – primary", "Unserved (optimal) – primary"):
        before = np.array(square_layers(plain)[name][0]["geometry"]["coordinates"][0])
        after = np.array(square_layers(gaode)[name][0]["geometry"]["coordinates"][0])
        expected = np.column_stack(wgs84_to_gcj02(before[:, 0], before[:, 1]))
        assert np.abs(after - expected).max() < 2e-6
    a = by_school(circle_markers(plain), overlays(plain))[("Seat prices – primary", "P1")]
    b = by_school(circle_markers(gaode), overlays(gaode))[("Seat prices – primary", "P1")]
    lon, lat = wgs84_to_gcj02(a["location"][1], a["location"][0])
    assert abs(b["location"][0] - lat) < 2e-6 and abs(b["location"][1] - lon) < 2e-6


def test_scenario_map_tiles_accepts_gaode_and_rejects_others(tmp_path):
    from schoolmap.errors import ValidationError
    from schoolmap.scenario import load_scenario

    text = ('name = "g"\ndistrict = "d.gpkg"\nbase_year = 2026\n[map]\ntiles = "{}"\n')
    (tmp_path / "g.toml").write_text(text.format("gaode"), encoding="utf-8")
    assert load_scenario(tmp_path / "g.toml").tiles == "gaode"
    (tmp_path / "b.toml").write_text(text.format("baidu"), encoding="utf-8")
    with pytest.raises(ValidationError, match="tiles must be one of OpenStreetMap, none, gaode"):
        load_scenario(tmp_path / "b.toml")


# -- milestone years, new sites, developments -------------------------------------------------


@pytest.fixture
def growing_town(town_layers):
    """Tiny town with 800 homes handed over in 2028 by C3: primary demand peaks in 2030,
    junior in 2033 (base year 2026, horizon 2036)."""
    town_layers["developments"] = gpd.GeoDataFrame(
        {"dev_id": ["D1"], "name": ["<b>Riverside</b> 滨江"], "dwellings": [800],
         "housing_type": ["commodity"], "completion_year": [2028]},
        geometry=[box(500_000 + 1000, 3_500_000, 500_000 + 1200, 3_500_100)], crs=UTM51)
    return district_from_frames(town_layers, source="growing_town")


def test_milestone_years_are_layers_with_that_years_figures(growing_town, tmp_path):
    result = tiny_result(growing_town, levels=("primary", "junior"), methods=("catchment",),
                         horizon=10)
    assert result.simulations["primary"].peak[0] == 2030
    assert result.simulations["junior"].peak[0] == 2033
    text = render_result(result, tmp_path)
    layers = result_overlays(text)
    assert list(layers) == [
        "Catchments – primary", "Schools – primary", "Catchments – junior", "Schools – junior",
        "Schools 2026 (base) – primary", "Schools 2030 (peak) – primary",
        "Schools 2036 (horizon) – primary", "Schools 2026 (base) – junior",
        "Schools 2033 (peak) – junior", "Schools 2036 (horizon) – junior", "Developments",
    ]
    assert [name for name, var in layers.items() if shown(text, var)] == [
        "Catchments – primary", "Schools – primary"]
    markers = by_school(circle_markers(text), layers)
    assert len(markers) == 2 + 1 + 3 * 2 + 3 * 1  # headline layers, then milestones
    # the base year is the catchment allocation: P1 takes 366 pupils in six 大班额 classes
    base = markers[("Schools 2026 (base) – primary", "P1")]
    cells = popup_cells(base["popup"])
    assert cells["Year"] == "2026"
    assert cells["Enrolment (students)"] == "366"
    assert cells["Shortfall"] == "96"
    assert cells["Classes"] == "6" and cells["Large classes (56–65)"] == "6"
    assert cells["Largest class"] == "61"
    assert base["options"]["color"] == "#7b3294" and base["options"]["fillColor"] == "#f46d43"
    assert "2026 · Shortfall: 96" in base["tooltip"]
    # every milestone marker shows its year's simulated figures
    for level, years in (("primary", (2026, 2030, 2036)), ("junior", (2026, 2033, 2036))):
        table = result.simulations[level].by_school
        for (name, school_id), marker in markers.items():
            year = next((y for y in years if name.startswith(f"Schools {y} ")), None)
            if year is None or not name.endswith(level):
                continue
            row = table[(table["year"] == year) & (table["school_id"] == school_id)].iloc[0]
            cells = popup_cells(marker["popup"])
            assert cells["Enrolment (students)"] == f"{round(row['students']):,}"
            assert cells["Shortfall"] == f"{round(row['shortfall']):,}"
            assert cells["Seats"] == f"{round(row['seats']):,}"
            assert cells["Classes needed"] == f"{round(row['classes_needed']):,}"
            for column, label in (("n_classes_le_45", "Classes ≤ 45"),
                                  ("n_classes_46_55", "Classes 46–55"),
                                  ("n_classes_66_plus", "Very large classes (66+)")):
                assert cells[label] == f"{round(row[column]):,}"
    peak = popup_cells(markers[("Schools 2030 (peak) – primary", "P2")]["popup"])
    assert int(peak["Enrolment (students)"]) > 30  # the new homes' children
    assert legend_of(text).count("Milestone years") == 1

    # the development: escaped name, 800 homes in 2028 (1–3 years after 2026: second class)
    (dev,) = [f for d in geojson_layers(text).values() for f in d["features"]
              if "dev_id" in f["properties"]]
    assert dev["properties"] == {"fill": "#66c2a4", "name": "&lt;b&gt;Riverside&lt;/b&gt; 滨江",
                                 "dev_id": "D1", "dwellings": "800", "housing_type": "commodity",
                                 "completion_year": "2028"}
    assert "<b>Riverside" not in text
    assert "Developments by completion" in legend_of(text)


def test_milestone_year_that_is_base_and_peak_has_one_layer_named_in_chinese(town, tmp_path):
    result = tiny_result(town, methods=("catchment",), horizon=5)
    m = shortfall_map(result.schools, tiles=None, lang="zh")
    assert add_milestone_years(m, result.simulations["primary"], town.schools,
                               lang="zh") == [2026, 2031]
    text = render(m, tmp_path)
    assert list(overlays(text)) == ["学校 – 小学", "学校 2026 (基年, 高峰) – 小学",
                                    "学校 2031 (规划末年) – 小学"]
    with pytest.raises(ValueError, match="m must be a map made by"):
        add_milestone_years(folium_map(), result.simulations["primary"], town.schools)


def new_sites() -> gpd.GeoDataFrame:
    """Recommended sites as documented on ScenarioResult.new_sites (two levels)."""
    return gpd.GeoDataFrame(
        {"level": ["primary", "junior", "primary"], "site_id": ["S1", "S2", "G1"],
         "name": ["New Town Primary 新城小学", EVIL_SCHOOL, "Generated 1"],
         "tracks": [4, 6, 2], "classes": [24, 18, 12], "seats": [1080, 900, 540],
         "open_year": [2028, 2030, 2031], "students_served": [950.4, 870.0, 510.0],
         "mean_distance_m": [420.0, 1234.5, np.nan], "source": ["sites", "sites", "generated"],
         "reason": ["<b>950</b> pupils have no seat within 500 m;\nP1 is 130 % full.",
                    "${alert(5)} `x`", None]},
        geometry=[Point(X0 + 1000, Y0 + 1000), Point(X0 + 1500, Y0 + 1200),
                  Point(X0 + 2000, Y0 + 400)],
        crs=UTM51)


def test_new_sites_are_sized_by_seats_with_their_figures_and_reason(schools, tmp_path):
    m = shortfall_map(schools, tiles=None)
    assert add_new_sites(m, None) == 0
    assert add_new_sites(m, new_sites().iloc[:0]) == 0
    assert add_new_sites(m, new_sites()) == 3
    text = render(m, tmp_path)
    layers = overlays(text)
    assert list(layers) == ["Schools – primary", "Schools – junior", "New schools – primary",
                            "New schools – junior"]
    assert not shown(text, layers["New schools – primary"])
    markers = by_school(circle_markers(text), layers)
    s1 = markers[("New schools – primary", "S1")]
    assert s1["options"]["radius"] == round(10 * math.sqrt(1.08), 2)
    assert s1["options"]["fillColor"] == "#2c7bb6" and s1["options"]["dashArray"] == "4 3"
    assert markers[("New schools – primary", "G1")]["options"]["radius"] == round(
        10 * math.sqrt(0.54), 2)
    assert "New school: 1,080 seats · opens 2028" in s1["tooltip"]
    cells = popup_cells(s1["popup"])
    assert cells == {
        "ID": "S1", "Level": "primary", "Tracks": "4", "Classes": "24",
        "Seats": "1,080", "Opens": "2028", "Students served": "950",
        "Mean distance": "420 m", "Site": "candidate site"}
    assert ('<p class="note">&lt;b&gt;950&lt;/b&gt; pupils have no seat within 500 m;<br>'
            "P1 is 130 % full.</p>") in s1["popup"]
    g1 = popup_cells(markers[("New schools – primary", "G1")]["popup"])
    assert g1["Mean distance"] == "—" and g1["Site"] == "generated"
    assert '<p class="note">' not in markers[("New schools – primary", "G1")]["popup"]
    s2 = markers[("New schools – junior", "S2")]
    assert f'<div class="name">{EVIL_SCHOOL_ESCAPED}</div>' in s2["popup"]
    assert "&#36;&#123;alert(5)&#125; &#96;x&#96;" in s2["popup"]
    assert EVIL_SCHOOL not in text and "${alert(5)}" not in text
    legend = legend_of(text)
    assert legend.count("New schools") == 1 and 'stroke-dasharray="3 2"' in legend


def test_new_sites_and_developments_check_their_tables(schools):
    m = shortfall_map(schools, tiles=None)
    with pytest.raises(ValueError, match=r"add_new_sites: 1 problem — new_sites lacks column"
                                         r"\(s\) 'seats'"):
        add_new_sites(m, new_sites().drop(columns="seats"))
    with pytest.raises(TypeError, match="sequence of level names"):
        add_new_sites(m, new_sites(), levels="primary")
    with pytest.raises(ValueError, match="levels: 'prim' not found"):
        add_new_sites(m, new_sites(), levels=["prim"])  # neither standard nor present
    with pytest.raises(ValueError, match="developments lacks column\\(s\\) 'completion_year'"):
        add_developments(m, new_sites(), base_year=2026)
    assert add_developments(m, None, base_year=2026) == 0


def test_developments_are_coloured_by_years_to_completion(schools, tmp_path):
    devs = gpd.GeoDataFrame(
        {"dev_id": ["A", "B", "C", "D", "E"], "dwellings": [100, 2000, 300, 50, 10],
         "completion_year": [2024, 2029, 2031, 2040, np.nan]},
        geometry=[box(X0, Y0, X0 + 200, Y0 + 200), Point(X0 + 300, Y0 + 300),
                  box(X0 + 600, Y0, X0 + 900, Y0 + 100), Point(X0 + 50, Y0 + 900),
                  Point(X0 + 90, Y0 + 90)],
        crs=UTM51)
    m = shortfall_map(schools, tiles=None, lang="zh")
    assert add_developments(m, devs, base_year=2026, lang="zh") == 5
    text = render(m, tmp_path)
    assert list(overlays(text))[-1] == "新建住宅"
    (data,) = [d for d in geojson_layers(text).values()
               if d["features"] and "dev_id" in d["features"][0]["properties"]]
    props = {f["properties"]["dev_id"]: f["properties"] for f in data["features"]}
    assert {k: p["fill"] for k, p in props.items()} == {
        "A": "#ccece6", "B": "#66c2a4", "C": "#238b45", "D": "#00441b", "E": "#bdbdbd"}
    assert props["B"]["dwellings"] == "2,000" and props["E"]["completion_year"] == "—"
    assert props["A"]["name"] == "—"
    # points are drawn as circles (no Leaflet marker image to fetch), in the density pane
    assert re.search(r"_pointToLayer\(feature, latlng\) \{.*?new L\.CircleMarker\(latlng, opts\)",
                     text, re.S)
    assert len(re.findall(r'createPane\(\s*"schoolmap_density"\)', text)) == 1
    legend = legend_of(text)
    assert "2026 年前已交付" in legend and "2033 年及以后" in legend  # a Chinese map: Chinese only
    assert "completed" not in legend and "School shortfall" not in legend


def test_assignment_lines_link_each_cell_to_the_chosen_school(town, tmp_path):
    import dataclasses

    from schoolmap.maps import add_assignment_lines

    result = tiny_result(town, methods=("catchment", "nearest"))
    result.scenario = dataclasses.replace(result.scenario, assignment_lines=("P1", "Z<9>"))
    text = render_result(result, tmp_path)
    layers = result_overlays(text)
    name = "Assignment lines: 城东小学 (P1) – primary"
    assert list(layers)[-1] == name and shown(text, layers[name])
    (data,) = [d for d in geojson_layers(text).values()
               if d["features"] and "distance" in d["features"][0]["properties"]]
    # by catchment P1 (x 100, y 150) takes C1, C2 (112 m away) and C5 (559 m)
    props = {f["properties"]["cell"]: f["properties"] for f in data["features"]}
    assert props == {
        "C1": {"weight": round(1 + 5 * math.sqrt(60 / 300), 2), "cell": "C1", "students": "60",
               "distance": "112 m"},
        "C2": {"weight": 6.0, "cell": "C2", "students": "300", "distance": "112 m"},
        "C5": {"weight": round(1 + 5 * math.sqrt(6 / 300), 2), "cell": "C5", "students": "6",
               "distance": "559 m"},
    }
    school = by_school(circle_markers(text), layers)[("Schools – primary", "P1")]["location"]
    for f in data["features"]:
        (lon0, lat0), (lon1, lat1) = f["geometry"]["coordinates"]
        assert [lat1, lon1] == school
    legend = legend_of(text)
    assert "Assignment lines" in legend
    assert "no school Z&lt;9&gt;." in legend

    alloc = result.allocations[("primary", "catchment")]
    rows = result.schools[result.schools["method"] == "catchment"]
    m = shortfall_map(rows, tiles=None)
    assert add_assignment_lines(m, alloc, rows, result.cells, "P2", lang="zh") == 1  # C3
    with pytest.raises(ValueError, match=r"school 'P9' is not among the 2 schools"):
        add_assignment_lines(m, alloc, rows, result.cells, "P9")
    with pytest.raises(ValueError, match="cells has 4 rows, the allocation 5 cells"):
        add_assignment_lines(m, alloc, rows, result.cells.iloc[:4], "P1")


def test_scenario_map_assignment_lines_are_a_list_of_ids(tmp_path):
    from schoolmap.errors import ValidationError
    from schoolmap.scenario import load_scenario

    text = 'name = "g"\ndistrict = "d.gpkg"\nbase_year = 2026\n[map]\nassignment_lines = {}\n'
    (tmp_path / "a.toml").write_text(text.format('["P01", "J03"]'), encoding="utf-8")
    assert load_scenario(tmp_path / "a.toml").assignment_lines == ("P01", "J03")
    (tmp_path / "b.toml").write_text(text.format('"P01"'), encoding="utf-8")
    with pytest.raises(ValidationError, match="assignment_lines must be a list of school ids"):
        load_scenario(tmp_path / "b.toml")
