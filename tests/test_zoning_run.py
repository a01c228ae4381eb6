"""The ``[zoning]`` table through the scenario runner: designed zones in results.gpkg and
zoning.csv, cells' designed zone, the summary block, the map layer and the report section of
a small town; off unless the table is there."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest

from schoolmap.errors import ValidationError
from schoolmap.io.files import write_gpkg
from schoolmap.run.outputs import write_results
from schoolmap.run.scenario import load_scenario, run_scenario
from schoolmap.run.zoning import ZONING_COLUMNS
from schoolmap.testing import tiny_town_layers


def _scenario(tmp_path, extra: str = "", lang: str = "en"):
    write_gpkg(tiny_town_layers(), tmp_path / "town.gpkg")
    path = tmp_path / "zoning.toml"
    path.write_text('district = "town.gpkg"\nbase_year = 2026\nhorizon = 0\n'
                    f'lang = "{lang}"\nlevels = ["primary", "junior"]\n'
                    'methods = ["catchment", "optimal"]\noutput = "out"\n[map]\ntiles = "none"\n'
                    f'{extra}', encoding="utf-8")
    return load_scenario(path)


def test_zoning_writes_layers_table_summary_map_and_report(tmp_path):
    sc = _scenario(tmp_path, "[zoning]\nlevels = [\"primary\", \"junior\"]\nmove_weight = 300\n"
                             "tradeoff = [0, 300, 3000]\n")
    assert sc.zoning is not None and sc.zoning.move_weight == 300
    result = run_scenario(sc)
    assert set(result.designs) == {"primary", "junior"}
    folder = write_results(result, tmp_path / "out")
    table = pd.read_csv(folder / "zoning.csv")
    assert tuple(table.columns) == ZONING_COLUMNS
    for level, design in result.designs.items():
        rows = table[table["level"] == level]
        assert len(rows) == len(design.zones)
        assert (rows["pieces"] == 1).all()
        assert (rows["students"] <= rows["seats"] + 1e-6).all()
        assert rows["students"].sum() == pytest.approx(design.zones["students"].sum(), rel=1e-6)
    zones = gpd.read_file(folder / "results.gpkg", layer="designed_zones")
    assert len(zones) == len(table) and zones.geometry.notna().all()
    cells = gpd.read_file(folder / "results.gpkg", layer="cells")
    for level, design in result.designs.items():
        assert cells[f"designed_{level}"].tolist() == design.zone_by_cell.tolist()
        assert cells[f"changed_{level}"].astype(bool).tolist() == \
            design.changed_by_cell.tolist()
    changed = gpd.read_file(folder / "results.gpkg", layer="changed_areas")
    assert list(changed["level"]) == ["primary", "junior"]
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert "zoning.csv" in summary["files"] and summary["scenario"]["zoning"]["move_weight"] == 300
    block = summary["zoning"]["primary"]
    assert block["zones_several_pieces"] == 0 and block["zones_over_capacity"] == 0
    assert block["travel_bound_student_m"] <= block["travel_student_m"] + 1e-6
    assert "official" in block and "seconds" not in block
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="zoning"' in page and 'class="zoning-before-after"' in page
    assert "Designed catchments" in (folder / "map.html").read_text(encoding="utf-8")
    curve = pd.read_csv(folder / "zoning_tradeoff.csv")
    assert len(curve) == 6 and list(curve["move_weight"][:3]) == [0, 300, 3000]
    for level, rows in curve.groupby("level"):
        # a heavier move weight never moves more students than the lightest one
        assert rows["students_moved"].iloc[-1] <= rows["students_moved"].iloc[0] + 1e-6
        assert (rows["travel_gap"] >= 0).all()  # the bound is proven
        assert rows["students_moved"].iloc[1] == pytest.approx(
            summary["zoning"][level]["students_moved"])
    assert len(summary["zoning"]["primary"]["tradeoff"]) == 3
    assert 'class="zoning-tradeoff"' in page and "Travel above the proven bound" in page
    # the bounds beside the design: the fewest students that must move, the least travel, the
    # gap; the curve with the gap at its number of moves
    for words in ("Proven lower bound", "Fewest that must move", "Travel (student-km)",
                  "Above the bound at its moves"):
        assert words in page, words
    assert f"{block['students_moved_bound']:,.0f}" in page
    assert "<img" in page.split('class="zoning-tradeoff"')[1]  # the chart follows the table


def test_zoning_is_deterministic_and_chinese(tmp_path):
    sc = _scenario(tmp_path, "[zoning]\n", lang="zh")
    a = write_results(run_scenario(sc), tmp_path / "a")
    b = write_results(run_scenario(sc), tmp_path / "b")
    for name in ("zoning.csv", "summary.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    page = (a / "report.html").read_text(encoding="utf-8")
    assert "划片" in page and "可证下界" in page
    assert "no contiguous zone" not in page  # the design's notes in the run's language too


def test_no_zoning_table_no_zoning_outputs(tmp_path):
    result = run_scenario(_scenario(tmp_path))
    assert result.designs == {} and result.scenario.zoning is None
    folder = write_results(result, tmp_path / "out")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert "zoning" not in summary and "zoning" not in summary["scenario"]
    assert not (folder / "zoning.csv").exists()


def test_bad_zoning_table_is_named(tmp_path):
    with pytest.raises(ValidationError, match="unknown key 'weight'"):
        _scenario(tmp_path, "[zoning]\nweight = 3\n")
    with pytest.raises(ValidationError, match=r"\[zoning\] levels"):
        _scenario(tmp_path, "[zoning]\nlevels = [\"kindergarten\"]\n")
    with pytest.raises(ValidationError, match="move_weight"):
        _scenario(tmp_path, "[zoning]\nmove_weight = true\n")
    with pytest.raises(ValidationError, match="tradeoff must be a list"):
        _scenario(tmp_path, "[zoning]\ntradeoff = [-1]\n")
    with pytest.raises(ValidationError, match="lns_passes must be a whole number"):
        _scenario(tmp_path, "[zoning]\nlns_passes = 1.5\n")


def test_demo_zoning_scenario_loads():
    from pathlib import Path

    sc = load_scenario(Path(__file__).parents[1] / "scenarios" / "demo-zoning.toml")
    assert sc.zoning is not None and sc.zoning.design_levels(sc.levels) == ("primary", "junior")
    assert sc.zoning.tradeoff == (0.0, 300.0, 1500.0, 3000.0, 10000.0)


def test_zoning_years_hold_every_forecast_year_within_seats(tmp_path):
    """``years = 2`` with a 2-year forecast: each zone's peak over 2026–2028 fits its seats;
    without a forecast (horizon 0) a note says the design holds for the base year."""
    sc = _scenario(tmp_path, "[zoning]\nlevels = [\"primary\"]\nyears = 2\n")
    path = sc.source
    path.write_text(path.read_text(encoding="utf-8").replace("horizon = 0", "horizon = 2"),
                    encoding="utf-8")
    result = run_scenario(load_scenario(path))
    assert result.forecast is not None
    design = result.designs["primary"].design
    peak = design.peak_students_by_zone
    assert peak is not None and (peak <= design.seats_by_zone + 1e-6).all()
    assert (peak >= design.students_by_zone - 1e-6).all()
    assert any("primary/zoning: zones hold within seats in every year 2026–2028" in n
               for n in result.notes)
    assert result.designs["primary"].summary()["peak_max_utilisation"] <= 1.0 + 1e-9
    base = run_scenario(sc)
    assert base.designs["primary"].design.peak_students_by_zone is None
    assert any("years = 2 not applied" in n for n in base.notes)
