"""Whole students in every table people read (issue 18): the CSVs and results.xlsx round by
the largest-remainder rule so totals still add up; results.gpkg keeps the exact values."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from schoolmap.io.workbook import round_whole


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    from schoolmap.run.outputs import write_results
    from schoolmap.run.scenario import load_scenario, run_scenario
    from schoolmap.testing import tiny_town_layers

    base = tmp_path_factory.mktemp("whole")
    from schoolmap.io.files import write_gpkg

    write_gpkg(tiny_town_layers(), base / "town.gpkg")
    (base / "town.toml").write_text(
        'district = "town.gpkg"\nbase_year = 2026\nhorizon = 3\nlevels = ["primary"]\n'
        'methods = ["catchment", "optimal"]\nlang = "en"\n[map]\ntiles = "none"\n'
        "[norms.primary]\nprivate_share = 0.07\n", encoding="utf-8")
    result = run_scenario(load_scenario(base / "town.toml"))
    return write_results(result, base / "out")


def test_round_whole_can_take_units_back_for_a_smaller_total():
    assert round_whole([3.2, 1.9, 0.4], total=4).tolist() == [3.0, 1.0, 0.0]


def test_tables_hold_whole_students_that_add_up(written):
    schools = pd.read_csv(written / "schools.csv")
    district = pd.read_csv(written / "district.csv")
    zones = pd.read_csv(written / "zones.csv")
    exact = gpd.read_file(written / "results.gpkg", layer="schools")
    assert (exact["demand"] % 1 != 0).any()  # the fractions the tables must not show
    for table, columns in ((schools, ["demand", "shortfall", "surplus", "students_g1"]),
                           (district, ["demand", "assigned", "unassigned",
                                       "shortfall_at_schools"]), (zones, ["demand"])):
        for column in columns:
            assert pd.api.types.is_integer_dtype(table[column]), column
    assert (district["assigned"] + district["unassigned"] == district["demand"]).all()
    sums = schools.groupby(["level", "method"])[["demand", "shortfall", "surplus"]].sum()
    head = district.set_index(["level", "method"])
    assert (sums["demand"] == head["assigned"]).all()
    assert (sums["shortfall"] == head["shortfall_at_schools"]).all()
    assert (sums["surplus"] == head["surplus_at_schools"]).all()
    assert (schools["shortfall"] == np.maximum(schools["demand"] - schools["seats"], 0)).all()
    grades = schools.filter(like="students_g").sum(axis=1)
    assert (grades == schools["demand"]).all()  # a school's grades add up to its demand
    assert pd.api.types.is_integer_dtype(schools["seats"])
    zone_total = zones.groupby("level")["demand"].sum()
    assert zone_total["primary"] == head.loc[("primary", "catchment"), "demand"]
    # each whole number is the exact one rounded up or down
    exact = exact.set_index(["school_id", "method"])["demand"]
    diff = schools.set_index(["school_id", "method"])["demand"] - exact.loc[
        list(zip(schools["school_id"], schools["method"], strict=True))].to_numpy()
    assert diff.abs().max() < 1


def test_forecast_tables_add_up_too(written):
    forecast = pd.read_csv(written / "forecast.csv")
    by_school = pd.read_csv(written / "forecast_schools.csv")
    assert pd.api.types.is_integer_dtype(by_school["students"])
    assert (forecast["enrolled"] + forecast["unassigned"] == forecast["demand"]).all()
    sums = by_school.groupby(["level", "year"])[["students", "shortfall"]].sum()
    rows = forecast.set_index(["level", "year"])
    assert (sums["students"] == rows["enrolled"]).all()
    assert (sums["shortfall"] == rows["shortfall_at_schools"]).all()


def test_workbook_shows_the_whole_numbers(written):
    import openpyxl

    sheet = openpyxl.load_workbook(written / "results.xlsx")["schools"]
    head = [c.value for c in sheet[1]]
    demand = [row[head.index("demand")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert demand and all(isinstance(v, int) for v in demand)
    assert sheet.cell(row=2, column=head.index("demand") + 1).number_format == "#,##0"
