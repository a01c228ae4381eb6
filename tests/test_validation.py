"""Bad districts and scenarios get one clear error naming file, layer, rows and field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon

from schoolmap.errors import ValidationError
from schoolmap.io.district import read_district
from schoolmap.outputs import write_gpkg
from schoolmap.scenario import load_scenario


def _write(tmp_path, layers, name="bad.gpkg"):
    path = tmp_path / name
    write_gpkg(layers, path)
    return path


def _break(layers, layer, fn):
    fn(layers[layer])
    return layers


BAD_CASES = [
    pytest.param("cells", lambda f: f.__delitem__("age_7"),
                 r"town.gpkg:cells: 1 age column\(s\) missing \(age_7\)", id="age-missing"),
    pytest.param("schools", lambda f: f.__delitem__("level"),
                 r"town.gpkg:schools: column\(s\) 'level' missing", id="column-missing"),
    pytest.param("schools", lambda f: f.__setitem__("school_id", ["P1", "P1", "J1", "K1"]),
                 r"'school_id' has 1 duplicate value\(s\) \(e.g. 'P1'\)", id="duplicate-id"),
    pytest.param("cells", lambda f: f.__setitem__("age_3", [1, -2, 0, 0, 0]),
                 r"cells: 'age_3' is negative \(rows 'C2'\)", id="negative-age"),
    pytest.param("cells", lambda f: f.__setitem__("population", [np.nan, 5e3, 500, 0, 100]),
                 r"'population' is missing or not a number \(rows 'C1'\)", id="nan-population"),
    pytest.param("schools", lambda f: f.__setitem__("seats", [270.0, 0.0, 150.0, 90.0]),
                 r"schools: 'seats' must be > 0 \(rows 'P2'\)", id="zero-seats"),
    pytest.param("schools", lambda f: f.__setitem__("level", ["primary", "middle", "junior",
                                                              "kindergarten"]),
                 r"unknown level 'middle'; use one of kindergarten, primary", id="unknown-level"),
    pytest.param("schools", lambda f: f.__setitem__("geometry", [Point(0, 0), *f.geometry[1:]]),
                 r"schools: school lies outside every zone of its level.*'P1'",
                 id="school-outside-zones"),
    pytest.param("zones", lambda f: f.__setitem__("school_id", ["P1", "P9", "J1"]),
                 r"zones: 'school_id' names no school in the schools layer \('P9'\)",
                 id="zone-unknown-school"),
    pytest.param("zones", lambda f: f.__setitem__(
        "geometry", [Polygon([(0, 0), (10, 10), (10, 0), (0, 10)]), *f.geometry[1:]]),
                 r"zones: invalid geometry .*\(rows 'ZA'\)", id="invalid-geometry"),
    pytest.param("cells", lambda f: f.__setitem__("geometry", [None, *f.geometry[1:]]),
                 r"cells: empty or missing geometry \(rows 'C1'\)", id="empty-geometry"),
]


@pytest.mark.parametrize(("layer", "breaker", "match"), BAD_CASES)
def test_bad_input_is_named(tmp_path, town_layers, layer, breaker, match):
    path = _write(tmp_path, _break(town_layers, layer, breaker), "town.gpkg")
    with pytest.raises(ValidationError, match=match):
        read_district(path)


def test_every_problem_at_once(tmp_path, town_layers):
    town_layers["schools"]["seats"] = [270.0, -1.0, 150.0, 90.0]
    town_layers["cells"]["age_3"] = [1, -2, 0, 0, 0]
    town_layers["zones"]["level"] = ["primary", "primary", "middle"]
    with pytest.raises(ValidationError) as info:
        read_district(_write(tmp_path, town_layers))
    text = str(info.value)
    assert text.startswith("district bad.gpkg: 3 problems")
    assert "'seats' must be > 0" in text and "'age_3' is negative" in text
    assert "unknown zone level" in text


def test_missing_crs(tmp_path, town_layers):
    folder = tmp_path / "district"
    folder.mkdir()
    cells = town_layers["cells"]
    table = pd.DataFrame(cells.drop(columns="geometry"))
    table["x"] = cells.geometry.centroid.x
    table["y"] = cells.geometry.centroid.y
    table.to_csv(folder / "cells.csv", index=False)
    write_gpkg({"schools": town_layers["schools"]}, folder / "schools.gpkg")
    with pytest.raises(ValidationError, match=r"cells.csv: no CRS .*input_crs"):
        read_district(folder)
    # with input_crs the same folder reads, cells as points
    d = read_district(folder, input_crs="EPSG:32651")
    assert d.n_cells == 5 and d.crs.to_epsg() == 32651
    assert (d.cells.geometry.geom_type == "Point").all()


def test_missing_layer_and_file(tmp_path, town_layers):
    path = _write(tmp_path, {"cells": town_layers["cells"]})
    with pytest.raises(ValidationError, match=r"required layer 'schools' not found"):
        read_district(path)
    with pytest.raises(ValidationError, match="no such file or folder"):
        read_district(tmp_path / "nope.gpkg")
    (tmp_path / "x.shp").write_text("")
    with pytest.raises(ValidationError, match="not a .shp"):
        read_district(tmp_path / "x.shp")


def test_geographic_input_projects_to_utm(tmp_path, town_layers):
    layers = {k: v.to_crs("EPSG:4490") for k, v in town_layers.items()}
    d = read_district(_write(tmp_path, layers))
    assert d.crs.to_epsg() == 32651
    assert np.allclose(d.cell_xy[0], [500_050, 3_500_050], atol=1e-3)
    d2 = read_district(_write(tmp_path, layers, "b.gpkg"), planning_crs="EPSG:4549")
    assert d2.crs.to_epsg() == 4549
    with pytest.raises(ValidationError, match="must be projected in metres"):
        read_district(_write(tmp_path, layers, "c.gpkg"), planning_crs="EPSG:4326")


def test_gcj02_input_is_shifted_back(tmp_path, town_layers):
    from schoolmap.io.crs import wgs84_to_gcj02

    layers = {k: v.to_crs("EPSG:4326") for k, v in town_layers.items()}
    truth = read_district(_write(tmp_path, layers, "wgs.gpkg"))
    shifted = {}
    for k, v in layers.items():
        import shapely

        shifted[k] = v.set_geometry(shapely.transform(
            v.geometry.array, lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1]))))
    raw = read_district(_write(tmp_path, shifted, "gcj.gpkg"))
    fixed = read_district(_write(tmp_path, shifted, "gcj2.gpkg"), coordinate_system="gcj02")
    off = np.hypot(*(raw.cell_xy - truth.cell_xy).T)
    assert off.min() > 100  # hundreds of metres off when read as WGS 84
    assert np.abs(fixed.cell_xy - truth.cell_xy).max() < 1e-3  # under a millimetre
    with pytest.raises(ValidationError, match="applies to longitude/latitude"):
        read_district(_write(tmp_path, town_layers, "utm.gpkg"), coordinate_system="bd09")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('district = "x.gpkg"\nbase_year = 2026\nmethod = "optimal"\n', "unknown key 'method'"),
        ('district = "x.gpkg"\n', "'base_year' is required"),
        ('district = "x.gpkg"\nbase_year = 2026\nlevels = ["primary", "high"]\n',
         "levels must be a non-empty list"),
        ('district = "x.gpkg"\nbase_year = 2026\nmethods = ["fastest"]\n',
         "methods must be a non-empty list of catchment, nearest, optimal"),
        ('district = "x.gpkg"\nbase_year = 2026\n[norms.primary]\nclass_size = 0\n',
         r"\[norms\].primary: class_size must be"),
        ('district = "x.gpkg"\nbase_year = 2026\n[map]\ntiles = "Gaode"\n',
         "map.tiles must be one of"),
        ('district = "x.gpkg\n', "not valid TOML"),
    ],
)
def test_bad_scenarios(tmp_path, text, match):
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError, match=match):
        load_scenario(path)


def test_folder_of_geojson_files(tmp_path, town_layers):
    folder = tmp_path / "town"
    folder.mkdir()
    for name, frame in town_layers.items():
        frame.to_crs("EPSG:4326").to_file(folder / f"{name}.geojson", driver="GeoJSON",
                                          engine="pyogrio")
    d = read_district(folder)
    assert (d.n_cells, d.n_schools, len(d.zones)) == (5, 4, 3)
    assert d.crs.to_epsg() == 32651  # lon/lat projected to the local UTM zone
    assert np.allclose(d.cell_xy[1], [500_150, 3_500_050], atol=1e-3)
