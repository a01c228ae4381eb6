"""One language per map (issue 18): a Chinese run's ``map.html`` writes its legend, popups and
tooltips in Chinese only, an English run's in English only (names, ids and units aside)."""

from __future__ import annotations

import html
import json
import re

from schoolmap.i18n import MAP_TEXT
from schoolmap.present.maps import render_result_map
from schoolmap.scenario import Scenario, run_scenario
from tests.test_chinese import _english_words, _names


def _map_words(town, lang: str, tmp_path) -> tuple[str, set[str]]:
    """The words a reader of the map sees beside the map itself (legend, popups, tooltips,
    tooltip labels), as plain text, and the data's names."""
    sc = Scenario(name="tiny", district=town.source, base_year=2026, horizon=3,
                  levels=("kindergarten", "primary"), methods=("catchment", "nearest", "optimal"),
                  tiles="none", lang=lang)
    result = run_scenario(sc, town)
    page = render_result_map(result, tmp_path / "map.html").read_text(encoding="utf-8")
    parts = re.findall(r'<div class="schoolmap-box schoolmap-legend">(.*?)</details></div>', page)
    parts += re.findall(r"\.bind(?:Tooltip|Popup)\(\s*`(.*?)`", page, re.S)
    for labels in re.findall(r"let aliases = (\[.*?\]);", page):
        parts += json.loads(labels)
    assert len(parts) > 20  # legend, markers of two levels and methods, zones
    text = html.unescape(re.sub(r"<[^>]+>", " ", " ".join(parts)))
    return text, _names(result)


def test_chinese_map_legend_popups_and_tooltips_are_chinese_only(town, tmp_path):
    text, names = _map_words(town, "zh", tmp_path)
    assert _english_words(text, names) == []
    for word in ("学位缺口", "使用率", "大班额", "学位影子价格", "最优分配需求 (人)", "小学"):
        assert word in text


def test_english_map_legend_popups_and_tooltips_are_english_only(town, tmp_path):
    text, names = _map_words(town, "en", tmp_path)
    for name in names:
        text = text.replace(name, " ")
    assert re.findall(r"[\u4e00-\u9fff]+", text) == []
    for word in ("Shortfall", "Utilisation", "Large classes (56–65 students)", "Seat price"):
        assert word in text


def test_every_map_word_has_one_language_per_side():
    for english, chinese in MAP_TEXT.values():
        assert not re.search(r"[\u4e00-\u9fff]", english), english
        assert _english_words(re.sub(r"\{\w+\}", " ", chinese), set()) == [], chinese


def _province_words(lang: str) -> str:
    """The visible words of a province page (title, legend, layer names, popups, tooltips)
    of two districts × one scenario, one failed task."""
    import pandas as pd
    import shapely

    from schoolmap.present.maps.province import province_page

    totals = pd.DataFrame({
        "scenario": ["base"] * 4, "district": ["东区", "东区", "西区", "西区"],
        "level": ["primary", "junior"] * 2, "method": ["catchment"] * 4,
        "demand": [1200.0, 800.0, 300.0, 200.0], "seats": [1000.0, 900.0, 400.0, 250.0],
        "shortfall_at_schools": [250.0, 30.0, 0.0, 0.0],
        "share_classes_56_plus": [0.2, 0.0, 0.0, 0.0]})
    box = {d: shapely.to_wkb(shapely.box(120 + i, 30, 120.5 + i, 30.5))
           for i, d in enumerate(("东区", "西区"))}
    summary = {"name": "全省", "worst_by_shortfall": [
        {"district": "东区", "scenario": "base", "shortfall_at_schools": 280.0}],
        "worst_by_share_classes_56_plus": [
            {"district": "东区", "scenario": "base", "level": "primary",
             "share_classes_56_plus": 0.2}],
        "failures": [{"district": "北区", "scenario": "base"}]}
    page = province_page(totals, {("东区", "base"): (280.0, 0.1), ("西区", "base"): (0.0, 0.0)},
                         {("东区", "base"): {"peak_year": 2030,
                                            "peak_shortfall_at_schools": 400.0}},
                         box, summary, lang=lang)
    data = json.loads(page[page.index("const data = ") + 13:page.index(";\nconst map = ")])
    parts = [re.sub(r"<script>.*?</script>|<style>.*?</style>", " ", page, flags=re.S)]
    parts += [layer["name"] for layer in data["layers"]]
    parts += [p for layer in data["layers"] for p in layer["popup"] + layer["tip"]]
    return html.unescape(re.sub(r"<[^>]+>", " ", " ".join(parts)))


def test_province_page_has_one_language():
    """The province page of a batch: Chinese only under zh, English only under en (names of
    districts, scenarios and the batch aside)."""
    names = {"东区", "西区", "北区", "全省", "base"}
    zh = _province_words("zh")
    assert _english_words(zh, names) == []
    for word in ("学位缺口", "合计", "缺口最大年份", "图例", "失败", "小学", "划片"):
        assert word in zh
    en = _province_words("en")
    for name in names:
        en = en.replace(name, " ")
    assert re.findall(r"[\u4e00-\u9fff]+", en) == []
    for word in ("seats short", "all levels", "worst year", "Legend", "failed", "primary"):
        assert word in en
