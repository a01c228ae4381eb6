"""Designed catchments (``[zoning]``): :func:`add_designed_zones` draws, per level, the designed
zones and hatches the areas whose school changes against the official zones."""

from __future__ import annotations

import folium
import geopandas as gpd
from folium.plugins import StripePattern
from shapely.geometry import mapping

from schoolmap.i18n import map_text
from schoolmap.present.maps.base import (
    TextPopup,
    add_overlay,
    layer_name,
    legend_of,
    zone_shapes_lonlat,
)
from schoolmap.present.maps.style import (
    escape,
    fmt_int,
    fmt_metres,
    fmt_pct,
    legend_row,
    popup_html,
    row_values,
    text_of,
)

__all__ = ["DESIGNED_COLOURS", "add_designed_zones"]

#: Fill colours of designed zones (zone number modulo the palette).
DESIGNED_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                    "#a6761d", "#1f78b4")
#: Hatch colour of the areas that change school.
CHANGED_COLOUR = "#222222"


def add_designed_zones(m: folium.Map, zones: gpd.GeoDataFrame, changed: gpd.GeoDataFrame,
                       *, lang: str = "en", show: bool = False) -> int:
    """Add a layer ``"Designed catchments – <level>"`` per level (off at first).

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`~schoolmap.present.maps.capacity.shortfall_map`.
    zones : GeoDataFrame
        The ``designed_zones`` rows (:data:`schoolmap.allocation.zoning.ZONE_COLUMNS`).
    changed : GeoDataFrame
        The ``changed_areas`` rows (``level``, ``n_cells``, ``students``; one polygon per
        level): drawn hatched over the zones.
    lang : {"en", "zh"}
    show : bool
        Whether the layers are on when the map opens.

    Returns
    -------
    int
        Zones drawn.
    """
    legend = legend_of(m, "add_designed_zones")
    gcj02 = getattr(m, "gcj02", False)
    shapes = zone_shapes_lonlat(zones[zones.geometry.notna()], gcj02)
    hatch = StripePattern(angle=-45, weight=2, space_weight=4, color=CHANGED_COLOUR,
                          opacity=0.8)
    hatch.add_to(m)
    drawn = 0
    for level in dict.fromkeys(shapes["level"].astype(str)):
        rows = shapes[shapes["level"].astype(str) == level].reset_index(drop=True)
        group = folium.FeatureGroup(name=layer_name("designed", level, lang), show=show)
        for i in range(len(rows)):
            get, num = row_values(rows, i)
            fill = DESIGNED_COLOURS[int(num("zone")) % len(DESIGNED_COLOURS)]
            style = {"color": fill, "weight": 2, "opacity": 0.9, "fillColor": fill,
                     "fillOpacity": 0.3}
            title = text_of(get("name"))
            layer = folium.GeoJson(
                {"type": "Feature", "geometry": mapping(rows.geometry.iloc[i]), "properties": {}},
                style_function=lambda _f, s=style: s, control=False,
                tooltip=folium.Tooltip(f"{escape(title)} · {fmt_int(num('students'))} / "
                                       f"{fmt_int(num('seats'))}", sticky=True))
            layer.add_child(TextPopup(popup_html(title, [
                (map_text(key, lang), value) for key, value in (
                    ("school_id", text_of(get("school_id"))),
                    ("headcount", fmt_int(num("students"))),
                    ("seats", fmt_int(num("seats"))),
                    ("utilisation", fmt_pct(num("utilisation"))),
                    ("students_moved", fmt_int(num("students_moved"))),
                    ("mean_trip_m", fmt_metres(num("mean_trip_m"))),
                    ("share_beyond_radius", fmt_pct(num("share_beyond_radius"))),
                    ("n_pieces", fmt_int(num("pieces"))))
            ]), max_width=360))
            layer.add_to(group)
            drawn += 1
        area = changed[(changed["level"].astype(str) == level) & changed.geometry.notna()]
        if len(area):
            area = zone_shapes_lonlat(area, gcj02)
            folium.GeoJson(
                {"type": "Feature", "geometry": mapping(area.geometry.iloc[0]), "properties": {}},
                style_function=lambda _f: {"color": CHANGED_COLOUR, "weight": 1, "opacity": 0.6,
                                           "fillPattern": hatch, "fillOpacity": 0.8},
                control=False,
                tooltip=folium.Tooltip(map_text(
                    "students_change", lang, n=fmt_int(float(area["students"].iloc[0]))))
            ).add_to(group)
        add_overlay(m, group)
    if drawn:
        symbol = (f'<svg width="18" height="12"><rect width="18" height="12" fill="white" '
                  f'stroke="{CHANGED_COLOUR}"/><line x1="0" y1="12" x2="12" y2="0" '
                  f'stroke="{CHANGED_COLOUR}"/><line x1="6" y1="12" x2="18" y2="0" '
                  f'stroke="{CHANGED_COLOUR}"/></svg>')
        legend.add_section("designed_zones", (
            f"<h4>{map_text('legend_designed', lang)}</h4>"
            + legend_row(symbol, map_text("designed_row", lang))))
    return drawn
