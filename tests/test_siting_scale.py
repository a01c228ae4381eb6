"""Siting at city scale (issue 16): the exact engine sees only cells with students, the LP lower
bound is skipped when the seats bound already proves the plan minimal and falls back to coarser
squares (a weaker, still valid bound, noted) when it is over its size budget.

At 250,000 cells (``benchmarks/city.py``) kindergarten siting stopped with "students cannot
all be placed and leaving them unserved is not allowed": the exact engine lost its last path on
fractional forecast students over all 250,000 cells, three quarters of them empty, although
unserved students have a finite cost. Handed only the 64,313 cells with students the same
allocation solves (and ~4× faster); should it fail anyway, siting solves it once more with the
students on a 2**-20 grid, where the engine's sums are exact.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

import schoolmap.planning.siting.bound as bound
from schoolmap.allocation.optimal import assign
from schoolmap.demand import demand_by_cell_grade, level_schools
from schoolmap.errors import ValidationError
from schoolmap.io.district import district_from_frames, read_district
from schoolmap.norms import default_norms
from schoolmap.planning.siting.bound import DEFAULT_LP_TIME_LIMIT_S, school_xy
from schoolmap.planning.siting.planner import _size_options, site_new_schools
from schoolmap.planning.siting.solves import Planner
from schoolmap.scenario import run_scenario, scenario_from_dict

X0, Y0, CRS = 500_000.0, 3_500_000.0, "EPSG:32651"
DEMO = Path(__file__).resolve().parents[1] / "data" / "geo" / "demo.gpkg"


@pytest.fixture(scope="module")
def demo():
    return read_district(DEMO)


def test_the_engine_sees_only_cells_with_students_and_answers_the_same(demo):
    norms = default_norms()
    schools = level_schools(demo, norms, "primary", 2026)
    rng = np.random.default_rng(16)
    # fractional students (as from the forecast) in a third of the cells, none elsewhere
    students = np.where(rng.random(demo.n_cells) < 1 / 3, rng.gamma(2.0, 9.0, demo.n_cells), 0.0)
    planner = Planner(demo.cell_xy, {2026: students}, {2026: schools},
                       _size_options(norms.level("primary")), 3000.0, 0.0)
    got = planner.solve(2026, [])
    full = assign(demo.cell_xy, students, school_xy(schools), schools["seats"].to_numpy(float),
                  max_distance_m=3000.0)
    assert len(got.unserved_by_cell) == demo.n_cells
    assert (got.unserved_by_cell[students == 0] == 0).all()
    np.testing.assert_allclose(got.unserved_by_cell, full.unserved_by_cell, atol=1e-9)
    np.testing.assert_allclose(got.students.sum(), full.students.sum(), rtol=1e-12)
    np.testing.assert_allclose((got.students * got.cost).sum(),
                               (full.students * full.cost).sum(), rtol=1e-9)
    assert planner.n_solves == 1 and planner.n_regridded == 0


def _village(per_age_b: float):
    """Town cell A (540 primary pupils) at primary P1 (540 seats); village B 10 km away."""
    cells = gpd.GeoDataFrame(
        pd.DataFrame([{"cell_id": c, **{f"age_{a}": n for a in range(18)}, "population": 18 * n}
                      for c, n in (("A", 90.0), ("B", per_age_b))]),
        geometry=[box(X0 + x - 50, Y0 - 50, X0 + x + 50, Y0 + 50) for x in (0.0, 10_000.0)],
        crs=CRS)
    schools = gpd.GeoDataFrame(
        {"school_id": ["P1"], "name": ["P1"], "level": ["primary"], "seats": [540.0],
         "classes": [12], "sector": ["public"], "open_year": [np.nan], "close_year": [np.nan]},
        geometry=[Point(X0, Y0)], crs=CRS)
    return district_from_frames({"cells": cells, "schools": schools}, source="test")


def test_no_lp_when_the_seats_missing_already_prove_the_plan_minimal(demo):
    # the village's 300 pupils need one school of at most 1,350 seats: proven without the LP
    plan = site_new_schools(_village(50.0), "primary", reach_m=3000)
    assert (plan.n_new, plan.lower_bound, plan.bound, plan.gap) == (1, 1, "seats", 0.0)
    assert not any("lower bound" in n for n in plan.notes), plan.notes
    # the demo's primary level: its 2 schools are proven by the LP (seats alone give fewer)
    demo_plan = site_new_schools(demo, "primary")
    assert (demo_plan.n_new, demo_plan.lower_bound, demo_plan.bound) == (2, 2, "lp")


def test_an_lp_over_its_size_budget_is_built_on_coarser_squares(demo, monkeypatch):
    fine = site_new_schools(demo, "primary")
    # the LP of the demo's primary pairs 9,466 (square, school) on squares of 500 m, 3,058 on
    # squares of 1,000 m
    monkeypatch.setattr(bound, "LP_MAX_PAIRS", 5_000)
    coarse = site_new_schools(demo, "primary")
    assert coarse.bound == "lp"
    assert 0 < coarse.lower_bound <= fine.lower_bound
    assert any(n.startswith("LP lower bound on squares of 1,000 m, weaker than on 500 m squares "
                            "(the LP is over its size budget of 5,000 pairs)")
               for n in coarse.notes), coarse.notes
    assert coarse.sites["site_id"].tolist() == fine.sites["site_id"].tolist()
    monkeypatch.setattr(bound, "LP_MAX_PAIRS", 10)
    seats = site_new_schools(demo, "primary")
    assert seats.bound == "seats" and seats.lower_bound <= fine.lower_bound
    assert any("weaker than the LP bound (the LP is over its size budget of 10 pairs)" in n
               for n in seats.notes), seats.notes


def _scenario(siting: dict):
    return scenario_from_dict({"district": "unused", "base_year": 2026, "horizon": 0,
                               "levels": ["primary"], "methods": ["catchment"], "lang": "en",
                               "siting": siting})


def test_lp_time_limit_is_a_strict_siting_key_that_reaches_the_bound():
    assert _scenario({}).siting.lp_time_limit_s == DEFAULT_LP_TIME_LIMIT_S
    assert "lp_time_limit_s" not in _scenario({}).to_dict()["siting"]  # summaries as before
    sc = _scenario({"lp_time_limit_s": 5})
    assert sc.siting.lp_time_limit_s == 5.0 and sc.to_dict()["siting"]["lp_time_limit_s"] == 5.0
    for bad, words in ((True, "must be a number, got true"), ("60", "must be a number, got the "
                       "text '60'"), (0, "must be seconds > 0, got 0"),
                       (-1.5, "must be seconds > 0, got -1.5")):
        with pytest.raises(ValidationError) as err:
            _scenario({"lp_time_limit_s": bad})
        assert "lp_time_limit_s" in str(err.value) and words in str(err.value), str(err.value)


def test_a_run_reports_the_siting_steps_and_uses_the_time_limit(demo):
    steps: list[str] = []
    sc = dataclasses.replace(_scenario({"lp_time_limit_s": 0.000001}), levels=("primary",))
    result = run_scenario(sc, demo, step=steps.append)
    plan = result.siting["primary"]
    assert plan.bound == "seats" and any("time limit of 1e-06 s" in n for n in plan.notes)
    siting = [s for s in steps if s.startswith("primary: ") and "allocation" not in s]
    assert siting == ["primary: siting new schools", "primary: existing schools 2026 (1/1)",
                      "primary: 63 candidate sites", "primary: siting 2026 (1/1, 0 new so far)",
                      f"primary: opening years and sizes of {plan.n_new} new schools",
                      "primary: lower bound"], steps


def test_the_lp_bound_adds_years_only_while_it_has_not_proven_the_plan(demo, monkeypatch):
    # three planning years with the base year's students: the LP of the worst year alone
    # proves the plan minimal (3 schools; the seats missing prove fewer), so the LPs over two and
    # three years are not built
    norms = default_norms()
    grades = demand_by_cell_grade(demo.cells, norms, "primary")
    calls = []
    real = bound.milp
    monkeypatch.setattr(bound, "milp", lambda *a, **k: calls.append(a[1].shape) or real(*a, **k))
    plan = site_new_schools(demo, "primary", 2028, grade_demand_by_year={t: grades for t in
                                                                         (2026, 2027, 2028)})
    assert (plan.n_new, plan.lower_bound, plan.bound, plan.gap) == (3, 3, "lp", 0.0)
    assert len(calls) == 1, calls
    assert not any("year(s) missing most seats" in n for n in plan.notes), plan.notes


def test_the_unserved_floor_never_exceeds_the_exact_allocation(demo):
    # the planner skips an exact allocation when this floor already decides it: it must be a
    # lower bound of the exact answer for any plan (here: random sites and sizes, tight reach)
    from schoolmap.planning.siting.solves import Site

    norms = default_norms()
    schools = level_schools(demo, norms, "primary", 2026)
    students = demand_by_cell_grade(demo.cells, norms, "primary").sum(axis=1)
    rng = np.random.default_rng(19)
    for reach in (800.0, 3000.0):
        planner = Planner(demo.cell_xy, {2026: students}, {2026: schools},
                          _size_options(norms.level("primary")), reach, 0.0)
        planner.cand_xy = demo.cell_xy[rng.choice(demo.n_cells, 12, replace=False)]
        for _ in range(4):
            plan = [Site(int(j), int(rng.integers(0, 3)), 2026)
                    for j in rng.choice(12, int(rng.integers(0, 5)), replace=False)]
            floor = planner.unserved_at_least(2026, plan)
            exact = planner.unserved(planner.solve(2026, plan))
            assert 0 <= floor <= exact + 1e-9, (reach, plan, floor, exact)


def test_sites_by_road_use_road_trips_and_reach(demo):
    # issue 14: with [travel] walk every allocation of the planner runs along the roads (the
    # certified road door), so with the same 3 km reach more pupils are out of reach before
    # any new school than by straight line, and every planned trip is a road trip
    from schoolmap.allocation.network import Travel
    from schoolmap.allocation.travel import district_graph

    walk = Travel(mode="walk")
    line = site_new_schools(demo, "primary")
    road = site_new_schools(demo, "primary", travel=walk, graph=district_graph(demo, walk))
    assert road.years["unserved_before"].iloc[0] > line.years["unserved_before"].iloc[0] + 1000
    assert 1 <= road.n_new and road.lower_bound <= road.n_new and road.bound == "lp"
    assert road.sites["site_id"].tolist() != line.sites["site_id"].tolist()
    assert (road.sites["students_served"] > 0).all()
    assert (road.sites["mean_distance_m"] <= 3000.0).all()
    assert road.years["unserved_after"].iloc[0] < road.years["unserved_before"].iloc[0]


def test_far_apart_villages_get_their_schools_from_one_allocation(monkeypatch):
    # town A at its school; villages 10 km east and 10 km west (1,800 primary pupils each, no
    # school within 3 km, more than a largest school of 1,350 each): both new schools open
    # before the next exact allocation, since neither can take the other's pupils: the first
    # allocation has the existing school, the next both sites (the drop checks need none:
    # each village is alone without its site)
    cells = gpd.GeoDataFrame(
        pd.DataFrame([{"cell_id": c, **{f"age_{a}": n for a in range(18)}, "population": 18 * n}
                      for c, n in (("A", 90.0), ("E", 300.0), ("W", 300.0))]),
        geometry=[box(X0 + x - 50, Y0 - 50, X0 + x + 50, Y0 + 50)
                  for x in (0.0, 10_000.0, -10_000.0)], crs=CRS)
    district = district_from_frames({"cells": cells, "schools": _village(50.0).schools},
                                    source="test")
    calls = []
    real = Planner._assign
    monkeypatch.setattr(Planner, "_assign",
                        lambda self, *a: calls.append(len(a[2])) or real(self, *a))
    plan = site_new_schools(district, "primary", reach_m=3000)
    assert sorted(plan.sites["site_id"]) == ["cell-E", "cell-W"]
    assert (plan.lower_bound, plan.gap) == (2, 0.0)
    assert plan.years["unserved_after"].iloc[0] == 2 * (1800 - 1350)  # one site per village
    assert calls[:2] == [1, 3], calls  # schools in each allocation
