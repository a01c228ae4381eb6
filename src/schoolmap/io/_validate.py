"""Checks of each district layer. Each check returns problems; nothing raises here."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from schoolmap.errors import Problem
from schoolmap.io.zones import split_ids
from schoolmap.norms import LEVELS, SCHOOL_TYPES

AGE_COLUMNS = tuple(f"age_{a}" for a in range(18))
#: Counted students per level (see :mod:`schoolmap.demand`); any one makes the ages optional.
STUDENT_COLUMNS = tuple(f"students_{lv}" for lv in LEVELS)
#: Level names from other school systems, and the schoolmap level they mean.
_LEVEL_ALIASES = {"elementary": "primary", "middle": "junior", "high": "senior",
                  "prek": "kindergarten", "pre_k": "kindergarten", "preschool": "kindergarten"}
SECTORS = ("public", "puhui", "private")
HOUSING_TYPES = ("commodity", "affordable", "resettlement", "rental")
ID_COLUMNS = {
    "cells": "cell_id",
    "schools": "school_id",
    "zones": "zone_id",
    "developments": "dev_id",
    "sites": "site_id",
}
REQUIRED_COLUMNS = {
    "cells": ("cell_id", *AGE_COLUMNS, "population"),
    "schools": ("school_id", "name", "level"),
    "zones": ("zone_id", "level", "school_id"),
    "developments": ("dev_id", "dwellings", "housing_type", "completion_year"),
    "sites": ("site_id",),
}
#: Columns of the optional ``enrolment`` table (enrolment history by school, year and grade).
ENROLMENT_COLUMNS = ("school_id", "year", "grade", "students")


def row_labels(frame: pd.DataFrame, mask: np.ndarray, layer: str) -> tuple[str, ...]:
    """Labels of the flagged rows: their id where usable, else ``#n`` (1-based feature number)."""
    idx = np.flatnonzero(mask)
    id_col = ID_COLUMNS.get(layer)
    if id_col in frame.columns:
        ids = frame[id_col].to_numpy()[idx]
        return tuple(f"#{i + 1}" if pd.isna(v) else repr(str(v)) for i, v in zip(idx, ids,
                                                                                 strict=True))
    return tuple(f"#{i + 1}" for i in idx)


def check_columns(frame: pd.DataFrame, layer: str, where: str) -> list[Problem]:
    """Required columns present (cells: ages optional when ``students_<level>`` are given)."""
    required = REQUIRED_COLUMNS[layer]
    if layer == "cells" and any(c in frame.columns for c in STUDENT_COLUMNS):
        required = tuple(c for c in required if c not in AGE_COLUMNS)
    missing = [c for c in required if c not in frame.columns]
    if not missing:
        return []
    if layer == "cells" and all(c.startswith("age_") for c in missing):
        text = (f"{len(missing)} age column(s) missing ({', '.join(missing[:4])}"
                f"{' …' if len(missing) > 4 else ''}); cells need residents by single year of age "
                "age_0 … age_17, or students counted per level in students_primary, "
                "students_junior, students_senior, students_kindergarten")
    else:
        text = f"column(s) {', '.join(repr(c) for c in missing)} missing"
    return [Problem(where, text)]


def check_ids(frame: pd.DataFrame, layer: str, where: str) -> list[Problem]:
    """Identifiers present and unique."""
    col = ID_COLUMNS[layer]
    if col not in frame.columns:
        return []
    ids = frame[col]
    problems = []
    empty = ids.isna().to_numpy() | (ids.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        problems.append(Problem(where, f"{col!r} is empty", row_labels(frame, empty, "")))
    dup = ids.duplicated(keep=False).to_numpy() & ~empty
    if dup.any():
        values = sorted({str(v) for v in ids[dup]})
        problems.append(Problem(where, f"{col!r} has {len(values)} duplicate value(s) (e.g. "
                                f"{values[0]!r}); ids must be unique",
                                row_labels(frame, dup, "")))  # by feature number: ids repeat
    return problems


def check_geometry(frame: gpd.GeoDataFrame, layer: str, where: str,
                   kinds: tuple[str, ...]) -> list[Problem]:
    """Geometries present, non-empty, valid and of an accepted kind."""
    geom = frame.geometry.array
    problems = []
    missing = np.asarray(geom.isna() | geom.is_empty)
    if missing.any():
        problems.append(Problem(where, "empty or missing geometry", row_labels(frame, missing,
                                                                               layer)))
    present = ~missing
    nonfinite = present & ~finite_rows(geom)
    if nonfinite.any():
        problems.append(Problem(where, "coordinate is infinite or not a number (e.g. inf, NaN "
                                "or 1e400 in the file); correct the point or vertex at its "
                                "source", row_labels(frame, nonfinite, layer)))
    present &= ~nonfinite
    invalid = present & ~np.asarray(shapely.is_valid(geom))
    if invalid.any():
        problems.append(Problem(where, "invalid geometry (self-intersection or similar); repair "
                                "it in a GIS (e.g. QGIS 'Fix geometries')",
                                row_labels(frame, invalid, layer)))
    types = np.asarray(shapely.get_type_id(geom))
    allowed = {
        "point": {0, 4},
        "polygon": {3, 6},
    }
    ok_ids = set().union(*(allowed[k] for k in kinds))
    wrong = present & ~np.isin(types, list(ok_ids))
    if wrong.any():
        problems.append(Problem(where, f"geometry must be {' or '.join(kinds)}",
                                row_labels(frame, wrong, layer)))
    return problems


def finite_rows(geom: np.ndarray) -> np.ndarray:
    """True where every coordinate of a geometry is finite (missing geometries count as finite).

    >>> bool(finite_rows(np.array([shapely.Point(0, float("inf"))]))[0])
    False
    """
    coords, index = shapely.get_coordinates(geom, return_index=True)
    bad = np.zeros(len(geom), dtype=bool)
    bad[index[~np.isfinite(coords).all(axis=1)]] = True
    return ~bad


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)


def text_rows(frame: pd.DataFrame, col: str) -> np.ndarray:
    """True where ``col`` holds text that is not a number (e.g. ``'1,200'``); empty is not text.

    >>> text_rows(pd.DataFrame({"seats": ["1200", "1,200", None, " "]}), "seats").tolist()
    [False, True, False, False]
    """
    raw = frame[col]
    given = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
    return given & np.isnan(_numeric(frame, col))


def _text_problem(frame: pd.DataFrame, col: str, where: str, layer: str,
                  mask: np.ndarray) -> Problem:
    example = str(frame[col].to_numpy()[np.flatnonzero(mask)[0]])
    return Problem(where, f"{col!r} must be a number, got the text {example!r} (write numbers "
                   "without quotes, units or thousands separators: 1200, not '1,200')",
                   row_labels(frame, mask, layer))


def check_cells(frame: gpd.GeoDataFrame, where: str) -> list[Problem]:
    """Population by age, women by band (``women_15_19`` …) and counted students: numbers, ≥ 0,
    not NaN; population not below the sum of ages 0–17; ``students_`` columns named after a
    known level."""
    problems = []
    present_ages = [c for c in AGE_COLUMNS if c in frame.columns]
    present_students = [c for c in STUDENT_COLUMNS if c in frame.columns]
    for col in frame.columns:
        name = str(col)
        if not name.startswith("students_") or name in STUDENT_COLUMNS:
            continue
        meant = _LEVEL_ALIASES.get(name.removeprefix("students_").lower())
        if meant is not None:
            problems.append(Problem(where, f"column {name!r} names no schoolmap level; rename "
                                    f"it 'students_{meant}' (levels: {', '.join(LEVELS)})"))
    women = [c for c in map(str, frame.columns) if c.startswith("women_")]
    for col in [*present_ages, *present_students, *women, "population", "households"]:
        if col not in frame.columns:
            continue
        values = _numeric(frame, col)
        text = text_rows(frame, col)
        if text.any():
            problems.append(_text_problem(frame, col, where, "cells", text))
        bad = np.isnan(values) & ~text
        if col == "households":
            bad &= frame[col].notna().to_numpy()
        if bad.any():
            problems.append(Problem(where, f"{col!r} is missing or not a number",
                                    row_labels(frame, bad, "cells")))
        neg = values < 0
        if neg.any():
            problems.append(Problem(where, f"{col!r} is negative", row_labels(frame, neg,
                                                                                 "cells")))
    if len(present_ages) == len(AGE_COLUMNS) and "population" in frame.columns:
        ages = np.nan_to_num(np.column_stack([_numeric(frame, c) for c in AGE_COLUMNS]))
        total = np.nan_to_num(_numeric(frame, "population"))
        short = ages.sum(axis=1) > total + 1e-6
        if short.any():
            problems.append(Problem(where, "'population' (all ages) is smaller than the sum of "
                                    "age_0 … age_17", row_labels(frame, short, "cells")))
    return problems


def check_schools(frame: gpd.GeoDataFrame, where: str) -> list[Problem]:
    """Levels, seats or classes, sectors and years of the schools layer."""
    problems = []
    if "level" in frame.columns:
        bad = ~frame["level"].isin(list(SCHOOL_TYPES)).to_numpy()
        if bad.any():
            values = sorted({str(v) for v in frame.loc[bad, "level"]})
            problems.append(Problem(where, f"unknown level {', '.join(map(repr, values))}; use "
                                    f"one of {', '.join(SCHOOL_TYPES)}",
                                    row_labels(frame, bad, "schools")))
    has_seats = "seats" in frame.columns
    has_classes = "classes" in frame.columns
    if not has_seats and not has_classes:
        problems.append(Problem(where, "column 'seats' missing (or give 'classes' so seats = "
                                "classes × norm class size)"))
    seats = _numeric(frame, "seats") if has_seats else np.full(len(frame), np.nan)
    classes = _numeric(frame, "classes") if has_classes else np.full(len(frame), np.nan)
    text = np.zeros(len(frame), dtype=bool)
    for col in ("seats", "classes"):
        if col in frame.columns:
            found = text_rows(frame, col)
            if found.any():  # text is refused even where the other column would do
                problems.append(_text_problem(frame, col, where, "schools", found))
                text |= found
    if has_seats or has_classes:
        neither = np.isnan(seats) & np.isnan(classes) & ~text
        if neither.any():
            problems.append(Problem(where, "no 'seats' and no 'classes'; give either",
                                    row_labels(frame, neither, "schools")))
    for col, values in (("seats", seats), ("classes", classes)):
        bad = values <= 0
        if bad.any():
            problems.append(Problem(where, f"{col!r} must be > 0", row_labels(frame, bad,
                                                                             "schools")))
    if "sector" in frame.columns:
        sector = frame["sector"]
        bad = (sector.notna() & ~sector.isin(list(SECTORS))).to_numpy()
        if bad.any():
            problems.append(Problem(where, f"unknown sector; use one of {', '.join(SECTORS)} "
                                    "(or leave empty for public)", row_labels(frame, bad,
                                                                              "schools")))
    years = {}
    for col in ("open_year", "close_year"):
        if col in frame.columns:
            raw = frame[col]
            values = _numeric(frame, col)
            bad = raw.notna().to_numpy() & (np.isnan(values) | (values != np.round(values)))
            if bad.any():
                problems.append(Problem(where, f"{col!r} must be a whole year or empty",
                                        row_labels(frame, bad, "schools")))
            years[col] = values
    if len(years) == 2:
        bad = years["close_year"] <= years["open_year"]
        if bad.any():
            problems.append(Problem(where, "'close_year' is not after 'open_year'",
                                    row_labels(frame, bad, "schools")))
    return problems


def check_zones(frame: gpd.GeoDataFrame, where: str, schools: pd.DataFrame | None) -> list[Problem]:
    """Zone levels, and zone → school references."""
    problems = []
    if "level" in frame.columns:
        bad = ~frame["level"].isin(list(LEVELS)).to_numpy()
        if bad.any():
            problems.append(Problem(where, f"unknown zone level; use one of {', '.join(LEVELS)}",
                                    row_labels(frame, bad, "zones")))
    if "school_id" not in frame.columns or schools is None or "school_id" not in schools.columns:
        return problems
    serves = {}
    if "level" in schools.columns:
        for sid, kind in zip(schools["school_id"].astype(str), schools["level"], strict=True):
            serves[sid] = SCHOOL_TYPES.get(str(kind), ())
    unknown: list[str] = []
    unknown_rows = np.zeros(len(frame), dtype=bool)
    wrong: list[str] = []
    wrong_rows = np.zeros(len(frame), dtype=bool)
    zone_levels = frame["level"] if "level" in frame.columns else [None] * len(frame)
    for i, (ids, level) in enumerate(zip(frame["school_id"], zone_levels, strict=True)):
        for sid in split_ids(ids):
            if sid not in serves:
                unknown.append(sid)
                unknown_rows[i] = True
            elif level in LEVELS and level not in serves[sid]:
                wrong.append(sid)
                wrong_rows[i] = True
        if not split_ids(ids):
            unknown_rows[i] = True
    if unknown_rows.any():
        shown = ", ".join(repr(s) for s in sorted(set(unknown))[:3]) or "empty"
        problems.append(Problem(where, f"'school_id' names no school in the schools layer "
                                f"({shown}); several schools are separated by ';'",
                                row_labels(frame, unknown_rows, "zones")))
    if wrong_rows.any():
        problems.append(Problem(where, f"zone's school does not serve the zone's level (e.g. "
                                f"{wrong[0]!r})", row_labels(frame, wrong_rows, "zones")))
    return problems


def check_developments(frame: gpd.GeoDataFrame, where: str) -> list[Problem]:
    """Dwellings > 0, a known housing type and a completion year."""
    problems = []
    if "dwellings" in frame.columns:
        values = _numeric(frame, "dwellings")
        text = text_rows(frame, "dwellings")
        if text.any():
            problems.append(_text_problem(frame, "dwellings", where, "developments", text))
        bad = ~(values > 0) & ~text
        if bad.any():
            problems.append(Problem(where, "'dwellings' must be a number > 0",
                                    row_labels(frame, bad, "developments")))
    if "housing_type" in frame.columns:
        bad = ~frame["housing_type"].isin(list(HOUSING_TYPES)).to_numpy()
        if bad.any():
            problems.append(Problem(where, f"unknown 'housing_type'; use one of "
                                    f"{', '.join(HOUSING_TYPES)}",
                                    row_labels(frame, bad, "developments")))
    if "completion_year" in frame.columns:
        values = _numeric(frame, "completion_year")
        bad = np.isnan(values) | (values != np.round(values))
        if bad.any():
            problems.append(Problem(where, "'completion_year' must be a whole year (when homes "
                                    "are handed over)", row_labels(frame, bad, "developments")))
    return problems


def check_enrolment(frame: pd.DataFrame, where: str,
                    schools: pd.DataFrame | None) -> list[Problem]:
    """Enrolment history: columns present, known schools, whole years and grades 1–12,
    students ≥ 0, one row per school × year × grade (rows named by their line, 1-based)."""
    missing = [c for c in ENROLMENT_COLUMNS if c not in frame.columns]
    if missing:
        return [Problem(where, f"column(s) {', '.join(map(repr, missing))} missing; enrolment "
                        "history needs school_id, year, grade (1 = first primary grade), "
                        "students")]
    problems = []

    def rows(mask: np.ndarray) -> tuple[str, ...]:
        return tuple(f"#{i + 1}" for i in np.flatnonzero(mask))

    if schools is not None and "school_id" in schools.columns:
        known = set(schools["school_id"].astype(str))
        unknown = ~frame["school_id"].astype(str).isin(known).to_numpy()
        if unknown.any():
            shown = sorted({str(s) for s in frame.loc[unknown, "school_id"]})[:3]
            problems.append(Problem(where, f"'school_id' names no school in the schools layer "
                                    f"(e.g. {', '.join(map(repr, shown))})", rows(unknown)))
    for col, low, high in (("year", 1900, 2100), ("grade", 1, 12)):
        values = _numeric(frame, col)
        bad = np.isnan(values) | (values != np.round(values)) | (values < low) | (values > high)
        if bad.any():
            problems.append(Problem(where, f"{col!r} must be a whole number {low}–{high}"
                                    + (" (1 = first primary grade)" if col == "grade" else ""),
                                    rows(bad)))
    students = _numeric(frame, "students")
    bad = ~(students >= 0)
    if bad.any():
        problems.append(Problem(where, "'students' must be a number ≥ 0", rows(bad)))
    dup = frame.duplicated(["school_id", "year", "grade"], keep=False).to_numpy()
    if dup.any():
        problems.append(Problem(where, "more than one row for the same school_id, year and "
                                "grade; add them up into one row", rows(dup)))
    return problems
