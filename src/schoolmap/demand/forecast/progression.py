"""The grade-progression (cohort-survival) method school-district forecasters use, and its
comparison with the cohort forecast."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from schoolmap.demand.forecast.cohort import Forecast
from schoolmap.errors import ValidationError

__all__ = ["cohort_births", "compare_forecast_methods", "forecast_by_progression",
           "forecast_grades", "progression_ratios"]


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
    last: int = 3,
    smoothing: float = 30.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Enrolment per level by grade progression ratios (the cohort-survival method).

    District enrolment by year and grade is summed over schools; each grade-to-grade ratio is
    the enrolment-weighted mean of the last ``last`` transitions (:func:`progression_ratios`,
    which smooths out single-year swings); the entry grade is births ``entry_age`` years
    earlier × the entry ratio (grade-1 pupils ÷ those births, over the same years). The last
    history year is carried forward with :func:`forecast_grades`.

    With ``school_id`` in the history, each school is carried forward with its own ratios,
    shrunk towards the district's by ``smoothing`` (students the district ratio counts for,
    so a small school's noisy history does not swing its forecast); its first grade (grade
    1, or 7 at a junior school) takes its recent share of the district's forecast of that
    grade. The levels' totals are the schools' sums. Schools opening later are not in the
    history: their pupils are counted at the schools whose shares they would take.

    Parameters
    ----------
    enrolment : DataFrame
        ``year``, ``grade`` (1 = first primary grade), ``students`` (any number of schools).
        Years must follow each other without gaps.
    grades_by_level : mapping level → grades
        E.g. ``{"primary": [1, …, 6], "junior": [7, 8, 9]}``.
    births : mapping year → births
        Births of past and forecast years (see :func:`cohort_births`).
    years : sequence of int
        Years to report (history years report the history).
    entry_age : int
        Age at grade 1.
    last : int
        Transitions averaged.
    smoothing : float
        Weight of the district ratios in each school's (students); 0: each school's own.

    Returns
    -------
    table : DataFrame
        ``level``, ``year``, ``students``.
    ratios : DataFrame
        ``from_grade``, ``to_grade``, ``ratio``; the entry ratio has ``from_grade`` 0.

    Examples
    --------
    Grade 2 keeps 90 % of grade 1; grade 1 is half the births six years before:

    >>> hist = pd.DataFrame({"year": [2024, 2024, 2025, 2025], "grade": [1, 2, 1, 2],
    ...                      "students": [50.0, 40.0, 60.0, 45.0]})
    >>> births = {2018: 100.0, 2019: 120.0, 2020: 80.0}
    >>> table, ratios = forecast_by_progression(hist, {"primary": [1, 2]}, births, [2026])
    >>> ratios["ratio"].round(3).tolist(), table["students"].tolist()
    ([0.5, 0.9], [94.0])
    """
    needed = {"year", "grade", "students"} - set(enrolment.columns)
    if needed:
        raise ValidationError([f"enrolment: column(s) {', '.join(sorted(needed))} missing"],
                              "forecast input")
    top = max(max(g) for g in grades_by_level.values())
    hist = enrolment.pivot_table(index="year", columns="grade", values="students",
                                 aggfunc="sum", fill_value=0.0)
    span = range(int(hist.index.min()), int(hist.index.max()) + 1)
    gaps = [y for y in span if y not in hist.index]
    if gaps:
        raise ValidationError([f"enrolment: no rows for year(s) {', '.join(map(str, gaps))}; "
                               "history years must follow each other"], "forecast input")
    hist = hist.reindex(columns=range(1, top + 1), fill_value=0.0).to_numpy(dtype=np.float64)
    first = span.start
    k = min(last, len(span) - 1)
    ratios = progression_ratios(hist, last=k)
    recent = [first + i for i in range(len(span) - k - 1 if k else 0, len(span))]
    lagged = np.array([births.get(y - entry_age, np.nan) for y in recent])
    known = np.isfinite(lagged)
    if not known.any() or lagged[known].sum() <= 0:
        raise ValidationError([f"enrolment: no births known {entry_age} years before "
                               f"{recent[0]}–{recent[-1]} for the entry ratio"],
                              "forecast input")
    entry_ratio = hist[np.array(recent) - first, 0][known].sum() / lagged[known].sum()
    end = max(max(years), span.stop - 1)
    future = list(range(span.stop, end + 1))
    entrants = [entry_ratio * births.get(y - entry_age, np.nan) for y in future]
    if not np.isfinite(entrants).all():
        lacking = [y - entry_age for y, e in zip(future, entrants, strict=True)
                   if not np.isfinite(e)]
        raise ValidationError([f"no births known for {lacking[0]}–{lacking[-1]} (entry "
                               "grade of the progression forecast)"], "forecast input")
    grades = np.vstack([hist, forecast_grades(hist[-1], entrants, ratios)[1:]])
    if "school_id" in enrolment.columns:
        grades = _schools_by_progression(enrolment, grades, hist, span, k, ratios,
                                         smoothing)
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


def _schools_by_progression(enrolment: pd.DataFrame, district: np.ndarray, hist: np.ndarray,
                            span: range, k: int, ratios: np.ndarray,
                            smoothing: float) -> np.ndarray:
    """Sum of the schools' own progression forecasts, by year and grade (see
    :func:`forecast_by_progression`): history rows as they were."""
    total = np.zeros_like(district)
    n_hist = len(span)
    recent = slice(n_hist - k - 1, n_hist)
    grades = range(1, district.shape[1] + 1)
    for _, part in enrolment.groupby("school_id", sort=True):
        h = part.pivot_table(index="year", columns="grade", values="students", aggfunc="sum",
                             fill_value=0.0).reindex(index=list(span), columns=grades,
                                                     fill_value=0.0).to_numpy(np.float64)
        taught = h.sum(axis=0) > 0
        own = progression_ratios(h, last=k, prior=ratios, weight=smoothing)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(hist[recent].sum(axis=0) > 0,
                             h[recent].sum(axis=0) / hist[recent].sum(axis=0), 0.0)
        out = np.zeros_like(district)
        out[:n_hist] = h
        for t in range(n_hist, len(district)):
            for g in np.flatnonzero(taught):
                if g == 0 or not taught[g - 1]:
                    out[t, g] = share[g] * district[t, g]
                else:
                    out[t, g] = out[t - 1, g - 1] * own[g - 1]
        total += out
    return total


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
