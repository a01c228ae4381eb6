"""The ``[plan]`` step of a run: resources per school and year, balance indicators and the
costed capital plan (一校一策) of every level, from the year-by-year simulation.

:func:`run_plan` fills :attr:`ScenarioResult.plans`, ``resources`` and ``balance``;
:func:`plan_tables` and :func:`plan_summary` give ``plan.csv``, ``resources.csv`` and the
``plan`` / ``balance`` blocks of ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from schoolmap.demand import students_column
from schoolmap.planning.balance import balance_indicators
from schoolmap.planning.capital import plan_capital
from schoolmap.planning.resources import estimate_resources
from schoolmap.planning.siting import DEFAULT_REACH_M

__all__ = ["PLAN_COLUMNS", "PLAN_FILES", "plan_summary", "plan_tables", "run_plan"]

#: Files a run with ``[plan]`` writes besides the usual ones.
PLAN_FILES = ("plan.csv", "resources.csv", "plan_years.csv")

#: Columns of ``plan.csv`` (see :class:`schoolmap.planning.capital.CapitalPlan`).
PLAN_COLUMNS = ("level", "project", "school_id", "name", "action", "classes", "seats",
                "cost_yuan", "start_year", "open_year", "teachers_needed", "x", "y")


def run_plan(result: Any, say: Callable[[str], None]) -> None:
    """Resources, balance and the capital plan of every planned level (in place)."""
    sc = result.scenario
    settings = sc.plan
    if result.forecast is None or not result.simulations:
        result.notes.append("plan skipped: it needs the year-by-year forecast (horizon > 0 and "
                            "single-year ages in the cells)")
        return
    district, norms = result.district, sc.norms
    for level, sim in result.simulations.items():
        say(f"{level}: resources and balance")
        res = estimate_resources(sim, district.schools, norms)
        result.resources[level] = res
        result.balance[level] = balance_indicators(res, sim, norms, district.schools)
    levels = settings.levels or tuple(lv for lv in sc.levels
                                      if norms.level(lv).standard_classes)
    for level in levels:
        if level not in result.simulations:
            continue
        if students_column(level) in district.cells.columns:
            result.notes.append(f"{level}/plan: skipped, the cells give its students directly "
                                "(no ages to forecast)")
            continue
        norm = norms.level(level)
        rate, ages = norm.public_rate, list(norm.ages)
        demand = {int(t): result.forecast.residents[k][:, ages].sum(axis=1) * rate
                  for k, t in enumerate(result.forecast.years.tolist())}
        siting = result.siting.get(level)
        sites = siting.sites if siting is not None and siting.n_new else None
        reach = siting.reach_m if siting is not None else (
            sc.siting.reach(level) if sc.siting is not None else DEFAULT_REACH_M[level])
        say(f"{level}: capital plan")
        plan = plan_capital(district, level, demand, norms=norms, sites=sites, reach_m=reach,
                            settings=settings)
        result.plans[level] = plan
        result.notes += [f"{level}/plan: {n}" for n in plan.notes]


def plan_tables(result: Any) -> dict[str, pd.DataFrame]:
    """``plan.csv`` (one row per project), ``resources.csv`` (per level, school and year) and
    ``plan_years.csv`` (per level and year: demand, seats, unseated, spending, budget)."""
    projects = [p.projects for p in result.plans.values()]
    years = [p.years.assign(level=lv) for lv, p in result.plans.items()]
    res = [r.by_school.assign(level=lv) for lv, r in result.resources.items()]
    plan = (pd.concat(projects, ignore_index=True) if projects else
            pd.DataFrame(columns=list(PLAN_COLUMNS)))
    resources = pd.concat(res, ignore_index=True) if res else pd.DataFrame(columns=["level"])
    by_year = pd.concat(years, ignore_index=True) if years else pd.DataFrame(columns=["level"])
    return {"plan.csv": plan[list(PLAN_COLUMNS)],
            "resources.csv": resources[["level", *[c for c in resources if c != "level"]]],
            "plan_years.csv": by_year[["level", *[c for c in by_year if c != "level"]]]}


def plan_summary(result: Any) -> dict[str, Any]:
    """The ``plan`` (per level: projects, cost, lower bound, gap…) and ``balance`` (per level:
    the last year's indicators and the worst coefficient of variation) blocks."""
    return {"plan": {lv: p.summary() for lv, p in result.plans.items()},
            "balance": {lv: b.summary() for lv, b in result.balance.items()},
            "resources": {lv: r.by_year.iloc[-1].drop("year").to_dict() | {
                "year": int(r.by_year["year"].iloc[-1])}
                for lv, r in result.resources.items() if len(r.by_year)}}
