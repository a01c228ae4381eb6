"""Enrolment forecasting: cohorts by cell, births, migration, new housing, grade progression.

("Forecast", because "projection" already means map projection in this field.)

- :func:`forecast_residents` — cohort-component projection per cell: children of age a in year t
  are age a + 1 in t + 1 (× survival × (1 + net migration)); age 0 from a district birth series
  split over cells by their share of the base year's age-0 children; new housing adds residents.
- :func:`housing_children` — children brought by new housing: dwellings × yield per 100
  dwellings by level and housing type, phased over the occupancy years after completion,
  located in the cells the development covers.
- :func:`progression_ratios` / :func:`forecast_grades` — the cohort-survival (grade progression
  ratio) method school-district forecasters use.
- :func:`forecast_ensemble` — a seeded Monte-Carlo ensemble over births and migration of the
  district totals by age, for P10 / P50 / P90 bands.

All counts are persons (residents or students); years are calendar / school years.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from schoolmap._kernels.cohort import project_cohorts, project_totals
from schoolmap.errors import Problem, ValidationError
from schoolmap.io.district import District
from schoolmap.io.zones import zone_of_points
from schoolmap.norms import LevelNorm

__all__ = [
    "DEFAULT_ASFR",
    "DEFAULT_GIRLS_SHARE",
    "DEFAULT_OCCUPANCY",
    "DEFAULT_YIELDS",
    "HOUSING_TYPE_FACTORS",
    "WOMEN_BANDS",
    "WOMEN_COLUMNS",
    "Forecast",
    "ForecastSettings",
    "cohort_births",
    "compare_forecast_methods",
    "forecast_by_progression",
    "forecast_district",
    "forecast_ensemble",
    "forecast_grades",
    "forecast_residents",
    "housing_children",
    "level_totals",
    "migration_by_group",
    "read_migration_table",
    "progression_ratios",
]

N_AGES = 18

#: Children per 100 new dwellings by level (planning rules of thumb; calibrate locally).
DEFAULT_YIELDS: dict[str, float] = {"kindergarten": 8.0, "primary": 11.0, "junior": 5.0,
                                    "senior": 4.0}
#: Relative yield by housing type (assumptions: affordable and resettlement housing house more
#: families with children, rental fewer). Overridable.
HOUSING_TYPE_FACTORS: dict[str, float] = {"commodity": 1.0, "affordable": 1.2,
                                          "resettlement": 1.1, "rental": 0.7}
#: Five-year age bands of women 15–49, and the optional ``cells`` columns that hold them.
WOMEN_BANDS: tuple[str, ...] = ("15_19", "20_24", "25_29", "30_34", "35_39", "40_44", "45_49")
WOMEN_COLUMNS: tuple[str, ...] = tuple(f"women_{b}" for b in WOMEN_BANDS)
#: Age-specific fertility, births per woman per year by band (assumption: rounded to the
#: shape of China's 2020 census, total fertility ≈ 1.3 = 5 × the sum). Calibrate locally.
DEFAULT_ASFR: dict[str, float] = {"15_19": 0.006, "20_24": 0.055, "25_29": 0.098,
                                  "30_34": 0.072, "35_39": 0.029, "40_44": 0.007,
                                  "45_49": 0.002}
#: Share of girls among children aged 14 (assumption: about 115 boys per 100 girls in the
#: birth cohorts of the early 2010s), who join the women 15–19 the next year.
DEFAULT_GIRLS_SHARE = 0.465
#: Share of a development's households moving in during the completion year and the years after.
DEFAULT_OCCUPANCY: tuple[float, ...] = (0.3, 0.4, 0.3)


@dataclass(frozen=True)
class Forecast:
    """Residents by year, cell and single year of age.

    Attributes
    ----------
    years : ndarray of shape (n_years,), int64
        Base year first.
    residents : ndarray of shape (n_years, n_cells, 18), float64
        Persons aged 0–17.
    notes : tuple of str
    births : ndarray of shape (n_years,), optional
        District births of each year (persons; base year: its age-0 count), new housing's
        babies not included.
    women : ndarray of shape (n_years, n_cells, 7), optional
        Women by five-year band 15–19 … 45–49 when births came from fertility.
    """

    years: np.ndarray
    residents: np.ndarray
    notes: tuple[str, ...] = field(default=())
    births: np.ndarray | None = None
    women: np.ndarray | None = None

    def level_demand(self, norm: LevelNorm) -> np.ndarray:
        """Students needing a seat at a level, by year and cell, shape (n_years, n_cells).

        Children of the level's ages × enrolment rate × (1 − private share).
        """
        ages = list(norm.ages)
        rate = norm.public_rate
        return self.residents[:, :, ages].sum(axis=2) * rate


def _series(values: float | Sequence[float] | np.ndarray, shape: tuple[int, ...],
            name: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    try:
        a = np.broadcast_to(a, shape).copy()
    except ValueError as exc:
        raise ValidationError([f"{name} must be a number or have shape {shape}, got "
                               f"{np.shape(values)}"], "forecast input") from exc
    if not np.isfinite(a).all():
        raise ValidationError([f"{name} contains NaN or inf"], "forecast input")
    return a


def forecast_residents(
    ages: np.ndarray | pd.DataFrame,
    years: int,
    *,
    base_year: int = 2026,
    births: Mapping[int, float] | Sequence[float] | None = None,
    survival: float | Sequence[float] = 0.999,
    migration: float | Sequence[float] | np.ndarray = 0.0,
    migration_group: np.ndarray | None = None,
    added: np.ndarray | None = None,
    women: np.ndarray | pd.DataFrame | None = None,
    fertility: Sequence[float] | np.ndarray | None = None,
    girls_share: float = DEFAULT_GIRLS_SHARE,
    women_migration: float | Sequence[float] = 0.0,
) -> Forecast:
    """Project residents aged 0–17 of every cell, year by year.

    Parameters
    ----------
    ages : ndarray of shape (n_cells, 18) or DataFrame with ``age_0`` … ``age_17``
        Base-year residents by single year of age (persons).
    years : int
        Years to forecast after the base year.
    base_year : int
    births : mapping year → births, or sequence of ``years`` values, optional
        District births in each forecast year (persons), split over cells by their share of
        the base year's age-0 children. Default: the base year's age-0 total, held constant.
        A mapping must cover every forecast year. Ignored when ``women`` are given.
    survival : float or sequence of 18
        Share of each age surviving one more year.
    migration : float, sequence of 18, array of shape (years, 18) or (years, n_groups, 18)
        Net migration rate per year by age (0.02 = 2 % more children of that age next year);
        the 3-d form gives each group of cells its own rates (see ``migration_group``).
    migration_group : ndarray of shape (n_cells,), int, optional
        Each cell's row in the second axis of a 3-d ``migration`` (e.g. its zone).
    added : ndarray of shape (years + 1, n_cells, 18), optional
        Residents added by new housing in each year (see :func:`housing_children`).
    women : ndarray of shape (n_cells, 7) or DataFrame with :data:`WOMEN_COLUMNS`, optional
        Base-year women by five-year band 15–19 … 45–49 (persons). When given, each cell's
        births are its women × ``fertility`` (age-specific fertility), and the women age on:
        each year a fifth of a band moves to the next band, a fifth of 45–49 leaves, and
        15–19 receives the cell's residents aged 14 × ``girls_share``.
    fertility : sequence of 7 or array of shape (years + 1, 7), optional
        Births per woman per year by band (default :data:`DEFAULT_ASFR`); the 2-d form gives
        each year its own rates (row 0 = base year, unused).
    girls_share : float
        Share of girls among children aged 14 (default :data:`DEFAULT_GIRLS_SHARE`).
    women_migration : float or sequence of ``years``
        Net migration rate of women per year (0.01 = +1 %).

    Returns
    -------
    Forecast

    Examples
    --------
    One cell with 10 children of every age, constant births, no migration, no deaths:

    >>> f = forecast_residents(np.full((1, 18), 10.0), 2, survival=1.0)
    >>> f.years.tolist(), f.residents[2, 0, :3].tolist()
    ([2026, 2027, 2028], [10.0, 10.0, 10.0])

    Births from fertility: 100 women aged 25–29 having 0.1 births a year; a fifth of them
    turn 30 each year (30–34 at 0.05), no girls aged 14:

    >>> w = np.array([[0, 0, 100.0, 0, 0, 0, 0]])
    >>> rates = [0, 0, 0.1, 0.05, 0, 0, 0]
    >>> f = forecast_residents(np.zeros((1, 18)), 1, women=w, fertility=rates, survival=1.0)
    >>> f.births.tolist()  # 80 × 0.1 + 20 × 0.05
    [0.0, 9.0]
    """
    ages = _age_matrix(ages)
    if not isinstance(years, int) or years < 0:
        raise ValidationError([f"years must be a whole number ≥ 0, got {years!r}"],
                              "forecast input")
    n = len(ages)
    base_births = float(ages[:, 0].sum())
    if births is None:
        series = np.full(years + 1, base_births)
    elif isinstance(births, Mapping):
        need = [base_year + t for t in range(1, years + 1)]
        lacking = [y for y in need if y not in births]
        if lacking:
            raise ValidationError([f"births missing for {', '.join(map(str, lacking[:5]))}"],
                                  "forecast input")
        series = np.array([base_births] + [float(births[y]) for y in need])
    else:
        values = np.asarray(births, dtype=np.float64)
        if values.shape != (years,):
            raise ValidationError([f"births must give {years} values, got {values.shape}"],
                                  "forecast input")
        series = np.concatenate([[base_births], values])
    if (series < 0).any() or not np.isfinite(series).all():
        raise ValidationError(["births must be finite and ≥ 0"], "forecast input")
    total0 = ages[:, 0].sum()
    share = ages[:, 0] / total0 if total0 > 0 else np.full(n, 1.0 / max(n, 1))
    surv = _series(survival, (N_AGES,), "survival")
    mig, group = _migration_groups(migration, migration_group, years, n)
    if (surv < 0).any() or (surv > 1).any() or (mig < -1).any():
        raise ValidationError(["survival must be 0–1 and migration ≥ −1"], "forecast input")
    add = np.zeros((years + 1, n, N_AGES)) if added is None else np.ascontiguousarray(
        added, dtype=np.float64)
    if add.shape != (years + 1, n, N_AGES):
        raise ValidationError([f"added must have shape {(years + 1, n, N_AGES)}, got "
                               f"{add.shape}"], "forecast input")
    if women is None:
        women0 = np.zeros((n, 0))
        asfr = np.zeros((years + 1, 0))
    else:
        women0 = _women_matrix(women, n)
        asfr = _series(list(DEFAULT_ASFR.values()) if fertility is None else fertility,
                       (years + 1, len(WOMEN_BANDS)), "fertility")
        if (asfr < 0).any():
            raise ValidationError(["fertility rates must be ≥ 0 (births per woman per year)"],
                                  "forecast input")
    if not 0 <= girls_share <= 1:
        raise ValidationError([f"girls_share is a share between 0 and 1, got {girls_share}"],
                              "forecast input")
    wmig = _series(women_migration, (years,), "women_migration")
    out, women_out = project_cohorts(ages, series, np.ascontiguousarray(share), surv, mig,
                                     group, add, women0, asfr, float(girls_share),
                                     np.maximum(wmig, -1.0))
    born = out[:, :, 0].sum(axis=1) - add[:, :, 0].sum(axis=1)
    born[0] = base_births
    return Forecast(np.arange(base_year, base_year + years + 1), out, births=born,
                    women=women_out if women is not None else None)


def _age_matrix(ages: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Residents by cell and single year of age 0–17, checked (persons)."""
    if isinstance(ages, pd.DataFrame):
        missing = [f"age_{a}" for a in range(N_AGES) if f"age_{a}" not in ages.columns]
        if missing:
            raise ValidationError([f"age columns missing: {', '.join(missing[:4])}"
                                   f"{' …' if len(missing) > 4 else ''}"], "forecast input")
        ages = ages[[f"age_{a}" for a in range(N_AGES)]].to_numpy(dtype=np.float64)
    ages = np.ascontiguousarray(ages, dtype=np.float64)
    if ages.ndim != 2 or ages.shape[1] != N_AGES:
        raise ValidationError([f"ages must have shape (n_cells, 18), got {ages.shape}"],
                              "forecast input")
    if (ages < 0).any() or not np.isfinite(ages).all():
        raise ValidationError(["ages must be finite and ≥ 0"], "forecast input")
    return ages


def _women_matrix(women: np.ndarray | pd.DataFrame, n: int) -> np.ndarray:
    """Women by cell and five-year band 15–19 … 45–49, checked (persons)."""
    if isinstance(women, pd.DataFrame):
        missing = [c for c in WOMEN_COLUMNS if c not in women.columns]
        if missing:
            raise ValidationError([f"women columns missing: {', '.join(missing)}; births from "
                                   f"fertility need all of {', '.join(WOMEN_COLUMNS)}"],
                                  "forecast input")
        women = women[list(WOMEN_COLUMNS)].to_numpy(dtype=np.float64)
    w = np.ascontiguousarray(women, dtype=np.float64)
    if w.shape != (n, len(WOMEN_BANDS)):
        raise ValidationError([f"women must have shape ({n}, {len(WOMEN_BANDS)}), got "
                               f"{w.shape}"], "forecast input")
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValidationError(["women must be finite and ≥ 0"], "forecast input")
    return w


def _migration_groups(migration: float | Sequence[float] | np.ndarray,
                      group: np.ndarray | None, years: int, n: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Migration rates as (years, n_groups, 18) and each cell's group (n,)."""
    if group is None:
        mig = _series(migration, (years, N_AGES), "migration")[:, None, :]
        return np.ascontiguousarray(mig), np.zeros(n, dtype=np.int64)
    g = np.ascontiguousarray(group, dtype=np.int64)
    mig = np.asarray(migration, dtype=np.float64)
    if mig.ndim != 3 or mig.shape[0] != years or mig.shape[2] != N_AGES:
        raise ValidationError([f"migration by group must have shape (years, n_groups, 18) = "
                               f"({years}, …, 18), got {mig.shape}"], "forecast input")
    if g.shape != (n,) or (g < 0).any() or (g >= mig.shape[1]).any():
        raise ValidationError([f"migration_group must give each of the {n} cells a group "
                               f"0–{mig.shape[1] - 1}"], "forecast input")
    if not np.isfinite(mig).all():
        raise ValidationError(["migration contains NaN or inf"], "forecast input")
    return np.ascontiguousarray(mig), g


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
    for r in range(len(developments)):
        cells = np.zeros(0, dtype=np.int64)
        if geoms is not None and shapely.get_type_id(geoms[r]) in (3, 6):
            cells = np.flatnonzero(shapely.contains(geoms[r], points))
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


def level_totals(residents: np.ndarray, norm: LevelNorm) -> np.ndarray:
    """Students of a level from residents by (…, age): sums the level's ages × rates."""
    rate = norm.public_rate
    return residents[..., list(norm.ages)].sum(axis=-1) * rate


def progression_ratios(enrolment: np.ndarray, last: int = 3,
                       prior: np.ndarray | None = None, weight: float = 0.0) -> np.ndarray:
    """Grade progression ratios from enrolment history (the cohort-survival method).

    Parameters
    ----------
    enrolment : ndarray of shape (n_years, n_grades)
        Students by school year (oldest first) and grade.
    last : int
        Transitions averaged (the most recent ones), weighted by enrolment: the ratio of
        grade g → g + 1 is Σ enrol[y + 1, g + 1] / Σ enrol[y, g] over those years.
    prior : ndarray of shape (n_grades − 1,), optional
        Ratios to shrink towards (e.g. the district's, for one school).
    weight : float
        Students the prior counts for: the ratio becomes (Σ enrol[y + 1, g + 1] + weight ×
        prior) / (Σ enrol[y, g] + weight), so small schools lean on the prior and large
        ones on their own history.

    Returns
    -------
    ndarray of shape (n_grades − 1,)
        1.0 (or the prior) where a grade has no students.

    Examples
    --------
    >>> progression_ratios(np.array([[100, 90], [110, 95], [120, 104.5]]))
    array([0.95])

    A school of 10 pupils a grade, all staying, shrunk towards a district ratio of 0.9:

    >>> progression_ratios(np.array([[10, 10], [10, 10.0]]), prior=np.array([0.9]), weight=30)
    array([0.925])
    """
    e = np.asarray(enrolment, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2 or e.shape[1] < 2:
        raise ValidationError(["enrolment must have at least 2 years and 2 grades"],
                              "forecast input")
    if (e < 0).any() or not np.isfinite(e).all():
        raise ValidationError(["enrolment must be finite and ≥ 0"], "forecast input")
    k = min(last, e.shape[0] - 1)
    num = e[-k:, 1:].sum(axis=0)
    den = e[-k - 1:-1, :-1].sum(axis=0)
    base = np.ones(e.shape[1] - 1) if prior is None else np.asarray(prior, dtype=np.float64)
    if prior is not None and weight > 0:
        num, den = num + weight * base, den + weight
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), base)


def forecast_grades(current: np.ndarray, entrants: Sequence[float],
                    ratios: np.ndarray) -> np.ndarray:
    """Carry a school's grades forward with progression ratios.

    Parameters
    ----------
    current : ndarray of shape (n_grades,)
        This year's students by grade.
    entrants : sequence of float
        Entry-grade students of each future year (e.g. births 6 years before × entry ratio).
    ratios : ndarray of shape (n_grades − 1,)

    Returns
    -------
    ndarray of shape (len(entrants) + 1, n_grades)

    Examples
    --------
    >>> forecast_grades(np.array([100.0, 90.0, 80.0]), [110.0], np.array([0.9, 1.0]))
    array([[100.,  90.,  80.],
           [110.,  90.,  90.]])
    """
    cur = np.asarray(current, dtype=np.float64)
    out = np.empty((len(entrants) + 1, len(cur)))
    out[0] = cur
    for t, entry in enumerate(entrants):
        out[t + 1, 0] = entry
        out[t + 1, 1:] = out[t, :-1] * ratios
    return out


def cohort_births(forecast: Forecast) -> dict[int, float]:
    """Births of every year a forecast knows: year → persons.

    Past years come from the base year's residents (those aged a were born a years before;
    survivors still living in the district, which is what an entry ratio needs), the base
    and later years from the forecast's births.

    >>> f = forecast_residents(np.arange(18.0)[None, :] + 1, 1, births=[30.0])
    >>> b = cohort_births(f)
    >>> b[2009], b[2025], b[2026], b[2027]
    (18.0, 2.0, 1.0, 30.0)
    """
    base = int(forecast.years[0])
    out = {base - a: float(v) for a, v in enumerate(forecast.residents[0].sum(axis=0))}
    if forecast.births is not None:
        out.update({int(y): float(b) for y, b in zip(forecast.years, forecast.births,
                                                     strict=True)})
    return out


def forecast_by_progression(
    enrolment: pd.DataFrame,
    grades_by_level: Mapping[str, Sequence[int]],
    births: Mapping[int, float],
    years: Sequence[int],
    *,
    entry_age: int = 6,
    last: int = 3,
    smoothing: float = 30.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Enrolment per level by grade progression ratios (the cohort-survival method).

    District enrolment by year and grade is summed over schools; each grade-to-grade ratio is
    the enrolment-weighted mean of the last ``last`` transitions (:func:`progression_ratios`,
    which smooths out single-year swings); the entry grade is births ``entry_age`` years
    earlier × the entry ratio (grade-1 pupils ÷ those births, over the same years). The last
    history year is carried forward with :func:`forecast_grades`.

    With ``school_id`` in the history, each school is carried forward with its own ratios,
    shrunk towards the district's by ``smoothing`` (students the district ratio counts for,
    so a small school's noisy history does not swing its forecast); its first grade (grade
    1, or 7 at a junior school) takes its recent share of the district's forecast of that
    grade. The levels' totals are the schools' sums. Schools opening later are not in the
    history: their pupils are counted at the schools whose shares they would take.

    Parameters
    ----------
    enrolment : DataFrame
        ``year``, ``grade`` (1 = first primary grade), ``students`` (any number of schools).
        Years must follow each other without gaps.
    grades_by_level : mapping level → grades
        E.g. ``{"primary": [1, …, 6], "junior": [7, 8, 9]}``.
    births : mapping year → births
        Births of past and forecast years (see :func:`cohort_births`).
    years : sequence of int
        Years to report (history years report the history).
    entry_age : int
        Age at grade 1.
    last : int
        Transitions averaged.
    smoothing : float
        Weight of the district ratios in each school's (students); 0: each school's own.

    Returns
    -------
    table : DataFrame
        ``level``, ``year``, ``students``.
    ratios : DataFrame
        ``from_grade``, ``to_grade``, ``ratio``; the entry ratio has ``from_grade`` 0.

    Examples
    --------
    Grade 2 keeps 90 % of grade 1; grade 1 is half the births six years before:

    >>> hist = pd.DataFrame({"year": [2024, 2024, 2025, 2025], "grade": [1, 2, 1, 2],
    ...                      "students": [50.0, 40.0, 60.0, 45.0]})
    >>> births = {2018: 100.0, 2019: 120.0, 2020: 80.0}
    >>> table, ratios = forecast_by_progression(hist, {"primary": [1, 2]}, births, [2026])
    >>> ratios["ratio"].round(3).tolist(), table["students"].tolist()
    ([0.5, 0.9], [94.0])
    """
    needed = {"year", "grade", "students"} - set(enrolment.columns)
    if needed:
        raise ValidationError([f"enrolment: column(s) {', '.join(sorted(needed))} missing"],
                              "forecast input")
    top = max(max(g) for g in grades_by_level.values())
    hist = enrolment.pivot_table(index="year", columns="grade", values="students",
                                 aggfunc="sum", fill_value=0.0)
    span = range(int(hist.index.min()), int(hist.index.max()) + 1)
    gaps = [y for y in span if y not in hist.index]
    if gaps:
        raise ValidationError([f"enrolment: no rows for year(s) {', '.join(map(str, gaps))}; "
                               "history years must follow each other"], "forecast input")
    hist = hist.reindex(columns=range(1, top + 1), fill_value=0.0).to_numpy(dtype=np.float64)
    first = span.start
    k = min(last, len(span) - 1)
    ratios = progression_ratios(hist, last=k)
    recent = [first + i for i in range(len(span) - k - 1 if k else 0, len(span))]
    lagged = np.array([births.get(y - entry_age, np.nan) for y in recent])
    known = np.isfinite(lagged)
    if not known.any() or lagged[known].sum() <= 0:
        raise ValidationError([f"enrolment: no births known {entry_age} years before "
                               f"{recent[0]}–{recent[-1]} for the entry ratio"],
                              "forecast input")
    entry_ratio = hist[np.array(recent) - first, 0][known].sum() / lagged[known].sum()
    end = max(max(years), span.stop - 1)
    future = list(range(span.stop, end + 1))
    entrants = [entry_ratio * births.get(y - entry_age, np.nan) for y in future]
    if not np.isfinite(entrants).all():
        lacking = [y - entry_age for y, e in zip(future, entrants, strict=True)
                   if not np.isfinite(e)]
        raise ValidationError([f"no births known for {lacking[0]}–{lacking[-1]} (entry "
                               "grade of the progression forecast)"], "forecast input")
    grades = np.vstack([hist, forecast_grades(hist[-1], entrants, ratios)[1:]])
    if "school_id" in enrolment.columns:
        grades = _schools_by_progression(enrolment, grades, hist, span, k, ratios,
                                         smoothing)
    rows = []
    for level, levels_grades in grades_by_level.items():
        cols = [g - 1 for g in levels_grades]
        for y in years:
            rows.append({"level": level, "year": int(y),
                         "students": float(grades[y - first, cols].sum())
                         if y >= first else np.nan})
    ratio_table = pd.DataFrame({"from_grade": np.arange(0, top), "to_grade": np.arange(1, top + 1),
                                "ratio": np.concatenate([[entry_ratio], ratios])})
    return pd.DataFrame(rows), ratio_table


def _schools_by_progression(enrolment: pd.DataFrame, district: np.ndarray, hist: np.ndarray,
                            span: range, k: int, ratios: np.ndarray,
                            smoothing: float) -> np.ndarray:
    """Sum of the schools' own progression forecasts, by year and grade (see
    :func:`forecast_by_progression`): history rows as they were."""
    total = np.zeros_like(district)
    n_hist = len(span)
    recent = slice(n_hist - k - 1, n_hist)
    grades = range(1, district.shape[1] + 1)
    for _, part in enrolment.groupby("school_id", sort=True):
        h = part.pivot_table(index="year", columns="grade", values="students", aggfunc="sum",
                             fill_value=0.0).reindex(index=list(span), columns=grades,
                                                     fill_value=0.0).to_numpy(np.float64)
        taught = h.sum(axis=0) > 0
        own = progression_ratios(h, last=k, prior=ratios, weight=smoothing)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(hist[recent].sum(axis=0) > 0,
                             h[recent].sum(axis=0) / hist[recent].sum(axis=0), 0.0)
        out = np.zeros_like(district)
        out[:n_hist] = h
        for t in range(n_hist, len(district)):
            for g in np.flatnonzero(taught):
                if g == 0 or not taught[g - 1]:
                    out[t, g] = share[g] * district[t, g]
                else:
                    out[t, g] = out[t - 1, g - 1] * own[g - 1]
        total += out
    return total


def compare_forecast_methods(cohort: pd.DataFrame, progression: pd.DataFrame) -> pd.DataFrame:
    """Both forecasts side by side, per level and year.

    Parameters
    ----------
    cohort, progression : DataFrame
        ``level``, ``year``, ``students`` from the cohort-component forecast (students
        needing a seat) and from grade progression.

    Returns
    -------
    DataFrame
        ``level``, ``year``, ``cohort_component``, ``grade_progression``, ``difference``
        (progression − cohort), ``difference_share`` (÷ cohort); the cohort table's rows.
    """
    out = cohort[["level", "year"]].copy()
    out["cohort_component"] = cohort["students"].to_numpy(dtype=np.float64)
    key = progression.set_index(["level", "year"])["students"]
    out["grade_progression"] = [key.get((lv, y), np.nan) for lv, y in
                                zip(out["level"], out["year"], strict=True)]
    out["difference"] = out["grade_progression"] - out["cohort_component"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["difference_share"] = np.where(out["cohort_component"] > 0,
                                           out["difference"] / out["cohort_component"], np.nan)
    return out.reset_index(drop=True)


def forecast_ensemble(
    ages_total: np.ndarray,
    births: Sequence[float],
    *,
    members: int = 200,
    seed: int = 0,
    births_cv: float = 0.05,
    migration_sd: float = 0.01,
    survival: float | Sequence[float] = 0.999,
    migration: float | Sequence[float] | np.ndarray = 0.0,
    added_total: np.ndarray | None = None,
) -> np.ndarray:
    """Seeded Monte-Carlo ensemble of district residents by year and age.

    Each member scales each year's births by a lognormal factor (coefficient of variation
    ``births_cv``) and shifts each year's net migration rate by a normal draw
    (``migration_sd``), the same for all ages of that year.

    Parameters
    ----------
    ages_total : ndarray of shape (18,)
        Base-year district residents by age.
    births : sequence of float
        Births in each forecast year (length = years).
    members, seed : int
    births_cv, migration_sd : float
    survival, migration : as for :func:`forecast_residents`
    added_total : ndarray of shape (years + 1, 18), optional
        Residents added by new housing, district totals.

    Returns
    -------
    ndarray of shape (members, years + 1, 18)

    Examples
    --------
    >>> ens = forecast_ensemble(np.full(18, 100.0), [100.0, 100.0], members=50, seed=1)
    >>> ens.shape, bool((ens[:, 0] == 100).all())
    ((50, 3, 18), True)
    """
    base = np.asarray(ages_total, dtype=np.float64)
    b = np.asarray(births, dtype=np.float64)
    years = len(b)
    if base.shape != (N_AGES,) or (base < 0).any() or (b < 0).any():
        raise ValidationError(["ages_total must be 18 values ≥ 0 and births ≥ 0"],
                              "forecast input")
    surv = _series(survival, (N_AGES,), "survival")
    mig = _series(migration, (years, N_AGES), "migration")
    add = np.zeros((years + 1, N_AGES)) if added_total is None else np.asarray(
        added_total, dtype=np.float64)
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(np.log1p(births_cv ** 2))
    out = np.empty((members, years + 1, N_AGES))
    for k in range(members):
        factor = rng.lognormal(-0.5 * sigma ** 2, sigma, years)
        shift = rng.normal(0.0, migration_sd, years)[:, None]
        series = np.concatenate([[base[0]], b * factor])
        out[k] = project_totals(base, series, surv, np.maximum(mig + shift, -1.0), add)
    return out


@dataclass(frozen=True)
class ForecastSettings:
    """A scenario's ``[forecast]`` table: births, migration, new housing, ensemble.

    Attributes
    ----------
    births : dict year → births, optional
        District births per forecast year; overrides the trend.
    births_trend : float
        Yearly relative change of births from the base year's age-0 count (−0.03 = −3 %/yr).
    births_change : float
        Scenario shock on births from ``births_from`` on (−0.20 = births 20 % lower).
    births_from : int, optional
        First year of the shock (default: the first forecast year).
    migration : float
        Net migration rate per year, all ages (0.01 = +1 %).
    migration_change : float
        Added to ``migration`` (a surge > 0, an outflow < 0).
    survival : float
        Share of children surviving each year.
    housing : bool
        Add the children of the ``developments`` layer.
    housing_delay : int
        Years every completion is delayed.
    yields : dict level → children per 100 dwellings, optional
        Default :data:`DEFAULT_YIELDS`.
    ensemble : int
        Monte-Carlo members (0: none).
    births_cv, migration_sd : float
        Spread of the ensemble's births (coefficient of variation) and migration (rate).
    births_source : {"series", "fertility"}
        ``series``: district births (``births`` / ``births_trend``) split over cells by their
        share of the base year's babies. ``fertility``: each cell's births = its women
        ``women_15_19`` … ``women_45_49`` × ``fertility`` (the cells must carry them).
    fertility : dict band → births per woman per year, optional
        Age-specific fertility by band ``15_19`` … ``45_49``; bands not given keep
        :data:`DEFAULT_ASFR`. ``births_change`` / ``births_from`` scale it like the series.
    fertility_trend : float
        Yearly relative change of every rate (−0.02 = −2 %/yr).
    girls_share : float
        Share of girls among children aged 14 (they join the women 15–19).
    migration_by_age : dict, optional
        Net migration rates by single age 0–17 replacing ``migration``: ``district = [18
        rates]`` and/or ``<zone_id> = [18 rates]`` (cells in that zone), or ``file =
        "rates.csv"`` (columns ``age``, ``rate``, optional ``zone_id``; relative to the
        scenario file). A list may be replaced by a table ``{0 = …, …, 17 = …}``.
    migration_factor : float
        Multiplies the ``migration_by_age`` rates (2.0: a surge twice the usual flows,
        −1.0: the flows reversed); ``migration_change`` is added after.
    puhui_target : float
        Share of kindergarten demand that public and 普惠 places should hold (≥ 80 % in
        the county evaluation rules): the forecast's 普惠 demand.
    """

    births: dict[int, float] | None = None
    births_trend: float = 0.0
    births_change: float = 0.0
    births_from: int | None = None
    migration: float = 0.0
    migration_change: float = 0.0
    survival: float = 0.999
    housing: bool = True
    housing_delay: int = 0
    yields: dict[str, float] | None = None
    ensemble: int = 0
    births_cv: float = 0.05
    migration_sd: float = 0.01
    births_source: str = "series"
    fertility: dict[str, float] | None = None
    fertility_trend: float = 0.0
    girls_share: float = DEFAULT_GIRLS_SHARE
    migration_by_age: dict[str, Any] | None = None
    migration_factor: float = 1.0
    puhui_target: float = 0.8

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: str = "[forecast]"
                   ) -> ForecastSettings:
        """Build from a parsed ``[forecast]`` table, naming every unknown key or bad value."""
        import dataclasses

        known = {f.name for f in dataclasses.fields(cls)}
        problems = [f"{where}: unknown key {k!r}; known: {', '.join(sorted(known))}"
                    for k in table if k not in known]
        values: dict[str, object] = {}
        for key, value in table.items():
            if key not in known:
                continue
            if key == "births":
                if not isinstance(value, Mapping) or not all(
                        str(y).isdigit() and isinstance(b, int | float) and b >= 0
                        for y, b in value.items()):
                    problems.append(f"{where}: births must be a table of year = births ≥ 0")
                    continue
                value = {int(y): float(b) for y, b in value.items()}
            elif key == "yields":
                if not isinstance(value, Mapping) or not all(
                        isinstance(v, int | float) and v >= 0 for v in value.values()):
                    problems.append(f"{where}: yields must be a table of level = children per "
                                    "100 dwellings")
                    continue
                value = {str(k): float(v) for k, v in value.items()}
            elif key == "births_source":
                if value not in BIRTHS_SOURCES:
                    problems.append(f"{where}: births_source must be one of "
                                    f"{', '.join(map(repr, BIRTHS_SOURCES))}, got {value!r}")
                    continue
            elif key == "fertility":
                if not isinstance(value, Mapping):
                    problems.append(f"{where}: fertility must be a table of band = births per "
                                    f"woman per year (bands {', '.join(WOMEN_BANDS)})")
                    continue
                unknown = [str(k) for k in value if str(k) not in WOMEN_BANDS]
                bad = [str(k) for k, v in value.items() if isinstance(v, bool)
                       or not isinstance(v, int | float) or not 0 <= v <= 1]
                if unknown:
                    problems.append(f"{where}: fertility: unknown band(s) {', '.join(unknown)}; "
                                    f"bands: {', '.join(WOMEN_BANDS)}")
                if bad:
                    problems.append(f"{where}: fertility: {', '.join(bad)} must be births per "
                                    "woman per year between 0 and 1")
                if unknown or bad:
                    continue
                value = {str(k): float(v) for k, v in value.items()}
            elif key == "migration_by_age":
                try:
                    value = _migration_table_spec(value, f"{where} migration_by_age")
                except ValidationError as exc:
                    problems += [str(p) for p in exc.problems]
                    continue
            elif key == "housing":
                if not isinstance(value, bool):
                    problems.append(f"{where}: housing must be true or false")
                    continue
            elif key in ("births_from", "housing_delay", "ensemble"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    problems.append(f"{where}: {key} must be a whole number ≥ 0")
                    continue
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{where}: {key} must be a number, got {value!r}")
                continue
            values[key] = value
        for key in ("survival", "girls_share", "puhui_target"):
            if isinstance(values.get(key), float | int) and not 0 <= values[key] <= 1:
                problems.append(f"{where}: {key} is a share between 0 and 1")
        ValidationError.raise_if(problems, "scenario forecast")
        return cls(**values)  # type: ignore[arg-type]

    def births_series(self, base_births: float, base_year: int, years: int) -> np.ndarray:
        """District births of each forecast year (persons), shape (years,)."""
        out = np.empty(years)
        start = self.births_from if self.births_from is not None else base_year + 1
        for t in range(1, years + 1):
            year = base_year + t
            if self.births and year in self.births:
                value = self.births[year]
            else:
                value = base_births * (1.0 + self.births_trend) ** t
            if year >= start:
                value *= 1.0 + self.births_change
            out[t - 1] = max(value, 0.0)
        return out

    def fertility_rates(self, base_year: int, years: int) -> np.ndarray:
        """Births per woman per year by band for every year, shape (years + 1, 7).

        :data:`DEFAULT_ASFR` overridden by ``fertility``, × (1 + ``fertility_trend``)^t,
        × (1 + ``births_change``) from ``births_from`` on (row 0 = base year).
        """
        rates = np.array([(self.fertility or {}).get(b, DEFAULT_ASFR[b]) for b in WOMEN_BANDS])
        start = self.births_from if self.births_from is not None else base_year + 1
        t = np.arange(years + 1)
        scale = (1.0 + self.fertility_trend) ** t
        scale = scale * np.where(base_year + t >= start, 1.0 + self.births_change, 1.0)
        return np.maximum(scale[:, None] * rates[None, :], 0.0)


BIRTHS_SOURCES = ("series", "fertility")


def _rates_by_age(value: object, where: str) -> list[float]:
    """18 rates from a list or an ``{age = rate}`` table, or a ValidationError saying why."""
    if isinstance(value, Mapping):
        keys = {str(k).strip(): v for k, v in value.items()}
        unknown = [k for k in keys if k not in {str(a) for a in range(N_AGES)}]
        missing = [str(a) for a in range(N_AGES) if str(a) not in keys]
        problems = []
        if unknown:
            problems.append(f"{where}: ages must be 0–17, got {', '.join(unknown)}")
        if missing:
            problems.append(f"{where}: rates missing for age(s) {', '.join(missing)}; give all "
                            "ages 0–17")
        ValidationError.raise_if(problems, "migration by age")
        value = [keys[str(a)] for a in range(N_AGES)]
    if not isinstance(value, list | tuple) or len(value) != N_AGES:
        got = len(value) if isinstance(value, list | tuple) else type(value).__name__
        raise ValidationError([f"{where}: give 18 rates, for ages 0–17 (got {got})"],
                              "migration by age")
    bad = [str(a) for a, v in enumerate(value)
           if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v)]
    if bad:
        raise ValidationError([f"{where}: rates of age(s) {', '.join(bad)} are not numbers"],
                              "migration by age")
    low = [str(a) for a, v in enumerate(value) if v < -1]
    if low:
        raise ValidationError([f"{where}: rates of age(s) {', '.join(low)} are below −1 (−1 = "
                               "everyone leaves)"], "migration by age")
    return [float(v) for v in value]


def _migration_table_spec(value: object, where: str) -> dict[str, Any]:
    """Check a scenario's ``migration_by_age`` table: ``file`` or group → 18 rates."""
    if not isinstance(value, Mapping) or not value:
        raise ValidationError([f"{where}: give district = [18 rates], <zone_id> = [18 rates] "
                               "or file = \"rates.csv\""], "migration by age")
    if "file" in value:
        if len(value) > 1 or not isinstance(value["file"], str):
            raise ValidationError([f"{where}: file = \"rates.csv\" stands alone (put zone "
                                   "rates in the file)"], "migration by age")
        return {"file": value["file"]}
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, rates in value.items():
        try:
            out[str(key)] = _rates_by_age(rates, f"{where}.{key}")
        except ValidationError as exc:
            problems += [str(p) for p in exc.problems]
    ValidationError.raise_if(problems, "migration by age")
    return out


def read_migration_table(path: str | os.PathLike[str]) -> dict[str, list[float]]:
    """Read net migration rates by age from a CSV file.

    Parameters
    ----------
    path : path-like
        Columns ``age`` (0–17), ``rate`` (net migration per year, 0.02 = +2 %) and optionally
        ``zone_id`` (empty or missing: the district's rates).

    Returns
    -------
    dict
        ``"district"`` or a zone id → 18 rates.

    Raises
    ------
    ValidationError
        Naming the file, the lines and what to fix.
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError([f"{p}: no such migration table (columns age, rate, zone_id)"],
                              "migration by age")
    table = pd.read_csv(p, dtype=str, keep_default_na=False)
    missing = [c for c in ("age", "rate") if c not in table.columns]
    if missing:
        raise ValidationError([f"{p.name}: column(s) {', '.join(missing)} missing; expected "
                               "age, rate and optionally zone_id"], "migration by age")
    zone = (table["zone_id"].str.strip() if "zone_id" in table.columns
            else pd.Series([""] * len(table)))
    zone = zone.where(zone != "", "district")
    age = pd.to_numeric(table["age"], errors="coerce")
    rate = pd.to_numeric(table["rate"], errors="coerce")
    problems = []
    for name, col in (("age", age), ("rate", rate)):
        bad = np.flatnonzero(col.isna().to_numpy())
        if len(bad):
            problems.append(f"{p.name}: {name} is not a number on line(s) "
                            f"{', '.join(str(i + 2) for i in bad[:5])}")
    ValidationError.raise_if(problems, "migration by age")
    out: dict[str, Any] = {}
    for key in dict.fromkeys(zone):
        rows = (zone == key).to_numpy()
        ages = age[rows].to_numpy()
        if len(set(ages)) != len(ages):
            problems.append(f"{p.name}: {key}: an age appears twice")
            continue
        try:
            out[key] = _rates_by_age({str(int(a)) if a == int(a) else str(a): r
                                      for a, r in zip(ages, rate[rows], strict=True)},
                                     f"{p.name}: {key}")
        except ValidationError as exc:
            problems += [str(q) for q in exc.problems]
    ValidationError.raise_if(problems, "migration by age")
    return out


def migration_by_group(
    table: Mapping[str, Sequence[float]],
    cell_xy: np.ndarray,
    zones: pd.DataFrame | None,
    years: int,
    *,
    default: float = 0.0,
    factor: float = 1.0,
    change: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Net migration rates by year, group of cells and age, from a table by zone and age.

    Parameters
    ----------
    table : mapping
        ``"district"`` and/or zone ids → 18 rates (ages 0–17).
    cell_xy : ndarray of shape (n_cells, 2)
        Cell points (metres), in the zones' CRS.
    zones : GeoDataFrame or None
        The district's zones (``zone_id``); those named in ``table`` must be of one level.
    years : int
    default : float
        Rate of every age for cells in no listed zone when ``table`` has no ``district``.
    factor, change : float
        Rates become ``rate × factor + change`` (surge / outflow).

    Returns
    -------
    migration : ndarray of shape (years, n_groups, 18)
        Group 0 = the district's rates, group k = the k-th listed zone.
    group : ndarray of shape (n_cells,), int64

    Examples
    --------
    >>> mig, grp = migration_by_group({"district": [0.01] * 18}, np.zeros((2, 2)), None, 1,
    ...                               factor=2.0)
    >>> mig.shape, float(mig[0, 0, 5]), grp.tolist()
    ((1, 1, 18), 0.02, [0, 0])
    """
    named = [k for k in table if k != "district"]
    known = set() if zones is None else set(zones["zone_id"].astype(str))
    unknown = [k for k in named if k not in known]
    if unknown:
        raise ValidationError([f"migration_by_age: zone(s) {', '.join(map(repr, unknown))} "
                               "are not in the district's zones layer"], "migration by age")
    rates = [np.asarray(table.get("district", [default] * N_AGES), dtype=np.float64)]
    group = np.zeros(len(cell_xy), dtype=np.int64)
    if named:
        assert zones is not None
        listed = zones[zones["zone_id"].astype(str).isin(named)].reset_index(drop=True)
        if "level" in listed.columns and listed["level"].nunique() > 1:
            raise ValidationError([f"migration_by_age: zones of one level only (got "
                                   f"{', '.join(sorted(map(str, set(listed['level']))))})"],
                                  "migration by age")
        row = zone_of_points(cell_xy, listed)
        order = {z: k + 1 for k, z in enumerate(named)}
        group_of_row = np.array([order[z] for z in listed["zone_id"].astype(str)])
        group = np.where(row >= 0, group_of_row[np.maximum(row, 0)], 0).astype(np.int64)
        rates += [np.asarray(table[z], dtype=np.float64) for z in named]
    mig = np.stack(rates) * factor + change
    return np.ascontiguousarray(np.broadcast_to(mig, (years, *mig.shape))), group


def forecast_district(
    district: District,
    settings: ForecastSettings,
    levels: Mapping[str, LevelNorm],
    *,
    base_year: int,
    years: int,
    seed: int = 0,
    folder: str | os.PathLike[str] | None = None,
) -> tuple[Forecast, np.ndarray | None]:
    """Forecast a district's residents as a scenario's ``[forecast]`` table says.

    Births from the district series or from women × fertility (``births_source``), migration
    by age and zone (``migration_by_age``) or one rate, the children of new housing, and the
    seeded ensemble of district totals.

    Parameters
    ----------
    district : District
        Cells with ``age_0`` … ``age_17`` (and ``women_15_19`` … for fertility).
    settings : ForecastSettings
    levels : mapping level → LevelNorm
        Levels whose ages receive the children of new housing.
    base_year, years, seed : int
    folder : path-like, optional
        Folder of the scenario file (``migration_by_age.file`` is relative to it).

    Returns
    -------
    forecast : Forecast
    ensemble : ndarray of shape (members, years + 1, 18) or None
        District residents by member, year and age (None when ``settings.ensemble`` is 0).
        With rates by zone, members use the district's mean rate of each age (weighted by the
        base year's children).
    """
    cells = district.cells
    ages = _age_matrix(cells)
    women = None
    if settings.births_source == "fertility":
        missing = [c for c in WOMEN_COLUMNS if c not in cells.columns]
        if missing:
            raise ValidationError([Problem(district.source, f"births_source = 'fertility' needs "
                                           f"the cells columns {', '.join(WOMEN_COLUMNS)} "
                                           f"(missing {', '.join(missing)}); add them or use "
                                           "births_source = 'series'")], "forecast")
        women = _women_matrix(cells, len(cells))
    added = None
    devs = district.developments
    if settings.housing and devs is not None and len(devs):
        shifted = devs.copy()
        shifted["completion_year"] = pd.to_numeric(shifted["completion_year"]) \
            + settings.housing_delay
        added = housing_children(shifted, district.cell_xy, levels, base_year=base_year,
                                 years=years, yields=settings.yields)
    births = settings.births_series(float(ages[:, 0].sum()), base_year, years)
    flat = settings.migration + settings.migration_change
    group = None
    migration: float | np.ndarray = flat
    if settings.migration_by_age is not None:
        table = settings.migration_by_age
        if "file" in table:
            table = read_migration_table(Path(folder or ".") / table["file"])
        migration, group = migration_by_group(
            table, district.cell_xy, district.zones, years, default=settings.migration,
            factor=settings.migration_factor, change=settings.migration_change)
    forecast = forecast_residents(
        ages, years, base_year=base_year, births=births, survival=settings.survival,
        migration=migration, migration_group=group, added=added, women=women,
        fertility=settings.fertility_rates(base_year, years), girls_share=settings.girls_share,
        women_migration=flat)
    if settings.ensemble <= 0:
        return forecast, None
    mig_total: float | np.ndarray = migration
    if group is not None:
        assert isinstance(migration, np.ndarray)
        weight = np.zeros((migration.shape[1], N_AGES))
        np.add.at(weight, group, ages)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (weight * migration[0]).sum(axis=0) / weight.sum(axis=0)
        mig_total = np.where(np.isfinite(mean), mean, migration[0, 0])
    assert forecast.births is not None
    ens = forecast_ensemble(ages.sum(axis=0), forecast.births[1:], members=settings.ensemble,
                            seed=seed, births_cv=settings.births_cv,
                            migration_sd=settings.migration_sd, survival=settings.survival,
                            migration=mig_total,
                            added_total=None if added is None else added.sum(axis=1))
    return forecast, ens
