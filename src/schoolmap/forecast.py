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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from schoolmap._kernels.cohort import project_cohorts, project_totals
from schoolmap.errors import ValidationError
from schoolmap.norms import LevelNorm

__all__ = [
    "DEFAULT_OCCUPANCY",
    "DEFAULT_YIELDS",
    "HOUSING_TYPE_FACTORS",
    "Forecast",
    "ForecastSettings",
    "forecast_ensemble",
    "forecast_grades",
    "forecast_residents",
    "housing_children",
    "level_totals",
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
    """

    years: np.ndarray
    residents: np.ndarray
    notes: tuple[str, ...] = field(default=())

    def level_demand(self, norm: LevelNorm) -> np.ndarray:
        """Students needing a seat at a level, by year and cell, shape (n_years, n_cells).

        Children of the level's ages × enrolment rate × (1 − private share).
        """
        ages = list(norm.ages)
        rate = norm.enrolment_rate * (1.0 - norm.private_share)
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
    added: np.ndarray | None = None,
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
        District births in each forecast year (persons). Default: the base year's age-0 total,
        held constant. A mapping must cover every forecast year.
    survival : float or sequence of 18
        Share of each age surviving one more year.
    migration : float, sequence of 18, or array of shape (years, 18)
        Net migration rate per year by age (0.02 = 2 % more children of that age next year).
    added : ndarray of shape (years + 1, n_cells, 18), optional
        Residents added by new housing in each year (see :func:`housing_children`).

    Returns
    -------
    Forecast

    Examples
    --------
    One cell with 10 children of every age, constant births, no migration, no deaths:

    >>> f = forecast_residents(np.full((1, 18), 10.0), 2, survival=1.0)
    >>> f.years.tolist(), f.residents[2, 0, :3].tolist()
    ([2026, 2027, 2028], [10.0, 10.0, 10.0])
    """
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
    mig = _series(migration, (years, N_AGES), "migration")
    if (surv < 0).any() or (surv > 1).any() or (mig < -1).any():
        raise ValidationError(["survival must be 0–1 and migration ≥ −1"], "forecast input")
    add = np.zeros((years + 1, n, N_AGES)) if added is None else np.ascontiguousarray(
        added, dtype=np.float64)
    if add.shape != (years + 1, n, N_AGES):
        raise ValidationError([f"added must have shape {(years + 1, n, N_AGES)}, got "
                               f"{add.shape}"], "forecast input")
    out = project_cohorts(ages, series, np.ascontiguousarray(share), surv, mig, add)
    return Forecast(np.arange(base_year, base_year + years + 1), out)


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
    rate = norm.enrolment_rate * (1.0 - norm.private_share)
    return residents[..., list(norm.ages)].sum(axis=-1) * rate


def progression_ratios(enrolment: np.ndarray, last: int = 3) -> np.ndarray:
    """Grade progression ratios from enrolment history (the cohort-survival method).

    Parameters
    ----------
    enrolment : ndarray of shape (n_years, n_grades)
        Students by school year (oldest first) and grade.
    last : int
        Transitions averaged (the most recent ones), weighted by enrolment: the ratio of
        grade g → g + 1 is Σ enrol[y + 1, g + 1] / Σ enrol[y, g] over those years.

    Returns
    -------
    ndarray of shape (n_grades − 1,)

    Examples
    --------
    >>> progression_ratios(np.array([[100, 90], [110, 95], [120, 104.5]]))
    array([0.95])
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
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)


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
        if isinstance(values.get("survival"), float | int) and not 0 <= values["survival"] <= 1:
            problems.append(f"{where}: survival is a share between 0 and 1")
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
