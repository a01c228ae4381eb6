"""The ``[plan]`` table through the scenario runner: plan.csv, resources.csv, summary blocks and
the report section of a small town; off unless the table is there."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from schoolmap.errors import ValidationError
from schoolmap.io.files import write_gpkg
from schoolmap.run.outputs import write_results
from schoolmap.run.scenario import load_scenario, run_scenario
from schoolmap.testing import tiny_town_layers


def _scenario(tmp_path, extra: str = ""):
    layers = tiny_town_layers()
    cells = layers["cells"]
    for a in range(18):  # a growing town: C2 doubles its children, so seats run short
        cells[f"age_{a}"] = cells[f"age_{a}"] * 3
    write_gpkg(layers, tmp_path / "town.gpkg")
    path = tmp_path / "plan.toml"
    path.write_text('district = "town.gpkg"\nbase_year = 2026\nhorizon = 4\nlang = "en"\n'
                    'levels = ["primary", "junior"]\nmethods = ["catchment", "nearest"]\n'
                    f'output = "out"\n{extra}', encoding="utf-8")
    return load_scenario(path)


def test_plan_writes_projects_resources_summary_and_report(tmp_path):
    sc = _scenario(tmp_path, "[plan]\nlead_years_expand = 0\nlead_years_new = 1\n"
                             "time_limit_s = 10\n")
    assert sc.plan is not None and sc.plan.lead_years_expand == 0
    result = run_scenario(sc)
    assert set(result.plans) == {"primary", "junior"}
    folder = write_results(result, tmp_path / "out")
    plan = pd.read_csv(folder / "plan.csv")
    projects = pd.concat([p.projects for p in result.plans.values()], ignore_index=True)
    assert len(plan) == len(projects) and len(plan) > 0  # seats run short: something is built
    assert list(plan.columns[:5]) == ["level", "project", "school_id", "name", "action"]
    assert plan["cost_yuan"].sum() == pytest.approx(projects["cost_yuan"].sum(), rel=1e-6)
    resources = pd.read_csv(folder / "resources.csv")
    assert set(resources["level"]) == {"primary", "junior"}
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert "plan.csv" in summary["files"] and "resources.csv" in summary["files"]
    for level, p in result.plans.items():
        block = summary["plan"][level]
        assert block["projects"] == len(p.projects)
        assert block["lower_bound_yuan"] <= block["cost_yuan"] + 1e-6
        # district totals are the sum over schools
        last = resources[(resources["level"] == level)
                         & (resources["year"] == resources["year"].max())]
        assert summary["resources"][level]["funds_yuan"] == pytest.approx(
            last["funds_yuan"].sum(), rel=1e-6)
    assert "cv_threshold" in summary["balance"]["primary"]
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="plan"' in page and 'class="plan-projects"' in page
    assert 'class="balance"' in page and "Construction spending by year" in page
    shown = (folder / "map.html").read_text(encoding="utf-8")  # the balance layer per level
    assert shown.count("balance (staff posts per 100 students)") >= 2


def test_no_plan_table_no_plan_outputs(tmp_path):
    result = run_scenario(_scenario(tmp_path))
    assert result.plans == {} and result.scenario.plan is None
    folder = write_results(result, tmp_path / "out")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert "plan" not in summary and "balance" not in summary
    assert "plan" not in summary["scenario"] and "plan.csv" not in summary["files"]
    assert not (folder / "plan.csv").exists()


def test_bad_plan_table_is_named(tmp_path):
    with pytest.raises(ValidationError, match="unknown key 'costs'"):
        _scenario(tmp_path, "[plan]\ncosts = 3\n")
