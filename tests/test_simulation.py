"""Year-by-year simulation: cohorts stay in their school, schools open, students conserved."""

from __future__ import annotations

import numpy as np
import pytest

from schoolmap.forecast import forecast_residents
from schoolmap.io.district import district_from_frames
from schoolmap.norms import default_norms
from schoolmap.simulation import simulate_enrolment

NORMS = default_norms()


def _single_cohort_town(town_layers):
    """Only six-year-olds in the base year, no births: one cohort walks through primary."""
    cells = town_layers["cells"]
    for a in range(18):
        cells[f"age_{a}"] = 0
    cells["age_6"] = [10, 50, 5, 0, 1]
    return district_from_frames(town_layers)


def test_a_cohort_stays_in_its_school_through_grade_six(town_layers):
    town = _single_cohort_town(town_layers)
    f = forecast_residents(town.cells, 6, births=[0] * 6, survival=1.0)
    sim = simulate_enrolment(town, f, NORMS, "primary", method="catchment")
    g = sim.by_grade.set_index(["year", "school_id", "grade"])["students"]
    assert g[(2026, "P1", 1)] == pytest.approx(61)  # C1 10 + C2 50 + C5 1
    assert g[(2031, "P1", 6)] == pytest.approx(61)  # the same children, five years on
    assert g[(2031, "P2", 6)] == pytest.approx(5)
    # counted once: every year the district has exactly 66 primary pupils, then 0 in 2032
    per_year = sim.by_grade.groupby("year")["students"].sum()
    assert per_year.loc[2026:2031].tolist() == pytest.approx([66.0] * 6)
    assert per_year.loc[2032] == pytest.approx(0.0)
    assert sim.district["unassigned"].sum() == 0


def test_students_conserved_every_year_and_peak(town):
    births = [40.0, 60.0, 80.0, 60.0, 40.0, 20.0, 20.0, 20.0]
    f = forecast_residents(town.cells, 8, births=births, survival=0.999, migration=0.01)
    for method in ("catchment", "nearest", "optimal"):
        sim = simulate_enrolment(town, f, NORMS, "primary", method=method)
        d = sim.district
        assert np.allclose(d["enrolled"] + d["unassigned"], d["demand"], rtol=1e-9)
        demand = f.level_demand(NORMS.level("primary")).sum(axis=1)
        assert np.allclose(d["demand"], demand)
        assert sim.peak[0] == int(d["year"][d["demand"].idxmax()])
    # optimal never puts more entrants in a school than its per-grade seats
    entry = sim.by_grade[sim.by_grade.grade == 1].set_index(["year", "school_id"])["students"]
    assert (entry.xs("P1", level="school_id") <= 270 / 6 + 1e-9).all()


def test_opening_and_closing_schools(town_layers):
    schools = town_layers["schools"]
    schools.loc[schools["school_id"] == "P2", "open_year"] = 2028
    town = district_from_frames(town_layers)
    f = forecast_residents(town.cells, 4, survival=1.0)
    sim = simulate_enrolment(town, f, NORMS, "primary", method="nearest")
    s = sim.by_school.set_index(["year", "school_id"])
    assert ("P2" not in sim.by_school[sim.by_school.year == 2027]["school_id"].tolist())
    assert s.loc[(2028, "P2"), "students"] > 0  # entrants from 2028 on
    # a class of 61+ entrants in one class at P1 shows as 大班额 in the base year
    assert s.loc[(2026, "P1"), "n_classes_56_65"] + s.loc[(2026, "P1"), "n_classes_66_plus"] > 0
    # closing: P2 closes in 2028; its pupils move to P1, nobody is lost
    layers = town_layers
    layers["schools"].loc[layers["schools"]["school_id"] == "P2", ["open_year", "close_year"]] = [
        np.nan, 2028]
    town2 = district_from_frames(layers)
    sim2 = simulate_enrolment(town2, forecast_residents(town2.cells, 3, survival=1.0), NORMS,
                              "primary", method="catchment")
    d = sim2.district.set_index("year")
    assert np.allclose(d["enrolled"] + d["unassigned"], d["demand"])
    assert "P2" not in sim2.by_school[sim2.by_school.year == 2028]["school_id"].tolist()


def _p2_opening(town_layers, year, method, years):
    """Primary enrolment of the tiny town when P2 opens in ``year`` (no births, no deaths)."""
    schools = town_layers["schools"]
    schools.loc[schools["school_id"] == "P2", "open_year"] = year
    town = district_from_frames(town_layers)
    f = forecast_residents(town.cells, years, survival=1.0)
    return simulate_enrolment(town, f, NORMS, "primary", method=method)


def test_pupils_without_a_school_are_placed_when_one_opens(town_layers):
    # P2 (zone ZB: cell C3, 5 children of every age) opens in 2028: before, C3's pupils
    # have no open zoned school; from 2028 P2 takes all of them, not only its entrants
    sim = _p2_opening(town_layers, 2028, "catchment", years=3)
    d = sim.district.set_index("year")
    assert d["unassigned"].tolist() == pytest.approx([30.0, 30.0, 0.0, 0.0])
    g = sim.by_grade.set_index(["year", "school_id", "grade"])["students"]
    assert [g[(2028, "P2", k)] for k in range(1, 7)] == pytest.approx([5.0] * 6)
    assert g[(2029, "P2", 6)] == pytest.approx(5.0)  # and they stay
    assert np.allclose(d["enrolled"] + d["unassigned"], d["demand"])


def test_optimal_places_the_waiting_pupils_in_the_seats_free(town_layers):
    # P1 alone in 2026–2027 (45 seats a grade for 61 + 5 = 66 a grade): 21 a grade wait;
    # P2 opens in 2027 with 540 seats (90 a grade) and takes every one of them
    sim = _p2_opening(town_layers, 2027, "optimal", years=2)
    d = sim.district.set_index("year")
    assert d.loc[2026, "unassigned"] == pytest.approx(6 * 21)
    assert d.loc[2027, "unassigned"] == pytest.approx(0.0)
    assert d.loc[2027, "enrolled"] == pytest.approx(396.0)
    s = sim.by_school.set_index(["year", "school_id"])["students"]
    assert s[(2027, "P1")] == pytest.approx(270.0) and s[(2027, "P2")] == pytest.approx(126.0)


def test_kindergarten_puhui_split(town):
    f = forecast_residents(town.cells, 1, survival=1.0)
    sim = simulate_enrolment(town, f, NORMS, "kindergarten", method="nearest",
                             puhui_target=0.8)
    row = sim.district.iloc[0]
    demand = 66 * 3 * 0.9  # ages 3–5 × 入园率; K1 (普惠, 90 places) is the only kindergarten
    assert row["demand"] == pytest.approx(demand)
    assert row["seats_public_puhui"] == 90.0
    assert row["puhui_coverage"] == pytest.approx(90 / demand)
    assert row["demand_puhui"] == pytest.approx(90.0)
    assert row["demand_other"] == pytest.approx(demand - 90)
    assert row["puhui_seats_short"] == pytest.approx(0.8 * demand - 90)
    assert "demand_puhui" not in simulate_enrolment(town, f, NORMS, "primary").district
