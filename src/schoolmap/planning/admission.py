"""Admission (入学): the odds each home has under 派位 lottery, 志愿优先 or deferred acceptance,
how many the bureau must place outside the zone and how far, and 指标生 quotas.

Applicants live in cells and belong to a priority class (class 0 first: e.g. 一类 户籍 and home
in the zone, 二类 户籍 only, 三类 随迁子女 with a 居住证). Each cell lists schools best first
(by default its zone's schools by distance). Mechanisms (:data:`MECHANISMS`):

- ``lottery`` — priority then one lottery (电脑派位, single tie-break): in order of class, then of
  the lottery number, each student takes the first listed school with a seat left;
- ``boston`` — 志愿优先 (immediate acceptance): first choices are served first, by class and
  lottery; a place once given is final;
- ``da_stb`` / ``da_mtb`` — deferred acceptance with one lottery for all schools, or one per
  school. With a student's class the same at every school, ``da_stb`` equals ``lottery``.

Students still without a seat are placed by the bureau's rule: in order of class and lottery, the
nearest school with a seat left (any school of the level), reported as *placed outside the zone*
with the extra distance beyond their first choice. No school ever takes more than its seats.

Two doors: :func:`admission_odds` on arrays, and
:func:`schoolmap.planning.admission_district.simulate_admission` on a district's level and year
(applicants per cell from the forecast demand). :func:`split_quota` splits 指标生 places.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from schoolmap._kernels import admission as _k
from schoolmap.errors import Problem, ValidationError

__all__ = ["MECHANISMS", "AdmissionOdds", "admission_odds", "largest_remainder",
           "split_quota", "zone_preferences"]

#: Admission mechanisms, kernel codes in this order.
MECHANISMS = ("lottery", "boston", "da_stb", "da_mtb")

#: Draws are summed in this many fixed blocks (run in parallel; results independent of threads).
_CHUNKS = 16


@dataclass(frozen=True)
class AdmissionOdds:
    """Chances of a place, per cell × priority class × listed school, over many lottery draws.

    Attributes
    ----------
    mechanism : str
    draws, seed : int
    classes : tuple of str
        Priority class names, best first.
    group_cell, group_class : ndarray of shape (n_groups,), int64
        Cell row and class of each applicant group (cells × classes with applicants).
    applicants : ndarray of shape (n_groups,), int64
        Students in each group.
    pref_indptr : ndarray of shape (n_groups + 1,), int64
    pref_school : ndarray of shape (n_entries,), int64
        Each group's listed schools (rows of ``seats``), best first (CSR).
    chance : ndarray of shape (n_entries,), float64
        Probability that a student of the group gets a place at the listed school.
    chance_outside : ndarray of shape (n_groups,), float64
        Probability of being placed by the bureau's rule (outside the list, i.e. the zone).
    extra_distance_m : ndarray of shape (n_groups,), float64
        Mean extra distance (metres) of those placed outside, beyond the first listed school
        (beyond the nearest school when nothing is listed); NaN if it never happened.
    chance_no_seat : ndarray of shape (n_groups,), float64
        Probability of no seat at any school.
    outside_by_draw : ndarray of shape (draws, n_classes), int64
        Students placed by the bureau's rule in each draw, by class.
    outside_by_school : ndarray of shape (n_schools,), float64
        Mean students per draw the bureau's rule sends to each school.
    seats : ndarray of shape (n_schools,), int64
    n_cells : int
    notes : tuple of str
    """

    mechanism: str
    draws: int
    seed: int
    classes: tuple[str, ...]
    group_cell: np.ndarray
    group_class: np.ndarray
    applicants: np.ndarray
    pref_indptr: np.ndarray
    pref_school: np.ndarray
    chance: np.ndarray
    chance_outside: np.ndarray
    extra_distance_m: np.ndarray
    chance_no_seat: np.ndarray
    outside_by_draw: np.ndarray
    outside_by_school: np.ndarray
    seats: np.ndarray
    n_cells: int
    notes: tuple[str, ...] = field(default=())

    def chance_first(self) -> np.ndarray:
        """Chance of a place at the first listed school, per group, shape (n_groups,) (NaN when
        nothing is listed)."""
        has = self.pref_indptr[1:] > self.pref_indptr[:-1]
        out = np.full(len(self.group_cell), np.nan)
        out[has] = self.chance[self.pref_indptr[:-1][has]]
        return out

    def chance_first_by_cell(self) -> np.ndarray:
        """Chance of a place at the cell's first school, all classes together, shape (n_cells,)
        (NaN for a cell with no applicant or no listed school)."""
        first = self.chance_first()
        ok = ~np.isnan(first)
        w = np.bincount(self.group_cell[ok], weights=self.applicants[ok], minlength=self.n_cells)
        s = np.bincount(self.group_cell[ok], weights=(self.applicants * first)[ok],
                        minlength=self.n_cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(w > 0, s / np.where(w > 0, w, 1.0), np.nan)

    def by_class(self) -> pd.DataFrame:
        """One row per priority class: ``class``, ``applicants``, ``first_choice`` (expected
        students placed at their first school), ``placed_listed``, ``placed_outside``
        (expected, per draw), ``outside_p90`` (90th percentile over draws), ``extra_distance_m``
        (mean over those placed outside), ``no_seat``."""
        g_first = np.nan_to_num(self.chance_first()) * self.applicants
        listed = np.add.reduceat(self.chance, self.pref_indptr[:-1]) if len(self.chance) else 0
        listed = np.where(self.pref_indptr[1:] > self.pref_indptr[:-1], listed, 0.0)
        out = self.chance_outside * self.applicants
        rows = []
        for p, name in enumerate(self.classes):
            sel = self.group_class == p
            n_out = float(out[sel].sum())
            extra = np.nan_to_num(self.extra_distance_m[sel]) * out[sel]
            rows.append({"class": name, "applicants": int(self.applicants[sel].sum()),
                         "first_choice": float(g_first[sel].sum()),
                         "placed_listed": float((listed * self.applicants)[sel].sum()),
                         "placed_outside": n_out,
                         "outside_p90": float(np.percentile(self.outside_by_draw[:, p], 90))
                         if self.draws else 0.0,
                         "extra_distance_m": float(extra.sum() / n_out) if n_out > 0 else np.nan,
                         "no_seat": float((self.chance_no_seat * self.applicants)[sel].sum())})
        return pd.DataFrame(rows)

    def table(self, school_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per group × listed school: ``cell``, ``class``, ``applicants``, ``rank``
        (1 = first choice), ``school`` (row, or id when ``school_ids`` given), ``chance``."""
        counts = np.diff(self.pref_indptr)
        g = np.repeat(np.arange(len(self.group_cell)), counts)
        rank = np.arange(len(self.pref_school)) - np.repeat(self.pref_indptr[:-1], counts) + 1
        school = (np.asarray(school_ids, dtype=object)[self.pref_school] if school_ids is not None
                  else self.pref_school)
        return pd.DataFrame({"cell": self.group_cell[g],
                             "class": np.asarray(self.classes, dtype=object)[self.group_class[g]],
                             "applicants": self.applicants[g], "rank": rank, "school": school,
                             "chance": self.chance})


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers summing exactly to ``total``, each within one of ``total × w / Σw``.

    Hamilton's method: everyone gets the floor of their share; the seats left go one each to
    the largest remainders. Ties go to the larger weight, then to the earlier row.

    Parameters
    ----------
    weights : ndarray of shape (n,)
        Non-negative weights (graduates, expected students).
    total : int
        Whole number to split (≥ 0).

    Examples
    --------
    >>> largest_remainder(np.array([1., 1., 1.]), 2).tolist()
    [1, 1, 0]
    >>> largest_remainder(np.array([0., 0.]), 3).tolist()  # nothing to weigh: evenly
    [2, 1]
    """
    w = np.asarray(weights, dtype=np.float64)
    if total < 0 or (w < 0).any() or not np.isfinite(w).all():
        raise ValidationError(["weights must be finite and ≥ 0 and the total ≥ 0"],
                              "largest_remainder")
    if len(w) == 0:
        return np.zeros(0, dtype=np.int64)
    if w.sum() <= 0:
        w = np.ones_like(w)
    share = total * w / w.sum()
    out = np.floor(share).astype(np.int64)
    short = int(total - out.sum())
    order = np.lexsort((np.arange(len(w)), -w, -(share - out)))
    out[order[:short]] += 1
    return out


def split_quota(quota: int, graduates_by_school: np.ndarray) -> np.ndarray:
    """Split a senior school's 指标生 (定向分配) places over junior schools by graduates.

    Largest-remainder rounding (:func:`largest_remainder`): the shares sum exactly to
    ``quota`` and each is within one place of ``quota × graduates / Σ graduates``. Ties of
    remainder go to the school with more graduates, then to the school listed first.

    Parameters
    ----------
    quota : int
        Places set aside (e.g. 50 % of a popular senior school's plan).
    graduates_by_school : ndarray of shape (n_junior,)
        Graduates (students) of each junior school this year.

    Returns
    -------
    ndarray of shape (n_junior,), int64
        Places for each junior school.

    Examples
    --------
    >>> split_quota(10, np.array([300, 200, 100])).tolist()
    [5, 3, 2]

    Three equal schools and one place: the first listed gets it.

    >>> split_quota(1, np.array([80, 80, 80])).tolist()
    [1, 0, 0]
    """
    return largest_remainder(np.asarray(graduates_by_school, dtype=np.float64), int(quota))


def zone_preferences(cell_xy: np.ndarray, school_xy: np.ndarray, zone_of_cell: np.ndarray,
                     zone_indptr: np.ndarray, zone_school: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's list: its zone's schools, nearest first (CSR over cells).

    Parameters
    ----------
    cell_xy : ndarray of shape (n_cells, 2), school_xy : ndarray of shape (n_schools, 2)
        Points (metres).
    zone_of_cell : ndarray of shape (n_cells,)
        Zone row of each cell (−1: none; the cell lists nothing).
    zone_indptr, zone_school : CSR of each zone's school rows.

    Returns
    -------
    indptr : ndarray of shape (n_cells + 1,), school : ndarray
    """
    z = np.asarray(zone_of_cell, dtype=np.int64)
    counts = np.where(z >= 0, np.diff(zone_indptr)[np.maximum(z, 0)], 0)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    school = np.empty(indptr[-1], dtype=np.int64)
    for c in np.flatnonzero(counts):
        rows = zone_school[zone_indptr[z[c]]:zone_indptr[z[c] + 1]]
        d = np.hypot(*(school_xy[rows] - cell_xy[c]).T)
        school[indptr[c]:indptr[c + 1]] = rows[np.argsort(d, kind="stable")]
    return indptr, school


def _check(applicants: np.ndarray, seats: np.ndarray, cell_xy: np.ndarray,
           school_xy: np.ndarray, indptr: np.ndarray, school: np.ndarray, mechanism: str,
           draws: int, classes: Sequence[str]) -> None:
    where = "admission_odds"
    n_cells = len(cell_xy)
    problems: list[Problem | str] = []
    if mechanism not in MECHANISMS:
        problems.append(Problem(where, f"mechanism {mechanism!r} unknown; use one of "
                                f"{', '.join(MECHANISMS)}"))
    if applicants.ndim != 2 or applicants.shape[0] != n_cells:
        problems.append(Problem(where, f"applicants must have shape (n_cells={n_cells}, "
                                f"n_classes), got {applicants.shape}"))
    elif applicants.shape[1] != len(classes):
        problems.append(Problem(where, f"{applicants.shape[1]} class columns but "
                                f"{len(classes)} class names"))
    if (applicants < 0).any() or (seats < 0).any():
        problems.append(Problem(where, "applicants and seats must be whole numbers ≥ 0"))
    if len(school_xy) != len(seats):
        problems.append(Problem(where, f"{len(seats)} seats for {len(school_xy)} schools"))
    if len(indptr) != n_cells + 1 or (len(school) and (school.min() < 0
                                                       or school.max() >= len(seats))):
        problems.append(Problem(where, "preferences must be CSR over cells (indptr of length "
                                "n_cells + 1) naming school rows"))
    if not isinstance(draws, int | np.integer) or draws < 1:
        problems.append(Problem(where, f"draws must be a whole number ≥ 1, got {draws!r}"))
    ValidationError.raise_if(problems, where)


def admission_odds(
    applicants: np.ndarray,
    seats: np.ndarray,
    cell_xy: np.ndarray,
    school_xy: np.ndarray,
    *,
    preferences: tuple[np.ndarray, np.ndarray] | None = None,
    zone_of_cell: np.ndarray | None = None,
    zones: tuple[np.ndarray, np.ndarray] | None = None,
    mechanism: str = "lottery",
    draws: int = 2000,
    seed: int = 0,
    classes: Sequence[str] | None = None,
) -> AdmissionOdds:
    """Chances of a place for every cell and class over ``draws`` seeded lottery draws.

    Parameters
    ----------
    applicants : ndarray of shape (n_cells, n_classes), int
        Students applying, by cell and priority class (class 0 first).
    seats : ndarray of shape (n_schools,), int
        Seats offered this year (students).
    cell_xy, school_xy : ndarray of shape (n, 2)
        Points (metres), for the distance order and the bureau's rule.
    preferences : (indptr, school), optional
        Each cell's list as CSR over cells, best first.
    zone_of_cell, zones : optional
        Otherwise: each cell's zone row (−1 none) and the zones' school rows as CSR
        ``(indptr, school)``; lists are the zone's schools by distance. With neither, every
        cell lists only its nearest school.
    mechanism : {"lottery", "boston", "da_stb", "da_mtb"}
    draws, seed : int
        Number of draws; draw d uses a seed derived from (``seed``, d): same seed, same result.
    classes : sequence of str, optional
        Class names (default ``class_1`` …).

    Returns
    -------
    AdmissionOdds

    Examples
    --------
    Six students of one cell, all listing school 0 (2 seats) then school 1 (3 seats); school
    2 (1 seat) is farther. Every student has a 2/6 chance at school 0, 3/6 at school 1, and one
    is placed by the bureau at school 2:

    >>> import numpy as np
    >>> odds = admission_odds(np.array([[6]]), np.array([2, 3, 1]), np.zeros((1, 2)),
    ...                       np.array([[0., 0.], [100., 0.], [500., 0.]]),
    ...                       preferences=(np.array([0, 2]), np.array([0, 1])), draws=50)
    >>> odds.chance.round(3).tolist(), float(odds.chance_outside[0]), odds.extra_distance_m
    ([0.333, 0.5], 0.16666666666666666, array([500.]))

    With no seat anywhere, nobody is placed:

    >>> admission_odds(np.array([[2]]), np.array([0]), np.zeros((1, 2)), np.zeros((1, 2)),
    ...                draws=3).chance_no_seat
    array([1.])
    """
    applicants = np.asarray(applicants)
    applicants = applicants.reshape(-1, 1) if applicants.ndim == 1 else applicants
    seats = np.ascontiguousarray(np.floor(np.asarray(seats, dtype=np.float64)), dtype=np.int64)
    cell_xy = np.ascontiguousarray(cell_xy, dtype=np.float64).reshape(-1, 2)
    school_xy = np.ascontiguousarray(school_xy, dtype=np.float64).reshape(-1, 2)
    n_cells, m = len(cell_xy), len(school_xy)
    classes = tuple(classes or (f"class_{p + 1}" for p in range(applicants.shape[1])))
    if preferences is None and zones is not None and zone_of_cell is not None:
        preferences = zone_preferences(cell_xy, school_xy, zone_of_cell, *zones)
    if preferences is None:
        nearest = (cKDTree(school_xy).query(cell_xy, k=1)[1] if m else np.zeros(0, np.int64))
        preferences = (np.arange(n_cells + 1, dtype=np.int64) if m else
                       np.zeros(n_cells + 1, np.int64), np.asarray(nearest, dtype=np.int64))
    c_indptr = np.asarray(preferences[0], dtype=np.int64)
    c_school = np.asarray(preferences[1], dtype=np.int64)
    _check(applicants, seats, cell_xy, school_xy, c_indptr, c_school, mechanism, draws, classes)
    if not np.allclose(applicants, np.round(applicants)):
        raise ValidationError(["applicants must be whole students; round expected demand "
                               "first (largest_remainder keeps the total)"], "admission_odds")
    applicants = np.round(applicants).astype(np.int64)
    n_classes = len(classes)

    # groups: cells × classes with applicants; each lists its cell's schools
    cell, cls = np.nonzero(applicants > 0)
    count = applicants[cell, cls]
    lens = np.diff(c_indptr)[cell]
    indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    take = np.repeat(c_indptr[cell], lens) + np.arange(indptr[-1]) - np.repeat(indptr[:-1], lens)
    school = c_school[take]
    priority = np.repeat(cls, lens).astype(np.int64)
    dist = np.hypot(*(school_xy[school] - cell_xy[np.repeat(cell, lens)]).T) if len(school) \
        else np.zeros(0)
    # the bureau's rule: schools by distance from each cell (all, or the 64 nearest if huge)
    k = m if n_cells * m <= 20_000_000 else 64
    if m:
        fd, fs = cKDTree(school_xy).query(cell_xy, k=k)
        fd, fs = np.asarray(fd).reshape(n_cells, k), np.asarray(fs).reshape(n_cells, k)
    else:
        fd, fs = np.zeros((n_cells, 0)), np.zeros((n_cells, 0), np.int64)
    fb_indptr = (np.arange(n_cells + 1) * k).astype(np.int64)
    fb_school = np.ascontiguousarray(fs.ravel(), dtype=np.int64)
    fb_dist = np.ascontiguousarray(fd.ravel(), dtype=np.float64)
    # each school's position on each cell's list (every school listed): the bureau's rule then
    # costs per student at most the number of schools with seats left
    fb_rank = np.zeros((0, 0), dtype=np.int16)
    if k == m and 0 < m < 2**15:
        fb_rank = np.empty((n_cells, m), dtype=np.int16)
        fb_rank[np.arange(n_cells)[:, None], fs] = np.arange(m, dtype=np.int16)
    has = lens > 0
    base = np.where(has, dist[np.minimum(indptr[:-1], max(len(dist) - 1, 0))] if len(dist)
                    else 0.0, fd[cell, 0] if k else 0.0)
    group_cell, group_class = cell.astype(np.int64), cls.astype(np.int64)
    code = MECHANISMS.index(mechanism)
    n_chunks = min(_CHUNKS, draws)
    if code <= 1:
        placed_t, fb_n, fb_extra, none_n, fb_school_n, outside = _typed_run(
            code, group_cell, group_class, count, indptr, school, priority, n_classes, seats,
            fb_indptr, fb_school, fb_dist, fb_rank, base, draws, seed, n_chunks)
    else:
        placed_t, fb_n, fb_extra, none_n, fb_school_n, outside = _k.admission_monte_carlo(
            code, group_cell, group_class, count.astype(np.int64), indptr, school, priority,
            seats, fb_indptr, fb_school, fb_dist, fb_rank, base.astype(np.float64), n_classes,
            draws, seed, n_chunks)
    per = np.repeat(count, lens).astype(np.float64) * draws
    with np.errstate(invalid="ignore", divide="ignore"):
        extra = np.where(fb_n > 0, fb_extra / np.maximum(fb_n, 1), np.nan)
    notes = []
    if (~has).any():
        notes.append(f"{int(count[~has].sum()):,} applicants in cells with no listed school: "
                     "the bureau's rule places them")
    return AdmissionOdds(mechanism, int(draws), int(seed), classes, group_cell, group_class,
                         count.astype(np.int64), indptr, school,
                         placed_t / np.where(per > 0, per, 1.0), fb_n / (count * draws),
                         extra, none_n / (count * draws), outside, fb_school_n / draws, seats,
                         n_cells, tuple(notes))


def _typed_run(code: int, group_cell: np.ndarray, group_class: np.ndarray, count: np.ndarray,
               indptr: np.ndarray, school: np.ndarray, priority: np.ndarray, n_classes: int,
               seats: np.ndarray, fb_indptr: np.ndarray, fb_school: np.ndarray,
               fb_dist: np.ndarray, fb_rank: np.ndarray, base: np.ndarray, draws: int,
               seed: int, n_chunks: int) -> tuple[np.ndarray, ...]:
    """``lottery`` / ``boston`` on types (alike students), placements mapped back to groups."""
    n_groups, m = len(group_cell), len(seats)
    keys: dict[tuple[int, tuple[int, ...]], int] = {}
    type_of = np.empty(n_groups, dtype=np.int64)
    for g in range(n_groups):
        key = (int(group_class[g]), tuple(school[indptr[g]:indptr[g + 1]].tolist()))
        type_of[g] = keys.setdefault(key, len(keys))
    lists = list(keys)
    # zone components: schools linked by appearing on one list; a type's component is its
    # first school's (no school: a component of its own)
    rows, cols = [], []
    for _, lst in lists:
        rows += lst[:-1]
        cols += lst[1:]
    n_comp, comp_of_school = connected_components(
        coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(m, m)), directed=False) \
        if m else (0, np.zeros(0, np.int64))
    comp = np.array([comp_of_school[lst[0]] if lst else n_comp for _, lst in lists],
                    dtype=np.int64)
    tclass = np.array([c for c, _ in lists], dtype=np.int64)
    order = np.lexsort((tclass, comp))  # types by component, then class
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    tlists = [lists[t][1] for t in order]
    t_len = np.array([len(lst) for lst in tlists], dtype=np.int64)
    t_indptr = np.concatenate([[0], np.cumsum(t_len)]).astype(np.int64)
    t_school = np.array([s for lst in tlists for s in lst], dtype=np.int64)
    t_class = tclass[order]
    t_priority = np.repeat(t_class, t_len).astype(np.int64)
    comp_sorted = comp[order]
    comp_ptr = np.searchsorted(comp_sorted, np.arange(comp_sorted.max() + 2 if len(order)
                                                      else 1)).astype(np.int64)
    g_type = rank[type_of]
    t_count = np.bincount(g_type, weights=count, minlength=len(order)).astype(np.int64)
    by_type = np.argsort(g_type, kind="stable")
    stu_group = np.repeat(by_type, count[by_type]).astype(np.int64)
    stu_ptr = np.concatenate([[0], np.cumsum(t_count)]).astype(np.int64)
    placed_t, *rest = _k.admission_monte_carlo_typed(
        code, t_class, t_count, t_indptr, t_school, t_priority, comp_ptr, stu_ptr, stu_group,
        group_cell, group_class, n_classes, seats, fb_indptr, fb_school, fb_dist, fb_rank,
        base.astype(np.float64), draws, seed, n_chunks)
    # each student of a type has the same chances: a group's expected placements are its
    # share of the type's
    lens = np.diff(indptr)
    g_of_entry = np.repeat(np.arange(n_groups), lens)
    pos = np.arange(len(school)) - np.repeat(indptr[:-1], lens)
    t_entry = t_indptr[g_type[g_of_entry]] + pos
    placed = placed_t[t_entry] * (count[g_of_entry] / t_count[g_type[g_of_entry]])
    return (placed, *rest)
