"""The ``[siting]`` table of a scenario: :class:`SitingSettings` (reach, target, how many new
schools at most, time for the lower bound's LP), and the default reach per level."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schoolmap.errors import ValidationError
from schoolmap.norms import LEVELS, levels_from_table
from schoolmap.planning.siting.bound import DEFAULT_LP_TIME_LIMIT_S

__all__ = ["DEFAULT_REACH_M", "SitingSettings"]


#: Longest trip (metres) a student may be sent to a seat when siting, by level: typical
#: county-plan limits for rural areas (the urban life-circle radii of GB 50180 — 300 / 500 /
#: 1,000 m — are reported as "beyond the service radius", not enforced). Override per scenario.
DEFAULT_REACH_M: dict[str, float] = {"kindergarten": 3000.0, "primary": 3000.0,
                                     "junior": 5000.0, "senior": 10000.0}


@dataclass(frozen=True)
class SitingSettings:
    """The ``[siting]`` table of a scenario.

    Attributes
    ----------
    enabled : bool
        Recommend new schools in ``schoolmap run``.
    levels : tuple of str or None
        Levels to site (None: the scenario's levels).
    reach_m : dict
        Level → longest allowed trip (metres); missing levels use :data:`DEFAULT_REACH_M`.
    target_unserved : float
        Students who may remain without a seat within reach, per level and year.
    max_new : int
        Most new schools proposed per level.
    lp_time_limit_s : float
        Seconds HiGHS may spend on the LP lower bound of each level (default
        :data:`~schoolmap.planning.siting.bound.DEFAULT_LP_TIME_LIMIT_S`); past it the weaker
        seats-missing bound is reported, with a note.
    """

    enabled: bool = True
    levels: tuple[str, ...] | None = None
    reach_m: dict[str, float] = field(default_factory=dict)
    target_unserved: float = 0.0
    max_new: int = 50
    lp_time_limit_s: float = DEFAULT_LP_TIME_LIMIT_S

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``summary.json``; ``lp_time_limit_s`` only when it is not the default
        (summaries of runs that leave it alone read as before the key existed)."""
        out = dataclasses.asdict(self)
        if self.lp_time_limit_s == DEFAULT_LP_TIME_LIMIT_S:
            del out["lp_time_limit_s"]
        return out

    def reach(self, level: str) -> float:
        """Longest allowed trip for ``level`` (metres)."""
        return float(self.reach_m.get(level, DEFAULT_REACH_M[level]))

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = "[siting]") -> SitingSettings:
        """Validate a scenario's ``[siting]`` table, naming every problem."""
        problems: list[str] = []
        known = {f.name for f in dataclasses.fields(cls)}
        for key in table:
            if key not in known:
                problems.append(f"{where}: unknown key {key!r}; expected one of "
                                f"{', '.join(sorted(known))}")
        kw: dict[str, Any] = {}
        if "enabled" in table:
            if not isinstance(table["enabled"], bool):
                problems.append(f"{where}: enabled must be true or false")
            kw["enabled"] = bool(table["enabled"])
        if "levels" in table:
            levels = levels_from_table(table["levels"], where, problems)
            if levels is not None:
                kw["levels"] = levels
        if "reach_m" in table:
            reach = table["reach_m"]
            if isinstance(reach, int | float) and not isinstance(reach, bool):
                reach = {lv: reach for lv in LEVELS}
            if not isinstance(reach, dict):
                problems.append(f"{where}: reach_m must be metres or a table level = metres")
            else:
                for lv, v in reach.items():
                    if lv not in LEVELS:
                        problems.append(f"{where}.reach_m: unknown level {lv!r}")
                    elif not isinstance(v, int | float) or isinstance(v, bool) or not v > 0:
                        problems.append(f"{where}.reach_m.{lv}: must be metres > 0, got {v!r}")
                kw["reach_m"] = {lv: float(v) for lv, v in reach.items()
                                 if isinstance(v, int | float)}
        if "target_unserved" in table:
            v = table["target_unserved"]
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                problems.append(f"{where}: target_unserved must be students ≥ 0, got {v!r}")
            else:
                kw["target_unserved"] = float(v)
        if "max_new" in table:
            v = table["max_new"]
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                problems.append(f"{where}: max_new must be a whole number ≥ 1, got {v!r}")
            else:
                kw["max_new"] = v
        if "lp_time_limit_s" in table:
            v = table["lp_time_limit_s"]
            if not isinstance(v, int | float) or isinstance(v, bool) or not 0 < v < float("inf"):
                problems.append(f"{where}: lp_time_limit_s must be seconds > 0, got {v!r}")
            else:
                kw["lp_time_limit_s"] = float(v)
        if problems:
            raise ValidationError(problems, where)
        return cls(**kw)
