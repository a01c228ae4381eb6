"""Admission odds (``[admission]``, 入学派位) on the map: :func:`add_admission_odds` draws, per
level, every home's chance of a place at its zone's first school — cells dissolved by that
school and a band of chance, so a district of 50,000 cells gives a few hundred shapes."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import shapely

from schoolmap.i18n import map_text
from schoolmap.present.maps.base import (
    DENSITY_PANE,
    add_geojson,
    add_overlay,
    ensure_density_pane,
    layer_name,
    legend_of,
    to_lonlat,
)
from schoolmap.present.maps.style import escape, fmt_int, fmt_pct, legend_row, text_of

__all__ = ["ODDS_BANDS", "SIMPLIFY_M", "add_admission_odds"]

#: Outlines are simplified together by this much (metres; about a cell, their edges being cell
#: staircases) to keep the page light.
SIMPLIFY_M = 100.0

#: (upper bound of the chance, colour, label key of :data:`schoolmap.i18n.MAP_TEXT`).
ODDS_BANDS: tuple[tuple[float, str, str], ...] = (
    (0.5, "#d7301f", "odds_low"),
    (0.8, "#fc8d59", "odds_mid"),
    (0.95, "#fee08b", "odds_good"),
    (np.inf, "#1a9850", "odds_sure"),
)


def add_admission_odds(m: folium.Map, cells: gpd.GeoDataFrame, level: str, *,
                       lang: str = "en", show: bool = False) -> int:
    """Add a layer ``"Chance of the zone's first school – <level>"`` (off at first).

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`~schoolmap.present.maps.capacity.shortfall_map`.
    cells : GeoDataFrame
        One level's ``admission_cells`` rows (:mod:`schoolmap.run.admission`): ``first_school``,
        ``applicants``, ``chance_first``, ``placed_outside``; cell polygons in a projected CRS.
    level : str
    lang : {"en", "zh"}
    show : bool
        Whether the layer is on when the map opens.

    Returns
    -------
    int
        Shapes drawn (0: no layer added — no cell with applicants and a first school).
    """
    legend = legend_of(m, "add_admission_odds")
    chance = cells["chance_first"].to_numpy(dtype=np.float64)
    ok = ~np.isnan(chance) & cells.geometry.notna().to_numpy() & cells["first_school"].notna(
    ).to_numpy()
    if not ok.any():
        return 0
    sub = cells[ok]
    band = np.searchsorted([b for b, _, _ in ODDS_BANDS[:-1]], chance[ok], side="right")
    keys = sub["first_school"].astype(str).to_numpy()
    order = np.lexsort((band, keys))
    shapes, properties = [], []
    a = sub["applicants"].to_numpy(dtype=np.float64)
    out = sub["placed_outside"].to_numpy(dtype=np.float64)
    geoms = sub.geometry.to_numpy()
    start = 0
    while start < len(order):
        stop = start
        while (stop < len(order) and keys[order[stop]] == keys[order[start]]
               and band[order[stop]] == band[order[start]]):
            stop += 1
        rows = order[start:stop]
        shapes.append(shapely.coverage_union_all(geoms[rows]))
        w = a[rows]
        mean = float(np.average(chance[ok][rows], weights=w)) if w.sum() > 0 else np.nan
        properties.append({"fill": ODDS_BANDS[int(band[rows[0]])][1],
                           "school": escape(text_of(keys[rows[0]])), "chance": fmt_pct(mean),
                           "applicants": fmt_int(float(w.sum())),
                           "outside": fmt_int(float(out[rows].sum()))})
        start = stop
    shapes = np.asarray(shapes, dtype=object)
    if shapely.coverage_is_valid(shapes):  # shared edges stay shared
        shapes = shapely.coverage_simplify(shapes, SIMPLIFY_M)
    shown = to_lonlat(gpd.GeoSeries(shapes, crs=cells.crs), getattr(m, "gcj02", False))
    shown = shown.set_precision(1e-6)  # about 0.1 m: shorter pages
    ensure_density_pane(m)
    group = folium.FeatureGroup(name=layer_name("admission", level, lang), show=show)
    labels = {"school": map_text("first_school", lang), "chance": map_text("chance_first", lang),
              "applicants": map_text("applicants", lang),
              "outside": map_text("placed_outside", lang)}
    add_geojson(group, shown, properties, labels, _style, DENSITY_PANE)
    add_overlay(m, group)
    legend.add_section("admission_odds", f"<h4>{map_text('legend_admission', lang)}</h4>" + "".join(
        legend_row(f'<span class="dot" style="background:{c}"></span>', map_text(key, lang))
        for _, c, key in ODDS_BANDS))
    return len(shapes)


def _style(feature: dict) -> dict:
    return {"fillColor": feature["properties"]["fill"], "fillOpacity": 0.65, "color": "#555555",
            "weight": 0.4, "opacity": 0.7}
