"""The shipped costed-plan demo (scenarios/demo-plan.toml, issue 21): it is the demo baseline plus
``[plan]``, and its junior plan is the README's row (one new school at X18, 30 classes, 1,500
seats, 54.00 million yuan, started 2026, open 2029), proven optimal. Junior plan only (primary
and junior simulated, as junior follows the primary cohorts; catchment method only); the whole
scenario is what ``schoolmap run scenarios/demo-plan.toml`` runs (≈ 35 s)."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from schoolmap.run.scenario import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[1]
PLAN_TOML = ROOT / "scenarios" / "demo-plan.toml"


def test_demo_plan_is_the_demo_plus_a_plan_table():
    base = tomllib.loads((ROOT / "scenarios" / "demo.toml").read_text(encoding="utf-8"))
    plan = tomllib.loads(PLAN_TOML.read_text(encoding="utf-8"))
    assert "plan" in plan and "plan" not in base
    for key in set(base) - {"name", "description", "output"}:
        assert plan[key] == base[key], key


def test_demo_plan_junior_matches_the_readme():
    sc = load_scenario(PLAN_TOML)
    assert sc.plan is not None and sc.plan.lead_years_new == 3
    # junior demand follows the primary cohorts (grade progression), so primary stays in
    sc = dataclasses.replace(sc, levels=("primary", "junior"), methods=("catchment",),
                             plan=dataclasses.replace(sc.plan, levels=("junior",)))
    result = run_scenario(sc)
    p = result.plans["junior"]
    assert p.gap <= 1e-9 and p.lower_bound_yuan <= p.cost_yuan * (1 + 1e-9)
    plan = p.projects  # the rows of plan.csv (tests/test_plan_run.py checks the file)
    assert len(plan) == 1
    row = plan.iloc[0]
    assert (row["school_id"], row["action"], row["classes"], row["seats"]) == (
        "X18", "new_school", 30, 1500)
    assert row["cost_yuan"] == pytest.approx(54.0e6)
    assert (row["start_year"], row["open_year"]) == (2026, 2029)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| junior | P1 | X18 新城A-17地块 | new school | 30 | 1,500 | 54.00 |" in readme
