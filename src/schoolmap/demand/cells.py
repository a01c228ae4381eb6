"""Students who need a seat, by cell and grade, and the schools that offer seats at a level.

Cells give students in one of two ways:

- **by age** — residents by single year of age ``age_0`` … ``age_17``; a level's students are
  the children of its grades' ages × ``enrolment_rate`` × (1 − ``private_share``);
- **as counted** — a column ``students_<level>`` (``students_primary``, ``students_junior``,
  ``students_senior``, ``students_kindergarten``): the students of that level who live in the
  cell and need a seat, as a district counts them per planning unit (e.g. from its student
  information system). When the column is present it *is* the demand of that level: spread
  evenly over the level's grades, with no enrolment rate or private share applied (the count
  already is of students who need a seat). Age columns are then optional; levels without a
  ``students_`` column still need them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from schoolmap.errors import ValidationError
from schoolmap.io.district import District
from schoolmap.norms import LEVELS, SCHOOL_TYPES, Norms

__all__ = ["counts_students", "demand_by_cell_grade", "level_schools", "students_column"]


def students_column(level: str) -> str:
    """Name of the cells column holding counted students of ``level``: ``students_<level>``."""
    return f"students_{level}"


def counts_students(cells: pd.DataFrame, level: str) -> bool:
    """True when ``cells`` give the level's students directly (a ``students_<level>`` column:
    no ages to forecast)."""
    return students_column(level) in cells.columns


def demand_by_cell_grade(cells: pd.DataFrame, norms: Norms, level: str) -> np.ndarray:
    """Students needing a seat at ``level``, per cell and grade.

    When ``cells`` has a ``students_<level>`` column, that count is the level's demand, spread
    evenly over the level's grades (no rates applied). Otherwise: children of each grade's age ×
    ``enrolment_rate`` × (1 − ``private_share``).

    Parameters
    ----------
    cells : DataFrame
        With ``students_<level>`` (students), or ``age_0`` … ``age_17`` (persons).
    norms : Norms
    level : str

    Returns
    -------
    ndarray of shape (n_cells, n_grades), float64
        Students (may be fractional: they are expected values).

    Raises
    ------
    ValidationError
        If the cells have neither the count nor the ages the level needs, or a count is
        missing, not a number or negative.

    Examples
    --------
    >>> import pandas as pd
    >>> from schoolmap.norms import default_norms
    >>> cells = pd.DataFrame({f"age_{a}": [a, 0] for a in range(18)})
    >>> demand_by_cell_grade(cells, default_norms(), "junior")
    array([[12., 13., 14.],
           [ 0.,  0.,  0.]])

    Counted students (here US high school, 4 grades) are spread evenly over the grades; a cell
    with no student has no demand:

    >>> us = default_norms().with_overrides({"grade_system": "us"})
    >>> demand_by_cell_grade(pd.DataFrame({"students_senior": [10, 0]}), us, "senior")
    array([[2.5, 2.5, 2.5, 2.5],
           [0. , 0. , 0. , 0. ]])
    """
    norm = norms.level(level)
    counted = students_column(level)
    if counted in cells.columns:
        raw = cells[counted]
        students = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(students) | (students < 0)
        if bad.any():
            rows = ", ".join(str(i) for i in np.flatnonzero(bad)[:5])
            raise ValidationError([f"cells: {counted!r} must be a number ≥ 0 in every cell "
                                   f"({int(bad.sum())} bad, rows {rows}); use 0 for none"],
                                  "cells")
        per_grade = students / norm.n_grades
        return np.ascontiguousarray(np.repeat(per_grade[:, None], norm.n_grades, axis=1))
    cols = [f"age_{a}" for a in norm.ages]
    missing = [c for c in cols if c not in cells.columns]
    if missing:
        raise ValidationError([f"cells: no {counted!r} column and age column(s) "
                               f"{', '.join(missing)} missing; {level} students need either "
                               f"the counted students or residents aged "
                               f"{norm.ages[0]}–{norm.ages[-1]}"], "cells")
    ages = cells[cols].to_numpy(dtype=np.float64)
    return np.ascontiguousarray(ages * norm.public_rate)


def level_schools(district: District, norms: Norms, level: str, year: int) -> gpd.GeoDataFrame:
    """Schools taking students of ``level`` in school year ``year``, with that level's seats.

    A ``nine_year`` / ``twelve_year`` school appears once per level it serves; its seats and
    classes are split between levels in proportion to grades × norm class size, unless the
    schools layer gives ``seats_<level>`` / ``classes_<level>``. Private schools are left out
    when the level's ``private_share`` is above zero (their pupils are already taken out of the
    demand). Schools not yet open or already closed in ``year`` are left out.

    Returns
    -------
    GeoDataFrame
        ``school_id``, ``name``, ``level``, ``school_type``, ``sector``, ``seats`` (float,
        students), ``classes`` (int), geometry — rows in the layer's order, fresh RangeIndex.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    s = district.schools
    serves = s["level"].map(lambda t: level in SCHOOL_TYPES[t]).to_numpy(dtype=bool)
    open_ = (s["open_year"].isna() | (s["open_year"] <= year)) & (
        s["close_year"].isna() | (s["close_year"] > year)
    )
    keep = serves & open_.to_numpy()
    if norms.level(level).private_share > 0:
        keep &= (s["sector"] != "private").to_numpy()
    sub = s.loc[keep].reset_index(drop=True)
    seats = sub["seats"].to_numpy(dtype=np.float64).copy()
    classes = sub["classes"].to_numpy(dtype=np.float64).copy()
    norm = norms.level(level)
    share = np.ones(len(sub))
    for kind, served in SCHOOL_TYPES.items():
        if len(served) < 2:
            continue
        rows = (sub["level"] == kind).to_numpy()
        if not rows.any():
            continue
        weights = {lv: norms.level(lv).n_grades * norms.level(lv).mean_class_size for lv in served}
        share[rows] = weights[level] / sum(weights.values())
        grade_share = norm.n_grades / sum(norms.level(lv).n_grades for lv in served)
        own_seats = _column(sub, f"seats_{level}")
        own_classes = _column(sub, f"classes_{level}")
        seats[rows] = np.where(np.isnan(own_seats), seats * share, own_seats)[rows]
        classes[rows] = np.where(np.isnan(own_classes), np.round(classes * grade_share),
                                 own_classes)[rows]
    seats = np.where(np.isnan(seats), classes * norm.mean_class_size, seats)
    classes = np.where(np.isnan(classes), np.round(seats / norm.mean_class_size), classes)
    out = gpd.GeoDataFrame(
        {
            "school_id": sub["school_id"].astype(str),
            "name": sub["name"].astype(str),
            "level": level,
            "school_type": sub["level"].astype(str),
            "sector": sub["sector"].astype(str),
            "seats": seats,
            "classes": classes.astype(np.int64),
        },
        geometry=sub.geometry.values,
        crs=district.crs,
    )
    return out


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
    return np.full(len(frame), np.nan)
