"""Cohort-component projection kernels (numba only; arrays in, arrays out)."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def project_cohorts(ages0, births, birth_share, survival, migration, added):
    """Carry every cell's single-year cohorts forward year by year.

    For year t → t + 1 and age a ≥ 1: ``pop[a] = pop_t[a − 1] × survival[a − 1] ×
    (1 + migration[t, a − 1]) + added[t + 1, cell, a]``; age 0 = ``births[t + 1] ×
    birth_share[cell] + added[t + 1, cell, 0]``. The oldest age leaves the table.

    Parameters
    ----------
    ages0 : (n, A) f8 — residents by single year of age in the base year
    births : (Y + 1,) f8 — district births per year (index 0 = base year, unused)
    birth_share : (n,) f8 — each cell's share of the district's births (sums to 1)
    survival : (A,) f8 — share of age a surviving to a + 1
    migration : (Y, A) f8 — net migration rate by year step and age (e.g. 0.02 = +2 %)
    added : (Y + 1, n, A) f8 — residents added by new housing in each year (0 where none)

    Returns
    -------
    (Y + 1, n, A) f8 — residents by year, cell and age
    """
    n, n_age = ages0.shape
    years = births.shape[0] - 1
    out = np.empty((years + 1, n, n_age))
    out[0] = ages0
    for t in range(years):
        for i in range(n):
            out[t + 1, i, 0] = births[t + 1] * birth_share[i] + added[t + 1, i, 0]
            for a in range(1, n_age):
                out[t + 1, i, a] = (out[t, i, a - 1] * survival[a - 1]
                                    * (1.0 + migration[t, a - 1]) + added[t + 1, i, a])
    return out


@nb.njit(cache=True, nogil=True)
def project_totals(ages0_total, births, survival, migration, added_total):
    """District totals by year and age (the same recurrence, summed over cells).

    Parameters
    ----------
    ages0_total : (A,) f8; births : (Y + 1,) f8; survival : (A,) f8; migration : (Y, A) f8;
    added_total : (Y + 1, A) f8

    Returns
    -------
    (Y + 1, A) f8
    """
    n_age = ages0_total.shape[0]
    years = births.shape[0] - 1
    out = np.empty((years + 1, n_age))
    out[0] = ages0_total
    for t in range(years):
        out[t + 1, 0] = births[t + 1] + added_total[t + 1, 0]
        for a in range(1, n_age):
            out[t + 1, a] = (out[t, a - 1] * survival[a - 1] * (1.0 + migration[t, a - 1])
                             + added_total[t + 1, a])
    return out
