"""Backtest: the csr yardstick by hand, the ECASD tables of issue 17, honest intervals, errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import schoolmap
from schoolmap.backtest import DISTRICT, backtest, births_from_cells, read_enrolment_history
from schoolmap.cli import main
from schoolmap.errors import ValidationError

ROOT = Path(__file__).resolve().parents[1]
ECASD = ROOT / "data" / "history" / "ecasd"
DEMO_GPKG = ROOT / "data" / "geo" / "demo.gpkg"


def toy() -> tuple[pd.DataFrame, dict[int, float]]:
    """Three schools, grades K and 1, 2018–2021; C opens in 2020. Births 2013–2016."""
    counts = {  # school: {year: (K, grade 1)}
        "A": {2018: (20, 18), 2019: (24, 18), 2020: (22, 24), 2021: (21, 21)},
        "B": {2018: (50, 40), 2019: (60, 55), 2020: (66, 60), 2021: (55, 70)},
        "C": {2020: (30, 25), 2021: (30, 30)},
    }
    rows = [(s, y, g, float(n)) for s, years in counts.items() for y, kg in years.items()
            for g, n in zip(("K", "1"), kg, strict=True)]
    frame = pd.DataFrame(rows, columns=["school", "year", "grade", "students"])
    return frame, {2013: 100.0, 2014: 120.0, 2015: 110.0, 2016: 100.0}


def test_csr_by_hand_on_three_schools():
    frame, births = toy()
    bt = backtest(frame, births, origins=[2020], horizons=[1], methods="csr")
    got = bt.table.set_index("school")["forecast"]
    # A: K/births 20/100, 24/120, 22/110 = 0.2 → K 2021 = 0.2 × births 2016 (100) = 20;
    #    K→1 ratios 18/20 = 0.9, 24/24 = 1.0 → 0.95 × 22 = 20.9
    assert got["A"] == pytest.approx(20.0 + 20.9)
    # B: K/births 0.5, 0.5, 0.6 → 0.5333 × 100; ratios 55/50 = 1.1, 60/60 = 1.0 → 1.05 × 66
    assert got["B"] == pytest.approx(160 / 3 + 69.3)
    # C opened in 2020: no transition yet, no forecast; the district is the sum of A and B
    assert "C" not in got.index
    assert got[DISTRICT] == pytest.approx(40.9 + 160 / 3 + 69.3)
    assert bt.table.set_index("school").loc[DISTRICT, "actual"] == 227.0
    s = bt.summary.set_index("level")
    # level "school": the schools counted every year (A, B); "school_all" would add C if it
    # had a forecast
    ape_a, ape_b = abs(40.9 - 42) / 42, abs(160 / 3 + 69.3 - 125) / 125
    assert s.loc["school", "mape_pct"] == pytest.approx(100 * (ape_a + ape_b) / 2)
    assert s.loc["district", "bias_pct"] == pytest.approx(
        100 * (40.9 + 160 / 3 + 69.3 - 227) / 227)
    assert any("C" in note for note in bt.notes)


def test_schoolmap_adds_up_and_handles_new_and_chinese_grades():
    # primary 1–6 and a junior 7–9 school, no births (flat-births fallback)
    rng = np.random.default_rng(7)
    rows = []
    for y in range(2019, 2025):
        for g in range(1, 7):
            rows.append(("P1", y, g, 100.0 + rng.integers(-5, 6)))
            rows.append(("P2", y, g, 40.0 + rng.integers(-3, 4)))
        for g in range(7, 10):
            rows.append(("J1", y, g, 135.0 + rng.integers(-5, 6)))
    frame = pd.DataFrame(rows, columns=["school_id", "year", "grade", "students"])
    bt = backtest(frame, origins="2021:2023", horizons="1:2")
    sm = bt.table[bt.table["method"] == "schoolmap"]
    for (_, _), grp in sm.groupby(["origin", "horizon"]):
        schools = grp[grp["school"] != DISTRICT]
        assert schools["forecast"].sum() == pytest.approx(
            grp.loc[grp["school"] == DISTRICT, "forecast"].iloc[0])
    assert set(sm["school"]) == {"P1", "P2", "J1", DISTRICT}
    assert (sm["forecast"] > 0).all()
    assert any("no births given" in n for n in bt.notes)
    # the junior school stays a junior school and P2 stays small
    last = sm[(sm["origin"] == 2023) & (sm["horizon"] == 1)].set_index("school")["forecast"]
    assert 350 < last["J1"] < 460 and 200 < last["P2"] < 290


def test_ecasd_cli_reproduces_the_yardstick_and_schoolmap_beats_it(tmp_path):
    out = tmp_path / "bt"
    args = ["backtest", str(ECASD / "enrolment.csv"), "--births", str(ECASD / "births.csv"),
            "--origins", "2001:2013", "--horizons", "1:5", "--split", "2008", "--out", str(out),
            "--quiet"]
    assert main(args) == 0
    summary = pd.read_csv(out / "backtest_summary.csv")
    table = pd.read_csv(out / "backtest.csv")
    assert list(table.columns) == ["origin", "horizon", "year", "school", "method", "forecast",
                                   "actual", "p10", "p90"]
    full = summary[summary["origins"] == "2001–2013"].set_index(["method", "level", "horizon"])
    mape = full["mape_pct"]
    # issue 17: district 1.9 / 2.4 / 2.4 / 2.5 / 3.2 %, school 5.5 / 7.9 / 9.4 / 9.7 / 9.6 %
    for h, (d, s) in enumerate(zip([1.9, 2.4, 2.4, 2.5, 3.2], [5.5, 7.9, 9.4, 9.7, 9.6],
                                   strict=True), start=1):
        assert abs(mape["csr", "district", h] - d) <= 0.1, h
        assert abs(mape["csr", "school", h] - s) <= 0.1, h
        assert mape["schoolmap", "school", h] < mape["csr", "school", h]
    sm = full.loc["schoolmap", "school"]
    coverage = (sm["coverage_p10_p90"] * sm["n_interval"]).sum() / sm["n_interval"].sum()
    assert 0.75 <= coverage <= 0.85
    assert set(summary["origins"]) == {"2001–2013", "2001–2008", "2009–2013"}
    page = (out / "backtest.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "http" not in page.replace(
        "http-equiv", "")
    # deterministic: a second run writes the same bytes (and may replace its own folder)
    first = {f: (out / f).read_bytes() for f in ("backtest.csv", "backtest_summary.csv",
                                                  "backtest.html")}
    assert main(args) == 0
    assert first == {f: (out / f).read_bytes() for f in first}


def test_intervals_and_forecasts_never_see_the_future():
    frame = read_enrolment_history(ECASD / "enrolment.csv")
    births = ECASD / "births.csv"
    base = backtest(frame, births, origins=[2005], horizons="1:3")
    changed = frame.copy()
    later = changed["year"] > 2005
    changed.loc[later, "students"] = changed.loc[later, "students"] * 1.5
    other = backtest(changed, births, origins=[2005], horizons="1:3")
    cols = ["origin", "horizon", "school", "method", "forecast", "p10", "p90"]
    pd.testing.assert_frame_equal(base.table[cols], other.table[cols])
    assert base.table["p10"].notna().all()
    assert (base.table["p10"] <= base.table["forecast"]).all()
    assert (base.table["forecast"] <= base.table["p90"]).all()


def test_demo_district_runs_with_and_without_births(tmp_path):
    assert main(["backtest", str(DEMO_GPKG), "--origins", "2022:2024", "--horizons", "1:3",
                 "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    summary = pd.read_csv(tmp_path / "demo" / "backtest_summary.csv")
    assert set(summary["method"]) == {"csr", "schoolmap"}
    import pyogrio

    cells = pyogrio.read_dataframe(DEMO_GPKG, layer="cells", read_geometry=False)
    bt = schoolmap.backtest(DEMO_GPKG, births_from_cells(cells, 2026), origins="2022:2024",
                            horizons="1:3")
    school = bt.summary[bt.summary["level"] == "school"]
    assert (school["mape_pct"] < 10).all()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("content", "births", "extra", "expected"), [
    ("school_id,year,grade,students\nA,2001,K,10\nA,2001,1,abc\n", None, [],
     r"bad\.csv: column 'students' is not a number ≥ 0 on line\(s\) 3 \(e\.g\. 'abc'\)"),
    ("school_id,year,grade,pupils\nA,2001,K,10\n", None, [],
     r"bad\.csv: column\(s\) 'students' missing"),
    ("school_id,year,grade,students\nA,2001,Q,10\nA,2001,K,x\n", None, [],
     r"column 'grade' is not a grade on line\(s\) 2.*\n.*column 'students'.*line\(s\) 3"),
    ("school_id,year,grade,students\nA,2001,K,10\nA,2001,K,11\nA,2002,K,9\nA,2003,K,9\n",
     None, [], r"grade K appears more than once \(lines 2, 3\)"),
    ("school_id,year,grade,students\nA,2001,K,10\nA,2003,K,11\nA,2004,K,9\n", None, [],
     r"no rows for year\(s\) 2002"),
    (None, "year,births\n1995,100\n1996,x\n", [],
     r"births\.csv: column 'births' is not a number ≥ 0 on line\(s\) 3"),
    (None, "year,births\n1995,100\n", [],
     r"no births known for the pupils of grade K in \d{4}–\d{4}"),
    (None, None, ["--methods", "csr,magic"], r"unknown method\(s\) 'magic'"),
    (None, None, ["--origins", "1990:2001"], r"origins must lie in 1999–2013"),
])
def test_bad_input_is_explained_without_a_traceback(tmp_path, capsys, content, births, extra,
                                                    expected):
    enrolment = (ECASD / "enrolment.csv" if content is None
                 else _write(tmp_path / "bad.csv", content))
    args = ["backtest", str(enrolment), "--out", str(tmp_path / "out"), *extra]
    if births is not None:
        args += ["--births", str(_write(tmp_path / "births.csv", births))]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(expected, err, flags=re.S), err
    assert not (tmp_path / "out").exists()


def test_missing_file_and_python_door_errors(tmp_path):
    with pytest.raises(ValidationError, match=r"nowhere\.csv: no such file"):
        backtest(tmp_path / "nowhere.csv")
    frame, births = toy()
    with pytest.raises(ValidationError, match="horizons must be whole numbers ≥ 1"):
        backtest(frame, births, horizons=[0])
