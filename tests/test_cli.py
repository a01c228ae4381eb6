"""The command line, including the README's demo command on the embedded demo district."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from schoolmap.cli import main

from .conftest import DEMO_GPKG, DEMO_SCENARIO, ROOT

# sha256 of the demo's tables, recorded before the package was restructured into rooms
# (issue 13): the move must not change a byte of them. Changed on purpose since:
# forecast_methods.csv (the run's grade progression became the backtest's recommended method);
# every CSV (issue 18: UTF-8 with BOM, the rows unchanged) and summary.json (results.xlsx
# listed).
# summary.json (its list of files names stages.json, the run's time and memory per stage).
# every CSV (issue 18: whole students by the largest-remainder rule, totals kept; seats
# without decimals; results.gpkg keeps the exact values).
# schools.csv, forecast_schools.csv, siting_years.csv (whole students are rounded from values
# taken to a millionth of a student: 616.4999999999 and 616.5000000001 students round alike;
# nine school rows and one siting year moved by one student where float noise had decided).
# schools.csv (the exact engine's levels finer where cells crowd: another optimal dual, the
# seat prices of eight kindergartens by 0.7-17 m; students, objectives and all else unchanged).
DEMO_TABLES_SHA256 = {
    "district.csv": "be7ff31f1a7c7403ec8e3ed7ac9661ee0b682303a1ce22f4e4c1b525b2d8c1e9",
    "forecast.csv": "f0ae693c388a1e3ef7a07910d3320bce3add0a602a9e99b19b2e55d7734f4d5f",
    "forecast_ensemble.csv": "66983bb97d8bccb8bb5d38433e7c94facd7c4c9ea3a7b9d3a5f6c146b50d017b",
    "forecast_methods.csv": "d62897443b98e77e48616c1884d1f3ffdeab135949878f5b383745fe32102029",
    "forecast_schools.csv": "b3ed6d166845aa089521aa4fc6efdd479ed7448ce6f15e8aebfa7014f3dd5eb5",
    "new_sites.csv": "10aed5460d3bd79ee93602b52656b74c63056b7ca9457c318008722f76c6ed8c",
    "proposed_catchments.csv": "f21da5448b21ae6f2635f3998e2db1da647204dd7121d26d30d40a5c8ae399fb",
    "schools.csv": "1155f3b72fa041e76cca2a6d938f72ea17706ac5bf7a1e5c720c564886e82d3e",
    "siting_years.csv": "894dd9fd904225671f0abc9a678213c7af6e9f671132c826fac0ee9ed37ee558",
    "summary.json": "d432c8da1251ab982d8bcdd543604d3ab840a7084027fab89d2dae4a498b07dd",
    "zones.csv": "70745080fbb529aac0c883ebc6454bc30fa38edd8527c06d764b2713ee892fda",
}


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
    # piped, the steps come as plain timestamped lines (no live display to see)
    steps = re.findall(r"^\d\d:\d\d:\d\d \+\s*\d+\.\d s  \S+: (.+)$", proc.stdout, re.M)
    assert len(steps) >= 5 and "writing results" in steps
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
    # every table byte-identical to the recorded run (same relative paths as the README command)
    tables = sorted([p.name for p in out.iterdir() if p.suffix == ".csv"] + ["summary.json"])
    assert tables == sorted(DEMO_TABLES_SHA256)
    digests = {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in tables}
    assert digests == DEMO_TABLES_SHA256


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


def test_chinese_run_prints_its_notes_in_chinese(town_gpkg, capsys):
    """A zh run's notes on the command line: the ``level/method:`` prefix and the sentence in
    Chinese (the one table, ``i18n.note_text``); an English run keeps them English."""
    path = town_gpkg.parent / "town.toml"
    path.write_text('name = "town"\ndistrict = "town.gpkg"\nbase_year = 2026\n'
                    'levels = ["kindergarten", "primary"]\nmethods = ["catchment", "nearest"]\n'
                    'output = "out/town"\nlang = "zh"\n[map]\ntiles = "none"\n',
                    encoding="utf-8")
    assert main(["run", str(path)]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("说明")]
    assert notes == ["说明: 幼儿园/划片: 区内无幼儿园学区: 划片按最近的学校计 (幼儿园通常不划片)"]
    assert main(["run", str(path), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert ("note: kindergarten/catchment: no kindergarten zones in the district: catchment = "
            "nearest school (kindergartens are usually not zoned)") in out.replace("\n", " ")


def test_readme_first_screen_holds_the_two_commands():
    """The README's first screen (its first 24 lines) holds the two commands a new user
    needs: run the demo, run the tests — each a complete shell line."""
    screen = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:24]
    commands = [line for line in screen if line.startswith("python3 -m venv .venv && ")]
    assert any(line.endswith(".venv/bin/schoolmap run scenarios/demo.toml") for line in commands)
    assert any(line.endswith(".venv/bin/python -m pytest") for line in commands)
