"""The embedded demo district: regenerated from its script, and it tells the documented story."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from schoolmap.io.district import read_district

from .conftest import DEMO_GPKG, ROOT


def test_generator_reproduces_the_committed_file(tmp_path):
    """Every layer, row and value again; geometry to a micrometre.

    Byte identity is not asked: GEOS releases differ in the last bits of polygon unions (the
    zones moved by 8e-8 m between the GEOS of the first release and today's), and the
    committed file is what every run reads. The village lanes are cut at the district's 300 m
    margin (a buffer) and merged: with shapely 2.2 / GEOS 3.14 they come out in another order
    with ends up to 0.22 m apart (same rows and values), so the roads layer is compared as one
    network, to 0.5 m.
    """
    out = tmp_path / "demo.gpkg"
    proc = subprocess.run([sys.executable, str(ROOT / "data" / "geo" / "make_demo.py"),
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    layers = [name for name, _ in pyogrio.list_layers(DEMO_GPKG)]
    assert [name for name, _ in pyogrio.list_layers(out)] == layers
    for layer in layers:
        want = gpd.read_file(DEMO_GPKG, layer=layer)
        got = gpd.read_file(out, layer=layer)
        assert list(got.columns) == list(want.columns), layer
        values = [c for c in want.columns if c != "geometry"]
        assert got[values].equals(want[values]), layer
        if "geometry" in want:
            assert got.crs == want.crs, layer
            if layer == "roads":  # see the docstring: the lanes as a whole, to 0.5 m
                gap = shapely.hausdorff_distance(shapely.union_all(got.geometry.values),
                                                 shapely.union_all(want.geometry.values))
                assert gap <= 0.5, (layer, gap)
                continue
            gap = shapely.hausdorff_distance(got.geometry.values, want.geometry.values)
            assert np.all(gap <= 1e-6), (layer, float(np.max(gap)))


def test_demo_district_shape():
    d = read_district(DEMO_GPKG)
    assert d.crs.to_epsg() == 32651  # CGCS2000 lon/lat projected to UTM 51N
    assert 20_000 <= d.n_cells <= 60_000
    assert 300_000 <= d.cells["population"].sum() <= 600_000
    levels = d.schools["level"].value_counts()
    assert 40 <= levels["kindergarten"] <= 80
    assert 25 <= levels["primary"] + levels.get("nine_year", 0) <= 50
    assert 10 <= levels["junior"] + levels.get("nine_year", 0) <= 25
    assert len(d.developments) >= 20 and len(d.sites) >= 30
    # a short repr (not ~10,000 characters of tables)
    assert repr(d).startswith("District(") and len(repr(d)) < 300 and "22,061 cells" in repr(d)
    # births fell after the 2016 peak: age 10 outnumbers age 2
    assert d.cells["age_10"].sum() > 1.4 * d.cells["age_2"].sum()


def test_readme_states_the_committed_files_sha256():
    readme = (ROOT / "data" / "geo" / "README.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(DEMO_GPKG.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in readme


def test_demo_enrolment_history_agrees_with_the_cells():
    d = read_district(DEMO_GPKG)
    hist = d.enrolment
    assert sorted(set(hist["year"])) == [2021, 2022, 2023, 2024, 2025]
    assert hist["school_id"].nunique() == 41 and set(hist["grade"]) == set(range(1, 10))
    assert "P16" not in set(hist["school_id"])  # opens in 2027
    # 2025's grade 1 are the 7-year-olds of 2026 (× 0.96 public, ÷ a ratio near 1)
    grade1 = hist[(hist.year == 2025) & (hist.grade == 1)]["students"].sum()
    seven = d.cells["age_7"].sum()
    assert 0.9 * 0.96 * seven < grade1 < 1.0 * 0.96 * seven
