"""The ``[travel]`` table of a scenario: :func:`travel_from_table` reads it into a
:class:`~schoolmap.allocation.network.Travel`; :func:`district_graph` builds (or reads from the
cache) the district's road graph for that mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schoolmap.allocation.network import Travel
from schoolmap.errors import ValidationError
from schoolmap.io.district import District
from schoolmap.io.roads import RoadGraph, road_graph_for

__all__ = ["TRAVEL_MODES", "Travel", "district_graph", "travel_from_table"]

TRAVEL_MODES = ("euclidean", "walk", "drive")


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def travel_from_table(table: Mapping[str, Any], where: str = "[travel]") -> Travel:
    """Validate a scenario's ``[travel]`` table, naming every problem.

    Keys: ``mode`` (``euclidean`` — the default —, ``walk`` or ``drive``), ``walk_kmh`` (> 0),
    ``detour_max`` (≥ 1), ``max_connector_m`` (> 0), ``roads`` (an ``.osm.pbf`` next to the
    district, instead of its ``roads`` layer).
    """
    problems: list[str] = []
    known = ("mode", "walk_kmh", "detour_max", "max_connector_m", "roads")
    for key in table:
        if key not in known:
            problems.append(f"{where}: unknown key {key!r}; expected one of "
                            f"{', '.join(sorted(known))}")
    kw: dict[str, Any] = {}
    mode = table.get("mode", "euclidean")
    if mode not in TRAVEL_MODES:
        problems.append(f"{where}: mode must be one of {', '.join(map(repr, TRAVEL_MODES))}; "
                        f"got {mode!r}")
    kw["mode"] = mode
    for key, low, what in (("walk_kmh", 0.0, "a speed > 0 in km/h"),
                           ("detour_max", 1.0, "a ratio ≥ 1"),
                           ("max_connector_m", 0.0, "metres > 0")):
        if key in table:
            v = table[key]
            if not _positive(v) or v < low:
                problems.append(f"{where}: {key} must be {what}, got {v!r}")
            else:
                kw[key] = float(v)
    if "roads" in table:
        if not isinstance(table["roads"], str) or not table["roads"]:
            problems.append(f"{where}: roads must be the name of an .osm.pbf file")
        else:
            kw["roads"] = table["roads"]
    if problems:
        raise ValidationError(problems, where)
    return Travel(**kw)


def district_graph(district: District, travel: Travel) -> RoadGraph:
    """The district's road graph for ``travel.mode`` (walk or drive), cached next to it."""
    b = district.cells.total_bounds if district.n_cells else None
    return road_graph_for(district.source, travel.mode, district.crs, roads=travel.roads,
                          walk_kmh=travel.walk_kmh, cells_bounds=b)
