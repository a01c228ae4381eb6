"""The ``[forecast]`` table of a scenario: :class:`ForecastSettings` (births, migration,
survival, housing, ensemble), and the migration tables by age group it may name."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schoolmap.demand.forecast.cohort import DEFAULT_ASFR, DEFAULT_GIRLS_SHARE, N_AGES, WOMEN_BANDS
from schoolmap.errors import ValidationError
from schoolmap.io.zones import zone_of_points

__all__ = ["BIRTHS_SOURCES", "ForecastSettings", "migration_by_group", "read_migration_table"]


@dataclass(frozen=True)
class ForecastSettings:
    """A scenario's ``[forecast]`` table: births, migration, new housing, ensemble.

    Attributes
    ----------
    births : dict year → births, optional
        District births per forecast year; overrides the trend.
    births_trend : float
        Yearly relative change of births from the base year's age-0 count (−0.03 = −3 %/yr).
    births_change : float
        Scenario shock on births from ``births_from`` on (−0.20 = births 20 % lower).
    births_from : int, optional
        First year of the shock (default: the first forecast year).
    migration : float
        Net migration rate per year, all ages (0.01 = +1 %).
    migration_change : float
        Added to ``migration`` (a surge > 0, an outflow < 0).
    survival : float
        Share of children surviving each year.
    housing : bool
        Add the children of the ``developments`` layer.
    housing_delay : int
        Years every completion is delayed.
    yields : dict level → children per 100 dwellings, optional
        Default :data:`DEFAULT_YIELDS`.
    ensemble : int
        Monte-Carlo members (0: none).
    births_cv, migration_sd : float
        Spread of the ensemble's births (coefficient of variation) and migration (rate).
    births_source : {"series", "fertility"}
        ``series``: district births (``births`` / ``births_trend``) split over cells by their
        share of the base year's babies. ``fertility``: each cell's births = its women
        ``women_15_19`` … ``women_45_49`` × ``fertility`` (the cells must carry them).
    fertility : dict band → births per woman per year, optional
        Age-specific fertility by band ``15_19`` … ``45_49``; bands not given keep
        :data:`DEFAULT_ASFR`. ``births_change`` / ``births_from`` scale it like the series.
    fertility_trend : float
        Yearly relative change of every rate (−0.02 = −2 %/yr).
    girls_share : float
        Share of girls among children aged 14 (they join the women 15–19).
    migration_by_age : dict, optional
        Net migration rates by single age 0–17 replacing ``migration``: ``district = [18
        rates]`` and/or ``<zone_id> = [18 rates]`` (cells in that zone), or ``file =
        "rates.csv"`` (columns ``age``, ``rate``, optional ``zone_id``; relative to the
        scenario file). A list may be replaced by a table ``{0 = …, …, 17 = …}``.
    migration_factor : float
        Multiplies the ``migration_by_age`` rates (2.0: a surge twice the usual flows,
        −1.0: the flows reversed); ``migration_change`` is added after.
    puhui_target : float
        Share of kindergarten demand that public and 普惠 places should hold (≥ 80 % in
        the county evaluation rules): the forecast's 普惠 demand.
    """

    births: dict[int, float] | None = None
    births_trend: float = 0.0
    births_change: float = 0.0
    births_from: int | None = None
    migration: float = 0.0
    migration_change: float = 0.0
    survival: float = 0.999
    housing: bool = True
    housing_delay: int = 0
    yields: dict[str, float] | None = None
    ensemble: int = 0
    births_cv: float = 0.05
    migration_sd: float = 0.01
    births_source: str = "series"
    fertility: dict[str, float] | None = None
    fertility_trend: float = 0.0
    girls_share: float = DEFAULT_GIRLS_SHARE
    migration_by_age: dict[str, Any] | None = None
    migration_factor: float = 1.0
    puhui_target: float = 0.8

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: str = "[forecast]"
                   ) -> ForecastSettings:
        """Build from a parsed ``[forecast]`` table, naming every unknown key or bad value."""
        import dataclasses

        known = {f.name for f in dataclasses.fields(cls)}
        problems = [f"{where}: unknown key {k!r}; known: {', '.join(sorted(known))}"
                    for k in table if k not in known]
        values: dict[str, object] = {}
        for key, value in table.items():
            if key not in known:
                continue
            if key == "births":
                if not isinstance(value, Mapping) or not all(
                        str(y).isdigit() and isinstance(b, int | float) and b >= 0
                        for y, b in value.items()):
                    problems.append(f"{where}: births must be a table of year = births ≥ 0")
                    continue
                value = {int(y): float(b) for y, b in value.items()}
            elif key == "yields":
                if not isinstance(value, Mapping) or not all(
                        isinstance(v, int | float) and v >= 0 for v in value.values()):
                    problems.append(f"{where}: yields must be a table of level = children per "
                                    "100 dwellings")
                    continue
                value = {str(k): float(v) for k, v in value.items()}
            elif key == "births_source":
                if value not in BIRTHS_SOURCES:
                    problems.append(f"{where}: births_source must be one of "
                                    f"{', '.join(map(repr, BIRTHS_SOURCES))}, got {value!r}")
                    continue
            elif key == "fertility":
                if not isinstance(value, Mapping):
                    problems.append(f"{where}: fertility must be a table of band = births per "
                                    f"woman per year (bands {', '.join(WOMEN_BANDS)})")
                    continue
                unknown = [str(k) for k in value if str(k) not in WOMEN_BANDS]
                bad = [str(k) for k, v in value.items() if isinstance(v, bool)
                       or not isinstance(v, int | float) or not 0 <= v <= 1]
                if unknown:
                    problems.append(f"{where}: fertility: unknown band(s) {', '.join(unknown)}; "
                                    f"bands: {', '.join(WOMEN_BANDS)}")
                if bad:
                    problems.append(f"{where}: fertility: {', '.join(bad)} must be births per "
                                    "woman per year between 0 and 1")
                if unknown or bad:
                    continue
                value = {str(k): float(v) for k, v in value.items()}
            elif key == "migration_by_age":
                try:
                    value = _migration_table_spec(value, f"{where} migration_by_age")
                except ValidationError as exc:
                    problems += [str(p) for p in exc.problems]
                    continue
            elif key == "housing":
                if not isinstance(value, bool):
                    problems.append(f"{where}: housing must be true or false")
                    continue
            elif key in ("births_from", "housing_delay", "ensemble"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    problems.append(f"{where}: {key} must be a whole number ≥ 0")
                    continue
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{where}: {key} must be a number, got {value!r}")
                continue
            values[key] = value
        for key in ("survival", "girls_share", "puhui_target"):
            if isinstance(values.get(key), float | int) and not 0 <= values[key] <= 1:
                problems.append(f"{where}: {key} is a share between 0 and 1")
        for key in ("births_cv", "migration_sd"):  # spreads of the ensemble: never negative
            if isinstance(values.get(key), float | int) and values[key] < 0:
                problems.append(f"{where}: {key} is a spread ≥ 0 (0: no uncertainty), got "
                                f"{values[key]!r}")
        ValidationError.raise_if(problems, "scenario forecast")
        return cls(**values)  # type: ignore[arg-type]

    def births_series(self, base_births: float, base_year: int, years: int) -> np.ndarray:
        """District births of each forecast year (persons), shape (years,)."""
        out = np.empty(years)
        start = self.births_from if self.births_from is not None else base_year + 1
        for t in range(1, years + 1):
            year = base_year + t
            if self.births and year in self.births:
                value = self.births[year]
            else:
                value = base_births * (1.0 + self.births_trend) ** t
            if year >= start:
                value *= 1.0 + self.births_change
            out[t - 1] = max(value, 0.0)
        return out

    def fertility_rates(self, base_year: int, years: int) -> np.ndarray:
        """Births per woman per year by band for every year, shape (years + 1, 7).

        :data:`DEFAULT_ASFR` overridden by ``fertility``, × (1 + ``fertility_trend``)^t,
        × (1 + ``births_change``) from ``births_from`` on (row 0 = base year).
        """
        rates = np.array([(self.fertility or {}).get(b, DEFAULT_ASFR[b]) for b in WOMEN_BANDS])
        start = self.births_from if self.births_from is not None else base_year + 1
        t = np.arange(years + 1)
        scale = (1.0 + self.fertility_trend) ** t
        scale = scale * np.where(base_year + t >= start, 1.0 + self.births_change, 1.0)
        return np.maximum(scale[:, None] * rates[None, :], 0.0)


BIRTHS_SOURCES = ("series", "fertility")


def _rates_by_age(value: object, where: str) -> list[float]:
    """18 rates from a list or an ``{age = rate}`` table, or a ValidationError saying why."""
    if isinstance(value, Mapping):
        keys = {str(k).strip(): v for k, v in value.items()}
        unknown = [k for k in keys if k not in {str(a) for a in range(N_AGES)}]
        missing = [str(a) for a in range(N_AGES) if str(a) not in keys]
        problems = []
        if unknown:
            problems.append(f"{where}: ages must be 0–17, got {', '.join(unknown)}")
        if missing:
            problems.append(f"{where}: rates missing for age(s) {', '.join(missing)}; give all "
                            "ages 0–17")
        ValidationError.raise_if(problems, "migration by age")
        value = [keys[str(a)] for a in range(N_AGES)]
    if not isinstance(value, list | tuple) or len(value) != N_AGES:
        got = len(value) if isinstance(value, list | tuple) else type(value).__name__
        raise ValidationError([f"{where}: give 18 rates, for ages 0–17 (got {got})"],
                              "migration by age")
    bad = [str(a) for a, v in enumerate(value)
           if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v)]
    if bad:
        raise ValidationError([f"{where}: rates of age(s) {', '.join(bad)} are not numbers"],
                              "migration by age")
    low = [str(a) for a, v in enumerate(value) if v < -1]
    if low:
        raise ValidationError([f"{where}: rates of age(s) {', '.join(low)} are below −1 (−1 = "
                               "everyone leaves)"], "migration by age")
    return [float(v) for v in value]


def _migration_table_spec(value: object, where: str) -> dict[str, Any]:
    """Check a scenario's ``migration_by_age`` table: ``file`` or group → 18 rates."""
    if not isinstance(value, Mapping) or not value:
        raise ValidationError([f"{where}: give district = [18 rates], <zone_id> = [18 rates] "
                               "or file = \"rates.csv\""], "migration by age")
    if "file" in value:
        if len(value) > 1 or not isinstance(value["file"], str):
            raise ValidationError([f"{where}: file = \"rates.csv\" stands alone (put zone "
                                   "rates in the file)"], "migration by age")
        return {"file": value["file"]}
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, rates in value.items():
        try:
            out[str(key)] = _rates_by_age(rates, f"{where}.{key}")
        except ValidationError as exc:
            problems += [str(p) for p in exc.problems]
    ValidationError.raise_if(problems, "migration by age")
    return out


def read_migration_table(path: str | os.PathLike[str]) -> dict[str, list[float]]:
    """Read net migration rates by age from a CSV file.

    Parameters
    ----------
    path : path-like
        Columns ``age`` (0–17), ``rate`` (net migration per year, 0.02 = +2 %) and optionally
        ``zone_id`` (empty or missing: the district's rates).

    Returns
    -------
    dict
        ``"district"`` or a zone id → 18 rates.

    Raises
    ------
    ValidationError
        Naming the file, the lines and what to fix.
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError([f"{p}: no such migration table (columns age, rate, zone_id)"],
                              "migration by age")
    table = pd.read_csv(p, dtype=str, keep_default_na=False)
    missing = [c for c in ("age", "rate") if c not in table.columns]
    if missing:
        raise ValidationError([f"{p.name}: column(s) {', '.join(missing)} missing; expected "
                               "age, rate and optionally zone_id"], "migration by age")
    zone = (table["zone_id"].str.strip() if "zone_id" in table.columns
            else pd.Series([""] * len(table)))
    zone = zone.where(zone != "", "district")
    age = pd.to_numeric(table["age"], errors="coerce")
    rate = pd.to_numeric(table["rate"], errors="coerce")
    problems = []
    for name, col in (("age", age), ("rate", rate)):
        bad = np.flatnonzero(col.isna().to_numpy())
        if len(bad):
            problems.append(f"{p.name}: {name} is not a number on line(s) "
                            f"{', '.join(str(i + 2) for i in bad[:5])}")
    ValidationError.raise_if(problems, "migration by age")
    out: dict[str, Any] = {}
    for key in dict.fromkeys(zone):
        rows = (zone == key).to_numpy()
        ages = age[rows].to_numpy()
        if len(set(ages)) != len(ages):
            problems.append(f"{p.name}: {key}: an age appears twice")
            continue
        try:
            out[key] = _rates_by_age({str(int(a)) if a == int(a) else str(a): r
                                      for a, r in zip(ages, rate[rows], strict=True)},
                                     f"{p.name}: {key}")
        except ValidationError as exc:
            problems += [str(q) for q in exc.problems]
    ValidationError.raise_if(problems, "migration by age")
    return out


def migration_by_group(
    table: Mapping[str, Sequence[float]],
    cell_xy: np.ndarray,
    zones: pd.DataFrame | None,
    years: int,
    *,
    default: float = 0.0,
    factor: float = 1.0,
    change: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Net migration rates by year, group of cells and age, from a table by zone and age.

    Parameters
    ----------
    table : mapping
        ``"district"`` and/or zone ids → 18 rates (ages 0–17).
    cell_xy : ndarray of shape (n_cells, 2)
        Cell points (metres), in the zones' CRS.
    zones : GeoDataFrame or None
        The district's zones (``zone_id``); those named in ``table`` must be of one level.
    years : int
    default : float
        Rate of every age for cells in no listed zone when ``table`` has no ``district``.
    factor, change : float
        Rates become ``rate × factor + change`` (surge / outflow).

    Returns
    -------
    migration : ndarray of shape (years, n_groups, 18)
        Group 0 = the district's rates, group k = the k-th listed zone.
    group : ndarray of shape (n_cells,), int64

    Examples
    --------
    >>> mig, grp = migration_by_group({"district": [0.01] * 18}, np.zeros((2, 2)), None, 1,
    ...                               factor=2.0)
    >>> mig.shape, float(mig[0, 0, 5]), grp.tolist()
    ((1, 1, 18), 0.02, [0, 0])
    """
    named = [k for k in table if k != "district"]
    known = set() if zones is None else set(zones["zone_id"].astype(str))
    unknown = [k for k in named if k not in known]
    if unknown:
        raise ValidationError([f"migration_by_age: zone(s) {', '.join(map(repr, unknown))} "
                               "are not in the district's zones layer"], "migration by age")
    rates = [np.asarray(table.get("district", [default] * N_AGES), dtype=np.float64)]
    group = np.zeros(len(cell_xy), dtype=np.int64)
    if named:
        assert zones is not None
        listed = zones[zones["zone_id"].astype(str).isin(named)].reset_index(drop=True)
        if "level" in listed.columns and listed["level"].nunique() > 1:
            raise ValidationError([f"migration_by_age: zones of one level only (got "
                                   f"{', '.join(sorted(map(str, set(listed['level']))))})"],
                                  "migration by age")
        row = zone_of_points(cell_xy, listed)
        order = {z: k + 1 for k, z in enumerate(named)}
        group_of_row = np.array([order[z] for z in listed["zone_id"].astype(str)])
        group = np.where(row >= 0, group_of_row[np.maximum(row, 0)], 0).astype(np.int64)
        rates += [np.asarray(table[z], dtype=np.float64) for z in named]
    mig = np.stack(rates) * factor + change
    return np.ascontiguousarray(np.broadcast_to(mig, (years, *mig.shape))), group
