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

import base64
import html
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schoolmap.errors import Problem, ValidationError

__all__ = [
    "BACKTEST_FILES",
    "DISTRICT",
    "METHODS",
    "Backtest",
    "History",
    "SchoolmapSettings",
    "backtest",
    "births_from_cells",
    "read_births",
    "read_enrolment_history",
    "summarise_backtest",
    "write_backtest",
]

#: Forecast methods the backtest knows.
METHODS: tuple[str, ...] = ("csr", "schoolmap")
#: The ``school`` of the district-total rows.
DISTRICT = "__district__"
#: Files :func:`write_backtest` writes.
BACKTEST_FILES: tuple[str, ...] = ("backtest.csv", "backtest_summary.csv", "backtest.html")
LEVELS: tuple[str, ...] = ("district", "school", "school_all")
Z90 = 1.2815515655446004  # standard normal 90th percentile


@dataclass(frozen=True)
class SchoolmapSettings:
    """Constants of the ``schoolmap`` method (chosen on ECASD origins ≤ 2008 only).

    Attributes
    ----------
    window : int
        Transitions in the district's and the schools' progression ratios.
    shrink : float
        Pupils the district ratio counts for in a school's ratio (0: the school's own).
    entry_window : int
        Years in the district's entry ratio (entry pupils ÷ births).
    entry_decay : float
        Weight of each older year in the entry ratio (1: plain ratio of sums).
    share_window : int
        Years in a school's share of the district's entry grade.
    rake : bool
        Scale the schools, grade by grade, to the district forecast.
    min_residuals : int
        Residuals from earlier origins needed for empirical P10 / P90 (fewer, from 3: a normal
        band with the residuals' root mean square; fewer than 3: no interval).
    """

    window: int = 5
    shrink: float = 300.0
    entry_window: int = 8
    entry_decay: float = 0.8
    share_window: int = 5
    rake: bool = True
    min_residuals: int = 20


@dataclass(frozen=True)
class History:
    """Enrolment by school, year and grade, as arrays.

    Attributes
    ----------
    schools : tuple of str
        School ids, sorted.
    years : ndarray of shape (n_years,), int64
        Consecutive school years.
    grades : ndarray of shape (n_grades,), int64
        Consecutive grades (K = 0).
    students : ndarray of shape (n_schools, n_years, n_grades), float64
        Pupils; NaN for every grade of a year the school has no count (closed or not yet
        open), 0 for a grade it does not teach.
    births : ndarray of shape (n_years, n_grades), float64
        Births of the cohort in each year's grade (NaN: unknown); all 1.0 without births.
    source : str
    """

    schools: tuple[str, ...]
    years: np.ndarray
    grades: np.ndarray
    students: np.ndarray
    births: np.ndarray
    source: str = "enrolment"

    @property
    def is_open(self) -> np.ndarray:
        """Whether each school has a count in each year, shape (n_schools, n_years)."""
        return ~np.isnan(self.students).any(axis=2)

    def district(self) -> np.ndarray:
        """District pupils by year and grade, shape (n_years, n_grades)."""
        return np.nansum(self.students, axis=0)


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


# ---------------------------------------------------------------------------------------------
# reading and checking


def _lines(mask: np.ndarray, offset: int = 2) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i + offset) for i in idx[:5])
    return shown + (f" and {len(idx) - 5} more" if len(idx) > 5 else "")


def _csv_table(path: Path, where: str, expected: str) -> pd.DataFrame:
    """A CSV file's cells as text, or a ValidationError naming the file."""
    if not path.is_file():
        raise ValidationError([Problem(where, f"no such file ({path}); give a CSV with "
                               f"columns {expected}")], "backtest")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValidationError([Problem(where, f"not a readable CSV file: {exc}")],
                              "backtest") from exc
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _column_problems(table: pd.DataFrame, where: str,
                     checks: Sequence[tuple[str, pd.Series, str]]) -> list[Problem]:
    """One problem per column whose ``bad`` rows are set: lines and an example value."""
    problems = []
    for column, bad, what in checks:
        mask = bad.to_numpy()
        if mask.any():
            example = table[column].iloc[int(np.flatnonzero(mask)[0])]
            text = what.format(lines=_lines(mask), example=repr(example))
            problems.append(Problem(where, f"column '{column}' {text}"))
    return problems


def _grade_number(text: str) -> float:
    t = text.strip().upper()
    if t in ("K", "KG", "0K"):
        return 0.0
    try:
        value = float(t)
    except ValueError:
        return np.nan
    return value if value == int(value) and 0 <= value <= 12 else np.nan


def read_enrolment_history(source: str | os.PathLike[str] | pd.DataFrame, *,
                           name: str | None = None) -> pd.DataFrame:
    """Read and check an enrolment history: a CSV file, a GeoPackage or a frame.

    Parameters
    ----------
    source : path-like or DataFrame
        A CSV with columns ``school_id`` (or ``school``), ``year``, ``grade`` (``K`` or 0–12),
        ``students`` and optionally ``classes``; a GeoPackage with such a table ``enrolment``
        (the project's ``enrolment`` layer); or a frame with those columns.
    name : str, optional
        What to call the source in messages (default: the file name).

    Returns
    -------
    DataFrame
        ``school_id`` (str), ``year`` (int), ``grade`` (int, K = 0), ``students`` (float).

    Raises
    ------
    ValidationError
        Listing every problem with the file, the line (CSV; rows of a table are counted from 2
        too, after a header) and the column, e.g. ``enrolment.csv: column 'students' is not a
        number ≥ 0 on line(s) 5 (e.g. 'abc')``.

    Examples
    --------
    >>> frame = pd.DataFrame({"school": ["A", "A"], "year": [2020, 2020],
    ...                       "grade": ["K", "1"], "students": [20, 21]})
    >>> read_enrolment_history(frame)["grade"].tolist()
    [0, 1]
    """
    if isinstance(source, pd.DataFrame):
        where = name or "enrolment"
        table = source.astype(str).reset_index(drop=True)
    else:
        path = Path(source)
        where = name or path.name
        if path.suffix.lower() == ".gpkg" and path.is_file():
            import pyogrio

            where = f"{where}:enrolment"
            try:
                table = pyogrio.read_dataframe(path, layer="enrolment", read_geometry=False)
            except Exception as exc:  # noqa: BLE001 - any GDAL failure is the file's fault
                raise ValidationError([Problem(where, f"cannot read the table 'enrolment': "
                                       f"{exc}")], "backtest") from exc
            table = table.astype(str)
        else:
            table = _csv_table(path, where, "school_id, year, grade, students")
    table.columns = [str(c).strip() for c in table.columns]
    if "school_id" not in table.columns and "school" in table.columns:
        table = table.rename(columns={"school": "school_id"})
    missing = [c for c in ("school_id", "year", "grade", "students") if c not in table.columns]
    if missing:
        raise ValidationError([Problem(where, f"column(s) {', '.join(map(repr, missing))} "
                               f"missing; expected school_id (or school), year, grade, "
                               f"students (got {', '.join(table.columns) or 'no columns'})")],
                              "backtest")
    if table.empty:
        raise ValidationError([Problem(where, "no rows")], "backtest")
    school = table["school_id"].str.strip()
    year = pd.to_numeric(table["year"].str.strip(), errors="coerce")
    grade = table["grade"].map(_grade_number)
    students = pd.to_numeric(table["students"].str.strip(), errors="coerce")
    problems = _column_problems(table, where, [
        ("school_id", (school == "") | (school.str.lower() == "nan"),
         "is empty on line(s) {lines}; name the school"),
        ("year", year.isna() | (year != year.round()),
         "is not a whole year on line(s) {lines} (e.g. {example}); e.g. 2014 for 2014/15"),
        ("grade", grade.isna(),
         "is not a grade on line(s) {lines} (e.g. {example}); K or a whole number 0–12"),
        ("students", students.isna() | (students < 0) | ~np.isfinite(students),
         "is not a number ≥ 0 on line(s) {lines} (e.g. {example}); pupils counted"),
    ])
    ValidationError.raise_if(problems, "backtest")
    out = pd.DataFrame({"school_id": school, "year": year.astype(np.int64),
                        "grade": grade.astype(np.int64), "students": students.astype(float)})
    dup = out.duplicated(["school_id", "year", "grade"], keep=False).to_numpy()
    if dup.any():
        first = out.iloc[int(np.flatnonzero(dup)[0])]
        problems.append(Problem(where, f"school {first['school_id']!r}, year {first['year']}, "
                                f"grade {_grade_label(first['grade'])} appears more than once "
                                f"(lines {_lines(dup)}); give one row per school, year and "
                                "grade"))
    span = range(int(out["year"].min()), int(out["year"].max()) + 1)
    gaps = [y for y in span if y not in set(out["year"])]
    if gaps:
        problems.append(Problem(where, f"no rows for year(s) {', '.join(map(str, gaps[:5]))}; "
                                "the years of the history must follow each other"))
    ValidationError.raise_if(problems, "backtest")
    return out.sort_values(["school_id", "year", "grade"], kind="stable").reset_index(drop=True)


def read_births(source: str | os.PathLike[str] | Mapping[int, float], *,
                name: str | None = None) -> dict[int, float]:
    """Read births by year from a CSV file (``year``, ``births``) or check a mapping.

    Raises
    ------
    ValidationError
        Naming the file, the line and the column at fault.

    Examples
    --------
    >>> read_births({2010: 100, 2011: 104.0})
    {2010: 100.0, 2011: 104.0}
    """
    if isinstance(source, Mapping):
        where = name or "births"
        table = pd.DataFrame({"year": [str(k) for k in source],
                              "births": [str(v) for v in source.values()]})
    else:
        path = Path(source)
        where = name or path.name
        table = _csv_table(path, where, "year, births")
    missing = [c for c in ("year", "births") if c not in table.columns]
    if missing:
        raise ValidationError([Problem(where, f"column(s) {', '.join(map(repr, missing))} "
                               f"missing; expected year, births (got "
                               f"{', '.join(table.columns) or 'no columns'})")], "backtest")
    year = pd.to_numeric(table["year"].str.strip(), errors="coerce")
    births = pd.to_numeric(table["births"].str.strip(), errors="coerce")
    problems = _column_problems(table, where, [
        ("year", year.isna() | (year != year.round()),
         "is not a whole year on line(s) {lines} (e.g. {example})"),
        ("births", births.isna() | (births < 0) | ~np.isfinite(births),
         "is not a number ≥ 0 on line(s) {lines} (e.g. {example}); persons born that year"),
    ])
    ValidationError.raise_if(problems, "backtest")
    dup = year.duplicated(keep=False).to_numpy()
    if dup.any():
        problems.append(Problem(where, f"year {int(year[dup].iloc[0])} appears more than once "
                                f"(lines {_lines(dup)})"))
    ValidationError.raise_if(problems, "backtest")
    return {int(y): float(b) for y, b in sorted(zip(year, births, strict=True))}


def births_from_cells(cells: pd.DataFrame, base_year: int) -> dict[int, float]:
    """Past births from residents by single year of age: those aged a were born base − a.

    These are the survivors still living in the district (what an entry ratio needs), e.g. the
    demo district's ``cells`` (``age_0`` … ``age_17``) in its base year 2026.

    Examples
    --------
    >>> births_from_cells(pd.DataFrame({"age_0": [3, 4], "age_1": [5, 5]}), 2026)
    {2025: 10.0, 2026: 7.0}
    """
    out = {}
    for column in cells.columns:
        if str(column).startswith("age_") and str(column)[4:].isdigit():
            out[base_year - int(str(column)[4:])] = float(pd.to_numeric(cells[column]).sum())
    if not out:
        raise ValidationError(["cells: no age_0 … age_17 columns to take births from"],
                              "backtest")
    return dict(sorted(out.items()))


def _history(enrolment: pd.DataFrame, births: Mapping[int, float] | None, first_age: int | None,
             source: str) -> History:
    schools = tuple(sorted(enrolment["school_id"].unique()))
    years = np.arange(int(enrolment["year"].min()), int(enrolment["year"].max()) + 1)
    grades = np.arange(int(enrolment["grade"].min()), int(enrolment["grade"].max()) + 1)
    cube = np.full((len(schools), len(years), len(grades)), np.nan)
    s = pd.Index(schools).get_indexer(enrolment["school_id"])
    t = enrolment["year"].to_numpy() - years[0]
    g = enrolment["grade"].to_numpy() - grades[0]
    opened = np.zeros((len(schools), len(years)), dtype=bool)
    opened[s, t] = True
    cube[opened] = 0.0
    cube[s, t, g] = enrolment["students"].to_numpy(dtype=np.float64)
    age0 = grades[0] + 5 if first_age is None else first_age
    ages = age0 + (grades - grades[0])
    if births is None:
        lagged = np.ones((len(years), len(grades)))
    else:
        lagged = np.array([[births.get(int(y - a), np.nan) for a in ages] for y in years])
    return History(schools, years, grades, cube, lagged, source)


# ---------------------------------------------------------------------------------------------
# the methods: each returns pupils by school (NaN: no forecast), target year and grade


def _runs(taught: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grades that start a run of taught grades (entry grades) and grades carried from below."""
    below = np.concatenate([[False], taught[:-1]])
    return taught & ~below, taught & below


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
        entry, carried = _runs(taught)
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
    e, bl = hist.students, hist.births
    n_s, _, n_g = e.shape
    dist = hist.district()
    steps = [t for t in range(max(o - st.window + 1, 1), o + 1)]
    num = dist[steps, 1:].sum(axis=0)
    den = dist[[t - 1 for t in steps], :-1].sum(axis=0)
    d_ratio = np.divide(num, den, out=np.ones(n_g - 1), where=den > 0)
    years = [t for t in range(max(o - st.entry_window + 1, 0), o + 1)]
    w = st.entry_decay ** (o - np.array(years, dtype=float))
    known = np.isfinite(bl[years])
    b = np.where(known, bl[years], 0.0)
    top = (w[:, None] * np.where(known, dist[years], 0.0)).sum(axis=0)
    bottom = (w[:, None] * b).sum(axis=0)
    if not known[:, 0].any():
        return np.full((n_s, n_ahead, n_g), np.nan)
    d_entry = np.divide(top, bottom, out=np.zeros(n_g), where=bottom > 0)
    d_taught = dist[years].sum(axis=0) > 0
    d_first, d_carried = _runs(d_taught)
    d_fc = np.zeros((n_ahead, n_g))
    cur = dist[o]
    for h in range(n_ahead):
        nxt = np.zeros(n_g)
        nxt[1:] = np.where(d_carried[1:], cur[:-1] * d_ratio, 0.0)
        nxt[d_first] = d_entry[d_first] * bl[o + h + 1, d_first]
        d_fc[h] = cur = nxt
    out = np.full((n_s, n_ahead, n_g), np.nan)
    share_years = list(range(max(o - st.share_window + 1, 0), o + 1))
    for i in range(n_s):
        if np.isnan(e[i, o, 0]):
            continue
        own = [t for t in steps if not np.isnan(e[i, t, 0]) and not np.isnan(e[i, t - 1, 0])]
        s_num = st.shrink * d_ratio + e[i, own, 1:].sum(axis=0)
        s_den = st.shrink + e[i, [t - 1 for t in own], :-1].sum(axis=0)
        ratio = np.divide(s_num, s_den, out=d_ratio.copy(), where=s_den > 0)
        seen = [t for t in share_years if not np.isnan(e[i, t, 0])]
        taught = e[i, seen].sum(axis=0) > 0
        entry, carried = _runs(taught)
        d_sum = dist[seen].sum(axis=0)
        share = np.divide(e[i, seen].sum(axis=0), d_sum, out=np.zeros(n_g), where=d_sum > 0)
        cur = e[i, o].copy()
        for h in range(n_ahead):
            nxt = np.zeros(n_g)
            nxt[1:] = np.where(carried[1:], cur[:-1] * ratio, 0.0)
            nxt[entry] = share[entry] * d_fc[h, entry]
            out[i, h] = cur = nxt
    if st.rake:
        total = np.nansum(out, axis=0)
        scale = np.divide(d_fc, total, out=np.ones_like(d_fc), where=total > 0)
        out = out * scale[None]
    return out


def _forecast(hist: History, method: str, o: int, n_ahead: int,
              settings: SchoolmapSettings) -> np.ndarray:
    if method == "csr":
        return _csr(hist, o, n_ahead)
    return _schoolmap(hist, o, n_ahead, settings)


# ---------------------------------------------------------------------------------------------
# intervals: the method's own errors on earlier origins


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


# ---------------------------------------------------------------------------------------------
# the backtest


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
    hist = _history(table, births_map, first_age, source)
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
                     f"{_grade_label(hist.grades[0])} taken to be "
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


def _grade_label(g: int) -> str:
    return "K" if g == 0 else str(int(g))


def _births_needed(hist: History, origins: list[int], n_ahead: int) -> list[Problem]:
    """Births a compared forecast needs and the file lacks."""
    first, last = int(hist.years[0]), int(hist.years[-1])
    targets = sorted({t for o in origins for t in range(o + 1, min(o + n_ahead, last) + 1)})
    dist = hist.district()
    entry, _ = _runs(dist.sum(axis=0) > 0)
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
                    f"{_grade_label(hist.grades[g0])} in {years[0]}–{years[-1]} (born about "
                    f"{years[0] - ages[g0]}–{years[-1] - ages[g0]}); extend the births file or "
                    "choose earlier --origins / fewer --horizons")]


# ---------------------------------------------------------------------------------------------
# measures


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


# ---------------------------------------------------------------------------------------------
# writing


def _chart(summary: pd.DataFrame) -> bytes:
    """PNG of MAPE by horizon per method, district and school panels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    label = summary["origins"].iloc[0] if len(summary) else ""
    part = summary[summary["origins"] == label]
    axes = fig.subplots(1, 2)
    for ax, level in zip(axes, ("district", "school"), strict=True):
        for method, grp in part[part["level"] == level].groupby("method", sort=False):
            ax.plot(grp["horizon"], grp["mape_pct"], marker="o", label=method)
        ax.set_xticks(sorted(part["horizon"].unique()))
        ax.set_title(f"{level} (origins {label})")
        ax.set_xlabel("years ahead (horizon)")
        ax.set_ylabel("MAPE, %")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def backtest_html(result: Backtest) -> str:
    """The backtest report: chart, accuracy tables and notes (offline, one file)."""
    s = result.summary
    png = base64.b64encode(_chart(s)).decode("ascii")
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<title>schoolmap backtest</title><style>body{font-family:sans-serif;margin:2em;"
             "max-width:70em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid"
             " #ccc;padding:2px 8px;text-align:right}th{background:#eee}td:first-child,"
             "th:first-child{text-align:left}</style></head><body>",
             f"<h1>Forecast accuracy (backtest): {html.escape(result.history.source)}</h1>",
             f"<p>{len(result.history.schools)} schools, school years "
             f"{result.history.years[0]}–{result.history.years[-1]}. At each origin every "
             "method is fitted on the years up to the origin only and compared with what was "
             "counted later. MAPE = mean |forecast − actual| ÷ actual; bias = mean (forecast − "
             "actual) ÷ actual; coverage = share of actuals within [P10, P90]. Levels: "
             "district total; <i>school</i> = the schools counted every year; "
             "<i>school_all</i> = every school counted in both the origin and the target "
             "year.</p>",
             f"<img alt='MAPE by horizon' src='data:image/png;base64,{png}'>"]
    for label, part in s.groupby("origins", sort=False):
        parts.append(f"<h2>Origins {html.escape(str(label))}</h2><table><tr><th>method</th>"
                     "<th>level</th>" + "".join(f"<th>h={h}</th>" for h in
                                                 sorted(part["horizon"].unique()))
                     + "<th>bias h=max</th><th>coverage</th></tr>")
        for (method, level), grp in part.groupby(["method", "level"], sort=False):
            cells = "".join(f"<td>{v:.1f} %</td>" for v in grp["mape_pct"])
            banded = grp["n_interval"].sum()
            cov = ((grp["coverage_p10_p90"] * grp["n_interval"]).sum() / banded
                   if banded else np.nan)
            parts.append(f"<tr><td>{html.escape(method)}</td><td>{level}</td>{cells}"
                         f"<td>{grp['bias_pct'].iloc[-1]:+.1f} %</td>"
                         f"<td>{'—' if cov != cov else f'{100 * cov:.0f} %'}</td></tr>")
        parts.append("</table>")
    if result.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>"
                                                    for n in result.notes) + "</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_backtest(result: Backtest, out: str | os.PathLike[str]) -> Path:
    """Write ``backtest.csv``, ``backtest_summary.csv`` and ``backtest.html`` into ``out``.

    All at once: the files are written into a temporary sibling folder that then replaces
    ``out`` (an existing ``out`` only if it is empty or an earlier backtest's), so a failed run
    leaves nothing half-written. Rows and bytes are the same on every run.
    """
    from schoolmap.outputs import atomic_folder

    with atomic_folder(out, marker="backtest_summary.csv", kind="schoolmap backtest") as tmp:
        result.table.to_csv(tmp / "backtest.csv", index=False, float_format="%.4f",
                            lineterminator="\n")
        result.summary.to_csv(tmp / "backtest_summary.csv", index=False, float_format="%.4f",
                              lineterminator="\n")
        (tmp / "backtest.html").write_text(backtest_html(result), encoding="utf-8")
    return Path(out).resolve()


# ---------------------------------------------------------------------------------------------
# command line (hooked into schoolmap.cli)


def add_backtest_command(sub: Any) -> None:
    """Add ``schoolmap backtest`` to the CLI's subparsers."""
    p = sub.add_parser(
        "backtest", help="measure forecast accuracy on a real enrolment history",
        description=(
            "Backtest enrolment forecasts on a history of counts by school, year and grade: for "
            "every origin year fit each method on the years up to it only, forecast each later "
            "year up to the horizon and compare with what was counted. Methods: csr (the "
            "classic cohort-survival yardstick) and schoolmap (the recommended method, with "
            "P10/P90 from its own errors on earlier origins). Writes backtest.csv, "
            "backtest_summary.csv and backtest.html into --out (all at once)."),
        epilog=("Example: schoolmap backtest data/history/ecasd/enrolment.csv --births "
                "data/history/ecasd/births.csv --origins 2001:2013 --horizons 1:5 --out "
                "out/backtest-ecasd"))
    p.add_argument("enrolment", type=Path, metavar="ENROLMENT",
                   help="CSV (school_id or school, year, grade, students[, classes]) or a "
                        "GeoPackage with an 'enrolment' table")
    p.add_argument("--births", type=Path, default=None, metavar="BIRTHS.csv",
                   help="births by year (year, births); without it entry grades are forecast "
                        "as if births stayed flat")
    p.add_argument("--origins", default=None, metavar="FIRST:LAST",
                   help="origin years (default: 4th year of the history to the year before "
                        "the last)")
    p.add_argument("--horizons", default="1:5", metavar="FIRST:LAST",
                   help="years ahead (default 1:5)")
    p.add_argument("--methods", default=",".join(METHODS), metavar="LIST",
                   help=f"comma-separated, of {', '.join(METHODS)} (default: all)")
    p.add_argument("--split", type=int, default=None, metavar="YEAR",
                   help="also summarise origins ≤ YEAR and > YEAR separately")
    p.add_argument("--first-age", type=int, default=None, metavar="AGE",
                   help="age of the lowest grade's pupils at the count (default: 5 for K, 6 "
                        "for grade 1)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--quiet", action="store_true", help="print only where results are")


def run_backtest_command(args: Any, console: Any) -> int:
    """Run ``schoolmap backtest`` from parsed arguments; print the accuracy table."""
    from rich.table import Table

    result = backtest(args.enrolment, args.births, origins=args.origins,
                      horizons=args.horizons, methods=args.methods, first_age=args.first_age,
                      split=args.split)
    folder = write_backtest(result, args.out)
    if not args.quiet:
        for label, part in result.summary.groupby("origins", sort=False):
            hs = sorted(part["horizon"].unique())
            table = Table(title=f"MAPE by horizon, origins {label}", title_justify="left")
            for col in ["method", "level", *[f"h={h}" for h in hs], "coverage"]:
                table.add_column(col, justify="left" if col in ("method", "level") else "right")
            for (method, level), grp in part.groupby(["method", "level"], sort=False):
                banded = grp["n_interval"].sum()
                cov = ((grp["coverage_p10_p90"] * grp["n_interval"]).sum() / banded
                       if banded else float("nan"))
                table.add_row(method, level, *[f"{v:.1f} %" for v in grp["mape_pct"]],
                              "—" if cov != cov else f"{100 * cov:.0f} %")
            console.print(table)
        for note in result.notes:
            console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(f"Backtest written to {folder}  (open {folder / 'backtest.html'})",
                  highlight=False, soft_wrap=True)
    return 0

