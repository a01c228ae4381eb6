"""The ``[map]`` table of a scenario: :class:`MapSettings` (basemap, assignment lines), in the
style of ``[forecast]`` (:class:`~schoolmap.demand.forecast.ForecastSettings`) and ``[siting]``
(:class:`~schoolmap.planning.siting.SitingSettings`): a frozen dataclass read by
``from_table``, which names every problem."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schoolmap.errors import Problem, ValidationError

__all__ = ["TILES", "MapSettings"]

#: Basemaps of ``[map] tiles``: Gaode (高德, GCJ-02) shifts the drawn layers to GCJ-02
#: (:class:`~schoolmap.present.maps.base.SchoolMap`); Tianditu (天地图, CGCS2000) needs a key;
#: ``none`` draws on white paper.
TILES = ("OpenStreetMap", "none", "gaode", "tianditu")

#: Environment variable holding the Tianditu key when ``[map]`` has no ``tianditu_key``.
TIANDITU_KEY_ENV = "SCHOOLMAP_TIANDITU_KEY"


@dataclass(frozen=True)
class MapSettings:
    """How ``map.html`` is drawn.

    Parameters
    ----------
    tiles : str
        Basemap, one of :data:`TILES`.
    assignment_lines : tuple of str
        School ids whose lines from the cells they take students from are drawn.
    main_level : str or None
        The level whose catchments and schools are on when the map opens; None: ``primary``
        when the scenario plans it, else its first level.
    tianditu_key : str
        Key of the Tianditu tile service (``tiles = "tianditu"``): ``[map] tianditu_key``, or
        the environment variable ``SCHOOLMAP_TIANDITU_KEY`` when the table has none. It is
        written into ``map.html`` (the browser sends it with every tile request) and never
        into ``summary.json``.

    Examples
    --------
    >>> MapSettings.from_table({"tiles": "gaode", "assignment_lines": ["P01"]})
    MapSettings(tiles='gaode', assignment_lines=('P01',), main_level=None, tianditu_key='')
    """

    tiles: str = "OpenStreetMap"
    assignment_lines: tuple[str, ...] = ()
    main_level: str | None = None
    tianditu_key: str = ""

    def main_level_of(self, levels: tuple[str, ...] | list[str]) -> str | None:
        """The level the map opens on among ``levels`` (see :attr:`main_level`)."""
        if self.main_level in levels:
            return self.main_level
        return "primary" if "primary" in levels else (levels[0] if levels else None)

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
        main_level = table.pop("main_level", None)
        if main_level is not None and not isinstance(main_level, str):
            problems.append(Problem(where, f"map.main_level must be a level name such as "
                                    f"\"primary\"; got {main_level!r}"))
            main_level = None
        key = table.pop("tianditu_key", None)
        if key is not None and not isinstance(key, str):
            problems.append(Problem(where, f"map.tianditu_key must be text; got a "
                                    f"{type(key).__name__}"))
            key = None
        key = key or os.environ.get(TIANDITU_KEY_ENV, "")
        if tiles == "tianditu" and not key:
            problems.append(Problem(where, f"map.tiles = \"tianditu\" needs a key: set "
                                    f"map.tianditu_key, or the environment variable "
                                    f"{TIANDITU_KEY_ENV} (a key from the Tianditu console), "
                                    f"or choose another basemap"))
        for unknown in table:
            problems.append(Problem(where, f"unknown key map.{unknown}; known: map.tiles, "
                                    f"map.assignment_lines, map.main_level, map.tianditu_key"))
        ValidationError.raise_if(problems, where)
        return cls(tiles=tiles, assignment_lines=tuple(lines), main_level=main_level,
                   tianditu_key=key if tiles == "tianditu" else "")
