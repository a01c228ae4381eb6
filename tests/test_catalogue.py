"""A catalogue of broken districts and scenarios (issue 19), each derived from the demo.

A small district is cut out of ``data/geo/demo.gpkg`` once (two primary zones, one junior zone,
their schools and the cells, kindergartens, developments and sites inside them); every case
copies it to ``tmp_path``, breaks one thing and runs ``schoolmap validate`` (districts) or
``schoolmap run`` (scenarios) in-process through the CLI's ``main``. Each case asserts exit code
2, no traceback, the message naming the file and layer (or file, table and key), the row or
field, and no output folder left behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon

from schoolmap.io.zones import split_ids
from schoolmap.run.cli import main
from tests.test_scenario_strict import CASES as STRICT

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "geo" / "demo.gpkg"
DEMO_TOML = ROOT / "scenarios" / "demo.toml"
LAYERS = ("cells", "schools", "zones", "developments", "sites")
ZONES = ("ZP01", "ZP08", "ZJ02")


def _cut_demo() -> dict[str, gpd.GeoDataFrame]:
    """The small district: demo zones ``ZONES``, their schools and what lies inside them."""
    full = {n: gpd.read_file(DEMO, layer=n) for n in LAYERS}
    zones = full["zones"][full["zones"]["zone_id"].isin(ZONES)].reset_index(drop=True)
    area = shapely.union_all(zones.geometry.array)
    ids = {s for v in zones["school_id"] for s in split_ids(v)}
    schools = full["schools"]
    keep = schools["school_id"].isin(ids) | (
        (schools["level"] == "kindergarten") & schools.geometry.within(area))
    out = {"zones": zones, "schools": schools[keep].reset_index(drop=True)}
    for name in ("cells", "developments", "sites"):
        f = full[name]
        inside = f.geometry.representative_point().within(area)
        if name != "cells":
            inside |= f.geometry.intersects(area)
        out[name] = f[inside].reset_index(drop=True)
    return out


@pytest.fixture(scope="module")
def small() -> dict[str, gpd.GeoDataFrame]:
    layers = _cut_demo()
    assert len(layers["cells"]) > 100 and len(layers["schools"]) >= 3
    return layers


def _write(layers: dict[str, gpd.GeoDataFrame], path: Path) -> Path:
    for name, frame in layers.items():
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    return path


def _copy(small: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    return {n: f.copy() for n, f in small.items()}


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def test_the_cut_district_is_valid(tmp_path, small, capsys):
    code, text = _cli(["validate", str(_write(_copy(small), tmp_path / "d.gpkg"))], capsys)
    assert code == 0, text


# --- breakers: each changes the small district's layers in place -------------------------

def _set(layer: str, col: str, value: object, row: int = 0) -> Callable:
    def breaker(layers):
        f = layers[layer]
        f[col] = f[col].astype(object)
        f.loc[row, col] = value
    return breaker


def _drop_col(layer: str, col: str) -> Callable:
    def breaker(layers):
        layers[layer] = layers[layer].drop(columns=[col])
    return breaker


def _drop_layer(layer: str) -> Callable:
    def breaker(layers):
        del layers[layer]
    return breaker


def _geom(layer: str, geom: object, row: int = 0) -> Callable:
    def breaker(layers):
        f = layers[layer]
        values = list(f.geometry.array)
        values[row] = geom
        layers[layer] = f.set_geometry(gpd.GeoSeries(values, crs=f.crs))
    return breaker


def _transform(layer: str, fn: Callable[[np.ndarray], np.ndarray], crs: str | None = None):
    def breaker(layers):
        f = layers[layer]
        moved = shapely.transform(f.geometry.array, fn)
        g = gpd.GeoSeries(moved, crs=None)
        layers[layer] = f.set_geometry(g.set_crs(crs or f.crs), crs=crs or f.crs)
    return breaker


def _relabel(layer: str, crs: str) -> Callable:
    def breaker(layers):
        layers[layer] = layers[layer].set_crs(crs, allow_override=True)
    return breaker


def _all_layers(fn: Callable) -> Callable:
    def breaker(layers):
        for name in list(layers):
            fn(name)(layers)
    return breaker


def _to_metres_labelled_wgs84(layers):
    for name, f in list(layers.items()):
        layers[name] = f.to_crs("EPSG:4547").set_crs("EPSG:4326", allow_override=True)


def _duplicate_row(layer: str) -> Callable:
    def breaker(layers):
        f = layers[layer]
        layers[layer] = pd.concat([f, f.iloc[[0]]], ignore_index=True)
    return breaker


def _bow_tie(layer: str) -> Callable:
    return _geom(layer, Polygon([(120.20, 31.44), (120.21, 31.45), (120.21, 31.44),
                                 (120.20, 31.45)]))


def _school_far_away(layers):
    f = layers["schools"]
    values = list(f.geometry.array)
    p = values[0]
    values[0] = Point(p.x + 1.05, p.y)  # ~100 km east
    layers["schools"] = f.set_geometry(gpd.GeoSeries(values, crs=f.crs))


def _school_out_of_its_zone(layers):
    f = layers["schools"]
    i = int(np.flatnonzero(f["level"].to_numpy() == "primary")[0])
    values = list(f.geometry.array)
    values[i] = Point(values[i].x + 0.15, values[i].y)  # ~14 km: inside the 20 km margin
    layers["schools"] = f.set_geometry(gpd.GeoSeries(values, crs=f.crs))


def _first_primary(col: str, value: object) -> Callable:
    def breaker(layers):
        f = layers["schools"]
        i = int(np.flatnonzero(f["level"].to_numpy() == "primary")[0])
        f[col] = f[col].astype(object)
        f.loc[i, col] = value
    return breaker


def _zone_row(col: str, value: object) -> Callable:
    return _set("zones", col, value, 0)


def _shrunk_cells(layers):
    """Cells in a metric CRS, drawn 200 times too small (a units mix-up)."""
    cells = layers["cells"].to_crs("EPSG:4547")
    x0, y0 = cells.total_bounds[:2]
    layers["cells"] = cells.set_geometry(shapely.transform(
        cells.geometry.array, lambda xy: (xy - [x0, y0]) / 200 + [x0, y0]), crs=cells.crs)


def SWAP(xy: np.ndarray) -> np.ndarray:  # noqa: N802 - a constant-like transform
    return xy[:, ::-1].copy()

DISTRICTS = [  # (id, breaker, layer, words of the message)
    ("cells-no-cell_id", _drop_col("cells", "cell_id"), "cells", "'cell_id'"),
    ("cells-no-age_7", _drop_col("cells", "age_7"), "cells", "age_7"),
    ("cells-no-population", _drop_col("cells", "population"), "cells", "'population'"),
    ("cells-dup-id", _duplicate_row("cells"), "cells", "'cell_id' has 1 duplicate"),
    ("cells-empty-id", _set("cells", "cell_id", None), "cells", "'cell_id' is empty"),
    ("cells-age-text", _set("cells", "age_6", "many", 3), "cells",
     "'age_6' must be a number, got the text 'many'"),
    ("cells-age-empty", _set("cells", "age_6", None, 3), "cells",
     "'age_6' is missing or not a number"),
    ("cells-age-negative", _set("cells", "age_6", -4.0, 3), "cells", "'age_6' is negative"),
    ("cells-population-short", _set("cells", "population", 1.0, 3), "cells",
     "'population' (all ages) is smaller"),
    ("cells-students-alias", lambda d: d["cells"].__setitem__("students_elementary", 1.0),
     "cells", "'students_elementary' names no schoolmap level"),
    ("cells-empty-geometry", _geom("cells", None, 2), "cells", "empty or missing geometry"),
    ("cells-bow-tie", _bow_tie("cells"), "cells", "invalid geometry"),
    ("cells-infinite", _geom("cells", Point(float("inf"), 31.45), 2), "cells",
     "coordinate is infinite or not a number"),
    ("cells-lonlat-as-metres", _relabel("cells", "EPSG:4547"), "cells",
     "look like longitude/latitude degrees"),
    ("all-lonlat-as-metres", _all_layers(lambda n: _relabel(n, "EPSG:32651")), "cells",
     "m across"),
    ("all-metres-as-wgs84", _to_metres_labelled_wgs84, "cells", "they look like metres"),
    ("cells-in-centimetre-units", _shrunk_cells, "cells", "the median cell is"),
    ("cells-swapped", _transform("cells", SWAP), "cells", "look swapped"),
    ("schools-swapped", _transform("schools", SWAP), "schools", "look swapped"),
    ("schools-100km-away", _school_far_away, "schools", "km outside the cells' area"),
    ("schools-out-of-zone", _school_out_of_its_zone, "schools", "outside every zone"),
    ("schools-no-level", _drop_col("schools", "level"), "schools", "'level'"),
    ("schools-bad-level", _set("schools", "level", "college"), "schools", "unknown level"),
    ("schools-no-seats-classes", lambda d: d.__setitem__(
        "schools", d["schools"].drop(columns=["seats", "classes"])), "schools",
     "column 'seats' missing"),
    ("schools-seats-text", lambda d: (_first_primary("seats", "1,200")(d),
                                      _first_primary("classes", None)(d)),
     "schools", "'seats' must be a number, got the text '1,200' (write numbers without quotes"),
    # with classes given, text seats were silently replaced by classes × class size
    ("schools-seats-text-with-classes", _first_primary("seats", "1,200"), "schools",
     "'seats' must be a number, got the text '1,200'"),
    ("schools-classes-text", _first_primary("classes", "24 classes"), "schools",
     "'classes' must be a number, got the text '24 classes'"),
    ("schools-seats-and-classes-empty", lambda d: (_first_primary("seats", None)(d),
                                                   _first_primary("classes", None)(d)),
     "schools", "no 'seats' and no 'classes'"),
    ("schools-seats-zero", _first_primary("seats", 0), "schools", "'seats' must be > 0"),
    ("schools-classes-negative", _first_primary("classes", -3), "schools",
     "'classes' must be > 0"),
    ("schools-bad-sector", _set("schools", "sector", "charter"), "schools", "unknown sector"),
    ("schools-open-year-fraction", _set("schools", "open_year", 2027.5), "schools",
     "'open_year' must be a whole year"),
    ("schools-close-before-open", lambda d: (_set("schools", "open_year", 2030)(d),
                                             _set("schools", "close_year", 2020)(d)),
     "schools", "'close_year' is not after 'open_year'"),
    ("schools-dup-id", _duplicate_row("schools"), "schools", "'school_id' has 1 duplicate"),
    ("schools-empty-geometry", _geom("schools", None), "schools", "empty or missing geometry"),
    ("schools-polygon-infinite", _geom("schools", Point(120.2, float("nan"))), "schools",
     "infinite or not a number"),
    ("zones-unknown-school", _zone_row("school_id", "P99"), "zones",
     "names no school in the schools layer ('P99')"),
    ("zones-wrong-level-school", _zone_row("school_id", "J02"), "zones",
     "does not serve the zone's level"),
    ("zones-bad-level", _zone_row("level", "college"), "zones", "unknown zone level"),
    ("zones-point", _geom("zones", Point(120.2, 31.45)), "zones", "geometry must be polygon"),
    ("zones-no-zone_id", _drop_col("zones", "zone_id"), "zones", "'zone_id'"),
    ("developments-zero", _set("developments", "dwellings", 0), "developments",
     "'dwellings' must be a number > 0"),
    ("developments-dwellings-text", _set("developments", "dwellings", "120套"), "developments",
     "'dwellings' must be a number, got the text '120套'"),
    ("zones-no-school", _zone_row("school_id", ""), "zones",
     "'school_id' names no school in the schools layer (empty)"),
    ("developments-type", _set("developments", "housing_type", "villa"), "developments",
     "unknown 'housing_type'"),
    ("developments-year", _set("developments", "completion_year", "soon"), "developments",
     "'completion_year' must be a whole year"),
    ("sites-no-site_id", _drop_col("sites", "site_id"), "sites", "'site_id'"),
    ("developments-far-away", _transform("developments", lambda xy: xy + [0.0, 2.0]),
     "developments",
     "km outside the cells' area"),
    ("no-schools-layer", _drop_layer("schools"), "", "required layer 'schools' not found"),
]


#: Problems of a whole layer or column (no row to name): their words name the column or layer.
LAYER_WIDE = {"cells-no-cell_id", "cells-no-age_7", "cells-no-population", "cells-students-alias",
              "cells-lonlat-as-metres", "all-lonlat-as-metres", "cells-in-centimetre-units",
              "schools-no-seats-classes", "zones-no-zone_id", "sites-no-site_id",
              "no-schools-layer"}
ROWS = re.compile(r"\(rows ('[^']+'|#\d+)")  # a row named by its id, or by feature number


@pytest.mark.parametrize(("breaker", "layer", "words"), [c[1:] for c in DISTRICTS],
                         ids=[c[0] for c in DISTRICTS])
def test_broken_district(tmp_path, small, capsys, breaker, layer, words, request):
    layers = _copy(small)
    breaker(layers)
    path = _write(layers, tmp_path / "broken.gpkg")
    before = sorted(p.name for p in tmp_path.iterdir())
    code, text = _cli(["validate", str(path)], capsys)
    assert code == 2, text
    assert "Traceback" not in text
    where = f"broken.gpkg:{layer}" if layer else "broken.gpkg"
    assert where in text and words in text, text
    if request.node.callspec.id not in LAYER_WIDE:
        assert ROWS.search(text), text
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def _scenario(tmp_path: Path, district: Path, old: str | None, new: str) -> Path:
    text = DEMO_TOML.read_text(encoding="utf-8").replace(
        '"../data/geo/demo.gpkg"', repr(str(district)))
    if old is None:
        text += "\n" + new + "\n"
    else:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path


SCENARIOS = [  # (id, demo text, broken text, where after the file name, words)
    ("horizon-text", "horizon = 10", 'horizon = "ten"', "", "horizon must be a number"),
    ("base-year-inf", "base_year = 2026", "base_year = inf", "", "base_year must be a finite"),
    ("methods-bool", 'levels = ["kindergarten", "primary", "junior"]', "levels = [true]", "",
     "level"),
    ("levels-unknown", 'levels = ["kindergarten", "primary", "junior"]', 'levels = ["college"]',
     "", "levels must be a non-empty list of kindergarten, primary, junior, senior; got "
     "['college']"),
    ("methods-unknown", 'methods = ["catchment", "nearest", "optimal"]', 'methods = ["fastest"]',
     "", "methods must be a non-empty list of catchment, nearest, optimal"),
    ("unknown-key", "horizon = 10", "horizn = 10", "", "unknown key 'horizn'"),
    ("unknown-table", "[forecast]", "[forcast]", "", "unknown key 'forcast'"),
    ("name-number", 'name = "demo"', "name = 5", "", "name must be text in quotes"),
    ("horizon-fraction", "horizon = 10", "horizon = 2.5", "", "horizon must be 0–30 years"),
    ("seed-negative", "seed = 0", "seed = -1", "", "seed must be a whole number ≥ 0, got -1"),
    ("tiles-unknown", 'tiles = "OpenStreetMap"', 'tiles = "bing"', "",
     "map.tiles must be one of"),
    ("grade-system-unknown", 'grade_system = "6+3"', 'grade_system = "7+2"', " [norms]",
     "grade_system '7+2' unknown"),
    ("housing-delay-negative", "housing_delay = 1", "housing_delay = -1", " [forecast]",
     "housing_delay must be a whole number ≥ 0"),
    ("lp-time-limit-zero", "target_unserved = 0 ", "target_unserved = 0\nlp_time_limit_s = 0 ",
     " [siting]", "lp_time_limit_s must be seconds > 0, got 0"),
    ("target-unserved-negative", "target_unserved = 0 ", "target_unserved = -5 ", " [siting]",
     "target_unserved must be students ≥ 0, got -5"),
    ("not-toml", "[forecast]", "[forecast", "", "not valid TOML"),
    # the strict-value cases of tests/test_scenario_strict.py, on the small district
    *((new.split(" =")[0], old, new, f" {table}" if table else "", f"{key} {words}")
      for old, new, table, key, words in STRICT),
]


@pytest.mark.parametrize(("old", "new", "table", "words"), [c[1:] for c in SCENARIOS],
                         ids=[c[0] for c in SCENARIOS])
def test_broken_scenario(tmp_path, small, capsys, old, new, table, words):
    district = _write(_copy(small), tmp_path / "d.gpkg")
    scenario = _scenario(tmp_path, district, old, new)
    out = tmp_path / "out"
    code, text = _cli(["run", str(scenario), "--out", str(out), "--quiet"], capsys)
    assert code == 2, text
    assert "Traceback" not in text
    assert f"broken.toml{table}: {words}" in text, text
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_catalogue_size():
    assert len({c[0] for c in DISTRICTS}) + len({c[0] for c in SCENARIOS}) >= 40


@pytest.mark.parametrize("case", ["all-metres-as-wgs84", "cells-swapped", "schools-100km-away",
                                  "cells-infinite", "all-lonlat-as-metres",
                                  "schools-seats-text-with-classes"])
def test_run_refuses_a_broken_district_before_any_work(tmp_path, small, capsys, case):
    _, breaker, layer, words = next(c for c in DISTRICTS if c[0] == case)
    layers = _copy(small)
    breaker(layers)
    scenario = _scenario(tmp_path, _write(layers, tmp_path / "broken.gpkg"), None, "")
    out = tmp_path / "out"
    code, text = _cli(["run", str(scenario), "--out", str(out), "--quiet"], capsys)
    assert code == 2 and "Traceback" not in text
    assert f"broken.gpkg:{layer}" in text and words in text, text
    assert not out.exists() and not list(tmp_path.glob(".out*"))
