"""Durham Public Schools (North Carolina) → a schoolmap district.

The raw files are the planning data a Duke Data+ 2025 team compiled from Durham Public Schools
(DPS) and Durham open-data records (github.com/olublin/DPS-Planning-Final @ 922d8c39,
github.com/olublin/DPS-Planning @ 34f87d13; public records). :func:`import_durham` reads them
from one folder and writes, next to each other:

``durham.gpkg``
    The district as counted: layers ``cells`` (851 planning units, PU), ``schools`` (the 44
    zoned schools), ``zones`` (31 elementary, 8 middle, 5 high attendance zones),
    ``developments`` (approved and pending housing) and ``sites`` (the candidate high-school
    site).
``durham-buildout.gpkg``
    The same, with the students projected from the *approved* developments added to the cells'
    counts (build-out).
``durham-new-hs.gpkg``
    The district as counted, with the candidate high school (1,550 seats) open.
``durham-import.json``
    What was read (file, CRS, rows, SHA-256), what had to be decided and the totals.

What real data bring, and what the importer does about it:

- **Three CRSs** (and a fourth): zones and schools in EPSG:4326, planning units in EPSG:3857,
  all-grade enrolment in EPSG:2264 (NC State Plane, US feet), census tracts in EPSG:4269.
  Everything is reprojected to :data:`PLANNING_CRS` (EPSG:32119, NC State Plane in metres) so
  every distance is in metres.
- **Students counted per planning unit, not residents by age**: cells carry
  ``students_primary`` (elementary K–5), ``students_junior`` (middle 6–8) and
  ``students_senior`` (high 9–12) — see :mod:`schoolmap.demand`. High and middle counts are the
  PU ``count`` of ``hs_full_geo`` / ``ms_full_geo`` (resident DPS students of the level).
  Elementary students have no count of their own: they are estimated as the PU's all-grade
  DPS students of 2024-25 (``enrollment_data``) minus its middle and high counts, clipped at 0.
- **Capacities only through published crowding ratios**: the high-school capacities are the
  team's (Northern 1,400, Jordan 1,510, Southern 1,340, Riverside 1,240, Hillside 1,335);
  elementary and middle capacities are derived as resident students of the zone ÷ the zone's
  published ratio ``curr_crowd_assume_100``. Every school says which in ``capacity_source``.
- **Schools without a point** (6 empty rows of ``dps_base_2324``) are reported and skipped;
  schools without an attendance zone (magnets, early colleges, specialty and online schools)
  have no published capacity and are left out, by name.
- **A planning unit split in two** (PU 774): ``hs_full_geo`` numbers the second part 851 and
  counts each part; ``ms_full_geo`` repeats PU 774's row on both parts. The repeated middle count
  is counted once and shared between the parts in proportion to their high-school counts.
- **Zone and school ids that differ**: elementary zone 351 (Murray-Massenburg) is served by
  school 998; zones are matched to schools by id, else by name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from schoolmap.errors import Problem, ValidationError

__all__ = [
    "BUILDOUT_STATUS",
    "HIGH_SCHOOL_SEATS",
    "NEW_HIGH_SCHOOL_SEATS",
    "OUTPUT_FILES",
    "PLANNING_CRS",
    "SOURCE_FILES",
    "DurhamDistrict",
    "build_durham",
    "import_durham",
]

#: NAD83 / North Carolina (metres): the planning CRS of the district written.
PLANNING_CRS = "EPSG:32119"

#: Raw files read, by role.
SOURCE_FILES: dict[str, str] = {
    "schools": "dps_base_2324.geojson",
    "zones_primary": "ES_curr_crowd_assume_100.geojson",
    "zones_junior": "MS_curr_crowd_assume_100.geojson",
    "zones_senior": "HS_curr_crowd_assume_100.geojson",
    "high_counts": "hs_full_geo.geojson",
    "middle_counts": "ms_full_geo.geojson",
    "enrolment": "enrollment_data.geojson",
    "census": "censustract_pop.geojson",
    "developments": "resdev_with_stu_proj.geojson",
    "generation_rates": "sgr_tables_htype_reg.csv",
    "high_schools": "high_school_wnew.geojson",
}

#: Files written into the output folder.
OUTPUT_FILES = ("durham.gpkg", "durham-buildout.gpkg", "durham-new-hs.gpkg",
                "durham-import.json")

#: Building capacity of the five zoned high schools (students), from the team's model.
HIGH_SCHOOL_SEATS: dict[str, int] = {
    "Northern": 1400, "Jordan": 1510, "Southern": 1340, "Riverside": 1240, "Hillside": 1335,
}

#: Seats of the candidate new high school (students), from the team's model.
NEW_HIGH_SCHOOL_SEATS = 1550

#: Development statuses whose projected students are added in the build-out: approved only.
BUILDOUT_STATUS = ("APP",)

_LEVELS = ("primary", "junior", "senior")
_US_NAME = {"primary": "elementary", "junior": "middle", "senior": "high"}
_ZONE_PREFIX = {"primary": "ES", "junior": "MS", "senior": "HS"}
#: ``sch_type_2324`` values a zone's school may have.
_SCHOOL_TYPES = {"primary": ("Elementary", "Elementary-Middle"), "junior": ("Middle",),
                 "senior": ("High",)}
_UNIT_COLUMNS = {"sf_detached": "units_sf_detached", "sf_attached": "units_sf_attached",
                 "duplex/triplex": "units_duplex_triplex", "multifamily": "units_multifamily",
                 "condo": "units_condo"}
_RATE_COLUMNS = {"primary": "sgr_dps_avg_k12_es", "junior": "sgr_dps_avg_k12_ms",
                 "senior": "sgr_dps_avg_k12_hs"}
_CAPACITY_GIVEN = ("given: building capacity in the Duke Data+ 2025 team's model "
                   "(DPS-Planning-Final)")
_CAPACITY_DERIVED = ("derived: resident students of the zone ÷ published crowding ratio "
                     "curr_crowd_assume_100 = {ratio:.6f}")
_CAPACITY_NEW = "given: candidate new high school in the Duke Data+ 2025 team's model"


@dataclass
class DurhamDistrict:
    """The Durham district built in memory by :func:`build_durham`.

    Attributes
    ----------
    layers : dict of str to GeoDataFrame
        The district as counted: ``cells``, ``schools``, ``zones``, ``developments``,
        ``sites``, in :data:`PLANNING_CRS`.
    buildout_cells : GeoDataFrame
        ``cells`` with the approved developments' projected students added.
    new_school : GeoDataFrame
        One ``schools`` row: the candidate high school, open.
    notes : list of str
        What the importer decided or left out, in plain words.
    figures : dict
        Totals worth checking (students per level, capacities, development students).
    sources : dict
        Per raw file: name, CRS, rows and SHA-256.
    """

    layers: dict[str, gpd.GeoDataFrame]
    buildout_cells: gpd.GeoDataFrame
    new_school: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)

    def variants(self) -> dict[str, dict[str, gpd.GeoDataFrame]]:
        """Output file name → layers: the district as counted, at build-out, with the new HS."""
        base = self.layers
        schools_new = pd.concat([base["schools"], self.new_school], ignore_index=True)
        return {
            "durham.gpkg": base,
            "durham-buildout.gpkg": {**base, "cells": self.buildout_cells},
            "durham-new-hs.gpkg": {**base, "schools": gpd.GeoDataFrame(
                schools_new, geometry="geometry", crs=base["schools"].crs)},
        }


def import_durham(src: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Build the Durham district from the raw files in ``src`` and write it into ``out``.

    Writes :data:`OUTPUT_FILES` — three GeoPackages and ``durham-import.json`` — into a
    temporary folder inside ``out`` first, checks that schoolmap reads every district, and only
    then moves each file into place (``os.replace``). GeoPackage timestamps are fixed, so the
    same inputs give byte-identical files.

    Parameters
    ----------
    src : path-like
        Folder with the raw files of :data:`SOURCE_FILES`, as published.
    out : path-like
        Output folder (created if missing).

    Returns
    -------
    Path
        ``out / "durham.gpkg"``.

    Raises
    ------
    ValidationError
        Listing every missing file or unusable input at once.
    """
    from schoolmap.io.district import district_from_frames
    from schoolmap.io.files import write_gpkg

    built = build_durham(src)
    variants = built.variants()
    for name, layers in variants.items():  # never write a district schoolmap cannot read
        district_from_frames(dict(layers), source=name)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".durham-import-", dir=target))
    try:
        for name, layers in variants.items():
            write_gpkg(dict(layers), tmp / name)
        report = {"sources": built.sources, "planning_crs": PLANNING_CRS,
                  "figures": built.figures, "notes": built.notes}
        (tmp / "durham-import.json").write_text(
            json.dumps(_plain(report), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        for name in OUTPUT_FILES:
            os.replace(tmp / name, target / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "durham.gpkg"


def build_durham(src: str | os.PathLike[str]) -> DurhamDistrict:
    """Read and check the raw Durham files; build every layer in memory (nothing written).

    See the module documentation for what is decided and why.
    """
    folder = Path(src)
    if not folder.is_dir():
        raise ValidationError([f"{folder}: no such folder; give the folder holding the raw "
                               f"files ({', '.join(SOURCE_FILES.values())})"], "Durham import")
    missing = [f for f in SOURCE_FILES.values() if not (folder / f).is_file()]
    ValidationError.raise_if([Problem(str(folder), f"raw file {f!r} not found") for f in missing],
                             f"Durham raw files in {folder}")
    notes: list[str] = []
    raw = {role: _read(folder / name) for role, name in SOURCE_FILES.items()}
    sources = {role: {"file": SOURCE_FILES[role], "crs": _crs_name(frame), "rows": len(frame),
                      "sha256": _sha256(folder / SOURCE_FILES[role])}
               for role, frame in raw.items()}

    cells = _cells(raw, notes)
    zones, zone_of_cell = _zones(raw, cells, notes)
    schools = _schools(raw, zones, cells, zone_of_cell, notes)
    developments, dev_students = _developments(raw, cells, notes)
    shares = _level_shares(raw["generation_rates"], notes)
    cells["dev_students_k12"] = dev_students
    buildout = cells.copy()
    for level in _LEVELS:
        buildout[f"students_{level}"] = cells[f"students_{level}"] + shares[level] * dev_students
    sites, new_school = _candidate_site(raw["high_schools"], cells, notes)

    layers = {"cells": cells, "schools": schools, "zones": zones,
              "developments": developments, "sites": sites}
    figures = {
        "n_cells": len(cells),
        "n_schools": {lv: int((schools["level"] == lv).sum()) for lv in _LEVELS},
        "n_zones": {lv: int((zones["level"] == lv).sum()) for lv in _LEVELS},
        "students": {lv: float(cells[f"students_{lv}"].sum()) for lv in _LEVELS},
        "students_buildout": {lv: float(buildout[f"students_{lv}"].sum()) for lv in _LEVELS},
        "seats": {lv: float(schools.loc[schools["level"] == lv, "seats"].sum())
                  for lv in _LEVELS},
        "development_students_k12_buildout": float(dev_students.sum()),
        "buildout_level_shares": shares,
        "new_high_school_seats": NEW_HIGH_SCHOOL_SEATS,
        "population_estimate": float(cells["population"].sum()),
    }
    return DurhamDistrict(layers, buildout, new_school, notes, figures, sources)


# --------------------------------------------------------------------------- reading


def _read(path: Path) -> gpd.GeoDataFrame | pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, encoding="utf-8-sig")
    frame = gpd.read_file(path, engine="pyogrio")
    if frame.crs is None:
        raise ValidationError([Problem(path.name, "no CRS; the Durham files all state theirs")],
                              "Durham raw files")
    return frame


def _crs_name(frame: pd.DataFrame) -> str | None:
    crs = getattr(frame, "crs", None)
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _keys(frame: gpd.GeoDataFrame) -> list[bytes]:
    """Exact geometry keys (normalised WKB), to match the same polygon across files."""
    return [shapely.to_wkb(g) for g in shapely.normalize(frame.geometry.array)]


def _rep_points(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Representative points as the district reader takes them (``point_on_surface``)."""
    return shapely.point_on_surface(frame.geometry.array)


# --------------------------------------------------------------------------- cells


def _cells(raw: dict[str, Any], notes: list[str]) -> gpd.GeoDataFrame:
    high = raw["high_counts"]
    problems: list[str] = []
    ids = pd.to_numeric(high["pu_2324_84"], errors="coerce")
    if ids.isna().any() or ids.duplicated().any():
        problems.append(f"{SOURCE_FILES['high_counts']}: 'pu_2324_84' must be a unique number "
                        "per planning unit")
    ValidationError.raise_if(problems, "Durham raw files")
    high = high.assign(pu_2324_84=ids.astype(np.int64)).sort_values("pu_2324_84")
    high = high.reset_index(drop=True)
    n = len(high)
    hs = _counts(high, "count")
    hs_zoned = _counts(high, "basez")

    # middle counts: the same polygons; match by geometry, not by id (ids repeat there)
    middle = raw["middle_counts"]
    row_of = {k: i for i, k in enumerate(_keys(high))}
    rows = np.array([row_of.get(k, -1) for k in _keys(middle)])
    if (rows < 0).any() or len(set(rows.tolist())) != n:
        raise ValidationError([f"{SOURCE_FILES['middle_counts']}: its polygons are not the "
                               f"{n} planning units of {SOURCE_FILES['high_counts']}"],
                              "Durham raw files")
    ms = np.zeros(n)
    ms_zoned = np.zeros(n)
    ms[rows] = _counts(middle, "count")
    ms_zoned[rows] = _counts(middle, "basez")
    mid_ids = pd.to_numeric(middle["pu_2324_84"], errors="coerce").to_numpy()
    for pu in sorted(set(mid_ids[pd.Series(mid_ids).duplicated().to_numpy()].tolist())):
        parts = rows[mid_ids == pu]
        same = np.unique(ms[parts]).size == 1 and np.unique(ms_zoned[parts]).size == 1
        if not same:
            continue
        weight = hs[parts] if hs[parts].sum() > 0 else np.ones(len(parts))
        total, total_zoned = ms[parts[0]], ms_zoned[parts[0]]
        ms[parts] = total * weight / weight.sum()
        ms_zoned[parts] = total_zoned * weight / weight.sum()
        notes.append(
            f"{SOURCE_FILES['middle_counts']} repeats PU {int(pu)}'s row (count {total:g}) on "
            f"the {len(parts)} parts of the split planning unit (cells "
            f"{', '.join(str(int(high['pu_2324_84'][p])) for p in parts)}); counted once and "
            f"shared in proportion to the parts' high-school counts "
            f"({', '.join(f'{v:g}' for v in ms[parts])})")

    geometry = high.geometry.to_crs(PLANNING_CRS)
    cells = gpd.GeoDataFrame(
        {"cell_id": high["pu_2324_84"].to_numpy(dtype=np.int64),
         "region": high["Region"].fillna("").astype(str).str.strip().to_numpy()},
        geometry=geometry.values, crs=PLANNING_CRS)
    points = _rep_points(cells)
    all_grades = _all_grade_students(raw["enrolment"], points, hs + ms, notes)
    es_raw = all_grades - hs - ms
    short = es_raw < 0
    if short.any():
        notes.append(
            f"elementary students = all-grade DPS students 2024-25 ({SOURCE_FILES['enrolment']}) "
            f"− middle − high counts; in {int(short.sum())} planning units that difference is "
            f"negative (together {es_raw[short].sum():,.0f}: the counts come from different "
            "school years) and is set to 0")
    cells["students_primary"] = np.maximum(es_raw, 0.0)
    cells["students_junior"] = ms
    cells["students_senior"] = hs
    cells["students_all_grades"] = all_grades
    cells["junior_attending_zoned"] = ms_zoned
    cells["senior_attending_zoned"] = hs_zoned
    cells["population"] = _population(raw["census"], cells, notes)
    return cells


def _counts(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(values).any() or (values < 0).any():
        raise ValidationError([f"{column!r}: counts must be numbers ≥ 0 "
                               f"({int(np.isnan(values).sum())} missing)"], "Durham raw files")
    return values


def _all_grade_students(enrolment: gpd.GeoDataFrame, points: np.ndarray, weight: np.ndarray,
                        notes: list[str]) -> np.ndarray:
    """All-grade DPS students per cell, from the (unsplit) planning units of the enrolment file.

    An enrolment PU holding several cells' points is shared in proportion to the cells' middle +
    high counts (equally when those are 0).
    """
    located = enrolment.geometry.notna().to_numpy() & ~enrolment.geometry.is_empty.to_numpy()
    count = pd.to_numeric(enrolment["count"], errors="coerce").fillna(0.0).to_numpy()
    if (~located).any():
        notes.append(f"{SOURCE_FILES['enrolment']}: {int((~located).sum())} row(s) without a "
                     f"planning unit ({count[~located].sum():,.0f} students, all grades) cannot "
                     "be placed and are left out")
    polys = enrolment.loc[located].to_crs(PLANNING_CRS)
    count = count[located]
    tree = shapely.STRtree(polys.geometry.array)
    cell_idx, poly_idx = tree.query(points, predicate="intersects")
    poly_of = np.full(len(points), -1, dtype=np.int64)
    np.maximum.at(poly_of, cell_idx, poly_idx.astype(np.int64))
    if (poly_of < 0).any():
        notes.append(f"{int((poly_of < 0).sum())} cells lie in no planning unit of "
                     f"{SOURCE_FILES['enrolment']}; their all-grade count is 0")
    inside = poly_of >= 0
    n_poly = len(polys)
    w_sum = np.bincount(poly_of[inside], weights=weight[inside], minlength=n_poly)
    n_in = np.bincount(poly_of[inside], minlength=n_poly)
    out = np.zeros(len(points))
    p = poly_of[inside]
    share = np.where(w_sum[p] > 0, weight[inside] / np.where(w_sum[p] > 0, w_sum[p], 1.0),
                     1.0 / np.maximum(n_in[p], 1))
    out[inside] = count[p] * share
    split = int((n_in > 1).sum())
    if split:
        notes.append(f"{SOURCE_FILES['enrolment']} has the planning units before {split} were "
                     "split; each one's all-grade count is shared between its parts in "
                     "proportion to their middle + high counts")
    lost = count[n_in == 0].sum()
    if lost > 0:
        notes.append(f"{SOURCE_FILES['enrolment']}: {lost:,.0f} students in planning units that "
                     "hold no cell point are left out")
    return out


def _population(census: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
                notes: list[str]) -> np.ndarray:
    """Residents per cell: census-tract population shared by area (an estimate)."""
    tracts = census.to_crs(PLANNING_CRS)
    pop = pd.to_numeric(tracts["total_pop"], errors="coerce").fillna(0.0).to_numpy()
    area = shapely.area(tracts.geometry.array)
    tree = shapely.STRtree(tracts.geometry.array)
    cell_idx, tract_idx = tree.query(cells.geometry.array, predicate="intersects")
    overlap = shapely.area(shapely.intersection(cells.geometry.array[cell_idx],
                                                tracts.geometry.array[tract_idx]))
    out = np.bincount(cell_idx, weights=pop[tract_idx] * overlap / area[tract_idx],
                      minlength=len(cells))
    notes.append(f"population per cell is an estimate: the {len(tracts)} census tracts' "
                 f"population ({pop.sum():,.0f}) shared by area (no ages are used: students "
                 "are counted per planning unit)")
    return np.round(out, 1)


# --------------------------------------------------------------------------- zones, schools


def _zones(raw: dict[str, Any], cells: gpd.GeoDataFrame,
           notes: list[str]) -> tuple[gpd.GeoDataFrame, dict[str, np.ndarray]]:
    frames = []
    zone_of_cell: dict[str, np.ndarray] = {}
    points = _rep_points(cells)
    for level in _LEVELS:
        z = raw[f"zones_{level}"].to_crs(PLANNING_CRS).reset_index(drop=True)
        prefix = _ZONE_PREFIX[level]
        ids = pd.to_numeric(z["ID"], errors="coerce").astype(np.int64)
        frame = gpd.GeoDataFrame({
            "zone_id": [f"{prefix}{i}" for i in ids],
            "level": level,
            "school_id": "",
            "name": z["School"].astype(str).str.strip().to_numpy(),
            "us_level": _US_NAME[level],
            "crowding_ratio": pd.to_numeric(z["curr_crowd_assume_100"]).to_numpy(),
            "source_id": ids.to_numpy(),
        }, geometry=z.geometry.values, crs=PLANNING_CRS)
        tree = shapely.STRtree(frame.geometry.array)
        cell_idx, zone_idx = tree.query(points, predicate="intersects")
        hits = np.bincount(cell_idx, minlength=len(cells))
        if (hits != 1).any():
            notes.append(f"{level}: {int((hits == 0).sum())} cells lie in no "
                         f"{_US_NAME[level]} zone and {int((hits > 1).sum())} in more than one")
        first = np.full(len(cells), len(frame), dtype=np.int64)
        np.minimum.at(first, cell_idx, zone_idx.astype(np.int64))
        offset = sum(len(f) for f in frames)  # rows of the zones layer, all levels
        zone_of_cell[level] = np.where(first < len(frame), first + offset, -1)
        frames.append(frame)
    zones = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                             crs=PLANNING_CRS)
    return zones, zone_of_cell


def _text(values: pd.Series) -> np.ndarray:
    """Text column: empty for missing, surrounding spaces removed (the sources have some)."""
    return values.fillna("").astype(str).str.strip().to_numpy()


def _norm_name(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def _schools(raw: dict[str, Any], zones: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
             zone_of_cell: dict[str, np.ndarray], notes: list[str]) -> gpd.GeoDataFrame:
    base = raw["schools"].reset_index(drop=True)
    no_point = (base.geometry.isna() | base.geometry.is_empty).to_numpy()
    if no_point.any():
        rows = np.flatnonzero(no_point) + 1
        named = [str(v) for v in base.loc[no_point, "name"] if isinstance(v, str) and v]
        who = (f"named {', '.join(named)}" if named
               else "with no name or school id either")
        notes.append(f"{SOURCE_FILES['schools']}: {int(no_point.sum())} school rows have no point "
                     f"(features {', '.join(str(r) for r in rows)}; {who}); skipped")
    base = base.loc[~no_point].to_crs(PLANNING_CRS).reset_index(drop=True)
    sch_id = pd.to_numeric(base["sch_id"], errors="coerce")
    kind = base["sch_type_2324"].astype(str).str.strip()

    problems: list[str] = []
    rows_out = []
    used: set[int] = set()
    for z in zones.itertuples(index=False):
        level = z.level
        ok_type = kind.isin(_SCHOOL_TYPES[level]).to_numpy()
        match = np.flatnonzero((sch_id == z.source_id).to_numpy() & ok_type)
        if len(match) == 0:  # ids differ between files: match by name
            want = _norm_name(z.name)
            by_name = [i for i in np.flatnonzero(ok_type)
                       if _norm_name(base.at[i, "shortname"]).startswith(want)
                       or _norm_name(base.at[i, "name"]).startswith(want)]
            if len(by_name) == 1:
                match = np.array(by_name)
                notes.append(f"{_US_NAME[level]} zone {z.source_id} ({z.name}) is served by "
                             f"school {int(sch_id[by_name[0]])} "
                             f"({base.at[by_name[0], 'name']}): the zone's id is not the "
                             "school's id in the sources, matched by name")
        if len(match) != 1:
            problems.append(f"{_US_NAME[level]} zone {z.source_id} ({z.name}): "
                            f"{len(match)} schools match by id or name; expected one")
            continue
        i = int(match[0])
        used.add(i)
        rows_out.append((z, i))
    ValidationError.raise_if(problems, "Durham raw files")

    seats, source, resident, school_ids = [], [], [], []
    zone_row = {zid: k for k, zid in enumerate(zones["zone_id"])}
    for z, i in rows_out:
        level = z.level
        inside = zone_of_cell[level] == zone_row[z.zone_id]
        students = float(cells.loc[inside, f"students_{level}"].sum())
        resident.append(students)
        if level == "senior":
            if z.name not in HIGH_SCHOOL_SEATS:
                problems.append(f"high zone {z.source_id} ({z.name}): no capacity known; known: "
                                f"{', '.join(HIGH_SCHOOL_SEATS)}")
                seats.append(np.nan)
            else:
                seats.append(float(HIGH_SCHOOL_SEATS[z.name]))
            source.append(_CAPACITY_GIVEN)
        else:
            seats.append(float(max(1, round(students / z.crowding_ratio))))
            source.append(_CAPACITY_DERIVED.format(ratio=z.crowding_ratio))
        school_ids.append(str(int(sch_id[i])))
    ValidationError.raise_if(problems, "Durham raw files")
    idx = [i for _, i in rows_out]
    levels = [z.level for z, _ in rows_out]
    zones["school_id"] = school_ids
    schools = gpd.GeoDataFrame({
        "school_id": school_ids,
        "name": base.loc[idx, "name"].astype(str).str.strip().to_numpy(),
        "level": levels,
        "seats": np.asarray(seats, dtype=np.float64),
        "sector": "public",
        "capacity_source": source,
        "us_level": [_US_NAME[lv] for lv in levels],
        "grades": base.loc[idx, "grades_2324"].astype(str).str.strip().to_numpy(),
        "shortname": base.loc[idx, "shortname"].astype(str).str.strip().to_numpy(),
        "region": _text(base.loc[idx, "region_base"]),
        "zone_id": [z.zone_id for z, _ in rows_out],
        "crowding_ratio": [z.crowding_ratio for z, _ in rows_out],
        "resident_students": resident,
    }, geometry=base.geometry.values[idx], crs=PLANNING_CRS)
    for i in range(len(rows_out)):
        if kind[idx[i]] == "Elementary-Middle":
            notes.append(f"{schools.at[i, 'name']} ({schools.at[i, 'grades']}) is zoned for "
                         "elementary only; it is modelled as an elementary (primary) school and "
                         "its middle grades, which have no zone or published capacity, are left "
                         "out")
    others = sorted(str(base.at[i, "name"]) for i in range(len(base)) if i not in used)
    notes.append(f"{len(others)} schools have no attendance zone and no published capacity "
                 f"(magnet, early-college, specialty, online); they are left out: "
                 f"{'; '.join(others)}")
    notes.append("capacities: high schools as given by the team's model; elementary and middle "
                 "schools derived as resident students of the zone ÷ the published crowding "
                 "ratio, rounded to whole seats (see the schools' capacity_source)")
    return schools


# --------------------------------------------------------------------------- developments


def _developments(raw: dict[str, Any], cells: gpd.GeoDataFrame,
                  notes: list[str]) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    dev = raw["developments"].to_crs(PLANNING_CRS).reset_index(drop=True)
    units = {new: pd.to_numeric(dev[old], errors="coerce").fillna(0.0).to_numpy()
             for old, new in _UNIT_COLUMNS.items()}
    dwellings = np.sum(list(units.values()), axis=0)
    students = pd.to_numeric(dev["student_gen"], errors="coerce").fillna(0.0).to_numpy()
    status = dev["A_STATUS"].astype(str).str.strip().to_numpy()
    in_buildout = np.isin(status, BUILDOUT_STATUS)

    tree = shapely.STRtree(cells.geometry.array)
    dev_idx, cell_idx = tree.query(_rep_points(dev), predicate="intersects")
    cell_of = np.full(len(dev), -1, dtype=np.int64)
    np.maximum.at(cell_of, dev_idx, cell_idx.astype(np.int64))
    outside = cell_of < 0
    if outside.any():
        notes.append(f"{SOURCE_FILES['developments']}: {int(outside.sum())} developments lie "
                     f"outside every planning unit ({students[outside].sum():,.1f} projected "
                     "students); not added to any cell")
    add = in_buildout & ~outside
    per_cell = np.bincount(cell_of[add], weights=students[add], minlength=len(cells))
    by_status = (pd.DataFrame({"status": dev["AppStatus"].astype(str).str.strip(),
                               "students": students})
                 .groupby("status", sort=True)["students"].agg(["size", "sum"]))
    parts = [f"{s} {int(r['size'])} ({r['sum']:,.0f} students)" for s, r in by_status.iterrows()]
    notes.append(f"build-out adds the projected K-12 DPS students of the approved developments "
                 f"(status {', '.join(BUILDOUT_STATUS)}: {per_cell.sum():,.1f} students) to the "
                 f"cells' counts; by status: {'; '.join(parts)}")

    keep = dwellings > 0
    if (~keep).any():
        notes.append(f"{SOURCE_FILES['developments']}: {int((~keep).sum())} developments have no "
                     f"dwelling count (grading or mixed-use plans; {students[~keep].sum():g} "
                     "projected students) and are not in the developments layer")
    unit_frame = pd.DataFrame(units)
    dominant = unit_frame.idxmax(axis=1).str.removeprefix("units_").to_numpy()
    date = pd.to_datetime(dev["A_STATUS_D"], errors="coerce")
    out = gpd.GeoDataFrame({
        "dev_id": dev["A_NUMBER"].astype(str).str.strip().to_numpy(),
        "name": dev["A_PROJECT_"].fillna("").astype(str).str.strip().to_numpy(),
        "dwellings": dwellings.astype(np.int64),
        # the data model's types: owner-occupied market housing, or rental apartments
        "housing_type": np.where(dominant == "multifamily", "rental", "commodity"),
        "completion_year": date.dt.year.fillna(0).astype(np.int64).to_numpy(),
        "status": dev["AppStatus"].astype(str).str.strip().to_numpy(),
        "status_date": date.dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
        "in_buildout": add.astype(np.int64),
        "us_housing_type": dominant,
        **{k: v.astype(np.int64) for k, v in units.items()},
        "students_k12": students,
        "cell_id": np.where(outside, -1, cells["cell_id"].to_numpy()[np.maximum(cell_of, 0)]),
        "region": dev["region"].fillna("").astype(str).str.strip().to_numpy(),
    }, geometry=dev.geometry.values, crs=PLANNING_CRS)
    notes.append("developments: housing_type is 'rental' where multifamily units dominate, else "
                 "'commodity' (owner-occupied); completion_year is the year of the status date "
                 "(A_STATUS_D: approval for approved plans) — the records give no completion "
                 "year")
    return out.loc[keep].reset_index(drop=True), per_cell


def _level_shares(rates: pd.DataFrame, notes: list[str]) -> dict[str, float]:
    """Share of projected K-12 students at each level, from the generation-rate table.

    The table's elementary / middle / high rates are the same fraction of the K-12 rate in every
    housing type × region row (0.5 / 0.2 / 0.3); the importer checks that and uses it.
    """
    total = pd.to_numeric(rates["sgr_dps_avg_k12"], errors="coerce")
    ok = total > 0
    shares = {}
    problems = []
    for level, col in _RATE_COLUMNS.items():
        ratio = pd.to_numeric(rates[col], errors="coerce")[ok] / total[ok]
        if ratio.isna().any() or float(ratio.max() - ratio.min()) > 1e-4:
            problems.append(f"{SOURCE_FILES['generation_rates']}: {col} is not a constant share "
                            "of sgr_dps_avg_k12; a split by housing type would be needed")
        shares[level] = round(float(ratio.mean()), 3)
    ValidationError.raise_if(problems, "Durham raw files")
    notes.append(f"projected students split by level as in {SOURCE_FILES['generation_rates']}: "
                 + ", ".join(f"{_US_NAME[lv]} {s:.0%}" for lv, s in shares.items()))
    return shares


def _candidate_site(high: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
                    notes: list[str]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    high = high.to_crs(PLANNING_CRS).reset_index(drop=True)
    is_site = high["sch_id"].isna().to_numpy()
    if is_site.sum() != 1:
        raise ValidationError([f"{SOURCE_FILES['high_schools']}: expected one candidate site "
                               f"(a row without sch_id), found {int(is_site.sum())}"],
                              "Durham raw files")
    row = high.loc[is_site].iloc[0]
    pu = int(row["pu"])
    site_id = f"PU{pu}"
    geometry = [row.geometry]
    sites = gpd.GeoDataFrame({
        "site_id": [site_id], "name": [str(row["name"])], "level": ["senior"],
        "seats": [float(NEW_HIGH_SCHOOL_SEATS)], "capacity_source": [_CAPACITY_NEW],
        "cell_id": [pu],
    }, geometry=geometry, crs=PLANNING_CRS)
    school = gpd.GeoDataFrame({
        "school_id": [site_id], "name": [f"New high school (candidate site, PU {pu})"],
        "level": ["senior"], "seats": [float(NEW_HIGH_SCHOOL_SEATS)], "sector": ["public"],
        "capacity_source": [_CAPACITY_NEW], "us_level": ["high"], "grades": ["9 to 12"],
        "shortname": ["New HS"], "region": [""], "zone_id": [""], "crowding_ratio": [np.nan],
        "resident_students": [np.nan],
    }, geometry=geometry, crs=PLANNING_CRS)
    inside = shapely.contains(cells.loc[cells["cell_id"] == pu].geometry.array, row.geometry)
    if not inside.any():
        notes.append(f"the candidate site's point does not lie in PU {pu} as its row says")
    notes.append(f"candidate new high school at PU {pu}: {NEW_HIGH_SCHOOL_SEATS:,} seats; in the "
                 "sites layer, and open in durham-new-hs.gpkg (no attendance zone is drawn for "
                 "it: it takes students under the nearest and optimal methods only)")
    return sites, school


def _plain(value: Any) -> Any:
    """JSON-safe, stable form."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6)
    return value

