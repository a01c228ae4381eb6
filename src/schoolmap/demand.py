"""Students who need a seat, by cell and grade, and the schools that offer seats at a level."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from schoolmap.io.district import District
from schoolmap.norms import LEVELS, SCHOOL_TYPES, Norms

__all__ = ["demand_by_cell_grade", "level_schools"]


def demand_by_cell_grade(cells: pd.DataFrame, norms: Norms, level: str) -> np.ndarray:
    """Students needing a seat at ``level``, per cell and grade.

    Children of each grade's age × ``enrolment_rate`` × (1 − ``private_share``).

    Parameters
    ----------
    cells : DataFrame
        With ``age_0`` … ``age_17`` (persons).
    norms : Norms
    level : str

    Returns
    -------
    ndarray of shape (n_cells, n_grades), float64
        Students (may be fractional: they are expected values).

    Examples
    --------
    >>> import pandas as pd
    >>> from schoolmap.norms import default_norms
    >>> cells = pd.DataFrame({f"age_{a}": [a, 0] for a in range(18)})
    >>> demand_by_cell_grade(cells, default_norms(), "junior")
    array([[12., 13., 14.],
           [ 0.,  0.,  0.]])
    """
    norm = norms.level(level)
    cols = [f"age_{a}" for a in norm.ages]
    ages = cells[cols].to_numpy(dtype=np.float64)
    return np.ascontiguousarray(ages * (norm.enrolment_rate * (1.0 - norm.private_share)))


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
