"""Static maps (issue 18): one labelled PNG per level beside the report, embedded in it, printed
instead of the interactive map; the same bytes twice; Chinese words with a CJK font."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from matplotlib import image

from schoolmap.i18n import STATIC_MAP_TEXT
from schoolmap.outputs import write_results
from schoolmap.present.charts import cjk_font
from schoolmap.present.maps.static import STATIC_MAP_DPI, STATIC_MAP_SIZE_IN, static_maps
from schoolmap.scenario import Scenario, run_scenario


def _run(town, lang: str):
    sc = Scenario(name="tiny", district=town.source, base_year=2026, horizon=0,
                  levels=("primary", "junior"), methods=("catchment", "nearest"),
                  tiles="none", lang=lang)
    return run_scenario(sc, town)


def test_one_png_per_level_sized_non_blank_beside_and_in_the_report(town, tmp_path):
    result = _run(town, "en")
    folder = write_results(result, tmp_path / "out")
    width, height = (round(v * STATIC_MAP_DPI) for v in STATIC_MAP_SIZE_IN)
    for level in ("primary", "junior"):
        png = (folder / f"map_{level}.png").read_bytes()
        pixels = image.imread(io.BytesIO(png), format="png")
        assert pixels.shape[:2] == (height, width)
        rgb = np.round(pixels[..., :3] * 255).astype(np.int64) @ np.array([65536, 256, 1])
        assert len(np.unique(rgb)) > 20  # zones, schools, legend, text: not a blank page
        assert (rgb != 0xFFFFFF).mean() > 0.1  # ink on more than a tenth of the page
    report = (folder / "report.html").read_text(encoding="utf-8")
    figures = re.findall(r'<figure class="static-map" data-level="(\w+)"><img alt="[^"]*" '
                         r'src="data:image/png;base64,', report)
    assert figures == ["primary", "junior"]
    # printed: A4, the interactive map hidden, one static map per page
    assert "@page {size: A4;" in report
    css = report[report.index("@media print"):]
    assert "iframe.map, .map-link {display: none;}" in css
    assert "figure.static-map {break-before: page;" in css


def test_static_maps_are_the_same_bytes_twice_and_dated_by_the_base_year(town):
    result = _run(town, "en")
    assert static_maps(result) == static_maps(result)
    assert STATIC_MAP_TEXT["en"]["date"].format(year=2026, next="27") == \
        "School year 2026/27 (base year)"


@pytest.mark.skipif(cjk_font() is None, reason="needs a CJK font (fonts-noto-cjk)")
def test_chinese_static_map_differs_from_the_english_one(town):
    result = _run(town, "zh")
    zh, en = static_maps(result, lang="zh"), static_maps(result, lang="en")
    assert zh.keys() == en.keys() == {"primary", "junior"}
    assert all(zh[k] != en[k] for k in zh)
    words = " ".join(str(v) for v in STATIC_MAP_TEXT["zh"].values()).format(year=2026, next=27)
    assert not re.findall(r"[A-Za-z]{2,}", words)  # no English word in the Chinese legend
