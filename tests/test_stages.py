"""Time and peak memory per stage of a run (stages.json) and the stage timer itself."""

from __future__ import annotations

import json
import subprocess
import sys

from schoolmap.outputs import write_results
from schoolmap.scenario import load_scenario, run_scenario

SCENARIO = """
name = "town"
district = "town.gpkg"
base_year = 2026
horizon = 3
levels = ["primary", "junior"]
methods = ["catchment", "nearest"]
output = "out/town"
[map]
tiles = "none"
[forecast]
ensemble = 5
[siting]
reach_m = 3000
"""


_GROW = """
import json
import numpy as np
from schoolmap.run.stages import StageTimer
timer = StageTimer()
timer.start("small")
timer.start("big")  # ends "small"
block = np.ones(60 * 1024 * 1024 // 8)  # 60 MB, touched
block[::512] += 1.0
del block  # a 60 MB numpy block is its own mapping: freed, it leaves the process
timer.start("after")  # the peak mark restarts at the smaller resident size
timer.stop()
timer.stop()  # nothing runs: no second row
print(json.dumps({"rows": timer.rows, "summary": timer.summary()}))
"""


def test_timer_sees_a_stage_grow_memory():
    # in a fresh interpreter: inside a long test session the 60 MB may land on pages the
    # process already holds (freed, not returned), and then no peak rises
    done = subprocess.run([sys.executable, "-c", _GROW], capture_output=True, text=True,
                          check=True, timeout=120)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    rows = {row["stage"]: row for row in got["rows"]}
    assert list(rows) == ["small", "big", "after"]
    assert all(row["seconds"] >= 0 and row["cpu_seconds"] >= 0 for row in rows.values())
    big = rows["big"]
    assert big["peak_rss_mb"] >= big["rss_mb"] > 0
    if big["peak_scope"] == "stage":  # Linux: each stage its own peak
        assert big["peak_rss_mb"] - rows["small"]["peak_rss_mb"] > 50
        assert rows["after"]["peak_rss_mb"] < big["peak_rss_mb"]
    out = got["summary"]
    assert out["peak_rss_mb"] == max(row["peak_rss_mb"] for row in got["rows"])
    assert out["total_seconds"] >= sum(row["seconds"] for row in got["rows"]) - 1e-3



def test_every_run_writes_its_stages(town_gpkg):
    path = town_gpkg.parent / "town.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    sc = load_scenario(path)
    folder = write_results(run_scenario(sc), sc.output)
    stages = json.loads((folder / "stages.json").read_text(encoding="utf-8"))
    names = [row["stage"] for row in stages["stages"]]
    assert names == ["read district", "allocation: primary", "allocation: junior", "forecast",
                     "simulation: primary", "simulation: junior", "ensemble bands",
                     "siting: primary", "siting: junior", "write results"]
    for row in stages["stages"]:
        assert row["seconds"] >= 0 and row["peak_rss_mb"] > 0
        assert row["peak_scope"] in ("stage", "process")
    assert stages["total_seconds"] >= sum(row["seconds"] for row in stages["stages"]) - 1e-3
    # the measurements stay out of summary.json (it is byte-identical for identical inputs)
    assert "seconds" not in (folder / "summary.json").read_text(encoding="utf-8")
