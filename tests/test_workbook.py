"""results.xlsx and the CSVs people open: headers in the run's language, frozen header row,
number formats, identical bytes on identical inputs; BOM; whole students that add up."""

from __future__ import annotations

import hashlib

import numpy as np
import openpyxl
import pandas as pd

from schoolmap.i18n import column_header
from schoolmap.io.workbook import round_whole, write_csv, write_xlsx


def _tables() -> dict[str, pd.DataFrame]:
    return {"学校": pd.DataFrame({"school_id": ["P01", "P02"], "name": ["城关小学", "东门小学"],
                                 "seats": [900.0, 450.0], "demand": [1096.2, 301.4],
                                 "utilisation": [1.218, 0.67], "year": [2026, 2026]})}


def test_workbook_headers_formats_and_frozen_row(tmp_path):
    tables = _tables()
    headers = {c: column_header(c, "zh") for c in tables["学校"].columns}
    write_xlsx(tables, tmp_path / "r.xlsx", headers=headers, year=2026)
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    ws = wb["学校"]
    assert [c.value for c in ws[1]] == ["学校编号", "名称", "学位数", "学生需求", "学位使用率",
                                        "学年"]
    assert ws.freeze_panes == "A2"
    assert ws["B2"].value == "城关小学" and ws["D2"].value == 1096.2
    assert ws["C2"].number_format == "#,##0" and ws["D2"].number_format == "#,##0.0"
    assert ws["E2"].number_format == "0.0%" and ws["F2"].number_format == "0"
    assert ws.column_dimensions["B"].width >= 10  # four CJK characters count as eight
    assert wb.properties.created.year == 2026 and wb.properties.modified.year == 2026


def test_workbook_bytes_identical_across_runs(tmp_path):
    digests = set()
    for i in range(2):
        write_xlsx(_tables(), tmp_path / f"{i}.xlsx", year=2026)
        digests.add(hashlib.sha256((tmp_path / f"{i}.xlsx").read_bytes()).hexdigest())
    assert len(digests) == 1


def test_csv_bom_by_default_and_optional(tmp_path):
    write_csv(_tables()["学校"], tmp_path / "a.csv")
    write_csv(_tables()["学校"], tmp_path / "b.csv", bom=False)
    assert (tmp_path / "a.csv").read_bytes().startswith(b"\xef\xbb\xbfschool_id,")
    assert (tmp_path / "b.csv").read_bytes().startswith(b"school_id,")
    assert list(pd.read_csv(tmp_path / "a.csv").columns)[0] == "school_id"


def test_round_whole_keeps_the_total():
    rng = np.random.default_rng(18)
    x = rng.uniform(0, 300, 97)
    r = round_whole(x)
    assert np.all(r == np.round(r)) and r.sum() == round(x.sum())
    assert np.all(np.abs(r - x) < 1.0)
    assert np.isnan(round_whole([1.5, np.nan, 2.5])[1])


def test_run_writes_results_xlsx_in_the_runs_language(town_gpkg):
    """Through the scenario runner on the tiny town: results.xlsx has the run's Chinese
    headers and is byte-identical on a second run."""
    from schoolmap.run.outputs import write_results
    from schoolmap.run.scenario import load_scenario, run_scenario

    path = town_gpkg.parent / "town.toml"
    path.write_text('district = "town.gpkg"\nbase_year = 2026\nlevels = ["primary"]\n'
                    'methods = ["catchment"]\nlang = "zh"\n[map]\ntiles = "none"\n',
                    encoding="utf-8")
    sc = load_scenario(path)
    result = run_scenario(sc)
    digests = []
    for name in ("a", "b"):
        folder = write_results(result, town_gpkg.parent / name)
        digests.append(hashlib.sha256((folder / "results.xlsx").read_bytes()).hexdigest())
    wb = openpyxl.load_workbook(folder / "results.xlsx")
    assert "学校" in wb.sheetnames and "全区" in wb.sheetnames
    head = [c.value for c in wb["学校"][1]]
    assert head[:2] == ["学校编号", "名称"] and "学位缺口" in head
    assert digests[0] == digests[1]
    assert (folder / "schools.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_workbook_keeps_awkward_values_and_names(tmp_path):
    """The SpreadsheetML written directly: XML characters, control characters, spaces,
    booleans, NaN, large and fractional numbers, long and clashing sheet names."""
    table = pd.DataFrame({"name": ["<a> & \"b\"", " 前后空格 ", "bell\x07"],
                          "flag": [True, False, True], "value": [np.nan, 1e17, 0.1 + 0.2],
                          "n": [1, 2, 3]})
    write_xlsx({"x" * 40: table, "x" * 31 + "y": table, "a/b": table}, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "w.xlsx")
    assert wb.sheetnames == ["x" * 31, "x" * 30 + "2", "a_b"]
    rows = list(wb.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert rows == [("<a> & \"b\"", True, None, 1), (" 前后空格 ", False, 1e17, 2),
                    ("bell", True, 0.1 + 0.2, 3)]
    assert pd.read_excel(tmp_path / "w.xlsx", sheet_name=None)["a_b"].shape == (3, 4)
    write_xlsx({}, tmp_path / "e.xlsx")
    assert openpyxl.load_workbook(tmp_path / "e.xlsx").sheetnames == ["empty"]
