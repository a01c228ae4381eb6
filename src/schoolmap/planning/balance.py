"""Balance (优质均衡) indicators of a level, year by year, from the resources of its schools.

The county evaluation (教督〔2017〕6号) asks, per resource indicator, for the coefficient of
variation (差异系数) across schools to stay within 0.50 (primary) and 0.45 (junior) — the
thresholds of :data:`CV_THRESHOLDS`, from secondary summaries (see ``docs/norms.md``). Of its
seven indicators, the data here carry three kinds, computed per school and year:

- ``classrooms_per_100``: classrooms (the building's classes) per 100 students;
- ``posts_per_100``: staff posts per 100 students — the schools layer's ``teachers`` (actual
  teachers in the first year) when given, else the norm posts of
  :mod:`~schoolmap.planning.resources` (which vary between schools only through the class rule);
- ``building_m2_per_student``: building area per student (the layer's ``building_m2`` or the
  norm area of the building's classes).

Each coefficient is student-weighted: sqrt(Σ pᵢ (xᵢ − x̄)² / Σ pᵢ) ÷ x̄ with x̄ = Σ pᵢ xᵢ / Σ pᵢ,
over the schools with students. Beside them: schools above ``max_students`` (2,000),
普惠 coverage (kindergartens, from the simulation), the in-catchment share (with the
``catchment`` method: students enrolled ÷ demand — every enrolled student is in a school of
their zone) and the 随迁子女 share where the schools carry ``migrant_students``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from schoolmap.norms import Norms
from schoolmap.planning.resources import SchoolResources
from schoolmap.planning.simulation import EnrolmentSimulation

__all__ = ["CV_THRESHOLDS", "INDICATORS", "BalanceIndicators", "balance_indicators",
           "weighted_cv"]

#: Largest coefficient of variation across schools that passes (教督〔2017〕6号, (check)).
CV_THRESHOLDS: dict[str, float] = {"primary": 0.50, "junior": 0.45}

#: Indicators per school.
INDICATORS: tuple[str, ...] = ("classrooms_per_100", "posts_per_100", "building_m2_per_student")


@dataclass(frozen=True)
class BalanceIndicators:
    """A level's balance indicators.

    Attributes
    ----------
    level : str
    by_school : DataFrame
        ``year``, ``school_id``, ``students`` and the :data:`INDICATORS`.
    by_year : DataFrame
        ``year``, ``cv_<indicator>`` for each indicator, ``cv_threshold`` (NaN for levels the
        evaluation does not cover), ``cv_pass`` (every coefficient within the threshold),
        ``schools_over_max``, ``in_catchment_share`` (``catchment`` method only, else NaN),
        ``puhui_coverage`` (kindergartens) and ``migrant_share`` (when the data carry it).
    """

    level: str
    by_school: pd.DataFrame
    by_year: pd.DataFrame

    def summary(self) -> dict[str, object]:
        """The last year's figures and the worst coefficient over the years, for summary.json."""
        if self.by_year.empty:
            return {}
        last = self.by_year.iloc[-1]
        out = {k: (None if pd.isna(v) else (bool(v) if isinstance(v, bool | np.bool_)
                                            else float(v)))
               for k, v in last.items() if k != "year"}
        out["year"] = int(last["year"])
        cvs = self.by_year[[f"cv_{i}" for i in INDICATORS]].to_numpy(dtype=np.float64)
        out["worst_cv"] = float(np.nanmax(cvs)) if np.isfinite(cvs).any() else None
        return out


def weighted_cv(values: np.ndarray, weights: np.ndarray) -> float:
    """Student-weighted coefficient of variation (NaN without weight or with a zero mean).

    >>> weighted_cv(np.array([1.0, 3.0]), np.array([1.0, 1.0]))
    0.5
    >>> weighted_cv(np.array([2.0]), np.array([0.0]))
    nan
    """
    v, w = np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(v) & (w > 0)
    if not ok.any():
        return float("nan")
    v, w = v[ok], w[ok]
    mean = float(w @ v / w.sum())
    if mean == 0:
        return float("nan")
    return float(np.sqrt(w @ (v - mean) ** 2 / w.sum()) / mean)


def balance_indicators(
    resources: SchoolResources,
    simulation: EnrolmentSimulation,
    norms: Norms,
    schools: pd.DataFrame | None = None,
) -> BalanceIndicators:
    """Balance indicators of each school and year, and their spread across schools.

    Parameters
    ----------
    resources : SchoolResources
        From :func:`schoolmap.planning.resources.estimate_resources`.
    simulation : EnrolmentSimulation
        The same level's simulation (district demand, enrolment, 普惠 coverage).
    norms : Norms
    schools : DataFrame, optional
        The schools layer, for an optional ``teachers`` column (actual teachers).

    Returns
    -------
    BalanceIndicators
    """
    level = resources.level
    r = resources.by_school
    students = r["students"].to_numpy(dtype=np.float64)
    posts = r["staff_posts"].to_numpy(dtype=np.float64)
    if schools is not None and "teachers" in schools.columns:
        given = pd.to_numeric(schools.drop_duplicates("school_id").set_index("school_id")
                              ["teachers"], errors="coerce")
        teachers = given.reindex(r["school_id"]).to_numpy(dtype=np.float64)
        posts = np.where(np.isfinite(teachers), teachers, posts)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = pd.DataFrame({
            "year": r["year"], "school_id": r["school_id"], "students": students,
            "classrooms_per_100": np.where(students > 0, 100 * r["classrooms"] / students,
                                           np.nan),
            "posts_per_100": np.where(students > 0, 100 * posts / students, np.nan),
            "building_m2_per_student": np.where(students > 0, r["building_m2"] / students,
                                                np.nan)})
    threshold = CV_THRESHOLDS.get(level, float("nan"))
    district = simulation.district.set_index("year")
    max_students = norms.level(level).max_students
    rows = []
    for year, g in per.groupby("year", sort=True):
        row: dict[str, object] = {"year": int(year)}
        for ind in INDICATORS:
            row[f"cv_{ind}"] = weighted_cv(g[ind].to_numpy(), g["students"].to_numpy())
        cvs = [row[f"cv_{i}"] for i in INDICATORS]
        row["cv_threshold"] = threshold
        row["cv_pass"] = (bool(all(not np.isfinite(c) or c <= threshold for c in cvs))
                          if np.isfinite(threshold) else None)
        row["schools_over_max"] = int((g["students"] > max_students).sum())
        d = district.loc[year] if year in district.index else None
        row["in_catchment_share"] = (float(d["enrolled"] / d["demand"])
                                     if d is not None and simulation.method == "catchment"
                                     and d["demand"] > 0 else float("nan"))
        if "puhui_coverage" in district.columns and d is not None:
            row["puhui_coverage"] = float(d["puhui_coverage"])
        if "migrant_students" in r.columns:
            rr = r.loc[r["year"] == year]
            total = rr["students"].sum()
            row["migrant_share"] = float(rr["migrant_students"].sum() / total) if total else np.nan
        rows.append(row)
    return BalanceIndicators(level, per.reset_index(drop=True), pd.DataFrame(rows))
