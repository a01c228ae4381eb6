"""The ``[zoning]`` table of a scenario: :class:`ZoningSettings` (which levels to design, the
seat band, the weights of moves and compactness, the years a design must hold)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schoolmap.allocation.design import DEFAULT_MOVE_WEIGHT_M
from schoolmap.errors import ValidationError
from schoolmap.norms import levels_from_table

__all__ = ["ZoningSettings"]


def _number(table: Mapping[str, Any], key: str, lo: float, problems: list[str], where: str):
    v = table[key]
    if not isinstance(v, int | float) or isinstance(v, bool) or not v >= lo:
        problems.append(f"{where}: {key} must be a number ≥ {lo:g}, got {v!r}")
        return None
    return float(v)


@dataclass(frozen=True)
class ZoningSettings:
    """The ``[zoning]`` table of a scenario: design catchments (划片调整) in ``schoolmap run``.

    Attributes
    ----------
    enabled : bool
    levels : tuple of str or None
        Levels to design (None: the scenario's zoned levels, primary and junior).
    max_utilisation : float
        A zone's resident students ≤ this × its seats (default 1.00).
    min_utilisation : float or None
        And ≥ this × its seats where students allow.
    move_weight : float
        Metres of travel one pupil kept in the official zone is worth.
    compactness_weight : float
        Student-metres per metre of zone boundary.
    years : int
        Forecast years after the base year the design must hold for: each zone's cells' peak
        students over the base year and those years stay within ``max_utilisation`` × seats
        (conservatively: each cell's own peak). Needs a forecast (``horizon`` and single-year
        ages); without one the design holds for the base year and a note says so.
    multi_school : bool
        True (default): the schools an official zone names together (``"P03;P04"``, 多校划片)
        are designed as one zone with their seats together; false: every school its own
        zone. Schools sharing a cell are one zone either way (cells are whole).
    tradeoff : tuple of float
        ``move_weight`` values (metres) to design again with, for the trade-off curve of travel
        against students moved (``zoning_tradeoff.csv``, a table and a chart in the report);
        empty: no curve.
    lns_passes : int
        Sweeps of the large-neighbourhood search after the heuristic (0, the default: none):
        the cells near each pair of neighbouring zones' boundary re-solved exactly; worth it
        with road travel, at a minute or two per level (demo by walking: junior 0.6 % less
        travel + moves).
    """

    enabled: bool = True
    levels: tuple[str, ...] | None = None
    max_utilisation: float = 1.0
    min_utilisation: float | None = None
    move_weight: float = DEFAULT_MOVE_WEIGHT_M
    compactness_weight: float = 0.0
    years: int = 0
    multi_school: bool = True
    tradeoff: tuple[float, ...] = ()
    lns_passes: int = 0

    def design_levels(self, scenario_levels: tuple[str, ...]) -> tuple[str, ...]:
        """Levels to design in a run of ``scenario_levels``."""
        if self.levels is not None:
            return tuple(lv for lv in self.levels if lv in scenario_levels)
        return tuple(lv for lv in scenario_levels if lv in ("primary", "junior"))

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = "[zoning]") -> ZoningSettings:
        """Validate a scenario's ``[zoning]`` table, naming every problem.

        Examples
        --------
        >>> ZoningSettings.from_table({"levels": ["primary"], "move_weight": 500}).move_weight
        500.0
        >>> ZoningSettings.from_table({"max_utilisation": 0})
        Traceback (most recent call last):
        ...
        schoolmap.errors.ValidationError: [zoning]: 1 problem
          - [zoning]: max_utilisation must be a number ≥ 0.01, got 0
        """
        problems: list[str] = []
        known = {f.name for f in dataclasses.fields(cls)}
        problems += [f"{where}: unknown key {k!r}; expected one of {', '.join(sorted(known))}"
                     for k in table if k not in known]
        kw: dict[str, Any] = {}
        for key in ("enabled", "multi_school"):
            if key in table:
                if not isinstance(table[key], bool):
                    problems.append(f"{where}: {key} must be true or false")
                kw[key] = bool(table[key])
        if "levels" in table:
            levels = levels_from_table(table["levels"], where, problems)
            if levels is not None:
                kw["levels"] = levels
        for key, lo in (("max_utilisation", 0.01), ("min_utilisation", 0.0),
                        ("move_weight", 0.0), ("compactness_weight", 0.0)):
            if key in table:
                v = _number(table, key, lo, problems, where)
                if v is not None:
                    kw[key] = v
        for key in ("years", "lns_passes"):
            if key in table:
                v = table[key]
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    problems.append(f"{where}: {key} must be a whole number ≥ 0, got {v!r}")
                else:
                    kw[key] = v
        if "tradeoff" in table:
            v = table["tradeoff"]
            if not isinstance(v, list) or not all(
                    isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in v):
                problems.append(f"{where}: tradeoff must be a list of move weights ≥ 0 (metres), "
                                f"got {v!r}")
            else:
                kw["tradeoff"] = tuple(sorted({float(w) for w in v}))
        lo, hi = kw.get("min_utilisation"), kw.get("max_utilisation", 1.0)
        if lo is not None and lo > hi:
            problems.append(f"{where}: min_utilisation {lo:g} is above max_utilisation {hi:g}")
        if problems:
            raise ValidationError(problems, where)
        return cls(**kw)
