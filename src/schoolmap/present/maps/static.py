"""Static maps for print: one labelled PNG per level (:func:`static_maps`), drawn with
matplotlib on its own Agg canvas in the planning CRS (metres) — catchments coloured by
utilisation, schools by shortfall, recommended new sites, legend, scale bar, north arrow,
title and the scenario's base year (never today's date, so two runs give the same bytes).

The colours are the interactive map's (:mod:`~schoolmap.present.maps.style`); the words come
from :data:`schoolmap.i18n.STATIC_MAP_TEXT` in the run's language, Chinese with a CJK font
found by :func:`schoolmap.present.charts.cjk_font`.
"""

from __future__ import annotations

import html
import io
import math
from typing import Any

import numpy as np

from schoolmap.i18n import LEVEL_NAMES_ZH, STATIC_MAP_TEXT
from schoolmap.present.maps.style import (
    NO_DATA_COLOUR,
    SHORTFALL_COLOURS,
    SHORTFALL_NONE_COLOUR,
    UTILISATION_COLOURS,
    UTILISATION_LABELS,
    shortfall_colour,
    utilisation_colour,
)

__all__ = ["MAX_LABELS", "STATIC_MAP_DPI", "STATIC_MAP_SIZE_IN", "static_map", "static_maps"]

#: Size of a static map in inches (fits an A4 page with margins) and its resolution.
STATIC_MAP_SIZE_IN = (7.5, 6.6)
STATIC_MAP_DPI = 150

NEW_SITE_COLOUR = "#6a3d9a"

#: Most zone names and most school names written on one static map (the largest zones, the
#: schools most short of seats): more would cover each other on an A4 page.
MAX_LABELS = 60


def static_maps(result: Any, lang: str | None = None) -> dict[str, bytes]:
    """One PNG per level of a scenario run (headline method), level → PNG bytes.

    Parameters
    ----------
    result : schoolmap.scenario.ScenarioResult
    lang : {"zh", "en"} or None
        Language of the words; None: the scenario's.

    Returns
    -------
    dict of str to bytes
        PNG files of :data:`STATIC_MAP_SIZE_IN` inches at :data:`STATIC_MAP_DPI` dpi, in the
        scenario's level order; a level with neither schools nor zones is left out.
    """
    from schoolmap.present.charts import cjk_font, font_context

    sc = result.scenario
    lang = lang or sc.language
    font = cjk_font()  # names of schools and zones may be Chinese in either language
    if lang == "zh" and font is None:
        lang = "en"  # no Chinese glyphs on this machine: English rather than empty boxes
    method = sc.methods[0]
    schools = result.schools[result.schools["method"] == method]
    out: dict[str, bytes] = {}
    with font_context(font):
        for level in sc.levels:
            level_schools = schools[schools["level"] == level]
            zones = result.zones[result.zones["level"] == level] if len(result.zones) else None
            if len(level_schools) == 0 and (zones is None or len(zones) == 0):
                continue
            sites = None
            if result.new_sites is not None and len(result.new_sites):
                sites = result.new_sites[result.new_sites["level"] == level]
            out[level] = static_map(level_schools, zones, sites, level=level,
                                    title=sc.name, year=result.year, lang=lang)
    return out


def static_map(schools: Any, zones: Any | None, sites: Any | None, *, level: str, title: str,
               year: int, lang: str) -> bytes:
    """One level's static map as PNG bytes (see :func:`static_maps`).

    Parameters
    ----------
    schools : geopandas.GeoDataFrame
        One method's school rows of the level (``name``, ``shortfall``, ``seats``), points
        in a projected CRS (metres).
    zones : geopandas.GeoDataFrame or None
        The level's catchments (``name``, ``utilisation``), same CRS.
    sites : geopandas.GeoDataFrame or None
        Recommended new sites of the level (``name``), same CRS.
    level, title : str
        The level (named in the title) and the scenario's name.
    year : int
        The base year, the map's date.
    lang : {"zh", "en"}
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    words = STATIC_MAP_TEXT[lang]
    fig = Figure(figsize=STATIC_MAP_SIZE_IN, dpi=STATIC_MAP_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.86))
    ax.set_axis_off()
    ax.set_aspect("equal")
    if zones is not None and len(zones):
        util = zones["utilisation"].to_numpy(dtype=float) if "utilisation" in zones else \
            np.full(len(zones), np.nan)
        zones.plot(ax=ax, color=[utilisation_colour(u) for u in util], edgecolor="#555555",
                   linewidth=0.6)
        if "name" in zones.columns:
            geoms = zones.geometry.to_numpy()
            named = [i for i, (geom, name) in enumerate(zip(geoms, zones["name"], strict=True))
                     if geom is not None and not geom.is_empty and isinstance(name, str)]
            area = {i: geoms[i].area for i in named}
            for i in _most(named, lambda i: area[i]):  # the largest zones: room for a name
                p = geoms[i].representative_point()
                ax.annotate(zones["name"].iloc[i], (p.x, p.y), ha="center", va="center",
                            fontsize=5.5, color="#333333", alpha=0.9)
    if len(schools):
        pts = schools.geometry.representative_point()
        short = schools["shortfall"].to_numpy(dtype=float) if "shortfall" in schools else \
            np.full(len(schools), np.nan)
        seats = schools["seats"].to_numpy(dtype=float) if "seats" in schools else \
            np.ones(len(schools))
        size = np.clip(np.sqrt(np.nan_to_num(seats, nan=0.0)) * 0.9, 8, 120)
        ax.scatter(pts.x, pts.y, s=size, c=[shortfall_colour(v) for v in short],
                   edgecolors="#222222", linewidths=0.4, zorder=3)
        names = (schools["name"] if "name" in schools else schools["school_id"]).to_numpy()
        xs, ys = pts.x.to_numpy(), pts.y.to_numpy()
        short_named = [i for i in range(len(schools))
                       if isinstance(names[i], str) and short[i] > 0]
        for i in _most(short_named, lambda i: short[i]):  # name the schools most short
            ax.annotate(names[i], (xs[i], ys[i]), xytext=(3, 3), textcoords="offset points",
                        fontsize=5.5, color="#111111", zorder=4)
    if sites is not None and len(sites):
        pts = sites.geometry.representative_point()
        ax.scatter(pts.x, pts.y, s=70, marker="*", c=NEW_SITE_COLOUR, edgecolors="white",
                   linewidths=0.5, zorder=5)
        for x, y, name in zip(pts.x, pts.y, sites.get("name", sites.get("site_id")),
                              strict=True):
            if isinstance(name, str):
                ax.annotate(name, (x, y), xytext=(4, -7), textcoords="offset points",
                            fontsize=6, color=NEW_SITE_COLOUR, zorder=5)
    shown = LEVEL_NAMES_ZH.get(level, level) if lang == "zh" else level
    fig.text(0.5, 0.955, f"{title} · {shown} · {words['title']}", ha="center", fontsize=12)
    fig.text(0.5, 0.915, words["date"].format(year=year, next=str(year + 1)[-2:]),
             ha="center", fontsize=8.5, color="#444444")
    handles = []
    if zones is not None and len(zones):
        handles.append(Patch(facecolor="none", edgecolor="none", label=words["utilisation"]))
        handles += [Patch(facecolor=c, edgecolor="#777777", label=lb)
                    for c, lb in zip(UTILISATION_COLOURS, map(html.unescape, UTILISATION_LABELS),
                                     strict=True)]
    handles.append(Patch(facecolor="none", edgecolor="none", label=words["shortfall"]))
    for colour, label in zip((SHORTFALL_NONE_COLOUR, *SHORTFALL_COLOURS, NO_DATA_COLOUR),
                             words["shortfall_classes"], strict=True):
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=colour,
                              markeredgecolor="#222222", label=label))
    if sites is not None and len(sites):
        handles.append(Line2D([], [], marker="*", linestyle="", markersize=10,
                              markerfacecolor=NEW_SITE_COLOUR, markeredgecolor="white",
                              label=words["new_sites"]))
    ax.legend(handles=handles, loc="lower left", fontsize=6, frameon=True, framealpha=0.9,
              borderpad=0.6, handlelength=1.4)
    _scale_bar(ax, words["metres"], words["km"])
    _north_arrow(ax, words["north"])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _most(rows: list[int], key: Any) -> list[int]:
    """At most :data:`MAX_LABELS` of ``rows``: those of largest ``key(row)`` (ties: the
    earlier row), in their own order. A city's hundreds of names on one page would cover
    each other and the map; the planner reads the rest on the interactive map."""
    if len(rows) <= MAX_LABELS:
        return rows
    best = sorted(rows, key=lambda i: (-key(i), i))[:MAX_LABELS]
    return sorted(best)


def _scale_bar(ax: Any, metres: str, km: str) -> None:
    """A scale bar of a round length about a fifth of the map's width, bottom right."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    target = (x1 - x0) / 5
    step = 10 ** math.floor(math.log10(target))
    length = max(m * step for m in (1, 2, 5) if m * step <= target)
    right, bottom = x1 - (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.04
    ax.plot([right - length, right], [bottom, bottom], color="#000000", linewidth=3,
            solid_capstyle="butt", zorder=6)
    label = f"{length / 1000:g} {km}" if length >= 1000 else f"{length:g} {metres}"
    ax.annotate(label, (right - length / 2, bottom), xytext=(0, 4), textcoords="offset points",
                ha="center", fontsize=7, zorder=6)


def _north_arrow(ax: Any, north: str) -> None:
    """An arrow pointing up (the planning CRS's grid north), top right."""
    ax.annotate(north, xy=(0.95, 0.97), xytext=(0.95, 0.87), xycoords="axes fraction",
                ha="center", va="center", fontsize=9,
                arrowprops={"facecolor": "black", "width": 3, "headwidth": 9, "shrink": 0.0})
