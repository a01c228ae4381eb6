"""Batches of districts × scenarios and ensembles on a real local Dask cluster."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

from schoolmap.distributed import (
    BatchTask,
    TaskResult,
    read_manifest,
    run_batch,
    run_ensemble,
    run_task,
    write_batch,
)
from schoolmap.errors import ValidationError
from schoolmap.outputs import write_gpkg
from schoolmap.testing import tiny_town_layers

distributed = pytest.importorskip("distributed")

# Dask may warn about ports, closing comms or slow event loops while workers stop or die;
# those are about the cluster, not about schoolmap's results.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:distributed"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:tornado"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SCENARIO = """\
name = "{name}"
district = "town.gpkg"
base_year = 2026
horizon = 3
levels = ["primary", "junior"]
methods = ["catchment"]
[forecast]
births_change = {change}
migration = 0.01
migration_change = {mig}
"""


def _district(path, scale: float, shift: int) -> None:
    layers = tiny_town_layers()
    cells = layers["cells"]
    for a in range(18):  # shift the age pyramid and scale it: a different district
        cells[f"age_{a}"] = (cells[f"age_{(a + shift) % 18}"] * scale).round()
    for name, layer in layers.items():  # and place it 2 km east per shift: its own outline
        layers[name] = layer.set_geometry(layer.geometry.translate(2000.0 * shift, 0.0))
    write_gpkg(layers, path)


def make_batch(d):
    """Three districts d0–d2 (and town.gpkg), scenarios base and low, manifest.toml, and a
    broken district with its manifest broken.toml, in folder ``d``."""
    for i, (scale, shift) in enumerate([(1.0, 0), (1.7, 2), (0.6, 5)]):
        _district(d / f"d{i}.gpkg", scale, shift)
    _district(d / "town.gpkg", 1.0, 0)
    for name, change, mig in (("base", 0.0, 0.0), ("low", -0.2, -0.05)):
        (d / f"{name}.toml").write_text(SCENARIO.format(name=name, change=change, mig=mig),
                                        encoding="utf-8")
    (d / "broken.gpkg").write_bytes(b"not a geopackage")
    (d / "manifest.toml").write_text(
        'name = "prov"\nscenarios = ["base.toml", "low.toml"]\ndistricts = ["d*.gpkg"]\n',
        encoding="utf-8")
    (d / "broken.toml").write_text(
        'scenarios = ["base.toml", "low.toml"]\ndistricts = "d*.gpkg"\n'
        '[[district]]\nname = "bad"\npath = "broken.gpkg"\n', encoding="utf-8")


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch")
    make_batch(d)
    return d


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def serial(batch_dir):
    return run_batch(read_manifest(batch_dir / "manifest.toml").tasks())


def test_manifest_lists_districts_times_scenarios(batch_dir):
    m = read_manifest(batch_dir / "manifest.toml")
    assert [n for n, _ in m.districts] == ["d0", "d1", "d2"]
    tasks = m.tasks()
    assert [(t.district, t.scenario.name) for t in tasks] == [
        ("d0", "base"), ("d0", "low"), ("d1", "base"), ("d1", "low"), ("d2", "base"),
        ("d2", "low")]
    assert tasks[2].scenario.district == (batch_dir / "d1.gpkg").resolve()


def test_manifest_problems_are_listed_at_once(tmp_path):
    (tmp_path / "m.toml").write_text('scenarios = ["nope.toml"]\ncolour = 1\n'
                                     'districts = "none*.gpkg"\n', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"(?s)colour.*nope.toml.*matches nothing"):
        read_manifest(tmp_path / "m.toml")


def test_batch_on_cluster_equals_serial(batch_dir, client, serial):
    assert serial.ok and serial.n_tasks == 6
    assert set(serial.forecast["year"]) == {2026, 2027, 2028, 2029}
    on_cluster = run_batch(read_manifest(batch_dir / "manifest.toml").tasks(), client)
    assert on_cluster.ok
    pd.testing.assert_frame_equal(on_cluster.totals, serial.totals)
    pd.testing.assert_frame_equal(on_cluster.forecast, serial.forecast)
    # the districts differ, and so do the scenarios' forecasts
    prim = serial.forecast[(serial.forecast["level"] == "primary")
                           & (serial.forecast["year"] == 2029)]
    assert prim["demand"].nunique() == 6


def test_failed_task_is_reported_and_others_kept(batch_dir, client, tmp_path, serial):
    manifest = read_manifest(batch_dir / "broken.toml")
    seen = []
    result = run_batch(manifest.tasks(), client, on_done=lambda t, e: seen.append((t, e)))
    assert len(seen) == 8
    assert [(f["district"], f["scenario"]) for f in result.failures] == [("bad", "base"),
                                                                          ("bad", "low")]
    pd.testing.assert_frame_equal(result.totals, serial.totals)
    folder = write_batch(result, tmp_path / "out", manifest)
    summary = json.loads((folder / "batch_summary.json").read_text(encoding="utf-8"))
    assert summary["n_failed"] == 2 and summary["n_succeeded"] == 6
    assert summary["failures"][0]["district"] == "bad"
    assert summary["failures"][0]["error"].startswith("ValidationError: district")
    worst = summary["worst_by_shortfall"][0]
    assert worst["district"] in {"d0", "d1", "d2"} and 2026 <= worst["peak_year"] <= 2029
    assert worst["peak_shortfall_at_schools"] >= worst["shortfall_at_schools"]
    table = pd.read_csv(folder / "batch_totals.csv")
    assert len(table) == 6 * 2  # districts × scenarios × levels (one method)
    assert not list(tmp_path.glob(".out.*"))  # no temporary folder left


def _slow_task(task: BatchTask) -> TaskResult:
    time.sleep(0.4)
    return run_task(task)


def _worker_killer(client):
    """(victim address, its pid, list of kills, on_done killing it once after the first result:
    by then the victim is busy with another task)."""
    victim = sorted(client.scheduler_info()["workers"])[0]
    pid = client.run(os.getpid, workers=[victim])[victim]
    killed: list[int] = []

    def kill_once(_task, _err):
        if not killed:
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    return victim, pid, killed, kill_once


def test_killed_worker_loses_no_results(batch_dir, client, serial):
    tasks = read_manifest(batch_dir / "manifest.toml").tasks() * 2
    victim, pid, killed, kill_once = _worker_killer(client)
    result = run_batch(tasks, client, on_done=kill_once, func=_slow_task)
    assert killed and result.ok and len(result.totals) == 2 * len(serial.totals)
    pd.testing.assert_frame_equal(result.totals.iloc[: len(serial.totals)], serial.totals)
    client.wait_for_workers(2, timeout=30)  # the nanny restarts the process
    assert pid not in client.run(os.getpid).values()


def test_ensemble_members_on_cluster_equal_serial(batch_dir, client):
    from schoolmap.scenario import load_scenario

    sc = load_scenario(batch_dir / "base.toml")
    here = run_ensemble(sc, 4)
    there = run_ensemble(sc, 4, client)
    pd.testing.assert_frame_equal(there.members, here.members)
    pd.testing.assert_frame_equal(there.bands, here.bands)
    assert sorted(here.members["seed"].unique()) == [0, 1, 2, 3]
    b = here.bands[here.bands["level"] == "primary"]
    assert (b["demand_p10"] <= b["demand_p50"]).all() and (
        b["demand_p50"] <= b["demand_p90"]).all()
    assert (b["members"] == 4).all()
    last = b[b["year"] == 2029].iloc[0]
    assert last["demand_p10"] < last["demand_p90"]  # members differ


def test_cli_batch_on_a_scheduler_exit_code_and_files(batch_dir, client, tmp_path, capsys):
    from schoolmap.cli import main

    address = client.scheduler.address
    code = main(["batch", str(batch_dir / "manifest.toml"), "--out", str(tmp_path / "ok"),
                 "--scheduler", address])
    out = capsys.readouterr().out
    assert code == 0 and "Results written to" in out and "dashboard" in out
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == [
        ".schoolmap-manifest.json", "batch_forecast.csv", "batch_summary.json",
        "batch_totals.csv", "province_map.html"]
    code = main(["batch", str(batch_dir / "broken.toml"), "--out", str(tmp_path / "bad"),
                 "--scheduler", address, "--quiet"])
    captured = capsys.readouterr()
    assert code == 3
    assert "district 'bad', scenario 'base'" in captured.err.replace("\n", " ")
    assert len(pd.read_csv(tmp_path / "bad" / "batch_totals.csv")) == 12


def test_cli_run_ensemble(batch_dir, client, tmp_path, capsys):
    from schoolmap.cli import main

    code = main(["run", str(batch_dir / "base.toml"), "--out", str(tmp_path / "run"),
                 "--ensemble", "3", "--scheduler", client.scheduler.address, "--quiet"])
    assert code == 0, capsys.readouterr().err
    bands = pd.read_csv(tmp_path / "run" / "forecast_ensemble.csv")
    assert {"demand_p10", "demand_p50", "demand_p90", "shortfall_at_schools_p90"} <= set(
        bands.columns)
    assert (bands["members"] == 3).all() and len(bands) == 2 * 4  # levels × years


def test_scheduler_from_environment(batch_dir, client, monkeypatch, tmp_path):
    from schoolmap.distributed import SCHEDULER_ENV, dask_client

    monkeypatch.setenv(SCHEDULER_ENV, client.scheduler.address)
    with dask_client() as c:
        assert c.scheduler.address == client.scheduler.address
        result = run_batch(read_manifest(batch_dir / "manifest.toml").tasks()[:2], c)
    assert result.ok and len(result.totals) == 4
    assert len(client.scheduler_info()["workers"]) == 2  # the shared cluster is left running


# -- the province map ---------------------------------------------------------------------------


def _map_data(page: str) -> dict:
    start = page.index("const data = ") + len("const data = ")
    return json.loads(page[start:page.index(";\nconst map = ")])


def test_province_map_outlines_colours_popups_and_worst_districts(batch_dir, serial, tmp_path):
    import shapely

    from schoolmap.distributed import PROVINCE_SHORTFALL_COLOURS, district_outline
    from schoolmap.io.district import read_district

    from .test_maps import remote_resources

    manifest = read_manifest(batch_dir / "manifest.toml")
    # every district's outline: its one junior zone (the union of its zones), in lon/lat
    assert sorted(serial.outlines) == ["d0", "d1", "d2"]
    d1 = read_district(batch_dir / "d1.gpkg")
    assert serial.outlines["d1"] == district_outline(d1)
    zone = d1.zones.to_crs("EPSG:4326").union_all()
    outline = shapely.from_wkb(serial.outlines["d1"])
    assert outline.symmetric_difference(zone).area < 1e-3 * zone.area
    folder = write_batch(serial, tmp_path / "out", manifest)
    page = (folder / "province_map.html").read_text(encoding="utf-8")
    assert remote_resources(page) == []
    data = _map_data(page)
    # one language per page, the scenarios' (zh by their grade system)
    assert [layer["name"] for layer in data["layers"]] == ["base · 学位缺口", "low · 学位缺口"]
    t = serial.totals
    # one outline per district, stored once for both scenarios' layers
    assert sorted(data["outlines"]) == ["d0", "d1", "d2"]
    assert shapely.geometry.shape(data["outlines"]["d1"]).equals_exact(outline, 1e-6)
    for layer, scenario in zip(data["layers"], ("base", "low"), strict=True):
        assert layer["districts"] == ["d0", "d1", "d2"]
        for k, district in enumerate(layer["districts"]):
            rows = t[(t["district"] == district) & (t["scenario"] == scenario)]
            short = rows["shortfall_at_schools"].sum()
            expected = 0 if short <= 0.5 else 1 + sum(short >= b for b in (100, 500, 2000))
            assert layer["fill"][k] == PROVINCE_SHORTFALL_COLOURS[expected]
            assert layer["tip"][k] == f"{district}: 学位缺口 {round(short):,}"
            primary = rows[rows["level"] == "primary"].iloc[0]
            assert (f"{round(primary.demand):,} / {round(primary.seats):,} · "
                    f"<b>{round(primary.shortfall_at_schools):,}</b>") in layer["popup"][k]
            assert "缺口最大年份" in layer["popup"][k] and "worst year" not in layer["popup"][k]
    # tiny town: P1 (270 seats) gets 366 pupils by catchment; d1 has 1.7× the children
    d1_base = t[(t["district"] == "d1") & (t["scenario"] == "base")]
    assert d1_base["shortfall_at_schools"].sum() > 100
    summary = json.loads((folder / "batch_summary.json").read_text(encoding="utf-8"))
    legend = page[page.index("schoolmap-legend"):]
    first = summary["worst_by_shortfall"][0]
    assert (f'1. {first["district"]} ({first["scenario"]}): '
            f'{round(first["shortfall_at_schools"]):,}') in legend
    large = summary["worst_by_share_classes_56_plus"][0]
    level_zh = {"primary": "小学", "junior": "初中"}[large["level"]]
    assert f'1. {large["district"]} ({large["scenario"]}, {level_zh}): ' in legend
    again = write_batch(serial, tmp_path / "again", manifest)
    assert (again / "province_map.html").read_bytes() == (folder / "province_map.html"
                                                         ).read_bytes()


def test_province_map_escapes_names_and_lists_failures(batch_dir, tmp_path):
    from schoolmap.distributed import province_map_html

    hostile = "<script>alert(1)</script>"
    (tmp_path / "m.toml").write_text(
        f'scenarios = ["{batch_dir / "base.toml"}"]\n'
        f'[[district]]\nname = "{hostile}"\npath = "{batch_dir / "d0.gpkg"}"\n'
        f'[[district]]\nname = "bad"\npath = "{batch_dir / "broken.gpkg"}"\n',
        encoding="utf-8")
    manifest = read_manifest(tmp_path / "m.toml")
    result = run_batch(manifest.tasks())
    assert [f["district"] for f in result.failures] == ["bad"]
    page = province_map_html(result, manifest)
    assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "失败: bad (base)" in page and "failed 失败" not in page
    data = _map_data(page)
    assert len(data["outlines"]) == 1  # the failed district has no outline
    assert data["layers"][0]["districts"] == ["&lt;script&gt;alert(1)&lt;/script&gt;"]


def test_district_outline_is_capped_in_points():
    import shapely
    from shapely.geometry import Point

    from schoolmap.distributed import OUTLINE_MAX_POINTS, district_outline
    from schoolmap.io.district import district_from_frames

    layers = tiny_town_layers()
    zones = layers["zones"]
    centre = Point(zones.geometry.iloc[2].centroid.x, zones.geometry.iloc[2].centroid.y)
    # a wiggly 5 km zone of 20,000 points: far above the cap even after a 50 m simplification
    angles = np.linspace(0, 2 * np.pi, 20_000, endpoint=False)
    radius = 5000 + 400 * np.sin(angles * 800)
    wiggly = shapely.Polygon(np.column_stack([centre.x + radius * np.cos(angles),
                                              centre.y + radius * np.sin(angles)]))
    layers["zones"] = zones.set_geometry([wiggly, wiggly, wiggly])
    outline = shapely.from_wkb(district_outline(district_from_frames(layers, source="w")))
    assert 4 <= shapely.get_num_coordinates(outline) <= OUTLINE_MAX_POINTS
    assert outline.geom_type == "Polygon"


# -- districts scattered from the client ---------------------------------------------------------


def _run_where_scattered(task: BatchTask) -> TaskResult:
    """run_task, after checking the district was written on the worker, not read in place."""
    assert "schoolmap-district-" in str(task.path) and task.path.is_file(), task.path
    assert task.scenario.district == task.path
    return run_task(task)


def test_scattered_districts_give_the_same_results(batch_dir, client, serial):
    (batch_dir / "scatter.toml").write_text(
        'scenarios = ["base.toml", "low.toml"]\ndistricts = ["d*.gpkg"]\nscatter = true\n',
        encoding="utf-8")
    manifest = read_manifest(batch_dir / "scatter.toml")
    assert manifest.scatter and all(t.scatter for t in manifest.tasks())
    result = run_batch(manifest.tasks(), client, func=_run_where_scattered)
    assert result.ok, result.failures
    pd.testing.assert_frame_equal(result.totals, serial.totals)
    pd.testing.assert_frame_equal(result.forecast, serial.forecast)
    assert result.outlines == serial.outlines


def test_scattered_folder_district_and_bad_scatter_value(batch_dir, tmp_path):
    from schoolmap.run.distributed import _pack, _unpacked

    folder = tmp_path / "east"
    folder.mkdir()
    for name, layer in tiny_town_layers().items():
        layer.to_file(folder / f"{name}.geojson", driver="GeoJSON")
    (tmp_path / "m.toml").write_text(
        f'scenarios = ["{batch_dir / "base.toml"}"]\n[[district]]\npath = "east"\n',
        encoding="utf-8")
    task = read_manifest(tmp_path / "m.toml").tasks()[0]
    kind, name, data = _pack(task.path)
    assert (kind, name) == ("folder", "east") and data[:2] == b"PK"
    sent = _unpacked(run_task, task, (kind, name, data))
    pd.testing.assert_frame_equal(sent.totals, run_task(task).totals)
    (tmp_path / "bad.toml").write_text(
        f'scenarios = ["{batch_dir / "base.toml"}"]\nscatter = "yes"\n'
        '[[district]]\npath = "east"\n', encoding="utf-8")
    with pytest.raises(ValidationError, match="scatter must be true or false"):
        read_manifest(tmp_path / "bad.toml")


def test_batch_summary_records_lost_workers_retries_and_attempts(batch_dir, client, tmp_path):
    manifest = read_manifest(batch_dir / "manifest.toml")
    tasks = manifest.tasks()
    victim, pid, killed, kill_once = _worker_killer(client)
    result = run_batch(tasks, client, on_done=kill_once, func=_slow_task)
    assert killed and result.ok
    faults = result.faults
    assert faults is not None and victim in faults["lost_workers"]
    assert [(a["district"], a["scenario"]) for a in faults["attempts"]] == [
        (t.district, t.scenario.name) for t in tasks]
    assert all(a["attempts"] >= 1 for a in faults["attempts"])
    assert faults["retries"] == sum(a["attempts"] - 1 for a in faults["attempts"]) >= 1
    summary = json.loads((write_batch(result, tmp_path / "out", manifest)
                          / "batch_summary.json").read_text(encoding="utf-8"))
    assert summary["faults"] == faults
    client.wait_for_workers(1, timeout=60)  # the lost worker's replacement may come later
    # a task that raises is retried once: two attempts, recorded with its failure
    broken = run_batch(read_manifest(batch_dir / "broken.toml").tasks(), client)
    bad = [a for a in broken.faults["attempts"] if a["district"] == "bad"]
    assert bad and all(a["attempts"] == 2 for a in bad)
    assert broken.faults["lost_workers"] == []
