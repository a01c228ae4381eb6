"""Backtest of enrolment forecasts on a real history: how close would they have come?

For every origin year the forecast is fitted on the years up to the origin only, carried to each
later year up to the horizon and set against what was counted. Two methods, side by side:

``csr`` — the classic cohort-survival yardstick every district uses
    Per school, each grade-progression ratio (grade g + 1 in year t ÷ grade g in year t − 1) is
    the plain mean of the last three transitions (t = origin − 2 … origin); the entry grade (K,
    or grade 1) is the births ``entry age`` years before × the school's entry ratio, the plain
    mean over the same three years of entry pupils ÷ those births (years with no births known
    are left out of the mean). A school with no transition in its history (it opened in the
    origin year) gets no forecast, and the district forecast is the sum of the schools'
    forecasts.
``schoolmap`` — the method we recommend (constants in :class:`SchoolmapSettings`)
    The district is forecast first: its grade-progression ratios are ratio-of-sums over the last
    five transitions, its entry ratio a weighted mean over eight years (weights 0.8 a year older).
    Each school's ratios are shrunk towards the district's as if the district ratio were 300
    more pupils of the school's history (so small and noisy schools lean on the district); its
    entry grade takes its five-year share of the district's entry grade; the schools are then
    scaled, grade by grade, to add up to the district forecast. P10 / P90 come from the
    method's own errors on earlier origins only (targets up to the origin, never later): the
    10th and 90th percentiles of log(actual ÷ forecast) ÷ √horizon, times √horizon.

The measures (:func:`summarise_backtest`): MAPE — the mean over forecasts of
|forecast − actual| ÷ actual, in % — and bias — the mean of (forecast − actual) ÷ actual — by
method, horizon and level, and the share of actuals inside [p10, p90]. Levels:

- ``district`` — the district total (every school counted that year);
- ``school`` — the schools with a count in every year of the history (a like-for-like panel:
  schools open in both the first and the last year, and every year between);
- ``school_all`` — every school with a count in both the origin and the target year.

On the ECASD history (``data/history/ecasd``) the ``csr`` definition above reproduces the issue's
yardstick: district 1.9 / 2.4 / 2.4 / 2.5 / 3.2 % and school 5.5 / 7.9 / 9.4 / 9.7 / 9.6 % by
horizon 1 … 5 on origins 2001–2013.

Grades are integers counted from the first primary grade (K = 0; Chinese primary 1–6, junior
7–9); pupils of grade g are taken to be ``first_age + (g − lowest grade)`` years old at the count.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from schoolmap.demand.backtest.history import (
    DISTRICT,
    History,
    build_history,
    grade_label,
    read_births,
    read_enrolment_history,
)
from schoolmap.demand.forecast.progression import (
    ProgressionSettings,
    entry_runs,
    project_schools,
)
from schoolmap.errors import Problem, ValidationError

__all__ = ["BACKTEST_FILES", "Backtest", "LEVELS", "METHODS", "SchoolmapSettings", "Z90",
           "backtest", "summarise_backtest"]


#: Forecast methods the backtest knows.
METHODS: tuple[str, ...] = ("csr", "schoolmap")


#: Files :func:`write_backtest` writes.
BACKTEST_FILES: tuple[str, ...] = ("backtest.csv", "backtest_summary.csv", "backtest.html")


LEVELS: tuple[str, ...] = ("district", "school", "school_all")


Z90 = 1.2815515655446004  # standard normal 90th percentile


@dataclass(frozen=True)
class SchoolmapSettings(ProgressionSettings):
    """Constants of the ``schoolmap`` method (chosen on ECASD origins ≤ 2008 only): those of
    :class:`~schoolmap.demand.forecast.ProgressionSettings` (the run's grade-progression
    forecast uses the same method and defaults), and the interval's.

    Attributes
    ----------
    min_residuals : int
        Residuals from earlier origins needed for empirical P10 / P90 (fewer, from 3: a normal
        band with the residuals' root mean square; fewer than 3: no interval).
    """

    min_residuals: int = 20


@dataclass
class Backtest:
    """Result of :func:`backtest`.

    Attributes
    ----------
    table : DataFrame
        One row per origin × horizon × school (and :data:`DISTRICT`) × method: ``origin,
        horizon, year, school, method, forecast, actual, p10, p90`` (pupils).
    summary : DataFrame
        :func:`summarise_backtest` of ``table``.
    history : History
    notes : list of str
        What was assumed or left out.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    history: History
    notes: list[str] = field(default_factory=list)


def _finite_mean(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0 of the finite values (NaN where there are none)."""
    ok = np.isfinite(values)
    count = ok.sum(axis=0)
    total = np.where(ok, values, 0.0).sum(axis=0)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


def _csr(hist: History, o: int, n_ahead: int) -> np.ndarray:
    """The cohort-survival yardstick at origin index ``o``, shape (n_schools, n_ahead, n_grades).
    """
    e, bl = hist.students, hist.births
    n_s, _, n_g = e.shape
    out = np.full((n_s, n_ahead, n_g), np.nan)
    window = range(max(o - 2, 0), o + 1)
    for i in range(n_s):
        if np.isnan(e[i, o, 0]):
            continue
        rows = [t for t in window if t >= 1 and not np.isnan(e[i, t, 0])
                and not np.isnan(e[i, t - 1, 0])]
        if not rows:
            continue  # opened in the origin year: no ratio yet (the yardstick skips it)
        taught = np.nansum(e[i, list(window)], axis=0) > 0
        entry, carried = entry_runs(taught)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = _finite_mean(np.array([e[i, t, 1:] / e[i, t - 1, :-1] for t in rows]))
            enter_ratio = _finite_mean(np.array([e[i, t] / bl[t] for t in window
                                                 if not np.isnan(e[i, t, 0])]))
        if np.isnan(enter_ratio[entry]).any():
            continue  # no births known in the window: no entry ratio
        ratio = np.where(np.isnan(ratio), 1.0, ratio)
        cur = e[i, o].copy()
        for h in range(n_ahead):
            nxt = np.zeros(n_g)
            nxt[1:] = np.where(carried[1:], cur[:-1] * ratio, 0.0)
            nxt[entry] = enter_ratio[entry] * bl[o + h + 1, entry]
            out[i, h] = cur = nxt
    return out


def _schoolmap(hist: History, o: int, n_ahead: int, st: SchoolmapSettings) -> np.ndarray:
    """The recommended method at origin index ``o``, shape (n_schools, n_ahead, n_grades)."""
    return project_schools(hist.students, hist.births, o, n_ahead, st)[0]


def _forecast(hist: History, method: str, o: int, n_ahead: int,
              settings: SchoolmapSettings) -> np.ndarray:
    if method == "csr":
        return _csr(hist, o, n_ahead)
    return _schoolmap(hist, o, n_ahead, settings)


def _band(z: np.ndarray, minimum: int) -> tuple[float, float]:
    """10th and 90th percentiles of standardised log errors (NaN, NaN with fewer than 3)."""
    z = z[np.isfinite(z)]
    if len(z) >= minimum:
        lo, hi = np.quantile(z, [0.1, 0.9])
        return float(lo), float(hi)
    if len(z) >= 3:
        s = float(np.sqrt(np.mean(z ** 2)))
        return -Z90 * s, Z90 * s
    return np.nan, np.nan


def _residuals(hist: History, fc_all: dict[int, np.ndarray], n_ahead: int
               ) -> list[tuple[int, int, int, float]]:
    """(target index, horizon, school (−1: district), log(actual ÷ forecast) ÷ √horizon)."""
    e = hist.students
    out = []
    n_years = e.shape[1]
    for o, fc in fc_all.items():
        for h in range(1, n_ahead + 1):
            t = o + h
            if t >= n_years:
                break
            f = fc[:, h - 1].sum(axis=1)
            a = e[:, t].sum(axis=1)
            ok = np.isfinite(f) & np.isfinite(a) & (f > 0) & (a > 0)
            for i in np.flatnonzero(ok):
                out.append((t, h, int(i), float(np.log(a[i] / f[i]) / np.sqrt(h))))
            fd, ad = np.nansum(f), np.nansum(a)
            if fd > 0 and ad > 0 and np.isfinite(f).any():
                out.append((t, h, -1, float(np.log(ad / fd) / np.sqrt(h))))
    return out


def _span(value: Sequence[int] | range | str | None, name: str, default: range) -> list[int]:
    if value is None:
        return list(default)
    if isinstance(value, str):
        text = value.strip()
        try:
            if ":" in text:
                a, b = text.split(":", 1)
                return list(range(int(a), int(b) + 1))
            return [int(x) for x in text.split(",") if x.strip()]
        except ValueError as exc:
            raise ValidationError([f"{name} must be FIRST:LAST or a list like 1,2,3, got "
                                   f"{value!r}"], "backtest") from exc
    return [int(v) for v in value]


def backtest(
    enrolment: str | os.PathLike[str] | pd.DataFrame,
    births: str | os.PathLike[str] | Mapping[int, float] | None = None,
    *,
    origins: Sequence[int] | str | None = None,
    horizons: Sequence[int] | str | None = None,
    methods: Sequence[str] | str = METHODS,
    first_age: int | None = None,
    settings: SchoolmapSettings | None = None,
    split: int | None = None,
) -> Backtest:
    """Backtest enrolment forecasts: fit at each origin on the years up to it, compare later.

    Parameters
    ----------
    enrolment : path-like or DataFrame
        The history (see :func:`read_enrolment_history`): ``school_id`` (or ``school``),
        ``year``, ``grade``, ``students``.
    births : path-like or mapping year → births, optional
        Births (persons) of the years the entry grade's pupils were born. Without births the
        entry grade is forecast as if births stayed flat: csr carries each school's mean entry
        of its last three years, schoolmap the district's weighted mean entry.
    origins : sequence of int or ``"FIRST:LAST"``, optional
        Origin years (default: from the 4th year of the history — three transitions to fit on —
        to the year before the last; all years after the first when the history is shorter).
    horizons : sequence of int or ``"FIRST:LAST"``, optional
        Years ahead (default 1–5). Only targets within the history are compared.
    methods : sequence of str or comma-separated str
        Of :data:`METHODS`.
    first_age : int, optional
        Age of the pupils of the lowest grade at the count (default: 5 for K, 6 for grade 1 —
        grade + 5); higher grades one year older each.
    settings : SchoolmapSettings, optional
        Constants of the ``schoolmap`` method.
    split : int, optional
        Also summarise origins ≤ ``split`` and > ``split`` separately (e.g. the origins the
        constants were chosen on and the later ones).

    Returns
    -------
    Backtest

    Raises
    ------
    ValidationError
        Bad files (naming file, line and column), unknown methods, origins outside the history,
        or births missing for a year a forecast needs.

    Examples
    --------
    Two schools whose every grade keeps its pupils and whose entry follows births:

    >>> rows = [("A", y, g, 10.0) for y in range(2018, 2023) for g in (0, 1)]
    >>> rows += [("B", y, g, 30.0) for y in range(2018, 2023) for g in (0, 1)]
    >>> hist = pd.DataFrame(rows, columns=["school_id", "year", "grade", "students"])
    >>> births = {y: 100.0 for y in range(2010, 2025)}
    >>> bt = backtest(hist, births, origins=[2021], horizons=[1])
    >>> bt.table[["school", "method", "forecast", "actual"]].values.tolist()[:3]
    [['A', 'csr', 20.0, 20.0], ['B', 'csr', 60.0, 60.0], ['__district__', 'csr', 80.0, 80.0]]
    >>> bt.table.groupby("method")["forecast"].sum().to_dict()
    {'csr': 160.0, 'schoolmap': 160.0}
    """
    st = settings or SchoolmapSettings()
    source = (Path(enrolment).name if not isinstance(enrolment, pd.DataFrame) else "enrolment")
    table = read_enrolment_history(enrolment)
    births_map = None if births is None else read_births(births)
    hist = build_history(table, births_map, first_age, source)
    names = [m.strip() for m in (methods.split(",") if isinstance(methods, str) else methods)]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise ValidationError([f"unknown method(s) {', '.join(map(repr, unknown))}; choose from "
                               f"{', '.join(METHODS)}" if unknown else "no method given"],
                              "backtest")
    first, last = int(hist.years[0]), int(hist.years[-1])
    n_years = len(hist.years)
    if n_years < 3:
        raise ValidationError([Problem(source, f"only {n_years} year(s) of history; a backtest "
                                       "needs at least 3 (fit on two, compare the third)")],
                              "backtest")
    default = range(first + 3, last) if n_years >= 5 else range(first + 1, last)
    origin_list = sorted(set(_span(origins, "origins", default)))
    horizon_list = sorted(set(_span(horizons, "horizons", range(1, 6))))
    problems = []
    bad = [y for y in origin_list if not first + 1 <= y <= last - 1]
    if bad or not origin_list:
        problems.append(f"origins must lie in {first + 1}–{last - 1} (a year to fit a transition "
                        f"on before, a year to compare after); got "
                        f"{', '.join(map(str, bad)) or 'none'}")
    if not horizon_list or min(horizon_list) < 1:
        problems.append(f"horizons must be whole numbers ≥ 1, got {horizon_list}")
    ValidationError.raise_if(problems, "backtest")
    notes = []
    n_ahead = max(horizon_list)
    if births_map is not None:
        problems += _births_needed(hist, origin_list, n_ahead)
        ValidationError.raise_if(problems, "backtest")
        notes.append(f"births: {min(births_map)}–{max(births_map)}; pupils of grade "
                     f"{grade_label(hist.grades[0])} taken to be "
                     f"{(hist.grades[0] + 5) if first_age is None else first_age} at the count")
    else:
        notes.append("no births given: entry grades forecast as if births stayed flat (csr: "
                     "each school's mean entry of its last three years; schoolmap: the "
                     "district's weighted mean entry)")
    o_idx = [y - first for y in origin_list]
    rows = []
    for method in names:
        # every origin the history allows, for the intervals' earlier errors
        fc_all = {}
        for o in range(1, n_years - 1):
            fc = _forecast(hist, method, o, min(n_ahead, n_years - 1 - o), st)
            if np.isfinite(fc).any():
                fc_all[o] = fc
        res = np.array(_residuals(hist, fc_all, n_ahead) or np.zeros((0, 4)), dtype=float)
        for o in o_idx:
            if o not in fc_all:
                notes.append(f"{method}: no forecast from {first + o} (no births known for "
                             "the entry ratio's years)")
                continue
            fc = fc_all[o]
            known = res[res[:, 0] <= o] if len(res) else res
            band_s = _band(known[known[:, 2] >= 0, 3], st.min_residuals) if len(known) else (
                np.nan, np.nan)
            band_d = _band(known[known[:, 2] < 0, 3], st.min_residuals) if len(known) else (
                np.nan, np.nan)
            skipped = [hist.schools[i] for i in range(len(hist.schools))
                       if hist.is_open[i, o] and not np.isfinite(fc[i]).all()]
            if skipped:
                notes.append(f"{method}: no forecast from {first + o} for "
                             f"{', '.join(skipped)} (no transition in its history yet; the "
                             "district total leaves it out)")
            for h in horizon_list:
                t = o + h
                if t >= n_years:
                    continue
                f = fc[:, h - 1].sum(axis=1)
                a = np.where(hist.is_open[:, t], np.nansum(hist.students[:, t], axis=1), np.nan)
                root = np.sqrt(h)
                for i, school in enumerate(hist.schools):
                    if not np.isfinite(f[i]):
                        continue
                    rows.append((first + o, h, first + t, school, method, f[i], a[i],
                                 f[i] * np.exp(band_s[0] * root),
                                 f[i] * np.exp(band_s[1] * root)))
                fd = float(np.nansum(f))
                rows.append((first + o, h, first + t, DISTRICT, method, fd,
                             float(np.nansum(hist.students[:, t])),
                             fd * np.exp(band_d[0] * root), fd * np.exp(band_d[1] * root)))
    out = pd.DataFrame(rows, columns=["origin", "horizon", "year", "school", "method",
                                      "forecast", "actual", "p10", "p90"])
    return Backtest(out, summarise_backtest(out, hist, split=split), hist,
                    list(dict.fromkeys(notes)))


def _births_needed(hist: History, origins: list[int], n_ahead: int) -> list[Problem]:
    """Births a compared forecast needs and the file lacks."""
    first, last = int(hist.years[0]), int(hist.years[-1])
    targets = sorted({t for o in origins for t in range(o + 1, min(o + n_ahead, last) + 1)})
    dist = hist.district()
    entry, _ = entry_runs(dist.sum(axis=0) > 0)
    lacking = set()
    ages = {}
    for g in np.flatnonzero(entry):
        for y in targets:
            if not np.isfinite(hist.births[y - first, g]):
                age = int(hist.grades[g] - hist.grades[0]) + (
                    int(hist.grades[0]) + 5)  # for the message only
                ages[g] = age
                lacking.add((g, y))
    if not lacking:
        return []
    g0 = min(g for g, _ in lacking)
    years = sorted(y for g, y in lacking if g == g0)
    return [Problem("births", f"no births known for the pupils of grade "
                    f"{grade_label(hist.grades[g0])} in {years[0]}–{years[-1]} (born about "
                    f"{years[0] - ages[g0]}–{years[-1] - ages[g0]}); extend the births file or "
                    "choose earlier --origins / fewer --horizons")]


def _levels(table: pd.DataFrame, hist: History | None) -> pd.DataFrame:
    """Rows of ``table`` labelled by level (a school row may be in two levels)."""
    district = table[table["school"] == DISTRICT].assign(level="district")
    schools = table[(table["school"] != DISTRICT) & table["actual"].notna()]
    if hist is not None:
        panel = {s for s, always in zip(hist.schools, hist.is_open.all(axis=1), strict=True)
                 if always}
    else:
        counted = table[table["actual"].notna()].groupby("school")["year"].nunique()
        panel = set(counted.index[counted == counted.max()])
    return pd.concat([district, schools[schools["school"].isin(panel)].assign(level="school"),
                      schools.assign(level="school_all")], ignore_index=True)


def summarise_backtest(table: pd.DataFrame, history: History | None = None, *,
                       split: int | None = None) -> pd.DataFrame:
    """MAPE, bias and interval coverage by method, level and horizon.

    Parameters
    ----------
    table : DataFrame
        :attr:`Backtest.table`.
    history : History, optional
        To find the schools counted in every year (level ``school``); without it, the schools
        with the most target years in ``table``.
    split : int, optional
        Also summarise origins ≤ ``split`` and > ``split`` separately.

    Returns
    -------
    DataFrame
        ``origins`` (e.g. ``"2001–2013"``), ``method``, ``level``, ``horizon``, ``n``,
        ``mape_pct`` (mean |forecast − actual| ÷ actual, %), ``bias_pct`` (mean (forecast −
        actual) ÷ actual, %), ``coverage_p10_p90`` (share of actuals in [p10, p90], of the
        ``n_interval`` rows with an interval).
    """
    rows = _levels(table, history)
    rows = rows[rows["actual"] > 0]
    rows = rows.assign(error=(rows["forecast"] - rows["actual"]) / rows["actual"] * 100.0,
                       inside=(rows["actual"] >= rows["p10"]) & (rows["actual"] <= rows["p90"]),
                       banded=rows["p10"].notna() & rows["p90"].notna())
    periods = [(rows, _period(rows["origin"]))]
    if split is not None:
        for part in (rows[rows["origin"] <= split], rows[rows["origin"] > split]):
            if len(part):
                periods.append((part, _period(part["origin"])))
    out = []
    method_order = {m: k for k, m in enumerate(METHODS)}
    for part, label in periods:
        for (method, level, h), grp in part.groupby(["method", "level", "horizon"], sort=False):
            banded = grp[grp["banded"]]
            out.append({"origins": label, "method": method, "level": level,
                        "horizon": int(h), "n": len(grp),
                        "mape_pct": float(grp["error"].abs().mean()),
                        "bias_pct": float(grp["error"].mean()),
                        "coverage_p10_p90": float(banded["inside"].mean()) if len(banded)
                        else np.nan,
                        "n_interval": len(banded)})
    frame = pd.DataFrame(out, columns=["origins", "method", "level", "horizon", "n", "mape_pct",
                                       "bias_pct", "coverage_p10_p90", "n_interval"])
    if frame.empty:
        return frame
    key = (frame["origins"].map({p[1]: k for k, p in enumerate(periods)}) * 1000
           + frame["method"].map(method_order).fillna(9) * 100
           + frame["level"].map({lv: k for k, lv in enumerate(LEVELS)}) * 10)
    return frame.assign(_k=key).sort_values(["_k", "horizon"], kind="stable").drop(
        columns="_k").reset_index(drop=True)


def _period(origins: pd.Series) -> str:
    return f"{int(origins.min())}–{int(origins.max())}"
