"""Capacity layers: :func:`shortfall_map` (catchments by utilisation, schools by shortfall),
:func:`add_seat_prices` (seat prices of an optimal allocation) and :func:`add_unserved`
(students without a seat, per display square)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element

from schoolmap.i18n import map_text
from schoolmap.present.maps.base import (
    DENSITY_PANE,
    LEGEND,
    MapLegend,
    SchoolMap,
    Verbatim,
    add_geojson,
    add_markers,
    add_overlay,
    add_point_layers,
    add_schools,
    check_levels_arg,
    check_table,
    data_bounds,
    ensure_density_pane,
    layer_name,
    leaflet_assets,
    legend_of,
    metres_to_crs_units,
    problem_message,
    resolve_levels,
    school_points_lonlat,
    set_labels,
    to_lonlat,
    zone_shapes_lonlat,
)
from schoolmap.present.maps.controls import CONTROLS_CSS, CONTROLS_JS, GroupedLayers
from schoolmap.present.maps.style import (
    GAODE_ATTRIBUTION,
    GAODE_SUBDOMAINS,
    GAODE_TILES,
    MISSING,
    NO_DATA_COLOUR,
    PAGE_CSS,
    RING_LARGE_CLASSES,
    RING_NORMAL,
    RING_VERY_LARGE_CLASSES,
    SEAT_PRICE_COLOURS,
    SEAT_PRICE_LABELS,
    SEAT_PRICE_ZERO_COLOUR,
    SEAT_PRICE_ZERO_M,
    SHORTFALL_COLOURS,
    SHORTFALL_LABELS,
    SHORTFALL_NONE_COLOUR,
    TIANDITU_ATTRIBUTION,
    TIANDITU_SUBDOMAINS,
    TIANDITU_TILES,
    UNSERVED_COLOURS,
    UNSERVED_LABELS,
    UNSERVED_MIN_STUDENTS,
    UNSERVED_SQUARE_M,
    UTILISATION_COLOURS,
    UTILISATION_LABELS,
    catchment_style,
    column_lists,
    column_values,
    escape,
    fmt_int,
    fmt_metres,
    fmt_pct,
    fmt_students,
    legend_row,
    numeric_values,
    popup_html,
    popup_rows,
    ring_svg,
    row_values,
    seat_price_colour,
    text_of,
    unserved_colour,
    utilisation_colour,
)


def shortfall_map(
    schools: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame | None = None,
    *,
    title: str = "",
    tiles: str | None = "OpenStreetMap",
    levels: Sequence[str] | None = None,
    lang: str = "en",
    main_level: str | None = None,
    tianditu_key: str = "",
) -> SchoolMap:
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

    Only the main level's layers are shown when the map opens (``main_level``, or the first
    level drawn). The layer switcher groups the layers by level, the main level's group
    unfolded; zone and school names are written on the map once zoomed in (zones from zoom 13,
    schools from 15); a search box finds a school by name, a button shows the map full screen,
    the scale bar is metric. On a window narrower than 900 px the legend and the switcher open
    folded. A legend explains the colours and rings in English and Chinese.

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
        with the streets. ``"tianditu"`` for Tianditu (天地图) vector tiles and annotation
        (CGCS2000, drawn without shift), which need ``tianditu_key``. ``None`` gives a plain
        white background that needs no tile server.
    levels : sequence of str or None, optional
        Levels to draw, in layer order; the first one that has data is shown when the map
        opens. ``None``: every level in the data, kindergarten, primary, junior, senior first.
        A standard level without data is skipped.
    lang : {"en", "zh"}, optional
        Language of every word of the map: layer names, controls, legend, popups and
        tooltips (default English; ``"zh"``: Chinese only, e.g. ``"学区 – 小学"``).
    main_level : str or None, optional
        The level whose catchments and schools are on when the map opens; ``None`` or a level
        without data: the first level drawn.
    tianditu_key : str, optional
        The Tianditu key (``tiles="tianditu"`` only).

    Returns
    -------
    SchoolMap
        The map (a :class:`folium.Map` that knows whether it draws in GCJ-02), fitted to the
        extent of the data. Save it with :func:`write_map`.

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

    >>> from schoolmap.present.maps import write_map
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
    check_table(schools, "schools", ("school_id", "level"), problems)
    has_zones = zones is not None and check_table(zones, "zones", ("zone_id", "level"), problems)
    check_levels_arg(levels)
    if problems:
        raise ValueError(problem_message(problems))

    gcj02 = isinstance(tiles, str) and tiles.lower() == "gaode"
    tianditu = isinstance(tiles, str) and tiles.lower() == "tianditu"
    if tianditu and not tianditu_key:
        raise ValueError("shortfall_map: tiles='tianditu' needs a key: pass tianditu_key (in a "
                         "scenario: [map] tianditu_key, or the environment variable "
                         "SCHOOLMAP_TIANDITU_KEY).")
    school_points = school_points_lonlat(schools, gcj02)
    zone_shapes = zone_shapes_lonlat(zones, gcj02) if has_zones and zones is not None else None

    present = set(school_points["level"].astype(str))
    if zone_shapes is not None:
        present |= set(zone_shapes["level"].astype(str))
    resolved = resolve_levels(levels, present)

    located = school_points.geometry.notna() & ~school_points.geometry.is_empty
    n_unlocated = int((~located & school_points["level"].astype(str).isin(resolved)).sum())
    school_points = school_points[located]

    m = SchoolMap(location=None, tiles=None if gcj02 or tianditu else tiles,
                  control_scale=False, gcj02=gcj02, lang=lang)
    if gcj02:
        folium.TileLayer(GAODE_TILES, attr=GAODE_ATTRIBUTION, name=map_text("basemap_gaode", lang),
                         subdomains=GAODE_SUBDOMAINS, max_zoom=18).add_to(m)
    if tianditu:
        vector, notes = (url.replace("{tk}", escape(tianditu_key)) for url in TIANDITU_TILES)
        folium.TileLayer(vector, attr=TIANDITU_ATTRIBUTION,
                         name=map_text("basemap_tianditu", lang),
                         subdomains=TIANDITU_SUBDOMAINS, max_zoom=18).add_to(m)
        folium.TileLayer(notes, attr=TIANDITU_ATTRIBUTION,
                         name=map_text("basemap_tianditu_labels", lang), overlay=True,
                         subdomains=TIANDITU_SUBDOMAINS, max_zoom=18).add_to(m)
    # No CDN links: Leaflet goes into the page itself, and nothing else folium would link
    # (jQuery, Bootstrap, Font Awesome, awesome-markers) is used by this map.
    m.default_js = []
    m.default_css = []
    leaflet_css, leaflet_js = leaflet_assets()
    root = m.get_root()
    root.header.add_child(Verbatim(f"<style>{leaflet_css}</style>"), name="leaflet_css", index=0)
    root.header.add_child(Verbatim(f"<script>{leaflet_js}</script>"), name="leaflet_js", index=1)
    root.header.add_child(Element(PAGE_CSS), name="schoolmap_css")
    root.header.add_child(Verbatim(CONTROLS_CSS), name="schoolmap_controls_css")
    root.header.add_child(Verbatim(CONTROLS_JS), name="schoolmap_controls_js")
    if tiles is None:  # plain white paper instead of Leaflet's grey, so grey "no data" shows
        root.header.add_child(
            Element("<style>.folium-map.leaflet-container {background: #ffffff;}</style>"),
            name="schoolmap_plain_background",
        )
    if title:
        root.title = escape(title)

    # Catchments live in a pane below the markers, so a catchment layer switched on later
    # never covers the school markers.
    has_zone_layer = False
    if zone_shapes is not None:
        folium.map.CustomPane("schoolmap_catchments", z_index=350, pointer_events=True).add_to(m)

    drawn = [lv for lv in resolved
             if (zone_shapes is not None and (zone_shapes["level"].astype(str) == lv).any())
             or (school_points["level"].astype(str) == lv).any()]
    main = main_level if main_level in drawn else (drawn[0] if drawn else None)
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
            group = folium.FeatureGroup(name=layer_name("catchments", level, lang),
                                        show=level == main)
            _add_catchments(group, level_zones, lang)
            group.add_to(m)
            has_zone_layer = True
        if len(level_schools):
            group = folium.FeatureGroup(name=layer_name("schools", level, lang),
                                        show=level == main)
            add_schools(group, level_schools, lang=lang)
            group.add_to(m)

    open_group = layer_name("schools", main, lang).rsplit(" – ", 1)[1] if main else ""
    GroupedLayers(open_group=open_group, lang=lang).add_to(m)
    if title:
        root.html.add_child(
            Element(f'<div class="schoolmap-box schoolmap-title">{escape(title)}</div>'),
            name="schoolmap_title",
        )
    legend = MapLegend(*_legend_sections(has_zone_layer, n_unlocated, lang), lang=lang)
    root.html.add_child(legend, name=LEGEND)

    bounds = data_bounds(school_points, zone_shapes, resolved)
    if bounds is not None:
        # keep the data clear of the legend (bottom left) and the title (top)
        m.fit_bounds(bounds, padding_top_left=(300, 60), padding_bottom_right=(20, 20), max_zoom=16)
    return m


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

    >>> from schoolmap.present.maps import write_map
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
    return add_point_layers(
        m, schools, where="add_seat_prices", what="schools",
        required=("school_id", "level", "seat_price_m"), kind="seat_prices", levels=levels,
        show=show, lang=lang,
        draw=lambda group, points: _add_seat_price_markers(group, points, lang),
        legend_key="seat_prices", legend_html=lambda: _seat_price_legend(lang),
    )


def add_unserved(
    m: folium.Map,
    cells: gpd.GeoDataFrame,
    column: str,
    *,
    name: str,
    square_m: float = UNSERVED_SQUARE_M,
    show: bool = False,
    lang: str | None = None,
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
    lang : {"en", "zh"}, optional
        Language of the tooltip and legend (default: the map's).

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
    legend = legend_of(m, "add_unserved")
    if not isinstance(square_m, int | float) or not math.isfinite(square_m) or square_m <= 0:
        raise ValueError(f"square_m must be a positive number of metres, got {square_m!r}.")
    problems: list[str] = []
    if not check_table(cells, "cells", (column,), problems):
        if problems:
            raise ValueError(problem_message(problems, "add_unserved"))
        return 0
    squares = _unserved_squares(cells, column, float(square_m), m.gcj02)
    lang = lang or getattr(m, "lang", "en")
    if len(squares) == 0:
        return 0
    ensure_density_pane(m)
    group = folium.FeatureGroup(name=escape(name), show=show)
    _add_unserved_squares(group, squares, lang)
    add_overlay(m, group)
    legend.add_section(f"unserved_{square_m:g}", _unserved_legend(float(square_m), lang))
    return len(squares)


def _add_catchments(group: folium.FeatureGroup, zones: gpd.GeoDataFrame, lang: str) -> None:
    """Add the zones of one level as one GeoJson layer with escaped tooltip fields in
    ``lang``."""
    util = numeric_values(zones, "utilisation")
    names = column_values(zones, "name")
    zone_ids = column_values(zones, "zone_id")
    school_ids = column_values(zones, "school_id")
    demand = numeric_values(zones, "demand")
    seats = numeric_values(zones, "seats")
    shortfall = numeric_values(zones, "shortfall")
    properties = []
    for i in range(len(zones)):
        ids = school_ids[i]
        if ids is not None:
            ids = "; ".join(part.strip() for part in str(ids).split(";") if part.strip())
        properties.append({
            "fill": utilisation_colour(util[i]),
            "name": text_of(names[i]),
            "zone_id": text_of(zone_ids[i]),
            "school_id": text_of(ids),
            "demand": fmt_int(demand[i]),
            "seats": fmt_int(seats[i]),
            "shortfall": fmt_int(shortfall[i]),
            "utilisation": fmt_pct(util[i]),
        })
    where = shapely.point_on_surface(zones.geometry.to_numpy())
    set_labels(group, "zones", [(round(shapely.get_y(p), 6), round(shapely.get_x(p), 6),
                                 text_of(names[i])) for i, p in enumerate(where)
                                if names[i] is not None and text_of(names[i]) != MISSING])
    labels = {column: map_text(key, lang) for column, key in (
        ("name", "zone"), ("zone_id", "zone_id"), ("school_id", "school_ids"),
        ("demand", "demand"), ("seats", "seats"), ("shortfall", "shortfall"),
        ("utilisation", "utilisation"))}
    add_geojson(group, zones.geometry, properties, labels, catchment_style, "schoolmap_catchments")


def _add_seat_price_markers(group: folium.FeatureGroup, schools: gpd.GeoDataFrame,
                            lang: str) -> None:
    """One circle marker per school row coloured by seat price; larger schools first."""
    prices = numeric_values(schools, "seat_price_m")
    columns = column_lists(schools)
    add_markers(
        group, schools,
        lambda i: {"color": RING_NORMAL[0], "weight": RING_NORMAL[1], "fill_opacity": 0.9,
                   "fill_color": seat_price_colour(prices[i])},
        lambda i: _seat_price_sentence(prices[i], lang),
        lambda i: _seat_price_popup(columns, i, lang),
    )


def _seat_price_sentence(price_m: float, lang: str) -> str:
    """What a seat price means, in ``lang`` (HTML)."""
    word = map_text("seat_price_m", lang)
    if math.isnan(price_m):
        return f"{word}: {MISSING}"
    saved = fmt_metres(price_m if price_m >= SEAT_PRICE_ZERO_M else 0.0)
    spare = map_text("seats_spare", lang) if price_m < SEAT_PRICE_ZERO_M else ""
    return f"{word}: {map_text('seat_price_saves', lang, saved=saved)}{spare}"


def _seat_price_popup(schools: pd.DataFrame | dict[str, list], i: int, lang: str) -> str:
    """HTML of one school's seat price and optimal figures in ``lang``; every value escaped."""
    get, num = row_values(schools, i)
    rows = popup_rows(schools, i, (
        "school_id", "level", "school_type", "seat_price_m", ("demand", "demand_optimal"),
        "seats", "surplus", "mean_distance_m"), lang)
    return popup_html(text_of(get("name")), rows,
                      lead=_seat_price_sentence(num("seat_price_m"), lang))


def _unserved_squares(
    cells: gpd.GeoDataFrame, column: str, square_m: float, gcj02: bool = False
) -> gpd.GeoDataFrame:
    """Unserved students summed per display square: columns ``students``, ``n_cells`` and
    square polygons in display lon/lat (:func:`to_lonlat`), ordered by grid position."""
    values = np.nan_to_num(numeric_values(cells, column), nan=0.0)
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
    side = metres_to_crs_units(crs, square_m)
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
        geometry=to_lonlat(gpd.GeoSeries(squares, crs=crs), gcj02),
    )


def _add_unserved_squares(group: folium.FeatureGroup, squares: gpd.GeoDataFrame,
                          lang: str) -> None:
    """Add the display squares as one GeoJson layer with a tooltip of students and cells."""
    properties = [
        {"fill": unserved_colour(students), "students": fmt_students(students),
         "cells": fmt_int(n_cells)}
        for students, n_cells in zip(squares["students"], squares["n_cells"], strict=True)
    ]
    labels = {"students": map_text("unserved", lang), "cells": map_text("cells", lang)}
    add_geojson(group, squares.geometry, properties, labels, _square_style, DENSITY_PANE)


def _square_style(feature: dict) -> dict:
    return {
        "fillColor": feature["properties"]["fill"],
        "fillOpacity": 0.8,
        "color": "#ffffff",
        "weight": 0.6,
        "opacity": 0.9,
    }


def _legend_sections(with_utilisation: bool, n_unlocated: int,
                     lang: str) -> tuple[dict[str, str], list[str]]:
    """The legend of :func:`shortfall_map` in ``lang``: sections (key → HTML) and notes."""
    sections: dict[str, str] = {}
    if with_utilisation:
        rows = [_swatch(colour, label)
                for colour, label in zip(UTILISATION_COLOURS, UTILISATION_LABELS, strict=True)]
        rows.append(_swatch(NO_DATA_COLOUR, map_text("no_data_seats", lang)))
        sections["utilisation"] = _heading("legend_utilisation", lang) + "".join(rows)
    seats = map_text("unit_seats", lang)
    rows = [_dot(SHORTFALL_NONE_COLOUR, map_text("none", lang))]
    rows += [_dot(colour, f"{label} {seats}")
             for colour, label in zip(SHORTFALL_COLOURS, SHORTFALL_LABELS, strict=True)]
    rows.append(_dot(NO_DATA_COLOUR, map_text("no_data", lang)))
    sections["shortfall"] = _heading("legend_shortfall", lang) + "".join(rows)
    sections["classes"] = (
        _heading("legend_classes", lang)
        + legend_row(ring_svg(*RING_LARGE_CLASSES), map_text("large_classes", lang))
        + legend_row(ring_svg(*RING_VERY_LARGE_CLASSES), map_text("very_large_classes", lang))
    )
    notes = [f'<div class="note">{map_text("circles", lang)}</div>']
    if n_unlocated:
        notes.append(f'<div class="note">{map_text("unlocated", lang, n=n_unlocated)}</div>')
    return sections, notes


def _heading(key: str, lang: str) -> str:
    return f"<h4>{map_text(key, lang)}</h4>"


def _dot(colour: str, label: str) -> str:
    return legend_row(f'<span class="dot" style="background:{colour}"></span>', label)


def _swatch(colour: str, label: str) -> str:
    return legend_row(f'<span class="swatch" style="background:{colour}"></span>', label)


def _seat_price_legend(lang: str) -> str:
    rows = [_dot(SEAT_PRICE_ZERO_COLOUR, map_text("seat_price_zero", lang))]
    rows += [_dot(colour, label)
             for colour, label in zip(SEAT_PRICE_COLOURS, SEAT_PRICE_LABELS, strict=True)]
    rows.append(_dot(NO_DATA_COLOUR, map_text("no_data", lang)))
    return (_heading("legend_seat_price", lang)
            + f'<div class="note">{map_text("seat_price_note", lang)}</div>' + "".join(rows))


def _unserved_legend(square_m: float, lang: str) -> str:
    unit = map_text("unit_students", lang)
    rows = [_swatch(colour, f"{label} {unit}")
            for colour, label in zip(UNSERVED_COLOURS, UNSERVED_LABELS, strict=True)]
    side = fmt_metres(square_m)
    return (_heading("legend_unserved", lang)
            + f'<div class="note">{map_text("unserved_note", lang, side=side)}</div>'
            + "".join(rows))
