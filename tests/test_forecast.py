"""Forecasting: cohort arithmetic by hand, housing phasing, progression ratios, ensemble."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from schoolmap.errors import ValidationError
from schoolmap.forecast import (
    forecast_ensemble,
    forecast_grades,
    forecast_residents,
    housing_children,
    level_totals,
    progression_ratios,
)
from schoolmap.norms import default_norms

NORMS = default_norms()


def test_cohort_arithmetic_three_years_by_hand():
    ages = np.zeros((2, 18))
    ages[0, 0], ages[0, 5] = 10, 20  # cell 0: 10 babies, 20 five-year-olds
    ages[1, 0], ages[1, 17] = 30, 7  # cell 1: 30 babies, 7 aged 17
    f = forecast_residents(ages, 3, base_year=2026, births={2027: 80, 2028: 40, 2029: 0},
                           survival=0.9, migration=0.1)
    r = f.residents
    assert f.years.tolist() == [2026, 2027, 2028, 2029]
    # births split 1 : 3 by the base year's age-0 children
    assert r[1, :, 0].tolist() == [20.0, 60.0]
    assert r[2, :, 0].tolist() == [10.0, 30.0]
    # the five-year-olds: × 0.9 × 1.1 each year
    assert r[1, 0, 6] == pytest.approx(20 * 0.99)
    assert r[3, 0, 8] == pytest.approx(20 * 0.99 ** 3)
    # the 17-year-olds leave the table; the babies of 2026 are 3 in 2029
    assert r[1, 1, :].sum() == pytest.approx(60 + 30 * 0.99)
    assert r[3, 1, 3] == pytest.approx(30 * 0.99 ** 3)
    # nothing else appears
    assert r[3, 0].sum() == pytest.approx(0 + 10 * 0.99 + 20 * 0.99 ** 2 + 10 * 0.99 ** 3
                                          + 20 * 0.99 ** 3)


def test_level_demand_from_forecast():
    f = forecast_residents(np.full((1, 18), 10.0), 1, survival=1.0)
    kg = NORMS.level("kindergarten")
    assert f.level_demand(kg).tolist() == [[27.0], [27.0]]  # 3 ages × 10 × 0.9
    assert level_totals(f.residents[0, 0], NORMS.level("junior")) == 30.0


def test_housing_yields_phased_exactly():
    devs = gpd.GeoDataFrame(
        {"dwellings": [500, 200], "housing_type": ["affordable", "rental"],
         "completion_year": [2027, 2025]},
        geometry=[box(-10, -10, 210, 10), Point(1000, 0)])
    cells = np.array([[0.0, 0.0], [200.0, 0.0], [1000.0, 0.0]])
    levels = {"primary": NORMS.level("primary")}
    add = housing_children(devs, cells, levels, base_year=2026, years=4,
                           yields={"primary": 10.0}, occupancy=(0.5, 0.5))
    # 500 affordable dwellings: 500/100 × 10 × 1.2 = 60 pupils over 2027 and 2028, split
    # between the two cells the polygon covers, spread over ages 6–11
    assert add[1, 0].sum() == pytest.approx(15) and add[1, 1].sum() == pytest.approx(15)
    assert add[2, 0].sum() == pytest.approx(15) and add[3, :2].sum() == 0
    assert add[1, 0, 6] == pytest.approx(2.5) and add[1, 0, 5] == 0
    # 200 rental dwellings completed 2025: half moved in by the base year (already counted),
    # the other half (200/100 × 10 × 0.7 × 0.5 = 7) arrives in 2026 = base year: not added
    assert add[:, 2].sum() == 0
    assert add[0].sum() == 0
    # the forecast ages the newcomers with everyone else
    f = forecast_residents(np.zeros((3, 18)), 4, births=[0, 0, 0, 0], survival=1.0,
                           added=add)
    assert f.residents[2, 0, 7] == pytest.approx(2.5 + 2.5)  # 2027's 6-year-olds + 2028's 7s
    assert f.residents[4, 0].sum() == pytest.approx(30)  # still children (< 18) in 2030
    # … but some have left primary age: 2027's arrivals are 9–14, 2028's 8–13
    assert level_totals(f.residents[4, 0], NORMS.level("primary")) == pytest.approx(7.5 + 10)


@pytest.mark.parametrize("ratios", [[0.98, 1.01, 0.97, 1.0, 0.99], [1.05, 0.9, 1.0, 1.0, 1.1]])
def test_progression_ratios_recovered(ratios):
    ratios = np.array(ratios)
    rng = np.random.default_rng(3)
    entrants = rng.uniform(200, 300, 12)
    hist = forecast_grades(np.array([250, 240, 245, 230, 235, 240.0]), entrants, ratios)
    assert np.allclose(progression_ratios(hist, last=5), ratios)


def test_a_cohort_stays_and_is_counted_once():
    ratios = np.ones(5)
    grades = forecast_grades(np.zeros(6), [100.0, 0, 0, 0, 0, 0], ratios)
    # the class entering grade 1 next year is in grade 6 five years later, and only there
    assert grades[6].tolist() == [0, 0, 0, 0, 0, 100.0]
    assert grades.sum(axis=1).tolist() == [0] + [100.0] * 6


def test_ensemble_percentiles_bracket_the_deterministic_run():
    ages = np.linspace(80, 120, 18)
    births = [100.0, 95, 90, 85, 80, 75]
    ens = forecast_ensemble(ages, births, members=300, seed=7, births_cv=0.1,
                            migration_sd=0.02)
    det = forecast_residents(ages[None, :], 6, births=births, survival=0.999).residents[:, 0]
    junior = NORMS.level("junior")
    p10, p90 = np.percentile(level_totals(ens, junior), [10, 90], axis=0)
    mid = level_totals(det, junior)
    assert (p10[1:] < mid[1:]).all() and (mid[1:] < p90[1:]).all()
    # same seed → identical members
    again = forecast_ensemble(ages, births, members=300, seed=7, births_cv=0.1,
                              migration_sd=0.02)
    assert np.array_equal(ens, again)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: forecast_residents(np.ones((1, 18)), 2, births=[10, -1]), "births must be"),
        (lambda: forecast_residents(np.ones((1, 17)), 2), r"shape \(n_cells, 18\)"),
        (lambda: forecast_residents(np.ones((1, 18)), 2, births={2027: 5}),
         "births missing for 2028"),
        (lambda: housing_children(
            gpd.GeoDataFrame({"dwellings": [5], "housing_type": ["commodity"],
                              "completion_year": [None]}, geometry=[Point(0, 0)]),
            np.zeros((1, 2)), {}, base_year=2026, years=2), "no completion_year"),
    ],
)
def test_bad_inputs(call, match):
    with pytest.raises(ValidationError, match=match):
        call()
