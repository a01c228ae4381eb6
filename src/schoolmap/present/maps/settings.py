"""The ``[map]`` table of a scenario: :class:`MapSettings` (basemap, assignment lines), in the
style of ``[forecast]`` (:class:`~schoolmap.demand.forecast.ForecastSettings`) and ``[siting]``
(:class:`~schoolmap.planning.siting.SitingSettings`): a frozen dataclass read by
``from_table``, which names every problem."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schoolmap.errors import Problem, ValidationError

__all__ = ["TILES", "MapSettings"]

#: Basemaps of ``[map] tiles``: Gaode (高德, GCJ-02) shifts the drawn layers to GCJ-02
#: (:class:`~schoolmap.present.maps.base.SchoolMap`); ``none`` draws on white paper.
TILES = ("OpenStreetMap", "none", "gaode")


@dataclass(frozen=True)
class MapSettings:
    """How ``map.html`` is drawn.

    Parameters
    ----------
    tiles : str
        Basemap, one of :data:`TILES`.
    assignment_lines : tuple of str
        School ids whose lines from the cells they take students from are drawn.

    Examples
    --------
    >>> MapSettings.from_table({"tiles": "gaode", "assignment_lines": ["P01"]})
    MapSettings(tiles='gaode', assignment_lines=('P01',))
    """

    tiles: str = "OpenStreetMap"
    assignment_lines: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = "[map]") -> MapSettings:
        """Validate a scenario's ``[map]`` table, naming every problem (as ``where``)."""
        table = dict(table)
        problems: list[Problem | str] = []
        tiles = str(table.pop("tiles", "OpenStreetMap"))
        if tiles not in TILES:
            problems.append(Problem(where, f"map.tiles must be one of {', '.join(TILES)}; got "
                                    f"{tiles!r}"))
        lines = table.pop("assignment_lines", [])
        if not isinstance(lines, list) or not all(isinstance(v, str) for v in lines):
            problems.append(Problem(where, f"map.assignment_lines must be a list of school ids "
                                    f"such as [\"P01\"]; got {lines!r}"))
            lines = []
        for key in table:
            problems.append(Problem(where, f"unknown key map.{key}; known: map.tiles, "
                                    f"map.assignment_lines"))
        ValidationError.raise_if(problems, where)
        return cls(tiles=tiles, assignment_lines=tuple(lines))
