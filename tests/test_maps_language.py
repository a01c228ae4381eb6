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
