"""The ``[admission]`` table of a scenario: :class:`AdmissionSettings` (levels, mechanism, draws,
seed, year, priority classes with their shares, 指标生 quotas).

A scenario file::

    [admission]
    levels = ["primary", "junior"]
    mechanism = "lottery"            # lottery (电脑派位) · boston (志愿优先) · da_stb · da_mtb
    draws = 2000
    classes = [{ name = "一类 户籍+房产", share = 0.6 },
               { name = "二类 户籍", share = 0.3 },
               { name = "三类 随迁子女", share = 0.1, column = "migrant_share" }]
    quota_share = 0.5                # 指标生: half of each senior school's entry places …
    quota_schools = ["H01"]          # … of these schools, split over junior schools by graduates
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schoolmap.errors import Problem, ValidationError
from schoolmap.norms import levels_from_table

__all__ = ["AdmissionSettings", "PriorityClass"]

#: Mechanisms, as in :data:`schoolmap.planning.admission.MECHANISMS`.
_MECHANISMS = ("lottery", "boston", "da_stb", "da_mtb")


@dataclass(frozen=True)
class PriorityClass:
    """One priority class (class 0 is served first).

    Attributes
    ----------
    name : str
        As shown (e.g. ``一类 户籍+房产``).
    share : float
        Share of every cell's applicants in this class (0 … 1; the shares sum to 1).
    column : str or None
        A cells-layer column with this class's share per cell (0 … 1), used where present
        instead of ``share``; the other classes share the rest in proportion to their shares.
    """

    name: str
    share: float
    column: str | None = None


@dataclass(frozen=True)
class AdmissionSettings:
    """The ``[admission]`` table: entry-grade admission odds (入学派位) in ``schoolmap run``.

    Attributes
    ----------
    enabled : bool
    levels : tuple of str or None
        Levels to simulate (None: the scenario's primary and junior).
    mechanism : {"lottery", "boston", "da_stb", "da_mtb"}
    draws : int
        Lottery draws (Monte Carlo; 1 … 1,000,000).
    seed : int or None
        Seed of the draws (None: the scenario's seed).
    year : int or None
        School year of the intake (None: the base year); after the base year the forecast's
        children of entry age are the applicants.
    classes : tuple of PriorityClass
        Priority classes, best first (default one class, ``all``).
    quota_share : float
        指标生: share (0 … 1) of each ``quota_schools`` senior school's entry places set aside
        for junior schools, split by their graduates (0: none).
    quota_schools : tuple of str
        Senior school ids whose places are split (empty: every senior school).
    """

    enabled: bool = True
    levels: tuple[str, ...] | None = None
    mechanism: str = "lottery"
    draws: int = 2000
    seed: int | None = None
    year: int | None = None
    classes: tuple[PriorityClass, ...] = (PriorityClass("all", 1.0),)
    quota_share: float = 0.0
    quota_schools: tuple[str, ...] = ()

    def admission_levels(self, scenario_levels: tuple[str, ...]) -> tuple[str, ...]:
        """Levels to simulate in a run of ``scenario_levels``."""
        if self.levels is not None:
            return tuple(lv for lv in self.levels if lv in scenario_levels)
        return tuple(lv for lv in scenario_levels if lv in ("primary", "junior"))

    @classmethod
    def from_table(cls, table: Mapping[str, Any],
                   where: str = "[admission]") -> AdmissionSettings:
        """Validate a scenario's ``[admission]`` table, naming every problem.

        Examples
        --------
        >>> s = AdmissionSettings.from_table({"draws": 500, "classes": [
        ...     {"name": "一类", "share": 0.7}, {"name": "二类", "share": 0.3}]})
        >>> s.draws, [c.name for c in s.classes]
        (500, ['一类', '二类'])
        >>> AdmissionSettings.from_table({"mechanism": "dice", "draws": 0})
        Traceback (most recent call last):
        ...
        schoolmap.errors.ValidationError: [admission]: 2 problems
          - [admission]: mechanism must be one of lottery, boston, da_stb, da_mtb, got 'dice'
          - [admission]: draws must be a whole number from 1 to 1,000,000, got 0
        """
        problems: list[Problem | str] = []
        known = {f.name for f in dataclasses.fields(cls)}
        problems += [Problem(where, f"unknown key {k!r}; expected one of "
                             f"{', '.join(sorted(known))}") for k in table if k not in known]
        kw: dict[str, Any] = {}
        if "enabled" in table:
            if not isinstance(table["enabled"], bool):
                problems.append(Problem(where, "enabled must be true or false, got "
                                        f"{table['enabled']!r}"))
            kw["enabled"] = bool(table["enabled"])
        if "levels" in table:
            msgs: list[str] = []
            levels = levels_from_table(table["levels"], where, msgs)
            problems += [Problem(where, m.split(": ", 1)[-1]) for m in msgs]
            if levels is not None:
                kw["levels"] = levels
        if "mechanism" in table:
            if table["mechanism"] not in _MECHANISMS:
                problems.append(Problem(where, f"mechanism must be one of "
                                        f"{', '.join(_MECHANISMS)}, got {table['mechanism']!r}"))
            else:
                kw["mechanism"] = table["mechanism"]
        for key, lo, hi in (("draws", 1, 1_000_000), ("seed", 0, 2**63 - 1),
                            ("year", 1900, 2200)):
            if key in table:
                v = table[key]
                if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                    problems.append(Problem(where, f"{key} must be a whole number from {lo:,} "
                                            f"to {hi:,}, got {v!r}"))
                else:
                    kw[key] = v
        if "classes" in table:
            classes = _classes(table["classes"], where, problems)
            if classes is not None:
                kw["classes"] = classes
        if "quota_share" in table:
            v = table["quota_share"]
            if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v <= 1:
                problems.append(Problem(where, f"quota_share must be a share from 0 to 1, got "
                                        f"{v!r}"))
            else:
                kw["quota_share"] = float(v)
        if "quota_schools" in table:
            v = table["quota_schools"]
            if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
                problems.append(Problem(where, "quota_schools must be a list of school ids in "
                                        f"quotes, e.g. [\"H01\"], got {v!r}"))
            else:
                kw["quota_schools"] = tuple(v)
        ValidationError.raise_if(problems, where)
        return cls(**kw)


def _classes(value: object, where: str, problems: list[Problem | str]
             ) -> tuple[PriorityClass, ...] | None:
    """``classes = [{ name = …, share = …, column = … }, …]`` read, or None with problems."""
    example = 'e.g. classes = [{ name = "一类", share = 0.7 }, { name = "二类", share = 0.3 }]'
    if not isinstance(value, list) or not value:
        problems.append(Problem(where, f"classes must be a non-empty list of tables, {example}; "
                                f"got {value!r}"))
        return None
    out, bad = [], False
    for i, item in enumerate(value):
        key = f"classes[{i}]"
        if not isinstance(item, Mapping):
            problems.append(Problem(where, f"{key} must be a table {{ name = …, share = … }}, "
                                    f"got {item!r}"))
            bad = True
            continue
        extra = set(item) - {"name", "share", "column"}
        if extra:
            problems.append(Problem(where, f"{key}: unknown key(s) {sorted(extra)}; expected "
                                    "name, share, column"))
            bad = True
        name, share, column = item.get("name"), item.get("share"), item.get("column")
        if not isinstance(name, str) or not name.strip():
            problems.append(Problem(where, f"{key}.name must be a name in quotes, got {name!r}"))
            bad = True
        if (not isinstance(share, int | float) or isinstance(share, bool)
                or not 0 <= share <= 1):
            problems.append(Problem(where, f"{key}.share must be a share from 0 to 1, got "
                                    f"{share!r}"))
            bad = True
        if column is not None and (not isinstance(column, str) or not column):
            problems.append(Problem(where, f"{key}.column must be a column name in quotes, got "
                                    f"{column!r}"))
            bad = True
        if not bad:
            out.append(PriorityClass(name.strip(), float(share), column))
    if bad:
        return None
    names = [c.name for c in out]
    if len(set(names)) < len(names):
        problems.append(Problem(where, f"classes: names must differ, got {names}"))
        return None
    total = sum(c.share for c in out)
    if abs(total - 1.0) > 1e-6:
        problems.append(Problem(where, f"classes: shares must sum to 1, got {total:g} "
                                f"({' + '.join(f'{c.share:g}' for c in out)})"))
        return None
    return tuple(out)
