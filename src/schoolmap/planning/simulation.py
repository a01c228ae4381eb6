"""Year-by-year enrolment simulation: entrants are allocated, everyone else moves up a grade.

For each school year of a forecast:

- the entry grade (kindergarten small class, primary grade 1, junior grade 1) is allocated
  with the chosen method (``catchment``, ``nearest``, ``optimal`` — for ``optimal`` a school
  offers its per-grade share of seats, seats ÷ grades, to entrants);
- students already enrolled stay in their school and move up a grade, scaled by the district
  cohort change of their age in the forecast (survival, migration and new housing), so that
  district totals follow the forecast; the top grade leaves;
- schools open and close in the years the schools layer says; the students of a closing school
  move, grade by grade, to the nearest school still open;
- students left without a school (their zone's school not open yet, or no seat under
  ``optimal``) stay where they live and move up a grade with their cohort; every year those of
  the upper grades are placed again, grade by grade, with the seats then free (a school's
  per-grade share of seats less the students already in that grade; ``catchment`` and
  ``nearest`` ignore seats), so a school opening later takes them in;
- per school × year: students by grade, seats, shortfall, classes (the building's classes shared
  over grades), classes needed at norm size, average and largest class, class-size bands;
- kindergartens: the 普惠 split of demand (see :func:`schoolmap.capacity.district_totals`):
  seats in public and 普惠 kindergartens, the share of demand they hold, the children they
  hold and the others, and the seats they lack for the 普惠 target share.

Every student is enrolled or reported unassigned in every year.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from schoolmap.allocation.dispatch import allocate
from schoolmap.demand import level_schools
from schoolmap.demand.forecast import Forecast
from schoolmap.errors import ValidationError
from schoolmap.io.district import District
from schoolmap.norms import Norms
from schoolmap.planning.capacity import BAND_COLUMNS, band_counts, classes_by_grade, puhui_figures

__all__ = ["EnrolmentSimulation", "simulate_enrolment"]


@dataclass(frozen=True)
class EnrolmentSimulation:
    """A level's simulated enrolment over the forecast years.

    Attributes
    ----------
    level, method : str
    by_grade : DataFrame
        ``year``, ``school_id``, ``grade`` (1 = entry), ``students``.
    by_school : DataFrame
        ``year``, ``school_id``, ``students``, ``seats``, ``shortfall``, ``utilisation``,
        ``classes``, ``classes_needed``, ``avg_class_size``, ``max_class_size``, band counts.
    district : DataFrame
        ``year``, ``demand`` (students of the level's ages needing a seat), ``enrolled``,
        ``unassigned``, ``seats``, ``shortfall_at_schools``, ``n_classes_56_plus``,
        ``n_classes_66_plus``, ``share_classes_56_plus``; kindergartens also
        ``seats_public_puhui`` (seats of public and 普惠 kindergartens), ``puhui_coverage``
        (share of demand those seats hold), ``demand_puhui`` (children they hold),
        ``demand_other`` (the rest: private or without a place) and ``puhui_seats_short``
        (seats lacking for ``puhui_target`` × demand).
    """

    level: str
    method: str
    by_grade: pd.DataFrame
    by_school: pd.DataFrame
    district: pd.DataFrame

    @property
    def peak(self) -> tuple[int, float]:
        """(year, students) of the largest district demand."""
        i = int(self.district["demand"].to_numpy().argmax())
        return int(self.district["year"].iloc[i]), float(self.district["demand"].iloc[i])


def simulate_enrolment(
    district: District,
    forecast: Forecast,
    norms: Norms,
    level: str,
    *,
    method: str = "catchment",
    max_distance_m: float | None = None,
    puhui_target: float = 0.8,
    travel: Any = None,
    graph: Any = None,
) -> EnrolmentSimulation:
    """Simulate one level's enrolment, school by school, over the forecast's years.

    Parameters
    ----------
    district : District
    forecast : Forecast
        Residents by year, cell and age (from :func:`schoolmap.forecast.forecast_residents`),
        cells in the district's order.
    norms : Norms
    level : str
    method : {"catchment", "nearest", "optimal"}
    max_distance_m : float, optional
        ``optimal`` only.
    puhui_target : float
        Kindergartens: share of demand public and 普惠 places should hold (≥ 80 %).
    travel, graph : optional
        The scenario's ``[travel]`` and road graph (see :func:`schoolmap.allocation.allocate`).

    Returns
    -------
    EnrolmentSimulation
    """
    if forecast.residents.shape[1] != district.n_cells:
        raise ValidationError([f"forecast has {forecast.residents.shape[1]} cells, the district "
                               f"{district.n_cells}"], "simulation input")
    norm = norms.level(level)
    ages = list(norm.ages)
    n_grades = norm.n_grades
    rate = norm.public_rate
    res = forecast.residents
    totals = res[:, :, ages].sum(axis=1)  # (years, grades) district residents by age
    enrol: dict[str, np.ndarray] = {}
    # students without a school, by the cell they live in and grade (carried like the rest)
    pool = np.zeros((district.n_cells, n_grades))
    grade_rows, school_rows, district_rows = [], [], []

    def place(year, schools, demand_by_cell, seats_share):
        """Allocate one grade's (or all grades') students; students by school row, left."""
        offered = schools.copy()
        offered["seats"] = offered["seats"] * seats_share
        alloc = allocate(district, level, method, year=year, norms=norms,
                         max_distance_m=max_distance_m, schools=offered,
                         demand_by_cell=demand_by_cell, travel=travel, graph=graph)
        return alloc

    for t, year in enumerate(forecast.years.tolist()):
        schools = level_schools(district, norms, level, year)
        ids = schools["school_id"].tolist()
        demand_grade = res[t][:, ages] * rate
        if t == 0:
            cell_total = demand_grade.sum(axis=1)
            alloc = place(year, schools, cell_total, 1.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                mix = np.where(cell_total[:, None] > 0, demand_grade / cell_total[:, None], 0.0)
            for r, sid in enumerate(ids):
                take = alloc.school == r
                enrol[sid] = (alloc.students[take, None] * mix[alloc.cell[take]]).sum(axis=0)
            pool = alloc.unassigned_by_cell[:, None] * mix
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = np.where(totals[t - 1, :-1] > 0, totals[t, 1:] / totals[t - 1, :-1], 0.0)
            moved = {}
            for sid, grades in enrol.items():
                nxt = np.zeros(n_grades)
                nxt[1:] = grades[:-1] * scale
                moved[sid] = nxt
            carried = np.zeros_like(pool)
            carried[:, 1:] = pool[:, :-1] * scale
            pool = carried
            # schools that closed: their students go to the nearest school still open
            closed = [sid for sid in moved if sid not in ids]
            if closed:
                prev = district.schools.set_index("school_id")
                tree = (cKDTree(np.column_stack([schools.geometry.x, schools.geometry.y]))
                        if ids else None)
                for sid in closed:
                    leaving = moved.pop(sid)
                    pt = prev.loc[sid, "geometry"].representative_point()
                    if tree is None:  # no school left: they wait near the closed one
                        near = int(cKDTree(district.cell_xy).query([pt.x, pt.y])[1])
                        pool[near] += leaving
                        continue
                    target = ids[int(tree.query([pt.x, pt.y])[1])]
                    moved[target] = moved.get(target, np.zeros(n_grades)) + leaving
            enrol = {sid: moved.get(sid, np.zeros(n_grades)) for sid in ids}
            # entrants; and arrivals in a grade whose cohort did not exist last year
            for g in range(n_grades):
                if g > 0 and not (totals[t - 1, g - 1] <= 0 < totals[t, g]):
                    continue
                alloc = place(year, schools, demand_grade[:, g], 1.0 / n_grades)
                got = np.bincount(alloc.school, weights=alloc.students, minlength=len(ids))
                for r, sid in enumerate(ids):
                    enrol[sid][g] += got[r]
                pool[:, g] += alloc.unassigned_by_cell
            # students still without a school: placed again with the seats free this year
            per_grade = schools["seats"].to_numpy(dtype=np.float64) / n_grades
            for g in range(1, n_grades):
                if pool[:, g].sum() <= 1e-9 or not ids:
                    continue
                taken = np.array([enrol[sid][g] for sid in ids])
                free = schools.assign(seats=np.maximum(per_grade - taken, 0.0))
                alloc = place(year, free, pool[:, g].copy(), 1.0)
                got = np.bincount(alloc.school, weights=alloc.students, minlength=len(ids))
                for r, sid in enumerate(ids):
                    enrol[sid][g] += got[r]
                pool[:, g] = alloc.unassigned_by_cell
        demand = float(demand_grade.sum())
        enrolled = float(sum(g.sum() for g in enrol.values()))
        unassigned = float(pool.sum())
        puhui = {}
        if level == "kindergarten":
            held = puhui_figures(schools, demand)
            share = 0.0 if np.isnan(held["puhui_coverage"]) else held["puhui_coverage"]
            puhui = {"seats_public_puhui": held["seats_public_puhui"],
                     "puhui_coverage": held["puhui_coverage"],
                     "demand_puhui": demand * share, "demand_other": demand * (1.0 - share),
                     "puhui_seats_short": max(puhui_target * demand
                                              - held["seats_public_puhui"], 0.0)}
        for sid in ids:
            for g in range(n_grades):
                grade_rows.append((year, sid, g + 1, float(enrol[sid][g])))
        students = np.array([enrol[sid] for sid in ids]).reshape(len(ids), n_grades)
        seats = schools["seats"].to_numpy(dtype=np.float64)
        classes = schools["classes"].to_numpy(dtype=np.int64)
        whole = np.rint(students).astype(np.int64)
        k = classes_by_grade(classes, n_grades)
        norm_size = np.asarray(norm.class_sizes, dtype=np.int64)[None, :]
        counts, _, largest = band_counts(whole, k, norm_size, norms.bands)
        k_used = np.where((k == 0) & (whole > 0), 1, k).sum(axis=1)
        total = students.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            for r, sid in enumerate(ids):
                school_rows.append({
                    "year": year, "school_id": sid, "students": total[r], "seats": seats[r],
                    "shortfall": max(total[r] - seats[r], 0.0),
                    "utilisation": total[r] / seats[r] if seats[r] > 0 else np.nan,
                    "classes": int(classes[r]),
                    "classes_needed": int((-(-whole[r] // norm_size[0])).sum()),
                    "avg_class_size": whole[r].sum() / k_used[r] if k_used[r] else np.nan,
                    "max_class_size": int(largest[r]),
                    **{c: int(counts[r, i]) for i, c in enumerate(BAND_COLUMNS)},
                })
        n_classes = int(counts.sum())
        n56 = int(counts[:, 2].sum() + counts[:, 3].sum())
        district_rows.append({
            "year": year, "demand": demand, "enrolled": enrolled, "unassigned": unassigned,
            "seats": float(seats.sum()),
            "shortfall_at_schools": float(np.maximum(total - seats, 0.0).sum()),
            "n_classes_56_plus": n56, "n_classes_66_plus": int(counts[:, 3].sum()),
            "share_classes_56_plus": n56 / n_classes if n_classes else np.nan,
            **puhui,
        })
    return EnrolmentSimulation(
        level, method,
        pd.DataFrame(grade_rows, columns=["year", "school_id", "grade", "students"]),
        pd.DataFrame(school_rows), pd.DataFrame(district_rows))
