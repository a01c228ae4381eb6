"""The planner's shortfall map: schools and catchments on an interactive folium map.

This module only *draws* result tables computed elsewhere (``schoolmap.capacity``); it never
computes planning figures. It is the only module of the package that imports folium.

Public functions:

- :func:`shortfall_map` builds a :class:`folium.Map` with, per school level, a layer of
  catchments coloured by utilisation and a layer of schools sized by seats and coloured by
  shortfall, plus a bilingual legend, an optional title and a layer switcher.
- :func:`add_seat_prices` adds to such a map, per level, the schools of an ``optimal``
  allocation coloured by their seat price (metres of travel one more seat would save).
- :func:`add_unserved` adds to such a map a density layer of the students who got no seat,
  summed over a grid of display squares (500 m by default).
- :func:`write_map` writes such a map to an HTML file atomically.
- :func:`render_result_map` draws a scenario run with all of the above.

Every string that comes from the data (school names, ids, zone names, sectors, levels) and the
title is HTML-escaped before it reaches the page. folium places popup and tooltip content inside
JavaScript template literals (backquoted strings), so backquotes, ``$`` and backslashes are
escaped as HTML character references as well; a school called ``<script>alert(1)</script>`` or
```${alert(1)}``` is shown as text.

Every string from the data is also kept free of ``{`` and ``}`` (written ``&#123;`` and
``&#125;``): folium passes rendered HTML through Jinja a second time, so ``{{ ... }}`` in a school
name would otherwise be evaluated as a template expression while the page is written.

The page works offline: Leaflet's CSS and JavaScript are read from the installed
``xstatic-leaflet`` package and written into the page itself, and none of folium's CDN links
(Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers) is kept, so with ``tiles=None`` the
page loads nothing from the network. With tiles, the tile server is the only remote resource.

The HTML is deterministic except for the element ids folium draws at random (``map_<uuid>``,
``circle_marker_<uuid>``, ...), so two renders of the same data differ only in those ids.
"""

import base64
import functools
import html
import math
import os
import re
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xstatic.pkg.leaflet as xstatic_leaflet
from branca.element import Element, MacroElement
from jinja2.utils import htmlsafe_json_dumps
from shapely.geometry import mapping

from schoolmap.io.crs import wgs84_to_gcj02

__all__ = [
    "add_assignment_lines",
    "add_developments",
    "add_milestone_years",
    "add_new_sites",
    "add_seat_prices",
    "add_unserved",
    "render_result_map",
    "shortfall_map",
    "write_map",
]

#: Levels in display order; other level names found in the data follow, sorted.
LEVEL_ORDER: tuple[str, ...] = ("kindergarten", "primary", "junior", "senior")
LEVEL_NAMES_ZH: dict[str, str] = {
    "kindergarten": "幼儿园",
    "primary": "小学",
    "junior": "初中",
    "senior": "高中",
}

#: Layer names in the layer switcher, per language (``lang`` of the map functions): the kind of
#: layer, then " – " and the level (in Chinese under ``"zh"``).
LAYER_NAMES: dict[str, dict[str, str]] = {
    "en": {"catchments": "Catchments", "schools": "Schools", "seat_prices": "Seat prices",
           "unserved": "Unserved students", "unserved_optimal": "Unserved (optimal)",
           "milestone": "Schools", "new_sites": "New schools", "developments": "Developments",
           "lines": "Assignment lines"},
    "zh": {"catchments": "学区", "schools": "学校", "seat_prices": "学位影子价格",
           "unserved": "未获学位学生", "unserved_optimal": "未获学位学生 (最优分配)",
           "milestone": "学校", "new_sites": "建议新建学校", "developments": "新建住宅",
           "lines": "学生来源连线"},
}
#: Milestone years in the names of their layers, per language.
_MILESTONE_NAMES: dict[str, dict[str, str]] = {
    "en": {"base": "base", "peak": "peak", "horizon": "horizon"},
    "zh": {"base": "基年", "peak": "高峰", "horizon": "规划末年"},
}
_METHOD_NAMES_ZH = {"catchment": "划片", "nearest": "就近", "optimal": "最优分配"}

#: Utilisation (demand / seats, 1.0 = 100 %) class breaks of the catchment colours: a diverging
#: blue–white–red scale with 95–105 % in the middle class (ColorBrewer RdBu, 7 classes).
UTILISATION_BREAKS: tuple[float, ...] = (0.70, 0.85, 0.95, 1.05, 1.15, 1.30)
UTILISATION_COLOURS: tuple[str, ...] = (
    "#2166ac",
    "#67a9cf",
    "#d1e5f0",
    "#f7f7f7",
    "#fddbc7",
    "#ef8a62",
    "#b2182b",
)
UTILISATION_LABELS: tuple[str, ...] = (
    "&lt; 70 %",
    "70–85 %",
    "85–95 %",
    "95–105 %",
    "105–115 %",
    "115–130 %",
    "≥ 130 %",
)

#: Shortfall (seats) class breaks of the school fill colours: no shortfall is green, then
#: under 50 seats (about one class), 50–199 seats, 200 seats and more.
SHORTFALL_BREAKS: tuple[float, ...] = (50.0, 200.0)
SHORTFALL_NONE_COLOUR = "#1a9641"
SHORTFALL_COLOURS: tuple[str, ...] = ("#fdae61", "#f46d43", "#d7191c")
SHORTFALL_LABELS: tuple[str, ...] = (
    "1–49 seats 学位",
    "50–199 seats 学位",
    "≥ 200 seats 学位",
)

#: Seat price (metres of total travel one more seat at the school would save) of the seat-price
#: markers: below ``SEAT_PRICE_ZERO_M`` the price counts as 0 (seats spare, a light neutral
#: grey), then a sequential yellow–orange–red scale (ColorBrewer YlOrRd, 5 classes).
SEAT_PRICE_ZERO_M = 0.5
SEAT_PRICE_ZERO_COLOUR = "#f0f0f0"
SEAT_PRICE_BREAKS_M: tuple[float, ...] = (250.0, 500.0, 1000.0, 2000.0)
SEAT_PRICE_COLOURS: tuple[str, ...] = ("#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")
SEAT_PRICE_LABELS: tuple[str, ...] = (
    "&lt; 250 m",
    "250–500 m",
    "500–1,000 m",
    "1,000–2,000 m",
    "≥ 2,000 m",
)

#: Unserved students are summed over squares of this side (metres, in the cells' CRS) for display.
UNSERVED_SQUARE_M = 500.0
#: Squares holding fewer unserved students than this are rounding noise and not drawn.
UNSERVED_MIN_STUDENTS = 0.01
#: Unserved students per display square: class breaks and colours (the darker five of
#: ColorBrewer RdPu, 6 classes, so the lowest class still shows on pale catchments).
UNSERVED_BREAKS: tuple[float, ...] = (10.0, 25.0, 50.0, 100.0)
UNSERVED_COLOURS: tuple[str, ...] = ("#fcc5c0", "#fa9fb5", "#f768a1", "#c51b8a", "#7a0177")
UNSERVED_LABELS: tuple[str, ...] = (
    "&lt; 10 students 人",
    "10–25 students 人",
    "25–50 students 人",
    "50–100 students 人",
    "≥ 100 students 人",
)

#: Colour of anything whose value is missing (NaN).
NO_DATA_COLOUR = "#bdbdbd"

#: Recommended new schools: fill, dashed ring (colour, width in pixels) and its dash pattern.
NEW_SITE_COLOUR = "#2c7bb6"
NEW_SITE_RING: tuple[str, float] = ("#08306b", 2.5)
NEW_SITE_DASH = "4 3"
#: Colour of the assignment lines (cell → school).
ASSIGNMENT_LINE_COLOUR = "#54278f"
_NEW_SITE_SOURCES = {"sites": "candidate site 备选用地", "generated": "generated 自动生成"}

#: Developments by years from the base year to completion: ≤ 0 (completed), 1–3, 4–6, 7+
#: (ColorBrewer BuGn, 4 of 6 classes).
DEVELOPMENT_BREAKS: tuple[float, ...] = (0.0, 3.0, 6.0)
DEVELOPMENT_COLOURS: tuple[str, ...] = ("#ccece6", "#66c2a4", "#238b45", "#00441b")

#: Ring (outline) of a school marker: (colour, width in pixels).
RING_NORMAL: tuple[str, float] = ("#4d4d4d", 1.0)
RING_LARGE_CLASSES: tuple[str, float] = ("#7b3294", 3.0)  # 大班额, 56–65 students per class
RING_VERY_LARGE_CLASSES: tuple[str, float] = ("#000000", 5.0)  # 超大班额, 66+ students per class

#: Marker radius (pixels) of a school with 1,000 seats; circle area is proportional to seats.
RADIUS_PX_AT_1000_SEATS = 10.0
RADIUS_PX_MIN = 4.0
RADIUS_PX_MAX = 24.0

#: Tolerance (metres) used to simplify catchment boundaries before display.
SIMPLIFY_M = 5.0

#: Basemap tiles of Gaode / AutoNavi (高德地图, street map style 8), served in GCJ-02: with
#: ``tiles="gaode"`` every layer is shifted from WGS 84 to GCJ-02 to line up with them.
GAODE_TILES = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
               "&style=8&x={x}&y={y}&z={z}")
GAODE_ATTRIBUTION = "&copy; 高德地图 AutoNavi (GCJ-02)"
GAODE_SUBDOMAINS = "1234"

_MISSING = "—"
_LEGEND = "schoolmap_legend"  # name of the legend element in the page's HTML
_DENSITY_PANE = "schoolmap_density"  # pane of the unserved squares: above catchments, below schools
_METRES_PER_DEGREE = 111_320.0

_CSS = """<style>
.schoolmap-box {position: fixed; z-index: 1000; background: rgba(255, 255, 255, 0.92);
  border: 1px solid #999; border-radius: 4px; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3);
  font: 12px/1.35 "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei", sans-serif;
  color: #222;}
.schoolmap-title {top: 10px; left: 50%; transform: translateX(-50%); padding: 6px 14px;
  font-size: 16px; font-weight: 600; max-width: 60%; text-align: center;}
.schoolmap-legend {bottom: 44px; left: 10px; padding: 8px 10px; max-width: 260px;
  max-height: calc(100% - 120px); overflow-y: auto;}
.schoolmap-legend summary {cursor: pointer; font-weight: 600;}
.schoolmap-legend h4 {margin: 6px 0 3px 0; font-size: 12px;}
.schoolmap-legend .row {display: flex; align-items: center; margin: 1px 0;}
.schoolmap-legend .swatch {display: inline-block; width: 16px; height: 11px; margin-right: 6px;
  border: 1px solid #777;}
.schoolmap-legend .dot {display: inline-block; width: 11px; height: 11px; margin-right: 6px;
  border-radius: 50%; border: 1px solid #4d4d4d;}
.schoolmap-legend svg {margin-right: 6px;}
.schoolmap-legend .note {margin-top: 5px; color: #555;}
.schoolmap-popup {font: 12px/1.35 "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei",
  sans-serif;}
.schoolmap-popup .name {font-weight: 600; font-size: 13px; margin-bottom: 4px;}
.schoolmap-popup table {border-collapse: collapse;}
.schoolmap-popup th {text-align: left; font-weight: normal; color: #555; padding: 1px 10px 1px 0;
  white-space: nowrap;}
.schoolmap-popup td {text-align: right; padding: 1px 0; white-space: nowrap;}
.schoolmap-popup .lead {margin-bottom: 4px;}
.schoolmap-popup p.note {margin: 6px 0 0 0; max-width: 340px; white-space: normal;}
</style>"""


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def shortfall_map(
    schools: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame | None = None,
    *,
    title: str = "",
    tiles: str | None = "OpenStreetMap",
    levels: Sequence[str] | None = None,
    lang: str = "en",
) -> folium.Map:
    """Draw schools and catchments with their seat shortfall on an interactive map.

    For each level, two layers the planner can switch on and off:

    - ``"Catchments – <level>"``: catchment polygons coloured by utilisation (demand / seats) on
      a diverging scale, blue < 70 %, white 95–105 %, red ≥ 130 %, grey when unknown (e.g. a
      zone with 0 seats). The tooltip gives zone name and id, school id(s), demand, seats,
      shortfall and utilisation.
    - ``"Schools – <level>"``: one circle marker per row, area proportional to seats (radius
      clipped to 4–24 px), filled green without shortfall and orange to red as the shortfall
      grows (< 50, 50–199, ≥ 200 seats); a purple ring marks schools with 大班额 classes
      (56–65 students), a thick black ring schools with 超大班额 classes (66+). The popup lists
      the school's figures.

    Only the first level's layers are shown when the map opens. A legend explains the colours
    and rings in English and Chinese.

    Parameters
    ----------
    schools : geopandas.GeoDataFrame
        Points, one row per school and level served (a nine-year school has a ``primary`` and a
        ``junior`` row), in any CRS (reprojected to EPSG:4326 for display; polygons are drawn at
        their representative point). Required columns: ``school_id``, ``level``. Shown when
        present: ``name``, ``school_type``, ``sector``, ``seats`` (students), ``classes``,
        ``demand`` (students allocated), ``shortfall`` (seats), ``utilisation`` (demand / seats,
        1.0 = 100 %), ``classes_needed``, ``avg_class_size`` (students per class),
        ``n_classes_56_65`` (大班额 classes), ``n_classes_66_plus`` (超大班额 classes),
        ``share_beyond_radius`` (0–1) and ``mean_distance_m`` (metres). Missing values (NaN)
        are shown as "—" and drawn grey. Rows without a location are not drawn; the legend
        says how many. A ``method`` column, if present, must hold a single allocation method.
    zones : geopandas.GeoDataFrame or None, optional
        Catchment polygons in any CRS, with columns ``zone_id`` and ``level`` (required) and
        ``name``, ``school_id`` (several ids separated by ``;``), ``demand`` (students),
        ``seats``, ``shortfall`` (seats), ``utilisation`` (demand / seats). Boundaries are
        simplified with a 5 m tolerance for display; zones without geometry are not drawn.
        ``None`` or empty: no catchment layers.
    title : str, optional
        Title shown at the top of the map and as the page title; empty for none.
    tiles : str or None, optional
        Background tiles, any name :class:`folium.Map` accepts (default ``"OpenStreetMap"``),
        or ``"gaode"`` for Gaode / AutoNavi (高德地图) tiles, which are in GCJ-02: every layer
        of the map, including those added later, is then shifted from WGS 84 to GCJ-02 with
        :func:`schoolmap.io.crs.wgs84_to_gcj02` (a few hundred metres in China) so it lines up
        with the streets. ``None`` gives a plain white background that needs no tile server.
    levels : sequence of str or None, optional
        Levels to draw, in layer order; the first one that has data is shown when the map
        opens. ``None``: every level in the data, kindergarten, primary, junior, senior first.
        A standard level without data is skipped.
    lang : {"en", "zh"}, optional
        Language of the layer names (default English, e.g. ``"学区 – 小学"`` in Chinese); the
        legend and popups are bilingual either way.

    Returns
    -------
    folium.Map
        The map, fitted to the extent of the data. Save it with :func:`write_map`.

    Raises
    ------
    TypeError
        If ``schools`` or ``zones`` is not a GeoDataFrame, or ``levels`` is a single string.
    ValueError
        If a table has no CRS, lacks a required column, has rows without a level or mixes
        allocation methods, or if ``levels`` names a level that is neither standard nor present
        in the data. All problems are reported together.

    Notes
    -----
    The page carries its own copy of Leaflet (about 170 kB, from the ``xstatic-leaflet``
    package) and loads no script or style sheet from the network: with ``tiles=None`` it opens
    and draws without any network access; with tiles, only the tiles come from the tile server.
    Element ids in the HTML are random (folium), so the HTML of two renders differs only in
    those ids.

    Examples
    --------
    A school with no seats yet (utilisation unknown) is drawn grey and shown with "—":

    >>> import pathlib, tempfile
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> schools = gpd.GeoDataFrame(
    ...     {"school_id": ["P1", "P2"], "name": ["Xinhua Primary", "New Town Primary"],
    ...      "level": ["primary", "primary"], "seats": [1080, 0],
    ...      "demand": [1230.0, 310.0], "shortfall": [150.0, 310.0],
    ...      "utilisation": [1230 / 1080, float("nan")]},
    ...     geometry=[Point(354_000, 3_456_000), Point(355_200, 3_456_800)],
    ...     crs="EPSG:32651",
    ... )
    >>> m = shortfall_map(schools, title="Primary seats 2028", tiles=None)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     text = write_map(m, pathlib.Path(tmp) / "shortfall.html").read_text("utf-8")
    >>> text.count("L.circleMarker("), "Xinhua Primary" in text, "tile.openstreetmap" in text
    (2, True, False)
    """
    problems: list[str] = []
    _check_table(schools, "schools", ("school_id", "level"), problems)
    has_zones = zones is not None and _check_table(zones, "zones", ("zone_id", "level"), problems)
    _check_levels_arg(levels)
    if problems:
        raise ValueError(_problem_message(problems))

    gcj02 = isinstance(tiles, str) and tiles.lower() == "gaode"
    school_points = _school_points(schools, gcj02)
    zone_shapes = _zone_shapes(zones, gcj02) if has_zones and zones is not None else None

    present = set(school_points["level"].astype(str))
    if zone_shapes is not None:
        present |= set(zone_shapes["level"].astype(str))
    resolved = _resolve_levels(levels, present)

    located = school_points.geometry.notna() & ~school_points.geometry.is_empty
    n_unlocated = int((~located & school_points["level"].astype(str).isin(resolved)).sum())
    school_points = school_points[located]

    m = folium.Map(location=None, tiles=None if gcj02 else tiles, control_scale=True)
    if gcj02:
        folium.TileLayer(GAODE_TILES, attr=GAODE_ATTRIBUTION, name="高德地图 Gaode",
                         subdomains=GAODE_SUBDOMAINS, max_zoom=18).add_to(m)
    # No CDN links: Leaflet goes into the page itself, and nothing else folium would link
    # (jQuery, Bootstrap, Font Awesome, awesome-markers) is used by this map.
    m.default_js = []
    m.default_css = []
    leaflet_css, leaflet_js = _leaflet_assets()
    root = m.get_root()
    root.header.add_child(_Verbatim(f"<style>{leaflet_css}</style>"), name="leaflet_css", index=0)
    root.header.add_child(_Verbatim(f"<script>{leaflet_js}</script>"), name="leaflet_js", index=1)
    root.header.add_child(Element(_CSS), name="schoolmap_css")
    if tiles is None:  # plain white paper instead of Leaflet's grey, so grey "no data" shows
        root.header.add_child(
            Element("<style>.folium-map.leaflet-container {background: #ffffff;}</style>"),
            name="schoolmap_plain_background",
        )
    if title:
        root.title = _escape(title)

    # Catchments live in a pane below the markers, so a catchment layer switched on later
    # never covers the school markers.
    has_zone_layer = False
    if zone_shapes is not None:
        folium.map.CustomPane("schoolmap_catchments", z_index=350, pointer_events=True).add_to(m)

    first = True
    for level in resolved:
        level_zones = None
        if zone_shapes is not None:
            level_zones = zone_shapes[zone_shapes["level"].astype(str) == level]
        level_schools = school_points[school_points["level"].astype(str) == level]
        level_has_zones = level_zones is not None and len(level_zones) > 0
        if not level_has_zones and len(level_schools) == 0:
            continue
        if level_has_zones:
            assert level_zones is not None
            group = folium.FeatureGroup(name=_layer_name("catchments", level, lang), show=first)
            _add_catchments(group, level_zones)
            group.add_to(m)
            has_zone_layer = True
        if len(level_schools):
            group = folium.FeatureGroup(name=_layer_name("schools", level, lang), show=first)
            _add_schools(group, level_schools)
            group.add_to(m)
        first = False

    folium.LayerControl(collapsed=False).add_to(m)
    if title:
        root.html.add_child(
            Element(f'<div class="schoolmap-box schoolmap-title">{_escape(title)}</div>'),
            name="schoolmap_title",
        )
    legend = _Legend(*_legend_sections(has_zone_layer, n_unlocated), gcj02=gcj02)
    root.html.add_child(legend, name=_LEGEND)

    bounds = _bounds(school_points, zone_shapes, resolved)
    if bounds is not None:
        # keep the data clear of the legend (bottom left) and the title (top)
        m.fit_bounds(bounds, padding_top_left=(300, 60), padding_bottom_right=(20, 20), max_zoom=16)
    return m


def write_map(m: folium.Map, path: str | os.PathLike) -> Path:
    """Write a map to an HTML file atomically.

    The page is rendered in memory, written to a temporary file in the target's folder and
    moved over the target with :func:`os.replace`, so readers never see a half-written file
    and a failed write leaves any previous file untouched.

    Parameters
    ----------
    m : folium.Map
        The map, e.g. from :func:`shortfall_map`.
    path : str or os.PathLike
        Target file (usually ``.html``); its folder must exist. An existing file is replaced.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileNotFoundError
        If the target folder does not exist.
    """
    target = Path(path)
    text = m.get_root().render()
    data = text.encode("utf-8")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open applies the umask, so the file gets the usual permissions (not 0600 as mkstemp).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def add_seat_prices(
    m: folium.Map,
    schools: gpd.GeoDataFrame,
    *,
    levels: Sequence[str] | None = None,
    show: bool = False,
    lang: str = "en",
) -> int:
    """Add, per level, a layer of schools coloured by their seat price (学位影子价格).

    The seat price of a school in an ``optimal`` allocation is the total travel (metres) that
    one more seat there would save: 0 where seats are spare, high where students are pushed
    far away for lack of seats, i.e. where an expansion helps most. Each level gets a layer
    ``"Seat prices – <level>"`` of circle markers, area proportional to seats as on the school
    layers, filled light grey at 0 m ("seats spare") and yellow to dark red as the price grows
    (< 250, 250–500, 500–1,000, 1,000–2,000, ≥ 2,000 m), grey when unknown. The tooltip says
    "one more seat here saves N m of travel"; the popup adds the optimal demand and the seats.
    A section explaining the colours is added to the legend.

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`shortfall_map`.
    schools : geopandas.GeoDataFrame
        Points of one allocation method (normally ``optimal``), one row per school and level,
        in any CRS, with columns ``school_id``, ``level`` and ``seat_price_m`` (metres of
        total travel saved per extra seat). Shown when present: ``name``, ``school_type``,
        ``seats``, ``demand`` (students allocated), ``surplus`` (spare seats) and
        ``mean_distance_m`` (metres). Rows without a location are not drawn.
    levels : sequence of str or None, optional
        Levels to draw, in layer order; ``None``: every level in the data (as in
        :func:`shortfall_map`). A standard level without data is skipped.
    show : bool, optional
        Whether the layers are on when the map opens (default off).
    lang : {"en", "zh"}, optional
        Language of the layer names (as in :func:`shortfall_map`).

    Returns
    -------
    int
        Number of markers drawn (0: no layer added).

    Raises
    ------
    TypeError
        If ``schools`` is not a GeoDataFrame or ``levels`` is a single string.
    ValueError
        If ``m`` was not made by :func:`shortfall_map`, the table has no CRS, lacks a required
        column, has rows without a level or mixes allocation methods, or ``levels`` names a
        level that is neither standard nor present. Table problems are reported together.

    Examples
    --------
    In tiny town's optimal allocation P1 is full and one more seat there would save a pupil
    the 955 m trip to P2 instead of 112 m to P1; P2 has seats spare (price 0, drawn grey):

    >>> import pathlib, tempfile
    >>> from schoolmap.scenario import Scenario, run_scenario
    >>> from schoolmap.testing import tiny_town
    >>> town = tiny_town()
    >>> sc = Scenario(name="t", district=town.source, base_year=2026, levels=("primary",),
    ...               methods=("optimal",))
    >>> result = run_scenario(sc, town)
    >>> optimal = result.schools[result.schools["method"] == "optimal"]
    >>> m = shortfall_map(optimal, tiles=None)
    >>> add_seat_prices(m, optimal)
    2
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     text = write_map(m, pathlib.Path(tmp) / "prices.html").read_text("utf-8")
    >>> "Seat prices" in text, "one more seat here saves 843 m of travel" in text
    (True, True)
    """
    return _add_point_layers(
        m, schools, where="add_seat_prices", what="schools",
        required=("school_id", "level", "seat_price_m"), kind="seat_prices", levels=levels,
        show=show, lang=lang, draw=_add_seat_price_markers, legend_key="seat_prices",
        legend_html=_seat_price_legend,
    )


def add_unserved(
    m: folium.Map,
    cells: gpd.GeoDataFrame,
    column: str,
    *,
    name: str,
    square_m: float = UNSERVED_SQUARE_M,
    show: bool = False,
) -> int:
    """Add a density layer of students who got no seat, summed over display squares.

    Cells are gathered into squares of ``square_m`` metres (a grid aligned on multiples of
    ``square_m`` in the cells' CRS; each cell counts in the square holding its centroid), so a
    district of 50,000 cells gives a few hundred squares at most. Each square with unserved
    students is drawn in a pane above the catchments and below the school markers, coloured
    by students per square (< 10, 10–25, 25–50, 50–100, ≥ 100) on a white–pink–purple scale;
    its tooltip gives the number of students and of cells. A section explaining the colours
    is added to the legend. Nothing is added when no student is unserved.

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`shortfall_map`.
    cells : geopandas.GeoDataFrame
        Polygons or points in a projected CRS in metres (the planning CRS; a geographic CRS
        is projected to its local UTM zone first).
    column : str
        Column of ``cells`` with the students of each cell who got no seat, e.g.
        ``unassigned_primary_catchment`` of a scenario result's cells. Missing values count
        as 0. Cells without geometry are not drawn.
    name : str
        Layer name in the layer switcher, e.g. ``"Unserved students – primary"``.
    square_m : float, optional
        Side of the display squares in metres (default 500).
    show : bool, optional
        Whether the layer is on when the map opens (default off).

    Returns
    -------
    int
        Number of squares drawn (0: no layer added). Squares with fewer than 0.01 unserved
        students (rounding noise) are not drawn.

    Raises
    ------
    TypeError
        If ``cells`` is not a GeoDataFrame.
    ValueError
        If ``m`` was not made by :func:`shortfall_map`, ``cells`` has no CRS or lacks
        ``column``, or ``square_m`` is not a positive number.

    Examples
    --------
    In tiny town every primary pupil gets a seat by catchment, so there is no layer; with P2
    closed, zone ZB's 30 pupils (all in cell C3) have no school:

    >>> from schoolmap.io.district import district_from_frames
    >>> from schoolmap.scenario import Scenario, run_scenario
    >>> from schoolmap.testing import tiny_town_layers
    >>> layers = tiny_town_layers()
    >>> town = district_from_frames(layers, source="tiny_town")
    >>> sc = Scenario(name="t", district=town.source, base_year=2026, levels=("primary",),
    ...               methods=("catchment",))
    >>> result = run_scenario(sc, town)
    >>> m = shortfall_map(result.schools, tiles=None)
    >>> add_unserved(m, result.cells, "unassigned_primary_catchment", name="Unserved")
    0
    >>> layers["schools"].loc[layers["schools"]["school_id"] == "P2", "close_year"] = 2026
    >>> result = run_scenario(sc, district_from_frames(layers, source="tiny_town"))
    >>> float(result.cells["unassigned_primary_catchment"].sum())
    30.0
    >>> m = shortfall_map(result.schools, tiles=None)
    >>> add_unserved(m, result.cells, "unassigned_primary_catchment", name="Unserved")
    1
    """
    legend = _legend_of(m, "add_unserved")
    if not isinstance(square_m, int | float) or not math.isfinite(square_m) or square_m <= 0:
        raise ValueError(f"square_m must be a positive number of metres, got {square_m!r}.")
    problems: list[str] = []
    if not _check_table(cells, "cells", (column,), problems):
        if problems:
            raise ValueError(_problem_message(problems, "add_unserved"))
        return 0
    squares = _unserved_squares(cells, column, float(square_m), legend.gcj02)
    if len(squares) == 0:
        return 0
    _ensure_density_pane(m)
    group = folium.FeatureGroup(name=_escape(name), show=show)
    _add_unserved_squares(group, squares)
    _add_overlay(m, group)
    legend.add_section(f"unserved_{square_m:g}", _unserved_legend(float(square_m)))
    return len(squares)


def add_milestone_years(
    m: folium.Map,
    simulation: Any,
    schools: gpd.GeoDataFrame,
    *,
    show: bool = False,
    lang: str = "en",
) -> list[int]:
    """Add the schools of one level in its milestone years: base, peak and horizon.

    One layer per milestone year, ``"Schools <year> (<milestones>) – <level>"``, e.g.
    ``"Schools 2029 (peak) – junior"``; a year that is two milestones at once (demand peaking
    in the base year) gets one layer, ``"Schools 2026 (base, peak) – primary"``. The markers
    are drawn as on the school layers of :func:`shortfall_map` (area ∝ seats, fill by
    shortfall, 大班额 / 超大班额 rings) from that year's simulated figures; the popup lists the
    year's enrolment, seats, shortfall, utilisation, classes, classes needed, class sizes and
    the class counts per size band. Schools not open in a year are not drawn in its layer.

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`shortfall_map`.
    simulation : schoolmap.simulation.EnrolmentSimulation
        The level's year-by-year enrolment (``ScenarioResult.simulations[level]``): its
        ``by_school`` table (``year``, ``school_id``, ``students``, ``seats``, ``shortfall``,
        ``utilisation``, ``classes``, ``classes_needed``, ``avg_class_size``,
        ``max_class_size``, band counts) and ``district`` table (``year``, ``demand``). The
        base year is its first year, the horizon its last, the peak the year of the largest
        district demand (:attr:`~schoolmap.simulation.EnrolmentSimulation.peak`).
    schools : geopandas.GeoDataFrame
        Where the schools are (e.g. ``District.schools``), any CRS, with ``school_id`` and
        optionally ``name``; one location per ``school_id`` (the first is used).
    show : bool, optional
        Whether the layers are on when the map opens (default off).
    lang : {"en", "zh"}, optional
        Language of the layer names (as in :func:`shortfall_map`).

    Returns
    -------
    list of int
        The years drawn, in order (empty: no school located in any milestone year).

    Raises
    ------
    TypeError
        If ``schools`` is not a GeoDataFrame.
    ValueError
        If ``m`` was not made by :func:`shortfall_map` or ``schools`` has no CRS or no
        ``school_id``.

    Examples
    --------
    Tiny town's primary demand peaks in its base year, so base and peak share a layer:

    >>> from schoolmap.scenario import Scenario, run_scenario
    >>> from schoolmap.testing import tiny_town
    >>> town = tiny_town()
    >>> sc = Scenario(name="t", district=town.source, base_year=2026, horizon=5,
    ...               levels=("primary",), methods=("catchment",))
    >>> result = run_scenario(sc, town)
    >>> m = shortfall_map(result.schools, tiles=None)
    >>> add_milestone_years(m, result.simulations["primary"], town.schools)
    [2026, 2031]
    """
    legend = _legend_of(m, "add_milestone_years")
    problems: list[str] = []
    if not _check_table(schools, "schools", ("school_id",), problems):
        if problems:
            raise ValueError(_problem_message(problems, "add_milestone_years"))
        return []
    by_school = simulation.by_school
    milestones = _milestone_years(simulation)
    places = schools.drop_duplicates("school_id")
    keep = [c for c in ("school_id", "name", places.geometry.name) if c in places.columns]
    places = places[keep].assign(school_id=places["school_id"].astype(str))
    drawn = []
    for year, kinds in milestones.items():
        rows = by_school[by_school["year"] == year].assign(
            school_id=lambda f: f["school_id"].astype(str), level=simulation.level)
        located = gpd.GeoDataFrame(rows.merge(places, on="school_id", how="inner"),
                                   geometry=places.geometry.name, crs=places.crs)
        points = _school_points(located, legend.gcj02)
        points = points[points.geometry.notna() & ~points.geometry.is_empty]
        if len(points) == 0:
            continue
        label = _MILESTONE_NAMES[lang if lang in _MILESTONE_NAMES else "en"]
        detail = f" {year} ({', '.join(label[k] for k in kinds)})"
        group = folium.FeatureGroup(
            name=_layer_name("milestone", simulation.level, lang, detail), show=show)
        _add_schools(group, points.reset_index(drop=True), popup=_milestone_popup,
                     tip_lead=f"{year} · ")
        _add_overlay(m, group)
        drawn.append(int(year))
    if drawn:
        legend.add_section("milestones", _milestone_legend())
    return drawn


def add_new_sites(
    m: folium.Map,
    sites: gpd.GeoDataFrame,
    *,
    levels: Sequence[str] | None = None,
    show: bool = False,
    lang: str = "en",
) -> int:
    """Add, per level, a layer of the recommended new schools (建议新建学校).

    Each site is a blue circle marker with a dashed dark-blue ring, area proportional to its
    seats as on the school layers, in a layer ``"New schools – <level>"``. The tooltip gives
    the seats and the opening year; the popup the name, 轨 (tracks), classes, seats, opening
    year, students served, their mean distance, where the site comes from and the
    plain-language ``reason`` paragraph (all escaped). A legend entry explains the symbol.

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`shortfall_map`.
    sites : geopandas.GeoDataFrame
        ``ScenarioResult.new_sites``: one row per site × level, points (or polygons, drawn at
        a representative point) in any CRS, with ``level`` and ``seats`` (required) and
        ``site_id``, ``name``, ``tracks`` (轨), ``classes``, ``open_year`` (first school year
        the seats are needed), ``students_served``, ``mean_distance_m`` (metres), ``source``
        (``sites``: a candidate site of the district; ``generated``) and ``reason`` (text).
    levels : sequence of str or None, optional
        Levels to draw, in layer order; ``None``: every level in the data.
    show : bool, optional
        Whether the layers are on when the map opens (default off).
    lang : {"en", "zh"}, optional
        Language of the layer names (as in :func:`shortfall_map`).

    Returns
    -------
    int
        Number of sites drawn (0: no layer added, e.g. for ``None`` or an empty table).

    Raises
    ------
    TypeError
        If ``sites`` is neither None nor a GeoDataFrame, or ``levels`` is a single string.
    ValueError
        If ``m`` was not made by :func:`shortfall_map`, or ``sites`` has no CRS, lacks a
        required column or has rows without a level (reported together).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> sites = gpd.GeoDataFrame(
    ...     {"level": ["primary"], "site_id": ["S1"], "name": ["New Town Primary"],
    ...      "tracks": [4], "classes": [24], "seats": [1080], "open_year": [2028],
    ...      "students_served": [950.0], "mean_distance_m": [420.0], "source": ["sites"],
    ...      "reason": ["<b>950</b> pupils of the new town have no seat within 1 km."]},
    ...     geometry=[Point(355_000, 3_456_000)], crs="EPSG:32651")
    >>> m = shortfall_map(sites.assign(school_id=["S1"]), tiles=None)
    >>> add_new_sites(m, sites)
    1
    """
    return _add_point_layers(
        m, sites, where="add_new_sites", what="new_sites", required=("level", "seats"),
        kind="new_sites", levels=levels, show=show, lang=lang, draw=_add_new_site_markers,
        legend_key="new_sites", legend_html=_new_site_legend,
    )


def add_developments(
    m: folium.Map,
    developments: gpd.GeoDataFrame,
    *,
    base_year: int,
    show: bool = False,
    lang: str = "en",
) -> int:
    """Add a layer of the housing developments, coloured by completion year.

    Polygons are drawn as they are (simplified by 5 m), points as small circles, in a pane
    above the catchments and below the school markers, in greens darkening with the years to
    completion: completed by ``base_year``, within 1–3 years, 4–6 years, 7 years or later
    (grey when unknown). The tooltip gives name, id, dwellings (套), housing type and
    completion year. A legend section explains the colours.

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`shortfall_map`.
    developments : geopandas.GeoDataFrame or None
        ``District.developments``: polygons or points in any CRS with ``completion_year``
        (required), ``dev_id``, ``name``, ``dwellings``, ``housing_type``.
    base_year : int
        The school year the colours count from (the scenario's base year).
    show : bool, optional
        Whether the layer is on when the map opens (default off).
    lang : {"en", "zh"}, optional
        Language of the layer name: ``"Developments"`` or ``"新建住宅"``.

    Returns
    -------
    int
        Number of developments drawn (0: no layer added).

    Raises
    ------
    TypeError
        If ``developments`` is neither None nor a GeoDataFrame.
    ValueError
        If ``m`` was not made by :func:`shortfall_map`, or ``developments`` has no CRS or no
        ``completion_year``.
    """
    legend = _legend_of(m, "add_developments")
    if developments is None:
        return 0
    problems: list[str] = []
    if not _check_table(developments, "developments", ("completion_year",), problems):
        if problems:
            raise ValueError(_problem_message(problems, "add_developments"))
        return 0
    shapes = _zone_shapes(developments, legend.gcj02)
    if len(shapes) == 0:
        return 0
    _ensure_density_pane(m)
    if lang not in LAYER_NAMES:
        raise ValueError(f"lang must be one of {', '.join(LAYER_NAMES)}, got {lang!r}")
    group = folium.FeatureGroup(name=_escape(LAYER_NAMES[lang]["developments"]), show=show)
    _add_development_shapes(group, shapes.reset_index(drop=True), int(base_year))
    _add_overlay(m, group)
    legend.add_section("developments", _development_legend(int(base_year)))
    return len(shapes)


def add_assignment_lines(
    m: folium.Map,
    allocation: Any,
    schools: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    school_id: str,
    *,
    show: bool = True,
    lang: str = "en",
) -> int:
    """Add a layer of lines from every cell sending students to one school.

    One straight line per cell → school flow of the allocation (a cell split between schools
    has a line to each), from the cell's representative point to the school, its width
    growing with the students (1–6 px, ∝ √students); the tooltip gives the cell, its students
    going there and the distance. The layer, ``"Assignment lines: <name> (<id>) – <level>"``,
    lies above the catchments and below the school markers; a legend section explains it.

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`shortfall_map`.
    allocation : schoolmap.allocation.Allocation
        Flows of one level and method (``ScenarioResult.allocations[(level, method)]``).
    schools : geopandas.GeoDataFrame
        The allocation's school table in its row order (``Allocation.school`` indexes it), e.g.
        the result's schools of that level and method, with ``school_id`` and ``name``.
    cells : geopandas.GeoDataFrame
        Cells in the allocation's order (``ScenarioResult.cells``), with ``cell_id``.
    school_id : str
        The school whose students are drawn.
    show : bool, optional
        Whether the layer is on when the map opens (default on: it was asked for).
    lang : {"en", "zh"}, optional
        Language of the layer name.

    Returns
    -------
    int
        Number of lines drawn (0: no student goes to the school, no layer).

    Raises
    ------
    ValueError
        If ``m`` was not made by :func:`shortfall_map`, the tables do not match the allocation
        (row counts) or have no CRS, or ``school_id`` is not in ``schools``.

    Examples
    --------
    In tiny town P1 takes the pupils of cells C1, C2 and C5 by catchment:

    >>> from schoolmap.scenario import Scenario, run_scenario
    >>> from schoolmap.testing import tiny_town
    >>> town = tiny_town()
    >>> sc = Scenario(name="t", district=town.source, base_year=2026, horizon=0,
    ...               levels=("primary",), methods=("catchment",))
    >>> result = run_scenario(sc, town)
    >>> m = shortfall_map(result.schools, tiles=None)
    >>> add_assignment_lines(m, result.allocations[("primary", "catchment")], result.schools,
    ...                      result.cells, "P1")
    3
    """
    legend = _legend_of(m, "add_assignment_lines")
    problems: list[str] = []
    _check_table(schools, "schools", ("school_id",), problems)
    _check_table(cells, "cells", (), problems)
    if len(schools) != allocation.n_schools:
        problems.append(f"schools has {len(schools)} rows, the allocation {allocation.n_schools}"
                        " schools: pass the allocation's school table in its order")
    if len(cells) != len(allocation.demand_by_cell):
        problems.append(f"cells has {len(cells)} rows, the allocation "
                        f"{len(allocation.demand_by_cell)} cells")
    ids = schools["school_id"].astype(str).to_numpy() if "school_id" in schools else []
    if len(ids) and str(school_id) not in set(ids):
        problems.append(f"school {school_id!r} is not among the {len(ids)} schools of the "
                        f"allocation (e.g. {', '.join(map(repr, ids[:3]))})")
    if problems:
        raise ValueError(_problem_message(problems, "add_assignment_lines"))
    row = int(np.flatnonzero(ids == str(school_id))[0])
    flows = np.flatnonzero(allocation.school == row)
    if len(flows) == 0:
        return 0
    from_xy = cells.geometry.representative_point().to_numpy()[allocation.cell[flows]]
    to_point = schools.geometry.iloc[[row]].to_crs(cells.crs)
    to_point = shapely.point_on_surface(to_point.to_numpy()[0])
    lines = shapely.linestrings(
        [[(p.x, p.y), (to_point.x, to_point.y)] for p in from_xy])
    shapes = _lonlat(gpd.GeoSeries(lines, crs=cells.crs), legend.gcj02)
    students = allocation.students[flows]
    cell_ids = _column(cells, "cell_id")
    top = float(students.max())
    properties = [
        {"weight": round(1.0 + 5.0 * math.sqrt(s / top), 2) if top > 0 else 1.0,
         "cell": _text(cell_ids[c]), "students": _fmt_students(s), "distance": _fmt_metres(d)}
        for c, s, d in zip(allocation.cell[flows], students, allocation.distance_m[flows],
                           strict=True)
    ]
    labels = {"cell": "Cell 网格", "students": "Students 学生 (人)",
              "distance": "Distance 距离"}
    _ensure_density_pane(m)
    name = _row_values(schools, row)[0]("name")
    label = f"{'' if _is_missing(name) else str(name) + ' '}({school_id})"
    level = str(getattr(allocation, "level", ""))
    group = folium.FeatureGroup(name=_layer_name("lines", level, lang, f": {label}"), show=show)
    _add_geojson(group, shapes, properties, labels, _line_style, _DENSITY_PANE)
    _add_overlay(m, group)
    legend.add_section("lines", _lines_legend())
    return len(flows)


# --------------------------------------------------------------------------------------------
# The page's own copy of Leaflet
# --------------------------------------------------------------------------------------------


@functools.cache
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's CSS and JavaScript from the installed xstatic-leaflet package.

    The images the CSS refers to (layer-switcher icon, default marker) become ``data:`` URIs,
    and the source-map comment is dropped, so the page refers to no file beside it.
    """
    folder = Path(xstatic_leaflet.BASE_DIR)

    def data_uri(match: re.Match[str]) -> str:
        png = base64.b64encode((folder / match.group(1)).read_bytes()).decode("ascii")
        return f'url("data:image/png;base64,{png}")'

    css = (folder / "leaflet.css").read_text(encoding="utf-8")
    css = re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)
    js = (folder / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)
    return css, js


class _Verbatim(Element):
    """Text written into the page as it is (branca's Element would parse it as a template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class _Popup(MacroElement):
    """A popup bound to its parent layer, its HTML handed to Leaflet as a string.

    folium's Popup turns the HTML into a DOM node with jQuery (``$(`...`)[0]``), which would
    put jQuery back on the page. Leaflet keeps a string until the popup first opens, so this
    is as lazy as folium's ``lazy=True``. Data in ``html_text`` must already be escaped with
    ``_escape``; backquotes, ``${`` and backslashes of the markup itself are escaped here.
    """

    _method = "bindPopup"

    def __init__(self, html_text: str, max_width: int = 0) -> None:
        super().__init__()
        self._name = self._method
        self.html_text = html_text
        self.max_width = max_width

    def _options(self) -> str:
        return f'{{"maxWidth": {int(self.max_width)}}}'

    def render(self, **kwargs: Any) -> None:
        literal = self.html_text.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")
        self.get_root().script.add_child(
            _Verbatim(f"{self._parent.get_name()}.{self._method}(`{literal}`, "
                      f"{self._options()});\n"),
            name=self.get_name(),
        )


class _CircleMarker(folium.CircleMarker):
    """folium's CircleMarker, its script written without compiling a Jinja template per marker
    (the same script as folium's: location and options as HTML-safe JSON, keys sorted)."""

    def render(self, **kwargs: Any) -> None:
        location = htmlsafe_json_dumps(self.location, sort_keys=True)
        options = htmlsafe_json_dumps(self.options, sort_keys=True)
        self.get_root().script.add_child(
            _Verbatim(f"var {self.get_name()} = L.circleMarker(\n    {location},\n    {options}\n)"
                      f".addTo({self._parent.get_name()});\n"),
            name=self.get_name(),
        )
        for child in self._children.values():
            child.render(**kwargs)


class _Tooltip(_Popup):
    """A sticky tooltip bound to its parent layer, written as it is (as :class:`_Popup`).

    It writes what ``folium.Tooltip(html_text, sticky=True)`` writes, without compiling a
    Jinja template per marker: a district's thousands of markers render several times faster.
    """

    _method = "bindTooltip"

    def __init__(self, html_text: str) -> None:
        super().__init__(f"<div>{html_text}</div>")

    def _options(self) -> str:
        return '{"sticky": true}'


# --------------------------------------------------------------------------------------------
# Input checks and preparation
# --------------------------------------------------------------------------------------------


def _check_table(frame: object, what: str, required: Sequence[str], problems: list[str]) -> bool:
    """Record every problem of one input table in ``problems``; True if it has rows to draw."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(
            f"{what} must be a geopandas.GeoDataFrame, got {type(frame).__name__}; build one "
            f"with geopandas.GeoDataFrame(df, geometry=..., crs=...)."
        )
    if len(frame) == 0:  # an empty table draws nothing, whatever its columns
        return False
    ok = True
    if frame.active_geometry_name not in frame.columns:
        problems.append(f"{what} has no active geometry column; set one with {what}.set_geometry")
        ok = False
    elif frame.crs is None:
        problems.append(f"{what} has no CRS; set it with {what}.set_crs(...) (e.g. EPSG:32651)")
        ok = False
    missing = [c for c in required if c not in frame.columns]
    if missing:
        problems.append(f"{what} lacks column(s) {', '.join(map(repr, missing))}")
        ok = False
    elif "level" in required:
        no_level = np.flatnonzero(frame["level"].isna().to_numpy())
        if len(no_level):
            rows = ", ".join(str(i) for i in no_level[:5]) + (", ..." if len(no_level) > 5 else "")
            problems.append(f"{what} has {len(no_level)} row(s) without a level (rows {rows})")
            ok = False
    if "method" in frame.columns:  # result tables of schoolmap.capacity carry the method
        methods = sorted(map(str, frame["method"].dropna().unique()))
        if len(methods) > 1:
            problems.append(
                f"{what} holds results of {len(methods)} allocation methods "
                f"({', '.join(methods)}), so every school would be drawn once per method; "
                f"map one, e.g. {what}[{what}['method'] == {methods[0]!r}]"
            )
            ok = False
    return ok


def _problem_message(problems: list[str], where: str = "shortfall_map") -> str:
    count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
    return f"{where}: {count} — " + "; ".join(problems) + "."


def _add_point_layers(
    m: folium.Map,
    table: gpd.GeoDataFrame | None,
    *,
    where: str,
    what: str,
    required: Sequence[str],
    kind: str,
    levels: Sequence[str] | None,
    show: bool,
    lang: str,
    draw: Callable[[folium.FeatureGroup, gpd.GeoDataFrame], None],
    legend_key: str,
    legend_html: Callable[[], str],
) -> int:
    """Check ``table`` (named ``what`` in messages of ``where``), then per level draw its
    rows with ``draw(group, points)`` in a layer named by ``kind``; explain them once in the
    legend. Returns the number of rows drawn."""
    legend = _legend_of(m, where)
    _check_levels_arg(levels)
    if table is None:
        return 0
    problems: list[str] = []
    if not _check_table(table, what, required, problems):
        if problems:
            raise ValueError(_problem_message(problems, where))
        return 0
    points = _school_points(table, legend.gcj02)
    resolved = _resolve_levels(levels, set(points["level"].astype(str)))
    points = points[points.geometry.notna() & ~points.geometry.is_empty]
    n_drawn = 0
    for level in resolved:
        level_points = points[points["level"].astype(str) == level].reset_index(drop=True)
        if len(level_points) == 0:
            continue
        group = folium.FeatureGroup(name=_layer_name(kind, level, lang), show=show)
        draw(group, level_points)
        _add_overlay(m, group)
        n_drawn += len(level_points)
    if n_drawn:
        legend.add_section(legend_key, legend_html())
    return n_drawn


def _check_levels_arg(levels: object) -> None:
    if isinstance(levels, str):
        raise TypeError(
            f"levels must be a sequence of level names such as ['primary'], not the string "
            f"{levels!r}."
        )


def _ensure_density_pane(m: folium.Map) -> None:
    """The pane above the catchments and below the school markers (unserved squares,
    developments), created once per map."""
    if not any(
        isinstance(child, folium.map.CustomPane) and child.name == _DENSITY_PANE
        for child in m._children.values()
    ):
        folium.map.CustomPane(_DENSITY_PANE, z_index=380, pointer_events=True).add_to(m)


def _add_overlay(m: folium.Map, group: folium.FeatureGroup) -> None:
    """Add a layer to a finished map, keeping the layer switcher after every layer: its script
    refers to the layers' variables, which must be defined before it runs."""
    group.add_to(m)
    for key in [k for k, child in m._children.items() if isinstance(child, folium.LayerControl)]:
        m._children[key] = m._children.pop(key)


def _layer_name(kind: str, level: str, lang: str, detail: str = "") -> str:
    """Escaped layer name, e.g. ``Schools – primary``, ``学校 – 小学`` or, with ``detail``
    after the kind, ``Schools 2029 (peak) – junior``."""
    if lang not in LAYER_NAMES:
        raise ValueError(f"lang must be one of {', '.join(LAYER_NAMES)}, got {lang!r}")
    shown = LEVEL_NAMES_ZH.get(level, level) if lang == "zh" else level
    return _escape(f"{LAYER_NAMES[lang][kind]}{detail} – {shown}")


def _legend_of(m: object, where: str) -> "_Legend":
    """The legend of a map made by :func:`shortfall_map` (the layers added explain themselves
    there and rely on its style sheet)."""
    legend = None
    if isinstance(m, folium.Map):
        legend = m.get_root().html._children.get(_LEGEND)
    if not isinstance(legend, _Legend):
        raise ValueError(
            f"{where}: m must be a map made by schoolmap.maps.shortfall_map, got "
            f"{type(m).__name__}; draw the schools first, e.g. m = shortfall_map(schools)."
        )
    return legend


def _resolve_levels(requested: Sequence[str] | None, present: set[str]) -> list[str]:
    """Levels to draw, in order: the requested ones, or every level in the data."""
    if requested is None:
        known = [level for level in LEVEL_ORDER if level in present]
        return known + sorted(present - set(LEVEL_ORDER))
    wanted = list(dict.fromkeys(str(level) for level in requested))
    unknown = [level for level in wanted if level not in present and level not in LEVEL_ORDER]
    if unknown:
        found = ", ".join(sorted(present)) or "none"
        raise ValueError(
            f"levels: {', '.join(map(repr, unknown))} not found in schools or zones "
            f"(levels found: {found}); standard levels are {', '.join(LEVEL_ORDER)}."
        )
    return [level for level in wanted if level in present]


def _metres_to_crs_units(crs: Any, metres: float) -> float:
    """Express a length in metres in the horizontal units of ``crs`` (degrees: approximately)."""
    if crs.is_geographic:
        return metres / _METRES_PER_DEGREE
    factor = None
    if crs.axis_info:
        factor = crs.axis_info[0].unit_conversion_factor
    return metres / factor if factor else metres


def _lonlat(geoms: gpd.GeoSeries, gcj02: bool = False) -> gpd.GeoSeries:
    """Geometries as drawn: lon/lat in EPSG:4326 rounded to 1e-6 degrees (about 0.1 m),
    shifted from WGS 84 to GCJ-02 first when ``gcj02`` (layers over Gaode tiles)."""

    def shift(xy: np.ndarray) -> np.ndarray:
        if gcj02:
            xy = np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
        return np.round(xy, 6)

    out = geoms.to_crs("EPSG:4326")
    arr = out.to_numpy().copy()
    keep = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    arr[keep] = shapely.transform(arr[keep], shift)
    return gpd.GeoSeries(arr, index=out.index, crs="EPSG:4326")


def _school_points(schools: gpd.GeoDataFrame, gcj02: bool = False) -> gpd.GeoDataFrame:
    """Schools as points in display lon/lat (:func:`_lonlat`); polygons are replaced by their
    representative point."""
    if len(schools) == 0:
        return gpd.GeoDataFrame(
            {"level": pd.Series([], dtype=object)}, geometry=gpd.GeoSeries([], crs="EPSG:4326")
        )
    geom = schools.geometry
    is_point = geom.geom_type.isin(["Point"]).to_numpy()
    usable = (geom.notna() & ~geom.is_empty).to_numpy()
    arr = geom.to_numpy().copy()
    to_point = usable & ~is_point
    if to_point.any():
        arr[to_point] = shapely.point_on_surface(arr[to_point])
    points = gpd.GeoSeries(arr, index=schools.index, crs=schools.crs)
    if schools.crs is not None:
        points = _lonlat(points, gcj02)
    return gpd.GeoDataFrame(schools.drop(columns=geom.name), geometry=points)


def _zone_shapes(zones: gpd.GeoDataFrame, gcj02: bool = False) -> gpd.GeoDataFrame:
    """Zones simplified (5 m) in their own CRS, then in display lon/lat (:func:`_lonlat`)."""
    geom = zones.geometry
    arr = geom.to_numpy().copy()
    # GeometryCollections would make folium warn; keep their polygonal parts.
    for i, g in enumerate(arr):
        if g is not None and g.geom_type == "GeometryCollection":
            parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
            arr[i] = shapely.union_all(parts) if parts else None
    usable = np.array([g is not None and not g.is_empty for g in arr], dtype=bool)
    tolerance = _metres_to_crs_units(zones.crs, SIMPLIFY_M)
    arr[usable] = shapely.simplify(arr[usable], tolerance, preserve_topology=True)
    rounded = _lonlat(gpd.GeoSeries(arr, index=zones.index, crs=zones.crs), gcj02).to_numpy()
    keep = np.array([g is not None and not g.is_empty for g in rounded], dtype=bool)
    out = gpd.GeoDataFrame(
        zones.drop(columns=geom.name),
        geometry=gpd.GeoSeries(rounded, index=zones.index, crs="EPSG:4326"),
    )
    return out[keep]


def _bounds(
    points: gpd.GeoDataFrame, zones: gpd.GeoDataFrame | None, levels: list[str]
) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` (degrees) of the drawn data, or None if nothing."""
    boxes = []
    drawn = points[points["level"].astype(str).isin(levels)]
    if len(drawn):
        boxes.append(drawn.total_bounds)
    if zones is not None:
        drawn_zones = zones[zones["level"].astype(str).isin(levels)]
        if len(drawn_zones):
            boxes.append(drawn_zones.total_bounds)
    if not boxes:
        return None
    b = np.vstack(boxes)
    west, south = float(b[:, 0].min()), float(b[:, 1].min())
    east, north = float(b[:, 2].max()), float(b[:, 3].max())
    return [[south, west], [north, east]]


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


def _add_catchments(group: folium.FeatureGroup, zones: gpd.GeoDataFrame) -> None:
    """Add the zones of one level as one GeoJson layer with escaped tooltip fields."""
    util = _numeric(zones, "utilisation")
    names = _column(zones, "name")
    zone_ids = _column(zones, "zone_id")
    school_ids = _column(zones, "school_id")
    demand = _numeric(zones, "demand")
    seats = _numeric(zones, "seats")
    shortfall = _numeric(zones, "shortfall")
    properties = []
    for i in range(len(zones)):
        ids = school_ids[i]
        if ids is not None:
            ids = "; ".join(part.strip() for part in str(ids).split(";") if part.strip())
        properties.append({
            "fill": _utilisation_colour(util[i]),
            "name": _text(names[i]),
            "zone_id": _text(zone_ids[i]),
            "school_id": _text(ids),
            "demand": _fmt_int(demand[i]),
            "seats": _fmt_int(seats[i]),
            "shortfall": _fmt_int(shortfall[i]),
            "utilisation": _fmt_pct(util[i]),
        })
    labels = {"name": "Zone 学区", "zone_id": "Zone ID 学区编号", "school_id": "School(s) 学校",
              "demand": "Demand 需求 (students 人)", "seats": "Seats 学位",
              "shortfall": "Shortfall 学位缺口", "utilisation": "Utilisation 使用率"}
    _add_geojson(group, zones.geometry, properties, labels, _zone_style, "schoolmap_catchments")


def _add_geojson(
    group: folium.FeatureGroup,
    geoms: gpd.GeoSeries,
    properties: list[dict[str, str]],
    labels: dict[str, str],
    style: Callable[[dict], dict],
    pane: str,
    marker: folium.CircleMarker | None = None,
) -> None:
    """Add shapes as one GeoJson layer: per shape its ``properties`` (escaped, with the
    ``fill`` colour ``style`` reads), a sticky tooltip of the ``labels`` fields (field →
    label), drawn in ``pane``; points as ``marker`` when given."""
    features = [
        {"type": "Feature", "id": i, "geometry": mapping(geom), "properties": props}
        for i, (geom, props) in enumerate(zip(geoms, properties, strict=True))
    ]
    tooltip = folium.GeoJsonTooltip(fields=list(labels), aliases=list(labels.values()),
                                    sticky=True)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        style_function=style,
        highlight_function=_zone_highlight,
        tooltip=tooltip,
        marker=marker,
        control=False,
        pane=pane,
    ).add_to(group)


def _zone_style(feature: dict) -> dict:
    return {
        "fillColor": feature["properties"]["fill"],
        "fillOpacity": 0.6,
        "color": "#555555",
        "weight": 0.8,
        "opacity": 0.9,
    }


def _zone_highlight(feature: dict) -> dict:
    return {"weight": 2.5, "color": "#222222", "fillOpacity": 0.75}


def _add_schools(
    group: folium.FeatureGroup,
    schools: gpd.GeoDataFrame,
    popup: Callable[[dict[str, list], int], str] | None = None,
    tip_lead: str = "",
) -> None:
    """Add one circle marker per school row, filled by shortfall, ringed by oversized classes.

    ``popup(schools, i)`` gives the popup HTML (default :func:`_school_popup`); ``tip_lead``
    (escaped HTML) starts the tooltip's second line."""
    popup = popup or _school_popup
    shortfall = _numeric(schools, "shortfall")
    utilisation = _numeric(schools, "utilisation")
    large = _numeric(schools, "n_classes_56_65")
    very_large = _numeric(schools, "n_classes_66_plus")

    def style(i: int) -> dict[str, Any]:
        ring_colour, ring_width = _ring_style(large[i], very_large[i])
        return {"color": ring_colour, "weight": ring_width, "fill_opacity": 0.85,
                "fill_color": _shortfall_colour(shortfall[i])}

    def tip(i: int) -> str:
        return (f"{tip_lead}Shortfall 学位缺口: {_fmt_int(shortfall[i])} · "
                f"Utilisation 使用率: {_fmt_pct(utilisation[i])}")

    columns = _columns(schools)
    _add_markers(group, schools, style, tip, lambda i: popup(columns, i))


def _add_markers(
    group: folium.FeatureGroup,
    points: gpd.GeoDataFrame,
    style: Callable[[int], dict[str, Any]],
    tip: Callable[[int], str],
    popup: Callable[[int], str],
    max_width: int = 360,
) -> None:
    """One circle marker per row of ``points`` (``name``, ``school_id`` or ``site_id``,
    ``seats``), area ∝ seats, larger first so small ones stay on top. ``style(i)`` gives the
    marker's colours, ``tip(i)`` the tooltip's line under the name and id, ``popup(i)`` the
    popup HTML (all escaped)."""
    seats = _numeric(points, "seats")
    order = np.argsort(-np.nan_to_num(seats, nan=-1.0), kind="stable")
    names = _column(points, "name")
    ids = _column(points, "school_id" if "school_id" in points.columns else "site_id")
    geoms = points.geometry.to_numpy()
    for i in order:
        marker = _CircleMarker(
            location=[round(geoms[i].y, 6), round(geoms[i].x, 6)],
            radius=_marker_radius(seats[i]),
            opacity=1.0,
            fill=True,
            **style(i),
        )
        marker.add_child(_Tooltip(f"<b>{_text(names[i])}</b> ({_text(ids[i])})<br>{tip(i)}"))
        marker.add_child(_Popup(popup(i), max_width=max_width))
        marker.add_to(group)


def _row_values(schools: pd.DataFrame | dict[str, list], i: int) -> tuple[Any, Any]:
    """Accessors of row ``i``: ``get(column)`` (None when absent) and ``num(column)`` (float).

    ``schools`` is a frame, or its :func:`_columns` (much faster for a popup per row)."""
    if isinstance(schools, pd.DataFrame):
        row = schools.iloc[i]

        def get(column: str) -> Any:
            return row[column] if column in schools.columns else None
    else:

        def get(column: str) -> Any:
            values = schools.get(column)
            return None if values is None else values[i]

    def num(column: str) -> float:
        return _to_float(get(column))

    return get, num


def _popup_html(name: str, rows: list[tuple[str, str]], lead: str = "", note: str = "") -> str:
    """A popup: escaped name, an optional lead line, a label/value table (values ready) and
    an optional paragraph below it (escaped)."""
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    lead_html = f'<div class="lead">{lead}</div>' if lead else ""
    note_html = f'<p class="note">{note}</p>' if note else ""
    return (f'<div class="schoolmap-popup"><div class="name">{name}</div>{lead_html}'
            f"<table>{body}</table>{note_html}</div>")


def _school_popup(schools: pd.DataFrame | dict[str, list], i: int) -> str:
    """HTML table of one school row; every value escaped."""
    rows = _popup_rows(schools, i, (
        "school_id", "level", "school_type", "sector", "seats", "classes", "demand",
        "shortfall", "utilisation", "classes_needed", "avg_class_size", "n_classes_56_65",
        "n_classes_66_plus", "share_beyond_radius", "mean_distance_m"))
    return _popup_html(_text(_row_values(schools, i)[0]("name")), rows)


def _columns(frame: pd.DataFrame) -> dict[str, list]:
    """A frame's columns as lists, to read many rows cell by cell (see :func:`_row_values`)."""
    return {str(column): frame[column].tolist() for column in frame.columns}


def _popup_rows(
    frame: pd.DataFrame | dict[str, list], i: int, fields: Sequence[str | tuple[str, str]]
) -> list[tuple[str, str]]:
    """(label, formatted value) of row ``i`` for ``fields``: column names of
    :data:`_POPUP_FIELDS`, or (column, label) to relabel one."""
    get, _ = _row_values(frame, i)
    rows = []
    for field in fields:
        column, label = field if isinstance(field, tuple) else (field, None)
        default_label, fmt = _POPUP_FIELDS[column]
        rows.append((label or default_label, fmt(get(column))))
    return rows


def _add_seat_price_markers(group: folium.FeatureGroup, schools: gpd.GeoDataFrame) -> None:
    """One circle marker per school row coloured by seat price; larger schools first."""
    prices = _numeric(schools, "seat_price_m")
    columns = _columns(schools)
    _add_markers(
        group, schools,
        lambda i: {"color": RING_NORMAL[0], "weight": RING_NORMAL[1], "fill_opacity": 0.9,
                   "fill_color": _seat_price_colour(prices[i])},
        lambda i: _seat_price_sentence(prices[i]),
        lambda i: _seat_price_popup(columns, i),
    )


def _seat_price_sentence(price_m: float) -> str:
    """What a seat price means, in English and Chinese (HTML)."""
    if math.isnan(price_m):
        return f"Seat price 学位影子价格: {_MISSING}"
    saved = _fmt_metres(price_m if price_m >= SEAT_PRICE_ZERO_M else 0.0)
    spare = " (seats spare 学位有余)" if price_m < SEAT_PRICE_ZERO_M else ""
    return (
        f"Seat price 学位影子价格: one more seat here saves {saved} of travel{spare}<br>"
        f"此处每增加一个学位, 总通学距离减少 {saved}"
    )


def _seat_price_popup(schools: pd.DataFrame | dict[str, list], i: int) -> str:
    """HTML of one school's seat price and optimal figures; every value escaped."""
    get, num = _row_values(schools, i)
    rows = _popup_rows(schools, i, (
        "school_id", "level", "school_type", "seat_price_m",
        ("demand", "Demand, optimal 最优分配需求 (students 人)"), "seats", "surplus",
        "mean_distance_m"))
    return _popup_html(_text(get("name")), rows, lead=_seat_price_sentence(num("seat_price_m")))


def _milestone_years(simulation: Any) -> dict[int, list[str]]:
    """Milestone years of a simulation: year → ``base``, ``peak``, ``horizon`` (in order)."""
    years = simulation.district["year"].astype(int)
    out: dict[int, list[str]] = {}
    for kind, year in (("base", int(years.min())), ("peak", simulation.peak[0]),
                       ("horizon", int(years.max()))):
        out.setdefault(int(year), []).append(kind)
    return dict(sorted(out.items()))


def _milestone_popup(schools: pd.DataFrame | dict[str, list], i: int) -> str:
    """HTML of one school's figures in a milestone year; every value escaped."""
    rows = _popup_rows(schools, i, (
        "school_id", "level", "year", "students", "seats", "shortfall", "utilisation",
        "classes", "classes_needed", "avg_class_size", "max_class_size", "n_classes_le_45",
        "n_classes_46_55", "n_classes_56_65", "n_classes_66_plus"))
    return _popup_html(_text(_row_values(schools, i)[0]("name")), rows)


def _milestone_legend() -> str:
    return (
        "<h4>Milestone years 关键年份</h4>"
        '<div class="note">Schools in the base year, the year demand peaks and the horizon '
        "基年、需求高峰年与规划末年的学校; colours and rings as above 颜色与圆环同上.</div>"
    )


def _add_new_site_markers(group: folium.FeatureGroup, sites: gpd.GeoDataFrame) -> None:
    """One dashed blue circle marker per recommended site; larger sites first."""
    seats = _numeric(sites, "seats")
    open_year = _numeric(sites, "open_year")
    columns = _columns(sites)
    _add_markers(
        group, sites,
        lambda i: {"color": NEW_SITE_RING[0], "weight": NEW_SITE_RING[1], "fill_opacity": 0.75,
                   "dash_array": NEW_SITE_DASH, "fill_color": NEW_SITE_COLOUR},
        lambda i: (f"New school 建议新建: {_fmt_int(seats[i])} seats 学位 · "
                   f"opens 开办 {_fmt_year(open_year[i])}"),
        lambda i: _new_site_popup(columns, i),
        max_width=380,
    )


def _new_site_popup(sites: pd.DataFrame | dict[str, list], i: int) -> str:
    """HTML of one recommended site with its reason paragraph; every value escaped."""
    get, _ = _row_values(sites, i)
    rows = _popup_rows(sites, i, (
        "site_id", "level", "tracks", "classes", "seats", ("open_year", "Opens 开办年份"),
        "students_served", "mean_distance_m", "source"))
    reason = get("reason")
    note = "" if _is_missing(reason) else _escape(reason).replace("\n", "<br>")
    return _popup_html(_text(get("name")), rows, note=note)


def _new_site_legend() -> str:
    ring, width = NEW_SITE_RING
    svg = ('<svg width="18" height="18" viewBox="0 0 18 18">'
           f'<circle cx="9" cy="9" r="{8 - width / 2:g}" fill="{NEW_SITE_COLOUR}" '
           f'stroke="{ring}" stroke-width="{width:g}" stroke-dasharray="3 2"/></svg>')
    return ("<h4>New schools 建议新建学校</h4>"
            + _legend_row(svg, "recommended site, area ∝ seats 建议选址, 面积与学位数成正比"))


def _development_colour(completion_year: float, base_year: int) -> str:
    """Fill colour of a development by years from ``base_year`` to completion."""
    if math.isnan(completion_year):
        return NO_DATA_COLOUR
    index = int(np.searchsorted(DEVELOPMENT_BREAKS, completion_year - base_year, side="left"))
    return DEVELOPMENT_COLOURS[index]


def _add_development_shapes(
    group: folium.FeatureGroup, shapes: gpd.GeoDataFrame, base_year: int
) -> None:
    """Add the developments as one GeoJson layer (points as circles) with an escaped tooltip."""
    years = _numeric(shapes, "completion_year")
    dwellings = _numeric(shapes, "dwellings")
    names = _column(shapes, "name")
    ids = _column(shapes, "dev_id")
    types = _column(shapes, "housing_type")
    properties = [
        {
            "fill": _development_colour(years[i], base_year),
            "name": _text(names[i]),
            "dev_id": _text(ids[i]),
            "dwellings": _fmt_int(dwellings[i]),
            "housing_type": _text(types[i]),
            "completion_year": _fmt_year(years[i]),
        }
        for i in range(len(shapes))
    ]
    labels = {"name": "Development 住宅项目", "dev_id": "ID 编号",
              "dwellings": "Dwellings 住宅 (套)", "housing_type": "Type 类型",
              "completion_year": "Completion 交付年份"}
    _add_geojson(group, shapes.geometry, properties, labels, _development_style, _DENSITY_PANE,
                 marker=folium.CircleMarker(radius=6, fill=True))


def _development_style(feature: dict) -> dict:
    return {
        "fillColor": feature["properties"]["fill"],
        "fillOpacity": 0.75,
        "color": "#00441b",
        "weight": 1.2,
        "opacity": 0.9,
    }


def _development_legend(base_year: int) -> str:
    labels = (f"completed by 已交付 {base_year}", f"{base_year + 1}–{base_year + 3}",
              f"{base_year + 4}–{base_year + 6}", f"{base_year + 7} and later 及以后")
    rows = [
        _legend_row(f'<span class="swatch" style="background:{colour}"></span>', label)
        for colour, label in zip(DEVELOPMENT_COLOURS, labels, strict=True)
    ]
    return "<h4>Developments by completion 新建住宅交付年份</h4>" + "".join(rows)


def _line_style(feature: dict) -> dict:
    return {"color": ASSIGNMENT_LINE_COLOUR, "weight": feature["properties"]["weight"],
            "opacity": 0.75}


def _lines_legend() -> str:
    svg = ('<svg width="18" height="12" viewBox="0 0 18 12"><line x1="1" y1="10" x2="17" y2="2" '
           f'stroke="{ASSIGNMENT_LINE_COLOUR}" stroke-width="3"/></svg>')
    return ("<h4>Assignment lines 学生来源连线</h4>"
            + _legend_row(svg, "cell → school, width ∝ √students 网格至学校, 线宽随学生数增加"))


def _unserved_squares(
    cells: gpd.GeoDataFrame, column: str, square_m: float, gcj02: bool = False
) -> gpd.GeoDataFrame:
    """Unserved students summed per display square: columns ``students``, ``n_cells`` and
    square polygons in display lon/lat (:func:`_lonlat`), ordered by grid position."""
    values = np.nan_to_num(_numeric(cells, column), nan=0.0)
    geom = cells.geometry
    keep = (values > 0) & (geom.notna() & ~geom.is_empty).to_numpy()
    empty = gpd.GeoDataFrame(
        {"students": np.zeros(0), "n_cells": np.zeros(0, dtype=np.int64)},
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
    )
    if not keep.any():
        return empty
    crs = cells.crs
    shapes = geom[keep]
    if crs.is_geographic:
        crs = cells.estimate_utm_crs()
        shapes = shapes.to_crs(crs)
    side = _metres_to_crs_units(crs, square_m)
    centres = shapely.centroid(shapes.to_numpy())
    grid = np.floor(np.column_stack([shapely.get_x(centres), shapely.get_y(centres)]) / side)
    keys, which = np.unique(grid.astype(np.int64), axis=0, return_inverse=True)
    which = which.ravel()
    students = np.bincount(which, weights=values[keep], minlength=len(keys))
    n_cells = np.bincount(which, minlength=len(keys))
    drawn = students >= UNSERVED_MIN_STUDENTS
    if not drawn.any():
        return empty
    keys = keys[drawn]
    squares = shapely.box(keys[:, 0] * side, keys[:, 1] * side,
                          (keys[:, 0] + 1) * side, (keys[:, 1] + 1) * side)
    return gpd.GeoDataFrame(
        {"students": students[drawn], "n_cells": n_cells[drawn]},
        geometry=_lonlat(gpd.GeoSeries(squares, crs=crs), gcj02),
    )


def _add_unserved_squares(group: folium.FeatureGroup, squares: gpd.GeoDataFrame) -> None:
    """Add the display squares as one GeoJson layer with a tooltip of students and cells."""
    properties = [
        {"fill": _unserved_colour(students), "students": _fmt_students(students),
         "cells": _fmt_int(n_cells)}
        for students, n_cells in zip(squares["students"], squares["n_cells"], strict=True)
    ]
    labels = {"students": "Unserved students 未获学位学生", "cells": "Cells 网格"}
    _add_geojson(group, squares.geometry, properties, labels, _square_style, _DENSITY_PANE)


def _square_style(feature: dict) -> dict:
    return {
        "fillColor": feature["properties"]["fill"],
        "fillOpacity": 0.8,
        "color": "#ffffff",
        "weight": 0.6,
        "opacity": 0.9,
    }


def _legend_sections(with_utilisation: bool, n_unlocated: int) -> tuple[dict[str, str], list[str]]:
    """The legend of :func:`shortfall_map`: sections (key → HTML) and notes."""
    sections: dict[str, str] = {}
    if with_utilisation:
        rows = [
            _legend_row(f'<span class="swatch" style="background:{colour}"></span>', label)
            for colour, label in zip(UTILISATION_COLOURS, UTILISATION_LABELS, strict=True)
        ]
        rows.append(
            _legend_row(
                f'<span class="swatch" style="background:{NO_DATA_COLOUR}"></span>',
                "no data 无数据 (e.g. 0 seats)",
            )
        )
        sections["utilisation"] = "<h4>Catchment utilisation 学区使用率</h4>" + "".join(rows)
    rows = [
        _legend_row(
            f'<span class="dot" style="background:{SHORTFALL_NONE_COLOUR}"></span>',
            "none 无缺口",
        )
    ]
    for colour, label in zip(SHORTFALL_COLOURS, SHORTFALL_LABELS, strict=True):
        rows.append(_legend_row(f'<span class="dot" style="background:{colour}"></span>', label))
    rows.append(
        _legend_row(
            f'<span class="dot" style="background:{NO_DATA_COLOUR}"></span>', "no data 无数据"
        )
    )
    sections["shortfall"] = "<h4>School shortfall 学位缺口</h4>" + "".join(rows)
    sections["classes"] = (
        "<h4>Oversized classes 大班额</h4>"
        + _legend_row(_ring_svg(*RING_LARGE_CLASSES), "大班额 classes (56–65 students)")
        + _legend_row(_ring_svg(*RING_VERY_LARGE_CLASSES), "超大班额 classes (66+ students)")
    )
    notes = [
        '<div class="note">Circle area ∝ seats 圆面积与学位数成正比. '
        "Click a school for details 点击学校查看详情.</div>"
    ]
    if n_unlocated:
        notes.append(
            f'<div class="note">{n_unlocated} school row(s) without location not shown '
            f"{n_unlocated} 所学校无坐标, 未显示.</div>"
        )
    return sections, notes


def _seat_price_legend() -> str:
    rows = [
        _legend_row(
            f'<span class="dot" style="background:{SEAT_PRICE_ZERO_COLOUR}"></span>',
            "0 m: seats spare 学位有余",
        )
    ]
    for colour, label in zip(SEAT_PRICE_COLOURS, SEAT_PRICE_LABELS, strict=True):
        rows.append(_legend_row(f'<span class="dot" style="background:{colour}"></span>', label))
    rows.append(
        _legend_row(
            f'<span class="dot" style="background:{NO_DATA_COLOUR}"></span>', "no data 无数据"
        )
    )
    return (
        "<h4>Seat price 学位影子价格</h4>"
        '<div class="note">Travel one more seat would save, optimal allocation '
        "每增加一个学位可减少的总通学距离 (最优分配)</div>" + "".join(rows)
    )


def _unserved_legend(square_m: float) -> str:
    rows = [
        _legend_row(f'<span class="swatch" style="background:{colour}"></span>', label)
        for colour, label in zip(UNSERVED_COLOURS, UNSERVED_LABELS, strict=True)
    ]
    side = _fmt_metres(square_m)
    return (
        "<h4>Unserved students 未获学位学生</h4>"
        f'<div class="note">Students without a seat per {side} square '
        f"每 {side} 方格内未获学位的学生数</div>" + "".join(rows)
    )


class _Legend(Element):
    """The legend box: sections (key → HTML, in order), then notes; written as it is.

    :func:`shortfall_map` creates it; the ``add_*`` functions add their section once. All text
    in it must already be escaped. It also records how the map draws coordinates: ``gcj02``
    is True when the layers are shifted to GCJ-02 for Gaode tiles.
    """

    def __init__(self, sections: dict[str, str], notes: list[str], gcj02: bool = False) -> None:
        super().__init__()
        self.sections = dict(sections)
        self.notes = list(notes)
        self.gcj02 = gcj02

    def add_section(self, key: str, section_html: str) -> None:
        self.sections.setdefault(key, section_html)

    def render(self, **kwargs: Any) -> str:
        return (
            '<div class="schoolmap-box schoolmap-legend"><details open>'
            "<summary>Legend 图例</summary>"
            + "".join(self.sections.values())
            + "".join(self.notes)
            + "</details></div>"
        )


def _legend_row(symbol: str, label: str) -> str:
    return f'<div class="row">{symbol}<span>{label}</span></div>'


def _ring_svg(colour: str, width: float) -> str:
    return (
        '<svg width="18" height="18" viewBox="0 0 18 18">'
        f'<circle cx="9" cy="9" r="{8 - width / 2:g}" fill="{SHORTFALL_COLOURS[-1]}" '
        f'stroke="{colour}" stroke-width="{width:g}"/></svg>'
    )


# --------------------------------------------------------------------------------------------
# Colours, sizes and formatting
# --------------------------------------------------------------------------------------------


def _utilisation_colour(utilisation: float) -> str:
    """Fill colour of a catchment for ``utilisation`` (demand / seats, 1.0 = 100 %)."""
    if utilisation is None or math.isnan(utilisation):
        return NO_DATA_COLOUR
    index = int(np.searchsorted(UTILISATION_BREAKS, utilisation, side="right"))
    return UTILISATION_COLOURS[index]


def _shortfall_colour(shortfall: float) -> str:
    """Fill colour of a school marker for ``shortfall`` (seats short, ≥ 0)."""
    if shortfall is None or math.isnan(shortfall):
        return NO_DATA_COLOUR
    if shortfall <= 0:
        return SHORTFALL_NONE_COLOUR
    index = int(np.searchsorted(SHORTFALL_BREAKS, shortfall, side="right"))
    return SHORTFALL_COLOURS[index]


def _seat_price_colour(price_m: float) -> str:
    """Fill colour of a seat-price marker for ``price_m`` (metres of travel saved per seat)."""
    if price_m is None or math.isnan(price_m):
        return NO_DATA_COLOUR
    if price_m < SEAT_PRICE_ZERO_M:
        return SEAT_PRICE_ZERO_COLOUR
    index = int(np.searchsorted(SEAT_PRICE_BREAKS_M, price_m, side="right"))
    return SEAT_PRICE_COLOURS[index]


def _unserved_colour(students: float) -> str:
    """Fill colour of a display square for ``students`` (unserved students in it)."""
    index = int(np.searchsorted(UNSERVED_BREAKS, students, side="right"))
    return UNSERVED_COLOURS[index]


def _ring_style(n_classes_56_65: float, n_classes_66_plus: float) -> tuple[str, float]:
    """Outline (colour, width in px) of a school marker from its oversized-class counts."""
    if n_classes_66_plus is not None and n_classes_66_plus > 0:  # NaN > 0 is False
        return RING_VERY_LARGE_CLASSES
    if n_classes_56_65 is not None and n_classes_56_65 > 0:
        return RING_LARGE_CLASSES
    return RING_NORMAL


def _marker_radius(seats: float) -> float:
    """Marker radius (pixels) for ``seats``: area ∝ seats, clipped to 4–24 px (NaN: 4 px)."""
    if seats is None or math.isnan(seats) or seats <= 0:
        return RADIUS_PX_MIN
    radius = RADIUS_PX_AT_1000_SEATS * math.sqrt(seats / 1000.0)
    return round(min(max(radius, RADIUS_PX_MIN), RADIUS_PX_MAX), 2)


def _escape(value: object) -> str:
    """HTML-escape text and neutralise what JavaScript template literals and Jinja treat as code.

    Backquote, ``$`` and backslash could end or escape a template literal; braces could form
    ``{{ ... }}`` or ``{% ... %}``, which Jinja would run when folium renders the HTML again.
    """
    text = html.escape(str(value), quote=True)
    text = text.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")
    return text.replace("{", "&#123;").replace("}", "&#125;")


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like values are not "missing"
        return False


def _text(value: object) -> str:
    return _MISSING if _is_missing(value) else _escape(value)


def _level_label(value: object) -> str:
    if _is_missing(value):
        return _MISSING
    zh = LEVEL_NAMES_ZH.get(str(value))
    return _escape(value) + (f" {zh}" if zh else "")


def _to_float(value: object) -> float:
    """A number as float; NaN for missing or non-numeric values."""
    if _is_missing(value) or isinstance(value, bool):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64 (NaN where missing or not numeric; all NaN if the column is absent)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[column], errors="coerce")
    return values.to_numpy(dtype="float64", na_value=np.nan)


def _column(frame: pd.DataFrame, column: str) -> list[object]:
    if column not in frame.columns:
        return [None] * len(frame)
    return frame[column].tolist()


def _fmt_int(value: float) -> str:
    if math.isnan(value):
        return _MISSING
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{round(value):,}"


def _fmt_year(value: float) -> str:
    """A year (no thousands separator); "—" when missing."""
    return _fmt_int(value).replace(",", "")


def _fmt_float(value: float, digits: int) -> str:
    if math.isnan(value):
        return _MISSING
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:,.{digits}f}"


def _fmt_pct(value: float) -> str:
    if math.isnan(value):
        return _MISSING
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value * 100:.0f} %"


def _fmt_metres(value: float) -> str:
    if math.isnan(value):
        return _MISSING
    if math.isinf(value):
        return "∞ m" if value > 0 else "−∞ m"
    return f"{value:,.0f} m"


def _fmt_students(value: float) -> str:
    """A (possibly fractional) number of students: whole students, "< 1" below one."""
    if math.isnan(value):
        return _MISSING
    if 0 < value < 1:
        return "&lt; 1"
    return _fmt_int(value)


def _number(fmt: Callable[[float], str]) -> Callable[[Any], str]:
    """A formatter of raw cell values (missing or non-numeric: NaN) from one of floats."""
    return lambda value: fmt(_to_float(value))


#: Popup rows by column: label and formatter of the raw value (every result escaped).
_POPUP_FIELDS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "school_id": ("ID 编号", _text),
    "site_id": ("ID 编号", _text),
    "level": ("Level 学段", _level_label),
    "school_type": ("Type 类型", _text),
    "sector": ("Sector 办学性质", _text),
    "year": ("Year 年份", _number(_fmt_year)),
    "seats": ("Seats 学位", _number(_fmt_int)),
    "classes": ("Classes 班数", _number(_fmt_int)),
    "demand": ("Demand 需求 (students 人)", _number(_fmt_int)),
    "students": ("Enrolment 在校生 (students 人)", _number(_fmt_int)),
    "shortfall": ("Shortfall 学位缺口", _number(_fmt_int)),
    "surplus": ("Spare seats 空余学位", _number(_fmt_int)),
    "utilisation": ("Utilisation 使用率", _number(_fmt_pct)),
    "classes_needed": ("Classes needed 所需班数", _number(_fmt_int)),
    "avg_class_size": ("Avg class size 平均班额", _number(lambda v: _fmt_float(v, 1))),
    "max_class_size": ("Largest class 最大班额", _number(_fmt_int)),
    "n_classes_le_45": ("Classes ≤ 45 班", _number(_fmt_int)),
    "n_classes_46_55": ("Classes 46–55 班", _number(_fmt_int)),
    "n_classes_56_65": ("大班额 classes (56–65)", _number(_fmt_int)),
    "n_classes_66_plus": ("超大班额 classes (66+)", _number(_fmt_int)),
    "share_beyond_radius": ("Beyond service radius 超出服务半径", _number(_fmt_pct)),
    "mean_distance_m": ("Mean distance 平均距离", _number(_fmt_metres)),
    "seat_price_m": ("Seat price 学位影子价格", _number(_fmt_metres)),
    "tracks": ("Tracks 轨", _number(_fmt_int)),
    "open_year": ("Open year 开办年份", _number(_fmt_year)),
    "students_served": ("Students served 服务学生 (人)", _number(_fmt_int)),
    "source": ("Site 用地", lambda value: _NEW_SITE_SOURCES.get(str(value), _text(value))),
}


def _result_assignment_lines(m: folium.Map, result: Any, method: str, lang: str) -> None:
    """The assignment lines the scenario asks for (``[map] assignment_lines``), per level the
    school serves; an id found in no level is named in the legend."""
    wanted = getattr(result.scenario, "assignment_lines", ())
    missing = []
    for school_id in wanted:
        found = False
        for level in result.scenario.levels:
            rows = result.schools[(result.schools["level"] == level)
                                  & (result.schools["method"] == method)]
            if (level, method) in result.allocations and (rows["school_id"] == school_id).any():
                add_assignment_lines(m, result.allocations[(level, method)], rows, result.cells,
                                     school_id, lang=lang)
                found = True
        if not found:
            missing.append(school_id)
    if missing:
        ids = _escape(", ".join(missing))
        _legend_of(m, "render_result_map").notes.append(
            f'<div class="note">Assignment lines: no school {ids} 未找到学校 {ids}.</div>')


def render_result_map(result: Any, path: str | os.PathLike) -> Path:
    """Draw a scenario run and write ``map.html``.

    The map shows the headline method (the scenario's first) with :func:`shortfall_map`:
    catchments and schools per level, the first level's on when the map opens; layer names in
    the scenario's language (``Scenario.language``; names below in English). Per level it
    adds, switched off at first:

    - ``"Seat prices – <level>"`` when ``optimal`` is among the methods: the optimal
      allocation's schools coloured by seat price (:func:`add_seat_prices`);
    - ``"Unserved students – <level>"``: students who got no seat under the headline method,
      summed over 500 m squares (:func:`add_unserved`), and ``"Unserved (optimal) –
      <level>"`` for the optimal method when it is not the headline one. A layer is left out
      when every student got a seat;
    - with a forecast (``result.simulations``), the schools in the milestone years, e.g.
      ``"Schools 2029 (peak) – junior"`` (:func:`add_milestone_years`).

    Then ``"New schools – <level>"`` for the recommended sites (``result.new_sites``,
    :func:`add_new_sites`) and ``"Developments"`` for the district's new housing
    (:func:`add_developments`), also off at first; for each school of the scenario's
    ``[map] assignment_lines``, its lines from the cells it takes students from under the
    headline method (:func:`add_assignment_lines`, on). With ``tiles = "gaode"`` every layer
    is shifted to GCJ-02 to match the Gaode tiles.

    Parameters
    ----------
    result : schoolmap.scenario.ScenarioResult
        Its ``cells`` carry ``unassigned_<level>_<method>`` (students without a seat per cell).
    path : path-like
        Where to write the HTML (atomically).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    sc = result.scenario
    lang = getattr(sc, "language", "en")
    method = sc.methods[0]
    schools = result.schools[result.schools["method"] == method]
    levels = [lv for lv in sc.levels if lv in set(schools["level"])]
    shown_method = _METHOD_NAMES_ZH.get(method, method) if lang == "zh" else method
    title = f"{sc.name} · {result.year} · {shown_method}"
    m = shortfall_map(schools, result.zones if len(result.zones) else None, title=title,
                      tiles=None if sc.tiles == "none" else sc.tiles, levels=levels or None,
                      lang=lang)
    optimal = result.schools[result.schools["method"] == "optimal"]
    unserved = [(method, "unserved")]
    if "optimal" in sc.methods and method != "optimal":
        unserved.append(("optimal", "unserved_optimal"))
    for level in sc.levels:
        if "optimal" in sc.methods and level in set(optimal["level"]):
            add_seat_prices(m, optimal, levels=[level], lang=lang)
        for unserved_method, kind in unserved:
            column = f"unassigned_{level}_{unserved_method}"
            if column in result.cells.columns:
                # add_unserved escapes the name itself
                name = html.unescape(_layer_name(kind, level, lang))
                add_unserved(m, result.cells, column, name=name)
        if level in result.simulations:
            add_milestone_years(m, result.simulations[level], result.district.schools, lang=lang)
    add_new_sites(m, result.new_sites, levels=sc.levels, lang=lang)
    add_developments(m, result.district.developments, base_year=result.year, lang=lang)
    _result_assignment_lines(m, result, method, lang)
    _result_proposed_catchments(m, result, lang)
    return write_map(m, path)


# --------------------------------------------------------------------------------------------
# Proposed catchments (schoolmap.catchments) beside the official zones
# --------------------------------------------------------------------------------------------

#: Outline of a proposed catchment: colour (of the legend), width (pixels) and dash pattern.
PROPOSED_OUTLINE: tuple[str, float, str] = ("#1b1b1b", 1.5, "6 4")
#: Colours of the proposed catchments, one per zone in turn (ColorBrewer Dark2): zones read as
#: colours even where their cells form many islands.
PROPOSED_COLOURS: tuple[str, ...] = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e",
                                     "#e6ab02", "#a6761d", "#666666")
_PROPOSED_NAMES = {"en": "Proposed catchments", "zh": "建议学区"}
#: Tolerance (metres) of the coverage simplification of proposed catchments before display:
#: about a cell, since their boundaries are cell staircases.
PROPOSED_SIMPLIFY_M = 100.0


def add_proposed_catchments(
    m: folium.Map,
    zones: gpd.GeoDataFrame,
    *,
    levels: Sequence[str] | None = None,
    show: bool = False,
    lang: str = "en",
) -> int:
    """Add, per level, a layer of proposed catchments drawn as dashed outlines.

    Each level gets a layer ``"Proposed catchments (<method>) – <level>"`` (Chinese under
    ``lang="zh"``: ``"建议学区 (就近) – 小学"``) over the official zones: each proposed zone
    dashed and lightly filled in one of :data:`PROPOSED_COLOURS`, unlike the zones near it (a
    zone reads as one colour even where its cells form islands). Its tooltip names the school;
    its popup gives the figures (students, students changing school from the official
    catchments, cells, pieces, area). A legend section explains the outline and counts the
    zones in several pieces.

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`shortfall_map`.
    zones : geopandas.GeoDataFrame
        Proposed catchments of one method, from
        :func:`schoolmap.catchments.proposed_catchments`: columns ``level``, ``method``,
        ``school_id``, ``name``, ``students``, ``students_changing``, ``n_cells``,
        ``n_pieces``, ``n_parts``, ``area_km2``; polygons in any CRS (simplified by 5 m for
        display).
    levels : sequence of str or None, optional
        Levels to draw; ``None``: every level in ``zones``.
    show : bool, optional
        Whether the layers are on when the map opens (default off).
    lang : {"en", "zh"}, optional
        Language of the layer names.

    Returns
    -------
    int
        Number of zones drawn (0: no layer added).

    Raises
    ------
    ValueError
        If ``m`` was not made by :func:`shortfall_map`, or ``zones`` lacks a column, has no CRS
        or holds several methods.
    """
    legend = _legend_of(m, "add_proposed_catchments")
    problems: list[str] = []
    required = ("level", "school_id", "students", "students_changing", "n_pieces")
    if not _check_table(zones, "zones", required, problems):
        if problems:
            raise ValueError(_problem_message(problems, "add_proposed_catchments"))
        return 0
    gcj02 = bool(getattr(legend, "gcj02", False))
    shapes = _simplified_coverage(zones)
    shapes = _zone_shapes(shapes, gcj02) if gcj02 else _zone_shapes(shapes)
    method = str(zones["method"].iloc[0]) if "method" in zones.columns else ""
    shown_method = _METHOD_NAMES_ZH.get(method, method) if lang == "zh" else method
    resolved = _resolve_levels(levels, set(shapes["level"].astype(str)))
    colour, width, dash = PROPOSED_OUTLINE
    n_drawn = 0
    for level in resolved:
        rows = shapes[shapes["level"].astype(str) == level]
        if len(rows) == 0:
            continue
        level_shown = LEVEL_NAMES_ZH.get(level, level) if lang == "zh" else level
        name = f"{_PROPOSED_NAMES.get(lang, _PROPOSED_NAMES['en'])} ({shown_method}) – " \
               f"{level_shown}"
        group = folium.FeatureGroup(name=_escape(name), show=show)
        colours = _neighbour_colours(rows.geometry.to_numpy(), len(PROPOSED_COLOURS),
                                     _metres_to_crs_units(rows.crs, 3 * PROPOSED_SIMPLIFY_M))
        for i in range(len(rows)):
            get, num = _row_values(rows, i)
            fill = PROPOSED_COLOURS[colours[i]]
            zone_style = {"color": fill, "weight": width, "dashArray": dash, "opacity": 0.9,
                          "fillColor": fill, "fillOpacity": 0.25}
            title = _text(get("name") if not _is_missing(get("name")) else get("school_id"))
            layer = folium.GeoJson(
                {"type": "Feature", "geometry": mapping(rows.geometry.iloc[i]),
                 "properties": {}},
                style_function=lambda _f, s=zone_style: s,
                tooltip=folium.Tooltip(f"{title} · {_fmt_int(num('students'))}", sticky=True),
                control=False,
            )
            layer.add_child(_Popup(_popup_html(title, [
                ("ID 编号", _text(get("school_id"))),
                ("Level 学段", _level_label(get("level"))),
                ("Method 分配方法", _text(get("method"))),
                ("Students 学生 (residents 常住)", _fmt_int(num("students"))),
                ("Would change school 需转学", _fmt_int(num("students_changing"))),
                ("Cells 网格", _fmt_int(num("n_cells"))),
                ("Pieces 分块", _fmt_int(num("n_pieces"))),
                ("Area 面积", f"{_fmt_float(num('area_km2'), 2)} km²"),
            ]), max_width=360))
            layer.add_to(group)
        _add_overlay(m, group)
        n_drawn += len(rows)
    if n_drawn:
        split = int((pd.to_numeric(zones["n_pieces"], errors="coerce") > 1).sum())
        symbol = (f'<svg width="18" height="12"><line x1="0" y1="6" x2="18" y2="6" '
                  f'stroke="{colour}" stroke-width="{width:g}" stroke-dasharray="{dash}"/></svg>')
        legend.add_section("proposed_catchments", (
            "<h4>Proposed catchments 建议学区</h4>"
            + _legend_row(symbol, f"cells by assigned school ({_escape(method)}) "
                          "按分配学校合并网格")
            + f'<div class="note">{split} zone(s) in several pieces 个学区不连片</div>'))
    return n_drawn


def _neighbour_colours(geoms: np.ndarray, n_colours: int, within: float) -> list[int]:
    """Colour index of each shape, greedily unlike the shapes closer than ``within`` (in the
    shapes' units) that come before it."""
    first, second = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=within)
    touching: dict[int, set[int]] = {}
    for i, j in zip(first.tolist(), second.tolist(), strict=True):
        if i != j:
            touching.setdefault(i, set()).add(j)
    colours: list[int] = []
    for i in range(len(geoms)):
        taken = {colours[j] for j in touching.get(i, ()) if j < i}
        free = [c for c in range(n_colours) if c not in taken]
        colours.append(free[0] if free else i % n_colours)
    return colours


def _simplified_coverage(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Zones of each level and method simplified together (shared edges stay shared) by
    :data:`PROPOSED_SIMPLIFY_M`; zones that do not form a valid coverage are left as they are."""
    out = zones.copy()
    tolerance = _metres_to_crs_units(zones.crs, PROPOSED_SIMPLIFY_M)
    keys = [c for c in ("level", "method") if c in zones.columns]
    for _, group in out.groupby(keys, sort=False) if keys else [(None, out)]:
        geoms = group.geometry.to_numpy()
        if len(geoms) and shapely.coverage_is_valid(geoms):
            out.loc[group.index, out.geometry.name] = shapely.coverage_simplify(geoms, tolerance)
    return out


def _result_proposed_catchments(m: folium.Map, result: Any, lang: str) -> int:
    """The proposed catchments of a run's first method other than ``catchment``, on ``m``."""
    from schoolmap.catchments import proposed_catchments

    others = [method for method in result.scenario.methods if method != "catchment"][:1]
    if not others:
        return 0
    return add_proposed_catchments(m, proposed_catchments(result, methods=others), lang=lang)
