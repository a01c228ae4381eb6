"""Coordinate systems: the local metric CRS, and the GCJ-02 / BD-09 offsets of Chinese web maps.

Distances are always computed in a projected CRS in metres. Geographic inputs (WGS 84,
CGCS2000 = EPSG:4490) are projected to the local UTM zone unless the scenario names a
``planning_crs``. Points digitised on Amap/Tencent maps are in GCJ-02 and points from Baidu in
BD-09: both are offset from WGS 84 by hundreds of metres and are converted here first.

The forward GCJ-02 transform is the published closed form; the inverses are solved by fixed-point
iteration to 1e-12 degrees, so a round trip is exact to far below a millimetre.

Examples
--------
>>> lon, lat = wgs84_to_gcj02(120.0, 40.0)
>>> round(float(lon), 12), round(float(lat), 12)
(120.005675683555, 40.001304789602)
>>> back = gcj02_to_wgs84(lon, lat)
>>> abs(float(back[0]) - 120.0) < 1e-9 and abs(float(back[1]) - 40.0) < 1e-9
True
>>> utm_crs_for(120.3, 31.5).to_epsg()
32651
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from schoolmap.errors import Problem

__all__ = [
    "COORDINATE_SYSTEMS",
    "FAR_OUTSIDE_M",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "coordinate_problems",
    "extent_problems",
    "gcj02_to_wgs84",
    "to_wgs84",
    "utm_crs_for",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Values of a scenario's ``coordinate_system``.
COORDINATE_SYSTEMS = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02 (metres)
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0

Pair = tuple[NDArray[np.float64], NDArray[np.float64]]


def _in_china(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    """GCJ-02 is applied only inside China's bounding box; elsewhere it is the identity."""
    return (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)


def _gcj_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Pair:
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + common
            + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + common
            + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * pi)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> Pair:
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _invert(forward, lon: ArrayLike, lat: ArrayLike) -> Pair:  # type: ignore[no-untyped-def]
    """Solve forward(p) = target by fixed-point iteration (the offsets vary slowly)."""
    tx, ty = _as_arrays(lon, lat)
    x, y = tx.copy(), ty.copy()
    for _ in range(50):
        fx, fy = forward(x, y)
        ex, ey = fx - tx, fy - ty
        x, y = x - ex, y - ey
        if np.all(np.abs(ex) < 1e-13) and np.all(np.abs(ey) < 1e-13):
            break
    return x, y


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """WGS 84 longitude/latitude (degrees) to GCJ-02 (Amap, Tencent)."""
    lon, lat = _as_arrays(lon, lat)
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """GCJ-02 longitude/latitude (degrees) to WGS 84, exact to 1e-12° by iteration."""
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """GCJ-02 longitude/latitude (degrees) to BD-09 (Baidu).

    >>> lon, lat = gcj02_to_bd09(116.42703, 39.90245)
    >>> round(float(lon), 4), round(float(lat), 4)
    (116.4335, 39.9085)
    """
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """BD-09 longitude/latitude (degrees) to GCJ-02, exact to 1e-12° by iteration."""
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """WGS 84 longitude/latitude (degrees) to BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """BD-09 longitude/latitude (degrees) to WGS 84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, coordinate_system: str) -> Pair:
    """Convert coordinates in ``coordinate_system`` (``wgs84``, ``gcj02``, ``bd09``) to WGS 84."""
    if coordinate_system == "wgs84":
        return _as_arrays(lon, lat)
    if coordinate_system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if coordinate_system == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(
        f"coordinate_system {coordinate_system!r} unknown; use one of {COORDINATE_SYSTEMS}"
    )


def utm_crs_for(lon: float, lat: float) -> pyproj.CRS:
    """The WGS 84 / UTM zone CRS (metres) containing a longitude/latitude (degrees)."""
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


#: A district narrower than this (in its CRS's units) cannot be real (metres).
_MIN_EXTENT_M = 10.0
#: A district wider than this cannot be one district (metres): the CRS or a coordinate is wrong.
_MAX_EXTENT_M = 1_500_000.0
#: Plausible median area of a polygon cell (m²): a building's footprint to a rural township.
_MIN_CELL_M2, _MAX_CELL_M2 = 1.0, 1e8
#: A school, site, development or zone this far beyond the cells' bounding box is misplaced.
FAR_OUTSIDE_M = 20_000.0

#: Hint for a file whose CRS is wrong: CRSs that Chinese district data is usually in.
_CRS_HINT = ("EPSG:4490 (CGCS2000 longitude/latitude), EPSG:4326 (WGS 84), a CGCS2000 "
             "Gauss–Krüger zone such as EPSG:4547 or a UTM zone such as EPSG:32651")


def _coords(frame: Any) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Finite x/y of every vertex and the row each belongs to."""
    xy, row = shapely.get_coordinates(frame.geometry.array, return_index=True)
    keep = np.isfinite(xy).all(axis=1)
    return xy[keep], row[keep]


def _metric(crs: pyproj.CRS) -> bool:
    return bool(crs.is_projected) and crs.axis_info[0].unit_name in ("metre", "meter")


def _name(crs: pyproj.CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def coordinate_problems(frame: Any, where: str, layer: str) -> list[Problem]:
    """Coordinates that cannot be in the layer's declared CRS, with the likely fix.

    Checks, before anything is projected: longitude/latitude beyond ±180°/±90° in a geographic
    CRS (metres labelled as degrees, or x and y swapped), and a cells layer in metres a few
    metres across whose numbers are degrees (lon/lat labelled as metres).

    Parameters
    ----------
    frame : GeoDataFrame
        One layer, with its CRS (layers without a CRS are skipped: that is reported apart).
    where : str
        File and layer, for messages.
    layer : str
        Layer name (``cells``, ``schools`` …), for row labels.

    Returns
    -------
    list of Problem

    Examples
    --------
    >>> import geopandas as gpd
    >>> f = gpd.GeoDataFrame(geometry=[shapely.Point(31.5, 120.3)], crs="EPSG:4326")
    >>> print(coordinate_problems(f, "s.gpkg:schools", "schools")[0])  # doctest: +ELLIPSIS
    s.gpkg:schools: latitude (y) up to 120.3 is beyond ±90° ... swapped...
    """
    from schoolmap.io._validate import row_labels

    if frame.crs is None or len(frame) == 0:
        return []
    crs = pyproj.CRS.from_user_input(frame.crs)
    xy, row = _coords(frame)
    if len(xy) == 0:
        return []
    x, y = xy[:, 0], xy[:, 1]
    if crs.is_geographic:
        out = (np.abs(x) > 180.0) | (np.abs(y) > 90.0)
        if not out.any():
            return []
        rows = np.zeros(len(frame), dtype=bool)
        rows[row[out]] = True
        labels = row_labels(frame, rows, layer)
        big = float(np.abs(xy[out]).max())
        if big > 1000.0:
            return [Problem(where, f"coordinates up to {big:,.0f} are far beyond ±180° "
                            f"longitude / ±90° latitude: they look like metres, but the layer's "
                            f"CRS is geographic {_name(crs)}; set the file's real projected CRS "
                            f"(in QGIS: Layer ▸ Set CRS; e.g. {_CRS_HINT})", labels)]
        if (np.abs(x[out]) <= 90.0).all() and (np.abs(y[out]) <= 180.0).all():
            return [Problem(where, f"latitude (y) up to {float(np.abs(y[out]).max()):.1f} is "
                            "beyond ±90° while longitude (x) is within ±90°: x and y look "
                            "swapped; put longitude in x and latitude in y (GeoJSON, WKT and "
                            "CSV x/lon come first)", labels)]
        return [Problem(where, f"coordinates beyond ±180° longitude / ±90° latitude in "
                        f"{_name(crs)}; check the file's CRS", labels)]
    if layer == "cells" and _metric(crs):
        width = float(max(x.max() - x.min(), y.max() - y.min()))
        degrees = (np.abs(x) <= 180.0).all() and (np.abs(y) <= 90.0).all()
        if width < _MIN_EXTENT_M and degrees:
            return [Problem(where, f"the cells are {width:.2f} m across in {_name(crs)}, and "
                            f"their numbers (x {x.min():.2f}…{x.max():.2f}, y {y.min():.2f}…"
                            f"{y.max():.2f}) look like longitude/latitude degrees; set the "
                            "layer's CRS to its geographic one, e.g. EPSG:4490 (CGCS2000) or "
                            "EPSG:4326 (WGS 84)")]
        if width < _MIN_EXTENT_M:
            return [Problem(where, f"the cells are {width:.2f} m across in {_name(crs)}; no "
                            "district is that small: check the CRS and the units")]
    return []


def extent_problems(frames: Mapping[str, Any], labels: Mapping[str, str]) -> list[Problem]:
    """After projection to the planning CRS (metres): every coordinate finite, a plausible
    district width, and no school, zone, development or site far beyond the cells.

    Parameters
    ----------
    frames : mapping
        Layer name → GeoDataFrame in the planning CRS (``cells`` required).
    labels : mapping
        Layer name → label for messages.

    Returns
    -------
    list of Problem
    """
    from schoolmap.io._validate import finite_rows, row_labels

    problems: list[Problem] = []
    for name, frame in frames.items():
        bad = ~finite_rows(frame.geometry.array)
        if bad.any():
            problems.append(Problem(labels[name], f"coordinates cannot be projected to "
                                    f"{_name(pyproj.CRS(frame.crs))} (they are outside the "
                                    "area it covers); check the layer's CRS",
                                    row_labels(frame, bad, name)))
    if problems:
        return problems
    cells = frames["cells"]
    x0, y0, x1, y1 = (float(b) for b in cells.total_bounds)
    width = max(x1 - x0, y1 - y0)
    if width > _MAX_EXTENT_M:
        problems.append(Problem(labels["cells"], f"the cells span {width / 1000:,.0f} km; no "
                                "district is that large: a coordinate is far off, or the CRS "
                                "is wrong"))
        return problems
    geoms = cells.geometry.array
    polygons = np.isin(np.asarray(shapely.get_type_id(geoms)), (3, 6))
    if polygons.any():
        median = float(np.median(shapely.area(geoms[polygons])))
        if not _MIN_CELL_M2 <= median <= _MAX_CELL_M2:
            problems.append(Problem(labels["cells"], f"the median cell is {median:,.3g} m²; "
                                    "cells are blocks or grid squares of about 100 m² to 1 km² "
                                    "(at most 100 km²): check the layer's CRS and its units"))
    for name in ("schools", "zones", "developments", "sites"):
        frame = frames.get(name)
        if frame is None or len(frame) == 0:
            continue
        b = frame.geometry.bounds.to_numpy()
        dx = np.maximum.reduce([x0 - b[:, 2], b[:, 0] - x1, np.zeros(len(b))])
        dy = np.maximum.reduce([y0 - b[:, 3], b[:, 1] - y1, np.zeros(len(b))])
        far = np.hypot(dx, dy)
        bad = far > FAR_OUTSIDE_M
        if bad.any():
            problems.append(Problem(labels[name], f"{int(bad.sum())} feature(s) lie up to "
                                    f"{far[bad].max() / 1000:,.1f} km outside the cells' area "
                                    f"(more than {FAR_OUTSIDE_M / 1000:.0f} km); check their "
                                    "coordinates "
                                    "(a typo, x/y swapped, or another CRS than the layer's)",
                                    row_labels(frame, bad, name)))
    return problems
