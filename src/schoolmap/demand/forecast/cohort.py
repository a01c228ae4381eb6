"""Cohort-component projection per cell (:func:`forecast_residents`): children of age a in
year t are age a + 1 in t + 1 (× survival × (1 + net migration)); age 0 from a district birth
series split over cells; new housing adds residents. :class:`Forecast` holds the result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from schoolmap._kernels.cohort import project_cohorts
from schoolmap.errors import ValidationError
from schoolmap.norms import LevelNorm

__all__ = ["DEFAULT_ASFR", "DEFAULT_GIRLS_SHARE", "Forecast", "N_AGES", "WOMEN_BANDS",
           "WOMEN_COLUMNS", "age_matrix", "broadcast_series", "forecast_residents", "level_totals",
           "women_matrix"]


N_AGES = 18


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


def broadcast_series(values: float | Sequence[float] | np.ndarray, shape: tuple[int, ...],
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
    ages = age_matrix(ages)
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
    surv = broadcast_series(survival, (N_AGES,), "survival")
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
        women0 = women_matrix(women, n)
        asfr = broadcast_series(list(DEFAULT_ASFR.values()) if fertility is None else fertility,
                       (years + 1, len(WOMEN_BANDS)), "fertility")
        if (asfr < 0).any():
            raise ValidationError(["fertility rates must be ≥ 0 (births per woman per year)"],
                                  "forecast input")
    if not 0 <= girls_share <= 1:
        raise ValidationError([f"girls_share is a share between 0 and 1, got {girls_share}"],
                              "forecast input")
    wmig = broadcast_series(women_migration, (years,), "women_migration")
    out, women_out = project_cohorts(ages, series, np.ascontiguousarray(share), surv, mig,
                                     group, add, women0, asfr, float(girls_share),
                                     np.maximum(wmig, -1.0))
    born = out[:, :, 0].sum(axis=1) - add[:, :, 0].sum(axis=1)
    born[0] = base_births
    return Forecast(np.arange(base_year, base_year + years + 1), out, births=born,
                    women=women_out if women is not None else None)


def age_matrix(ages: np.ndarray | pd.DataFrame) -> np.ndarray:
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


def women_matrix(women: np.ndarray | pd.DataFrame, n: int) -> np.ndarray:
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
        mig = broadcast_series(migration, (years, N_AGES), "migration")[:, None, :]
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


def level_totals(residents: np.ndarray, norm: LevelNorm) -> np.ndarray:
    """Students of a level from residents by (…, age): sums the level's ages × rates."""
    rate = norm.public_rate
    return residents[..., list(norm.ages)].sum(axis=-1) * rate
