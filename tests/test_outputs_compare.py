"""``schoolmap compare`` over N scenarios (issue 18): compare.csv, compare.xlsx and a chart,
in the run's language, byte-identical for identical inputs."""

from __future__ import annotations

import io

import numpy as np
import openpyxl
import pandas as pd
import pytest
from PIL import Image

from schoolmap.cli import main

BASE = ('district = "town.gpkg"\nbase_year = 2026\nhorizon = 8\nlevels = ["primary"]\n'
        'methods = ["catchment"]\n')


@pytest.fixture
def three(town_gpkg):
    base = town_gpkg.parent
    extras = {"a": "", "b": "[forecast]\nbirths_change = 0.5\n",
              "c": "[forecast]\nbirths_change = -0.3\n"}
    for name, extra in extras.items():
        (base / f"{name}.toml").write_text(f'name = "{name}"\n' + BASE + extra, encoding="utf-8")
    return [base / f"{n}.toml" for n in extras]


def test_compare_three_scenarios_writes_table_workbook_and_chart(three, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", *map(str, three), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "a (A) vs b (B) vs c (C)" in printed and "方案对比已写入" in printed  # 6+3: Chinese
    assert "缺口 C − A" in printed
    table = pd.read_csv(out / "compare.csv")
    assert table["scenario"].tolist()[:3] == ["a", "b", "c"]
    assert len(table) == 9 * 3 and set(table["level"]) == {"primary"}
    ref = table[table["scenario"] == "a"]
    assert (ref["shortfall_vs_reference"] == 0).all()
    b = table[table["scenario"] == "b"].set_index("year")
    a = ref.set_index("year")
    assert (b["shortfall_vs_reference"] == b["shortfall_at_schools"] - a["shortfall_at_schools"]
            ).all()
    assert b.loc[2034, "demand"] > a.loc[2034, "demand"]  # 50 % more births reach primary
    assert pd.api.types.is_integer_dtype(table["demand"])
    sheet = openpyxl.load_workbook(out / "compare.xlsx")["方案对比"]
    assert [c.value for c in sheet[1]][:4] == ["学段", "学年", "方案", "学生需求"]
    png = Image.open(io.BytesIO((out / "compare.png").read_bytes()))
    assert png.size[0] >= 700 and np.asarray(png.convert("L")).std() > 5  # drawn, not blank
    before = {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")}
    assert main(["compare", *map(str, three), "--out", str(out), "--lang", "en"]) == 0
    assert "Comparison written to" in capsys.readouterr().out
    assert (out / "compare.csv").read_bytes() == before["compare.csv"]  # the table: no words
    sheet = openpyxl.load_workbook(out / "compare.xlsx")["compare"]
    assert [c.value for c in sheet[1]][:3] == ["level", "year", "scenario"]


def test_compare_needs_two_scenarios(three, capsys):
    assert main(["compare", str(three[0])]) != 0
    assert "two or more scenario files" in capsys.readouterr().err
