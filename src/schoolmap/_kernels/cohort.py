"""Cohort-component projection kernels (numba only; arrays in, arrays out)."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def project_cohorts(ages0, births, birth_share, survival, migration, group, added,
                    women0, asfr, girls_share, women_migration):
    """Carry every cell's single-year cohorts (and its women 15–49) forward year by year.

    For year t → t + 1 and age a ≥ 1: ``pop[a] = pop_t[a − 1] × survival[a − 1] ×
    (1 + migration[t, group[cell], a − 1]) + added[t + 1, cell, a]``; the oldest age leaves
    the table. Age 0 is ``births[t + 1] × birth_share[cell]`` when no women are given
    (``women0`` has 0 columns), else ``Σ_b women[t + 1, cell, b] × asfr[t + 1, b]``; plus
    ``added[t + 1, cell, 0]``.

    Women age on through five-year bands: each year a fifth of a band moves to the next, a
    fifth of the oldest band leaves, and the first band receives the girls turning 15
    (``pop_t[14] × girls_share``); every band is then scaled by ``1 + women_migration[t]``.

    Parameters
    ----------
    ages0 : (n, A) f8 — residents by single year of age in the base year
    births : (Y + 1,) f8 — district births per year (index 0 = base year, unused)
    birth_share : (n,) f8 — each cell's share of the district's births (sums to 1)
    survival : (A,) f8 — share of age a surviving to a + 1
    migration : (Y, G, A) f8 — net migration rate by year step, group and age (0.02 = +2 %)
    group : (n,) i8 — each cell's migration group (row of ``migration``'s second axis)
    added : (Y + 1, n, A) f8 — residents added by new housing in each year (0 where none)
    women0 : (n, B) f8 — women by five-year band in the base year (B = 0: use ``births``)
    asfr : (Y + 1, B) f8 — births per woman per year by band
    girls_share : f8 — share of girls among residents aged 14
    women_migration : (Y,) f8 — net migration rate of women per year step

    Returns
    -------
    residents : (Y + 1, n, A) f8 — residents by year, cell and age
    women : (Y + 1, n, B) f8 — women by year, cell and band
    """
    n, n_age = ages0.shape
    n_band = women0.shape[1]
    years = births.shape[0] - 1
    out = np.empty((years + 1, n, n_age))
    women = np.empty((years + 1, n, n_band))
    # element by element: a slice assignment would compile numba's shape-mismatch message
    # (string formatting), about half of this kernel's first-run compile time
    for i in range(n):
        for a in range(n_age):
            out[0, i, a] = ages0[i, a]
        for b in range(n_band):
            women[0, i, b] = women0[i, b]
    for t in range(years):
        for i in range(n):
            g = group[i]
            if n_band > 0:
                grow = 1.0 + women_migration[t]
                for b in range(n_band - 1, 0, -1):
                    women[t + 1, i, b] = (women[t, i, b] * 0.8 + women[t, i, b - 1] * 0.2) * grow
                women[t + 1, i, 0] = (women[t, i, 0] * 0.8 + out[t, i, 14] * girls_share) * grow
                born = 0.0
                for b in range(n_band):
                    born += women[t + 1, i, b] * asfr[t + 1, b]
            else:
                born = births[t + 1] * birth_share[i]
            out[t + 1, i, 0] = born + added[t + 1, i, 0]
            for a in range(1, n_age):
                out[t + 1, i, a] = (out[t, i, a - 1] * survival[a - 1]
                                    * (1.0 + migration[t, g, a - 1]) + added[t + 1, i, a])
    return out, women


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
    for a in range(n_age):
        out[0, a] = ages0_total[a]
    for t in range(years):
        out[t + 1, 0] = births[t + 1] + added_total[t + 1, 0]
        for a in range(1, n_age):
            out[t + 1, a] = (out[t, a - 1] * survival[a - 1] * (1.0 + migration[t, a - 1])
                             + added_total[t + 1, a])
    return out
