"""Running scenarios end to end on the tiny town: outputs, atomic writes, determinism."""

from __future__ import annotations

import hashlib
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from schoolmap.errors import SchoolmapError, ValidationError
from schoolmap.io.files import MANIFEST
from schoolmap.outputs import OUTPUT_FILES, write_results
from schoolmap.scenario import load_scenario, run_scenario

SCENARIO = """
name = "town"
district = "town.gpkg"
base_year = 2026
levels = ["primary", "junior"]
methods = ["catchment", "nearest"]
output = "out/town"
[map]
tiles = "none"
"""


@pytest.fixture
def scenario_file(town_gpkg):
    path = town_gpkg.parent / "town.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def _digest(folder, names=("schools.csv", "zones.csv", "district.csv", "summary.json",
                           "results.gpkg", "forecast.csv", "forecast_schools.csv")):
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


def test_run_writes_every_output(scenario_file):
    sc = load_scenario(scenario_file)
    assert sc.output == scenario_file.parent / "out" / "town"
    folder = write_results(run_scenario(sc), sc.output)
    static = [f"map_{level}.png" for level in sc.levels]  # one static map per level
    assert sorted(p.name for p in folder.iterdir()) == sorted([*OUTPUT_FILES, MANIFEST, *static])
    schools = pd.read_csv(folder / "schools.csv")
    p1 = schools[(schools.school_id == "P1") & (schools.method == "catchment")].iloc[0]
    assert p1.demand == 366 and p1.shortfall == 96 and p1.n_classes_56_65 == 6
    layers = gpd.list_layers(folder / "results.gpkg")["name"].tolist()
    views = [f"schools_{level}_{m}" for level in sorted(sc.levels)  # one per level and method
             for m in sorted(sc.methods)]
    assert layers == ["schools", "zones", "cells", "proposed_catchments", *views,
                      "layer_styles"]
    cells = gpd.read_file(folder / "results.gpkg", layer="cells")
    col = cells["school_primary_catchment"]
    assert col.isna().tolist() == [False, False, False, True, False]  # C4 has no children
    assert col.dropna().tolist() == ["P1", "P1", "P2", "P1"]
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["scenario"]["norms"]["levels"][1]["class_sizes"] == [45] * 6
    short = summary["findings"]["primary"]["schools_short"]
    assert short == [{"school_id": "P1", "name": "城东小学", "shortfall": 96.0,
                      "utilisation": round(366 / 270, 6), "n_classes_56_plus": 6}]
    html = (folder / "map.html").read_text(encoding="utf-8")
    assert "城东小学" in html


def test_same_inputs_give_byte_identical_tables(scenario_file, tmp_path):
    sc = load_scenario(scenario_file)
    a = write_results(run_scenario(sc), tmp_path / "a")
    b = write_results(run_scenario(sc), tmp_path / "b")
    assert _digest(a) == _digest(b)


def test_failed_run_leaves_no_half_written_folder(scenario_file, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    sc = load_scenario(scenario_file)
    result = run_scenario(sc)
    good = write_results(result, runs / "out")
    before = _digest(good)

    def broken_map(_result, path):
        path.write_text("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_results(result, runs / "out", render_map=broken_map)
    assert _digest(good) == before  # the earlier run is untouched
    assert sorted(p.name for p in runs.iterdir()) == ["out"]  # no temp folder left
    with pytest.raises(RuntimeError):
        write_results(result, runs / "new", render_map=broken_map)
    assert not (runs / "new").exists()


def test_refuses_to_replace_a_foreign_folder(scenario_file, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.docx").write_text("precious")
    with pytest.raises(SchoolmapError, match="not a schoolmap output folder"):
        write_results(run_scenario(load_scenario(scenario_file)), tmp_path / "docs")
    assert (tmp_path / "docs" / "thesis.docx").read_text() == "precious"


def test_forecast_tables_and_birth_scenarios(town_gpkg):
    base = town_gpkg.parent
    four = SCENARIO.replace("base_year = 2026", "base_year = 2026\nhorizon = 4")
    (base / "a.toml").write_text(four.replace('name = "town"', 'name = "a"'), encoding="utf-8")
    low = four.replace('name = "town"', 'name = "b"') + (
        "[forecast]\nbirths_change = -0.2\nensemble = 50\n")
    (base / "b.toml").write_text(low, encoding="utf-8")
    ra = run_scenario(load_scenario(base / "a.toml"))
    rb = run_scenario(load_scenario(base / "b.toml"))
    folder = write_results(rb, base / "out_b")
    table = pd.read_csv(folder / "forecast.csv")
    assert table["year"].tolist() == [2026, 2027, 2028, 2029, 2030] * 2
    assert ((table.enrolled + table.unassigned - table.demand).abs() < 1e-6).all()
    # births 20 % lower reach primary only after six years: kindergarten-age ones are not in
    # the levels here, so primary and junior demand are unchanged within 4 years
    da = ra.simulations["primary"].district["demand"].to_numpy()
    db = rb.simulations["primary"].district["demand"].to_numpy()
    assert np.allclose(da, db)
    ens = pd.read_csv(folder / "forecast_ensemble.csv")
    assert set(ens.level) == {"primary", "junior"} and len(ens) == 10
    assert (ens.demand_p10 <= ens.demand_p50).all() and (ens.demand_p50 <= ens.demand_p90).all()
    # the shortfall is a monotone function of demand: its percentiles are those of demand
    for level in ("primary", "junior"):
        seats = rb.simulations[level].district["seats"].to_numpy()
        e = ens[ens.level == level]
        for q in ("p10", "p50", "p90"):
            expected = np.maximum(e[f"demand_{q}"].to_numpy() - seats, 0.0)
            assert e[f"net_shortfall_{q}"].to_numpy() == pytest.approx(expected, abs=1e-3)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["forecast"]["junior"]["peak_year"] in range(2026, 2031)
    assert summary["scenario"]["forecast"]["births_change"] == -0.2


def test_bad_forecast_settings(town_gpkg):
    path = town_gpkg.parent / "bad.toml"
    path.write_text(SCENARIO + "[forecast]\nbirth_change = -0.2\nsurvival = 2\n",
                    encoding="utf-8")
    with pytest.raises(ValidationError, match="unknown key 'birth_change'") as info:
        load_scenario(path)
    assert "survival is a share" in str(info.value)


def test_a_level_without_schools_still_writes_every_output(tmp_path):
    from schoolmap.scenario import scenario_from_dict
    from schoolmap.testing import tiny_town

    sc = scenario_from_dict({"district": "x", "base_year": 2026, "horizon": 0,
                             "levels": ["senior"], "methods": ["catchment", "optimal"]})
    result = run_scenario(sc, tiny_town())
    assert len(result.schools) == 0 and "shortfall" in result.schools.columns
    totals = result.totals.set_index("method")
    # nobody has a seat: every senior student is reported unassigned, none dropped
    assert totals.loc["optimal", "unassigned"] == pytest.approx(totals.loc["optimal", "demand"])
    folder = write_results(result, tmp_path / "out")
    for name in ("summary.json", "map.html", "report.html", "schools.csv"):
        assert (folder / name).is_file()
