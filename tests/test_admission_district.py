"""Admission on a district: the door (simulate_admission), its settings and 指标生 quotas."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from schoolmap.errors import ValidationError
from schoolmap.planning.admission_district import quota_table, simulate_admission
from schoolmap.planning.admission_settings import AdmissionSettings, PriorityClass
from schoolmap.testing import tiny_town

CLASSES = (PriorityClass("一类", 0.6), PriorityClass("二类", 0.3), PriorityClass("三类", 0.1))


@pytest.fixture(scope="module")
def town():
    return tiny_town()


def test_district_door_tables_conserve_places(town):
    demand = np.linspace(5, 60, len(town.cells))
    settings = AdmissionSettings(draws=300, classes=CLASSES)
    adm = simulate_admission(town, "primary", demand, year=2026, settings=settings, seed=3)
    cells, schools = adm.cells, adm.schools
    # whole students: the district total and the class shares kept by largest remainder
    assert cells["applicants"].sum() == round(demand.sum())
    by_class = [cells[f"applicants_c{k}"].sum() for k in (1, 2, 3)]
    assert np.abs(np.array(by_class) - demand.sum() * np.array([0.6, 0.3, 0.1])).max() <= 1
    # no school over its entry places; every student placed, outside or without a seat
    taken = schools["placed_from_zone"] + schools["placed_by_bureau"]
    assert (taken <= schools["entry_places"] + 1e-9).all()
    placed = taken.sum() + cells["no_seat"].sum()
    assert placed == pytest.approx(cells["applicants"].sum())
    assert cells["placed_outside"].sum() == pytest.approx(schools["placed_by_bureau"].sum())
    # chances are chances; the first school's is within the zone's
    for col in ("chance_first", "chance_zone"):
        assert cells[col].dropna().between(0, 1).all()
    assert (cells["chance_first"] <= cells["chance_zone"] + 1e-12).all()
    # better class, better odds
    assert cells["chance_zone_c1"].mean() >= cells["chance_zone_c3"].mean()
    # the same seed, the same tables
    again = simulate_admission(town, "primary", demand, year=2026, settings=settings, seed=3)
    pd.testing.assert_frame_equal(again.cells, cells)
    pd.testing.assert_frame_equal(again.schools, schools)


def test_class_share_column_and_missing_column(town):
    cells = town.cells.copy()
    cells["migrant"] = 1.0  # every applicant 三类
    district = dataclasses.replace(town, cells=cells)
    classes = (PriorityClass("一类", 0.9), PriorityClass("三类", 0.1, "migrant"))
    adm = simulate_admission(district, "primary", np.full(len(cells), 10.0), year=2026,
                             settings=AdmissionSettings(draws=20, classes=classes))
    assert adm.cells["applicants_c1"].sum() == 0
    bad = (PriorityClass("一类", 0.9), PriorityClass("三类", 0.1, "hukou_share"))
    with pytest.raises(ValidationError, match="'hukou_share'.*not a column of the cells layer"):
        simulate_admission(town, "primary", np.ones(len(cells)), year=2026,
                           settings=AdmissionSettings(draws=5, classes=bad))


def test_settings_name_every_problem():
    with pytest.raises(ValidationError) as err:
        AdmissionSettings.from_table({"mechanism": "dice", "draws": 2.5, "colour": 1,
                                      "classes": [{"name": "一类", "share": 0.5},
                                                  {"name": "二类", "share": 0.2}],
                                      "quota_share": 2}, where="demo.toml [admission]")
    text = str(err.value)
    for part in ("mechanism must be one of", "draws must be a whole number",
                 "unknown key 'colour'", "shares must sum to 1, got 0.7",
                 "quota_share must be a share from 0 to 1", "demo.toml [admission]"):
        assert part in text, part


def test_quota_table_sums_exactly():
    senior = pd.DataFrame({"school_id": ["H1", "H2"], "entry_places": [401, 300]})
    grads = pd.Series({"J1": 250.0, "J2": 250.0, "J3": 133.0})
    table = quota_table(senior, grads, 0.5, ["H1"])
    assert table["senior_school"].unique().tolist() == ["H1"]
    assert table["places"].sum() == 200 == table["quota"].iloc[0]
    exact = 200 * grads.to_numpy() / grads.sum()
    assert np.abs(table["places"].to_numpy() - exact).max() < 1


def test_run_step_forecast_year_and_quotas(town):
    # a senior school beside J1: 指标生 quotas split over the junior school(s) by graduates;
    # the intake of a forecast year comes from the forecast's children of entry age
    from schoolmap.run.scenario import Scenario, run_scenario

    senior = town.schools.iloc[[2]].assign(school_id="H1", name="第一高级中学",
                                           level="senior", seats=300.0, classes=6.0)
    district = dataclasses.replace(town, schools=pd.concat([town.schools, senior],
                                                           ignore_index=True))
    settings = AdmissionSettings(draws=50, classes=CLASSES, year=2028, quota_share=0.5,
                                 quota_schools=("H1",))
    sc = Scenario(name="t", district=town.source, base_year=2026, horizon=3,
                  levels=("primary", "junior", "senior"), methods=("catchment",),
                  admission=settings)
    result = run_scenario(sc, district)
    assert set(result.admission) == {"primary", "junior"}
    adm = result.admission["primary"]
    assert adm.year == 2028
    fc = result.forecast
    k = [int(t) for t in fc.years.tolist()].index(2028)
    norm = sc.norms.level("primary")
    expect = fc.residents[k][:, norm.ages[0]].sum() * norm.public_rate
    assert adm.cells["applicants"].sum() == round(expect)
    quotas = result.admission_quotas
    assert quotas["senior_school"].unique().tolist() == ["H1"]
    assert quotas["places"].sum() == quotas["quota"].iloc[0] == 50  # half of 300 / 3 grades
    assert quotas["junior_school"].tolist() == ["J1"]
