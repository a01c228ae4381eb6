"""The district: read, validate and project every layer into one metric planning CRS."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from schoolmap.errors import Problem, ValidationError
from schoolmap.io import _validate as v
from schoolmap.io.crs import (
    COORDINATE_SYSTEMS,
    coordinate_problems,
    extent_problems,
    to_wgs84,
    utm_crs_for,
)
from schoolmap.io.layers import LAYER_NAMES, find_layers, read_layer
from schoolmap.norms import SCHOOL_TYPES

__all__ = ["District", "district_from_frames", "read_district"]

_GEOMETRY_KINDS = {
    "cells": ("point", "polygon"),
    "schools": ("point", "polygon"),
    "zones": ("polygon",),
    "developments": ("point", "polygon"),
    "sites": ("point", "polygon"),
}


@dataclass(frozen=True)
class District:
    """A validated district in a metric planning CRS.

    Attributes
    ----------
    cells : geopandas.GeoDataFrame
        Residential cells with ``cell_id``, ``age_0`` … ``age_17`` (persons), ``population``.
    schools : geopandas.GeoDataFrame
        School points with ``school_id``, ``name``, ``level``, ``seats`` and/or ``classes``,
        ``sector`` (filled with ``public``), ``open_year``, ``close_year``.
    zones, developments, sites : geopandas.GeoDataFrame or None
        Optional layers (None when absent).
    crs : pyproj.CRS
        The planning CRS, in metres.
    source : str
        Where the district was read from.
    enrolment : pandas.DataFrame or None
        Optional enrolment history (a table without geometry): ``school_id``, ``year``,
        ``grade`` (1 = first primary grade), ``students``; sorted by school, year, grade.
    source_crs : pyproj.CRS or None
        The CRS the cells layer came in (before projecting to ``crs``): the default CRS of
        a run's ``results.gpkg``; None for a district built without one.
    """

    cells: gpd.GeoDataFrame
    schools: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame | None
    developments: gpd.GeoDataFrame | None
    sites: gpd.GeoDataFrame | None
    crs: pyproj.CRS
    source: str = "<memory>"
    enrolment: pd.DataFrame | None = None
    source_crs: pyproj.CRS | None = None

    def __repr__(self) -> str:
        """One line: where from, the CRS, and how many of each thing (not the tables)."""
        levels = self.schools["level"].value_counts().sort_index() if len(self.schools) else {}
        by_level = ", ".join(f"{n} {lv}" for lv, n in dict(levels).items())
        extra = [f"{len(layer)} {name}" for name, layer in
                 (("zones", self.zones), ("developments", self.developments),
                  ("sites", self.sites)) if layer is not None]
        epsg = self.crs.to_epsg()
        crs = f"EPSG:{epsg}" if epsg else self.crs.name
        return (f"District({self.source!r}, {crs}, {self.n_cells:,} cells, "
                f"{self.n_schools} schools ({by_level})" + "".join(f", {e}" for e in extra) + ")")

    @property
    def cell_xy(self) -> np.ndarray:
        """Representative point of each cell, ndarray of shape (n_cells, 2), metres.

        Computed once per district (a polygon's point on surface is costly at a million cells);
        each call returns a fresh copy, so callers may change it.
        """
        return self.cell_points.copy()

    @functools.cached_property
    def cell_points(self) -> np.ndarray:
        """The cached representative points behind :attr:`cell_xy` (read-only)."""
        xy = _points_xy(self.cells.geometry)
        xy.flags.writeable = False
        return xy

    @property
    def school_xy(self) -> np.ndarray:
        """School locations, ndarray of shape (n_schools, 2), metres."""
        return _points_xy(self.schools.geometry)

    @property
    def n_cells(self) -> int:
        """Number of residential cells."""
        return len(self.cells)

    @property
    def n_schools(self) -> int:
        """Number of schools (all levels)."""
        return len(self.schools)


def _points_xy(geometry: gpd.GeoSeries) -> np.ndarray:
    pts = geometry.array
    kinds = np.asarray(shapely.get_type_id(pts))
    if not np.isin(kinds, (0,)).all():
        pts = shapely.point_on_surface(pts)
    return np.ascontiguousarray(shapely.get_coordinates(pts)[:, :2], dtype=np.float64)


def read_district(
    path: str | os.PathLike[str],
    *,
    planning_crs: str | None = None,
    coordinate_system: str = "wgs84",
    input_crs: str | None = None,
) -> District:
    """Read and validate a district.

    Parameters
    ----------
    path : path-like
        GeoPackage with layers ``cells``, ``schools`` (required), ``zones``, ``developments``,
        ``sites`` and the table ``enrolment``; or a folder of per-layer files
        (``enrolment.csv`` for the table; see ``docs/data-model.md``).
    planning_crs : str, optional
        CRS for all computations, in metres (e.g. ``"EPSG:4547"``, a CGCS2000 Gauss–Krüger
        zone). Default: the layer's own CRS when projected in metres, else the local UTM zone.
    coordinate_system : {"wgs84", "gcj02", "bd09"}
        Datum offset of geographic coordinates: ``gcj02`` for points digitised on Amap/Tencent
        maps, ``bd09`` for Baidu; they are converted to WGS 84 before projecting.
    input_crs : str, optional
        CRS for layers that carry none (CSV files with x/y, or files without CRS metadata).

    Returns
    -------
    District

    Raises
    ------
    ValidationError
        Listing every problem found in every layer (file, layer, rows, field, what to do).
    """
    sources = find_layers(path)
    frames: dict[str, gpd.GeoDataFrame] = {}
    labels: dict[str, str] = {}
    problems: list[Problem] = []
    for name in LAYER_NAMES:
        if name not in sources:
            continue
        frame, more = read_layer(sources[name], input_crs)
        problems += more
        if frame is not None:
            frames[name] = frame
            labels[name] = sources[name].label
    table, label, more = _read_enrolment(Path(path))
    problems += more
    if table is not None:
        frames["enrolment"] = table
        labels["enrolment"] = label
    return district_from_frames(frames, planning_crs=planning_crs,
                                coordinate_system=coordinate_system, labels=labels,
                                source=str(path), problems=problems)


def district_from_frames(
    frames: dict[str, gpd.GeoDataFrame],
    *,
    planning_crs: str | None = None,
    coordinate_system: str = "wgs84",
    labels: dict[str, str] | None = None,
    source: str = "<memory>",
    problems: list[Problem] | None = None,
) -> District:
    """Validate layers already in memory and build a :class:`District`.

    Parameters
    ----------
    frames : dict
        Layer name (``cells``, ``schools``, ``zones``, ``developments``, ``sites``) →
        GeoDataFrame with a CRS; and optionally ``enrolment`` → DataFrame (no geometry).
    planning_crs, coordinate_system
        As for :func:`read_district`.
    labels : dict, optional
        Layer name → label used in error messages (default: the layer name).
    source : str
        Where the layers came from.
    problems : list of Problem, optional
        Problems already found while reading, reported together with the rest.
    """
    if coordinate_system not in COORDINATE_SYSTEMS:
        raise ValidationError([f"coordinate_system {coordinate_system!r} unknown; use one of "
                               f"{', '.join(COORDINATE_SYSTEMS)}"], "scenario")
    labels = {n: (labels or {}).get(n, n) for n in frames}
    problems = list(problems or [])
    frames = dict(frames)
    enrolment = frames.pop("enrolment", None)
    if enrolment is not None:
        enrolment = pd.DataFrame(enrolment).reset_index(drop=True)
        problems += v.check_enrolment(enrolment, labels["enrolment"], frames.get("schools"))
    for name in ("cells", "schools"):
        if name not in frames and not any(name in str(p) for p in problems):
            problems.append(Problem(source, f"required layer {name!r} missing"))
    frames = {n: f.reset_index(drop=True).copy() for n, f in frames.items()}
    problems += _check_layers(frames, labels)
    cells_crs = frames["cells"].crs if "cells" in frames else None
    crs = None
    if not problems:
        frames, crs, more = _to_planning_crs(frames, labels, planning_crs, coordinate_system)
        problems += more
    if not problems:
        far = extent_problems(frames, labels)
        problems += far
        if not any("cannot be projected" in p.message for p in far):
            problems += _check_schools_in_zones(frames, labels)
    ValidationError.raise_if(problems, f"district {Path(source).name}")
    assert crs is not None
    schools = frames["schools"]
    if "sector" not in schools.columns:
        schools["sector"] = "public"
    schools["sector"] = schools["sector"].fillna("public")
    for col in ("open_year", "close_year", "seats", "classes"):
        if col not in schools.columns:
            schools[col] = np.nan
        schools[col] = pd.to_numeric(schools[col], errors="coerce").astype("float64")
    schools["school_id"] = schools["school_id"].astype(str)
    if "zones" in frames:
        frames["zones"]["school_id"] = frames["zones"]["school_id"].astype(str)
        frames["zones"]["zone_id"] = frames["zones"]["zone_id"].astype(str)
    return District(
        cells=frames["cells"],
        schools=schools,
        zones=frames.get("zones"),
        developments=frames.get("developments"),
        sites=frames.get("sites"),
        crs=crs,
        source=source,
        enrolment=None if enrolment is None else _tidy_enrolment(enrolment),
        source_crs=None if cells_crs is None else pyproj.CRS.from_user_input(cells_crs),
    )


def _read_enrolment(path: Path) -> tuple[pd.DataFrame | None, str, list[Problem]]:
    """The optional ``enrolment`` table: a GeoPackage table or ``enrolment.csv`` in a folder."""
    if path.is_dir():
        source = path / "enrolment.csv"
        if not source.exists():
            return None, "", []
        label = source.name
        try:
            return pd.read_csv(source), label, []
        except Exception as exc:  # pandas says why (encoding, ragged lines, ...)
            return None, label, [Problem(label, f"cannot be read ({exc})")]
    if path.suffix.lower() != ".gpkg":
        return None, "", []
    label = f"{path.name}:enrolment"
    if "enrolment" not in {str(r[0]) for r in pyogrio.list_layers(path)}:
        return None, label, []
    try:
        table = pyogrio.read_dataframe(path, layer="enrolment", read_geometry=False)
    except Exception as exc:  # GDAL's own message says why
        return None, label, [Problem(label, f"cannot be read ({exc})")]
    return pd.DataFrame(table.drop(columns="geometry", errors="ignore")), label, []


def _tidy_enrolment(table: pd.DataFrame) -> pd.DataFrame:
    """Checked enrolment as ``school_id`` (str), ``year``, ``grade`` (int64), ``students``."""
    out = pd.DataFrame({
        "school_id": table["school_id"].astype(str),
        "year": pd.to_numeric(table["year"]).astype(np.int64),
        "grade": pd.to_numeric(table["grade"]).astype(np.int64),
        "students": pd.to_numeric(table["students"]).astype(np.float64),
    })
    return out.sort_values(["school_id", "year", "grade"], kind="stable").reset_index(drop=True)


def _check_layers(frames: dict[str, gpd.GeoDataFrame], labels: dict[str, str]) -> list[Problem]:
    problems: list[Problem] = []
    for name, frame in frames.items():
        where = labels[name]
        problems += v.check_columns(frame, name, where)
        problems += v.check_ids(frame, name, where)
        problems += v.check_geometry(frame, name, where, _GEOMETRY_KINDS[name])
        if frame.crs is not None:
            problems += coordinate_problems(frame, where, name)
        else:
            problems.append(Problem(where, "no CRS (coordinate reference system); set it in the "
                                    "file, or give input_crs in the scenario (e.g. "
                                    "\"EPSG:4490\" for CGCS2000 lon/lat)"))
    if "cells" in frames:
        problems += v.check_cells(frames["cells"], labels["cells"])
    if "schools" in frames:
        problems += v.check_schools(frames["schools"], labels["schools"])
    if "zones" in frames:
        problems += v.check_zones(frames["zones"], labels["zones"], frames.get("schools"))
    if "developments" in frames:
        problems += v.check_developments(frames["developments"], labels["developments"])
    return problems


def _to_planning_crs(
    frames: dict[str, gpd.GeoDataFrame],
    labels: dict[str, str],
    planning_crs: str | None,
    coordinate_system: str,
) -> tuple[dict[str, gpd.GeoDataFrame], pyproj.CRS | None, list[Problem]]:
    problems: list[Problem] = []
    if coordinate_system != "wgs84":
        for name, frame in frames.items():
            if not frame.crs.is_geographic:
                problems.append(Problem(labels[name], f"coordinate_system {coordinate_system!r} "
                                        "applies to longitude/latitude, but this layer is in "
                                        f"projected {frame.crs.name}"))
        if problems:
            return frames, None, problems
        frames = {n: _shift_datum(f, coordinate_system) for n, f in frames.items()}
    cells = frames["cells"]
    if planning_crs:
        try:
            crs = pyproj.CRS.from_user_input(planning_crs)
        except pyproj.exceptions.CRSError as exc:
            return frames, None, [Problem("scenario", f"planning_crs {planning_crs!r} is not a "
                                          f"CRS pyproj knows ({exc})")]
        if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
            return frames, None, [Problem("scenario", f"planning_crs {planning_crs!r} must be "
                                          "projected in metres (e.g. a UTM or CGCS2000 "
                                          "Gauss–Krüger zone)")]
    elif cells.crs.is_projected and cells.crs.axis_info[0].unit_name in ("metre", "meter"):
        crs = pyproj.CRS.from_user_input(cells.crs)
    else:
        lonlat = cells.geometry.to_crs("EPSG:4326").total_bounds
        crs = utm_crs_for((lonlat[0] + lonlat[2]) / 2, (lonlat[1] + lonlat[3]) / 2)
    out = {name: frame.to_crs(crs) for name, frame in frames.items()}
    return out, crs, problems


def _shift_datum(frame: gpd.GeoDataFrame, coordinate_system: str) -> gpd.GeoDataFrame:
    """Convert GCJ-02/BD-09 vertex coordinates to WGS 84 (the frame's CRS stays geographic)."""

    def shift(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], coordinate_system)
        return np.column_stack([lon, lat])

    out = frame.copy()
    out.geometry = gpd.GeoSeries(shapely.transform(frame.geometry.array, shift),
                                 index=frame.index, crs=frame.crs)
    return out.to_crs("EPSG:4326")


def _check_schools_in_zones(frames: dict[str, gpd.GeoDataFrame],
                            labels: dict[str, str]) -> list[Problem]:
    """Every school lies inside some zone of each level it serves that has zones."""
    zones = frames.get("zones")
    if zones is None or len(zones) == 0:
        return []
    schools = frames["schools"]
    xy = _points_xy(schools.geometry)
    pts = shapely.points(xy)
    outside = np.zeros(len(schools), dtype=bool)
    for level in sorted(set(zones["level"])):
        z = zones[zones["level"] == level]
        serves = np.array(schools["level"].map(lambda t, lv=level: lv in SCHOOL_TYPES.get(t, ())),
                          dtype=bool)
        if "sector" in schools.columns:
            serves &= (schools["sector"].fillna("public") != "private").to_numpy()
        tree = shapely.STRtree(z.geometry.array)
        inside = np.zeros(len(schools), dtype=bool)
        hit = tree.query(pts, predicate="intersects")
        inside[hit[0]] = True
        outside |= serves & ~inside
    if outside.any():
        return [Problem(labels["schools"], "school lies outside every zone of its level; move the "
                        "point or extend the zones", v.row_labels(schools, outside, "schools"))]
    return []
