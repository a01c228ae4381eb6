"""Seats short, classes, class-size bands and travel, per school, per zone and for the district.

Classes are formed the way a school forms them: the students of each grade are spread as evenly
as possible over that grade's classes (the building's classes shared evenly over the grades;
with ``classes`` = 20 over 6 grades the lower grades get 4 and the upper 3). A grade with
students but no class gets one (overfull) class. Class-size bands follow the MOE: ≤ 45 normal,
46–55 large, 56–65 大班额, 66+ 超大班额.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from schoolmap.allocation import Allocation
from schoolmap.io.zones import split_ids, zone_of_points
from schoolmap.norms import ClassBands, LevelNorm

__all__ = [
    "BAND_COLUMNS",
    "band_counts",
    "classes_by_grade",
    "district_totals",
    "puhui_figures",
    "school_table",
    "zone_table",
]

BAND_COLUMNS = ("n_classes_le_45", "n_classes_46_55", "n_classes_56_65", "n_classes_66_plus")


def classes_by_grade(classes: np.ndarray, n_grades: int) -> np.ndarray:
    """Share each school's classes out over its grades, lower grades first.

    >>> classes_by_grade(np.array([20, 6, 0]), 6)
    array([[4, 4, 3, 3, 3, 3],
           [1, 1, 1, 1, 1, 1],
           [0, 0, 0, 0, 0, 0]])
    """
    classes = np.asarray(classes, dtype=np.int64)
    base, extra = np.divmod(classes, n_grades)
    return base[:, None] + (np.arange(n_grades)[None, :] < extra[:, None]).astype(np.int64)


def band_counts(
    students: np.ndarray, classes: np.ndarray, norm_size: np.ndarray, bands: ClassBands
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classes per band, classes over the norm size and the largest class, per school.

    ``students`` and ``classes`` are (n_schools, n_grades) integers; each grade's students are
    split over its classes as evenly as possible (sizes q and q + 1).
    """
    k = np.where((classes == 0) & (students > 0), 1, classes)
    safe = np.maximum(k, 1)
    q, r = np.divmod(students, safe)
    n_big = np.where(k > 0, r, 0)  # classes of q + 1
    n_small = k - n_big  # classes of q
    edges = np.array([bands.normal_max, bands.large_max, bands.oversized_max])
    counts = np.zeros((students.shape[0], 4), dtype=np.int64)
    for size, n in ((q + 1, n_big), (q, n_small)):
        band = np.searchsorted(edges, size, side="left")  # ≤45 → 0, 46–55 → 1, …
        for b in range(4):
            counts[:, b] += np.where(band == b, n, 0).sum(axis=1)
    over = (np.where(q + 1 > norm_size, n_big, 0) + np.where(q > norm_size, n_small, 0)).sum(1)
    largest = np.where(n_big > 0, q + 1, np.where(k > 0, q, 0)).max(axis=1, initial=0)
    return counts, over, largest


def school_table(
    alloc: Allocation,
    schools: gpd.GeoDataFrame,
    demand_grade: np.ndarray,
    norm: LevelNorm,
    bands: ClassBands,
) -> gpd.GeoDataFrame:
    """Planning figures of every school of one level under one allocation.

    Parameters
    ----------
    alloc : Allocation
    schools : GeoDataFrame
        The level's schools (``seats``, ``classes``) — rows match ``alloc.school``.
    demand_grade : ndarray of shape (n_cells, n_grades)
        Students per cell and grade; the grade mix of each flow is its cell's.
    norm : LevelNorm
    bands : ClassBands

    Returns
    -------
    GeoDataFrame
        One row per school: ``demand`` (students), ``seats``, ``shortfall`` (seats short,
        学位缺口), ``surplus``, ``utilisation`` (demand ÷ seats), ``classes`` (in the building),
        ``classes_needed`` (at norm size), ``avg_class_size``, ``max_class_size``, the band counts
        ``n_classes_le_45`` … ``n_classes_66_plus``, ``n_classes_over_norm``,
        ``share_classes_56_plus``, ``share_classes_66_plus``, ``students_beyond_radius``,
        ``share_beyond_radius``, ``mean_distance_m`` and ``seat_price_m`` (``optimal`` only:
        metres of travel one more seat would save); then ``students_g1`` … per grade.
    """
    m = len(schools)
    n_grades = norm.n_grades
    cell_total = demand_grade.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mix = np.where(cell_total[:, None] > 0, demand_grade / cell_total[:, None], 0.0)
    by_grade = np.zeros((m, n_grades))
    for g in range(n_grades):
        by_grade[:, g] = np.bincount(alloc.school, weights=alloc.students * mix[alloc.cell, g],
                                     minlength=m)
    demand = alloc.assigned
    seats = schools["seats"].to_numpy(dtype=np.float64)
    classes = schools["classes"].to_numpy(dtype=np.int64)
    students_int = np.rint(by_grade).astype(np.int64)
    norm_size = np.asarray(norm.class_sizes, dtype=np.int64)[None, :]
    needed = -(-students_int // norm_size)  # ceil
    k = classes_by_grade(classes, n_grades)
    counts, over, largest = band_counts(students_int, k, norm_size, bands)
    k_used = np.where((k == 0) & (students_int > 0), 1, k).sum(axis=1)
    total_students = students_int.sum(axis=1)
    beyond = np.bincount(alloc.school,
                         weights=alloc.students * (alloc.distance_m > norm.service_radius_m),
                         minlength=m)
    dist = np.bincount(alloc.school, weights=alloc.students * alloc.distance_m, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "school_id": schools["school_id"].to_numpy(),
            "name": schools["name"].to_numpy(),
            "level": norm.level,
            "method": alloc.method,
            "school_type": schools["school_type"].to_numpy(),
            "sector": schools["sector"].to_numpy(),
            "seats": seats,
            "demand": demand,
            "shortfall": np.maximum(demand - seats, 0.0),
            "surplus": np.maximum(seats - demand, 0.0),
            "utilisation": np.where(seats > 0, demand / seats, np.nan),
            "classes": classes,
            "classes_needed": needed.sum(axis=1),
            "avg_class_size": np.where(k_used > 0, total_students / np.maximum(k_used, 1), np.nan),
            "max_class_size": largest,
            **{c: counts[:, i] for i, c in enumerate(BAND_COLUMNS)},
            "n_classes_over_norm": over,
            "share_classes_56_plus": np.where(k_used > 0, (counts[:, 2] + counts[:, 3]) / k_used,
                                              np.nan),
            "share_classes_66_plus": np.where(k_used > 0, counts[:, 3] / k_used, np.nan),
            "students_beyond_radius": beyond,
            "share_beyond_radius": np.where(demand > 0, beyond / demand, np.nan),
            "mean_distance_m": np.where(demand > 0, dist / demand, np.nan),
            "seat_price_m": alloc.seat_price if alloc.seat_price is not None else np.nan,
            **{f"students_g{g + 1}": by_grade[:, g] for g in range(n_grades)},
        })
    return gpd.GeoDataFrame(table, geometry=schools.geometry.values, crs=schools.crs)


def zone_table(
    cell_xy: np.ndarray,
    demand_by_cell: np.ndarray,
    schools: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    level: str,
) -> gpd.GeoDataFrame:
    """Students living in each zone against the seats of the zone's open schools.

    Returns
    -------
    GeoDataFrame
        ``zone_id``, ``name``, ``level``, ``school_id``, ``n_schools`` (open this year),
        ``demand`` (students resident), ``seats``, ``shortfall``, ``surplus``,
        ``utilisation``, polygons.
    """
    zone_of_cell = zone_of_points(cell_xy, zones)
    inside = zone_of_cell >= 0
    demand = np.bincount(zone_of_cell[inside], weights=demand_by_cell[inside],
                         minlength=len(zones))
    seat_of = dict(zip(schools["school_id"], schools["seats"].to_numpy(dtype=float),
                       strict=True))
    seats = np.zeros(len(zones))
    n_open = np.zeros(len(zones), dtype=np.int64)
    for i, ids in enumerate(zones["school_id"]):
        own = [seat_of[s] for s in split_ids(ids) if s in seat_of]
        seats[i] = sum(own)
        n_open[i] = len(own)
    names = zones["name"].astype(str).to_numpy() if "name" in zones.columns else zones["zone_id"]
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "zone_id": zones["zone_id"].to_numpy(),
            "name": names,
            "level": level,
            "school_id": zones["school_id"].to_numpy(),
            "n_schools": n_open,
            "demand": demand,
            "seats": seats,
            "shortfall": np.maximum(demand - seats, 0.0),
            "surplus": np.maximum(seats - demand, 0.0),
            "utilisation": np.where(seats > 0, demand / seats, np.nan),
        })
    return gpd.GeoDataFrame(table, geometry=zones.geometry.values, crs=zones.crs)


def puhui_figures(school_rows: pd.DataFrame, demand: float) -> dict:
    """普惠 figures: seats in public and 普惠 (publicly subsidised) schools against demand.

    ``puhui_coverage`` is the share of demand those seats can hold (target ≥ 80 % for
    kindergartens), ``public_share_of_seats`` the share of all seats that are public (≥ 50 %).
    """
    sector = school_rows["sector"].astype(str)
    seats = school_rows["seats"].to_numpy(dtype=float)
    affordable = float(seats[(sector == "public").to_numpy() | (sector == "puhui").to_numpy()]
                       .sum())
    total = float(seats.sum())
    return {
        "seats_public_puhui": affordable,
        "puhui_coverage": min(affordable, demand) / demand if demand > 0 else float("nan"),
        "public_share_of_seats": float(seats[(sector == "public").to_numpy()].sum()) / total
        if total > 0 else float("nan"),
    }


def district_totals(alloc: Allocation, school_rows: pd.DataFrame, bands: ClassBands) -> dict:
    """District figures of one level under one allocation (a row of ``district.csv``)."""
    classes = school_rows[list(BAND_COLUMNS)].to_numpy().sum()
    n56 = int(school_rows["n_classes_56_65"].sum() + school_rows["n_classes_66_plus"].sum())
    n66 = int(school_rows["n_classes_66_plus"].sum())
    demand = float(alloc.demand_by_cell.sum())
    assigned = float(alloc.students.sum())
    seats = float(school_rows["seats"].sum())
    return {
        "level": alloc.level,
        "method": alloc.method,
        "n_schools": len(school_rows),
        "demand": demand,
        "assigned": assigned,
        "unassigned": float(alloc.unassigned_by_cell.sum()),
        "seats": seats,
        "net_shortfall": max(demand - seats, 0.0),
        "shortfall_at_schools": float(school_rows["shortfall"].sum()),
        "surplus_at_schools": float(school_rows["surplus"].sum()),
        "n_schools_short": int((school_rows["shortfall"] > 0.5).sum()),
        "utilisation": demand / seats if seats > 0 else float("nan"),
        "classes": int(classes),
        "classes_needed": int(school_rows["classes_needed"].sum()),
        "n_classes_56_plus": n56,
        "n_classes_66_plus": n66,
        "share_classes_56_plus": n56 / classes if classes else float("nan"),
        "share_classes_66_plus": n66 / classes if classes else float("nan"),
        "target_share_56_plus": bands.target_share_56_plus,
        "target_share_66_plus": bands.target_share_66_plus,
        **puhui_figures(school_rows, demand),
        "share_beyond_radius": float(school_rows["students_beyond_radius"].sum() / assigned)
        if assigned > 0 else float("nan"),
        "mean_distance_m": float((alloc.students * alloc.distance_m).sum() / assigned)
        if assigned > 0 else float("nan"),
    }
