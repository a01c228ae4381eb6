"""The [admission] step through a whole run: scenarios/demo-admission.toml on the demo district
(admission.csv, admission_classes.csv, the admission_cells layer, summary.json, the report's
section in Chinese and English, the map layer), conservation of places and determinism."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from schoolmap.errors import ValidationError
from schoolmap.present.report import render_report
from schoolmap.run.admission import admission_tables
from schoolmap.run.outputs import write_results
from schoolmap.run.scenario import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "demo-admission.toml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    sc = load_scenario(SCENARIO)
    first, second = run_scenario(sc), run_scenario(sc)
    folder = write_results(first, tmp_path_factory.mktemp("adm") / "out")
    return sc, first, second, folder


def test_outputs_written_and_places_conserved(runs):
    sc, result, _, folder = runs
    assert set(result.admission) == {"primary", "junior"}
    schools = pd.read_csv(folder / "admission.csv", encoding="utf-8-sig")
    assert set(schools["level"]) == {"primary", "junior"}
    # no school ever over its entry places; every applicant placed or counted without a seat
    taken = schools["placed_from_zone"] + schools["placed_by_bureau"]
    assert (taken <= schools["entry_places"] + 1e-6).all()
    cells = gpd.read_file(folder / "results.gpkg", layer="admission_cells")
    assert len(cells) and cells.geometry.notna().all()
    for level, rows in cells.groupby("level"):
        placed = taken[schools["level"] == level].sum() + rows["no_seat"].sum()
        assert placed == pytest.approx(rows["applicants"].sum(), abs=1e-3), level
    assert cells["chance_first"].dropna().between(0, 1).all()
    classes = pd.read_csv(folder / "admission_classes.csv", encoding="utf-8-sig")
    assert classes["class"].tolist() == ["一类 户籍+房产", "二类 户籍", "三类 随迁子女"] * 2
    # better class, better odds, fewer sent outside the zone per applicant
    for _, rows in classes.groupby("level"):
        share = (rows["first_choice"] / rows["applicants"]).to_numpy()
        assert (np.diff(share) <= 1e-9).all()
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    block = summary["admission"]["primary"]
    assert block["mechanism"] == "lottery" and block["draws"] == 2000 and block["seed"] == 1
    assert block["applicants"] == int(cells[cells["level"] == "primary"]["applicants"].sum())
    assert {"admission.csv", "admission_classes.csv", "admission_quotas.csv"} <= set(
        summary["files"])
    assert summary["scenario"]["admission"]["classes"][0]["name"] == "一类 户籍+房产"
    stages = json.loads((folder / "stages.json").read_text(encoding="utf-8"))
    assert "admission" in [s["stage"] for s in stages["stages"]]


def test_same_seed_same_tables(runs):
    _, first, second, _ = runs
    a, b = admission_tables(first), admission_tables(second)
    for name in ("admission.csv", "admission_classes.csv"):
        pd.testing.assert_frame_equal(a[name], b[name])
    pd.testing.assert_frame_equal(pd.DataFrame(a["admission_cells"].drop(columns="geometry")),
                                  pd.DataFrame(b["admission_cells"].drop(columns="geometry")))


def test_report_and_map_in_both_languages(runs, tmp_path):
    sc, result, _, folder = runs
    zh = (folder / "report.html").read_text(encoding="utf-8")
    assert '<section id="admission">' in zh and "学区首选学校录取概率" in zh
    assert "由教育局统筹安置" in zh  # the run's note, in Chinese
    page = (folder / "map.html").read_text(encoding="utf-8")
    assert "\\u5b66\\u533a\\u9996\\u9009\\u5b66\\u6821\\u5f55\\u53d6\\u6982\\u7387" in page
    en = dataclasses.replace(result, scenario=dataclasses.replace(sc, lang="en"))
    render_report(en, tmp_path / "report.html")
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    section = text[text.index('<section id="admission">'):]
    section = section[:section.index("</section>")]
    assert "Chance of a place at the zone's first school" in section
    assert "入学派位" not in section  # English words only (class names are the scenario's)


def bad_scenario(tmp_path, old, new, extra=""):
    text = SCENARIO.read_text(encoding="utf-8").replace(old, new).replace(
        'district = "../data/geo/demo.gpkg"',
        f'district = "{(ROOT / "data/geo/demo.gpkg").as_posix()}"')
    path = tmp_path / "bad.toml"
    path.write_text(text + extra, encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_scenario(path)
    return str(err.value)


def test_bad_admission_table_names_file_table_and_key(tmp_path):
    # strict types first: a true/false for a number
    message = bad_scenario(tmp_path, "draws = 2000", "draws = true")
    assert "bad.toml [admission]: draws must be a number, got true" in message
    # then every problem of the table at once
    message = bad_scenario(tmp_path, 'mechanism = "lottery"', 'mechanism = "dice"',
                           'quota_schools = "H01"\n')
    for part in ("bad.toml [admission]: mechanism must be one of",
                 "bad.toml [admission]: quota_schools must be a list"):
        assert part in message, part
    # and what the scenario cannot give: a year beyond the horizon
    message = bad_scenario(tmp_path, "seed = 1\n", "seed = 1\nyear = 2030\n")
    assert "[admission]: year 2030 must be from the base year 2026 to 2026" in message
