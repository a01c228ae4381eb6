"""A seeded Monte-Carlo ensemble over births and migration of the district totals by age, for
P10 / P50 / P90 bands (:func:`forecast_ensemble`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schoolmap._kernels.cohort import project_totals
from schoolmap.demand.forecast.cohort import N_AGES, broadcast_series
from schoolmap.errors import ValidationError

__all__ = ["forecast_ensemble"]


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
    surv = broadcast_series(survival, (N_AGES,), "survival")
    mig = broadcast_series(migration, (years, N_AGES), "migration")
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
