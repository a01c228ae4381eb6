"""The province map of a batch (``province_map.html``): one outline per district, coloured by
seats short, a layer per scenario. It draws the figures :mod:`schoolmap.run.distributed` gathered
(:func:`~schoolmap.run.distributed.province_map_html` is the door); it computes none itself.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import shapely

from schoolmap.i18n import LEVEL_NAMES_ZH, METHOD_NAMES, province_text
from schoolmap.present.maps.base import leaflet_assets
from schoolmap.present.maps.style import PAGE_CSS, escape, fmt_int, fmt_pct, legend_row, popup_html

__all__ = ["PROVINCE_SHORTFALL_BREAKS", "PROVINCE_SHORTFALL_COLOURS", "province_page"]

#: Colours of the province map by seats short in a district (学位缺口, summed over levels):
#: none, then below each break and above the last (ColorBrewer OrRd).
PROVINCE_SHORTFALL_BREAKS: tuple[float, ...] = (100.0, 500.0, 2000.0)
PROVINCE_SHORTFALL_COLOURS: tuple[str, ...] = ("#1a9641", "#fdcc8a", "#fc8d59", "#e34a33",
                                               "#b30000")

PROVINCE_JS = """
const data = %(data)s;
const map = L.map("map", {zoomSnap: 0.25});
const overlays = {};
data.layers.forEach((layer, k) => {
  // outlines are stored once; each scenario's layer gives them its colours and popups
  const features = layer.districts.map((d, i) => ({
    type: "Feature", geometry: data.outlines[d],
    properties: {fill: layer.fill[i], popup: layer.popup[i], tip: layer.tip[i]}}));
  const group = L.geoJSON({type: "FeatureCollection", features: features}, {
    style: f => ({color: "#333333", weight: 1, opacity: 0.9, fillColor: f.properties.fill,
                  fillOpacity: 0.75}),
    onEachFeature: (f, l) => {
      l.bindPopup(f.properties.popup, {maxWidth: 420});
      l.bindTooltip(f.properties.tip, {sticky: true});
    },
  });
  if (k === 0) group.addTo(map);
  overlays[layer.name] = group;
});
L.control.layers(null, overlays, {collapsed: false}).addTo(map);
L.control.scale().addTo(map);
if (data.bounds) {
  map.fitBounds(data.bounds, {paddingTopLeft: [300, 20], paddingBottomRight: [20, 20]});
} else {
  map.setView([35, 105], 4);
}
"""


def shortfall_class(shortfall: float) -> int:
    """Index into :data:`PROVINCE_SHORTFALL_COLOURS` of a district's seats short."""
    if not shortfall > 0.5:  # none (or NaN)
        return 0
    return 1 + int(np.searchsorted(PROVINCE_SHORTFALL_BREAKS, shortfall, side="right"))


def province_page(totals: pd.DataFrame, districts: dict[tuple[str, str], tuple[float, float]],
                  peaks: dict[tuple[str, str], dict[str, Any]], outlines_wkb: dict[str, bytes],
                  summary: dict[str, Any], lang: str = "zh") -> str:
    """The HTML page of the province map (see :func:`schoolmap.run.distributed.province_map_html`).

    Parameters
    ----------
    totals : DataFrame
        District totals of the headline method, per district × scenario × level.
    districts : dict
        (district, scenario) → (seats short summed over levels, share of classes of 56+).
    peaks : dict
        (district, scenario) → ``peak_year`` and ``peak_shortfall_at_schools`` of the forecast.
    outlines_wkb : dict
        District name → outline (WKB, WGS 84).
    summary : dict
        :func:`~schoolmap.run.distributed.batch_summary` of the batch.
    lang : {"zh", "en"}
        The one language of the page's words (the batch's scenarios' ``lang``); names of
        districts and scenarios are shown as they are.
    """
    def w(key: str, **fields: object) -> str:
        return province_text(key, lang, **fields)

    def level(name: str) -> str:
        return LEVEL_NAMES_ZH.get(name, name) if lang == "zh" else name

    t = totals
    shapes = {d: shapely.from_wkb(w) for d, w in outlines_wkb.items()}
    layers = []
    outlines: dict[str, Any] = {}  # escaped district name → GeoJSON geometry, once
    scenarios = list(dict.fromkeys(t["scenario"])) if len(t) else []
    for scenario in scenarios:
        layer: dict[str, Any] = {"name": w("layer", scenario=escape(scenario)),
                                 "districts": [], "fill": [], "popup": [], "tip": []}
        rows = t[t["scenario"] == scenario]
        for district, d in rows.groupby("district", sort=False):
            shape = shapes.get(district)
            if shape is None:
                continue
            short, share = districts[(district, scenario)]
            table = [(escape(level(r.level)), f"{fmt_int(r.demand)} / {fmt_int(r.seats)} · "
                      f"<b>{fmt_int(r.shortfall_at_schools)}</b> · "
                      f"{fmt_pct(r.share_classes_56_plus)}") for r in d.itertuples()]
            table.append((w("all_levels"), f"<b>{fmt_int(short)}</b> · {fmt_pct(share)}"))
            peak = peaks.get((district, scenario))
            if peak and peak.get("peak_year") is not None:
                table.append((w("worst_year"), f"{int(peak['peak_year'])}: "
                              f"{fmt_int(float(peak['peak_shortfall_at_schools']))}"))
            method = str(d["method"].iloc[0])
            lead = (f"{escape(scenario)} · "
                    f"{escape(METHOD_NAMES.get(method, {}).get(lang, method))}<br>{w('lead')}")
            key = escape(district)
            if key not in outlines:
                outlines[key] = shapely.geometry.mapping(shape)
            layer["districts"].append(key)
            layer["fill"].append(PROVINCE_SHORTFALL_COLOURS[shortfall_class(short)])
            layer["popup"].append(popup_html(escape(district), table, lead=lead))
            layer["tip"].append(w("tip", district=escape(district), n=fmt_int(short)))
        layers.append(layer)
    drawn = [shapes[d] for d in dict.fromkeys(t["district"])] if len(t) else []
    bounds = None
    if drawn:
        west, south, east, north = shapely.total_bounds(drawn).tolist()
        bounds = [[south, west], [north, east]]
    data = json.dumps({"outlines": outlines, "layers": layers, "bounds": bounds},
                      ensure_ascii=False,
                      separators=(",", ":")).replace("</", "<\\/")
    name = summary.get("name") or "batch"
    css, js = leaflet_assets()
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{w('page_title', name=escape(name))}</title>\n"
        f"<style>{css}</style>\n<script>{js}</script>\n{PAGE_CSS}\n"
        "<style>html, body, #map {height: 100%; margin: 0;} "
        "#map {background: #ffffff;}</style>\n</head>\n<body>\n"
        '<div id="map"></div>\n'
        f'<div class="schoolmap-box schoolmap-title">{w("title", name=escape(name))}</div>\n'
        f"{province_legend(summary, lang=lang)}\n"
        f"<script>{PROVINCE_JS % {'data': data}}</script>\n</body>\n</html>\n"
    )




def province_legend(summary: dict[str, Any], top: int = 5, lang: str = "zh") -> str:
    """Legend of the province map in ``lang``: colours, worst districts, failed tasks."""
    def say(key: str, **fields: object) -> str:
        return province_text(key, lang, **fields)

    def level(name: str) -> str:
        return LEVEL_NAMES_ZH.get(name, name) if lang == "zh" else name

    labels = [say("none")] + [
        say("band", lo=f"{lo:,.0f}", hi=f"{hi - 1:,.0f}") for lo, hi in
        zip((1.0, *PROVINCE_SHORTFALL_BREAKS[:-1]), PROVINCE_SHORTFALL_BREAKS, strict=True)
    ] + [say("band_top", lo=f"{PROVINCE_SHORTFALL_BREAKS[-1]:,.0f}")]
    rows = "".join(legend_row(f'<span class="swatch" style="background:{c}"></span>', label)
                   for c, label in zip(PROVINCE_SHORTFALL_COLOURS, labels, strict=True))
    worst = "".join(
        f'<div class="row worst-shortfall">{i}. {escape(w["district"])} '
        f'({escape(w["scenario"])}): {fmt_int(float(w["shortfall_at_schools"]))}</div>'
        for i, w in enumerate(summary.get("worst_by_shortfall", [])[:top], 1))
    large = "".join(
        f'<div class="row worst-large">{i}. {escape(w["district"])} '
        f'({escape(w["scenario"])}, {escape(level(w["level"]))}): '
        f'{fmt_pct(float(w["share_classes_56_plus"]))}</div>'
        for i, w in enumerate(summary.get("worst_by_share_classes_56_plus", [])[:top], 1))
    failed = summary.get("failures", [])
    note = "".join(
        f'<div class="note failed">{say("failed")}: {escape(f["district"])} '
        f'({escape(f["scenario"])})</div>' for f in failed[:top])
    if len(failed) > top:
        note += f'<div class="note failed">{say("more", n=len(failed) - top)}</div>'
    return ('<div class="schoolmap-box schoolmap-legend"><details open>'
            f"<summary>{say('legend')}</summary>"
            f"<h4>{say('legend_short')}</h4>" + rows
            + f"<h4>{say('worst_short')}</h4>" + (worst or "—")
            + f"<h4>{say('worst_large')}</h4>" + (large or "—")
            + note + "</details></div>")
