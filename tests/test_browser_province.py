"""The province map of ``schoolmap batch`` in a real browser, with the network cut off.

Uses the headless chromium driver of ``test_browser.py``; skipped without chromium.
"""

from __future__ import annotations

import pytest

from schoolmap.distributed import PROVINCE_SHORTFALL_COLOURS, read_manifest, run_batch, write_batch

from .test_browser import CHROMIUM, Browser, eventually, n_colours
from .test_distributed import make_batch

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    d = tmp_path_factory.mktemp("province")
    make_batch(d)
    manifest = read_manifest(d / "manifest.toml")
    result = run_batch(manifest.tasks())
    return result, write_batch(result, d / "out", manifest)


def test_province_map_draws_offline_with_a_layer_per_scenario(province, tmp_path):
    result, folder = province
    browser = Browser(tmp_path)
    try:
        page = browser.open(folder / "province_map.html")
        assert page.errors() == []
        assert all(u.startswith(("file:", "data:")) for u in page.requested())

        def paths() -> int:
            return page.evaluate("document.querySelectorAll('.leaflet-overlay-pane path').length")

        assert paths() == 3  # the first scenario's three districts
        fills = page.evaluate("[...document.querySelectorAll('.leaflet-overlay-pane path')]"
                              ".map(p => p.getAttribute('fill'))")
        assert set(fills) <= set(PROVINCE_SHORTFALL_COLOURS) and len(set(fills)) >= 2
        labels = page.evaluate("[...document.querySelectorAll("
                               "'.leaflet-control-layers-overlays label')]"
                               ".map(l => l.textContent.trim())")
        assert labels == ["base · 学位缺口", "low · 学位缺口"]  # one language: the batch's
        page.click("document.querySelectorAll('.leaflet-control-layers-overlays input')[1]")
        assert eventually(lambda: paths() == 6)
        legend = page.evaluate("document.querySelector('.schoolmap-legend').textContent")
        worst = result.totals.groupby(["district", "scenario"])["shortfall_at_schools"].sum()
        district, scenario = worst.idxmax()
        assert f"1. {district} ({scenario})" in legend
        shot = page.screenshot({"x": 320, "y": 60, "width": 900, "height": 780})
        assert n_colours(shot) > 3
        page.click("document.querySelectorAll('.leaflet-overlay-pane path')[0]")
        assert eventually(lambda: page.evaluate(
            "document.querySelectorAll('.leaflet-popup-content').length") == 1)
        popup = page.evaluate("document.querySelector('.leaflet-popup-content').textContent")
        assert "小学" in popup and "合计" in popup and "all levels" not in popup
        page.close()
    finally:
        browser.close()
