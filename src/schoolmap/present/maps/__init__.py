"""The planner's shortfall map: schools and catchments on an interactive folium map.

This package only *draws* result tables computed elsewhere (``schoolmap.planning.capacity``;
proposed catchments by ``schoolmap.allocation.catchments``); it never computes planning figures.
It is the only part of the package that imports folium. One module per family of layers:
:mod:`~.base` (the map, legend, checks), :mod:`~.style` (colours, formats), :mod:`~.capacity`,
:mod:`~.timeline`, :mod:`~.allocation`, :mod:`~.result` and :mod:`~.province`.

Public functions:

- :func:`shortfall_map` builds a :class:`folium.Map` with, per school level, a layer of
  catchments coloured by utilisation and a layer of schools sized by seats and coloured by
  shortfall, plus a legend in the map's language, an optional title and a layer switcher.
- :func:`add_seat_prices` adds to such a map, per level, the schools of an ``optimal``
  allocation coloured by their seat price (metres of travel one more seat would save).
- :func:`add_unserved` adds to such a map a density layer of the students who got no seat,
  summed over a grid of display squares (500 m by default).
- :func:`write_map` writes such a map to an HTML file atomically.
- :func:`render_result_map` draws a scenario run with all of the above.

Every string that comes from the data (school names, ids, zone names, sectors, levels) and the
title is HTML-escaped before it reaches the page. folium places popup and tooltip content inside
JavaScript template literals (backquoted strings), so backquotes, ``$`` and backslashes are
escaped as HTML character references as well; a school called ``<script>alert(1)</script>`` or
```${alert(1)}``` is shown as text.

Every string from the data is also kept free of ``{`` and ``}`` (written ``&#123;`` and
``&#125;``): folium passes rendered HTML through Jinja a second time, so ``{{ ... }}`` in a school
name would otherwise be evaluated as a template expression while the page is written.

The page works offline: Leaflet's CSS and JavaScript are read from the installed
``xstatic-leaflet`` package and written into the page itself, and none of folium's CDN links
(Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers) is kept, so with ``tiles=None`` the
page loads nothing from the network. With tiles, the tile server is the only remote resource.

The HTML is deterministic except for the element ids folium draws at random (``map_<uuid>``,
``circle_marker_<uuid>``, ...), so two renders of the same data differ only in those ids.
"""

from schoolmap.present.maps.allocation import (
    PROPOSED_COLOURS,
    PROPOSED_OUTLINE,
    PROPOSED_SIMPLIFY_M,
    add_assignment_lines,
    add_proposed_catchments,
)
from schoolmap.present.maps.base import SchoolMap, write_map
from schoolmap.present.maps.capacity import add_seat_prices, add_unserved, shortfall_map
from schoolmap.present.maps.result import render_result_map
from schoolmap.present.maps.settings import TILES, MapSettings
from schoolmap.present.maps.timeline import add_developments, add_milestone_years, add_new_sites

__all__ = [
    "PROPOSED_COLOURS",
    "PROPOSED_OUTLINE",
    "PROPOSED_SIMPLIFY_M",
    "TILES",
    "MapSettings",
    "SchoolMap",
    "add_assignment_lines",
    "add_developments",
    "add_milestone_years",
    "add_new_sites",
    "add_proposed_catchments",
    "add_seat_prices",
    "add_unserved",
    "render_result_map",
    "shortfall_map",
    "write_map",
]
