"""The command line, including the README's demo command on the embedded demo district."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from schoolmap.cli import main

from .conftest import DEMO_GPKG, DEMO_SCENARIO


def test_help_is_useful(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "run" in text and "validate" in text and "学位缺口" in text
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "--out" in text and "results.gpkg" in text


def test_validate_reports_ok_and_problems(town_gpkg, town_layers, tmp_path, capsys):
    assert main(["validate", str(town_gpkg)]) == 0
    assert "OK — 5 cells, 4 schools, 3 zones" in capsys.readouterr().out
    from schoolmap.outputs import write_gpkg

    town_layers["schools"]["seats"] = [270.0, 0.0, 150.0, 90.0]
    bad = tmp_path / "bad.gpkg"
    write_gpkg(town_layers, bad)
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.gpkg:schools: 'seats' must be > 0" in err and "Traceback" not in err


def test_norms_prints_json(capsys):
    assert main(["norms"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["grade_system"] == "6+3"


def test_run_error_is_clear(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "no such scenario file" in capsys.readouterr().err


def test_readme_demo_command(tmp_path):
    """`schoolmap run scenarios/demo.toml` as in the README, into a temp folder."""
    work = tmp_path / "repo"
    (work / "scenarios").mkdir(parents=True)
    (work / "data" / "geo").mkdir(parents=True)
    shutil.copy(DEMO_SCENARIO, work / "scenarios" / "demo.toml")
    shutil.copy(DEMO_GPKG, work / "data" / "geo" / "demo.gpkg")
    exe = f"{sys.executable} -m schoolmap"
    proc = subprocess.run(f"{exe} run scenarios/demo.toml", shell=True, cwd=work,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = work / "out" / "demo"
    assert f"Results written to {out}" in proc.stdout.replace("\n", "")
    totals = pd.read_csv(out / "district.csv")
    head = totals[totals.method == "catchment"].set_index("level")
    # the demo's story: seats short in the old town, classes over 56 somewhere
    assert head.loc["primary", "shortfall_at_schools"] > 0
    assert head.loc["primary", "n_classes_56_plus"] > 0
    for row in totals.itertuples():
        assert row.assigned + row.unassigned == pytest.approx(row.demand, rel=1e-9)
    schools = pd.read_csv(out / "schools.csv")
    util = schools[schools.method == "catchment"].groupby(["level", "area_type"]).apply(
        lambda g: g.demand.sum() / g.seats.sum(), include_groups=False)
    assert util["primary", "old_town"] > 1.0  # old town over capacity
    assert util["primary", "rural"] < 0.8  # rural schools under-used


def test_compare_prints_shortfall_differences(town_gpkg, capsys):
    base = town_gpkg.parent
    text = ('district = "town.gpkg"\nbase_year = 2026\nhorizon = 8\nlevels = ["primary"]\n'
            'methods = ["catchment"]\n')
    (base / "a.toml").write_text('name = "a"\n' + text, encoding="utf-8")
    (base / "b.toml").write_text('name = "b"\n' + text + "[forecast]\nbirths_change = 0.5\n",
                                 encoding="utf-8")
    assert main(["compare", str(base / "a.toml"), str(base / "b.toml")]) == 0
    out = capsys.readouterr().out
    assert "primary 小学: a (A) vs b (B)" in out
    rows = [line for line in out.splitlines() if line.startswith("│ 20")]
    assert len(rows) == 9
    # births 50 % higher from 2027 reach primary school at age 6, in 2033
    assert rows[0].rstrip(" │").endswith("+0") and rows[6].rstrip(" │").endswith("+0")
    assert not rows[7].rstrip(" │").endswith("+0")
