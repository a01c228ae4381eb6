"""report.html: content, language, escaping, offline self-containment; --lang and `lang`."""

from __future__ import annotations

import base64
import dataclasses
import html
import re

import pytest

from schoolmap.cli import main
from schoolmap.errors import ValidationError
from schoolmap.io.district import district_from_frames
from schoolmap.outputs import OUTPUT_FILES, write_results
from schoolmap.present import charts, report
from schoolmap.present.report import render_report, report_html
from schoolmap.scenario import Scenario, load_scenario, run_scenario, scenario_from_dict
from schoolmap.testing import tiny_town, tiny_town_layers

from .test_maps import NOT_FETCHED, OSM_TILES, remote_resources

HOSTILE = "<script>alert(1)</script>"

SCENARIO = """
name = "town"
district = "town.gpkg"
base_year = 2026
levels = ["primary", "junior"]
methods = ["catchment", "optimal"]
output = "out/town"
[map]
tiles = "none"
"""


def town_result(lang=None, methods=("catchment", "nearest", "optimal"), district=None):
    town = district or tiny_town()
    sc = Scenario(name="town", district=town.source, base_year=2026,
                  levels=("kindergarten", "primary", "junior"), methods=methods, lang=lang,
                  description="Tiny town & <friends>")
    return run_scenario(sc, town)


def urls(text: str) -> set[str]:
    return set(re.findall(r"https?://[^\s\"'`<>()\\]+", text))


def images(text: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', text)]


def test_english_report_has_norms_headline_tables_charts_and_notes():
    page = report_html(town_result(lang="en"))
    for heading in ("Headline figures", "Norms used", "Charts", "Schools shortest of seats",
                    "Catchments", "Notes"):
        assert f"<h2>{heading}</h2>" in page
    assert '<html lang="en">' in page
    # headline: P1 is 96 seats short by catchment; its six 大班额 classes are 6 of 18 (P1 + P2)
    totals = page[page.index('<table class="totals">'):]
    totals = totals[:totals.index("</table>")]
    primary = re.search(r"<tr><td class=\"l\">primary</td><td class=\"l\">catchment</td>"
                        r"(.*?)</tr>", totals).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", primary)
    assert cells[:5] == ["396", "810", "96", "0", "1/2"]
    assert cells[5].startswith("33.3 %") and "above target" in cells[5]
    assert "target ≤ 5 %" in totals and "target ≤ 2 %" in totals
    # norms: the primary class size and radius
    assert "45, 45, 45, 45, 45, 45" in page and ">500<" in page
    # the school short of seats, with its name; every school in the full table
    tops = re.findall(r'<table class="top-schools">.*?</table>', page)
    assert len(tops) == 3 and "城东小学" in tops[1] and "P2" not in tops[1]
    assert len(re.findall(r"<tr data-school-id=", page)) == 4  # K1, P1, P2, J1
    assert len(re.findall(r"<tr data-zone-id=", page)) == 3
    # charts: demand/seats, bands, forecast by year (horizon 10), seat prices (optimal present)
    pngs = images(page)
    assert len(pngs) == 4 and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert "no kindergarten zones" in page  # the run's notes
    assert "Tiny town &amp; &lt;friends&gt;" in page


def test_chinese_is_the_default_for_chinese_grade_systems():
    page = report_html(town_result())
    assert '<html lang="zh-CN">' in page
    assert "<h1>学位供需报告 · town</h1>" in page and "<h2>采用的规划标准</h2>" in page
    assert ">小学</td><td class=\"l\">划片</td>" in page
    assert "目标 ≤ 5 %" in page
    assert "未找到中文字体" not in page or charts.cjk_font() is None


def test_without_a_cjk_font_charts_fall_back_to_english_with_a_note(monkeypatch):
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    page = report_html(town_result(lang="zh"))  # filterwarnings=error: no glyph warning leaks
    assert "未找到中文字体 (如 fonts-noto-cjk), 图表标签使用英文。" in page
    assert len(images(page)) == 4


def test_hostile_names_are_escaped(town_layers):
    layers = tiny_town_layers()
    schools = layers["schools"]
    schools.loc[schools["school_id"] == "P1", "name"] = HOSTILE
    layers["zones"].loc[0, "name"] = '"><img src=x onerror=alert(2)>'
    result = town_result(lang="en", district=district_from_frames(layers, source="t"))
    result.notes.append(HOSTILE)
    page = report_html(result, map_html=f"<p>{HOSTILE}</p>")
    assert "<script" not in page and "<img src=x" not in page
    assert html.escape(HOSTILE) in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    # the map goes into srcdoc escaped once, so the frame shows it as the map wrote it
    assert 'srcdoc="&lt;p&gt;&lt;script&gt;' in page


def test_the_report_refers_to_nothing_outside_itself(tmp_path):
    result = town_result(lang="en")
    folder = write_results(result, tmp_path / "out")
    page = (folder / "report.html").read_text(encoding="utf-8")
    # the embedded map (tiles on) loads the tiles and nothing else from the network
    (srcdoc,) = re.findall(r'srcdoc="([^"]*)"', page)
    embedded = html.unescape(srcdoc)
    assert embedded == (folder / "map.html").read_text(encoding="utf-8")
    assert urls(embedded) - NOT_FETCHED == {OSM_TILES, "https://www.openstreetmap.org/copyright"}
    assert remote_resources(embedded) == [OSM_TILES]
    page_without_map = re.sub(r'srcdoc="[^"]*"', "", page)
    assert urls(page_without_map) == set()
    assert not re.search(r"<(?:script|img|link|iframe)\b[^>]*\b(?:src|href)=\"(?!data:)",
                         page_without_map)
    assert "report.html" in OUTPUT_FILES and (folder / "report.html").stat().st_size > 10_000


def test_render_report_is_atomic(tmp_path, monkeypatch):
    result = town_result(lang="en", methods=("catchment",))
    target = render_report(result, tmp_path / "report.html")
    before = target.read_bytes()
    assert b"Seat prices" not in before  # no optimal method, no seat-price chart

    def fail(*_args, **_kw):
        raise OSError("disk full")

    monkeypatch.setattr(report.os, "replace", fail)
    with pytest.raises(OSError):
        render_report(result, target, lang="zh")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_lang_setting_is_validated_and_defaults_by_grade_system():
    base = {"district": "x.gpkg", "base_year": 2026}
    assert scenario_from_dict(base).lang == "zh"
    assert scenario_from_dict({**base, "norms": {"grade_system": "5+4"}}).lang == "zh"
    assert scenario_from_dict({**base, "norms": {"grade_system": "us"}}).lang == "en"
    assert scenario_from_dict({**base, "lang": "en"}).lang == "en"
    with pytest.raises(ValidationError, match="lang must be one of 'zh', 'en'; got 'fr'"):
        scenario_from_dict({**base, "lang": "fr"})
    assert scenario_from_dict(base).to_dict()["lang"] == "zh"
    sc = Scenario(name="t", district=tiny_town().source, base_year=2026)
    assert sc.language == "zh" and dataclasses.replace(sc, lang="en").language == "en"


def test_cli_lang_switches_summary_and_report(town_gpkg, capsys):
    path = town_gpkg.parent / "town.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "全区合计" in out and "学校学位缺口" in out and "report.html" in out
    folder = load_scenario(path).output
    assert '<html lang="zh-CN">' in (folder / "report.html").read_text(encoding="utf-8")
    assert main(["run", str(path), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "District totals" in out and "unserved" in out and "全区合计" not in out
    assert '<html lang="en">' in (folder / "report.html").read_text(encoding="utf-8")


def test_us_grade_system_reports_in_english_with_us_level_names():
    from schoolmap.norms import default_norms

    town = tiny_town()
    sc = Scenario(name="us-town", district=town.source, base_year=2026, levels=("primary",),
                  methods=("catchment",),
                  norms=default_norms().with_overrides({"grade_system": "us"}))
    assert sc.language == "en"
    page = report_html(run_scenario(sc, town))
    assert '<html lang="en">' in page and ">elementary</td>" in page
    assert "大班额" not in page.split("<h2>Norms used</h2>")[0]  # English headline table


@pytest.mark.parametrize(("lang", "heading", "column"),
                         [("en", "Forecast methods compared", "Grade progression"),
                          ("zh", "预测方法比较", "年级升级比率法")])
def test_forecast_methods_table_in_both_languages(lang, heading, column):
    import pandas as pd

    from schoolmap.forecast import ForecastSettings

    layers = tiny_town_layers()
    layers["enrolment"] = pd.DataFrame(
        [("P1", y, g, 61) for y in (2024, 2025) for g in range(1, 7)]
        + [("P2", y, g, 5) for y in (2024, 2025) for g in range(1, 7)],
        columns=["school_id", "year", "grade", "students"])
    town = district_from_frames(layers)
    sc = Scenario(name="town", district=town.source, base_year=2026, horizon=2,
                  levels=("primary",), methods=("catchment",), lang=lang,
                  forecast=ForecastSettings(survival=1.0))
    page = report_html(run_scenario(sc, town))
    assert f"<h2>{heading}</h2>" in page and column in page
    table = page[page.index('<table class="forecast-methods">'):]
    table = table[:table.index("</table>")]
    # 66 children of every age, kept by every grade: both methods say 396 pupils each year
    assert table.count("<td>396</td>") == 6 and table.count("<tr>") == 4
    # without an enrolment history there is no such section
    assert "forecast-methods" not in report_html(town_result(lang=lang))
