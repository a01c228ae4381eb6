"""QGIS opens results.gpkg coloured (issue 18): the catchments by utilisation and the schools by
seats short are stored as default QML styles in the GeoPackage's layer_styles table, the way
QGIS stores them; the file stays byte-identical for identical inputs."""

from __future__ import annotations

import hashlib
import sqlite3
import xml.etree.ElementTree as ET

import pytest

from schoolmap.present.maps.style import SHORTFALL_NONE_COLOUR, UTILISATION_COLOURS
from schoolmap.run.outputs import write_results
from schoolmap.run.scenario import load_scenario, run_scenario


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    from schoolmap.io.files import write_gpkg
    from schoolmap.testing import tiny_town_layers

    base = tmp_path_factory.mktemp("qgis")
    write_gpkg(tiny_town_layers(), base / "town.gpkg")
    (base / "town.toml").write_text(
        'district = "town.gpkg"\nbase_year = 2026\nhorizon = 0\nlevels = ["primary"]\n'
        'methods = ["catchment", "optimal"]\nlang = "zh"\n[map]\ntiles = "none"\n',
        encoding="utf-8")
    result = run_scenario(load_scenario(base / "town.toml"))
    return [write_results(result, base / name) for name in ("a", "b")]


def _rgba(colour: str) -> str:
    return ",".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5)) + ",255"


def test_layer_styles_hold_a_default_qml_style_per_layer(written):
    with sqlite3.connect(written[0] / "results.gpkg") as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, styleName, styleQML, "
                          "useAsDefault FROM layer_styles ORDER BY f_table_name").fetchall()
        geometry = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        registered = db.execute("SELECT data_type FROM gpkg_contents "
                                "WHERE table_name = 'layer_styles'").fetchone()
    assert registered == ("attributes",)
    views = ["schools_primary_catchment", "schools_primary_optimal"]
    assert [r[0] for r in rows] == ["schools", *views, "zones"]
    assert len({r[3] for r in rows if r[0].startswith("schools")}) == 1  # the schools' style
    styles = {table: (column, name, ET.fromstring(qml), default)
              for table, column, name, qml, default in rows}
    for table, (column, _name, _, default) in styles.items():
        assert column == geometry[table] and default == 1
    zones = styles["zones"][2].find("renderer-v2")
    assert zones.get("type") == "graduatedSymbol" and zones.get("attr") == "utilisation"
    assert len(zones.find("ranges")) == len(UTILISATION_COLOURS) == 7
    colours = [s.find("layer/Option/Option[@name='color']").get("value")
               for s in zones.find("symbols")]
    assert colours == [_rgba(c) for c in UTILISATION_COLOURS]
    schools = styles["schools"][2].find("renderer-v2")
    assert schools.get("attr") == "shortfall"
    labels = [r.get("label") for r in schools.find("ranges")]
    assert labels[0] == "无缺口" and labels[-1] == "≥ 200 个学位"  # the run's language
    first = schools.find("symbols")[0].find("layer")
    assert first.get("class") == "SimpleMarker"
    assert first.find("Option/Option[@name='color']").get("value") == _rgba(SHORTFALL_NONE_COLOUR)
    assert styles["schools"][1] == "学位缺口"


def test_one_layer_per_level_and_method_opens_without_overlapping_points(written):
    """The ``schools`` layer stacks every method's row of a school at one point; QGIS lists
    ``schools_<level>_<method>`` views beside it, each one row per school (read with GDAL)."""
    import pyogrio

    path = written[0] / "results.gpkg"
    listed = {name: kind for name, kind in pyogrio.list_layers(path)}
    assert listed["schools_primary_catchment"] == "Point"
    allrows = pyogrio.read_dataframe(path, layer="schools")
    for method in ("catchment", "optimal"):
        view = pyogrio.read_dataframe(path, layer=f"schools_primary_{method}")
        mine = allrows[(allrows.method == method) & (allrows.level == "primary")]
        assert len(view) == len(mine) == view.school_id.nunique() > 0
        assert set(view.method) == {method}
        assert view.geometry.to_wkb().tolist() == mine.geometry.to_wkb().tolist()
        assert view.shortfall.tolist() == mine.shortfall.tolist()
        assert view.crs == allrows.crs


def test_results_gpkg_is_byte_identical_for_identical_inputs(written):
    a, b = (hashlib.sha256((w / "results.gpkg").read_bytes()).hexdigest() for w in written)
    assert a == b
