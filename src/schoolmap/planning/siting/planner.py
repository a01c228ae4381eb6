"""The planner's siting question in one call: which new schools, how big, and by when.

:func:`site_new_schools` takes a district, a level and the students of each planning year
(the base year's cells, or the forecast's years) and proposes the fewest new schools of the
level's standard sizes (轨) so that, with the exact capacitated allocation
(:func:`schoolmap.optimal.assign`), every student gets a seat within reach — or at most
``target_unserved`` do not. Each site says the first school year it is needed.

How it works, year by year from the first planning year:

1. Allocate the year's students to the schools open that year plus the new sites already
   planned (exact, travel-minimising, no school over its seats, no trip beyond ``reach_m``).
2. While more than ``target_unserved`` students are left without a seat, open the candidate
   site with the most unserved students within ``reach_m`` (largest standard size for now) and
   allocate again. Sites opened in this year that turn out unnecessary are dropped again.
3. Each site opens in the first year it would seat ``min_students``, or a quarter of its
   busiest year's students, who otherwise have none (a pocket that only justifies a school
   later is served from the year its shortage becomes substantial).
4. At the end each site gets the smallest standard size holding the students it takes in its
   busiest year, and every year is checked again with the final sizes.

Quality is reported, not assumed: ``lower_bound`` is a proven minimum number of new schools
(the seats missing in the worst year ÷ the largest standard size, and, with HiGHS installed,
the linear-programming relaxation of the covering problem over all cells, sites and years) and
``gap`` compares the plan with it.

Candidates are the district's ``sites`` layer (rows whose ``level`` is empty, the level or a
school type serving it) or, with no such sites, cells with unserved students thinned on a grid
(the cell with most unserved students per square of ``reach_m / 3``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from schoolmap.allocation.network import Travel, network_pair_costs
from schoolmap.allocation.travel import district_graph
from schoolmap.demand import demand_by_cell_grade, level_schools
from schoolmap.errors import ValidationError
from schoolmap.i18n import LEVEL_NAMES_ZH, LEVEL_NOUNS_EN
from schoolmap.io.district import District
from schoolmap.io.roads import RoadGraph
from schoolmap.norms import LEVELS, SCHOOL_TYPES, LevelNorm, Norms, default_norms
from schoolmap.planning.siting.bound import DEFAULT_LP_TIME_LIMIT_S, lower_bound, school_xy
from schoolmap.planning.siting.bound import TOL as _TOL
from schoolmap.planning.siting.settings import DEFAULT_REACH_M
from schoolmap.planning.siting.solves import Planner, Site, Solved

__all__ = ["DEFAULT_LP_TIME_LIMIT_S", "SitingPlan", "site_new_schools"]




@dataclass(frozen=True)
class SitingPlan:
    """New schools proposed for one level, and what they change.

    Attributes
    ----------
    level : str
    sites : GeoDataFrame
        One row per new school: ``level``, ``site_id``, ``name``, ``tracks`` (轨, classes per
        grade), ``classes``, ``seats``, ``open_year`` (first school year it is needed),
        ``students_served`` (students it takes in ``busiest_year``), ``busiest_year``,
        ``mean_distance_m`` (their mean trip), ``source`` (``sites`` or ``generated``),
        ``reason`` (plain-language paragraph); points in the district CRS.
    years : DataFrame
        Per planning year, before (existing schools) and after (with the plan): ``demand``,
        ``seats_existing``, ``seats_new``, ``unserved_before``, ``unserved_after``,
        ``beyond_radius_before``, ``beyond_radius_after`` (students assigned farther than the
        service radius), ``mean_distance_before_m``, ``mean_distance_after_m``.
    lower_bound : int
        Proven fewest new schools any plan meeting the target in every year needs.
    gap : float
        (new schools − lower_bound) ÷ new schools; 0 when the count is proven minimal.
    reach_m, target_unserved : float
    n_candidates : int
    notes : tuple of str
    bound : {"lp", "seats"}
        Which lower bound ``lower_bound`` is: ``lp``, the LP relaxation over the years missing
        most seats; ``seats``, the weaker count of seats missing ÷ the largest size, used when
        the LP is too large, could not be solved or hit ``lp_time_limit_s`` (a note says which).
    """

    level: str
    sites: gpd.GeoDataFrame
    years: pd.DataFrame
    lower_bound: int
    gap: float
    reach_m: float
    target_unserved: float
    n_candidates: int
    notes: tuple[str, ...] = ()
    bound: str = "lp"

    @property
    def n_new(self) -> int:
        """Number of new schools proposed."""
        return len(self.sites)


def site_new_schools(
    district: District,
    level: str,
    year: int | None = None,
    *,
    norms: Norms | None = None,
    grade_demand_by_year: Mapping[int, np.ndarray] | None = None,
    reach_m: float | None = None,
    target_unserved: float = 0.0,
    max_new: int = 50,
    min_students: float | None = None,
    lang: str = "en",
    progress: Callable[[str], None] | None = None,
    lp_time_limit_s: float = DEFAULT_LP_TIME_LIMIT_S,
    travel: Travel | None = None,
    graph: RoadGraph | None = None,
) -> SitingPlan:
    """Propose the fewest new schools of standard sizes so every student has a seat within reach.

    Parameters
    ----------
    district : District
    level : str
        ``kindergarten``, ``primary``, ``junior`` or ``senior``.
    year : int, optional
        Last school year to plan for. Without ``grade_demand_by_year``: the single year whose
        open schools are used with the cells' current ages (default: schools open in any year).
    norms : Norms, optional
        Class sizes, standard sizes (``standard_classes``), largest school (``max_students``)
        and service radius of the level. Default: the national norms.
    grade_demand_by_year : mapping, optional
        School year → students per cell and grade, ndarray of shape (n_cells, n_grades), e.g.
        from the forecast. Planned in increasing year order, up to ``year``.
    reach_m : float, optional
        Longest trip to a seat (metres). Default :data:`DEFAULT_REACH_M` of the level.
    target_unserved : float
        Students who may remain without a seat within reach in any year (default 0).
    max_new : int
        Most new schools to propose.
    min_students : float, optional
        Fewest unserved students within reach of a site that justify a new school (default:
        half the smallest standard size). Smaller pockets stay unserved and are reported — a
        planner serves them by school bus, a teaching point (教学点) or a class in a nearby
        school rather than a new building.
    lang : {"en", "zh"}
        Language of the ``reason`` paragraphs.
    progress : callable, optional
        Called with a short message per step: the existing schools in every year, the
        candidates, each planning year (with the new schools so far), the opening years and
        sizes, the lower bound.
    lp_time_limit_s : float
        Seconds HiGHS may spend on the LP lower bound (default
        :data:`DEFAULT_LP_TIME_LIMIT_S`); when it is reached the weaker seats-missing bound is
        reported instead, ``bound`` is ``"seats"`` and a note says so. Fractional students
        (areal interpolation from census tracts) can make this LP slow.
    travel : Travel, optional
        The scenario's ``[travel]``: with mode ``walk`` or ``drive`` every allocation, trip and
        ``reach_m`` is along the roads (certified, as the road ``optimal`` method); candidate
        sites are still screened by straight line (never longer than the road), and the LP
        lower bound pairs cells and schools within ``reach_m`` in a straight line (more pairs
        than by road: still a valid bound). Default: straight lines.
    graph : RoadGraph, optional
        The road graph for ``travel`` (default: the district's, built or read from its cache).

    Returns
    -------
    SitingPlan

    Raises
    ------
    ValidationError
        For an unknown level, a level without standard sizes, bad demand arrays or reach.
    """
    norms = norms or default_norms()
    if level not in LEVELS:
        raise ValidationError([f"unknown level {level!r}; expected one of {', '.join(LEVELS)}"],
                              "site_new_schools")
    norm = norms.level(level)
    options = _size_options(norm)
    reach = float(DEFAULT_REACH_M[level] if reach_m is None else reach_m)
    if not (math.isfinite(reach) and reach > 0):
        raise ValidationError([f"reach_m must be metres > 0, got {reach_m!r}"],
                              "site_new_schools")
    if not (math.isfinite(target_unserved) and target_unserved >= 0):
        raise ValidationError([f"target_unserved must be students ≥ 0, got {target_unserved!r}"],
                              "site_new_schools")
    smallest = float(options[0, 1]) / 2 if min_students is None else float(min_students)
    say = progress or (lambda _m: None)
    demand = _demand_by_year(district, norms, level, year, grade_demand_by_year)
    years = sorted(demand)
    cell_xy = district.cell_xy
    existing = {t: level_schools(district, norms, level, 9999 if t is None else t)
                for t in years}
    road = None
    if travel is not None and travel.mode != "euclidean":
        road = (graph if graph is not None else district_graph(district, travel), travel)
    planner = Planner(cell_xy, {t: g.sum(axis=1) for t, g in demand.items()}, existing,
                      options, reach, float(target_unserved), road)
    count = iter(range(1, len(years) + 1))
    planner.prefetch(years, [], lambda t: say(
        f"{level}: existing schools{_when(t)} ({next(count)}/{len(years)})"))
    before = {t: planner.solve(t, []) for t in years}
    cand_xy, cand_info = _candidates(district, level, cell_xy, before, reach, lang, road)
    say(f"{level}: {len(cand_xy):,} candidate sites")
    planner.cand_xy = cand_xy
    planner.site_ids = cand_info["site_id"].astype(str).to_numpy()
    notes: list[str] = []
    left: set[str] = set()
    plan: list[Site] = []
    for k, t in enumerate(years, 1):
        say(f"{level}: siting{_when(t)} ({k}/{len(years)}, {len(plan)} new so far)")
        r = planner.solve(t, plan)
        added = []
        while planner.unserved(r) > planner.target + _TOL:
            if len(plan) >= max_new:
                left.add("max_new")
                break
            j, score = planner.best_candidate(r, {s.cand for s in plan})
            if j < 0 or score < smallest:
                left.add("no_site" if j < 0 else "pockets")
                break
            for k in _far_apart(planner, r, j, {s.cand for s in plan}, smallest,
                                max_new - len(plan)):
                site = Site(k, len(options) - 1, t if t is not None else 0)
                plan.append(site)
                added.append(site)
            r = planner.solve(t, plan)
        for site in reversed(added):
            trial = [s for s in plan if s is not site]
            allowed = max(planner.target, planner.unserved(r)) + _TOL
            if planner.unserved_at_least(t, trial) > allowed:
                continue  # provably needed, without an exact allocation
            if planner.unserved(planner.solve(t, trial)) <= allowed:
                plan = trial
    say(f"{level}: opening years and sizes of {len(plan)} new schools")
    _open_early(planner, plan, years, smallest)
    _right_size(planner, plan, years)
    planner.prefetch(years, plan)
    after = {t: planner.solve(t, plan) for t in years}
    short = [(planner.unserved(after[t]), t) for t in years
             if planner.unserved(after[t]) > planner.target + _TOL]
    if short:
        notes.append(_left_note(short, reach, smallest, max_new, left, lang))
    n_new = len(plan)
    say(f"{level}: lower bound")
    lower, bound = lower_bound(planner, before, after, years, cand_xy, notes,
                               float(lp_time_limit_s), n_new)
    lower = min(lower, n_new)
    gap = (n_new - lower) / n_new if n_new else 0.0
    sites = _site_table(district, level, norm, options, plan, cand_info, planner, after, years,
                        reach, lang)
    table = _year_table(norms, level, years, planner, before, after, plan, options, demand,
                        sites)
    return SitingPlan(level, sites, table, int(lower), float(gap), reach,
                      float(target_unserved), len(cand_xy), tuple(dict.fromkeys(notes)), bound)


def _when(t: Any) -> str:
    return "" if t is None else f" {t}"


def _size_options(norm: LevelNorm) -> np.ndarray:
    """Standard sizes as (classes, seats) rows, ascending, within ``max_students``."""
    if not norm.standard_classes:
        raise ValidationError([f"{norm.level}: no standard school sizes; set "
                               f"[norms.{norm.level}] standard_classes = [...] (classes)"],
                              "site_new_schools")
    classes = np.array(sorted(set(norm.standard_classes)), dtype=np.float64)
    seats = np.floor(np.array([norm.seats_for_classes(c) for c in classes]))
    keep = seats <= norm.max_students
    keep[0] = True
    return np.column_stack([classes[keep], seats[keep]])


def _demand_by_year(district: District, norms: Norms, level: str, year: int | None,
                    given: Mapping[int, np.ndarray] | None) -> dict[Any, np.ndarray]:
    n, g = district.n_cells, norms.level(level).n_grades
    if given is None:
        return {year: demand_by_cell_grade(district.cells, norms, level)}
    out: dict[Any, np.ndarray] = {}
    for t, a in given.items():
        if year is not None and t > year:
            continue
        arr = np.asarray(a, dtype=np.float64)
        if arr.shape != (n, g):
            raise ValidationError([f"grade_demand_by_year[{t}] has shape {arr.shape}; expected "
                                   f"({n}, {g}) = (cells, grades of {level})"],
                                  "site_new_schools")
        if not np.isfinite(arr).all() or (arr < 0).any():
            raise ValidationError([f"grade_demand_by_year[{t}] has NaN, inf or negative "
                                   "students"], "site_new_schools")
        out[int(t)] = arr
    if not out:
        raise ValidationError([f"no planning year up to {year} in grade_demand_by_year"],
                              "site_new_schools")
    return out


def _candidates(district: District, level: str, cell_xy: np.ndarray,
                before: Mapping[Any, Solved], reach: float, lang: str,
                road: tuple[RoadGraph, Travel] | None = None
                ) -> tuple[np.ndarray, pd.DataFrame]:
    """Candidate points (metres) and their ``site_id``, ``name``, ``source``.

    The ``sites`` layer's rows for the level, then generated points (one cell per square of
    ``reach / 3``, the one with most unserved students) where unserved students have no site
    within reach (along the roads with ``road``) — there the plan says "find land near here".
    """
    xy = np.zeros((0, 2))
    info = pd.DataFrame({c: pd.Series([], dtype=object) for c in ("site_id", "name", "source")})
    sites = district.sites
    if sites is not None and len(sites):
        lv = sites["level"] if "level" in sites.columns else pd.Series([None] * len(sites))
        chosen = sites.loc[np.array([_serves(v, level) for v in lv], dtype=bool)]
        if len(chosen):
            pts = chosen.geometry.representative_point()
            xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
            name = chosen["name"] if "name" in chosen.columns else chosen["site_id"]
            info = pd.DataFrame({"site_id": chosen["site_id"].astype(str).to_numpy(),
                                 "name": name.astype(str).to_numpy(), "source": "sites"})
    unserved = np.zeros(len(cell_xy))
    for r in before.values():
        unserved = np.maximum(unserved, r.unserved_by_cell)
    idx = np.flatnonzero(unserved > 0)
    if len(xy) and len(idx) and road is not None:  # a site within reach along the roads
        graph, travel = road
        c, _, d = network_pair_costs(graph, cell_xy[idx], xy, reach,
                                     max_connector_m=travel.max_connector_m)
        idx = np.setdiff1d(idx, idx[c[d <= reach]])
    elif len(xy) and len(idx):
        far, _ = cKDTree(xy).query(cell_xy[idx], k=1, distance_upper_bound=reach)
        idx = idx[~np.isfinite(far)]
    if len(idx) == 0:
        return xy, info
    square = reach / 3.0
    key = np.floor(cell_xy[idx] / square).astype(np.int64)
    order = np.lexsort((idx, -unserved[idx], key[:, 1], key[:, 0]))
    k = key[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (k[1:] != k[:-1]).any(axis=1)
    pick = np.sort(idx[order[first]])
    ids = district.cells["cell_id"].astype(str).to_numpy()[pick]
    gen = pd.DataFrame({"site_id": [f"cell-{c}" for c in ids],
                        "name": [f"{c}网格附近（待选址）" if lang == "zh" else
                                 f"land to find near cell {c}" for c in ids],
                        "source": "generated"})
    return np.vstack([xy, cell_xy[pick]]), pd.concat([info, gen], ignore_index=True)


def _serves(site_level: Any, level: str) -> bool:
    if site_level is None or (isinstance(site_level, float) and math.isnan(site_level)):
        return True
    text = str(site_level).strip()
    if not text:
        return True
    return text == level or level in SCHOOL_TYPES.get(text, ())


def _far_apart(planner: Planner, r: Solved, first: int, used: set[int], smallest: float,
               most: int) -> list[int]:
    """``first`` and, opened with it before the next exact allocation, the next best candidates
    whose unserved pupils lie more than twice the reach from those chosen (a new school there
    cannot take pupils the others would), each with at least ``smallest`` of them, while the
    unserved pupils fill every one at its largest size: far-apart openings need no allocation
    each. The allocation after them is exact; sites it shows unnecessary are dropped again."""
    picks = [first]
    biggest = planner.options[-1, 1]
    room = planner.unserved(r) - planner.target - biggest
    tree = cKDTree(planner.cell_xy[r.short_cells]) if len(r.short_cells) else None
    keep = np.ones(len(r.short_cells), dtype=bool)
    while tree is not None and len(picks) < most and room >= biggest:
        near = tree.query_ball_point(planner.cand_xy[picks[-1]], 2 * planner.reach)
        keep[np.asarray(near, dtype=np.int64)] = False
        rest = Solved(r.n_cells, r.short_cells[keep], r.short_students[keep], r.school,
                      r.students, r.cost)
        j, score = planner.best_candidate(rest, used | set(picks))
        if j < 0 or score < smallest:
            break
        picks.append(j)
        room -= biggest
    return picks


def _open_early(planner: Planner, plan: list[Site], years: list[Any], smallest: float) -> None:
    """Move each site's opening to the first year a real share of its pupils lack seats.

    A site built for a pocket that grows past ``min_students`` in a later year is needed as
    soon as it would seat, in an earlier year, ``min_students`` or a quarter of its busiest
    year's students (whichever is fewer) who otherwise have no seat.
    """
    if not plan or years[0] is None:
        return
    busiest = dict.fromkeys((s.cand for s in plan), 0.0)
    planner.prefetch(years, plan)
    for t in years:
        for cand, f in planner.flow_into(t, plan, planner.solve(t, plan)).items():
            busiest[cand] = max(busiest[cand], f)
    for site in sorted(plan, key=lambda s: s.open_year):
        enough = max(_TOL, min(smallest, 0.25 * busiest[site.cand]))
        for t in reversed([y for y in years if y < site.open_year]):
            without = planner.unserved(planner.solve(t, plan))
            if without < enough:
                break  # fewer unserved than ``enough`` in t: no site can seat that many more
            was = site.open_year
            site.open_year = t
            if planner.unserved_at_least(t, plan) <= without - enough and \
                    planner.unserved(planner.solve(t, plan)) <= without - enough:
                continue
            site.open_year = was
            break


def _right_size(planner: Planner, plan: list[Site], years: list[Any]) -> None:
    """Smallest standard size holding each site's busiest year; re-checked every year."""
    if not plan:
        return
    top = len(planner.options) - 1
    need = dict.fromkeys((s.cand for s in plan), 0.0)
    planner.prefetch(years, plan)
    for t in years:
        for cand, f in planner.flow_into(t, plan, planner.solve(t, plan)).items():
            need[cand] = max(need[cand], f)
    limit = {t: max(planner.unserved(planner.solve(t, plan)), planner.target) for t in years}
    seats = planner.options[:, 1]
    for s in plan:
        s.size = int(min(np.searchsorted(seats, need[s.cand] - _TOL), top))
    for _ in range(len(seats) + 1):
        planner.prefetch(years, plan)
        failing = [t for t in years if planner.unserved(planner.solve(t, plan)) > limit[t] + _TOL]
        if not failing:
            return
        grown = False
        for t in failing:
            r = planner.solve(t, plan)
            for cand, f in planner.flow_into(t, plan, r).items():
                s = next(x for x in plan if x.cand == cand)
                if f >= seats[s.size] - _TOL and s.size < top:
                    s.size += 1
                    grown = True
        if not grown:
            break
    for s in plan:
        s.size = top


def _site_table(district, level, norm, options, plan, cand_info, planner, after, years, reach,
                lang) -> gpd.GeoDataFrame:
    rows, points = [], []
    for s in sorted(plan, key=lambda s: (s.open_year, cand_info["site_id"].iloc[s.cand])):
        busiest, served, dist = None, 0.0, float("nan")
        for t in years:
            r = after[t]
            sites = planner.open_sites(t, plan)
            if s not in sites:
                continue
            col = len(planner.existing[t]) + sites.index(s)
            mask = r.school == col
            f = float(r.students[mask].sum())
            if busiest is None or f > served + 1e-9:
                busiest, served = t, f
                dist = float((r.students[mask] * r.cost[mask]).sum() / f) if f > 0 else 0.0
        classes, seats = options[s.size]
        row = {
            "level": level,
            "site_id": cand_info["site_id"].iloc[s.cand],
            "name": cand_info["name"].iloc[s.cand],
            "tracks": int(round(classes / norm.n_grades)),
            "classes": int(classes),
            "seats": int(seats),
            "open_year": None if s.open_year == 0 else int(s.open_year),
            "students_served": round(served, 1),
            "busiest_year": busiest,
            "mean_distance_m": round(dist, 1),
            "source": cand_info["source"].iloc[s.cand],
        }
        row["reason"] = _reason(row, reach, norm, lang)
        rows.append(row)
        points.append(planner.cand_xy[s.cand])
    columns = ["level", "site_id", "name", "tracks", "classes", "seats", "open_year",
               "students_served", "busiest_year", "mean_distance_m", "source", "reason"]
    frame = pd.DataFrame(rows, columns=columns)
    for c in ("open_year", "busiest_year"):
        frame[c] = pd.array(frame[c], dtype="Int64")
    xy = np.array(points).reshape(-1, 2)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
                            crs=district.crs)


def _left_note(short: list[tuple[float, Any]], reach: float, smallest: float, max_new: int,
               why: set[str], lang: str) -> str:
    """Who is still without a seat after the plan, and why (in the run's language)."""
    most, when = max(short, key=lambda c: (c[0], -(c[1] or 0)))
    zh = lang == "zh"
    reasons = {
        "pockets": (f"in pockets of fewer than {smallest:,.0f} students, too few for a new school "
                    "(consider a school bus, a teaching point or a class elsewhere)",
                    f"分散在不足{smallest:,.0f}人的小片区, 不足以新建学校 (可考虑校车、教学点或"
                    "在附近学校增设班级)"),
        "no_site": ("no candidate site within reach", "可达范围内没有候选用地"),
        "max_new": (f"the plan stopped at max_new = {max_new} new schools",
                    f"已达到新建学校数上限 max_new = {max_new}"),
    }
    text = ("；" if zh else "; ").join(reasons[k][zh] for k in sorted(why)) or (
        "未达到目标" if zh else "the target is not reached")
    if zh:
        span = "" if when is None else (f" ({when}学年)" if len(short) == 1 else
                                        f" (最多在{when}学年, 共{len(short)}个学年)")
        return f"仍有{most:,.0f}名学生在{reach:,.0f}米内没有学位{span}: {text}"
    span = "" if when is None else (f" in {when}" if len(short) == 1 else
                                    f" (most in {when}; {len(short)} years affected)")
    return f"{most:,.0f} students remain without a seat within {reach:,.0f} m{span}: {text}"


def _reason(row: dict, reach: float, norm: LevelNorm, lang: str) -> str:
    """A plain-language paragraph for one proposed site."""
    year = row["open_year"]
    busy = row["busiest_year"]
    if lang == "zh":
        when = f"须于{year}学年前建成招生" if year else "现在即需要"
        where = (f"{row['name']}（{row['site_id']}）" if row["source"] == "sites" else
                 f"{row['name']}（规划中未预留用地，需在附近选址）")
        return (f"建议在{where}新建{LEVEL_NAMES_ZH[norm.level]}，"
                f"{row['tracks']}轨{row['classes']}班、{row['seats']:,}个学位，{when}。"
                + (f"{busy}学年可容纳{row['students_served']:,.0f}名学生，" if busy else
                   f"可容纳{row['students_served']:,.0f}名学生，")
                + f"平均就学距离{row['mean_distance_m']:,.0f}米；否则这些学生在"
                f"{reach:,.0f}米内没有学位或需远距离就学。")
    when = f"needed from school year {year}/{(year + 1) % 100:02d}" if year else "needed now"
    where = (f"{row['name']} (site {row['site_id']})" if row["source"] == "sites" else
             f"{row['name'].replace('land to find ', '')} (no site reserved: find land there)")
    return (f"Build a new {LEVEL_NOUNS_EN[norm.level]} at {where}: "
            f"{row['tracks']} 轨, {row['classes']} classes, {row['seats']:,} seats, {when}. "
            + (f"In {busy} it takes {row['students_served']:,.0f} students" if busy else
               f"It takes {row['students_served']:,.0f} students")
            + f" (mean trip {row['mean_distance_m']:,.0f} m) who would otherwise have no seat "
            f"within {reach:,.0f} m or a longer trip.")


def _year_table(norms, level, years, planner, before, after, plan, options, grade_demand,
                sites) -> pd.DataFrame:
    rows = []
    norm = norms.level(level)
    radius = norm.service_radius_m
    by_id = {sid: k for k, sid in enumerate(sites["site_id"])}
    for t in years:
        b, a = before[t], after[t]
        new = sites.iloc[[by_id[str(planner.site_ids[s.cand])]
                          for s in planner.open_sites(t, plan)]]
        short_b, share_b = _nearest_figures(planner.cell_xy, grade_demand[t], planner.existing[t],
                                            norm, norms)
        short_a, share_a = _nearest_figures(planner.cell_xy, grade_demand[t],
                                            _with_new(planner.existing[t], new), norm, norms)
        rows.append({
            "level": level,
            "year": t,
            "demand": float(planner.demand[t].sum()),
            "seats_existing": float(planner.existing[t]["seats"].sum()),
            "seats_new": float(sum(options[s.size, 1] for s in planner.open_sites(t, plan))),
            "new_schools_open": len(planner.open_sites(t, plan)),
            "unserved_before": planner.unserved(b),
            "unserved_after": planner.unserved(a),
            "beyond_radius_before": float(b.students[b.cost > radius].sum()),
            "beyond_radius_after": float(a.students[a.cost > radius].sum()),
            "mean_distance_before_m": _mean(b),
            "mean_distance_after_m": _mean(a),
            "short_nearest_before": short_b,
            "short_nearest_after": short_a,
            "share_56_plus_before": share_b,
            "share_56_plus_after": share_a,
        })
    out = pd.DataFrame(rows)
    out["year"] = pd.array(out["year"], dtype="Int64")
    return out


def _with_new(existing: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The year's schools plus the open new sites, in the level-table layout."""
    if len(new) == 0:
        return existing
    rows = gpd.GeoDataFrame({
        "school_id": new["site_id"].to_numpy(), "name": new["name"].to_numpy(),
        "level": new["level"].to_numpy(), "school_type": new["level"].to_numpy(),
        "sector": "public", "seats": new["seats"].to_numpy(dtype=np.float64),
        "classes": new["classes"].to_numpy(dtype=np.int64)},
        geometry=new.geometry.values, crs=existing.crs)
    cols = [c for c in existing.columns if c in rows.columns]
    return gpd.GeoDataFrame(pd.concat([existing[cols], rows[cols]], ignore_index=True),
                            geometry="geometry", crs=existing.crs)


def _nearest_figures(cell_xy, grade_demand, schools, norm, norms) -> tuple[float, float]:
    """Seats short at schools and share of classes of 56+ if every student went to the
    nearest school (the "redraw catchments around the new schools" view)."""
    from schoolmap.allocation import allocate_nearest
    from schoolmap.planning.capacity import BAND_COLUMNS, school_table

    if len(schools) == 0:
        return float(grade_demand.sum()), float("nan")
    alloc = allocate_nearest(cell_xy, grade_demand.sum(axis=1), school_xy(schools),
                             level=norm.level)
    table = school_table(alloc, schools, grade_demand, norm, norms.bands)
    classes = table[list(BAND_COLUMNS)].to_numpy().sum()
    big = table[list(BAND_COLUMNS[2:])].to_numpy().sum()
    return float(table["shortfall"].sum()), float(big / classes) if classes else float("nan")


def _mean(r: Solved) -> float:
    total = float(r.students.sum())
    return float((r.students * r.cost).sum() / total) if total > 0 else float("nan")
