"""The ``[travel]`` table through the scenario runner: tiny town with a road layer, walk mode."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from schoolmap.errors import ValidationError
from schoolmap.i18n import REPORT_TEXT
from schoolmap.io.files import write_gpkg
from schoolmap.run.outputs import write_results
from schoolmap.run.scenario import load_scenario, run_scenario
from schoolmap.testing import CRS, X0, Y0, tiny_town_layers


def _roads() -> gpd.GeoDataFrame:
    """A street along the cells (y = 100, 100 m pieces) with a lane up to every school row."""
    lines = [shapely.LineString([(X0 + x, Y0 + 100), (X0 + x + 100, Y0 + 100)])
             for x in range(0, 1200, 100)]
    lines += [shapely.LineString([(X0 + x, Y0 + 100), (X0 + x, Y0 + 150)])
              for x in (100, 600, 1100)]
    return gpd.GeoDataFrame(geometry=lines, crs=CRS)


def _scenario(tmp_path, travel: str,
              keys: str = 'horizon = 2\nmethods = ["catchment", "nearest", "optimal"]\n'):
    """Tiny town with :func:`_roads`, its scenario's top-level ``keys`` and then ``travel``
    (tables)."""
    layers = tiny_town_layers()
    layers["roads"] = _roads()
    write_gpkg(layers, tmp_path / "town.gpkg")
    path = tmp_path / "walk.toml"
    path.write_text(f'district = "town.gpkg"\nbase_year = 2026\n{keys}lang = "en"\n'
                    f'output = "out"\n{travel}', encoding="utf-8")
    return load_scenario(path)


def test_walk_mode_runs_by_road_and_says_so(tmp_path):
    sc = _scenario(tmp_path, '[travel]\nmode = "walk"\nmax_connector_m = 250\n')
    assert sc.travel.mode == "walk" and sc.travel.max_connector_m == 250.0
    result = run_scenario(sc)
    straight = run_scenario(_scenario(tmp_path, ""))
    for level in sc.levels:
        for method in ("nearest", "optimal"):
            road, line = result.allocations[(level, method)], straight.allocations[(level, method)]
            assert road.assigned.sum() + road.unassigned_by_cell.sum() == pytest.approx(
                road.demand_by_cell.sum())
            # a trip by road is never shorter than the straight line
            assert (road.distance_m * road.students).sum() >= (
                line.distance_m * line.students).sum() - 1e-6
        assert result.allocations[(level, "optimal")].certificate["optimal"]
        assert result.allocations[(level, "optimal")].certificate["travel"] == "walk"
    # primary nearest: cell C1 (x 50) walks 50 m along the street + 50 m up to P1 + connector
    p = result.allocations[("primary", "nearest")]
    k = int(np.flatnonzero(p.cell == 0)[0])
    assert p.distance_m[k] > np.hypot(50.0, 100.0)
    folder = write_results(result, tmp_path / "out")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    line = REPORT_TEXT["travel_road"]["en"].format(what="walking", mode="walk", conn="250")
    assert summary["travel"]["mode"] == "walk" and summary["travel"]["line"] == line
    assert summary["scenario"]["travel"]["mode"] == "walk"
    assert line in (folder / "report.html").read_text(encoding="utf-8")


def test_euclidean_is_the_default_and_leaves_summary_alone(tmp_path):
    result = run_scenario(_scenario(tmp_path, ""))
    folder = write_results(result, tmp_path / "out")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert "travel" not in summary and "travel" not in summary["scenario"]
    assert REPORT_TEXT["travel_euclidean"]["en"] in (folder / "report.html").read_text(
        encoding="utf-8")


def test_bad_travel_table_is_named(tmp_path):
    with pytest.raises(ValidationError) as exc:
        _scenario(tmp_path, '[travel]\nmode = "bike"\nwalk_kmh = 0\nspeed = 3\n')
    text = str(exc.value)
    assert "mode must be one of" in text and "walk_kmh" in text and "unknown key 'speed'" in text


def test_siting_reaches_by_road_in_a_walk_scenario(tmp_path, monkeypatch):
    """[siting] in a walk scenario measures new schools' reach along the roads: the run hands
    the scenario's travel and the district's road graph to site_new_schools (which runs)."""
    import schoolmap.run.scenario as runner
    seen = []
    real = runner.site_new_schools

    def recording(*args, **kwargs):
        seen.append(kwargs.get("travel"))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "site_new_schools", recording)
    sc = _scenario(tmp_path, '[travel]\nmode = "walk"\n\n[siting]\nlevels = ["primary"]\n')
    result = run_scenario(sc)
    assert seen and all(t is not None and t.mode == "walk" for t in seen)
    assert "primary" in result.siting
