"""Overlapping catchment zones (学区交叉, issue 19): found with their area and the students living
there, and allocated by the documented rule (the first zone in the layer's order)."""

from __future__ import annotations

import pandas as pd
from shapely.geometry import box

from schoolmap.allocation import allocate
from schoolmap.allocation.overlaps import overlap_notes, zone_overlaps
from schoolmap.demand.cells import demand_by_cell_grade
from schoolmap.io.district import district_from_frames
from schoolmap.norms import default_norms
from schoolmap.testing import tiny_town_layers


def _overlapping_town(zb_first: bool = False):
    layers = tiny_town_layers()
    zones = layers["zones"]
    zb = int((zones["zone_id"] == "ZB").to_numpy().nonzero()[0][0])
    geoms = list(zones.geometry.array)
    geoms[zb] = box(500500, 3499900, 501300, 3500300)  # ZB now reaches 300 m into ZA
    zones = zones.set_geometry(geoms, crs=zones.crs)
    if zb_first:
        zones = pd.concat([zones.iloc[[zb]], zones.drop(index=zb)], ignore_index=True)
    layers["zones"] = zones
    return district_from_frames(layers)


def _school_of_cell(alloc, cell: int) -> int:
    schools = set(alloc.school[alloc.cell == cell].tolist())
    assert len(schools) == 1
    return schools.pop()


def test_overlap_found_with_area_and_students():
    district = _overlapping_town()
    table = zone_overlaps(district)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["level"], row["zone_id"], row["other_zone_id"]) == ("primary", "ZA", "ZB")
    assert row["area_m2"] == 300 * 400
    assert row["cells"] == 1  # the cell at x 500600–500700
    students = demand_by_cell_grade(district.cells, default_norms(), "primary").sum(axis=1)
    assert row["students"] == students[4] > 0
    assert row["assigned_to"] == "ZA"
    (note,) = overlap_notes(table)
    assert "primary zones ZA and ZB overlap by 120,000 m² (1 cells" in note
    assert "allocation gives them to ZA (first in the zones layer)" in note


def test_allocation_gives_the_overlap_to_the_first_zone():
    alloc = allocate(_overlapping_town(), "primary", "catchment")
    assert _school_of_cell(alloc, 4) == _school_of_cell(alloc, 0)  # cell 0: only in ZA
    alloc = allocate(_overlapping_town(zb_first=True), "primary", "catchment")
    assert _school_of_cell(alloc, 4) == _school_of_cell(alloc, 2)  # cell 2: only in ZB
    assert zone_overlaps(_overlapping_town(zb_first=True)).iloc[0]["assigned_to"] == "ZB"


def test_no_overlap_in_the_tiny_town():
    assert zone_overlaps(district_from_frames(tiny_town_layers())).empty


def test_validate_and_run_report_the_overlap(tmp_path, capsys):
    from schoolmap.io.files import write_gpkg
    from schoolmap.run.cli import main

    district = _overlapping_town()
    layers = {"cells": district.cells, "schools": district.schools, "zones": district.zones}
    path = tmp_path / "town.gpkg"
    write_gpkg(layers, path)
    assert main(["validate", str(path)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "note: primary zones ZA and ZB overlap by 120,000 m²" in text
