"""Identical inputs give byte-identical map.html and report.html (issue 19): folium's random
element ids are numbered in order of appearance."""

from __future__ import annotations

import re

from schoolmap.outputs import write_results
from schoolmap.scenario import load_scenario, run_scenario

SCENARIO = """
name = "town"
district = "town.gpkg"
base_year = 2026
horizon = 2
levels = ["primary", "junior"]
methods = ["catchment", "nearest"]
output = "out/town"
[map]
tiles = "none"
assignment_lines = ["P1"]
"""


def test_two_runs_give_byte_identical_html(town_gpkg, tmp_path):
    path = town_gpkg.parent / "town.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    sc = load_scenario(path)
    a = write_results(run_scenario(sc), tmp_path / "a")
    b = write_results(run_scenario(sc), tmp_path / "b")
    for name in ("map.html", "report.html"):
        first, second = (a / name).read_bytes(), (b / name).read_bytes()
        assert first == second, name
        text = first.decode("utf-8")
        assert not re.search(r"_[0-9a-f]{32}(?![0-9a-f])", text)  # no random id left
        assert "id000000000000000000000000000001" in text  # the map's own id, numbered
