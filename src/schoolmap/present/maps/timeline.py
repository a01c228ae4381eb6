"""Layers of the years ahead: schools in the forecast's milestone years
(:func:`add_milestone_years`), recommended new schools (:func:`add_new_sites`) and new
housing (:func:`add_developments`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from schoolmap.i18n import LAYER_NAMES, MILESTONE_NAMES, map_text
from schoolmap.present.maps.base import (
    DENSITY_PANE,
    add_geojson,
    add_markers,
    add_overlay,
    add_point_layers,
    add_schools,
    check_table,
    ensure_density_pane,
    layer_name,
    legend_of,
    problem_message,
    school_points_lonlat,
    zone_shapes_lonlat,
)
from schoolmap.present.maps.style import (
    DEVELOPMENT_BREAKS,
    DEVELOPMENT_COLOURS,
    NEW_SITE_COLOUR,
    NEW_SITE_DASH,
    NEW_SITE_RING,
    NO_DATA_COLOUR,
    column_lists,
    column_values,
    escape,
    fmt_int,
    fmt_year,
    is_missing,
    legend_row,
    numeric_values,
    popup_html,
    popup_rows,
    row_values,
    text_of,
)


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

    >>> from schoolmap.present.maps import shortfall_map
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
    legend = legend_of(m, "add_milestone_years")
    problems: list[str] = []
    if not check_table(schools, "schools", ("school_id",), problems):
        if problems:
            raise ValueError(problem_message(problems, "add_milestone_years"))
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
        points = school_points_lonlat(located, m.gcj02)
        points = points[points.geometry.notna() & ~points.geometry.is_empty]
        if len(points) == 0:
            continue
        label = MILESTONE_NAMES[lang if lang in MILESTONE_NAMES else "en"]
        detail = f" {year} ({', '.join(label[k] for k in kinds)})"
        group = folium.FeatureGroup(
            name=layer_name("milestone", simulation.level, lang, detail), show=show)
        add_schools(group, points.reset_index(drop=True),
                    popup=lambda columns, i: _milestone_popup(columns, i, lang),
                    tip_lead=f"{year} · ", lang=lang)
        add_overlay(m, group)
        drawn.append(int(year))
    if drawn:
        legend.add_section("milestones", _milestone_legend(lang))
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
    >>> from schoolmap.present.maps import shortfall_map
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
    return add_point_layers(
        m, sites, where="add_new_sites", what="new_sites", required=("level", "seats"),
        kind="new_sites", levels=levels, show=show, lang=lang,
        draw=lambda group, points: _add_new_site_markers(group, points, lang),
        legend_key="new_sites", legend_html=lambda: _new_site_legend(lang),
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
    legend = legend_of(m, "add_developments")
    if developments is None:
        return 0
    problems: list[str] = []
    if not check_table(developments, "developments", ("completion_year",), problems):
        if problems:
            raise ValueError(problem_message(problems, "add_developments"))
        return 0
    shapes = zone_shapes_lonlat(developments, m.gcj02)
    if len(shapes) == 0:
        return 0
    ensure_density_pane(m)
    if lang not in LAYER_NAMES:
        raise ValueError(f"lang must be one of {', '.join(LAYER_NAMES)}, got {lang!r}")
    group = folium.FeatureGroup(name=escape(LAYER_NAMES[lang]["developments"]), show=show)
    _add_development_shapes(group, shapes.reset_index(drop=True), int(base_year), lang)
    add_overlay(m, group)
    legend.add_section("developments", _development_legend(int(base_year), lang))
    return len(shapes)


def _milestone_years(simulation: Any) -> dict[int, list[str]]:
    """Milestone years of a simulation: year → ``base``, ``peak``, ``horizon`` (in order)."""
    years = simulation.district["year"].astype(int)
    out: dict[int, list[str]] = {}
    for kind, year in (("base", int(years.min())), ("peak", simulation.peak[0]),
                       ("horizon", int(years.max()))):
        out.setdefault(int(year), []).append(kind)
    return dict(sorted(out.items()))


def _milestone_popup(schools: pd.DataFrame | dict[str, list], i: int, lang: str) -> str:
    """HTML of one school's figures in a milestone year in ``lang``; every value escaped."""
    rows = popup_rows(schools, i, (
        "school_id", "level", "year", "students", "seats", "shortfall", "utilisation",
        "classes", "classes_needed", "avg_class_size", "max_class_size", "n_classes_le_45",
        "n_classes_46_55", "n_classes_56_65", "n_classes_66_plus"), lang)
    return popup_html(text_of(row_values(schools, i)[0]("name")), rows)


def _milestone_legend(lang: str) -> str:
    return (f"<h4>{map_text('legend_milestones', lang)}</h4>"
            f'<div class="note">{map_text("milestones_note", lang)}</div>')


def _add_new_site_markers(group: folium.FeatureGroup, sites: gpd.GeoDataFrame,
                          lang: str) -> None:
    """One dashed blue circle marker per recommended site; larger sites first."""
    seats = numeric_values(sites, "seats")
    open_year = numeric_values(sites, "open_year")
    columns = column_lists(sites)
    add_markers(
        group, sites,
        lambda i: {"color": NEW_SITE_RING[0], "weight": NEW_SITE_RING[1], "fill_opacity": 0.75,
                   "dash_array": NEW_SITE_DASH, "fill_color": NEW_SITE_COLOUR},
        lambda i: map_text("new_site_tip", lang, seats=fmt_int(seats[i]),
                           year=fmt_year(open_year[i])),
        lambda i: _new_site_popup(columns, i, lang),
        max_width=380,
    )


def _new_site_popup(sites: pd.DataFrame | dict[str, list], i: int, lang: str) -> str:
    """HTML of one recommended site with its reason paragraph in ``lang``; every value
    escaped."""
    get, _ = row_values(sites, i)
    rows = popup_rows(sites, i, (
        "site_id", "level", "tracks", "classes", "seats", "open_year", "students_served",
        "mean_distance_m", "source"), lang)
    reason = get("reason")
    note = "" if is_missing(reason) else escape(reason).replace("\n", "<br>")
    return popup_html(text_of(get("name")), rows, note=note)


def _new_site_legend(lang: str) -> str:
    ring, width = NEW_SITE_RING
    svg = ('<svg width="18" height="18" viewBox="0 0 18 18">'
           f'<circle cx="9" cy="9" r="{8 - width / 2:g}" fill="{NEW_SITE_COLOUR}" '
           f'stroke="{ring}" stroke-width="{width:g}" stroke-dasharray="3 2"/></svg>')
    return (f"<h4>{map_text('legend_new_sites', lang)}</h4>"
            + legend_row(svg, map_text("new_sites_row", lang)))


def _development_colour(completion_year: float, base_year: int) -> str:
    """Fill colour of a development by years from ``base_year`` to completion."""
    if math.isnan(completion_year):
        return NO_DATA_COLOUR
    index = int(np.searchsorted(DEVELOPMENT_BREAKS, completion_year - base_year, side="left"))
    return DEVELOPMENT_COLOURS[index]


def _add_development_shapes(
    group: folium.FeatureGroup, shapes: gpd.GeoDataFrame, base_year: int, lang: str
) -> None:
    """Add the developments as one GeoJson layer (points as circles) with an escaped tooltip."""
    years = numeric_values(shapes, "completion_year")
    dwellings = numeric_values(shapes, "dwellings")
    names = column_values(shapes, "name")
    ids = column_values(shapes, "dev_id")
    types = column_values(shapes, "housing_type")
    properties = [
        {
            "fill": _development_colour(years[i], base_year),
            "name": text_of(names[i]),
            "dev_id": text_of(ids[i]),
            "dwellings": fmt_int(dwellings[i]),
            "housing_type": text_of(types[i]),
            "completion_year": fmt_year(years[i]),
        }
        for i in range(len(shapes))
    ]
    labels = {column: map_text(key, lang) for column, key in (
        ("name", "development"), ("dev_id", "dev_id"), ("dwellings", "dwellings"),
        ("housing_type", "school_type"), ("completion_year", "completion_year"))}
    add_geojson(group, shapes.geometry, properties, labels, _development_style, DENSITY_PANE,
                 marker=folium.CircleMarker(radius=6, fill=True))


def _development_style(feature: dict) -> dict:
    return {
        "fillColor": feature["properties"]["fill"],
        "fillOpacity": 0.75,
        "color": "#00441b",
        "weight": 1.2,
        "opacity": 0.9,
    }


def _development_legend(base_year: int, lang: str) -> str:
    labels = (map_text("completed_by", lang, year=base_year), f"{base_year + 1}–{base_year + 3}",
              f"{base_year + 4}–{base_year + 6}", map_text("and_later", lang, year=base_year + 7))
    rows = [
        legend_row(f'<span class="swatch" style="background:{colour}"></span>', label)
        for colour, label in zip(DEVELOPMENT_COLOURS, labels, strict=True)
    ]
    return f"<h4>{map_text('legend_developments', lang)}</h4>" + "".join(rows)
