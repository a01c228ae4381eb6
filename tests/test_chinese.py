"""Chinese throughout (issue 18): a Chinese run's report holds no English word outside names,
ids, units and file names, its chart and map words neither; an English run's report holds no
Chinese outside names."""

from __future__ import annotations

import html
import re

from schoolmap.i18n import MAP_UI, REPORT_TEXT, STATIC_MAP_TEXT
from schoolmap.present.report import report_html
from schoolmap.scenario import Scenario, run_scenario

#: Words allowed in a Chinese page: the product, units, percentiles, file names and the
#: solver's name.
ALLOWED = {"schoolmap", "km", "HiGHS", "html", "png", "map", "csv", "json", "gpkg", "summary",
           "results", "P10", "P50", "P90", "kindergarten", "primary", "junior"}


def _visible_text(page: str) -> str:
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r'(src|srcdoc|href)="[^"]*"', " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _run(town, lang: str):
    sc = Scenario(name="tiny", district=town.source, base_year=2026, horizon=3,
                  levels=("kindergarten", "primary"), methods=("catchment", "nearest", "optimal"),
                  tiles="none", lang=lang)
    return run_scenario(sc, town)


def _names(result) -> set[str]:
    """Every name and id of the data (shown as they are in either language)."""
    out = {result.scenario.name}
    for table in (result.district.schools, result.zones):
        for column in ("name", "school_id", "zone_id"):
            if column in table.columns:
                out |= {str(v) for v in table[column].dropna()}
    return out


def _english_words(text: str, names: set[str]) -> list[str]:
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    words = re.findall(r"[A-Za-z][A-Za-z_]+", text)
    # the notes' file names (map_primary.png) split into words the allowed list knows
    return [w for w in words if w not in ALLOWED and not re.fullmatch(r"[A-Z]\d*", w)]


def test_chinese_report_has_no_english_words_outside_names_and_units(town):
    result = _run(town, "zh")
    text = _visible_text(report_html(result))
    assert _english_words(text, _names(result)) == []
    assert "学位供需报告" in text


def test_english_report_has_no_chinese_outside_names(town):
    result = _run(town, "en")
    text = _visible_text(report_html(result))
    for name in _names(result):
        text = text.replace(name, " ")
    assert re.findall(r"[\u4e00-\u9fff]+", text) == []


def test_chinese_words_of_charts_maps_and_controls_are_chinese():
    """Chart titles, axes and legends come from REPORT_TEXT (``report.t``); the static maps'
    and the map controls' words from their tables: none may carry an English word."""
    words = [v["zh"] for v in REPORT_TEXT.values() if v.get("zh")]
    words += [str(v) for v in STATIC_MAP_TEXT["zh"].values()] + list(MAP_UI["zh"].values())
    found = {w for text in words
             for w in re.findall(r"[A-Za-z][A-Za-z_]+", re.sub(r"\{\w+\}", " ", text))}
    files = {"admission", "admission_cells", "admission_classes", "admission_quotas"}  # names
    assert found <= ALLOWED | files | {"euclidean", "walk", "drive", "fonts", "noto", "cjk",
                                       "move_weight", "seat_price_m"}, sorted(found - ALLOWED)


def _drawn_words(monkeypatch, draw) -> list[str]:
    """Every text matplotlib draws into the PNGs ``draw()`` makes (titles, axes, ticks,
    legends, labels): each ``Text`` read as it is drawn, then drawn as always (the real
    ``Text.draw`` runs; texts of hidden axes are never drawn, so never read)."""
    from matplotlib.text import Text

    seen: list[str] = []
    real = Text.draw

    def reading(self, renderer):
        if self.get_visible():
            seen.append(self.get_text())
        return real(self, renderer)

    monkeypatch.setattr(Text, "draw", reading)
    draw()
    return [s for s in seen if s.strip()]


def test_chinese_charts_and_static_maps_draw_no_english_words(town, monkeypatch):
    """The PNGs of a Chinese run — the report's charts and the static maps — as drawn: no
    English word outside names, ids and units (needs a CJK font: fonts-noto-cjk)."""
    from schoolmap.present.charts import cjk_font
    from schoolmap.present.maps.static import static_maps

    assert cjk_font() is not None, "no CJK font found (apt-get install fonts-noto-cjk)"
    result = _run(town, "zh")
    words = _drawn_words(monkeypatch, lambda: (report_html(result), static_maps(result)))
    assert len(words) > 40  # titles, axes, ticks, legends and labels of every figure
    text = re.sub(r"\$|\\", " ", " ".join(words))
    assert _english_words(text, _names(result)) == []
    assert any("学位" in w for w in words) and any("学区" in w for w in words)


def test_english_charts_and_static_maps_draw_no_chinese(town, monkeypatch):
    from schoolmap.present.maps.static import static_maps

    result = _run(town, "en")
    words = _drawn_words(monkeypatch, lambda: (report_html(result), static_maps(result)))
    text = " ".join(words)
    for name in _names(result):
        text = text.replace(name, " ")
    assert re.findall(r"[\u4e00-\u9fff]+", text) == []
    assert "Seats" in text or "seats" in text
