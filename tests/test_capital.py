"""Costed capital plan: the proven lower bound ≤ the brute-forced best ≤ the plan's cost on toys;
budget, lead time and land respected; the [plan] table validated."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from schoolmap.errors import ValidationError
from schoolmap.planning.capital import CapitalSettings, plan_capital, solve_capital
from schoolmap.testing import tiny_town

TW, UC = 300.0, 20_000.0  # travel weight (yuan per student-km), unseated cost (yuan a year)


def _toy(seed):
    rng = np.random.default_rng(seed)
    years = np.array([2026, 2027, 2028])
    n_nodes, n_fac = 3, 3  # facilities 0, 1: schools that may expand; 2: a new site
    demand = rng.uniform(50, 200, (n_nodes, 3)).round()
    dist = rng.uniform(200, 4000, (n_nodes, n_fac)).round()
    node, fac = (a.ravel() for a in np.meshgrid(np.arange(n_nodes), np.arange(n_fac),
                                                 indexing="ij"))
    seats = np.array([[120.0] * 3, [90.0] * 3, [0.0] * 3])
    unit_seats = np.array([45.0, 45.0, 270.0])
    max_units = np.array([2, 1, 1])
    unit_cost = np.array([1.4e6, 1.1e6, 7.5e6]) * rng.uniform(0.8, 1.2, 3)
    lead = np.array([1, 1, 1])
    return years, demand, (node, fac, dist.ravel()), seats, unit_seats, max_units, unit_cost, lead


def _flows_cost(demand, pairs, cap):
    """Least travel + unseated cost of one year's students over seats ``cap`` (an LP)."""
    node, fac, dist = pairs
    n_nodes, n_p = demand.shape[0], len(node)
    c = np.concatenate([TW * dist / 1000.0, np.full(n_nodes, UC)])
    a_eq = np.zeros((n_nodes, n_p + n_nodes))
    a_eq[node, np.arange(n_p)] = 1.0
    a_eq[np.arange(n_nodes), n_p + np.arange(n_nodes)] = 1.0
    a_ub = np.zeros((len(cap), n_p + n_nodes))
    a_ub[fac, np.arange(n_p)] = 1.0
    return linprog(c, A_ub=a_ub, b_ub=cap, A_eq=a_eq, b_eq=demand, method="highs").fun


def _brute_force(years, demand, pairs, seats, unit_seats, max_units, unit_cost, lead, budget):
    """Every build schedule (units per facility and open year), each year's flows as an LP."""
    n_fac, n_years = seats.shape
    open_years = [[t for t in range(n_years) if years[t] - lead[f] >= years[0]]
                  for f in range(n_fac)]
    per_fac = []
    for f in range(n_fac):
        opts = [s for s in itertools.product(range(max_units[f] + 1), repeat=len(open_years[f]))
                if sum(s) <= max_units[f]]
        per_fac.append(opts)
    best = np.inf
    for sched in itertools.product(*per_fac):
        units = np.zeros((n_fac, n_years))
        for f, s in enumerate(sched):
            units[f, open_years[f]] = s
        spend = np.zeros(n_years)
        for f, t in zip(*np.nonzero(units), strict=True):
            for y in range(years[t] - lead[f], years[t]):
                spend[y - years[0]] += units[f, t] * unit_cost[f] / lead[f]
        if budget is not None and (spend > budget + 1e-6).any():
            continue
        cap = seats + np.cumsum(units * unit_seats[:, None], axis=1)
        cost = float(unit_cost @ units.sum(axis=1))
        cost += sum(_flows_cost(demand[:, t], pairs, cap[:, t]) for t in range(n_years))
        best = min(best, cost)
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("budget", [None, 3.0e6])
def test_lower_bound_below_brute_force_below_cost(seed, budget):
    toy = _toy(seed)
    years = toy[0]
    b = None if budget is None else np.full(len(years), budget)
    sol = solve_capital(*toy, travel_weight=TW, unseated_cost_yuan=UC, budget_yuan=b,
                        time_limit_s=10)
    best = _brute_force(*toy, b)
    assert sol.lower_bound_yuan <= best * (1 + 1e-7) + 1e-6
    assert best <= sol.cost_yuan * (1 + 1e-7) + 1e-6
    assert sol.optimal and sol.cost_yuan == pytest.approx(best, rel=1e-6)
    if b is not None:
        assert (sol.spend_yuan <= b + 1e-6).all()
    # lead time: nothing opens in the first year (construction starts at the earliest then)
    assert sol.units[:, 0].sum() == 0
    # every student seated or counted unseated
    node = toy[2][0]
    seated = np.array([np.bincount(node, weights=sol.flows[:, t], minlength=3)
                       for t in range(3)]).T
    assert np.allclose(seated + sol.unseated, toy[1])


def test_budget_delays_a_project_and_lead_time_sets_its_start():
    years = np.arange(2025, 2031)
    demand = np.full((1, 6), 400.0)
    pairs = (np.array([0]), np.array([0]), np.array([0.0]))
    seats = np.zeros((1, 6))
    args = (years, demand, pairs, seats, np.array([400.0]), np.array([1]), np.array([9e6]),
            np.array([3]))
    free = solve_capital(*args, unseated_cost_yuan=UC)
    assert free.units[0].tolist() == [0, 0, 0, 1, 0, 0]  # needed in 2025: opens 2028, starts 2025
    assert free.spend_yuan.tolist()[:3] == [3e6, 3e6, 3e6]
    tight = solve_capital(*args, unseated_cost_yuan=UC, budget_yuan=np.full(6, 2.5e6))
    assert tight.units.sum() == 0 or (tight.spend_yuan <= 2.5e6 + 1e-6).all()
    late = solve_capital(*args, unseated_cost_yuan=UC, budget_yuan=np.array(
        [0.0, 3e6, 3e6, 3e6, 3e6, 3e6]))
    assert late.units[0].tolist() == [0, 0, 0, 0, 1, 0]  # starts 2026, opens 2029
    assert late.lower_bound_yuan <= late.cost_yuan


def test_plan_on_tiny_town_expands_within_land_and_tracks():
    town = tiny_town()
    town = type(town)(**{**town.__dict__,
                         "schools": town.schools.assign(land_m2=[30 * 45 * 22.0, 12 * 45 * 22.0,
                                                                 np.nan, np.nan])})
    n = town.n_cells  # 810 seats now
    demand = {2026: np.full(n, 1100.0 / n), 2027: np.full(n, 1400.0 / n),
              2028: np.full(n, 1400.0 / n)}
    plan = plan_capital(town, "primary", demand, settings=CapitalSettings(
        lead_years_expand=1, travel_weight=0.0, unseated_cost_yuan=50_000.0))
    p = plan.projects
    assert set(p["action"]) <= {"expand"} and len(p)
    assert set(p["school_id"]) == {"P1"}  # P2 has no land to grow on
    assert (p["classes"] % 6 == 0).all()  # whole 轨
    assert p["classes"].sum() <= 30 - 6  # P1: 6 classes now, land for 30
    assert (p["open_year"] - p["start_year"] == 1).all() and (p["start_year"] >= 2026).all()
    assert plan.lower_bound_yuan <= plan.cost_yuan * (1 + 1e-9)
    assert plan.years["spend_yuan"].sum() == pytest.approx(p["cost_yuan"].sum())
    assert p["teachers_needed"].iloc[0] == pytest.approx(p["seats"].iloc[0] / 19)
    row = ["level", "project", "school_id", "name", "action", "classes", "seats", "cost_yuan",
           "start_year", "open_year", "teachers_needed"]
    assert list(p.columns[:len(row)]) == row


@pytest.mark.parametrize(("table", "match"), [
    ({"budget": 1e8}, "unknown key 'budget'"),
    ({"budget_yuan": -1}, "budget_yuan must be yuan"),
    ({"expand_unit": "wing"}, "expand_unit must be"),
    ({"lead_years_new": 1.5}, "lead_years_new must be a whole number"),
    ({"levels": ["college"]}, "levels must be a list"),
])
def test_bad_plan_settings_are_named(table, match):
    with pytest.raises(ValidationError, match=match):
        CapitalSettings.from_table(table)


def test_plan_settings_budget_table():
    s = CapitalSettings.from_table({"budget_yuan": {"2027": 5e7}, "travel_weight": 100})
    assert s.budget_for(2027) == 5e7 and s.budget_for(2028) == np.inf
    assert s.travel_weight == 100.0
