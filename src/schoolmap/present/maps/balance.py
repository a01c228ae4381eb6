"""Balance indicators (``[plan]``, 优质均衡) on the map: :func:`add_balance` draws, per level, each
school coloured by how its staff posts per 100 students compare with the district's
student-weighted mean in the last planning year (the indicator whose spread across schools
the county evaluation's 差异系数 measures)."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from schoolmap.i18n import map_text
from schoolmap.present.maps.base import (
    TextPopup,
    add_overlay,
    layer_name,
    legend_of,
    school_points_lonlat,
)
from schoolmap.present.maps.style import escape, fmt_pct, legend_row, popup_html

__all__ = ["BALANCE_BANDS", "add_balance"]

#: (upper bound of indicator ÷ district mean, colour, label): below 0.8, 0.8–1.0, at or above.
#: The label is a key of :data:`schoolmap.i18n.MAP_TEXT`.
BALANCE_BANDS: tuple[tuple[float, str, str], ...] = (
    (0.8, "#d7301f", "balance_low"),
    (1.0, "#fdae61", "balance_mid"),
    (np.inf, "#1a9850", "balance_high"),
)
_DETAIL = {"en": " · balance (staff posts per 100 students)",
           "zh": " · 均衡（每百名学生教职工编制）"}


def add_balance(m: folium.Map, by_school: pd.DataFrame, schools: gpd.GeoDataFrame, level: str,
                *, indicator: str = "posts_per_100", show: bool = False,
                lang: str = "en") -> int:
    """Add a layer of one level's schools coloured by an indicator against the district mean.

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`~schoolmap.present.maps.capacity.shortfall_map`.
    by_school : pandas.DataFrame
        :attr:`schoolmap.planning.balance.BalanceIndicators.by_school`: ``year``,
        ``school_id``, ``students`` and ``indicator``; the last year is drawn.
    schools : geopandas.GeoDataFrame
        The district's schools (``school_id``, geometry in any CRS).
    level : str
        The level (layer name).
    indicator : str, optional
        Column of ``by_school`` (default staff posts per 100 students).
    show : bool, optional
        Whether the layer is on when the map opens (default off).
    lang : {"en", "zh"}, optional
        Language of the layer name.

    Returns
    -------
    int
        Schools drawn (0: no layer added — no rows, or no school with students).
    """
    legend = legend_of(m, "add_balance")
    if by_school is None or len(by_school) == 0 or indicator not in by_school:
        return 0
    last = by_school[by_school["year"] == by_school["year"].max()]
    last = last[last["students"] > 0]
    w = last["students"].to_numpy(float)
    v = last[indicator].to_numpy(float)
    ok = np.isfinite(v)
    if not ok.any() or w[ok].sum() <= 0:
        return 0
    mean = float(np.average(v[ok], weights=w[ok]))
    pts = school_points_lonlat(schools[["school_id", schools.geometry.name]], m.gcj02)
    where = dict(zip(pts["school_id"][::-1], pts.geometry[::-1], strict=True))  # first wins
    group = folium.FeatureGroup(name=layer_name("schools", level, lang, _DETAIL[lang]),
                                show=show)
    drawn = 0
    for sid, value, students in zip(last["school_id"], v, w, strict=True):
        point = where.get(sid)
        if point is None or point.is_empty or not np.isfinite(value):
            continue
        ratio = value / mean if mean > 0 else np.nan
        colour = next(c for bound, c, _ in BALANCE_BANDS if not ratio >= bound)
        rows = [(escape(indicator), f"{value:.2f}"), (map_text("mean", lang), f"{mean:.2f}"),
                (map_text("of_mean", lang), fmt_pct(ratio)),
                (map_text("headcount", lang), f"{students:,.0f}")]
        marker = folium.CircleMarker((point.y, point.x), radius=6, color="#333333", weight=1,
                                     fill=True, fill_color=colour, fill_opacity=0.9,
                                     tooltip=escape(f"{sid}: {fmt_pct(ratio)}"))
        marker.add_child(TextPopup(popup_html(str(sid), rows)))
        marker.add_to(group)
        drawn += 1
    if drawn:
        add_overlay(m, group)
        legend.add_section("balance", "".join(
            legend_row(f'<span class="dot" style="background:{c}"></span>', map_text(key, lang))
            for _, c, key in BALANCE_BANDS))
    return drawn
