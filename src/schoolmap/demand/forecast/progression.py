"""The grade-progression (cohort-survival) method school-district forecasters use, and its
comparison with the cohort forecast."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schoolmap.demand.forecast.cohort import Forecast
from schoolmap.errors import ValidationError

__all__ = ["ProgressionSettings", "cohort_births", "compare_forecast_methods",
           "entry_runs", "forecast_by_progression", "forecast_grades", "progression_ratios",
           "project_schools"]


@dataclass(frozen=True)
class ProgressionSettings:
    """Constants of the grade-progression forecast (the backtest's ``schoolmap`` method).

    The defaults were chosen on the Eau Claire history (origins ≤ 2008 only) and beat the
    classic cohort-survival method at every horizon for schools there (README, "Forecast
    accuracy").

    Attributes
    ----------
    window : int
        Transitions in the district's and the schools' progression ratios (ratio of sums).
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
    """

    window: int = 5
    shrink: float = 300.0
    entry_window: int = 8
    entry_decay: float = 0.8
    share_window: int = 5
    rake: bool = True


def entry_runs(taught: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grades that start a run of taught grades (entry grades) and grades carried from below.

    >>> entry_runs(np.array([False, True, True, False, True]))
    (array([False,  True, False, False,  True]), array([False, False,  True, False, False]))
    """
    below = np.concatenate([[False], taught[:-1]])
    return taught & ~below, taught & below


def project_schools(students: np.ndarray, births: np.ndarray, origin: int, n_ahead: int,
                    settings: ProgressionSettings = ProgressionSettings(),
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Carry every school forward by grade progression (the array door).

    The district is forecast first: its progression ratios are ratio-of-sums over the last
    ``window`` transitions, its entry ratio (entry pupils ÷ births) a weighted mean over
    ``entry_window`` years (weights ``entry_decay`` a year older). Each school's ratios are
    shrunk towards the district's as if the district ratio were ``shrink`` more pupils of the
    school's history; its entry grade takes its ``share_window``-year share of the district's
    entry grade; with ``rake`` the schools are scaled, grade by grade, to add up to the
    district forecast.

    Parameters
    ----------
    students : ndarray of shape (n_schools, n_years, n_grades)
        Pupils; NaN for every grade of a year a school has no count (closed or not yet open),
        0 for a grade it does not teach. Years consecutive, grades consecutive.
    births : ndarray of shape (≥ origin + n_ahead + 1, n_grades)
        Births of the cohort in each year's grade (persons; NaN: unknown).
    origin : int
        Index of the last year used (the forecast starts the year after).
    n_ahead : int
        Years forecast.
    settings : ProgressionSettings

    Returns
    -------
    schools : ndarray of shape (n_schools, n_ahead, n_grades)
        Pupils (NaN for a school with no count in the origin year, and for all when no births
        are known in the entry window).
    district : ndarray of shape (n_ahead, n_grades)
        The district forecast (pupils).
    ratios : ndarray of shape (n_grades − 1,)
        The district's progression ratios.
    entry : ndarray of shape (n_grades,)
        The district's entry ratio per grade (used at the grades that start a run).

    Examples
    --------
    One school, 100 pupils a grade, everybody staying, entry half the births:

    >>> e = np.full((1, 3, 2), 100.0)
    >>> b = np.full((4, 2), 200.0)
    >>> schools, district, ratios, entry = project_schools(e, b, 2, 1)
    >>> schools.tolist(), ratios.tolist(), entry.tolist()
    ([[[100.0, 100.0]]], [1.0], [0.5, 0.5])
    """
    st = settings
    e = np.asarray(students, dtype=np.float64)
    bl = np.asarray(births, dtype=np.float64)
    o = int(origin)
    n_s, _, n_g = e.shape
    dist = np.nansum(e, axis=0)
    steps = list(range(max(o - st.window + 1, 1), o + 1))
    num = dist[steps, 1:].sum(axis=0)
    den = dist[[t - 1 for t in steps], :-1].sum(axis=0)
    d_ratio = np.divide(num, den, out=np.ones(n_g - 1), where=den > 0)
    years = list(range(max(o - st.entry_window + 1, 0), o + 1))
    w = st.entry_decay ** (o - np.array(years, dtype=float))
    known = np.isfinite(bl[years])
    b = np.where(known, bl[years], 0.0)
    top = (w[:, None] * np.where(known, dist[years], 0.0)).sum(axis=0)
    bottom = (w[:, None] * b).sum(axis=0)
    d_entry = np.divide(top, bottom, out=np.zeros(n_g), where=bottom > 0)
    if not known[:, 0].any():
        return (np.full((n_s, n_ahead, n_g), np.nan), np.full((n_ahead, n_g), np.nan),
                d_ratio, d_entry)
    d_first, d_carried = entry_runs(dist[years].sum(axis=0) > 0)
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
        entry, carried = entry_runs(e[i, seen].sum(axis=0) > 0)
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
    return out, d_fc, d_ratio, d_entry


def progression_ratios(enrolment: np.ndarray, last: int = 3,
                       prior: np.ndarray | None = None, weight: float = 0.0) -> np.ndarray:
    """Grade progression ratios from enrolment history (the cohort-survival method).

    Parameters
    ----------
    enrolment : ndarray of shape (n_years, n_grades)
        Students by school year (oldest first) and grade.
    last : int
        Transitions averaged (the most recent ones), weighted by enrolment: the ratio of
        grade g → g + 1 is Σ enrol[y + 1, g + 1] / Σ enrol[y, g] over those years.
    prior : ndarray of shape (n_grades − 1,), optional
        Ratios to shrink towards (e.g. the district's, for one school).
    weight : float
        Students the prior counts for: the ratio becomes (Σ enrol[y + 1, g + 1] + weight ×
        prior) / (Σ enrol[y, g] + weight), so small schools lean on the prior and large
        ones on their own history.

    Returns
    -------
    ndarray of shape (n_grades − 1,)
        1.0 (or the prior) where a grade has no students.

    Examples
    --------
    >>> progression_ratios(np.array([[100, 90], [110, 95], [120, 104.5]]))
    array([0.95])

    A school of 10 pupils a grade, all staying, shrunk towards a district ratio of 0.9:

    >>> progression_ratios(np.array([[10, 10], [10, 10.0]]), prior=np.array([0.9]), weight=30)
    array([0.925])
    """
    e = np.asarray(enrolment, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2 or e.shape[1] < 2:
        raise ValidationError(["enrolment must have at least 2 years and 2 grades"],
                              "forecast input")
    if (e < 0).any() or not np.isfinite(e).all():
        raise ValidationError(["enrolment must be finite and ≥ 0"], "forecast input")
    k = min(last, e.shape[0] - 1)
    num = e[-k:, 1:].sum(axis=0)
    den = e[-k - 1:-1, :-1].sum(axis=0)
    base = np.ones(e.shape[1] - 1) if prior is None else np.asarray(prior, dtype=np.float64)
    if prior is not None and weight > 0:
        num, den = num + weight * base, den + weight
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), base)


def forecast_grades(current: np.ndarray, entrants: Sequence[float],
                    ratios: np.ndarray) -> np.ndarray:
    """Carry a school's grades forward with progression ratios.

    Parameters
    ----------
    current : ndarray of shape (n_grades,)
        This year's students by grade.
    entrants : sequence of float
        Entry-grade students of each future year (e.g. births 6 years before × entry ratio).
    ratios : ndarray of shape (n_grades − 1,)

    Returns
    -------
    ndarray of shape (len(entrants) + 1, n_grades)

    Examples
    --------
    >>> forecast_grades(np.array([100.0, 90.0, 80.0]), [110.0], np.array([0.9, 1.0]))
    array([[100.,  90.,  80.],
           [110.,  90.,  90.]])
    """
    cur = np.asarray(current, dtype=np.float64)
    out = np.empty((len(entrants) + 1, len(cur)))
    out[0] = cur
    for t, entry in enumerate(entrants):
        out[t + 1, 0] = entry
        out[t + 1, 1:] = out[t, :-1] * ratios
    return out


def cohort_births(forecast: Forecast) -> dict[int, float]:
    """Births of every year a forecast knows: year → persons.

    Past years come from the base year's residents (those aged a were born a years before;
    survivors still living in the district, which is what an entry ratio needs), the base
    and later years from the forecast's births.

    >>> from schoolmap.demand.forecast import forecast_residents
    >>> f = forecast_residents(np.arange(18.0)[None, :] + 1, 1, births=[30.0])
    >>> b = cohort_births(f)
    >>> b[2009], b[2025], b[2026], b[2027]
    (18.0, 2.0, 1.0, 30.0)
    """
    base = int(forecast.years[0])
    out = {base - a: float(v) for a, v in enumerate(forecast.residents[0].sum(axis=0))}
    if forecast.births is not None:
        out.update({int(y): float(b) for y, b in zip(forecast.years, forecast.births,
                                                     strict=True)})
    return out


def forecast_by_progression(
    enrolment: pd.DataFrame,
    grades_by_level: Mapping[str, Sequence[int]],
    births: Mapping[int, float],
    years: Sequence[int],
    *,
    entry_age: int = 6,
    settings: ProgressionSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Enrolment per level by grade progression (the district door of
    :func:`project_schools`).

    The district is carried forward first (progression ratios over the last
    ``settings.window`` transitions; entry grade = births ``entry_age`` years earlier × the
    weighted entry ratio). With ``school_id`` in the history each school is carried forward
    with its own ratios shrunk towards the district's, its entry grade (grade 1, or 7 at a
    junior school) its recent share of the district's, and the schools raked to the district
    forecast; the levels' totals are the schools' sums. A school with no rows in the last
    history year is taken to be closed (its pupils go where the district's ratios take them).
    Schools opening later are not in the history: their pupils are counted at the schools whose
    shares they would take. The defaults are the method the Eau Claire backtest recommends.

    Parameters
    ----------
    enrolment : DataFrame
        ``year``, ``grade`` (1 = first primary grade), ``students``, optional ``school_id``.
        Years must follow each other without gaps.
    grades_by_level : mapping level → grades
        E.g. ``{"primary": [1, …, 6], "junior": [7, 8, 9]}``.
    births : mapping year → births
        Births of past and forecast years (see :func:`cohort_births`).
    years : sequence of int
        Years to report (history years report the history).
    entry_age : int
        Age at grade 1.
    settings : ProgressionSettings, optional
        The method's constants (default: :class:`ProgressionSettings`).

    Returns
    -------
    table : DataFrame
        ``level``, ``year``, ``students``.
    ratios : DataFrame
        ``from_grade``, ``to_grade``, ``ratio`` (the district's); the entry ratio has
        ``from_grade`` 0.

    Examples
    --------
    Grade 2 keeps 90 % of grade 1; grade 1 is half the births six years before:

    >>> hist = pd.DataFrame({"year": [2024, 2024, 2025, 2025], "grade": [1, 2, 1, 2],
    ...                      "students": [50.0, 40.0, 60.0, 45.0]})
    >>> births = {2018: 100.0, 2019: 120.0, 2020: 80.0}
    >>> same = ProgressionSettings(entry_decay=1.0)
    >>> table, ratios = forecast_by_progression(hist, {"primary": [1, 2]}, births, [2026],
    ...                                         settings=same)
    >>> ratios["ratio"].round(3).tolist(), table["students"].tolist()
    ([0.5, 0.9], [94.0])
    """
    st = settings or ProgressionSettings()
    needed = {"year", "grade", "students"} - set(enrolment.columns)
    if needed:
        raise ValidationError([f"enrolment: column(s) {', '.join(sorted(needed))} missing"],
                              "forecast input")
    top = max(max(g) for g in grades_by_level.values())
    span = range(int(enrolment["year"].min()), int(enrolment["year"].max()) + 1)
    gaps = sorted(set(span) - set(enrolment["year"].astype(int)))
    if gaps:
        raise ValidationError([f"enrolment: no rows for year(s) {', '.join(map(str, gaps))}; "
                               "history years must follow each other"], "forecast input")
    first = span.start
    end = max(max(years), span.stop - 1)
    future = list(range(span.stop, end + 1))
    ages = entry_age + np.arange(top)
    lagged = np.array([[births.get(int(y - a), np.nan) for a in ages]
                       for y in list(span) + future])
    recent = list(range(max(len(span) - st.entry_window, 0), len(span)))
    if not np.isfinite(lagged[recent, 0]).any() or np.nansum(lagged[recent, 0]) <= 0:
        raise ValidationError([f"enrolment: no births known {entry_age} years before "
                               f"{first + recent[0]}–{span.stop - 1} for the entry ratio"],
                              "forecast input")
    lacking = [y - entry_age for y, b in zip(future, lagged[len(span):, 0], strict=True)
               if not np.isfinite(b)]
    if lacking:
        raise ValidationError([f"no births known for {lacking[0]}–{lacking[-1]} (entry "
                               "grade of the progression forecast)"], "forecast input")
    schools = (enrolment["school_id"] if "school_id" in enrolment.columns
               else pd.Series("", index=enrolment.index))
    ids = pd.Index(sorted(schools.unique()))
    cube = np.full((len(ids), len(span), top), np.nan)
    s = ids.get_indexer(schools)
    t = enrolment["year"].to_numpy(dtype=np.int64) - first
    g = enrolment["grade"].to_numpy(dtype=np.int64) - 1
    cube[s, t] = 0.0
    inside = (g >= 0) & (g < top)
    np.add.at(cube, (s[inside], t[inside], g[inside]),
              enrolment["students"].to_numpy(dtype=np.float64)[inside])
    ahead, _, ratios, entry = project_schools(cube, lagged, len(span) - 1, len(future), st)
    grades = np.vstack([np.nansum(cube, axis=0), np.nansum(ahead, axis=0)])
    entry_ratio = float(entry[0])
    rows = []
    for level, levels_grades in grades_by_level.items():
        cols = [g - 1 for g in levels_grades]
        for y in years:
            rows.append({"level": level, "year": int(y),
                         "students": float(grades[y - first, cols].sum())
                         if y >= first else np.nan})
    ratio_table = pd.DataFrame({"from_grade": np.arange(0, top), "to_grade": np.arange(1, top + 1),
                                "ratio": np.concatenate([[entry_ratio], ratios])})
    return pd.DataFrame(rows), ratio_table


def compare_forecast_methods(cohort: pd.DataFrame, progression: pd.DataFrame) -> pd.DataFrame:
    """Both forecasts side by side, per level and year.

    Parameters
    ----------
    cohort, progression : DataFrame
        ``level``, ``year``, ``students`` from the cohort-component forecast (students
        needing a seat) and from grade progression.

    Returns
    -------
    DataFrame
        ``level``, ``year``, ``cohort_component``, ``grade_progression``, ``difference``
        (progression − cohort), ``difference_share`` (÷ cohort); the cohort table's rows.
    """
    out = cohort[["level", "year"]].copy()
    out["cohort_component"] = cohort["students"].to_numpy(dtype=np.float64)
    key = progression.set_index(["level", "year"])["students"]
    out["grade_progression"] = [key.get((lv, y), np.nan) for lv, y in
                                zip(out["level"], out["year"], strict=True)]
    out["difference"] = out["grade_progression"] - out["cohort_component"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["difference_share"] = np.where(out["cohort_component"] > 0,
                                           out["difference"] / out["cohort_component"], np.nan)
    return out.reset_index(drop=True)
