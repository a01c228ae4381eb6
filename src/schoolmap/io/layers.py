"""Reading district layers from a GeoPackage, GeoJSON files or CSV files with coordinates."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from schoolmap.errors import Problem, ValidationError

__all__ = ["LAYER_NAMES", "LayerSource", "find_layers", "read_layer"]

#: Layers of a district, in the order they are read and written.
LAYER_NAMES = ("cells", "schools", "zones", "developments", "sites")
REQUIRED_LAYERS = ("cells", "schools")
_EXTENSIONS = (".gpkg", ".geojson", ".json", ".csv", ".xlsx", ".shp", ".zip")

#: Chinese column names as bureaus' files carry them → schoolmap's names (docs/data-model.md).
COLUMN_ALIASES: dict[str, str] = {
    "学校编号": "school_id", "学校代码": "school_id", "学校名称": "name", "名称": "name",
    "学段": "level", "学位数": "seats", "核定学位": "seats", "班级数": "classes",
    "办学性质": "sector", "开办年份": "open_year", "停办年份": "close_year",
    "单元编号": "cell_id", "人口": "population", "常住人口": "population", "户数": "households",
    "片区类型": "area_type", "学区编号": "zone_id", "项目编号": "dev_id", "住宅套数": "dwellings",
    "套数": "dwellings", "住房类型": "housing_type", "交付年份": "completion_year",
    "地块编号": "site_id", "经度": "lon", "纬度": "lat",
}


@dataclass(frozen=True)
class LayerSource:
    """Where one layer comes from: a file and, inside a GeoPackage, a layer name."""

    path: Path
    layer: str | None

    @property
    def label(self) -> str:
        """``file.gpkg:layer`` or ``file.geojson`` — used in every error message."""
        return f"{self.path.name}:{self.layer}" if self.layer else self.path.name


def find_layers(path: str | os.PathLike[str]) -> dict[str, LayerSource]:
    """Locate the layers of a district.

    Parameters
    ----------
    path : path-like
        A GeoPackage with layers named ``cells``, ``schools``, ``zones``, ``developments``,
        ``sites``; or a folder with one file per layer (``cells.gpkg``, ``schools.geojson``,
        ``zones.csv``, ...).

    Returns
    -------
    dict
        Layer name → :class:`LayerSource` for the layers present.

    Raises
    ------
    ValidationError
        If the path does not exist, is of an unknown kind, or lacks a required layer.
    """
    p = Path(path)
    if not p.exists():
        raise ValidationError(
            [f"{p}: no such file or folder; give a GeoPackage (.gpkg) or a folder of layer files"],
            "district",
        )
    found: dict[str, LayerSource] = {}
    if p.is_dir():
        for name in LAYER_NAMES:
            for ext in _EXTENSIONS:
                f = p / f"{name}{ext}"
                if f.exists():
                    found[name] = LayerSource(f, None)
                    break
        where = str(p)
        expected = "files named cells.gpkg / .geojson / .csv and schools.…"
    elif p.suffix.lower() == ".gpkg":
        try:
            names = {str(row[0]) for row in pyogrio.list_layers(p)}
        except Exception as exc:  # GDAL's own message says why (not a GeoPackage, damaged, ...)
            raise ValidationError([f"{p.name}: cannot be opened as a GeoPackage ({exc})"],
                                  "district") from exc
        found = {n: LayerSource(p, n) for n in LAYER_NAMES if n in names}
        where = p.name
        expected = "layers named " + ", ".join(LAYER_NAMES)
    else:
        raise ValidationError(
            [f"{p.name}: a district is a GeoPackage (.gpkg) or a folder of layer files, "
             f"not a {p.suffix or 'file without extension'}"],
            "district",
        )
    missing = [n for n in REQUIRED_LAYERS if n not in found]
    ValidationError.raise_if(
        [Problem(where, f"required layer {n!r} not found; expected {expected}") for n in missing],
        f"district {where}",
    )
    return found


def read_layer(
    source: LayerSource, input_crs: str | None = None
) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """Read one layer as a GeoDataFrame with a default RangeIndex.

    CSV files need point coordinates in ``x``/``y`` or ``lon``/``lat`` (also ``lng``,
    ``longitude``/``latitude``); their CRS is ``input_crs``, or EPSG:4326 for lon/lat columns.
    A file whose CRS is missing gets ``input_crs`` when given.

    Returns
    -------
    frame, problems
        ``frame`` is None when the file could not be read; ``problems`` says why.
    """
    label = source.label
    try:
        if source.path.suffix.lower() in (".csv", ".xlsx"):
            return _read_csv(source, input_crs)
        frame = gpd.read_file(source.path, layer=source.layer, engine="pyogrio",
                              **_shapefile_encoding(source.path))
    except Exception as exc:
        return None, [Problem(label, f"cannot be read ({exc})")]
    if frame.crs is None and input_crs:
        frame = frame.set_crs(input_crs)
    return _aliased(frame).reset_index(drop=True), []


def _shapefile_encoding(path: Path) -> dict[str, str]:
    """``encoding`` for a Shapefile without a ``.cpg`` file: UTF-8 when its ``.dbf`` decodes
    as UTF-8, else GBK (what Chinese GIS software writes); nothing otherwise (GDAL reads the
    ``.cpg``, and zipped Shapefiles carry theirs)."""
    dbf = path.with_suffix(".dbf")
    if path.suffix.lower() != ".shp" or path.with_suffix(".cpg").exists() or not dbf.exists():
        return {}
    try:
        dbf.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return {"encoding": "GBK"}
    return {"encoding": "UTF-8"}


def _aliased(table: pd.DataFrame) -> pd.DataFrame:
    """Chinese column names renamed to schoolmap's (:data:`COLUMN_ALIASES`); a column already
    named in English wins over its alias."""
    names = {c: COLUMN_ALIASES[str(c).strip()] for c in table.columns
             if str(c).strip() in COLUMN_ALIASES and COLUMN_ALIASES[str(c).strip()]
             not in table.columns}
    return table.rename(columns=names) if names else table


def _read_csv(
    source: LayerSource, input_crs: str | None
) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    label = source.label
    if source.path.suffix.lower() == ".xlsx":  # the first sheet of an Excel workbook
        table = _aliased(pd.read_excel(source.path, sheet_name=0, engine="openpyxl"))
    else:
        table = _aliased(pd.read_csv(source.path, encoding="utf-8-sig"))
    lower = {c.lower(): c for c in table.columns}
    pairs = [("x", "y"), ("lon", "lat"), ("lng", "lat"), ("longitude", "latitude")]
    for xname, yname in pairs:
        if xname in lower and yname in lower:
            xcol, ycol = lower[xname], lower[yname]
            break
    else:
        return None, [Problem(label, "a CSV or Excel layer needs point coordinates in columns "
                              "x/y or lon/lat (经度/纬度); add them, or convert the file to "
                              "GeoPackage")]
    crs = input_crs or ("EPSG:4326" if xname != "x" else None)
    bad = table[xcol].isna() | table[ycol].isna()
    problems = []
    if bad.any():
        rows = tuple(str(i + 2) for i in bad.to_numpy().nonzero()[0])  # +2: header, 1-based
        problems.append(Problem(label, f"empty coordinates in {xcol}/{ycol} (CSV lines)", rows))
    geometry = gpd.points_from_xy(table[xcol], table[ycol])
    frame = gpd.GeoDataFrame(table.drop(columns=[xcol, ycol]), geometry=geometry, crs=crs)
    return frame, problems
