"""results.gpkg in the CRS the district came in, or the scenario's ``output_crs`` (issue 18):
a bureau's GIS opens it over its own maps without reprojecting."""

from __future__ import annotations

import pyogrio
import pyproj
import pytest

from schoolmap.errors import ValidationError
from schoolmap.io.files import write_gpkg
from schoolmap.run.outputs import write_results
from schoolmap.run.scenario import load_scenario, run_scenario
from schoolmap.testing import tiny_town_layers

SCENARIO = ('district = "town.gpkg"\nbase_year = 2026\nhorizon = 0\nlevels = ["primary"]\n'
            'methods = ["catchment"]\nlang = "en"\n[map]\ntiles = "none"\n')


@pytest.fixture(scope="module")
def lonlat_town(tmp_path_factory):
    """The tiny town stored in CGCS2000 longitude/latitude (EPSG:4490), as bureaus hand it."""
    base = tmp_path_factory.mktemp("crs")
    write_gpkg({n: f.to_crs("EPSG:4490") for n, f in tiny_town_layers().items()},
               base / "town.gpkg")
    return base


def _layer_crs(folder, layer):
    return pyproj.CRS.from_user_input(pyogrio.read_info(folder / "results.gpkg",
                                                        layer=layer)["crs"])


def _run(base, name, extra=""):
    (base / f"{name}.toml").write_text(extra + SCENARIO, encoding="utf-8")
    sc = load_scenario(base / f"{name}.toml")
    return write_results(run_scenario(sc), base / name), sc


def test_results_are_written_in_the_input_crs_by_default(lonlat_town):
    folder, sc = _run(lonlat_town, "default")
    assert sc.output_crs is None
    for layer in ("schools", "zones", "cells", "proposed_catchments"):
        assert _layer_crs(folder, layer).to_epsg() == 4490, layer
    assert "output_crs" not in (folder / "summary.json").read_text(encoding="utf-8")


def test_output_crs_chooses_the_crs_of_results_gpkg(lonlat_town):
    folder, sc = _run(lonlat_town, "gk", 'output_crs = "EPSG:4549"\n')
    assert sc.output_crs == "EPSG:4549"
    for layer in ("schools", "cells"):
        assert _layer_crs(folder, layer).to_epsg() == 4549, layer
    x = pyogrio.read_dataframe(folder / "results.gpkg", layer="schools").geometry.x
    assert ((x > 2e5) & (x < 8e5)).all()  # Gauss-Krüger metres (false easting 500 km)
    assert '"output_crs": "EPSG:4549"' in (folder / "summary.json").read_text(encoding="utf-8")


@pytest.mark.parametrize(("value", "message"), [
    ('"EPSG:99999"', "output_crs 'EPSG:99999' is not a CRS pyproj knows"),
    ("4549", 'output_crs must be a CRS in quotes, e.g. output_crs = "EPSG:4549", got 4549'),
    ("true", "output_crs must be a CRS in quotes"),
    ('"EPSG:4978"', "neither longitude/latitude nor projected"),
])
def test_a_bad_output_crs_is_named_before_anything_runs(lonlat_town, value, message):
    (lonlat_town / "bad.toml").write_text(f"output_crs = {value}\n" + SCENARIO, encoding="utf-8")
    with pytest.raises(ValidationError, match="output_crs") as info:
        load_scenario(lonlat_town / "bad.toml")
    assert message in str(info.value) and "bad.toml" in str(info.value)
