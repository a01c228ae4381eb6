"""How the maps look: colours and classes, layer names, the page's CSS, legend
symbols, and the escaping and number formats of every popup (nothing here draws)."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from schoolmap.i18n import MAP_TEXT, MAP_VALUES_ZH, map_text

#: Levels in display order; other level names found in the data follow, sorted.
LEVEL_ORDER: tuple[str, ...] = ("kindergarten", "primary", "junior", "senior")


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


#: Shortfall classes of the legend (seats; the unit follows in the map's language).
SHORTFALL_LABELS: tuple[str, ...] = ("1–49", "50–199", "≥ 200")


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


#: Unserved classes of the legend (students; the unit follows in the map's language).
UNSERVED_LABELS: tuple[str, ...] = ("&lt; 10", "10–25", "25–50", "50–100", "≥ 100")


#: Colour of anything whose value is missing (NaN).
NO_DATA_COLOUR = "#bdbdbd"


#: Recommended new schools: fill, dashed ring (colour, width in pixels) and its dash pattern.
NEW_SITE_COLOUR = "#2c7bb6"


NEW_SITE_RING: tuple[str, float] = ("#08306b", 2.5)


NEW_SITE_DASH = "4 3"


#: Colour of the assignment lines (cell → school).
ASSIGNMENT_LINE_COLOUR = "#54278f"


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


#: Tianditu (天地图, the national basemap service) in Web Mercator: vector map (``vec``) and
#: its Chinese annotation (``cva``), CGCS2000 ≈ WGS 84, so no layer is shifted. ``{tk}`` is the
#: key (``[map] tianditu_key`` or the environment variable ``SCHOOLMAP_TIANDITU_KEY``).
TIANDITU_TILES = tuple(
    f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}"
    f"&TILEROW={{y}}&TILECOL={{x}}&tk={{tk}}" for layer in ("vec", "cva"))


TIANDITU_ATTRIBUTION = "&copy; 天地图 Tianditu (国家地理信息公共服务平台)"


TIANDITU_SUBDOMAINS = "01234567"


MISSING = "—"


PAGE_CSS = """<style>
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


def catchment_style(feature: dict) -> dict:
    return {
        "fillColor": feature["properties"]["fill"],
        "fillOpacity": 0.6,
        "color": "#555555",
        "weight": 0.8,
        "opacity": 0.9,
    }


def catchment_highlight(feature: dict) -> dict:
    return {"weight": 2.5, "color": "#222222", "fillOpacity": 0.75}


def row_values(schools: pd.DataFrame | dict[str, list], i: int) -> tuple[Any, Any]:
    """Accessors of row ``i``: ``get(column)`` (None when absent) and ``num(column)`` (float).

    ``schools`` is a frame, or its :func:`column_lists` (much faster for a popup per row)."""
    if isinstance(schools, pd.DataFrame):
        row = schools.iloc[i]

        def get(column: str) -> Any:
            return row[column] if column in schools.columns else None
    else:

        def get(column: str) -> Any:
            values = schools.get(column)
            return None if values is None else values[i]

    def num(column: str) -> float:
        return to_float(get(column))

    return get, num


def popup_html(name: str, rows: list[tuple[str, str]], lead: str = "", note: str = "") -> str:
    """A popup: escaped name, an optional lead line, a label/value table (values ready) and
    an optional paragraph below it (escaped)."""
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    lead_html = f'<div class="lead">{lead}</div>' if lead else ""
    note_html = f'<p class="note">{note}</p>' if note else ""
    return (f'<div class="schoolmap-popup"><div class="name">{name}</div>{lead_html}'
            f"<table>{body}</table>{note_html}</div>")


def column_lists(frame: pd.DataFrame) -> dict[str, list]:
    """A frame's columns as lists, to read many rows cell by cell (see :func:`row_values`)."""
    return {str(column): frame[column].tolist() for column in frame.columns}


def popup_rows(
    frame: pd.DataFrame | dict[str, list], i: int, fields: Sequence[str | tuple[str, str]],
    lang: str = "en",
) -> list[tuple[str, str]]:
    """(label, formatted value) of row ``i`` for ``fields`` in ``lang``: column names of
    :data:`_POPUP_FIELDS`, or (column, key of :data:`~schoolmap.i18n.MAP_TEXT`) to relabel
    one."""
    get, _ = row_values(frame, i)
    rows = []
    for field in fields:
        column, key = field if isinstance(field, tuple) else (field, field)
        rows.append((map_text(key, lang), _POPUP_FIELDS[column](get(column), lang)))
    return rows


def legend_row(symbol: str, label: str) -> str:
    return f'<div class="row">{symbol}<span>{label}</span></div>'


def ring_svg(colour: str, width: float) -> str:
    return (
        '<svg width="18" height="18" viewBox="0 0 18 18">'
        f'<circle cx="9" cy="9" r="{8 - width / 2:g}" fill="{SHORTFALL_COLOURS[-1]}" '
        f'stroke="{colour}" stroke-width="{width:g}"/></svg>'
    )


def utilisation_colour(utilisation: float) -> str:
    """Fill colour of a catchment for ``utilisation`` (demand / seats, 1.0 = 100 %)."""
    if utilisation is None or math.isnan(utilisation):
        return NO_DATA_COLOUR
    index = int(np.searchsorted(UTILISATION_BREAKS, utilisation, side="right"))
    return UTILISATION_COLOURS[index]


def shortfall_colour(shortfall: float) -> str:
    """Fill colour of a school marker for ``shortfall`` (seats short, ≥ 0)."""
    if shortfall is None or math.isnan(shortfall):
        return NO_DATA_COLOUR
    if shortfall <= 0:
        return SHORTFALL_NONE_COLOUR
    index = int(np.searchsorted(SHORTFALL_BREAKS, shortfall, side="right"))
    return SHORTFALL_COLOURS[index]


def seat_price_colour(price_m: float) -> str:
    """Fill colour of a seat-price marker for ``price_m`` (metres of travel saved per seat)."""
    if price_m is None or math.isnan(price_m):
        return NO_DATA_COLOUR
    if price_m < SEAT_PRICE_ZERO_M:
        return SEAT_PRICE_ZERO_COLOUR
    index = int(np.searchsorted(SEAT_PRICE_BREAKS_M, price_m, side="right"))
    return SEAT_PRICE_COLOURS[index]


def unserved_colour(students: float) -> str:
    """Fill colour of a display square for ``students`` (unserved students in it)."""
    index = int(np.searchsorted(UNSERVED_BREAKS, students, side="right"))
    return UNSERVED_COLOURS[index]


def ring_style(n_classes_56_65: float, n_classes_66_plus: float) -> tuple[str, float]:
    """Outline (colour, width in px) of a school marker from its oversized-class counts."""
    if n_classes_66_plus is not None and n_classes_66_plus > 0:  # NaN > 0 is False
        return RING_VERY_LARGE_CLASSES
    if n_classes_56_65 is not None and n_classes_56_65 > 0:
        return RING_LARGE_CLASSES
    return RING_NORMAL


def marker_radius(seats: float) -> float:
    """Marker radius (pixels) for ``seats``: area ∝ seats, clipped to 4–24 px (NaN: 4 px)."""
    if seats is None or math.isnan(seats) or seats <= 0:
        return RADIUS_PX_MIN
    radius = RADIUS_PX_AT_1000_SEATS * math.sqrt(seats / 1000.0)
    return round(min(max(radius, RADIUS_PX_MIN), RADIUS_PX_MAX), 2)


def escape(value: object) -> str:
    """HTML-escape text and neutralise what JavaScript template literals and Jinja treat as code.

    Backquote, ``$`` and backslash could end or escape a template literal; braces could form
    ``{{ ... }}`` or ``{% ... %}``, which Jinja would run when folium renders the HTML again.
    """
    text = html.escape(str(value), quote=True)
    text = text.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")
    return text.replace("{", "&#123;").replace("}", "&#125;")


def is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like values are not "missing"
        return False


def text_of(value: object) -> str:
    return MISSING if is_missing(value) else escape(value)


def to_float(value: object) -> float:
    """A number as float; NaN for missing or non-numeric values."""
    if is_missing(value) or isinstance(value, bool):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def numeric_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64 (NaN where missing or not numeric; all NaN if the column is absent)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[column], errors="coerce")
    return values.to_numpy(dtype="float64", na_value=np.nan)


def column_values(frame: pd.DataFrame, column: str) -> list[object]:
    if column not in frame.columns:
        return [None] * len(frame)
    return frame[column].tolist()


def fmt_int(value: float) -> str:
    if math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{round(value):,}"


def fmt_year(value: float) -> str:
    """A year (no thousands separator); "—" when missing."""
    return fmt_int(value).replace(",", "")


def fmt_float(value: float, digits: int) -> str:
    if math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:,.{digits}f}"


def fmt_pct(value: float) -> str:
    if math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value * 100:.0f} %"


def fmt_metres(value: float) -> str:
    if math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "∞ m" if value > 0 else "−∞ m"
    return f"{value:,.0f} m"


def fmt_students(value: float) -> str:
    """A (possibly fractional) number of students: whole students, "< 1" below one."""
    if math.isnan(value):
        return MISSING
    if 0 < value < 1:
        return "&lt; 1"
    return fmt_int(value)


def _number(fmt: Callable[[float], str]) -> Callable[[Any, str], str]:
    """A formatter of raw cell values (missing or non-numeric: NaN) from one of floats."""
    return lambda value, _lang: fmt(to_float(value))


def value_of(value: object, lang: str) -> str:
    """A text value of a popup (school type, sector, method, level), in Chinese under ``"zh"``
    when it has a Chinese name; escaped."""
    if lang == "zh" and not is_missing(value) and str(value) in MAP_VALUES_ZH:
        return escape(MAP_VALUES_ZH[str(value)])
    return text_of(value)


def _source_of(value: object, lang: str) -> str:
    key = f"value_{value}"
    return map_text(key, lang) if key in MAP_TEXT else text_of(value)


#: Formatters of popup rows by column: (raw value, lang) → escaped HTML; the row labels are
#: :data:`schoolmap.i18n.MAP_TEXT`'s words of the same key.
_POPUP_FIELDS: dict[str, Callable[[Any, str], str]] = {
    "school_id": lambda v, _: text_of(v),
    "site_id": lambda v, _: text_of(v),
    "level": value_of,
    "school_type": value_of,
    "sector": value_of,
    "year": _number(fmt_year),
    "seats": _number(fmt_int),
    "classes": _number(fmt_int),
    "demand": _number(fmt_int),
    "students": _number(fmt_int),
    "shortfall": _number(fmt_int),
    "surplus": _number(fmt_int),
    "utilisation": _number(fmt_pct),
    "classes_needed": _number(fmt_int),
    "avg_class_size": _number(lambda v: fmt_float(v, 1)),
    "max_class_size": _number(fmt_int),
    "n_classes_le_45": _number(fmt_int),
    "n_classes_46_55": _number(fmt_int),
    "n_classes_56_65": _number(fmt_int),
    "n_classes_66_plus": _number(fmt_int),
    "share_beyond_radius": _number(fmt_pct),
    "mean_distance_m": _number(fmt_metres),
    "seat_price_m": _number(fmt_metres),
    "tracks": _number(fmt_int),
    "open_year": _number(fmt_year),
    "students_served": _number(fmt_int),
    "source": _source_of,
}
