"""Siting's independent allocations solved two at a time (issues 16/18): the same answers,
remembered in year order, progress told in year order, nothing solved when only a batch that
runs at once was asked for and no core is free, and a year starting from the seat prices of
the year before (same optimum, the same however the solves are scheduled)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import schoolmap.planning.siting.solves as solves
from schoolmap.demand import level_schools
from schoolmap.io.district import read_district
from schoolmap.norms import default_norms
from schoolmap.planning.siting.planner import _size_options
from schoolmap.planning.siting.solves import Planner, Site

DEMO = Path(__file__).resolve().parents[1] / "data" / "geo" / "demo.gpkg"


@pytest.fixture(scope="module")
def planner_parts():
    demo = read_district(DEMO)
    norms = default_norms()
    schools = level_schools(demo, norms, "primary", 2026)
    rng = np.random.default_rng(18)
    years = [2026, 2027, 2028]
    demand = {t: np.where(rng.random(demo.n_cells) < 0.3, rng.gamma(2.0, 12.0, demo.n_cells),
                          0.0) for t in years}
    return (demo.cell_xy, demand, dict.fromkeys(years, schools),
            _size_options(norms.level("primary")), years)


def _planner(parts) -> Planner:
    cell_xy, demand, existing, options, _ = parts
    planner = Planner(cell_xy, demand, existing, options, 3000.0, 0.0)
    planner.cand_xy = cell_xy[[10, 2000, 9000]]
    return planner


def test_two_at_a_time_gives_the_same_answers_in_year_order(planner_parts, monkeypatch):
    years = planner_parts[-1]
    plan = [Site(0, 1, 2026), Site(2, 0, 2027)]
    one = _planner(planner_parts)
    alone = {t: one.solve(t, plan) for t in years}
    monkeypatch.setattr(solves, "WORKERS", 2)
    monkeypatch.setattr(solves, "core_free", lambda: True)
    two = _planner(planner_parts)
    told: list[int] = []
    two.prefetch(years, plan, told.append)
    assert told == years and two.n_solves == 3 and two.missing(years, plan) == 0
    for t in years:
        a, b = alone[t], two.solve(t, plan)
        for field in ("short_cells", "short_students", "school", "students", "cost"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert two.n_solves == 3  # every later solve is remembered


def test_only_together_solves_nothing_without_a_free_core(planner_parts, monkeypatch):
    years = planner_parts[-1]
    monkeypatch.setattr(solves, "core_free", lambda: False)
    planner = _planner(planner_parts)
    planner.prefetch(years[:2], [], only_together=True)
    assert planner.n_solves == 0 and planner.missing(years[:2], []) == 2
    planner.prefetch(years[:2], [])  # asked for: solved one by one
    assert planner.n_solves == 2 and planner.missing(years[:2], []) == 0


def test_a_year_starts_from_the_year_before_with_the_same_optimum(planner_parts):
    years = planner_parts[-1]
    plan = [Site(0, 1, 2026)]
    warm = _planner(planner_parts)
    key = warm._key(years[1], plan)
    assert warm.parent(key) is None  # nothing remembered yet: a cold start
    first = warm.solve(years[0], plan)
    assert warm.parent(key) == warm._key(years[0], plan)
    start = warm._start(key, warm.parent(key))
    assert start is not None and start.shape == (len(first.seat_price),)
    assert np.all(start >= 0.0)
    b = warm.solve(years[1], plan)
    cold = _planner(planner_parts)
    c, paths, _ = cold._compute(key)  # the same allocation, from no prices
    assert float(b.cost @ b.students) == pytest.approx(float(c.cost @ c.students), rel=1e-9)
    assert float(b.short_students.sum()) == pytest.approx(float(c.short_students.sum()))
    # the parents of a batch are fixed before it is solved: the same, however it runs
    other = _planner(planner_parts)
    other.prefetch(years, plan)
    for t in years:
        x, y = warm.solve(t, plan), other.solve(t, plan)
        np.testing.assert_array_equal(x.school, y.school)
        np.testing.assert_array_equal(x.students, y.students)
