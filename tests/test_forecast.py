"""Forecasting: cohort arithmetic by hand, housing phasing, progression ratios, ensemble."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from schoolmap.errors import ValidationError
from schoolmap.forecast import (
    WOMEN_COLUMNS,
    ForecastSettings,
    ProgressionSettings,
    compare_forecast_methods,
    forecast_by_progression,
    forecast_district,
    forecast_ensemble,
    forecast_grades,
    forecast_residents,
    housing_children,
    level_totals,
    progression_ratios,
    project_schools,
    read_migration_table,
)
from schoolmap.io.district import district_from_frames
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


def _town_with_women(town_layers):
    cells = town_layers["cells"]
    for col in WOMEN_COLUMNS:
        cells[col] = 0.0
    cells.loc[cells["cell_id"] == "C1", "women_25_29"] = 100.0
    return district_from_frames(town_layers)


def test_births_from_women_and_fertility_by_hand(town_layers):
    town = _town_with_women(town_layers)
    settings = ForecastSettings.from_table({
        "births_source": "fertility", "fertility_trend": -0.1, "girls_share": 0.5,
        "fertility": {"15_19": 0.0, "20_24": 0.0, "25_29": 0.1, "30_34": 0.05, "35_39": 0.0,
                      "40_44": 0.0, "45_49": 0.0}, "survival": 1.0})
    f, ens = forecast_district(town, settings, {}, base_year=2026, years=2)
    assert ens is None and f.women is not None
    # 2027: a fifth of the 100 women 25–29 turn 30: 80 × 0.1 + 20 × 0.05 = 9, × 0.9 (trend)
    # 2028: 64 in 25–29, 16 + 16 in 30–34: (6.4 + 1.6) × 0.81
    assert f.residents[1:, 0, 0].tolist() == pytest.approx([9 * 0.9, 8 * 0.81])
    assert f.births.tolist() == pytest.approx([66, 8.1, 6.48])  # base year: its age-0 count
    assert f.residents[1:, 1:, 0].sum() == 0  # no women, no births
    # the girls aged 14 (C1: 10) join 15–19 the next year, half of them
    assert f.women[1, 0].tolist() == pytest.approx([5, 0, 80, 20, 0, 0, 0])
    assert f.women[2, 0, 0] == pytest.approx(5 * 0.8 + 10 * 0.5)
    # the babies age on like everyone else
    assert f.residents[2, 0, 1] == pytest.approx(8.1)
    # a births shock scales fertility from its year on, like the series
    shock = dataclasses.replace(settings, births_change=-0.5, births_from=2028)
    assert shock.fertility_rates(2026, 2)[:, 2].tolist() == pytest.approx([0.1, 0.09, 0.0405])


def test_fertility_needs_the_women_columns(town):
    settings = ForecastSettings.from_table({"births_source": "fertility"})
    with pytest.raises(ValidationError, match="needs the cells columns women_15_19"):
        forecast_district(town, settings, {}, base_year=2026, years=2)


def test_migration_by_age_and_zone_by_hand(town):
    rates = {"district": [0.0] * 18, "ZB": [0.1] * 17 + [0.5]}
    settings = ForecastSettings.from_table({
        "migration_by_age": rates, "migration_factor": 2.0, "migration_change": 0.01,
        "survival": 1.0, "ensemble": 20})
    f, ens = forecast_district(town, settings, {}, base_year=2026, years=2)
    r = f.residents
    # ZB (C3: 5 per age, C4: 0) grows 0.1 × 2 + 0.01 = 21 % a year; the rest 1 %
    assert r[1, 2, 7] == pytest.approx(5 * 1.21)
    assert r[2, 2, 8] == pytest.approx(5 * 1.21 ** 2)
    assert r[1, 0, 7] == pytest.approx(10 * 1.01)  # C1 in zone ZA
    assert r[1, 4, 7] == pytest.approx(1 * 1.01)  # C5 in zone ZA
    # the ensemble uses the district mean of each age, weighted by children: 5 of 66 in ZB
    assert ens.shape == (20, 3, 18)
    mean = (5 * 0.21 + 61 * 0.01) / 66
    assert np.median(ens[:, 1, 7]) == pytest.approx(66 * (1 + mean), rel=0.02)


def test_migration_table_from_csv(town, tmp_path):
    lines = ["age,rate,zone_id"] + [f"{a},0.02," for a in range(18)] + [
        f"{a},-0.05,ZB" for a in range(18)]
    (tmp_path / "mig.csv").write_text("\n".join(lines) + "\n")
    settings = ForecastSettings.from_table({"migration_by_age": {"file": "mig.csv"},
                                            "survival": 1.0})
    f, _ = forecast_district(town, settings, {}, base_year=2026, years=1, folder=tmp_path)
    assert f.residents[1, 2, 7] == pytest.approx(5 * 0.95)
    assert f.residents[1, 1, 7] == pytest.approx(50 * 1.02)


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"district": [0.01] * 17}, "give 18 rates, for ages 0–17 \\(got 17\\)"),
        ({"district": {str(a): 0.01 for a in range(16)}}, "rates missing for age\\(s\\) 16, 17"),
        ({"ZB": [0.01] * 5 + ["a"] + [0.01] * 12}, "rates of age\\(s\\) 5 are not numbers"),
        ({"ZB": [0.01] * 17 + [-2]}, "below −1"),
        ("0.01", "give district = \\[18 rates\\]"),
    ],
)
def test_bad_migration_tables(table, match):
    with pytest.raises(ValidationError, match=match):
        ForecastSettings.from_table({"migration_by_age": table})


def test_bad_migration_zones_and_files(town, tmp_path):
    for rates, match in (({"ZX": [0.0] * 18}, "zone\\(s\\) 'ZX' are not in the district"),
                         ({"ZA": [0.0] * 18, "ZJ": [0.0] * 18}, "zones of one level only")):
        settings = ForecastSettings.from_table({"migration_by_age": rates})
        with pytest.raises(ValidationError, match=match):
            forecast_district(town, settings, {}, base_year=2026, years=1)
    (tmp_path / "bad.csv").write_text("age,rate\n0,0.01\n1,abc\n")
    with pytest.raises(ValidationError, match="rate is not a number on line\\(s\\) 3"):
        read_migration_table(tmp_path / "bad.csv")
    (tmp_path / "short.csv").write_text("age,rate\n0,0.01\n")
    with pytest.raises(ValidationError, match="rates missing for age\\(s\\) 1, 2"):
        read_migration_table(tmp_path / "short.csv")


def test_bad_fertility_settings():
    with pytest.raises(ValidationError, match="unknown band\\(s\\) 50_54") as info:
        ForecastSettings.from_table({"fertility": {"50_54": 0.01, "20_24": 2},
                                     "births_source": "census"})
    assert "20_24 must be births per woman" in str(info.value)
    assert "births_source must be one of 'series', 'fertility'" in str(info.value)


def test_progression_forecast_recovers_known_ratios_and_entry():
    # 9 grades over 6 history years, simulated with known ratios and entry ratio 0.9 × births
    ratios = np.array([0.99, 1.01, 0.98, 1.0, 1.02, 0.97, 1.0, 0.99])
    births = {y: 100.0 + 3 * (y - 2000) for y in range(1990, 2040)}
    first = np.array([0.9 * births[2014], 95, 92, 97, 91, 96, 93, 94, 95])
    entrants = [0.9 * births[y - 6] for y in range(2021, 2026)]
    grades = forecast_grades(first, entrants, ratios)  # 2020–2025
    rows = [{"school_id": f"S{g % 2}", "year": 2020 + t, "grade": g + 1,
             "students": grades[t, g] / 2} for t in range(6) for g in range(9)
            for _ in range(2)]  # two schools, half each: sums are what counts
    hist = pd.DataFrame(rows).groupby(["school_id", "year", "grade"], as_index=False).sum()
    levels = {"primary": list(range(1, 7)), "junior": [7, 8, 9]}
    table, found = forecast_by_progression(hist, levels, births, [2025, 2026, 2027])
    assert found["ratio"].to_numpy() == pytest.approx(np.concatenate([[0.9], ratios]))
    ahead = forecast_grades(grades[-1], [0.9 * births[2020], 0.9 * births[2021]], ratios)
    t = table.set_index(["level", "year"])["students"]
    assert t[("primary", 2025)] == pytest.approx(grades[5, :6].sum())  # history as it was
    assert t[("primary", 2027)] == pytest.approx(ahead[2, :6].sum())
    assert t[("junior", 2026)] == pytest.approx(ahead[1, 6:].sum())
    with pytest.raises(ValidationError, match="no rows for year\\(s\\) 2022"):
        forecast_by_progression(hist[hist.year != 2022], levels, births, [2026])


def test_compare_methods_by_hand():
    cohort = pd.DataFrame({"level": ["primary", "primary", "junior"], "year": [2026, 2027, 2026],
                           "students": [100.0, 200.0, 0.0]})
    prog = pd.DataFrame({"level": ["primary", "primary", "junior"],
                         "year": [2026, 2027, 2026], "students": [110.0, 190.0, 5.0]})
    out = compare_forecast_methods(cohort, prog)
    assert out["difference"].tolist() == [10.0, -10.0, 5.0]
    assert out["difference_share"].tolist()[:2] == pytest.approx([0.1, -0.05])
    assert np.isnan(out["difference_share"].iloc[2])


def _history_layers(town_layers, rows):
    layers = dict(town_layers)
    layers["enrolment"] = pd.DataFrame(rows, columns=["school_id", "year", "grade", "students"])
    return layers


def test_enrolment_layer_checked(town_layers):
    rows = [("P1", 2025, 1, 10), ("PX", 2025, 2, 5), ("P1", 2025.5, 13, -1),
            ("P1", 2025, 1, 3)]
    with pytest.raises(ValidationError) as info:
        district_from_frames(_history_layers(town_layers, rows))
    text = str(info.value)
    assert "'school_id' names no school in the schools layer (e.g. 'PX')" in text
    assert "'year' must be a whole number" in text and "'grade' must be a whole number 1–12" in text
    assert "'students' must be a number ≥ 0" in text and "more than one row" in text
    with pytest.raises(ValidationError, match="column\\(s\\) 'students' missing"):
        district_from_frames({**town_layers, "enrolment": pd.DataFrame(
            {"school_id": ["P1"], "year": [2025], "grade": [1]})})


def test_scenario_compares_the_two_methods(town_layers, tmp_path):
    from schoolmap.outputs import forecast_tables
    from schoolmap.scenario import run_scenario, scenario_from_dict

    # P1's zone: 10 + 50 + 1 children of every age; history = those children, all kept
    rows = [(sid, y, g, n) for sid, n in (("P1", 61), ("P2", 5), ("J1", 66))
            for y in (2024, 2025) for g in ((7, 8, 9) if sid == "J1" else range(1, 7))]
    town = district_from_frames(_history_layers(town_layers, rows))
    assert town.enrolment["students"].sum() == 2 * (6 * 66 + 3 * 66)
    sc = scenario_from_dict({"district": "x.gpkg", "base_year": 2026, "horizon": 2,
                             "levels": ["primary", "junior"], "methods": ["catchment"],
                             "forecast": {"survival": 1.0}})
    result = run_scenario(sc, town)
    m = result.forecast_methods.set_index(["level", "year"])
    # constant 66 children per age: progression ratios 1, entry ratio 1 → 396 primary pupils
    # and 198 junior; the cohort forecast says the same (no private share, rate 1)
    assert m["grade_progression"].tolist() == pytest.approx([396.0] * 3 + [198.0] * 3)
    assert m["cohort_component"].tolist() == pytest.approx([396.0] * 3 + [198.0] * 3)
    assert m["difference"].abs().max() == pytest.approx(0.0)
    assert forecast_tables(result)["forecast_methods.csv"].shape == (6, 6)


def test_forecast_table_splits_kindergarten_demand_puhui(town):
    from schoolmap.outputs import forecast_tables
    from schoolmap.scenario import run_scenario, scenario_from_dict

    sc = scenario_from_dict({"district": "x.gpkg", "base_year": 2026, "horizon": 1,
                             "levels": ["kindergarten", "primary"], "methods": ["nearest"],
                             "forecast": {"survival": 1.0, "puhui_target": 0.5}})
    table = forecast_tables(run_scenario(sc, town))["forecast.csv"].set_index(["level", "year"])
    kg = table.loc[("kindergarten", 2026)]
    assert kg["demand_puhui"] == pytest.approx(90.0)  # K1's 90 普惠 places, all taken
    assert kg["demand_other"] == pytest.approx(178.2 - 90.0)
    assert kg["puhui_seats_short"] == pytest.approx(0.0)  # 0.5 × 178.2 = 89.1 ≤ 90
    assert np.isnan(table.loc[("primary", 2026), "demand_puhui"])


def test_enrolment_table_read_from_a_folder_and_a_geopackage(town_layers, tmp_path):
    from schoolmap.io.district import read_district
    from schoolmap.outputs import write_gpkg

    folder = tmp_path / "town"
    folder.mkdir()
    for name, frame in town_layers.items():
        frame.to_file(folder / f"{name}.geojson", driver="GeoJSON", engine="pyogrio")
    (folder / "enrolment.csv").write_text("school_id,year,grade,students\nP1,2025,2,40\n"
                                          "P1,2025,1,41\nJ1,2025,7,30\n")
    d = read_district(folder)
    assert d.enrolment.to_dict("list") == {"school_id": ["J1", "P1", "P1"],
                                           "year": [2025] * 3, "grade": [7, 1, 2],
                                           "students": [30.0, 41.0, 40.0]}
    (folder / "enrolment.csv").write_text("school_id,year,grade,students\nP9,2025,1,x\n")
    with pytest.raises(ValidationError, match="enrolment.csv") as info:
        read_district(folder)
    assert "enrolment.csv: 'students' must be a number ≥ 0 (rows #1)" in str(info.value)
    assert "names no school in the schools layer (e.g. 'P9')" in str(info.value)
    gpkg = tmp_path / "town.gpkg"
    write_gpkg(town_layers, gpkg)
    assert read_district(gpkg).enrolment is None


def test_school_ratios_shrink_towards_the_district():
    # A: 100 in grade 1, 90 stay into grade 2 (0.9); B: 10 and all 10 stay (1.0).
    # District 100/110; with shrink 30 A's ratio is (90 + 30 × 100/110) / 130, B's
    # (10 + 30 × 100/110) / 40; grade 1 splits 10 : 1 as in the history
    hist = pd.DataFrame({"school_id": ["A"] * 4 + ["B"] * 4,
                         "year": [2024, 2024, 2025, 2025] * 2, "grade": [1, 2] * 4,
                         "students": [100.0, 90, 100, 90, 10, 10, 10, 10]})
    births = {2018: 220.0, 2019: 220.0, 2020: 220.0}
    unraked = ProgressionSettings(shrink=30.0, rake=False)
    table, ratios = forecast_by_progression(hist, {"primary": [1, 2]}, births, [2026],
                                            settings=unraked)
    district = 100 / 110
    assert ratios["ratio"].tolist() == pytest.approx([0.5, district])
    a = (90 + 30 * district) / 130
    b = (10 + 30 * district) / 40
    assert table["students"].iloc[0] == pytest.approx(110 + 100 * a + 10 * b)
    # no shrinking: each school's own ratio; district only (no school_id): the district's
    own, _ = forecast_by_progression(hist, {"primary": [1, 2]}, births, [2026],
                                     settings=ProgressionSettings(shrink=0.0, rake=False))
    assert own["students"].iloc[0] == pytest.approx(110 + 90 + 10)
    flat, _ = forecast_by_progression(hist.drop(columns="school_id"), {"primary": [1, 2]},
                                      births, [2026])
    assert flat["students"].iloc[0] == pytest.approx(110 + 110 * district)
    # raked (the default): the schools add up to the district's forecast
    raked, _ = forecast_by_progression(hist, {"primary": [1, 2]}, births, [2026])
    assert raked["students"].iloc[0] == pytest.approx(110 + 110 * district)


def test_run_forecast_and_backtest_method_are_one():
    # the run's grade-progression forecast is the backtest's recommended method: on the
    # Eau Claire history fitted up to 2008, the district totals of both agree
    from schoolmap.backtest import SchoolmapSettings, read_births, read_enrolment_history
    from schoolmap.demand.backtest.history import build_history
    root = Path(__file__).resolve().parents[1] / "data" / "history" / "ecasd"
    enrol = read_enrolment_history(root / "enrolment.csv")
    births = read_births(root / "births.csv")
    upto = enrol[enrol["year"] <= 2008]
    k = upto.assign(grade=upto["grade"] + 1)  # K..5 as grades 1..6, K aged 5
    table, _ = forecast_by_progression(k, {"primary": list(range(1, 7))}, births,
                                       [2009, 2010, 2011], entry_age=5)
    hist = build_history(upto, births, None, "ecasd")
    fc = project_schools(hist.students, np.vstack([hist.births, [
        [births.get(int(y - a), np.nan) for a in 5 + np.arange(6)] for y in (2009, 2010, 2011)]]),
        len(hist.years) - 1, 3, SchoolmapSettings())[0]
    assert table["students"].to_numpy() == pytest.approx(np.nansum(fc, axis=(0, 2)))
