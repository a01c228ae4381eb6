"""Resources per school and year (posts, classrooms, areas, funds) and the balance indicators:
hand-checked figures, totals equal the sum over schools, norms overridable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schoolmap.demand.forecast import forecast_residents
from schoolmap.errors import ValidationError
from schoolmap.norms import default_norms
from schoolmap.planning.resources import RESOURCE_COLUMNS, estimate_resources
from schoolmap.planning.simulation import EnrolmentSimulation, simulate_enrolment
from schoolmap.testing import tiny_town


def _sim(level, rows):
    by_school = pd.DataFrame(rows, columns=["year", "school_id", "students", "classes",
                                            "classes_needed"])
    return EnrolmentSimulation(level, "catchment", pd.DataFrame(), by_school, pd.DataFrame())


def test_funds_posts_and_areas_by_hand():
    n = default_norms()
    sim = _sim("primary", [(2026, "A", 1080.0, 24, 24), (2026, "B", 60.0, 6, 6),
                           (2027, "A", 540.0, 24, 12), (2027, "B", 30.0, 6, 6)])
    schools = pd.DataFrame({"school_id": ["A", "B"], "boarders": [200, 0],
                            "locality": ["urban", "rural"]})
    res = estimate_resources(sim, schools, n).by_school.set_index(["year", "school_id"])
    a, b = res.loc[(2026, "A")], res.loc[(2026, "B")]
    assert a.funds_yuan == 1080 * 600 + 200 * 200 == 688_000
    assert a.staff_posts == pytest.approx(1080 / 19)
    assert a.building_m2_needed == pytest.approx(1080 * 7.9)  # 24 classes: 7.9 m² each
    assert a.land_m2_needed == pytest.approx(1080 * 22.0)
    assert a.building_m2 == pytest.approx(24 * 45 * 7.9)
    # rural 60 pupils in 6 classes: class rule 6 × 1.7 posts; funded as 100 pupils
    assert b.staff_posts == pytest.approx(10.2) and b.funds_yuan == 100 * 600
    assert b.building_m2_needed == pytest.approx(60 * 10.0)
    # the next year A keeps its share of boarders (100 of 540) and needs 12 classrooms only
    a2 = res.loc[(2027, "A")]
    assert a2.boarders == pytest.approx(100) and a2.funds_yuan == 540 * 600 + 100 * 200
    assert a2.classrooms_needed == 12 and a2.classrooms_short == 0
    assert a2.building_m2_needed == pytest.approx(540 * 10.0)


def test_overridden_norms_change_the_figures():
    n = default_norms().with_overrides({"resources": {"junior": {
        "students_per_post": [13.5, 16, 18], "funds_per_student_yuan": 850,
        "funds_min_students": 0}}})
    sim = _sim("junior", [(2026, "J", 90.0, 3, 2)])
    schools = pd.DataFrame({"school_id": ["J"], "locality": ["county"]})
    row = estimate_resources(sim, schools, n).by_school.iloc[0]
    assert row.staff_posts == pytest.approx(90 / 16) and row.funds_yuan == 90 * 850
    assert row.locality == "county"


def test_kindergarten_staffed_per_class():
    n = default_norms()
    sim = _sim("kindergarten", [(2026, "K", 60.0, 3, 3)])
    row = estimate_resources(sim, pd.DataFrame({"school_id": ["K"]}), n).by_school.iloc[0]
    assert row.staff_posts == pytest.approx(9.0)  # 3 classes × (2 teachers + 1 caregiver) > 60/7
    assert row.funds_yuan == 0.0  # no national kindergarten funds norm


def test_totals_are_the_sum_over_schools():
    town, n = tiny_town(), default_norms()
    sim = simulate_enrolment(town, forecast_residents(town.cells, 3), n, "primary")
    schools = town.schools.assign(boarders=[30, 0, 0, 0], migrant_students=[27, 54, 0, 0])
    res = estimate_resources(sim, schools, n)
    sums = res.by_school.groupby("year")[list(RESOURCE_COLUMNS) + ["migrant_students"]].sum()
    assert np.allclose(res.by_year.set_index("year").to_numpy(), sums.to_numpy())
    assert len(res.by_school) == len(sim.by_school)
    assert (res.by_school["students"].to_numpy() == sim.by_school["students"].to_numpy()).all()


@pytest.mark.parametrize(("column", "value", "match"), [
    ("locality", "suburb", "locality must be one of urban, county, rural"),
    ("boarders", -5, "boarders must be a number ≥ 0"),
])
def test_bad_school_columns_are_named(column, value, match):
    sim = _sim("primary", [(2026, "A", 100.0, 6, 6)])
    with pytest.raises(ValidationError, match=match):
        estimate_resources(sim, pd.DataFrame({"school_id": ["A"], column: [value]}),
                           default_norms())


@pytest.mark.parametrize(("overrides", "match"), [
    ({"primary": {"students_per_post": [19]}}, "students_per_post needs 3 numbers"),
    ({"primary": {"land_m2_per_student": [20, 20]}}, "land_m2_per_student needs one number"),
    ({"primary": {"funds_per_pupil": 600}}, "unknown norm 'funds_per_pupil'"),
    ({"college": {}}, "unknown level 'college'"),
])
def test_bad_resource_norms_are_named(overrides, match):
    with pytest.raises(ValidationError, match=match):
        default_norms().with_overrides({"resources": overrides})


def test_balance_cv_by_hand_and_thresholds():
    from schoolmap.planning.balance import balance_indicators

    n = default_norms()
    # two schools: 12 classes for 540 pupils and 12 classes for 270 → 2.22 and 4.44 per 100
    sim = _sim("primary", [(2026, "A", 540.0, 12, 12), (2026, "B", 270.0, 12, 6)])
    sim = EnrolmentSimulation("primary", "catchment", pd.DataFrame(), sim.by_school,
                              pd.DataFrame({"year": [2026], "demand": [900.0],
                                            "enrolled": [810.0]}))
    schools = pd.DataFrame({"school_id": ["A", "B"], "migrant_students": [54, 81],
                            "teachers": [30, 20]})
    res = estimate_resources(sim, schools, n)
    bal = balance_indicators(res, sim, n, schools)
    x = np.array([100 * 12 / 540, 100 * 12 / 270])
    w = np.array([540.0, 270.0])
    mean = w @ x / w.sum()
    cv = np.sqrt(w @ (x - mean) ** 2 / w.sum()) / mean
    row = bal.by_year.iloc[0]
    assert row.cv_classrooms_per_100 == pytest.approx(cv)  # ≈ 0.35
    assert max(row.cv_posts_per_100, row.cv_building_m2_per_student) <= 0.5
    assert row.cv_threshold == 0.5 and bool(row.cv_pass)  # every coefficient ≤ 0.50
    assert bal.by_school.set_index("school_id").loc["B", "posts_per_100"] == pytest.approx(
        100 * 20 / 270)  # actual teachers where given
    assert row.in_catchment_share == pytest.approx(0.9)
    assert row.migrant_share == pytest.approx(135 / 810)
    assert bal.summary()["year"] == 2026
