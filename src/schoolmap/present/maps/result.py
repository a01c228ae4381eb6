"""A scenario run drawn as one page: :func:`render_result_map` puts every layer family on a
:func:`~schoolmap.present.maps.capacity.shortfall_map` and writes ``map.html``."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd

from schoolmap.i18n import MAP_METHOD_NAMES_ZH, map_text
from schoolmap.present.maps.admission import add_admission_odds
from schoolmap.present.maps.allocation import add_assignment_lines, add_proposed_catchments
from schoolmap.present.maps.balance import add_balance
from schoolmap.present.maps.base import layer_name, legend_of, write_map
from schoolmap.present.maps.capacity import add_seat_prices, add_unserved, shortfall_map
from schoolmap.present.maps.settings import MapSettings
from schoolmap.present.maps.style import (
    escape,
)
from schoolmap.present.maps.timeline import add_developments, add_milestone_years, add_new_sites
from schoolmap.present.maps.zoning import add_designed_zones


def _result_assignment_lines(m: folium.Map, result: Any, method: str, lang: str,
                             routes: Mapping[tuple[str, str], Sequence[Any]]) -> None:
    """The assignment lines the scenario asks for (``[map] assignment_lines``), per level the
    school serves, along ``routes[(level, school_id)]`` where given (else straight); an id found
    in no level is named in the legend."""
    wanted = getattr(result.scenario, "assignment_lines", ())
    missing = []
    for school_id in wanted:
        found = False
        for level in result.scenario.levels:
            rows = result.schools[(result.schools["level"] == level)
                                  & (result.schools["method"] == method)]
            if (level, method) in result.allocations and (rows["school_id"] == school_id).any():
                add_assignment_lines(m, result.allocations[(level, method)], rows, result.cells,
                                     school_id, lang=lang, routes=routes.get((level, school_id)))
                found = True
        if not found:
            missing.append(school_id)
    if missing:
        ids = escape(", ".join(missing))
        legend_of(m, "render_result_map").notes.append(
            f'<div class="note">{map_text("lines_missing", lang, ids=ids)}</div>')


def render_result_map(result: Any, path: str | os.PathLike,
                      proposed: gpd.GeoDataFrame | None = None,
                      zoning: dict[str, gpd.GeoDataFrame] | None = None,
                      routes: Mapping[tuple[str, str], Sequence[Any]] | None = None) -> Path:
    """Draw a scenario run and write ``map.html``.

    The map shows the headline method (the scenario's first) with :func:`shortfall_map`:
    catchments and schools per level, the main level's on when the map opens (``[map]
    main_level``; ``primary`` by default), the others off; layer names in
    the scenario's language (``Scenario.language``; names below in English). Per level it
    adds, switched off at first:

    - ``"Seat prices – <level>"`` when ``optimal`` is among the methods: the optimal
      allocation's schools coloured by seat price (:func:`add_seat_prices`);
    - ``"Unserved students – <level>"``: students who got no seat under the headline method,
      summed over 500 m squares (:func:`add_unserved`), and ``"Unserved (optimal) –
      <level>"`` for the optimal method when it is not the headline one. A layer is left out
      when every student got a seat;
    - with a forecast (``result.simulations``), the schools in the milestone years, e.g.
      ``"Schools 2029 (peak) – junior"`` (:func:`add_milestone_years`).

    With ``[plan]`` (``result.balance``), ``"Schools · balance (staff posts per 100 students) –
    <level>"``: each school coloured by its posts per 100 students against the district mean
    (:func:`~schoolmap.present.maps.balance.add_balance`, off). Then ``"New schools –
    <level>"`` for the recommended sites (``result.new_sites``,
    :func:`add_new_sites`) and ``"Developments"`` for the district's new housing
    (:func:`add_developments`), also off at first; for each school of the scenario's
    ``[map] assignment_lines``, its lines from the cells it takes students from under the
    headline method (:func:`add_assignment_lines`, on; along the roads with ``routes``); with
    ``proposed``, the proposed catchments of the first method other than ``catchment``
    (:func:`add_proposed_catchments`, off). With ``tiles = "gaode"`` every layer is shifted to
    GCJ-02 to match the Gaode tiles.

    Parameters
    ----------
    result : schoolmap.scenario.ScenarioResult
        Its ``cells`` carry ``unassigned_<level>_<method>`` (students without a seat per cell).
    path : path-like
        Where to write the HTML (atomically).
    proposed : geopandas.GeoDataFrame or None, optional
        The run's proposed catchments, from
        :func:`schoolmap.allocation.catchments.proposed_catchments` (computed once, by the
        caller: :func:`schoolmap.run.outputs.write_results` passes the table it writes).
        ``None``: no proposed-catchment layer.
    zoning : dict or None, optional
        With ``[zoning]``: the ``designed_zones`` and ``changed_areas`` layers
        (:func:`schoolmap.run.zoning.zoning_tables`), drawn per level as ``"Designed
        catchments – <level>"`` with the areas that change school hatched
        (:func:`~schoolmap.present.maps.zoning.add_designed_zones`, off).
    routes : mapping or None, optional
        ``(level, school_id)`` → one line per flow to that school of the headline allocation,
        in its order, in the cells' CRS (:func:`schoolmap.run.routes.assignment_routes`,
        computed by the caller when ``[travel] mode`` is walk or drive): the assignment lines
        follow the roads. A school without an entry gets straight lines.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    sc = result.scenario
    lang = getattr(sc, "language", "en")
    method = sc.methods[0]
    schools = result.schools[result.schools["method"] == method]
    levels = [lv for lv in sc.levels if lv in set(schools["level"])]
    shown_method = MAP_METHOD_NAMES_ZH.get(method, method) if lang == "zh" else method
    title = f"{sc.name} · {result.year} · {shown_method}"
    settings = getattr(sc, "map_settings", None) or MapSettings(tiles=sc.tiles)
    m = shortfall_map(schools, result.zones if len(result.zones) else None, title=title,
                      tiles=None if sc.tiles == "none" else sc.tiles, levels=levels or None,
                      lang=lang, main_level=settings.main_level_of(levels),
                      tianditu_key=settings.tianditu_key)
    optimal = result.schools[result.schools["method"] == "optimal"]
    unserved = [(method, "unserved")]
    if "optimal" in sc.methods and method != "optimal":
        unserved.append(("optimal", "unserved_optimal"))
    for level in sc.levels:
        if "optimal" in sc.methods and level in set(optimal["level"]):
            add_seat_prices(m, optimal, levels=[level], lang=lang)
        for unserved_method, kind in unserved:
            column = f"unassigned_{level}_{unserved_method}"
            if column in result.cells.columns:
                # add_unserved escapes the name itself
                name = html.unescape(layer_name(kind, level, lang))
                add_unserved(m, result.cells, column, name=name, lang=lang)
        if level in result.simulations:
            add_milestone_years(m, result.simulations[level], result.district.schools, lang=lang)
    for level, balance in getattr(result, "balance", {}).items():  # [plan]: 优质均衡 per school
        add_balance(m, balance.by_school, result.district.schools, level, lang=lang)
    add_new_sites(m, result.new_sites, levels=sc.levels, lang=lang)
    add_developments(m, result.district.developments, base_year=result.year, lang=lang)
    _result_assignment_lines(m, result, method, lang, routes or {})
    if proposed is not None:
        _result_proposed_catchments(m, result, proposed, lang)
    if zoning is not None:
        add_designed_zones(m, zoning["designed_zones"], zoning["changed_areas"], lang=lang)
    for level, adm in getattr(result, "admission", {}).items():  # [admission]: 入学派位 odds
        geometry = result.district.cells.set_index("cell_id").geometry
        add_admission_odds(m, gpd.GeoDataFrame(
            adm.cells, geometry=geometry.reindex(adm.cells["cell_id"]).to_numpy(),
            crs=result.district.crs), level, lang=lang)
    return write_map(m, path)


def _result_proposed_catchments(m: folium.Map, result: Any, proposed: gpd.GeoDataFrame,
                                lang: str) -> int:
    """The proposed catchments of a run's first method other than ``catchment``, on ``m``."""
    others = [method for method in result.scenario.methods if method != "catchment"][:1]
    if not others:
        return 0
    zones = proposed[proposed["method"] == others[0]].reset_index(drop=True)
    return add_proposed_catchments(m, zones, lang=lang)
