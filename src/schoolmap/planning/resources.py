"""What the simulated enrolment needs, school by school and year by year: staff posts (编制),
classrooms, building and land area, operating funds (生均公用经费).

Every figure follows from a school's students and classes of a year (from
:func:`schoolmap.planning.simulation.simulate_enrolment`) and the level's resource norms
(:class:`schoolmap.norms.ResourceNorm`, ``[norms.resources.<level>]``; sources in
``docs/norms.md``):

- ``staff_posts`` = students ÷ ``students_per_post`` of the school's locality (urban, county
  town, rural), or, where the class rule applies (kindergartens; rural schools of at most
  ``class_rule_max_students`` students), the larger of that and classes needed ×
  ``posts_per_class``;
- ``classrooms`` = the building's classes, ``classrooms_needed`` = classes needed at norm class
  size, ``classrooms_short`` the difference where positive;
- ``building_m2_needed`` / ``land_m2_needed`` = students × the area per student of the smallest
  norm size holding the classes needed; ``building_m2`` = the building's norm area (its classes
  × norm class size × area per student at its size, or the schools layer's ``building_m2``);
- ``funds_yuan`` = max(students, ``funds_min_students``) × ``funds_per_student_yuan`` +
  boarders × ``funds_per_boarder_yuan`` (a school without students gets nothing).

The district figures of a year are the sums over its schools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from schoolmap.errors import Problem, ValidationError
from schoolmap.norms import LOCALITIES, LevelNorm, Norms, ResourceNorm
from schoolmap.planning.simulation import EnrolmentSimulation

__all__ = ["RESOURCE_COLUMNS", "SchoolResources", "estimate_resources", "resources_for"]

#: Figures summed over schools into the district rows.
RESOURCE_COLUMNS: tuple[str, ...] = (
    "students", "boarders", "classrooms", "classrooms_needed", "classrooms_short",
    "staff_posts", "building_m2", "building_m2_needed", "land_m2_needed", "funds_yuan")


@dataclass(frozen=True)
class SchoolResources:
    """A level's resources by school and year.

    Attributes
    ----------
    level : str
    by_school : DataFrame
        ``year``, ``school_id``, ``locality`` and the :data:`RESOURCE_COLUMNS` (posts in
        staff posts, areas in m², funds in yuan per year), plus ``migrant_students`` where the
        schools layer carries them.
    by_year : DataFrame
        ``year`` and the sums of :data:`RESOURCE_COLUMNS` over the schools open that year.
    """

    level: str
    by_school: pd.DataFrame
    by_year: pd.DataFrame


def resources_for(
    students: np.ndarray,
    classes: np.ndarray,
    classes_needed: np.ndarray,
    locality: np.ndarray,
    boarders: np.ndarray,
    norm: LevelNorm,
    resource: ResourceNorm,
) -> dict[str, np.ndarray]:
    """Resource figures of schools given as arrays (the array door of :func:`estimate_resources`).

    Parameters
    ----------
    students, classes, classes_needed, boarders : ndarray of shape (n_schools,)
        Students, classes of the building, classes needed at norm size, boarding students.
    locality : ndarray of shape (n_schools,)
        Index into :data:`schoolmap.norms.LOCALITIES` (0 urban, 1 county town, 2 rural).
    norm, resource : LevelNorm, ResourceNorm

    Returns
    -------
    dict of ndarray
        The :data:`RESOURCE_COLUMNS`, each of shape (n_schools,).

    Examples
    --------
    1,080 primary pupils (24 classes) of whom 200 board, and a rural school of 60 pupils in
    6 classes (class rule: 6 × 1.7 posts; funded as 100 pupils):

    >>> from schoolmap.norms import default_norms
    >>> n = default_norms()
    >>> r = resources_for(np.array([1080.0, 60.0]), np.array([24, 6]), np.array([24, 6]),
    ...                   np.array([0, 2]), np.array([200.0, 0.0]), n.level("primary"),
    ...                   n.resource("primary"))
    >>> r["funds_yuan"].tolist(), r["staff_posts"].round(2).tolist()
    ([688000.0, 60000.0], [56.84, 10.2])
    >>> r["building_m2_needed"].round(1).tolist()
    [8532.0, 600.0]
    """
    students = np.asarray(students, dtype=np.float64)
    classes = np.asarray(classes, dtype=np.float64)
    needed = np.asarray(classes_needed, dtype=np.float64)
    where = np.asarray(locality, dtype=np.int64)
    boarders = np.minimum(np.asarray(boarders, dtype=np.float64), students)
    ratio = np.asarray(resource.students_per_post, dtype=np.float64)[where]
    posts = students / ratio
    rule = students <= resource.class_rule_max_students
    if resource.level != "kindergarten":
        rule &= where == LOCALITIES.index("rural")
    posts = np.where(rule & (students > 0), np.maximum(posts, needed * resource.posts_per_class),
                     posts)
    building = np.asarray(resource.building_m2_per_student, dtype=np.float64)
    land = np.asarray(resource.land_m2_per_student, dtype=np.float64)
    size_needed = np.array([resource.area_index(c) for c in needed], dtype=np.int64)
    size_built = np.array([resource.area_index(c) for c in classes], dtype=np.int64)
    funded = np.where(students > 0, np.maximum(students, resource.funds_min_students), 0.0)
    return {
        "students": students,
        "boarders": boarders,
        "classrooms": classes,
        "classrooms_needed": needed,
        "classrooms_short": np.maximum(needed - classes, 0.0),
        "staff_posts": posts,
        "building_m2": classes * norm.mean_class_size * building[size_built],
        "building_m2_needed": students * building[size_needed],
        "land_m2_needed": students * land[size_needed],
        "funds_yuan": funded * resource.funds_per_student_yuan
        + boarders * resource.funds_per_boarder_yuan,
    }


def estimate_resources(
    simulation: EnrolmentSimulation,
    schools: pd.DataFrame,
    norms: Norms,
) -> SchoolResources:
    """Staff posts, classrooms, areas and funds of every school in every simulated year.

    Parameters
    ----------
    simulation : EnrolmentSimulation
        One level's year-by-year enrolment (its ``by_school`` table).
    schools : DataFrame
        The schools layer: ``school_id``; optional ``locality`` (``urban``, ``county`` or
        ``rural``; default ``urban``), ``boarders`` (boarding students in the first simulated
        year; later years keep each school's share), ``building_m2`` (the building's area,
        m²; default its norm area) and ``migrant_students`` (随迁子女 in the first year;
        later years keep the share).
    norms : Norms

    Returns
    -------
    SchoolResources

    Raises
    ------
    ValidationError
        Naming unknown localities and negative or non-numeric boarders.

    Examples
    --------
    >>> from schoolmap.testing import tiny_town
    >>> from schoolmap.norms import default_norms
    >>> from schoolmap.demand.forecast import forecast_residents
    >>> from schoolmap.planning.simulation import simulate_enrolment
    >>> town, n = tiny_town(), default_norms()
    >>> sim = simulate_enrolment(town, forecast_residents(town.cells, 2), n, "primary")
    >>> res = estimate_resources(sim, town.schools, n)
    >>> bool((res.by_year["funds_yuan"] == res.by_school.groupby("year")["funds_yuan"].sum()
    ...       .to_numpy()).all())
    True
    """
    level = simulation.level
    norm, resource = norms.level(level), norms.resource(level)
    table = simulation.by_school
    info = _school_info(schools, table)
    rows = table[["year", "school_id"]].reset_index(drop=True)
    first = table.groupby("school_id")["students"].transform("first").to_numpy(dtype=np.float64)
    students = table["students"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(first > 0, students / first, 0.0)
    sid = table["school_id"].to_numpy()
    got = resources_for(students, table["classes"].to_numpy(), table["classes_needed"].to_numpy(),
                        info["locality_index"].reindex(sid).to_numpy(),
                        info["boarders"].reindex(sid).to_numpy() * scale, norm, resource)
    if "building_m2" in info:
        given = info["building_m2"].reindex(sid).to_numpy(dtype=np.float64)
        got["building_m2"] = np.where(np.isfinite(given), given, got["building_m2"])
    out = rows.assign(locality=info["locality"].reindex(sid).to_numpy(), **got)
    if "migrant_students" in info:
        out["migrant_students"] = np.minimum(
            info["migrant_students"].reindex(sid).to_numpy() * scale, students)
    sums = list(RESOURCE_COLUMNS) + (["migrant_students"] if "migrant_students" in info else [])
    by_year = out.groupby("year", sort=True)[sums].sum().reset_index()
    return SchoolResources(level, out, by_year)


def _school_info(schools: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Per school id: locality (label and index), base-year boarders and optional columns."""
    problems: list[Problem] = []
    s = pd.DataFrame(schools).drop_duplicates("school_id").set_index("school_id")
    ids = pd.Index(table["school_id"].unique())
    s = s.reindex(ids)
    loc = (s["locality"] if "locality" in s else pd.Series("urban", index=ids))
    loc = loc.fillna("urban").astype(str)
    bad = sorted(set(loc) - set(LOCALITIES))
    if bad:
        rows = tuple(str(i) for i in loc.index[loc.isin(bad)])
        problems.append(Problem("schools", f"locality must be one of {', '.join(LOCALITIES)}; "
                                f"got {', '.join(map(repr, bad))}", rows))
    out = pd.DataFrame({"locality": loc,
                        "locality_index": [LOCALITIES.index(v) if v in LOCALITIES else 0
                                           for v in loc]}, index=ids)
    for col in ("boarders", "building_m2", "migrant_students"):
        if col not in s:
            continue
        v = pd.to_numeric(s[col], errors="coerce")
        wrong = v.notna() & ~(v >= 0) | (s[col].notna() & v.isna())
        if wrong.any():
            problems.append(Problem("schools", f"{col} must be a number ≥ 0",
                                    tuple(str(i) for i in v.index[wrong])))
        out[col] = v if col == "building_m2" else v.fillna(0.0)
    if "boarders" not in out:
        out["boarders"] = 0.0
    ValidationError.raise_if(problems, "resources")
    return out
