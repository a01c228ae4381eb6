"""Children brought by new housing (:func:`housing_children`): dwellings × yield per 100
dwellings by level and housing type, phased over the occupancy years after completion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from schoolmap.demand.forecast.cohort import N_AGES
from schoolmap.errors import ValidationError
from schoolmap.norms import LevelNorm

__all__ = ["DEFAULT_OCCUPANCY", "DEFAULT_YIELDS", "HOUSING_TYPE_FACTORS", "housing_children"]


#: Children per 100 new dwellings by level (planning rules of thumb; calibrate locally).
DEFAULT_YIELDS: dict[str, float] = {"kindergarten": 8.0, "primary": 11.0, "junior": 5.0,
                                    "senior": 4.0}


#: Relative yield by housing type (assumptions: affordable and resettlement housing house more
#: families with children, rental fewer). Overridable.
HOUSING_TYPE_FACTORS: dict[str, float] = {"commodity": 1.0, "affordable": 1.2,
                                          "resettlement": 1.1, "rental": 0.7}


#: Share of a development's households moving in during the completion year and the years after.
DEFAULT_OCCUPANCY: tuple[float, ...] = (0.3, 0.4, 0.3)


def housing_children(
    developments: pd.DataFrame,
    cell_xy: np.ndarray,
    levels: Mapping[str, LevelNorm],
    *,
    base_year: int,
    years: int,
    yields: Mapping[str, float] | None = None,
    type_factors: Mapping[str, float] | None = None,
    occupancy: Sequence[float] = DEFAULT_OCCUPANCY,
    cell_geometry: object | None = None,
) -> np.ndarray:
    """Children brought by new housing, by year, cell and age.

    Each development brings ``dwellings / 100 × yield[level] × type_factor[housing_type]``
    children of each level, spread evenly over the level's ages, moving in over the
    ``occupancy`` shares of the completion year and the years after. They live in the cells
    whose points lie inside the development (evenly), or in the nearest cell.

    Parameters
    ----------
    developments : DataFrame or GeoDataFrame
        ``dwellings``, ``housing_type``, ``completion_year`` and a geometry (planning CRS).
    cell_xy : ndarray of shape (n_cells, 2)
        Cell points (metres).
    levels : mapping level → LevelNorm
        The levels whose ages receive children.
    base_year, years : int
    yields : mapping level → children per 100 dwellings, optional
    type_factors : mapping housing type → factor, optional
    occupancy : sequence of float
        Shares moving in during completion year + 0, + 1, …; must sum to 1.
    cell_geometry : ignored, reserved

    Returns
    -------
    ndarray of shape (years + 1, n_cells, 18)
        Residents added in each year (index 0 = base year, always 0: whoever lives there in
        the base year is already in the cells' counts).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> from schoolmap.norms import default_norms
    >>> dev = gpd.GeoDataFrame({"dwellings": [1000], "housing_type": ["commodity"],
    ...                         "completion_year": [2027]}, geometry=[Point(0, 0)])
    >>> add = housing_children(dev, np.zeros((1, 2)), {"primary": default_norms().level("primary")},
    ...                        base_year=2026, years=3, yields={"primary": 12})
    >>> add.sum(axis=(1, 2)).round(6).tolist()  # 120 pupils: 30 % / 40 % / 30 %
    [0.0, 36.0, 48.0, 36.0]
    """
    yields = dict(DEFAULT_YIELDS if yields is None else yields)
    factors = dict(HOUSING_TYPE_FACTORS if type_factors is None else type_factors)
    occ = np.asarray(occupancy, dtype=np.float64)
    problems = []
    if abs(occ.sum() - 1.0) > 1e-9 or (occ < 0).any():
        problems.append(f"occupancy shares must be ≥ 0 and sum to 1, got {list(occupancy)}")
    for col in ("dwellings", "housing_type", "completion_year"):
        if col not in developments.columns:
            problems.append(f"developments: column {col!r} missing")
    ValidationError.raise_if(problems, "housing input")
    year = pd.to_numeric(developments["completion_year"], errors="coerce").to_numpy()
    dwell = pd.to_numeric(developments["dwellings"], errors="coerce").to_numpy()
    kinds = developments["housing_type"].astype(str).to_numpy()
    bad_year = np.flatnonzero(np.isnan(year))
    bad_dw = np.flatnonzero(~(dwell > 0))
    bad_kind = sorted({k for k in kinds if k not in factors})
    if len(bad_year):
        problems.append(f"developments: no completion_year in rows {bad_year[:5].tolist()}")
    if len(bad_dw):
        problems.append(f"developments: dwellings must be > 0 (rows {bad_dw[:5].tolist()})")
    if bad_kind:
        problems.append(f"developments: unknown housing_type {bad_kind}; known: "
                        f"{', '.join(factors)}")
    ValidationError.raise_if(problems, "housing input")
    n = len(cell_xy)
    out = np.zeros((years + 1, n, N_AGES))
    if n == 0 or len(developments) == 0:
        return out
    tree = cKDTree(cell_xy)
    geoms = developments.geometry.array if hasattr(developments, "geometry") else None
    points = shapely.points(cell_xy)
    inside = shapely.STRtree(points)  # developments to cells by index, never all pairs
    for r in range(len(developments)):
        cells = np.zeros(0, dtype=np.int64)
        if geoms is not None and shapely.get_type_id(geoms[r]) in (3, 6):
            cells = np.sort(inside.query(geoms[r], predicate="contains")).astype(np.int64)
        if len(cells) == 0:
            where = (shapely.get_coordinates(shapely.point_on_surface(geoms[r]))[0]
                     if geoms is not None else np.zeros(2))
            cells = np.array([tree.query(where)[1]])
        for lv, norm in levels.items():
            children = dwell[r] / 100.0 * yields.get(lv, 0.0) * factors[kinds[r]]
            per_age = children / len(norm.ages) / len(cells)
            for step, share in enumerate(occ):
                t = int(year[r]) + step - base_year
                if 1 <= t <= years:  # the base year's residents are already counted
                    for a in norm.ages:
                        out[t, cells, a] += per_age * share
    return out
