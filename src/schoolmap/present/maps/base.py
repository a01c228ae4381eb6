"""The map itself: :class:`SchoolMap` (a folium map that knows whether it draws in GCJ-02),
Leaflet written into the page, the legend box, popups and markers without Jinja, the input
checks shared by every layer, and :func:`write_map`."""

from __future__ import annotations

import base64
import functools
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

from schoolmap.i18n import LAYER_NAMES, LEVEL_NAMES_ZH, MAP_UI, map_text
from schoolmap.io.crs import wgs84_to_gcj02
from schoolmap.present.maps.style import (
    LEVEL_ORDER,
    SIMPLIFY_M,
    catchment_highlight,
    column_lists,
    column_values,
    escape,
    fmt_int,
    fmt_pct,
    is_missing,
    marker_radius,
    numeric_values,
    popup_html,
    popup_rows,
    ring_style,
    row_values,
    shortfall_colour,
    text_of,
)

LEGEND = "schoolmap_legend"  # name of the legend element in the page's HTML


DENSITY_PANE = "schoolmap_density"  # pane of the unserved squares: above catchments, below schools


_METRES_PER_DEGREE = 111_320.0


_ELEMENT_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-f])")  # folium/branca: name_ + uuid4().hex


def stable_ids(html: str) -> str:
    """A rendered page with folium's random element ids numbered in order of appearance.

    folium and branca give every element a random id (``circle_marker_<uuid4 hex>``), so the
    same map rendered twice differs in them alone. Each id becomes ``id`` + its rank of first
    appearance, 32 characters like the original (every use of one id gets the same number), so
    identical inputs give byte-identical pages.

    Examples
    --------
    >>> a, b = "ab" * 16, "cd" * 16
    >>> stable_ids(f"map_{a} x_{b} y(map_{a})").replace("0" * 29, "…")
    'map_id…1 x_id…2 y(map_id…1)'
    """
    numbers: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return numbers.setdefault(match.group(0), f"id{len(numbers) + 1:030d}")

    return _ELEMENT_ID.sub(number, html)


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
    text = stable_ids(m.get_root().render())
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


@functools.cache
def leaflet_assets() -> tuple[str, str]:
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


class Verbatim(Element):
    """Text written into the page as it is (branca's Element would parse it as a template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


def element_name(element: Element) -> str:
    """``element.get_name()``, worked out once per element and kept on it: branca rebuilds the
    name from the class name on every call, and a city's map asks for its markers' and their
    layers' names some 100,000 times."""
    name = element.__dict__.get("_schoolmap_name")
    if name is None:
        stem = _NAME_STEMS.get(element._name)
        if stem is None:  # branca's name is "<class name in snake case>_<id>"
            full = Element.get_name(element)
            stem = _NAME_STEMS[element._name] = full[:len(full) - len(element._id) - 1]
        name = element.__dict__["_schoolmap_name"] = f"{stem}_{element._id}"
    return name


#: The snake-case stem of branca's element names, by class name (see :func:`element_name`).
_NAME_STEMS: dict[str, str] = {}


class _NamedOnce:
    """Mix-in: :func:`element_name` as ``get_name`` (the same name, computed once)."""

    def get_name(self) -> str:
        return element_name(self)  # type: ignore[arg-type]


class TextPopup(_NamedOnce, MacroElement):
    """A popup bound to its parent layer, its HTML handed to Leaflet as a string.

    folium's Popup turns the HTML into a DOM node with jQuery (``$(`...`)[0]``), which would
    put jQuery back on the page. Leaflet keeps a string until the popup first opens, so this
    is as lazy as folium's ``lazy=True``. Data in ``html_text`` must already be escaped with
    ``escape``; backquotes, ``${`` and backslashes of the markup itself are escaped here.
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
        self.get_root().script.add_child(
            Verbatim(bind_script(element_name(self._parent), self._method, self.html_text,
                                 self._options())),
            name=self.get_name(),
        )


def bind_script(layer: str, method: str, html_text: str, options: str) -> str:
    """``layer.method(`html_text`, options);`` — a popup or tooltip bound to a layer, the
    HTML (already escaped) as a template literal: its backquotes, ``${`` and backslashes
    escaped here."""
    literal = html_text.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")
    return f"{layer}.{method}(`{literal}`, {options});\n"


class _CircleMarker(_NamedOnce, folium.CircleMarker):
    """folium's CircleMarker, its script written without compiling a Jinja template per marker
    (the same script as folium's: location and options as HTML-safe JSON, keys sorted).

    ``bound``: (method, HTML, options) of tooltips and popups written right after the marker
    in the same script — what a :class:`_Tooltip` and a :class:`TextPopup` child would write,
    without two more elements per marker."""

    def __init__(self, *args: Any, bound: Sequence[tuple[str, str, str]] = (),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bound = list(bound)

    def render(self, **kwargs: Any) -> None:
        location = htmlsafe_json_dumps(self.location, sort_keys=True)
        options = htmlsafe_json_dumps(self.options, sort_keys=True)
        name = self.get_name()
        parts = [f"var {name} = L.circleMarker(\n    {location},\n    {options}\n)"
                 f".addTo({element_name(self._parent)});\n"]
        parts += [bind_script(name, *b) for b in self.bound]
        # the page's script writes each of its parts after a new line and four spaces
        self.get_root().script.add_child(Verbatim("\n    ".join(parts)), name=name)
        for child in self._children.values():
            child.render(**kwargs)


class _Tooltip(TextPopup):
    """A sticky tooltip bound to its parent layer, written as it is (as :class:`TextPopup`).

    It writes what ``folium.Tooltip(html_text, sticky=True)`` writes, without compiling a
    Jinja template per marker: a district's thousands of markers render several times faster.
    """

    _method = "bindTooltip"

    def __init__(self, html_text: str) -> None:
        super().__init__(f"<div>{html_text}</div>")

    def _options(self) -> str:
        return _TOOLTIP_OPTIONS


_TOOLTIP_OPTIONS = '{"sticky": true}'


def check_table(frame: object, what: str, required: Sequence[str], problems: list[str]) -> bool:
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


def problem_message(problems: list[str], where: str = "shortfall_map") -> str:
    count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
    return f"{where}: {count} — " + "; ".join(problems) + "."


def add_point_layers(
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
    legend = legend_of(m, where)
    check_levels_arg(levels)
    if table is None:
        return 0
    problems: list[str] = []
    if not check_table(table, what, required, problems):
        if problems:
            raise ValueError(problem_message(problems, where))
        return 0
    points = school_points_lonlat(table, m.gcj02)
    resolved = resolve_levels(levels, set(points["level"].astype(str)))
    points = points[points.geometry.notna() & ~points.geometry.is_empty]
    n_drawn = 0
    for level in resolved:
        level_points = points[points["level"].astype(str) == level].reset_index(drop=True)
        if len(level_points) == 0:
            continue
        group = folium.FeatureGroup(name=layer_name(kind, level, lang), show=show)
        draw(group, level_points)
        add_overlay(m, group)
        n_drawn += len(level_points)
    if n_drawn:
        legend.add_section(legend_key, legend_html())
    return n_drawn


def check_levels_arg(levels: object) -> None:
    if isinstance(levels, str):
        raise TypeError(
            f"levels must be a sequence of level names such as ['primary'], not the string "
            f"{levels!r}."
        )


def ensure_density_pane(m: folium.Map) -> None:
    """The pane above the catchments and below the school markers (unserved squares,
    developments), created once per map."""
    if not any(
        isinstance(child, folium.map.CustomPane) and child.name == DENSITY_PANE
        for child in m._children.values()
    ):
        folium.map.CustomPane(DENSITY_PANE, z_index=380, pointer_events=True).add_to(m)


def add_overlay(m: folium.Map, group: folium.FeatureGroup) -> None:
    """Add a layer to a finished map, keeping the layer switcher after every layer: its script
    refers to the layers' variables, which must be defined before it runs."""
    group.add_to(m)
    for key in [k for k, child in m._children.items() if isinstance(child, folium.LayerControl)]:
        m._children[key] = m._children.pop(key)


def layer_name(kind: str, level: str, lang: str, detail: str = "") -> str:
    """Escaped layer name, e.g. ``Schools – primary``, ``学校 – 小学`` or, with ``detail``
    after the kind, ``Schools 2029 (peak) – junior``."""
    if lang not in LAYER_NAMES:
        raise ValueError(f"lang must be one of {', '.join(LAYER_NAMES)}, got {lang!r}")
    shown = LEVEL_NAMES_ZH.get(level, level) if lang == "zh" else level
    return escape(f"{LAYER_NAMES[lang][kind]}{detail} – {shown}")


def legend_of(m: object, where: str) -> MapLegend:
    """The legend of a map made by :func:`shortfall_map` (the layers added explain themselves
    there and rely on its style sheet)."""
    legend = None
    if isinstance(m, SchoolMap):
        legend = m.get_root().html._children.get(LEGEND)
    if not isinstance(legend, MapLegend):
        raise ValueError(
            f"{where}: m must be a map made by schoolmap.maps.shortfall_map, got "
            f"{type(m).__name__}; draw the schools first, e.g. m = shortfall_map(schools)."
        )
    return legend


def resolve_levels(requested: Sequence[str] | None, present: set[str]) -> list[str]:
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


def metres_to_crs_units(crs: Any, metres: float) -> float:
    """Express a length in metres in the horizontal units of ``crs`` (degrees: approximately)."""
    if crs.is_geographic:
        return metres / _METRES_PER_DEGREE
    factor = None
    if crs.axis_info:
        factor = crs.axis_info[0].unit_conversion_factor
    return metres / factor if factor else metres


def to_lonlat(geoms: gpd.GeoSeries, gcj02: bool = False) -> gpd.GeoSeries:
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


def school_points_lonlat(schools: gpd.GeoDataFrame, gcj02: bool = False) -> gpd.GeoDataFrame:
    """Schools as points in display lon/lat (:func:`to_lonlat`); polygons are replaced by their
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
        points = to_lonlat(points, gcj02)
    return gpd.GeoDataFrame(schools.drop(columns=geom.name), geometry=points)


def zone_shapes_lonlat(zones: gpd.GeoDataFrame, gcj02: bool = False) -> gpd.GeoDataFrame:
    """Zones simplified (5 m) in their own CRS, then in display lon/lat (:func:`to_lonlat`)."""
    geom = zones.geometry
    arr = geom.to_numpy().copy()
    # GeometryCollections would make folium warn; keep their polygonal parts.
    for i, g in enumerate(arr):
        if g is not None and g.geom_type == "GeometryCollection":
            parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
            arr[i] = shapely.union_all(parts) if parts else None
    usable = np.array([g is not None and not g.is_empty for g in arr], dtype=bool)
    tolerance = metres_to_crs_units(zones.crs, SIMPLIFY_M)
    arr[usable] = shapely.simplify(arr[usable], tolerance, preserve_topology=True)
    rounded = to_lonlat(gpd.GeoSeries(arr, index=zones.index, crs=zones.crs), gcj02).to_numpy()
    keep = np.array([g is not None and not g.is_empty for g in rounded], dtype=bool)
    out = gpd.GeoDataFrame(
        zones.drop(columns=geom.name),
        geometry=gpd.GeoSeries(rounded, index=zones.index, crs="EPSG:4326"),
    )
    return out[keep]


def data_bounds(
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


def add_geojson(
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
        highlight_function=catchment_highlight,
        tooltip=tooltip,
        marker=marker,
        control=False,
        pane=pane,
    ).add_to(group)


def add_schools(
    group: folium.FeatureGroup,
    schools: gpd.GeoDataFrame,
    popup: Callable[[dict[str, list], int], str] | None = None,
    tip_lead: str = "",
    lang: str = "en",
) -> None:
    """Add one circle marker per school row, filled by shortfall, ringed by oversized classes.

    ``popup(schools, i)`` gives the popup HTML (default :func:`school_popup` in ``lang``);
    ``tip_lead`` (escaped HTML) starts the tooltip's second line, written in ``lang``."""
    popup = popup or (lambda columns, i: school_popup(columns, i, lang))
    shortfall = numeric_values(schools, "shortfall")
    utilisation = numeric_values(schools, "utilisation")
    large = numeric_values(schools, "n_classes_56_65")
    very_large = numeric_values(schools, "n_classes_66_plus")
    short_word, use_word = map_text("shortfall", lang), map_text("utilisation", lang)

    def style(i: int) -> dict[str, Any]:
        ring_colour, ring_width = ring_style(large[i], very_large[i])
        return {"color": ring_colour, "weight": ring_width, "fill_opacity": 0.85,
                "fill_color": shortfall_colour(shortfall[i])}

    def tip(i: int) -> str:
        return (f"{tip_lead}{short_word}: {fmt_int(shortfall[i])} · "
                f"{use_word}: {fmt_pct(utilisation[i])}")

    columns = column_lists(schools)
    add_markers(group, schools, style, tip, lambda i: popup(columns, i))


def add_markers(
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
    seats = numeric_values(points, "seats")
    order = np.argsort(-np.nan_to_num(seats, nan=-1.0), kind="stable")
    names = column_values(points, "name")
    ids = column_values(points, "school_id" if "school_id" in points.columns else "site_id")
    geoms = points.geometry.to_numpy()
    for i in order:
        tooltip = f"<div><b>{text_of(names[i])}</b> ({text_of(ids[i])})<br>{tip(i)}</div>"
        marker = _CircleMarker(
            location=[round(geoms[i].y, 6), round(geoms[i].x, 6)],
            radius=marker_radius(seats[i]),
            opacity=1.0,
            fill=True,
            bound=[(_Tooltip._method, tooltip, _TOOLTIP_OPTIONS),
                   ("bindPopup", popup(i), f'{{"maxWidth": {int(max_width)}}}')],
            **style(i),
        )
        marker.add_to(group)
    set_labels(group, "schools", [(round(geoms[i].y, 6), round(geoms[i].x, 6), text_of(names[i]))
                                  for i in order if not is_missing(names[i])])


def set_labels(group: folium.FeatureGroup, kind: str,
               items: list[tuple[float, float, str]]) -> None:
    """Names to write on the map when ``group`` is on and the map zoomed in: ``kind``
    ``"schools"`` or ``"zones"`` (:data:`~schoolmap.present.maps.controls.LABEL_ZOOM`),
    ``items`` ``(lat, lon, escaped HTML)``."""
    group.schoolmap_labels = (kind, items)


def school_popup(schools: pd.DataFrame | dict[str, list], i: int, lang: str = "en") -> str:
    """HTML table of one school row in ``lang``; every value escaped."""
    rows = popup_rows(schools, i, (
        "school_id", "level", "school_type", "sector", "seats", "classes", "demand",
        "shortfall", "utilisation", "classes_needed", "avg_class_size", "n_classes_56_65",
        "n_classes_66_plus", "share_beyond_radius", "mean_distance_m"), lang)
    return popup_html(text_of(row_values(schools, i)[0]("name")), rows)


class SchoolMap(folium.Map):
    """A folium map made by :func:`~schoolmap.present.maps.capacity.shortfall_map`; it carries how
    it draws coordinates, so the layers added later draw the same way.

    Parameters
    ----------
    *args, **kwargs
        As :class:`folium.Map`.
    gcj02 : bool, optional
        True when every layer is shifted from WGS 84 to GCJ-02 to match Gaode tiles.
    lang : {"en", "zh"}, optional
        Language of its words (legend, popups, tooltips); layers added later write theirs in
        the same language.
    """

    def __init__(self, *args: Any, gcj02: bool = False, lang: str = "en",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gcj02 = gcj02
        self.lang = lang


class MapLegend(Element):
    """The legend box: sections (key → HTML, in order), then notes; written as it is.

    :func:`shortfall_map` creates it; the ``add_*`` functions add their section once. All text
    in it must already be escaped. (How the map draws coordinates is the map's own:
    :attr:`SchoolMap.gcj02`.)
    """

    def __init__(self, sections: dict[str, str], notes: list[str], lang: str = "en") -> None:
        super().__init__()
        self.sections = dict(sections)
        self.notes = list(notes)
        self.lang = lang

    def add_section(self, key: str, section_html: str) -> None:
        self.sections.setdefault(key, section_html)

    def render(self, **kwargs: Any) -> str:
        return (
            '<div class="schoolmap-box schoolmap-legend"><details open>'
            f"<summary>{MAP_UI.get(self.lang, MAP_UI['en'])['legend']}</summary>"
            + "".join(self.sections.values())
            + "".join(self.notes)
            + "</details></div>"
        )
