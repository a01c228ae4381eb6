"""Durham Public Schools end to end, checked against the district's own numbers.

Also the two things the real district needed from schoolmap: students counted per planning
unit (``students_<level>`` cells columns) and the US grade system. Reads only the project's own
copy of the data (``data/geo/durham``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from schoolmap.allocation import zone_of_points
from schoolmap.allocation.optimal import assign, transport
from schoolmap.cli import main
from schoolmap.demand import demand_by_cell_grade, level_schools
from schoolmap.errors import ValidationError
from schoolmap.importers.durham import (
    HIGH_SCHOOL_SEATS,
    NEW_HIGH_SCHOOL_SEATS,
    OUTPUT_FILES,
    import_durham,
)
from schoolmap.io.district import District, district_from_frames, read_district
from schoolmap.io.files import MANIFEST
from schoolmap.norms import default_norms
from schoolmap.outputs import OUTPUT_FILES as RUN_FILES
from schoolmap.scenario import allocate, district_xy, load_scenario

ROOT = Path(__file__).resolve().parents[1]
DURHAM = ROOT / "data" / "geo" / "durham"
RAW = DURHAM / "raw"
SCENARIOS = ROOT / "scenarios"
NOTEBOOK = ROOT / "notebooks" / "durham.ipynb"
LEVELS = ("primary", "junior", "senior")
RAW_ZONES = {"primary": "ES_curr_crowd_assume_100.geojson",
             "junior": "MS_curr_crowd_assume_100.geojson",
             "senior": "HS_curr_crowd_assume_100.geojson"}
#: Resident high-school students per official zone (sum of PU count in hs_full_geo).
HS_RESIDENTS = {"Hillside": 1784, "Jordan": 2572, "Northern": 2256, "Riverside": 2513,
                "Southern": 2078}
US = default_norms().with_overrides({"grade_system": "us"})


@pytest.fixture(scope="module")
def durham() -> District:
    return read_district(DURHAM / "durham.gpkg")


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """The importer run once from the raw files into a fresh folder."""
    out = tmp_path_factory.mktemp("durham")
    return import_durham(RAW, out)


def _zones(district: District, level: str):
    z = district.zones
    return z[z["level"] == level].reset_index(drop=True)


# --------------------------------------------------------------- students counted per cell


def _counted_town(town_layers, **students):
    cells = town_layers["cells"].drop(columns=[f"age_{a}" for a in range(18)])
    for col, values in students.items():
        cells[col] = values
    return {**town_layers, "cells": cells}


def test_counted_students_replace_ages(town_layers):
    layers = _counted_town(town_layers, students_primary=[60.0, 300.0, 30.0, 0.0, 6.0])
    town = district_from_frames(layers)  # no age column: valid, because students_ are given
    grades = demand_by_cell_grade(town.cells, default_norms(), "primary")
    assert grades.shape == (5, 6)
    np.testing.assert_allclose(grades.sum(axis=1), [60, 300, 30, 0, 6])
    np.testing.assert_allclose(grades[1], [50.0] * 6)  # spread evenly over the grades
    alloc = allocate(town, "primary", "catchment")
    assert alloc.assigned.tolist() == [366.0, 30.0]  # the hand-checked tiny-town answer
    # a level with neither a count nor ages says so
    with pytest.raises(ValidationError, match="no 'students_junior' column and age column"):
        demand_by_cell_grade(town.cells, default_norms(), "junior")


def test_counted_students_win_over_ages_and_skip_rates(town_layers):
    cells = town_layers["cells"].copy()
    cells["students_primary"] = [1.0, 2.0, 3.0, 4.0, 5.0]
    norms = default_norms().with_overrides({"primary": {"private_share": 0.5}})
    got = demand_by_cell_grade(cells, norms, "primary").sum(axis=1)
    np.testing.assert_allclose(got, [1, 2, 3, 4, 5])  # no private share applied to a count
    junior = demand_by_cell_grade(cells, norms, "junior").sum(axis=1)  # ages still used
    np.testing.assert_allclose(junior, [30, 150, 15, 0, 3])


@pytest.mark.parametrize(
    ("students", "match"),
    [
        ({}, r"age column\(s\) missing .* or students counted per level in students_primary"),
        ({"students_elementary": [1.0] * 5}, "'students_elementary' names no schoolmap level; "
                                             "rename it 'students_primary'"),
        ({"students_senior": [1.0, np.nan, 2.0, 0.0, 1.0]},
         r"'students_senior' is missing or not a number \(rows 'C2'\)"),
        ({"students_junior": [1.0, -2.0, 2.0, 0.0, 1.0]}, r"'students_junior' is negative"),
    ],
)
def test_bad_student_counts_are_named(town_layers, students, match):
    with pytest.raises(ValidationError, match=match):
        district_from_frames(_counted_town(town_layers, **students))


# --------------------------------------------------------------- the importer


def test_importer_reproduces_the_committed_district(imported):
    out = imported.parent
    assert imported.name == "durham.gpkg"
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)  # no temp left over
    for name in OUTPUT_FILES:
        assert (out / name).read_bytes() == (DURHAM / name).read_bytes(), name


def test_importer_reports_what_real_data_bring(imported):
    report = json.loads((imported.parent / "durham-import.json").read_text(encoding="utf-8"))
    crs = {s["file"]: s["crs"] for s in report["sources"].values()}
    assert crs["hs_full_geo.geojson"] == "EPSG:3857"
    assert crs["enrollment_data.geojson"] == "EPSG:2264"
    assert crs["HS_curr_crowd_assume_100.geojson"] == "EPSG:4326"
    assert report["planning_crs"] == "EPSG:32119"
    notes = "\n".join(report["notes"])
    assert "6 school rows have no point" in notes and "skipped" in notes
    assert "zone 351 (Murray-Massenburg) is served by school 998" in notes
    assert "repeats PU 774's row" in notes
    fig = report["figures"]
    assert fig["n_cells"] == 851
    assert fig["n_zones"] == {"primary": 31, "junior": 8, "senior": 5}
    assert fig["students"] == {"primary": 13578.0, "junior": 6929.0, "senior": 11203.0}
    assert fig["seats"]["senior"] == sum(HIGH_SCHOOL_SEATS.values()) == 6825
    assert fig["buildout_level_shares"] == {"primary": 0.5, "junior": 0.2, "senior": 0.3}


def test_importer_refuses_an_incomplete_folder(tmp_path):
    (tmp_path / "hs_full_geo.geojson").write_text("{}")
    with pytest.raises(ValidationError, match="10 problems") as info:
        import_durham(tmp_path, tmp_path / "out")
    assert "raw file 'dps_base_2324.geojson' not found" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_cli_import_command(tmp_path, capsys):
    assert main(["import", "durham", str(RAW), str(tmp_path), "--quiet"]) == 0
    assert "District written to" in capsys.readouterr().out
    assert (tmp_path / "durham.gpkg").read_bytes() == (DURHAM / "durham.gpkg").read_bytes()
    assert main(["import", "durham", str(tmp_path / "nowhere"), str(tmp_path)]) == 2


def test_capacity_source_is_stated(durham):
    s = durham.schools
    high = s[s["level"] == "senior"]
    assert dict(zip(high["shortname"], high["seats"], strict=True)) == HIGH_SCHOOL_SEATS
    assert high["capacity_source"].str.startswith("given").all()
    others = s[s["level"] != "senior"]
    assert others["capacity_source"].str.startswith("derived").all()
    assert (s["sector"] == "public").all() and len(s) == 44


# --------------------------------------------------------------- the district's own numbers


@pytest.mark.parametrize("level", LEVELS)
def test_every_planning_unit_lies_in_exactly_one_zone(durham, level):
    zones = _zones(durham, level)
    tree = shapely.STRtree(zones.geometry.array)
    cell_idx, _ = tree.query(shapely.points(durham.cell_xy), predicate="intersects")
    assert np.bincount(cell_idx, minlength=durham.n_cells).tolist() == [1] * 851


@pytest.mark.parametrize(("level", "min_iou"), [("primary", 0.98), ("junior", 0.99),
                                                ("senior", 0.99)])
def test_dissolved_units_reproduce_the_official_zones(durham, level, min_iou):
    import geopandas as gpd

    zones = _zones(durham, level)
    official = gpd.read_file(RAW / RAW_ZONES[level]).to_crs(durham.crs)  # as published
    prefix = str(zones["zone_id"][0])[:2]  # ES, MS, HS
    official_of = {f"{prefix}{i}": g for i, g in zip(official["ID"], official.geometry,
                                                     strict=True)}
    zone_of_cell = zone_of_points(durham.cell_xy, zones)
    ious = {}
    for k, zid in enumerate(zones["zone_id"]):
        dissolved = shapely.union_all(durham.cells.geometry.array[zone_of_cell == k])
        target = official_of[zid]
        ious[zid] = shapely.area(shapely.intersection(dissolved, target)) / shapely.area(
            shapely.union(dissolved, target))
    assert len(ious) == len(official)
    assert min(ious.values()) >= min_iou, sorted(ious.items(), key=lambda kv: kv[1])[:3]


def _residents(durham, level):
    zones = _zones(durham, level)
    demand = demand_by_cell_grade(durham.cells, US, level).sum(axis=1)
    zone_of_cell = zone_of_points(durham.cell_xy, zones)
    per_zone = np.bincount(zone_of_cell, weights=demand, minlength=len(zones))
    return zones, per_zone


def test_high_school_residents_per_zone(durham):
    zones, per_zone = _residents(durham, "senior")
    assert dict(zip(zones["name"], per_zone.tolist(), strict=True)) == HS_RESIDENTS
    assert per_zone.sum() == 11203


def test_crowding_ranking_equals_the_published_one(durham):
    zones, per_zone = _residents(durham, "senior")
    seats = np.array([HIGH_SCHOOL_SEATS[n] for n in zones["name"]], dtype=float)
    ours = list(zones["name"][np.argsort(-per_zone / seats, kind="stable")])
    published = list(zones["name"][np.argsort(-zones["crowding_ratio"].to_numpy())])
    assert ours == published == ["Riverside", "Jordan", "Northern", "Southern", "Hillside"]


@pytest.mark.parametrize("level", ["primary", "junior"])
def test_derived_capacities_give_back_the_published_ratios(durham, level):
    alloc = allocate(durham, level, "catchment", norms=US)
    schools = level_schools(durham, US, level, 2024)
    ratio = schools["school_id"].map(
        dict(zip(durham.schools["school_id"], durham.schools["crowding_ratio"], strict=True)))
    seats = schools["seats"].to_numpy()
    ratio = ratio.to_numpy()
    # seats = round(residents / ratio): the ratio comes back within half a seat
    np.testing.assert_array_less(np.abs(alloc.assigned / seats - ratio), ratio * 0.5 / seats)


def _highs_objective(cost: np.ndarray, supply: np.ndarray, capacity: np.ndarray,
                     unserved_cost: np.ndarray) -> tuple[float, float]:
    """min Σ c x + Σ p u; Σ_j x_ij + u_i = supply_i; Σ_i x_ij ≤ capacity_j; x, u ≥ 0 (HiGHS)."""
    import highspy

    n, m = cost.shape
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = n * m + n
    lp.num_row_ = n + m
    lp.col_cost_ = np.concatenate([cost.ravel(), unserved_cost])
    lp.col_lower_ = np.zeros(n * m + n)
    lp.col_upper_ = np.full(n * m + n, inf)
    lp.row_lower_ = np.concatenate([supply, np.full(m, -inf)])
    lp.row_upper_ = np.concatenate([supply, capacity])
    i, j = np.divmod(np.arange(n * m), m)
    index = np.column_stack([i, n + j]).ravel()  # x_ij: in cell row i and school row n + j
    index = np.concatenate([index, np.arange(n)])  # u_i: in cell row i
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.concatenate([np.arange(0, 2 * n * m + 1, 2),
                                          2 * n * m + np.arange(1, n + 1)]).astype(np.int32)
    lp.a_matrix_.index_ = index.astype(np.int32)
    lp.a_matrix_.value_ = np.ones(len(index))
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    x = np.asarray(h.getSolution().col_value)
    return float(h.getInfo().objective_function_value), float(cost.ravel() @ x[:n * m])


def test_optimal_high_school_allocation_equals_highs(durham):
    schools = level_schools(durham, US, "senior", 2024)
    students = demand_by_cell_grade(durham.cells, US, "senior").sum(axis=1)
    seats = schools["seats"].to_numpy()
    cell_xy, school_xy = durham.cell_xy, district_xy(schools)
    result = assign(cell_xy, students, school_xy, seats)
    assert result.certificate["optimal"]
    assert result.students.sum() + result.unserved_by_cell.sum() == 11203
    assert result.unserved_by_cell.sum() == 11203 - 6825  # every seat taken
    cost = np.hypot(*(cell_xy[:, None, :] - school_xy[None, :, :]).transpose(2, 0, 1))
    objective, travel = _highs_objective(cost, students, seats, result.unserved_cost)
    assert result.objective == pytest.approx(objective, rel=1e-6)
    ours_travel = float(result.students @ result.cost)
    assert ours_travel == pytest.approx(travel, rel=1e-6)  # seats all full: travel is unique
    dense = transport(students, seats, cost, unserved_cost=result.unserved_cost)
    assert dense.objective == pytest.approx(objective, rel=1e-6)
    # the scenario door gives the same answer
    alloc = allocate(durham, "senior", "optimal", norms=US)
    assert alloc.students.sum() + alloc.unassigned_by_cell.sum() == pytest.approx(11203)
    assert float(alloc.students @ alloc.distance_m) == pytest.approx(travel, rel=1e-6)


# --------------------------------------------------------------- build-out and the new site


def test_buildout_adds_the_approved_developments(durham):
    built = read_district(DURHAM / "durham-buildout.gpkg")
    dev = durham.developments
    approved = dev[dev["in_buildout"] == 1]
    assert (approved["status"] == "Approved").all()
    added = approved["students_k12"].sum()
    assert added == pytest.approx(5084.0767)
    assert built.cells["dev_students_k12"].sum() == pytest.approx(added)
    for level, share in (("primary", 0.5), ("junior", 0.2), ("senior", 0.3)):
        before = durham.cells[f"students_{level}"].to_numpy()
        after = built.cells[f"students_{level}"].to_numpy()
        np.testing.assert_allclose(after - before, share * built.cells["dev_students_k12"])


def _crowding_relief(durham: District, with_new: District, method: str) -> pd.DataFrame:
    zones = _zones(durham, "senior")
    schools = level_schools(with_new, US, "senior", 2024)
    new = int(np.flatnonzero(schools["school_id"] == "PU317")[0])
    alloc = allocate(with_new, "senior", method, norms=US)
    to_new = np.bincount(alloc.cell[alloc.school == new],
                         weights=alloc.students[alloc.school == new], minlength=durham.n_cells)
    zone_of_cell = zone_of_points(durham.cell_xy, zones)
    residents = np.bincount(zone_of_cell, weights=alloc.demand_by_cell, minlength=len(zones))
    moved = np.bincount(zone_of_cell, weights=to_new, minlength=len(zones))
    seats = np.array([HIGH_SCHOOL_SEATS[n] for n in zones["name"]], dtype=float)
    return pd.DataFrame({"residents": residents, "to_new": moved,
                         "before": residents / seats, "after": (residents - moved) / seats},
                        index=zones["name"])


def test_new_high_school_relieves_riverside_jordan_and_hillside(durham):
    with_new = read_district(DURHAM / "durham-new-hs.gpkg")
    assert len(with_new.schools) == len(durham.schools) + 1
    before = allocate(durham, "senior", "optimal", norms=US)
    after = allocate(with_new, "senior", "optimal", norms=US)
    relieved = before.unassigned_by_cell.sum() - after.unassigned_by_cell.sum()
    assert relieved == pytest.approx(NEW_HIGH_SCHOOL_SEATS)  # the new seats all fill
    for method in ("optimal", "nearest"):
        table = _crowding_relief(durham, with_new, method)
        helped = set(table.index[table["to_new"] > 0])
        assert helped == {"Riverside", "Jordan", "Hillside"}, method
        assert (table["after"] <= table["before"]).all()
        assert table["to_new"].idxmax() == "Riverside"
    table = _crowding_relief(durham, with_new, "optimal")
    assert table["to_new"].sum() == pytest.approx(NEW_HIGH_SCHOOL_SEATS)


# --------------------------------------------------------------- scenarios, CLI, notebook


def test_run_durham_scenario_writes_the_demo_outputs(tmp_path):
    out = tmp_path / "durham"
    assert main(["run", str(SCENARIOS / "durham.toml"), "--out", str(out), "--quiet"]) == 0
    static = [f"map_{level}.png" for level in ("senior", "junior", "primary")]  # one per level
    assert sorted(p.name for p in out.iterdir()) == sorted([*RUN_FILES, MANIFEST, *static])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["scenario"]["norms"]["grade_system"] == "us"
    assert "capacit" in summary["scenario"]["description"]
    totals = pd.read_csv(out / "district.csv")
    assert set(zip(totals["level"], totals["method"], strict=True)) == {
        (lv, m) for lv in LEVELS for m in ("catchment", "nearest", "optimal")}
    totals = totals.set_index(["level", "method"])
    assert totals.loc[("senior", "optimal"), "unassigned"] == pytest.approx(4378)
    np.testing.assert_allclose(totals["assigned"] + totals["unassigned"], totals["demand"])
    zones = pd.read_csv(out / "zones.csv")
    senior = zones[zones["level"] == "senior"].set_index("name")["demand"]
    assert senior.to_dict() == {k: float(v) for k, v in HS_RESIDENTS.items()}


@pytest.mark.parametrize("name", ["durham-buildout", "durham-new-hs"])
def test_variant_scenarios_load(name):
    sc = load_scenario(SCENARIOS / f"{name}.toml")
    assert sc.district.is_file() and sc.norms.grade_system == "us"


def test_notebook_runs(tmp_path, monkeypatch):
    """notebooks/durham.ipynb executes top to bottom in a kernel of this environment."""
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core warns without it
    import nbclient
    import nbformat
    kernel_dir = tmp_path / "kernels" / "schoolmap-venv"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "schoolmap (this environment)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="schoolmap-venv", timeout=300,
                                     resources={"metadata": {"path": str(ROOT / "notebooks")}})
    client.execute()
    text = "\n".join(str(o.get("text", "")) for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))
    assert "Riverside > Jordan > Northern > Southern > Hillside" in text
    assert "students change school" in text
    assert "4,378 today, 2,828 with the new school" in text
