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
