"""Catchment and nearest allocation: hand-checked answers on the tiny town, and invariants."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from schoolmap.allocation import allocate_catchment, allocate_nearest, zone_of_points
from schoolmap.demand import demand_by_cell_grade, level_schools
from schoolmap.io.district import district_from_frames
from schoolmap.norms import default_norms
from schoolmap.testing import X0, Y0, assert_conserved

NORMS = default_norms()


def _primary(town):
    schools = level_schools(town, NORMS, "primary", 2026)
    demand = demand_by_cell_grade(town.cells, NORMS, "primary").sum(axis=1)
    zones = town.zones[town.zones["level"] == "primary"].reset_index(drop=True)
    return schools, demand, zones


def test_primary_demand_by_cell(town):
    _, demand, _ = _primary(town)
    assert demand.tolist() == [60.0, 300.0, 30.0, 0.0, 6.0]


def test_catchment_hand_checked(town):
    schools, demand, zones = _primary(town)
    a = allocate_catchment(town.cell_xy, demand, schools, zones, level="primary")
    assert schools["school_id"].tolist() == ["P1", "P2"]
    assert a.assigned.tolist() == [366.0, 30.0]
    assert a.unassigned_by_cell.tolist() == [0.0] * 5
    # C5 (x 650) lies in zone ZA: 559.017 m to P1
    c5 = a.cell == 4
    assert a.school[c5].tolist() == [0]
    assert a.distance_m[c5][0] == pytest.approx(np.hypot(550, 100))
    assert a.main_school_by_cell().tolist() == [0, 0, 1, -1, 0]
    assert_conserved(a)


def test_nearest_hand_checked(town):
    schools, demand, _ = _primary(town)
    a = allocate_nearest(town.cell_xy, demand, np.column_stack(
        [schools.geometry.x, schools.geometry.y]), level="primary")
    assert a.assigned.tolist() == [360.0, 36.0]  # C5 goes to P2 (461 m < 559 m)
    assert a.distance_m[a.cell == 4][0] == pytest.approx(np.hypot(450, 100))
    assert_conserved(a)


def test_multi_school_zone_splits_by_seats(town_layers):
    zones = town_layers["zones"]
    zones.loc[zones["zone_id"] == "ZA", "school_id"] = "P1;P2"  # 多校划片
    town = district_from_frames(town_layers)
    schools, demand, zones = _primary(town)
    a = allocate_catchment(town.cell_xy, demand, schools, zones)
    # zone ZA has 366 students, split 270 : 540 seats; P2 also has its own 30
    assert a.assigned == pytest.approx([366 / 3, 366 * 2 / 3 + 30])
    assert_conserved(a)


def test_closed_school_and_outside_cells_are_unassigned(town_layers):
    schools = town_layers["schools"]
    schools.loc[schools["school_id"] == "P2", "close_year"] = 2026
    cells = town_layers["cells"]
    zones = town_layers["zones"]
    # shrink ZA so that C5 (x 600–700) falls outside every primary zone
    zones.loc[zones["zone_id"] == "ZA", "geometry"] = box(X0 - 100, Y0 - 100, X0 + 550, Y0 + 300)
    town = district_from_frames({"cells": cells, "schools": schools, "zones": zones})
    s, demand, z = _primary(town)
    assert s["school_id"].tolist() == ["P1"]  # P2 closed in 2026
    a = allocate_catchment(town.cell_xy, demand, s, z, level="primary")
    assert a.assigned.tolist() == [360.0]
    assert a.unassigned_by_cell.tolist() == [0.0, 0.0, 30.0, 0.0, 6.0]
    assert any("outside every zone" in n for n in a.notes)
    assert any("ZB" in n for n in a.notes)
    assert_conserved(a)


def test_no_school_at_all():
    a = allocate_nearest(np.zeros((2, 2)), np.array([1.0, 2.0]), np.zeros((0, 2)))
    assert a.unassigned_by_cell.tolist() == [1.0, 2.0]
    assert a.assigned.tolist() == []
    assert_conserved(a)


def test_bad_arrays_get_clear_errors():
    with pytest.raises(ValueError, match="shape"):
        allocate_nearest(np.zeros((3, 2)), np.ones(2), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="finite"):
        allocate_nearest(np.zeros((1, 2)), np.array([np.nan]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="≥ 0"):
        allocate_nearest(np.zeros((1, 2)), np.array([-1.0]), np.zeros((1, 2)))


def test_zone_of_points_first_zone_wins_and_boundary_counts():
    zones = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10), box(5, 0, 15, 10)])
    idx = zone_of_points(np.array([[1.0, 1.0], [7.0, 1.0], [15.0, 5.0], [20.0, 0.0]]), zones)
    assert idx.tolist() == [0, 0, 1, -1]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 6),
    st.integers(0, 2**31 - 1),
)
def test_nearest_matches_brute_force_and_conserves(n_cells, n_schools, seed):
    rng = np.random.default_rng(seed)
    cells = rng.uniform(0, 5000, (n_cells, 2))
    schools = rng.uniform(0, 5000, (n_schools, 2))
    demand = rng.integers(0, 50, n_cells).astype(float)
    a = allocate_nearest(cells, demand, schools)
    assert_conserved(a)
    d = np.hypot(*(cells[:, None, :] - schools[None, :, :]).transpose(2, 0, 1))  # tiny: fine
    has = demand > 0
    assert np.allclose(a.distance_m, d[has].min(axis=1))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(0, 2**31 - 1))
def test_catchment_conserves_students(n_cells, seed):
    rng = np.random.default_rng(seed)
    cells = rng.uniform(-500, 5500, (n_cells, 2))  # some outside the zones
    demand = rng.integers(0, 30, n_cells).astype(float)
    schools = gpd.GeoDataFrame({"school_id": ["A", "B", "C"], "seats": [100.0, 200.0, 50.0]},
                               geometry=[Point(1000, 1000), Point(4000, 1000), Point(2500, 4000)])
    zones = gpd.GeoDataFrame({"zone_id": ["z1", "z2", "z3"], "school_id": ["A", "B;C", "X"]},
                             geometry=[box(0, 0, 2500, 5000), box(2500, 0, 5000, 2500),
                                       box(2500, 2500, 5000, 5000)])
    a = allocate_catchment(cells, demand, schools, zones)
    assert_conserved(a)
    assert (a.students > 0).all()
