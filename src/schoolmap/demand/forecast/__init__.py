"""Enrolment forecasting: cohorts by cell, births, migration, new housing, grade progression.

("Forecast", because "projection" already means map projection in this field.)

- :func:`forecast_residents` — cohort-component projection per cell: children of age a in year t
  are age a + 1 in t + 1 (× survival × (1 + net migration)); age 0 from a district birth series
  split over cells by their share of the base year's age-0 children; new housing adds residents.
- :func:`housing_children` — children brought by new housing: dwellings × yield per 100
  dwellings by level and housing type, phased over the occupancy years after completion,
  located in the cells the development covers.
- :func:`forecast_by_progression` / :func:`project_schools` — grade progression by school,
  shrunk towards and raked to the district (the method the Eau Claire backtest recommends);
  :func:`progression_ratios` / :func:`forecast_grades` — the classic cohort-survival pieces.
- :func:`forecast_ensemble` — a seeded Monte-Carlo ensemble over births and migration of the
  district totals by age, for P10 / P50 / P90 bands.

All counts are persons (residents or students); years are calendar / school years.
"""

from schoolmap.demand.forecast.cohort import (
    DEFAULT_ASFR,
    DEFAULT_GIRLS_SHARE,
    N_AGES,
    WOMEN_BANDS,
    WOMEN_COLUMNS,
    Forecast,
    age_matrix,
    broadcast_series,
    forecast_residents,
    level_totals,
    women_matrix,
)
from schoolmap.demand.forecast.district import (
    forecast_district,
)
from schoolmap.demand.forecast.ensemble import (
    forecast_ensemble,
)
from schoolmap.demand.forecast.housing import (
    DEFAULT_OCCUPANCY,
    DEFAULT_YIELDS,
    HOUSING_TYPE_FACTORS,
    housing_children,
)
from schoolmap.demand.forecast.progression import (
    ProgressionSettings,
    cohort_births,
    compare_forecast_methods,
    forecast_by_progression,
    forecast_grades,
    progression_ratios,
    project_schools,
)
from schoolmap.demand.forecast.settings import (
    BIRTHS_SOURCES,
    ForecastSettings,
    migration_by_group,
    read_migration_table,
)

__all__ = [
    "BIRTHS_SOURCES",
    "DEFAULT_ASFR",
    "DEFAULT_GIRLS_SHARE",
    "DEFAULT_OCCUPANCY",
    "DEFAULT_YIELDS",
    "Forecast",
    "ForecastSettings",
    "HOUSING_TYPE_FACTORS",
    "N_AGES",
    "ProgressionSettings",
    "WOMEN_BANDS",
    "WOMEN_COLUMNS",
    "age_matrix",
    "broadcast_series",
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
    "progression_ratios",
    "project_schools",
    "read_migration_table",
    "women_matrix",
]
