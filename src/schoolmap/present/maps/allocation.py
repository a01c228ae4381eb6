"""Allocation layers: the lines from a school to the cells it takes students from
(:func:`add_assignment_lines`) and proposed catchments as dashed outlines
(:func:`add_proposed_catchments`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping

from schoolmap.i18n import LEVEL_NAMES_ZH, MAP_METHOD_NAMES_ZH, PROPOSED_NAMES, map_text
from schoolmap.present.maps.base import (
    DENSITY_PANE,
    TextPopup,
    add_geojson,
    add_overlay,
    check_table,
    ensure_density_pane,
    layer_name,
    legend_of,
    metres_to_crs_units,
    problem_message,
    resolve_levels,
    to_lonlat,
    zone_shapes_lonlat,
)
from schoolmap.present.maps.style import (
    ASSIGNMENT_LINE_COLOUR,
    column_values,
    escape,
    fmt_float,
    fmt_int,
    fmt_metres,
    fmt_students,
    is_missing,
    legend_row,
    popup_html,
    row_values,
    text_of,
    value_of,
)


def add_assignment_lines(
    m: folium.Map,
    allocation: Any,
    schools: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    school_id: str,
    *,
    show: bool = True,
    lang: str = "en",
    routes: Sequence[Any] | None = None,
) -> int:
    """Add a layer of lines from every cell sending students to one school.

    One line per cell → school flow of the allocation (a cell split between schools has a line
    to each), from the cell's representative point to the school — straight, or the ``routes``
    given (the road routes the road allocation measured, from
    :func:`schoolmap.allocation.network.school_routes`) —, its width
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
    routes : sequence of shapely.LineString, optional
        One line per flow to the school, in the allocation's order of those flows, in the
        cells' CRS (:func:`schoolmap.allocation.network.school_routes`): the lines follow the
        roads. Without: straight lines.

    Returns
    -------
    int
        Number of lines drawn (0: no student goes to the school, no layer).

    Raises
    ------
    ValueError
        If ``m`` was not made by :func:`shortfall_map`, the tables do not match the allocation
        (row counts) or have no CRS, ``school_id`` is not in ``schools``, or ``routes`` has
        not one line per flow.

    Examples
    --------
    In tiny town P1 takes the pupils of cells C1, C2 and C5 by catchment:

    >>> from schoolmap.present.maps import shortfall_map
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
    legend = legend_of(m, "add_assignment_lines")
    problems: list[str] = []
    check_table(schools, "schools", ("school_id",), problems)
    check_table(cells, "cells", (), problems)
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
        raise ValueError(problem_message(problems, "add_assignment_lines"))
    row = int(np.flatnonzero(ids == str(school_id))[0])
    flows = np.flatnonzero(allocation.school == row)
    if len(flows) == 0:
        return 0
    from_xy = cells.geometry.representative_point().to_numpy()[allocation.cell[flows]]
    to_point = schools.geometry.iloc[[row]].to_crs(cells.crs)
    to_point = shapely.point_on_surface(to_point.to_numpy()[0])
    if routes is None:
        lines = shapely.linestrings(
            [[(p.x, p.y), (to_point.x, to_point.y)] for p in from_xy])
    elif len(routes) != len(flows):
        raise ValueError(problem_message(
            [f"routes has {len(routes)} lines, school {school_id!r} {len(flows)} flows: pass "
             "one line per flow (schoolmap.allocation.network.school_routes)"],
            "add_assignment_lines"))
    else:
        lines = np.asarray(routes, dtype=object)
    shapes = to_lonlat(gpd.GeoSeries(lines, crs=cells.crs), m.gcj02)
    students = allocation.students[flows]
    cell_ids = column_values(cells, "cell_id")
    top = float(students.max())
    properties = [
        {"weight": round(1.0 + 5.0 * math.sqrt(s / top), 2) if top > 0 else 1.0,
         "cell": text_of(cell_ids[c]), "students": fmt_students(s), "distance": fmt_metres(d)}
        for c, s, d in zip(allocation.cell[flows], students, allocation.distance_m[flows],
                           strict=True)
    ]
    labels = {"cell": map_text("cell", lang), "students": map_text("pupils", lang),
              "distance": map_text("distance", lang)}
    ensure_density_pane(m)
    name = row_values(schools, row)[0]("name")
    label = f"{'' if is_missing(name) else str(name) + ' '}({school_id})"
    level = str(getattr(allocation, "level", ""))
    group = folium.FeatureGroup(name=layer_name("lines", level, lang, f": {label}"), show=show)
    add_geojson(group, shapes, properties, labels, _line_style, DENSITY_PANE)
    add_overlay(m, group)
    legend.add_section("lines", _lines_legend(lang))
    return len(flows)


def _line_style(feature: dict) -> dict:
    return {"color": ASSIGNMENT_LINE_COLOUR, "weight": feature["properties"]["weight"],
            "opacity": 0.75}


def _lines_legend(lang: str) -> str:
    svg = ('<svg width="18" height="12" viewBox="0 0 18 12"><line x1="1" y1="10" x2="17" y2="2" '
           f'stroke="{ASSIGNMENT_LINE_COLOUR}" stroke-width="3"/></svg>')
    return (f"<h4>{map_text('legend_lines', lang)}</h4>"
            + legend_row(svg, map_text("lines_row", lang)))


#: Outline of a proposed catchment: colour (of the legend), width (pixels) and dash pattern.
PROPOSED_OUTLINE: tuple[str, float, str] = ("#1b1b1b", 1.5, "6 4")


#: Colours of the proposed catchments, one per zone in turn (ColorBrewer Dark2): zones read as
#: colours even where their cells form many islands.
PROPOSED_COLOURS: tuple[str, ...] = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e",
                                     "#e6ab02", "#a6761d", "#666666")


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
    legend = legend_of(m, "add_proposed_catchments")
    problems: list[str] = []
    required = ("level", "school_id", "students", "students_changing", "n_pieces")
    if not check_table(zones, "zones", required, problems):
        if problems:
            raise ValueError(problem_message(problems, "add_proposed_catchments"))
        return 0
    gcj02 = m.gcj02
    shapes = _simplified_coverage(zones)
    shapes = zone_shapes_lonlat(shapes, gcj02) if gcj02 else zone_shapes_lonlat(shapes)
    method = str(zones["method"].iloc[0]) if "method" in zones.columns else ""
    shown_method = MAP_METHOD_NAMES_ZH.get(method, method) if lang == "zh" else method
    resolved = resolve_levels(levels, set(shapes["level"].astype(str)))
    colour, width, dash = PROPOSED_OUTLINE
    n_drawn = 0
    for level in resolved:
        rows = shapes[shapes["level"].astype(str) == level]
        if len(rows) == 0:
            continue
        level_shown = LEVEL_NAMES_ZH.get(level, level) if lang == "zh" else level
        name = f"{PROPOSED_NAMES.get(lang, PROPOSED_NAMES['en'])} ({shown_method}) – " \
               f"{level_shown}"
        group = folium.FeatureGroup(name=escape(name), show=show)
        colours = _neighbour_colours(rows.geometry.to_numpy(), len(PROPOSED_COLOURS),
                                     metres_to_crs_units(rows.crs, 3 * PROPOSED_SIMPLIFY_M))
        for i in range(len(rows)):
            get, num = row_values(rows, i)
            fill = PROPOSED_COLOURS[colours[i]]
            zone_style = {"color": fill, "weight": width, "dashArray": dash, "opacity": 0.9,
                          "fillColor": fill, "fillOpacity": 0.25}
            title = text_of(get("name") if not is_missing(get("name")) else get("school_id"))
            layer = folium.GeoJson(
                {"type": "Feature", "geometry": mapping(rows.geometry.iloc[i]),
                 "properties": {}},
                style_function=lambda _f, s=zone_style: s,
                tooltip=folium.Tooltip(f"{title} · {fmt_int(num('students'))}", sticky=True),
                control=False,
            )
            layer.add_child(TextPopup(popup_html(title, [
                (map_text(key, lang), value) for key, value in (
                    ("school_id", text_of(get("school_id"))),
                    ("level", value_of(get("level"), lang)),
                    ("method", value_of(get("method"), lang)),
                    ("residents", fmt_int(num("students"))),
                    ("students_changing", fmt_int(num("students_changing"))),
                    ("cells", fmt_int(num("n_cells"))),
                    ("n_pieces", fmt_int(num("n_pieces"))),
                    ("area_km2", f"{fmt_float(num('area_km2'), 2)} km²"))
            ]), max_width=360))
            layer.add_to(group)
        add_overlay(m, group)
        n_drawn += len(rows)
    if n_drawn:
        split = int((pd.to_numeric(zones["n_pieces"], errors="coerce") > 1).sum())
        symbol = (f'<svg width="18" height="12"><line x1="0" y1="6" x2="18" y2="6" '
                  f'stroke="{colour}" stroke-width="{width:g}" stroke-dasharray="{dash}"/></svg>')
        legend.add_section("proposed_catchments", (
            f"<h4>{map_text('legend_proposed', lang)}</h4>"
            + legend_row(symbol, map_text("proposed_row", lang, method=value_of(method, lang)))
            + f'<div class="note">{map_text("proposed_split", lang, n=split)}</div>'))
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
    tolerance = metres_to_crs_units(zones.crs, PROPOSED_SIMPLIFY_M)
    keys = [c for c in ("level", "method") if c in zones.columns]
    for _, group in out.groupby(keys, sort=False) if keys else [(None, out)]:
        geoms = group.geometry.to_numpy()
        if len(geoms) and shapely.coverage_is_valid(geoms):
            out.loc[group.index, out.geometry.name] = shapely.coverage_simplify(geoms, tolerance)
    return out
