"""A district's forecast from its scenario settings (:func:`forecast_district`): residents by
cell, and the ensemble when asked for."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from schoolmap.demand.forecast.cohort import (
    N_AGES,
    WOMEN_COLUMNS,
    Forecast,
    age_matrix,
    forecast_residents,
    women_matrix,
)
from schoolmap.demand.forecast.ensemble import forecast_ensemble
from schoolmap.demand.forecast.housing import housing_children
from schoolmap.demand.forecast.settings import (
    ForecastSettings,
    migration_by_group,
    read_migration_table,
)
from schoolmap.errors import Problem, ValidationError
from schoolmap.io.district import District
from schoolmap.norms import LevelNorm

__all__ = ["forecast_district"]


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
    ages = age_matrix(cells)
    women = None
    if settings.births_source == "fertility":
        missing = [c for c in WOMEN_COLUMNS if c not in cells.columns]
        if missing:
            raise ValidationError([Problem(district.source, f"births_source = 'fertility' needs "
                                           f"the cells columns {', '.join(WOMEN_COLUMNS)} "
                                           f"(missing {', '.join(missing)}); add them or use "
                                           "births_source = 'series'")], "forecast")
        women = women_matrix(cells, len(cells))
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
