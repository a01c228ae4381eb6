"""The map's controls, written into the page (no CDN, no plugin files): a layer switcher with
the layers grouped by level (:class:`GroupedLayers`), school and zone names as labels once the
map is zoomed in far enough, a search box for school names, a full-screen button, a metric
scale bar, and legend and switcher folded away on narrow screens.

folium's own plugins (``GroupedLayerControl``, ``TreeLayerControl``, ``Search``,
``Fullscreen``) link their scripts and style sheets from a CDN, so a map using them would not
work offline; the same behaviour is a few dozen lines of plain Leaflet here, written into the
page once (:data:`CONTROLS_JS`, :data:`CONTROLS_CSS`).
"""

from __future__ import annotations

from typing import Any

import folium
from folium.map import Layer
from jinja2.utils import htmlsafe_json_dumps

from schoolmap.i18n import MAP_UI
from schoolmap.present.maps.base import Verbatim

__all__ = ["CONTROLS_CSS", "CONTROLS_JS", "GroupedLayers", "LABEL_ZOOM"]

#: Zoom from which names are written on the map: zones (large) sooner than schools.
LABEL_ZOOM = {"zones": 13, "schools": 15}

#: Below this window width (CSS pixels) the legend and the layer switcher open folded.
NARROW_PX = 900

CONTROLS_CSS = """<style>
.schoolmap-layers {max-height: calc(100vh - 40px); overflow-y: auto; padding: 4px 8px;
  font: 12px/1.35 "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei", sans-serif;}
.schoolmap-layers > details > summary {font-weight: 600; cursor: pointer;}
.schoolmap-layers details.schoolmap-group {margin: 2px 0 2px 4px;}
.schoolmap-layers details.schoolmap-group > summary {cursor: pointer; font-weight: 600;
  color: #333;}
.schoolmap-layers details.schoolmap-group label {display: block; margin-left: 10px;}
.schoolmap-label {background: rgba(255, 255, 255, 0.75); border: none; box-shadow: none;
  padding: 0 3px; font: 11px/1.2 "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei",
  sans-serif; color: #222; white-space: nowrap;}
.schoolmap-label.zone {background: transparent; color: #333; font-weight: 600;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff;}
.schoolmap-label:before {display: none;}
.schoolmap-search input {width: 180px; padding: 4px 6px; border: none; border-radius: 4px;
  font-size: 12px;}
.schoolmap-fullscreen a {display: flex; align-items: center; justify-content: center;
  cursor: pointer;}
.schoolmap-legend {max-height: calc(100% - 220px);}
@media print {.leaflet-control-container, .schoolmap-legend {display: none;}}
</style>"""

CONTROLS_JS = """<script>
function schoolmapControls(map, layers, spec) {
  "use strict";
  window.schoolmapMap = map;
  var narrow = window.innerWidth < spec.narrow;
  function decode(html) {
    var t = document.createElement("textarea"); t.innerHTML = html; return t.value;
  }
  L.control.scale({metric: true, imperial: false}).addTo(map);
  var Switcher = L.Control.extend({options: {position: "topright"}, onAdd: function () {
    var div = L.DomUtil.create("div",
      "leaflet-control-layers leaflet-control-layers-expanded schoolmap-layers");
    L.DomEvent.disableClickPropagation(div); L.DomEvent.disableScrollPropagation(div);
    var panel = L.DomUtil.create("details", "schoolmap-panel", div);
    panel.open = !narrow;
    L.DomUtil.create("summary", "", panel).textContent = spec.ui.layers;
    var form = L.DomUtil.create("form", "leaflet-control-layers-list", panel);
    var box = L.DomUtil.create("div", "leaflet-control-layers-overlays", form);
    spec.groups.forEach(function (g) {
      var d = L.DomUtil.create("details", "schoolmap-group", box);
      d.open = g.open; d.dataset.level = g.key;
      L.DomUtil.create("summary", "", d).innerHTML = g.title;
      g.names.forEach(function (name) {
        var layer = layers.overlays[name] || layers.base_layers[name];
        var label = L.DomUtil.create("label", "", d);
        var input = L.DomUtil.create("input", "leaflet-control-layers-selector", label);
        input.type = "checkbox"; input.checked = map.hasLayer(layer);
        L.DomUtil.create("span", "", label).innerHTML = " " + name;
        L.DomEvent.on(input, "change", function () {
          if (input.checked) { map.addLayer(layer); } else { map.removeLayer(layer); }
        });
        map.on("layeradd layerremove", function (e) {
          if (e.layer === layer) { input.checked = map.hasLayer(layer); }
        });
      });
    });
    return div;
  }});
  new Switcher().addTo(map);
  var labelled = [], busy = false;
  spec.labels.forEach(function (entry) {
    var group = L.layerGroup();
    entry.items.forEach(function (it) {
      group.addLayer(L.tooltip({permanent: true, direction: "center", interactive: false,
        className: "schoolmap-label " + entry.kind}).setLatLng([it[0], it[1]]).setContent(it[2]));
    });
    labelled.push({layer: layers.overlays[entry.name], labels: group, zoom: entry.zoom});
  });
  function refresh() {
    if (busy) { return; }
    busy = true;
    var z = map.getZoom();
    labelled.forEach(function (x) {
      var on = map.hasLayer(x.layer) && z >= x.zoom;
      if (on && !map.hasLayer(x.labels)) { map.addLayer(x.labels); }
      if (!on && map.hasLayer(x.labels)) { map.removeLayer(x.labels); }
    });
    busy = false;
  }
  map.on("zoomend layeradd layerremove", refresh);
  map.whenReady(refresh);
  var entries = [];
  spec.search.forEach(function (name) {
    (spec.labels.find(function (e) { return e.name === name; }) || {items: []}).items.forEach(
      function (it) { entries.push({lat: it[0], lng: it[1], text: decode(it[2]), name: name}); });
  });
  if (entries.length) {
    var Search = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
      var div = L.DomUtil.create("div", "leaflet-bar schoolmap-search");
      L.DomEvent.disableClickPropagation(div);
      var input = L.DomUtil.create("input", "", div);
      input.type = "search"; input.placeholder = spec.ui.search; input.title = spec.ui.search;
      var list = L.DomUtil.create("datalist", "", div);
      list.id = "schoolmap-search-names"; input.setAttribute("list", list.id);
      var seen = {};
      entries.forEach(function (e) {
        if (seen[e.text]) { return; }
        seen[e.text] = true;
        var o = document.createElement("option"); o.value = e.text; list.appendChild(o);
      });
      function go() {
        var q = input.value.trim().toLowerCase();
        if (!q) { return; }
        var hit = entries.find(function (e) { return e.text.toLowerCase() === q; }) ||
          entries.find(function (e) { return e.text.toLowerCase().indexOf(q) >= 0; });
        if (!hit) { input.style.background = "#fdd"; return; }
        input.style.background = "";
        var layer = layers.overlays[hit.name];
        if (layer && !map.hasLayer(layer)) { map.addLayer(layer); }
        map.setView([hit.lat, hit.lng], Math.max(map.getZoom(), spec.zoom));
        var ring = new L.CircleMarker([hit.lat, hit.lng], {radius: 28, color: "#0066ff", weight: 3,
          fill: false, interactive: false}).addTo(map);
        setTimeout(function () { map.removeLayer(ring); }, 4000);
      }
      L.DomEvent.on(input, "change", go);
      L.DomEvent.on(input, "keydown", function (ev) { if (ev.key === "Enter") { go(); } });
      return div;
    }});
    new Search().addTo(map);
  }
  var Full = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
    var div = L.DomUtil.create("div", "leaflet-bar schoolmap-fullscreen");
    var a = L.DomUtil.create("a", "", div);
    a.href = "#"; a.title = spec.ui.fullscreen; a.setAttribute("role", "button");
    a.innerHTML = '<svg width="16" height="16" viewBox="0 0 16 16" fill="none" ' +
      'stroke="#333" stroke-width="2"><path d="M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5"/></svg>';
    L.DomEvent.on(a, "click", function (ev) {
      L.DomEvent.preventDefault(ev);
      var el = map.getContainer();
      if (document.fullscreenElement) { document.exitFullscreen(); }
      else if (el.requestFullscreen) { el.requestFullscreen(); }
    });
    document.addEventListener("fullscreenchange", function () { map.invalidateSize(); });
    return div;
  }});
  new Full().addTo(map);
  if (narrow) {
    document.querySelectorAll(".schoolmap-legend details").forEach(function (d) {
      d.open = false;
    });
  }
}
</script>"""


def _group_key(name: str) -> str:
    """The level part of a layer name (``学校 – 小学`` → ``小学``); '' for layers of no level."""
    return name.rsplit(" – ", 1)[1] if " – " in name else ""


class GroupedLayers(folium.LayerControl):
    """A layer switcher that groups the layers by level (the part of their name after
    `` – ``), the ``open_group`` level unfolded, the others folded; and the other controls of
    :data:`CONTROLS_JS`. Like :class:`folium.LayerControl` it must stay the map's last child
    (:func:`~schoolmap.present.maps.base.add_overlay` keeps it there).

    Parameters
    ----------
    open_group : str
        The level shown as layer names show it (e.g. ``小学``), unfolded when the map opens.
    lang : {"en", "zh"}
        Language of the control's own words (:data:`schoolmap.i18n.MAP_UI`).
    """

    def __init__(self, open_group: str, lang: str) -> None:
        super().__init__(collapsed=False)
        self.open_group = open_group
        self.lang = lang

    def render(self, **kwargs: Any) -> None:
        self.reset()
        groups: dict[str, list[str]] = {}
        labels: list[dict[str, Any]] = []
        search: list[str] = []
        for item in self._parent._children.values():
            if not isinstance(item, Layer) or not item.control:
                continue
            name = item.layer_name
            (self.overlays if item.overlay else self.base_layers)[name] = item.get_name()
            key = "basemap" if not item.overlay else _group_key(name)
            groups.setdefault(key, []).append(name)
            kind, items = getattr(item, "schoolmap_labels", ("", []))
            if items:
                labels.append({"name": name, "kind": kind, "zoom": LABEL_ZOOM[kind],
                               "items": [[lat, lon, text] for lat, lon, text in items]})
                if kind == "schools":
                    search.append(name)
        ui = MAP_UI[self.lang]
        order = [k for k in groups if k not in ("", "basemap")] + [k for k in ("", "basemap")
                                                                   if k in groups]
        titles = {"": ui["other"], "basemap": ui["basemap"]}
        spec = {
            "groups": [{"key": k, "title": titles.get(k, k), "open": k == self.open_group,
                        "names": groups[k]} for k in order],
            "labels": labels, "search": search, "narrow": NARROW_PX,
            "zoom": LABEL_ZOOM["schools"], "ui": ui,
        }
        # written as it is: folium's Element would run the JSON through Jinja once more
        var = self.get_name()
        base, over = ("".join(f"\n        {htmlsafe_json_dumps(k)} : {v}," for k, v in d.items())
                      for d in (self.base_layers, self.overlays))
        self.get_root().script.add_child(Verbatim(
            f"var {var}_layers = {{\n    base_layers : {{{base}\n    }},\n    overlays :  {{{over}"
            f"\n    }},\n}};\nschoolmapControls({self._parent.get_name()}, {var}_layers, "
            f"{htmlsafe_json_dumps(spec, sort_keys=True)});\n"), name=var)
