"""Admission on a district: the odds of every home at its zone's schools, per priority class.

:func:`simulate_admission` is the district door of :func:`schoolmap.planning.admission.
admission_odds`: a level's schools (their entry places: seats ÷ grades), its official zones
(多校划片: a zone's schools by distance from the cell; the nearest school where the level has no
zones), the applicants of each cell split into priority classes and rounded to whole students,
then many seeded lottery draws. It returns per-cell, per-school and per-class tables
(:class:`DistrictAdmission`). :func:`quota_table` splits senior schools' 指标生 places over
junior schools by graduates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from schoolmap.allocation.dispatch import level_zones, school_points
from schoolmap.demand.cells import level_schools
from schoolmap.errors import Problem, ValidationError
from schoolmap.io.district import District
from schoolmap.io.zones import split_ids, zone_of_points
from schoolmap.norms import Norms, default_norms
from schoolmap.planning.admission import (
    AdmissionOdds,
    admission_odds,
    largest_remainder,
    split_quota,
    zone_preferences,
)
from schoolmap.planning.admission_settings import AdmissionSettings, PriorityClass

__all__ = ["CELL_COLUMNS", "QUOTA_COLUMNS", "SCHOOL_COLUMNS", "DistrictAdmission",
           "class_shares", "quota_table", "simulate_admission"]

#: Columns of :attr:`DistrictAdmission.schools` (one row per school; ``admission.csv``).
SCHOOL_COLUMNS = ("level", "school_id", "name", "entry_places", "first_choice_applicants",
                  "applicants_per_place", "chance_first", "placed_from_zone", "placed_first",
                  "placed_by_bureau", "places_left")

#: Columns of :attr:`DistrictAdmission.cells` before the per-class ones (``_c1``, ``_c2`` …).
CELL_COLUMNS = ("level", "cell_id", "zone_id", "first_school", "applicants", "chance_first",
                "chance_zone", "placed_outside", "extra_distance_m", "no_seat")

#: Columns of :func:`quota_table` (``admission_quotas.csv``).
QUOTA_COLUMNS = ("senior_school", "quota", "junior_school", "graduates", "places")


@dataclass(frozen=True)
class DistrictAdmission:
    """A level's admission odds on a district.

    Attributes
    ----------
    level : str
    year : int
    odds : AdmissionOdds
        The array-level result (groups are cell × class rows of :attr:`cells`).
    schools : DataFrame
        :data:`SCHOOL_COLUMNS`: per school its ``entry_places`` (seats ÷ grades, whole), the
        ``first_choice_applicants`` (students whose list starts there) and
        ``applicants_per_place``, the expected students per draw placed from the zones
        (``placed_from_zone``; ``placed_first`` of them first-choice), by the bureau's rule
        (``placed_by_bureau``) and ``places_left``; ``chance_first`` = placed_first ÷
        first_choice_applicants.
    cells : DataFrame
        :data:`CELL_COLUMNS`, one row per cell with a listed school or applicants:
        ``zone_id`` and its ``first_school`` (nearest of the zone), ``chance_first`` (a place
        at it for a family living there — the odds of its class and list, so also where no
        one applies this year; all classes weighed by the cell's class shares),
        ``chance_zone`` (a place at any school of the zone), ``placed_outside`` (expected
        students per draw placed by the bureau's rule) with their mean ``extra_distance_m``
        (metres beyond the first school; negative when the school found is nearer),
        ``no_seat`` (expected students with no seat); then per class k = 1, 2 …
        ``applicants_ck``, ``chance_first_ck``, ``chance_zone_ck``, ``placed_outside_ck``.
    classes : DataFrame
        One row per class (:meth:`AdmissionOdds.by_class`), with ``level``.
    class_names : tuple of str
    notes : tuple of str
    """

    level: str
    year: int
    odds: AdmissionOdds
    schools: pd.DataFrame
    cells: pd.DataFrame
    classes: pd.DataFrame
    class_names: tuple[str, ...]
    notes: tuple[str, ...] = ()


def class_shares(cells: pd.DataFrame, classes: Sequence[PriorityClass],
                 where: str = "[admission]") -> np.ndarray:
    """Share of each cell's applicants in each class, shape (n_cells, n_classes).

    A class with a ``column`` takes that cells-layer column (0 … 1; missing values: its
    ``share``); the classes without one share the rest in proportion to their shares (evenly
    when those are all 0). Where the columns sum above 1 they are scaled to 1.

    Examples
    --------
    >>> cells = pd.DataFrame({"migrant": [0.5, np.nan]})
    >>> class_shares(cells, [PriorityClass("一类", 0.6), PriorityClass("二类", 0.3),
    ...                      PriorityClass("三类", 0.1, "migrant")]).round(3).tolist()
    [[0.333, 0.167, 0.5], [0.6, 0.3, 0.1]]
    """
    n = len(cells)
    base = np.array([c.share for c in classes], dtype=np.float64)
    out = np.tile(base, (n, 1))
    fixed = np.array([c.column is not None for c in classes])
    if not fixed.any():
        return out
    problems = [Problem(where, f"classes: column {c.column!r} ({c.name}) is not a column of "
                        "the cells layer; add it (shares 0 … 1) or leave column out")
                for c in classes if c.column is not None and c.column not in cells.columns]
    ValidationError.raise_if(problems, where)
    for k, c in enumerate(classes):
        if c.column is not None:
            v = pd.to_numeric(cells[c.column], errors="coerce").to_numpy(dtype=np.float64)
            out[:, k] = np.clip(np.where(np.isnan(v), c.share, v), 0.0, 1.0)
    taken = out[:, fixed].sum(axis=1)
    over = taken > 1
    out[np.ix_(over, fixed)] /= taken[over, None]
    rest = np.maximum(1.0 - np.minimum(taken, 1.0), 0.0)
    free = base[~fixed]
    weights = free / free.sum() if free.sum() > 0 else np.full(len(free), 1.0 / max(len(free), 1))
    out[:, ~fixed] = rest[:, None] * weights[None, :]
    return out


def simulate_admission(
    district: District,
    level: str,
    applicants_by_cell: np.ndarray,
    *,
    year: int,
    settings: AdmissionSettings | None = None,
    seed: int | None = None,
    norms: Norms | None = None,
) -> DistrictAdmission:
    """Admission odds of every cell of ``district`` at its zone's schools, one level.

    Parameters
    ----------
    district : District
    level : str
        ``primary``, ``junior`` … (the entry grade of it).
    applicants_by_cell : ndarray of shape (n_cells,)
        Students applying for the level's first grade this year, per cell (expected, e.g. the
        forecast's children of entry age × the public share); split into classes and rounded
        to whole students by largest remainder: the district total, each class's total, then
        the cells of each class.
    year : int
        School year (which schools are open).
    settings : AdmissionSettings, optional
        Mechanism, draws, classes (default: one class, the lottery, 2,000 draws).
    seed : int, optional
        Seed of the draws (default ``settings.seed``, else 0).
    norms : Norms, optional

    Returns
    -------
    DistrictAdmission

    Examples
    --------
    >>> from schoolmap.testing import tiny_town
    >>> town = tiny_town()
    >>> adm = simulate_admission(town, "primary", np.full(len(town.cells), 30.0), year=2026,
    ...                          settings=AdmissionSettings(draws=200))
    >>> int(adm.cells["applicants"].sum()), bool((adm.schools["placed_from_zone"]
    ...     + adm.schools["placed_by_bureau"] <= adm.schools["entry_places"] + 1e-9).all())
    (..., True)
    """
    settings = settings or AdmissionSettings()
    norms = norms or default_norms()
    where = "[admission]"
    demand = np.asarray(applicants_by_cell, dtype=np.float64)
    n_cells = len(district.cells)
    problems: list[Problem | str] = []
    if demand.shape != (n_cells,):
        problems.append(Problem(where, f"{level}: applicants must have one value per cell "
                                f"({n_cells}), got shape {demand.shape}"))
    elif not np.isfinite(demand).all() or (demand < 0).any():
        problems.append(Problem(where, f"{level}: applicants must be finite and ≥ 0"))
    ValidationError.raise_if(problems, where)
    schools = level_schools(district, norms, level, year)
    n_grades = norms.level(level).n_grades
    places = np.floor(schools["seats"].to_numpy(dtype=np.float64) / n_grades + 1e-9)
    places = np.nan_to_num(places).astype(np.int64)
    cell_xy = district.cell_xy
    school_xy = school_points(schools)
    names = tuple(c.name for c in settings.classes)
    shares = class_shares(district.cells, settings.classes, where)
    weights = demand[:, None] * shares
    # whole students: the district total, then each class's total, then its cells (largest
    # remainder each time, so the classes keep their shares)
    by_class = largest_remainder(weights.sum(axis=0), int(round(demand.sum())))
    applicants = np.column_stack([largest_remainder(weights[:, p], int(by_class[p]))
                                  for p in range(len(names))]) if n_cells else \
        np.zeros((0, len(names)), dtype=np.int64)
    zones = level_zones(district, level)
    notes: list[str] = []
    prefs = (np.zeros(n_cells + 1, dtype=np.int64), np.zeros(0, dtype=np.int64))
    zone_ids = np.full(n_cells, None, dtype=object)
    if len(zones) and len(schools):
        zone_of_cell = zone_of_points(cell_xy, zones)
        row_of = {sid: i for i, sid in enumerate(schools["school_id"])}
        members = [[row_of[s] for s in split_ids(ids) if s in row_of]
                   for ids in zones["school_id"]]
        indptr = np.concatenate([[0], np.cumsum([len(m) for m in members])]).astype(np.int64)
        member = np.array([r for m in members for r in m], dtype=np.int64)
        prefs = zone_preferences(cell_xy, school_xy, zone_of_cell, indptr, member)
        inside = zone_of_cell >= 0
        zone_ids[inside] = zones["zone_id"].astype(str).to_numpy()[zone_of_cell[inside]]
        if (~inside & (demand > 0)).any():
            notes.append(f"{int((~inside & (demand > 0)).sum())} cells with applicants lie "
                         "outside every zone: the bureau's rule places them")
    elif len(schools):
        notes.append(f"no {level} zones: each cell applies to its nearest school")
        nearest = np.asarray(cKDTree(school_xy).query(cell_xy, k=1)[1], dtype=np.int64)
        prefs = (np.arange(n_cells + 1, dtype=np.int64), nearest.reshape(-1))
    odds = admission_odds(applicants, places, cell_xy, school_xy, mechanism=settings.mechanism,
                          draws=settings.draws,
                          seed=int(seed if seed is not None else settings.seed or 0),
                          classes=names, preferences=prefs)
    ids = schools["school_id"].astype(str).to_numpy()
    cells = _cell_table(odds, district, level, zone_ids, ids, prefs, shares)
    table = _school_table(odds, schools, places, level)
    classes = odds.by_class()
    classes.insert(0, "level", level)
    return DistrictAdmission(level, int(year), odds, table, cells, classes, names,
                             tuple(notes) + odds.notes)


def _group_values(odds: AdmissionOdds) -> dict[str, np.ndarray]:
    """Per group: first and any-listed chance, expected outside, extra metres, no seat."""
    lens = np.diff(odds.pref_indptr)
    zone = np.zeros(len(lens))
    if len(odds.chance):
        starts = np.minimum(odds.pref_indptr[:-1], len(odds.chance) - 1)
        zone = np.where(lens > 0, np.add.reduceat(odds.chance, starts), 0.0)
    return {"first": odds.chance_first(), "zone": zone,
            "outside": odds.chance_outside * odds.applicants,
            "extra": odds.extra_distance_m, "none": odds.chance_no_seat * odds.applicants}


def _cell_table(odds: AdmissionOdds, district: District, level: str, zone_ids: np.ndarray,
                school_ids: np.ndarray, prefs: tuple[np.ndarray, np.ndarray],
                shares: np.ndarray) -> pd.DataFrame:
    """:data:`CELL_COLUMNS` and the per-class columns, one row per cell with a list or
    applicants. A home's chance is its *type's* (class and list: alike students have the same
    odds), so cells without applicants this year show the chance a family there would have;
    all classes together weigh the classes by the cell's shares."""
    v = _group_values(odds)
    c_indptr, c_school = prefs
    n, k = odds.n_cells, len(odds.classes)
    a = odds.applicants.astype(np.float64)
    lists = [tuple(c_school[c_indptr[c]:c_indptr[c + 1]].tolist()) for c in range(n)]
    sums: dict[tuple[int, tuple[int, ...]], list[float]] = {}
    for g, (c, p) in enumerate(zip(odds.group_cell.tolist(), odds.group_class.tolist(),
                                   strict=True)):
        if lists[c]:
            acc = sums.setdefault((p, lists[c]), [0.0, 0.0, 0.0])
            acc[0] += a[g]
            acc[1] += a[g] * v["first"][g]
            acc[2] += a[g] * v["zone"][g]
    first, zone = np.full((n, k), np.nan), np.full((n, k), np.nan)
    for c in range(n):
        for p in range(k):
            acc = sums.get((p, lists[c])) if lists[c] else None
            if acc is not None and acc[0] > 0:
                first[c, p], zone[c, p] = acc[1] / acc[0], acc[2] / acc[0]

    def mixed(values: np.ndarray) -> np.ndarray:
        w = np.where(np.isnan(values), 0.0, shares)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(w.sum(axis=1) > 0, np.nansum(values * w, axis=1)
                            / np.where(w.sum(axis=1) > 0, w.sum(axis=1), 1.0), np.nan)

    def total(values: np.ndarray, sel: np.ndarray | None = None) -> np.ndarray:
        ok = np.ones(len(values), bool) if sel is None else sel
        return np.bincount(odds.group_cell[ok], weights=values[ok], minlength=n)

    outside = total(v["outside"])
    ok = ~np.isnan(v["extra"])
    extra_sum = total(np.where(ok, v["extra"], 0.0) * v["outside"])
    has_list = np.diff(c_indptr) > 0
    first_school = np.full(n, None, dtype=object)
    first_school[has_list] = school_ids[c_school[c_indptr[:-1][has_list]]]
    applicants = total(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        extra = np.where(outside > 0, extra_sum / np.where(outside > 0, outside, 1.0), np.nan)
    frame = {"level": level, "cell_id": district.cells["cell_id"].to_numpy(),
             "zone_id": zone_ids, "first_school": first_school, "applicants": applicants,
             "chance_first": mixed(first), "chance_zone": mixed(zone),
             "placed_outside": outside, "extra_distance_m": extra,
             "no_seat": total(v["none"])}
    for p in range(k):
        sel = odds.group_class == p
        frame[f"applicants_c{p + 1}"] = total(a, sel)
        frame[f"chance_first_c{p + 1}"] = first[:, p]
        frame[f"chance_zone_c{p + 1}"] = zone[:, p]
        frame[f"placed_outside_c{p + 1}"] = total(v["outside"], sel)
    out = pd.DataFrame(frame)
    return out[(applicants > 0) | has_list].reset_index(drop=True)


def _school_table(odds: AdmissionOdds, schools: pd.DataFrame, places: np.ndarray,
                  level: str) -> pd.DataFrame:
    """:data:`SCHOOL_COLUMNS`, one row per school of the level."""
    m = len(places)
    lens = np.diff(odds.pref_indptr)
    per = np.repeat(odds.applicants, lens).astype(np.float64)
    placed = np.bincount(odds.pref_school, weights=odds.chance * per, minlength=m)
    first_entry = odds.pref_indptr[:-1][lens > 0]
    first_rows = odds.pref_school[first_entry]
    first_app = np.bincount(first_rows, weights=odds.applicants[lens > 0].astype(np.float64),
                            minlength=m)
    placed_first = np.bincount(first_rows, weights=(odds.chance[first_entry]
                                                    * odds.applicants[lens > 0]), minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(places > 0, first_app / np.where(places > 0, places, 1), np.nan)
        chance = np.where(first_app > 0, placed_first / np.where(first_app > 0, first_app, 1),
                          np.nan)
    return pd.DataFrame({
        "level": level, "school_id": schools["school_id"].astype(str).to_numpy(),
        "name": schools["name"].astype(str).to_numpy(), "entry_places": places,
        "first_choice_applicants": first_app, "applicants_per_place": ratio,
        "chance_first": chance, "placed_from_zone": placed, "placed_first": placed_first,
        "placed_by_bureau": odds.outside_by_school,
        "places_left": places - placed - odds.outside_by_school})


def quota_table(senior: pd.DataFrame, junior_graduates: pd.Series, share: float,
                school_ids: Sequence[str] = ()) -> pd.DataFrame:
    """指标生: each senior school's quota (``share`` × entry places, rounded down) split over
    junior schools by graduates (:func:`~schoolmap.planning.admission.split_quota`; sums exact).

    Parameters
    ----------
    senior : DataFrame
        Senior schools: ``school_id`` and ``entry_places``.
    junior_graduates : Series
        Graduates (students) per junior school id this year.
    share : float
        Share of entry places set aside (0 … 1).
    school_ids : sequence of str
        Senior schools to split (empty: all).

    Returns
    -------
    DataFrame
        :data:`QUOTA_COLUMNS`, one row per senior × junior school.

    Examples
    --------
    >>> quota_table(pd.DataFrame({"school_id": ["H1"], "entry_places": [100]}),
    ...             pd.Series({"J1": 300.0, "J2": 100.0}), 0.5)[["junior_school", "places"]]
    ... # doctest: +NORMALIZE_WHITESPACE
      junior_school  places
    0            J1      38
    1            J2      12
    """
    rows = []
    keep = set(school_ids)
    grads = junior_graduates.to_numpy(dtype=np.float64)
    for sid, places in zip(senior["school_id"], senior["entry_places"], strict=True):
        if keep and sid not in keep:
            continue
        quota = int(np.floor(share * float(places) + 1e-9))
        split = split_quota(quota, grads)
        rows += [{"senior_school": str(sid), "quota": quota, "junior_school": str(j),
                  "graduates": float(g), "places": int(p)}
                 for j, g, p in zip(junior_graduates.index, grads, split, strict=True)]
    return pd.DataFrame(rows, columns=list(QUOTA_COLUMNS))
