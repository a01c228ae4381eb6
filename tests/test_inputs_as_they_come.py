"""Inputs as bureaus keep them: schools in an Excel sheet with coordinates, Chinese column
names (学校名称 → name, 学位数 → seats, …)."""

from __future__ import annotations

import pandas as pd
import pytest

from schoolmap.errors import ValidationError
from schoolmap.io.district import read_district
from schoolmap.io.layers import COLUMN_ALIASES


def _folder_with_excel_schools(tmp_path, town_layers, coords=True):
    from schoolmap.outputs import write_gpkg

    folder = tmp_path / "district"
    folder.mkdir()
    write_gpkg({"cells": town_layers["cells"]}, folder / "cells.gpkg")
    s = town_layers["schools"]
    inv = {v: k for k, v in COLUMN_ALIASES.items() if k in ("学校编号", "学校名称", "学段",
                                                            "学位数", "班级数")}
    table = pd.DataFrame(s.drop(columns="geometry")).rename(columns=inv)
    if coords:
        table["x"], table["y"] = s.geometry.x, s.geometry.y
    table.to_excel(folder / "schools.xlsx", index=False, engine="openpyxl")
    return folder, s.crs.to_string()


def test_schools_from_excel_with_chinese_columns(tmp_path, town_layers):
    folder, crs = _folder_with_excel_schools(tmp_path, town_layers)
    assert "学位数" in pd.read_excel(folder / "schools.xlsx").columns
    d = read_district(folder, input_crs=crs)
    want = town_layers["schools"]
    assert list(d.schools["school_id"]) == [str(i) for i in want["school_id"]]
    assert list(d.schools["name"]) == list(want["name"])
    assert d.schools["seats"].tolist() == pytest.approx(want["seats"].astype(float).tolist())


def test_excel_without_coordinates_is_named(tmp_path, town_layers):
    folder, crs = _folder_with_excel_schools(tmp_path, town_layers, coords=False)
    with pytest.raises(ValidationError, match=r"schools.xlsx: a CSV or Excel layer needs"):
        read_district(folder, input_crs=crs)


@pytest.mark.parametrize("kind", ["shp_cpg", "shp_no_cpg", "zip"])
def test_schools_from_a_gbk_shapefile(tmp_path, town_layers, kind):
    import zipfile

    from schoolmap.outputs import write_gpkg

    folder = tmp_path / "district"
    folder.mkdir()
    write_gpkg({"cells": town_layers["cells"]}, folder / "cells.gpkg")
    schools = town_layers["schools"].copy()
    schools["name"] = ["城关小学", "东门小学", "西街幼儿园", "实验初中"][: len(schools)]
    shp = tmp_path / "shp" / "schools.shp"
    shp.parent.mkdir()
    schools.to_file(shp, engine="pyogrio", encoding="GBK")
    if kind == "shp_no_cpg":
        shp.with_suffix(".cpg").unlink(missing_ok=True)
    if kind == "zip":
        with zipfile.ZipFile(folder / "schools.zip", "w") as z:
            for f in sorted(shp.parent.iterdir()):
                z.write(f, f.name)
    else:
        for f in shp.parent.iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
    d = read_district(folder)
    assert list(d.schools["name"]) == list(schools["name"])


def test_a_whole_district_as_a_folder_of_shapefiles_with_chinese_columns(tmp_path,
                                                                          town_layers):
    """Every layer a Shapefile (GBK, with .cpg), the schools' columns under their Chinese
    aliases (学校名称, 学位数, 班级数, …): read as the GeoPackage would be."""
    from schoolmap.testing import tiny_town

    folder = tmp_path / "district"
    folder.mkdir()
    inv = {v: k for k, v in COLUMN_ALIASES.items() if k in ("学校编号", "学校名称", "学段",
                                                            "学位数", "班级数")}
    for name, frame in town_layers.items():
        frame = frame.rename(columns=inv) if name == "schools" else frame
        frame.to_file(folder / f"{name}.shp", engine="pyogrio", encoding="GBK")
    import pyogrio

    fields = list(pyogrio.read_info(folder / "schools.shp")["fields"])
    assert {"学校名称", "学位数", "班级数"} <= set(fields), fields
    d = read_district(folder)
    want = tiny_town()
    assert d.n_cells == want.n_cells and d.n_schools == want.n_schools
    assert list(d.schools["name"]) == list(want.schools["name"])
    assert d.schools["seats"].tolist() == pytest.approx(want.schools["seats"].tolist())
    assert sorted(d.zones["zone_id"]) == sorted(want.zones["zone_id"])
