"""Seats short, classes and class-size bands: hand-checked figures."""

from __future__ import annotations

import numpy as np
import pytest

from schoolmap.demand import level_schools
from schoolmap.io.district import district_from_frames
from schoolmap.norms import ClassBands, default_norms
from schoolmap.planning.capacity import band_counts, classes_by_grade
from schoolmap.scenario import Scenario, run_scenario


def test_classes_share_out_over_grades():
    assert classes_by_grade(np.array([24]), 6).tolist() == [[4] * 6]
    assert classes_by_grade(np.array([20]), 6).tolist() == [[4, 4, 3, 3, 3, 3]]


@pytest.mark.parametrize(
    ("students", "classes", "bands", "over", "largest"),
    [
        # 90 students in 2 classes: 45 + 45 → normal
        (90, 2, [2, 0, 0, 0], 0, 45),
        # 91 in 2: 46 + 45 → one large
        (91, 2, [1, 1, 0, 0], 1, 46),
        # 130 in 2: 65 + 65 → two 大班额
        (130, 2, [0, 0, 2, 0], 2, 65),
        # 133 in 2: 67 + 66 → two 超大班额
        (133, 2, [0, 0, 0, 2], 2, 67),
        # 56 in 1 → one 大班额
        (56, 1, [0, 0, 1, 0], 1, 56),
        # students but no class: one overfull class
        (70, 0, [0, 0, 0, 1], 1, 70),
        # no students, 2 classes: two (empty) normal classes
        (0, 2, [2, 0, 0, 0], 0, 0),
    ],
)
def test_band_counts(students, classes, bands, over, largest):
    counts, n_over, big = band_counts(np.array([[students]]), np.array([[classes]]),
                                       np.array([[45]]), ClassBands())
    assert counts[0].tolist() == bands
    assert n_over[0] == over and big[0] == largest


def _result(town):
    return run_scenario(Scenario(name="t", district=town.source, base_year=2026), town)


def test_school_figures_hand_checked(town):
    r = _result(town)
    s = r.schools.set_index(["school_id", "method"])
    p1 = s.loc[("P1", "catchment")]
    assert p1["demand"] == 366 and p1["seats"] == 270
    assert p1["shortfall"] == 96 and p1["surplus"] == 0
    assert p1["utilisation"] == pytest.approx(366 / 270)
    assert p1["classes"] == 6 and p1["classes_needed"] == 12  # ceil(61/45) × 6
    assert p1["avg_class_size"] == 61 and p1["max_class_size"] == 61
    assert p1["n_classes_56_65"] == 6 and p1["share_classes_56_plus"] == 1.0
    assert p1["students_beyond_radius"] == 6  # C5 at 559 m > 500 m
    assert p1["share_beyond_radius"] == pytest.approx(6 / 366)
    # P2: 30 students (5 per grade) in 12 classes (2 per grade: 3 + 2)
    p2 = s.loc[("P2", "catchment")]
    assert p2["demand"] == 30 and p2["surplus"] == 510 and p2["classes_needed"] == 6
    assert p2["avg_class_size"] == 2.5 and p2["max_class_size"] == 3
    # junior J1: 66 per grade in one class each → three 超大班额
    j1 = s.loc[("J1", "catchment")]
    assert j1["demand"] == 198 and j1["shortfall"] == 48
    assert j1["n_classes_66_plus"] == 3 and j1["share_classes_66_plus"] == 1.0
    # nearest sends C5 to P2
    assert s.loc[("P1", "nearest")]["demand"] == 360
    assert s.loc[("P2", "nearest")]["demand"] == 36


def test_zone_and_district_figures(town):
    r = _result(town)
    z = r.zones.set_index("zone_id")
    assert z.loc["ZA", "demand"] == 366 and z.loc["ZA", "seats"] == 270
    assert z.loc["ZA", "shortfall"] == 96
    assert z.loc["ZB", "demand"] == 30 and z.loc["ZB", "surplus"] == 510
    t = r.totals.set_index(["level", "method"])
    prim = t.loc[("primary", "catchment")]
    assert prim["demand"] == 396 and prim["seats"] == 810 and prim["net_shortfall"] == 0
    assert prim["shortfall_at_schools"] == 96 and prim["n_schools_short"] == 1
    assert prim["classes"] == 18 and prim["n_classes_56_plus"] == 6
    assert prim["share_classes_56_plus"] == pytest.approx(6 / 18)
    kg = t.loc[("kindergarten", "catchment")]
    assert kg["demand"] == pytest.approx(0.9 * 3 * 66)  # 入园率 0.9 × ages 3–5
    assert any("kindergarten zones" in n for n in r.notes)
    for row in r.totals.itertuples():
        assert row.assigned + row.unassigned == pytest.approx(row.demand)


def test_nine_year_school_splits_seats(town_layers):
    schools = town_layers["schools"]
    schools.loc[schools["school_id"] == "J1", ["level", "seats", "classes"]] = [
        "nine_year", 1020.0, 27]
    town = district_from_frames(town_layers)
    norms = default_norms()
    prim = level_schools(town, norms, "primary", 2026).set_index("school_id")
    jun = level_schools(town, norms, "junior", 2026).set_index("school_id")
    # seats split 6×45 : 3×50 = 270 : 150; classes 6 : 3 grades = 18 : 9
    assert prim.loc["J1", "seats"] == pytest.approx(1020 * 270 / 420)
    assert jun.loc["J1", "seats"] == pytest.approx(1020 * 150 / 420)
    assert prim.loc["J1", "classes"] == 18 and jun.loc["J1", "classes"] == 9
    assert prim.loc["J1", "school_type"] == "nine_year"


def test_seats_from_classes_and_private_left_out(town_layers):
    schools = town_layers["schools"]
    schools.loc[schools["school_id"] == "P2", "seats"] = np.nan  # 12 classes × 45
    schools.loc[schools["school_id"] == "P1", "sector"] = "private"
    town = district_from_frames(town_layers)
    norms = default_norms()
    s = level_schools(town, norms, "primary", 2026)
    assert s.set_index("school_id").loc["P2", "seats"] == 540
    assert "P1" in s["school_id"].tolist()  # private_share 0: private schools take students
    norms = norms.with_overrides({"primary": {"private_share": 0.1}})
    s = level_schools(town, norms, "primary", 2026)
    assert s["school_id"].tolist() == ["P2"]


def test_optimal_method_hand_checked(town):
    sc = Scenario(name="t", district=town.source, base_year=2026, levels=("primary",),
                  methods=("optimal", "catchment"))
    r = run_scenario(sc, town)
    s = r.schools.set_index(["school_id", "method"])
    # P1 (270 seats) keeps C1's 60 and 210 of C2's 300; 90 of C2 go to P2 (955 m), C5 to P2
    assert s.loc[("P1", "optimal"), "demand"] == pytest.approx(270)
    assert s.loc[("P2", "optimal"), "demand"] == pytest.approx(126)
    assert s.loc[("P1", "optimal"), "shortfall"] == pytest.approx(0)
    # one more seat at P1 saves a C2 pupil the trip to P2 instead of to P1
    price = np.hypot(950, 100) - np.hypot(50, 100)
    assert s.loc[("P1", "optimal"), "seat_price_m"] == pytest.approx(price)
    assert s.loc[("P2", "optimal"), "seat_price_m"] == 0
    assert np.isnan(s.loc[("P1", "catchment"), "seat_price_m"])
    alloc = r.allocations[("primary", "optimal")]
    assert alloc.certificate["optimal"]
    objective = (270 * np.hypot(50, 100) + 90 * np.hypot(950, 100) + 6 * np.hypot(450, 100)
                 + 30 * np.hypot(50, 100))
    assert float(alloc.students @ alloc.distance_m) == pytest.approx(objective)


def test_puhui_coverage(town_layers):
    schools = town_layers["schools"]
    extra = schools.iloc[[3]].copy()
    extra["school_id"], extra["sector"], extra["seats"] = "K2", "private", 60.0
    import pandas as pd

    town_layers["schools"] = pd.concat([schools, extra], ignore_index=True)
    town = district_from_frames(town_layers)
    r = run_scenario(Scenario(name="t", district=town.source, base_year=2026,
                              levels=("kindergarten",), methods=("nearest",), horizon=0), town)
    kg = r.totals.iloc[0]
    # 90 puhui + 60 private seats for 178.2 children aged 3–5 × 0.9
    assert kg["seats_public_puhui"] == 90
    assert kg["puhui_coverage"] == pytest.approx(90 / 178.2)
    assert kg["public_share_of_seats"] == 0.0
