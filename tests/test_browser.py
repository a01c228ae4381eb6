"""map.html and report.html of the demo run in a real browser, with the network cut off.

Debian's chromium runs headless behind a proxy where nothing listens (every network request
fails) and is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages ended by NUL on file descriptors 3 and 4, no websocket needed), so the tests can read
console errors and network requests, count what was drawn, click the layer switcher and take
screenshots. Skipped when chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from schoolmap.outputs import write_results
from schoolmap.scenario import load_scenario, run_scenario

from .conftest import DEMO_SCENARIO
from .test_maps import OSM_TILES, remote_resources

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="needs Debian's chromium (apt-get install chromium)")

HOSTILE = "<script>alert(1)</script>"
#: The demo scenario's language is Chinese (grade system 6+3): layer names such as "学校 – 小学".
LEVEL = {"kindergarten": "幼儿园", "primary": "小学", "junior": "初中"}
SCHOOLS, CATCHMENTS, PRICES, UNSERVED = "学校", "学区", "学位影子价格", "未获学位学生"
TILE_HOST = "tile.openstreetmap.org"
WIDTH, HEIGHT = 1280, 900


class Browser:
    """Headless chromium driven over the DevTools protocol on a pipe."""

    def __init__(self, folder: Path) -> None:
        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()
        self.log = folder / "chromium.log"
        args = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--no-default-browser-check",
            "--proxy-server=127.0.0.1:9",  # nothing listens there: every request fails
            f"--user-data-dir={folder / 'profile'}", "--enable-logging=stderr", "--v=0",
            f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", "--remote-debugging-pipe",
            "about:blank",
        ]
        with open(self.log, "wb") as log:
            # bash (dash takes no fd above 9) puts our pipe ends on fds 3 (in) and 4 (out)
            self.proc = subprocess.Popen(
                ["bash", "-c", f'exec "$0" "$@" 3<&{to_child} 4>&{from_child}', CHROMIUM, *args],
                pass_fds=(to_child, from_child), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=log)
        os.close(to_child)
        os.close(from_child)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        try:
            self._post("Browser.close")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)

    def _post(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        return self._id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium exited; see {self.log}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg = json.loads(raw)
        if "method" in msg:
            self.events.append(msg)
            if msg["method"] == "Target.attachedToTarget":  # a frame in its own process
                child = msg["params"]["sessionId"]
                for method in ("Runtime.enable", "Log.enable", "Network.enable",
                               "Runtime.runIfWaitingForDebugger"):
                    self._post(method, session=child)
        return msg

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        wanted = self._post(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if msg.get("id") == wanted:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def wait_for(self, method: str, session: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        if any(e["method"] == method and e.get("sessionId") == session for e in self.events):
            return
        while True:
            self._read(deadline)
            for e in self.events[seen:]:
                if e["method"] == method and e.get("sessionId") == session:
                    return
            seen = len(self.events)

    def open(self, path: Path, width: int = WIDTH) -> Page:
        """A new tab showing ``path`` in a window ``width`` pixels wide, loaded (load event
        fired, two frames drawn)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"]
        self.events.clear()
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.send(method, session=session)
        self.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True,
                                           "flatten": True}, session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": HEIGHT,
                                                         "deviceScaleFactor": 1,
                                                         "mobile": False}, session=session)
        self.send("Page.navigate", {"url": path.as_uri()}, session=session)
        self.wait_for("Page.loadEventFired", session, timeout=60)
        page = Page(self, session, target)
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        return page


class Page:
    def __init__(self, browser: Browser, session: str, target: str) -> None:
        self.browser, self.session, self.target = browser, session, target

    def evaluate(self, expression: str, context: int | None = None,
                 session: str | None = None) -> Any:
        params: dict[str, Any] = {"expression": expression, "returnByValue": True,
                                  "awaitPromise": True}
        if context is not None:
            params["contextId"] = context
        out = self.browser.send("Runtime.evaluate", params, session=session or self.session)
        if "exceptionDetails" in out:
            raise RuntimeError(f"{expression}: {out['exceptionDetails']}")
        return out["result"].get("value")

    def evaluate_in_frames(self, expression: str) -> list[Any]:
        """``expression`` in every frame's main world (iframes in or out of process)."""
        values = []
        for e in list(self.browser.events):
            if e["method"] != "Runtime.executionContextCreated":
                continue
            ctx = e["params"]["context"]
            if not ctx.get("auxData", {}).get("isDefault"):
                continue
            try:
                values.append(self.evaluate(expression, ctx["id"], e.get("sessionId")))
            except RuntimeError:  # a context gone since (about:blank before navigation)
                continue
        return values

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads, except the tile server's."""
        found = []
        for e in self.browser.events:
            p = e["params"]
            if e["method"] == "Runtime.exceptionThrown":
                found.append(json.dumps(p["exceptionDetails"])[:300])
            elif e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                found.append(json.dumps(p["args"])[:300])
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                if TILE_HOST not in p["entry"].get("url", "") + p["entry"]["text"]:
                    found.append(p["entry"]["text"])
        return found

    def requested(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.browser.events
                if e["method"] == "Network.requestWillBeSent"]

    def dialogs(self) -> list[str]:
        return [e["params"]["message"] for e in self.browser.events
                if e["method"] == "Page.javascriptDialogOpening"]

    def click(self, selector_js: str) -> None:
        """Click the middle of an element with the mouse, as a planner would.

        A folded group of the layer switcher holding the element is unfolded first (a click on
        its title, as a planner would). The element is scrolled into view only when it is not
        in view: centring it would also scroll the map's (overflow: hidden) container, which
        Leaflet scrolls back as soon as the pointer moves, so the click would land on another
        row of the layer switcher."""
        self.evaluate(f"(() => {{ let d = ({selector_js}).closest('details'); while (d) {{ "
                      "d.open = true; d = d.parentElement.closest('details'); } })()")
        box = self.evaluate(f"(() => {{ const el = {selector_js}; el.scrollIntoView("
                            "{block: 'nearest'}); const r = el.getBoundingClientRect(); "
                            "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.browser.send("Input.dispatchMouseEvent", {
                "type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
                session=self.session)
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def screenshot(self, clip: dict | None = None) -> np.ndarray:
        """The page as an (h, w, channels) array (PNG read by matplotlib)."""
        from matplotlib import image

        params: dict[str, Any] = {"format": "png"}
        if clip:
            params["clip"] = {**clip, "scale": 1}  # page coordinates, inside the viewport
        data = base64.b64decode(self.browser.send("Page.captureScreenshot", params,
                                                  session=self.session)["data"])
        return image.imread(io.BytesIO(data), format="png")

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})


def eventually(check, timeout: float = 15.0) -> bool:
    """Whether ``check()`` becomes true within ``timeout`` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def n_colours(pixels: np.ndarray) -> int:
    rgb = np.round(pixels[..., :3] * 255).astype(np.int64)
    return len(np.unique(rgb.reshape(-1, 3) @ np.array([65536, 256, 1])))


# -- the demo run, once ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo scenario run once, a crowded kindergarten (K24) renamed to a hostile string."""
    from schoolmap.io.district import read_district

    sc = load_scenario(DEMO_SCENARIO)
    district = read_district(sc.district, planning_crs=sc.planning_crs,
                             coordinate_system=sc.coordinate_system, input_crs=sc.input_crs)
    ids = district.schools.school_id
    worst = "K24" if (ids == "K24").any() else ids.iloc[0]
    district.schools.loc[ids == worst, "name"] = HOSTILE
    result = run_scenario(sc, district)
    folder = write_results(result, tmp_path_factory.mktemp("demo") / "out")
    return result, folder, worst


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium"))
    yield b
    b.close()


def headline(result):
    s = result.schools
    return s[s["method"] == result.scenario.methods[0]]


def test_map_draws_offline_with_layers_and_every_school_and_zone(demo, browser):
    result, folder, _ = demo
    page = browser.open(folder / "map.html")
    try:
        assert page.errors() == []
        requested = page.requested()
        assert requested[0] == (folder / "map.html").as_uri()
        assert all(u.startswith(("file:", "data:")) or TILE_HOST in u for u in requested)
        labels = page.evaluate("[...document.querySelectorAll("
                               "'.leaflet-control-layers-overlays label')]"
                               ".map(l => l.textContent.trim())")
        levels = result.scenario.levels
        for level in levels:
            assert f"{SCHOOLS} – {LEVEL[level]}" in labels
            assert f"{PRICES} – {LEVEL[level]}" in labels
        assert "学区 – 小学" in labels and "学区 – 初中" in labels
        assert f"{UNSERVED} – 小学" in labels  # zone ZP13's school is not open

        def count(pane: str) -> int:
            return page.evaluate(f"document.querySelectorAll('.leaflet-{pane}-pane path').length")

        rows = headline(result)
        n_by_level = rows.groupby("level").size()
        # only the main level (primary) is on: its schools and its zones
        assert count("overlay") == n_by_level["primary"]
        n_zones = result.zones.groupby("level").size()
        assert count("schoolmap_catchments") == n_zones["primary"]
        for level, kinds in (("kindergarten", (SCHOOLS,)), ("junior", (SCHOOLS, CATCHMENTS))):
            for kind in kinds:
                page.click(f"[...document.querySelectorAll('.leaflet-control-layers-overlays "
                           f"label')].find(l => l.textContent.trim() === '{kind} – {LEVEL[level]}')"
                           ".querySelector('input')")
        assert count("overlay") == len(rows)  # every school row of every level
        assert count("schoolmap_catchments") == len(result.zones)  # every zone
        pixels = page.screenshot()
        assert pixels.shape[:2] == (HEIGHT, WIDTH)
        assert n_colours(pixels[100:-100, 300:-300]) > 20  # zones and markers, not blank
    finally:
        page.close()


def test_map_opens_on_the_main_level_grouped_labelled_searchable(demo, browser):
    result, folder, _ = demo
    page = browser.open(folder / "map.html")
    try:
        assert page.errors() == []
        # the switcher: one group per level, the main level's (primary) unfolded
        groups = page.evaluate("[...document.querySelectorAll('.schoolmap-group')].map(d => "
                               "[d.querySelector('summary').textContent, d.open])")
        assert groups[:3] == [["幼儿园", False], ["小学", True], ["初中", False]]
        assert [g[0] for g in groups[3:]] == ["其他图层", "底图"]
        # the main level's zone polygons and schools drawn, nothing of the other levels
        n_zones = int((result.zones["level"] == "primary").sum())
        assert page.evaluate("document.querySelectorAll('.leaflet-schoolmap_catchments-pane "
                             "path').length") == n_zones
        assert page.evaluate(MARKERS) == int((headline(result).level == "primary").sum())
        # the legend folds; at 1280 px it opens unfolded
        assert page.evaluate("document.querySelector('.schoolmap-legend details').open")
        page.click("document.querySelector('.schoolmap-legend summary')")
        assert not page.evaluate("document.querySelector('.schoolmap-legend details').open")
        # a metric scale bar only
        assert page.evaluate("[...document.querySelectorAll('.leaflet-control-scale-line')]"
                             ".map(e => e.textContent)")[0].endswith(("m", "km"))
        assert page.evaluate("document.querySelectorAll('.leaflet-control-scale-line')"
                             ".length") == 1
        # no names at the opening zoom; zone names from zoom 13, school names from 15
        labels = "[...document.querySelectorAll('.schoolmap-label')].map(e => e.textContent)"
        assert page.evaluate(f"window.schoolmapMap.getZoom() < 13 ? {labels}.length : 0") == 0
        page.evaluate("new Promise(r => { window.schoolmapMap.once('zoomend', () => r()); "
                      "window.schoolmapMap.setZoom(13, {animate: false}); })")
        zone_names = set(result.zones.loc[result.zones["level"] == "primary", "name"])
        shown_zones = set(page.evaluate(labels))
        assert shown_zones and shown_zones <= zone_names
        # search: a school found by name, the map zoomed onto it, its name written there
        name = headline(result).query("level == 'junior'")["name"].iloc[0]
        page.evaluate(f"(() => {{ const i = document.querySelector('.schoolmap-search input'); "
                      f"i.value = {json.dumps(name)}; i.dispatchEvent(new Event('change')); }})()")
        assert eventually(lambda: page.evaluate("window.schoolmapMap.getZoom()") >= 15)
        assert eventually(lambda: name in page.evaluate(labels))
        assert page.evaluate(LAYER_BOX.format(json.dumps(f"{SCHOOLS} – 初中")) + ".checked")
        assert page.evaluate("!!document.querySelector('.schoolmap-fullscreen a')")
        assert page.errors() == []
    finally:
        page.close()
    # on a narrow screen (a phone, a half-width window) legend and switcher open folded
    page = browser.open(folder / "map.html", width=700)
    try:
        assert page.evaluate("[...document.querySelectorAll('.schoolmap-legend details, "
                             ".schoolmap-panel')].map(d => d.open)") == [False, False]
        legend = page.evaluate("document.querySelector('.schoolmap-legend')"
                               ".getBoundingClientRect().width")
        assert legend < 200
    finally:
        page.close()


def test_layer_switcher_clicks_hide_and_show_layers(demo, browser):
    result, folder, _ = demo
    page = browser.open(folder / "map.html")
    try:
        box = ("[...document.querySelectorAll('.leaflet-control-layers-overlays label')]"
               ".find(l => l.textContent.trim() === '{}').querySelector('input')")
        n_p = int((headline(result).level == "primary").sum())
        paths = "document.querySelectorAll('.leaflet-overlay-pane path').length"
        before = page.screenshot()
        page.click(box.format(f"{SCHOOLS} – 小学"))
        assert page.evaluate(paths) == 0
        assert not page.evaluate(box.format(f"{SCHOOLS} – 小学") + ".checked")
        after = page.screenshot()
        assert np.abs(before - after).max() > 0.1  # the markers went away on screen too
        page.click(box.format(f"{SCHOOLS} – 小学"))
        assert page.evaluate(paths) == n_p
        page.click(box.format(f"{PRICES} – 小学"))
        assert page.evaluate(paths) == 2 * n_p
        assert page.errors() == []
    finally:
        page.close()


def test_report_loads_offline_with_tables_charts_and_the_map(demo, browser):
    result, folder, _ = demo
    page = browser.open(folder / "report.html")
    try:
        assert page.errors() == []
        assert all(u.startswith(("file:", "data:", "about:")) or TILE_HOST in u
                   for u in page.requested())
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        rows = headline(result)
        assert page.evaluate("document.querySelectorAll('tr[data-school-id]').length") == len(rows)
        assert page.evaluate("new Set([...document.querySelectorAll('tr[data-school-id]')]"
                             ".map(r => r.dataset.schoolId)).size") == rows.school_id.nunique()
        assert page.evaluate("document.querySelectorAll('tr[data-zone-id]').length") == len(
            result.zones)
        charts = page.evaluate("[...document.querySelectorAll('img.chart')]"
                               ".map(i => i.complete && i.naturalWidth > 0)")
        assert charts == [True, True, True, True]  # demand, bands, forecast, seat prices
        # the embedded map drew its layer switcher and the primary schools
        frames: list = []

        def map_frames() -> bool:
            frames[:] = [v for v in page.evaluate_in_frames(
                "document.querySelector('.leaflet-control-layers') ? [...document."
                "querySelectorAll('.leaflet-control-layers-overlays label')].map(l => "
                "l.textContent.trim()).concat([document.querySelectorAll("
                "'.leaflet-overlay-pane path').length]) : null") if v]
            return len(frames) == 1

        assert eventually(map_frames)
        *labels, n_paths = frames[0]
        assert "学校 – 小学" in labels and "学区 – 初中" in labels
        assert n_paths == int((rows.level == "primary").sum())
        rect = page.evaluate("(() => { const f = document.querySelector('iframe.map'); "
                             "f.scrollIntoView(); const r = f.getBoundingClientRect(); "  # in view
                             "return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, "
                             "height: r.height}; })()")
        # the map is drawn inside the report (its frame may composite a moment later)
        assert eventually(lambda: n_colours(page.screenshot(clip=rect)) > 20)
        whole = page.screenshot()
        assert n_colours(whole) > 20
    finally:
        page.close()


def test_report_prints_the_static_maps_instead_of_the_interactive_one(demo, browser):
    result, folder, _ = demo
    page = browser.open(folder / "report.html")
    try:
        maps = ("[...document.querySelectorAll('figure.static-map img')].map(i => "
                "[i.closest('figure').dataset.level, i.complete && i.naturalWidth, "
                "i.naturalHeight, getComputedStyle(i).display])")
        shown = page.evaluate(maps)
        assert [m[0] for m in shown] == list(result.scenario.levels)
        assert all(m[1] == 1125 and m[2] == 990 and m[3] == "block" for m in shown)
        assert page.evaluate("getComputedStyle(document.querySelector('iframe.map')).display"
                             ) == "inline"
        page.browser.send("Emulation.setEmulatedMedia", {"media": "print"},
                          session=page.session)
        assert page.evaluate("getComputedStyle(document.querySelector('iframe.map')).display"
                             ) == "none"
        assert all(m[3] == "block" for m in page.evaluate(maps))
        assert page.evaluate("getComputedStyle(document.querySelector('figure.static-map'))"
                             ".breakBefore") == "page"
    finally:
        page.close()


def test_hostile_school_name_is_text_everywhere(demo, browser):
    result, folder, worst = demo
    page = browser.open(folder / "report.html")
    try:
        cells = page.evaluate("[...document.querySelectorAll('td')].filter(td => "
                              f"td.textContent === {json.dumps(HOSTILE)}).length")
        assert cells >= 1  # the table of every school (and the shortest-of-seats table)
        assert page.evaluate("document.querySelectorAll('script').length") == 0
        assert page.dialogs() == []
    finally:
        page.close()
    page = browser.open(folder / "map.html")
    try:
        toggle(page, f"{SCHOOLS} – 幼儿园")  # the renamed school is a kindergarten
        # open the popup of the renamed school: its name is shown as text, not run
        shown = page.evaluate(
            "(() => { const m = Object.keys(window).filter(k => k.startsWith('circle_marker_'))"
            ".map(k => window[k]).find(m => String(m.getPopup() && m.getPopup().getContent())"
            f".includes({json.dumps(html.escape(HOSTILE))})); m.openPopup(); return "
            "document.querySelector('.leaflet-popup-content .name').textContent; })()")
        assert shown == HOSTILE
        assert page.evaluate("[...document.scripts].filter(s => s.textContent.trim() === "
                             "'alert(1)').length") == 0
        assert page.dialogs() == [] and page.errors() == []
    finally:
        page.close()
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert HOSTILE not in text and html.escape(HOSTILE) in text
    assert HOSTILE not in (folder / "map.html").read_text(encoding="utf-8")
    assert worst in text


def test_pages_name_no_external_resource_but_the_tiles(demo):
    _, folder, _ = demo
    map_text = (folder / "map.html").read_text(encoding="utf-8")
    assert remote_resources(map_text) == [OSM_TILES]
    report = (folder / "report.html").read_text(encoding="utf-8")
    (srcdoc,) = re.findall(r'srcdoc="([^"]*)"', report)
    assert remote_resources(re.sub(r'srcdoc="[^"]*"', "", report)) == []
    assert remote_resources(html.unescape(srcdoc)) == [OSM_TILES]
    assert not re.findall(r"https?://", re.sub(r'srcdoc="[^"]*"', "", report))


# -- milestone years, developments and new sites ----------------------------------------------

OVERLAY_LABELS = ("[...document.querySelectorAll('.leaflet-control-layers-overlays label')]"
                  ".map(l => l.textContent.trim())")
LAYER_BOX = ("[...document.querySelectorAll('.leaflet-control-layers-overlays label')]"
             ".find(l => l.textContent.trim() === {}).querySelector('input')")
MARKERS = "document.querySelectorAll('.leaflet-overlay-pane path').length"
DENSITY = "document.querySelectorAll('.leaflet-schoolmap_density-pane path').length"


def toggle(page: Page, label: str) -> None:
    page.click(LAYER_BOX.format(json.dumps(label)))


def open_popup_containing(page: Page, text: str) -> str:
    """Open the popup of the first circle marker on the map whose popup holds ``text``; the
    popup's text."""
    return page.evaluate(
        "(() => { const m = Object.keys(window).filter(k => k.startsWith('circle_marker_'))"
        ".map(k => window[k]).find(m => m._map && String(m.getPopup() && "
        f"m.getPopup().getContent()).includes({json.dumps(text)})); m.openPopup(); return "
        "document.querySelector('.leaflet-popup-content').textContent; })()")


def counts(page: Page, expression: str, expected: int) -> bool:
    """Whether ``expression`` (a count) reaches ``expected`` soon (the page may lag a click
    on a busy machine)."""
    return eventually(lambda: page.evaluate(expression) == expected, timeout=10.0)


def test_milestone_year_and_development_layers_toggle(demo, browser):
    result, folder, _ = demo
    junior = result.simulations["junior"]
    years = junior.district["year"]
    base, (peak, _), horizon = int(years.min()), junior.peak, int(years.max())
    assert base < peak < horizon  # the demo's junior wave peaks inside the forecast
    by_year = junior.by_school.groupby("year").size()
    page = browser.open(folder / "map.html")
    try:
        labels = page.evaluate(OVERLAY_LABELS)
        for year, kind in ((base, "基年"), (peak, "高峰"), (horizon, "规划末年")):
            assert f"学校 {year} ({kind}) – 初中" in labels
        assert "新建住宅" in labels
        n0 = page.evaluate(MARKERS)  # the primary schools, on when the map opens
        toggle(page, f"学校 {peak} (高峰) – 初中")
        assert counts(page, MARKERS, n0 + by_year[peak])  # every junior school open then
        text = open_popup_containing(page, f"<td>{peak}</td>")
        assert "在校生" in text and "大班额" in text and str(peak) in text
        toggle(page, f"学校 {peak} (高峰) – 初中")
        assert counts(page, MARKERS, n0)
        toggle(page, f"学校 {horizon} (规划末年) – 初中")
        assert counts(page, MARKERS, n0 + by_year[horizon])

        assert page.evaluate(DENSITY) == 0
        toggle(page, "新建住宅")
        assert counts(page, DENSITY, len(result.district.developments))
        assert "新建住宅交付年份" in page.evaluate(
            "document.querySelector('.schoolmap-legend').textContent")
        assert page.errors() == [] and page.dialogs() == []
    finally:
        page.close()


def test_new_sites_and_assignment_lines_draw_and_toggle(demo, browser, tmp_path):
    import dataclasses

    import geopandas as gpd

    from schoolmap.maps import render_result_map

    result, _, _ = demo
    cells = result.district.cells
    picks = cells.iloc[[len(cells) // 5, len(cells) // 2, 4 * len(cells) // 5]]
    sites = gpd.GeoDataFrame(
        {"level": ["primary", "primary", "junior"], "site_id": ["S1", "S2", "G1"],
         "name": ["新城第一小学", HOSTILE, "新城初级中学"], "tracks": [4, 6, 8],
         "classes": [24, 36, 24], "seats": [1080, 1620, 1200], "open_year": [2028, 2029, 2029],
         "students_served": [950.0, 1400.0, 1100.0], "mean_distance_m": [420.0, 610.0, 900.0],
         "source": ["sites", "sites", "generated"],
         "reason": ["新城 950 名学生 500 米内无学位。", f"{HOSTILE} needs seats", None]},
        geometry=picks.geometry.representative_point().to_numpy(), crs=result.district.crs)
    sc = dataclasses.replace(result.scenario, assignment_lines=("P01",))
    path = render_result_map(dataclasses.replace(result, new_sites=sites, scenario=sc),
                             tmp_path / "map.html")
    alloc = result.allocations[("primary", sc.methods[0])]
    rows = headline(result)
    p01 = int(np.flatnonzero(rows[rows["level"] == "primary"]["school_id"] == "P01")[0])
    n_lines = int((alloc.school == p01).sum())
    assert n_lines > 5
    page = browser.open(path)
    try:
        lines = "学生来源连线: " + rows.loc[rows["school_id"] == "P01", "name"].iloc[0]
        assert page.evaluate(DENSITY) == n_lines  # asked for, so on when the map opens
        toggle(page, f"{lines} (P01) – 小学")
        assert counts(page, DENSITY, 0)
        labels = page.evaluate(OVERLAY_LABELS)
        assert "建议新建学校 – 小学" in labels and "建议新建学校 – 初中" in labels
        n0 = page.evaluate(MARKERS)
        toggle(page, "建议新建学校 – 小学")
        assert counts(page, MARKERS, n0 + 2)
        dashed = page.evaluate("[...document.querySelectorAll('.leaflet-overlay-pane path')]"
                               ".filter(p => p.getAttribute('stroke-dasharray') === '4 3').length")
        assert dashed == 2
        text = open_popup_containing(page, "needs seats")
        assert text.startswith(HOSTILE) and f"{HOSTILE} needs seats" in text
        assert "1,620" in text and "2029" in text and "备选用地" in text
        assert page.evaluate("document.querySelector('.leaflet-popup-content p.note')"
                             ".textContent") == f"{HOSTILE} needs seats"
        assert "建议新建学校" in page.evaluate(
            "document.querySelector('.schoolmap-legend').textContent")
        assert page.errors() == [] and page.dialogs() == []
    finally:
        page.close()


# -- a large district ---------------------------------------------------------------------------


def large_district_layers(nx: int = 250, ny: int = 200, side_m: float = 100.0, seed: int = 7):
    """A synthetic district of nx × ny square cells (default 50,000 cells of 100 m, 25 × 20 km
    in UTM 51N) with two town centres: children by single year of age drawn (Poisson) denser
    near the centres; 150 kindergartens, 100 primary and 50 junior schools placed where
    children live; official zones made of whole cells (each cell zoned to its nearest school
    of the level, so boundaries are cell staircases like real ones); 40 developments."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    x0, y0, crs = 350_000.0, 3_450_000.0, "EPSG:32651"
    ix, iy = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny)))
    x, y = x0 + (ix + 0.5) * side_m, y0 + (iy + 0.5) * side_m
    to_centre = np.minimum(np.hypot(x - x0 - 6_000, y - y0 - 8_000),
                           np.hypot(x - x0 - 18_000, y - y0 - 12_000))
    per_age = 0.05 + 0.9 * np.exp(-to_centre / 4_000)  # children of each age per cell
    ages = rng.poisson(per_age[:, None], size=(len(x), 18)).astype(float)
    half = side_m / 2
    cells = gpd.GeoDataFrame(
        {"cell_id": [f"C{i:05d}" for i in range(len(x))],
         **{f"age_{a}": ages[:, a] for a in range(18)}, "population": 5 * ages.sum(axis=1)},
        geometry=shapely.box(x - half, y - half, x + half, y + half), crs=crs)
    rows, points = [], []
    for level, n, seats in (("kindergarten", 150, 270), ("primary", 100, 1080),
                            ("junior", 50, 1000)):
        at = rng.choice(len(x), size=n, replace=False, p=per_age / per_age.sum())
        rows += [{"school_id": f"{level[0].upper()}{k:03d}", "name": f"{level} {k}",
                  "level": level, "seats": float(seats * rng.uniform(0.6, 1.3) // 10 * 10)}
                 for k in range(n)]
        points += list(shapely.points(x[at] + 10, y[at] + 10))
    schools = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=points, crs=crs)
    zones = []
    for level in ("primary", "junior"):
        of_level = schools[schools["level"] == level]
        tree = cKDTree(np.column_stack([of_level.geometry.x, of_level.geometry.y]))
        nearest = tree.query(np.column_stack([x, y]))[1]
        zone = gpd.GeoDataFrame({"school_id": of_level["school_id"].to_numpy()[nearest]},
                                geometry=cells.geometry).dissolve("school_id").reset_index()
        zones.append(zone.assign(zone_id="Z" + zone["school_id"], level=level,
                                 name=zone["school_id"] + " 学区"))
    at = rng.choice(len(x), size=40, replace=False)
    developments = gpd.GeoDataFrame(
        {"dev_id": [f"D{k:02d}" for k in range(40)], "name": [f"小区 {k}" for k in range(40)],
         "dwellings": rng.integers(200, 3000, 40), "housing_type": "commodity",
         "completion_year": rng.integers(2024, 2034, 40)},
        geometry=shapely.box(x[at] - 150, y[at] - 150, x[at] + 150, y[at] + 150), crs=crs)
    return {"cells": cells, "schools": schools,
            "zones": gpd.GeoDataFrame(pd.concat(zones, ignore_index=True), crs=crs),
            "developments": developments}


#: What a 50,000-cell district's map may cost (issue 6): file size and time to open.
LARGE_MAP_MAX_BYTES = 15_000_000
LARGE_MAP_MAX_SECONDS = 5.0


def test_a_50000_cell_district_map_is_small_and_opens_fast(browser, tmp_path):
    from schoolmap.io.district import district_from_frames
    from schoolmap.maps import render_result_map
    from schoolmap.scenario import Scenario

    district = district_from_frames(large_district_layers(), source="large")
    assert district.n_cells == 50_000
    sc = Scenario(name="large", district=district.source, base_year=2026, horizon=10,
                  levels=("kindergarten", "primary", "junior"),
                  methods=("catchment", "optimal"), tiles="none", lang="zh")
    result = run_scenario(sc, district)
    path = render_result_map(result, tmp_path / "map.html")
    size = path.stat().st_size
    assert size < LARGE_MAP_MAX_BYTES

    start = time.monotonic()
    page = browser.open(path)  # navigated, load event fired, two frames drawn
    seconds = time.monotonic() - start
    try:
        assert seconds < LARGE_MAP_MAX_SECONDS, f"{size / 1e6:.1f} MB opened in {seconds:.1f} s"
        assert page.errors() == []
        rows = headline(result)
        assert page.evaluate(MARKERS) == int((rows["level"] == "primary").sum())
        labels = page.evaluate(OVERLAY_LABELS)
        assert "学区 – 初中" in labels and "新建住宅" in labels
        start = time.monotonic()
        toggle(page, "学区 – 初中")
        n_zones = int(result.zones["level"].isin(["primary", "junior"]).sum())
        assert counts(page, "document.querySelectorAll('.leaflet-schoolmap_catchments-pane "
                            "path').length", n_zones)
        assert time.monotonic() - start < LARGE_MAP_MAX_SECONDS
        assert n_colours(page.screenshot()) > 20
    finally:
        page.close()
    print(f"50,000-cell map: {size / 1e6:.2f} MB, opened in {seconds:.2f} s")
