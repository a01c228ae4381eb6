"""A costed capital plan (一校一策): which schools to expand, which new sites to build, by when.

:func:`plan_capital` takes one level's students by cell and year (the forecast), the schools
open in each year and the new sites :func:`~schoolmap.planning.siting.site_new_schools`
proposes, and chooses, on an aggregated problem, among

- **expanding an existing public school** in whole 轨 (one class per grade; or single classes
  with ``expand_unit = "class"``), up to its land (``land_m2`` in the schools layer ÷ land per
  student) or, without land data, up to the largest standard size and ``max_students``;
- **building a proposed site** at the size the siting plan gives it;
- **doing nothing**: students without a seat within ``reach_m``, each costing
  ``unseated_cost_yuan`` a year,

minimising construction cost + ``travel_weight`` × student-kilometres of every year +
the cost of the unseated, within an optional budget per year and a construction lead time: a
project opening in year *o* is built over the ``lead_years`` before it (a school needed in 2028
with a three-year lead starts in 2025), its cost spread evenly over those years, and no project
starts before ``first_start_year``.

The aggregated problem: cells are summed into squares of ``cell_size_m`` (students at their
weighted centre), each square may send students to its ``n_nearest`` schools and sites within
``reach_m`` (straight-line metres), every year is a transport problem over the seats then
open. HiGHS solves it as a mixed-integer programme (:func:`schoolmap.highs.milp`) within
``time_limit_s``; ``lower_bound_yuan`` is the solver's proven dual bound, so ``gap`` says how
far from the best possible plan of the aggregated problem the plan can be.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from schoolmap.allocation import school_points, transport
from schoolmap.demand import level_schools
from schoolmap.errors import Problem, ValidationError
from schoolmap.highs import milp
from schoolmap.io.district import District
from schoolmap.norms import LEVELS, LOCALITIES, Norms, default_norms

__all__ = ["CapitalPlan", "CapitalSettings", "CapitalSolution", "plan_capital",
           "solve_capital"]


@dataclass(frozen=True)
class CapitalSettings:
    """The ``[plan]`` table of a scenario.

    Attributes
    ----------
    enabled : bool
        Cost a capital plan in ``schoolmap run`` (needs a forecast).
    levels : tuple of str or None
        Levels to plan (None: the scenario's levels with standard sizes).
    travel_weight : float
        Yuan per student-kilometre (straight line) per year, weighed against construction.
    unseated_cost_yuan : float
        Yuan per student per year left without a seat within reach.
    budget_yuan : float or dict or None
        Construction spending allowed per year (yuan): one figure for every year, or a table
        year → yuan (years not listed: no limit). None: no limit.
    lead_years_new, lead_years_expand : int
        Years of construction before a new school / an extension opens.
    first_start_year : int or None
        First year construction may start (None: the first planning year).
    expand_unit : {"track", "class"}
        Extensions in whole 轨 (one class per grade) or single classes.
    cell_size_m : float
        Side of the squares the cells are summed into (metres).
    n_nearest : int
        Schools and sites within reach each square may send students to.
    time_limit_s : float
        HiGHS time limit per level (seconds).
    """

    enabled: bool = True
    levels: tuple[str, ...] | None = None
    travel_weight: float = 200.0
    unseated_cost_yuan: float = 20_000.0
    budget_yuan: float | dict[int, float] | None = None
    lead_years_new: int = 3
    lead_years_expand: int = 2
    first_start_year: int | None = None
    expand_unit: str = "track"
    cell_size_m: float = 1000.0
    n_nearest: int = 8
    time_limit_s: float = 20.0

    def budget_for(self, year: int) -> float:
        """Spending allowed in ``year`` (yuan; inf without a limit)."""
        b = self.budget_yuan
        if b is None:
            return math.inf
        if isinstance(b, Mapping):
            return float(b.get(year, math.inf))
        return float(b)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = "[plan]") -> CapitalSettings:
        """Validate a scenario's ``[plan]`` table, naming every problem."""
        problems: list[str] = []
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kw: dict[str, Any] = {}
        for key, value in table.items():
            if key not in fields:
                problems.append(f"{where}: unknown key {key!r}; expected one of "
                                f"{', '.join(sorted(fields))}")
            elif key == "enabled":
                if not isinstance(value, bool):
                    problems.append(f"{where}: enabled must be true or false")
                kw[key] = bool(value)
            elif key == "levels":
                if not isinstance(value, list) or any(lv not in LEVELS for lv in value):
                    problems.append(f"{where}: levels must be a list of {', '.join(LEVELS)}; "
                                    f"got {value!r}")
                else:
                    kw[key] = tuple(value)
            elif key == "expand_unit":
                if value not in ("track", "class"):
                    problems.append(f"{where}: expand_unit must be \"track\" or \"class\", got "
                                    f"{value!r}")
                else:
                    kw[key] = value
            elif key == "budget_yuan":
                items = value.items() if isinstance(value, dict) else [("", value)]
                bad = [k for k, v in items if not _number(v) or v < 0
                       or (k != "" and not str(k).isdigit())]
                if bad:
                    problems.append(f"{where}: budget_yuan must be yuan ≥ 0 or a table "
                                    f"year = yuan, got {value!r}")
                else:
                    kw[key] = ({int(k): float(v) for k, v in value.items()}
                               if isinstance(value, dict) else float(value))
            elif key in ("lead_years_new", "lead_years_expand", "first_start_year", "n_nearest"):
                low = 0 if key.startswith("lead") else 1
                if not isinstance(value, int) or isinstance(value, bool) or value < low:
                    problems.append(f"{where}: {key} must be a whole number ≥ {low}, got "
                                    f"{value!r}")
                else:
                    kw[key] = value
            elif not _number(value) or value < 0 or (key in ("cell_size_m", "time_limit_s")
                                                     and value == 0):
                problems.append(f"{where}: {key} must be a number "
                                f"{'> 0' if key in ('cell_size_m', 'time_limit_s') else '≥ 0'}, "
                                f"got {value!r}")
            else:
                kw[key] = float(value)
        if problems:
            raise ValidationError(problems, where)
        return cls(**kw)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class CapitalSolution:
    """The solved aggregated problem (the array door's answer).

    Attributes
    ----------
    units : ndarray of shape (n_facilities, n_years)
        Units (轨, classes or whole schools) opening at each facility in each year.
    flows : ndarray of shape (n_pairs, n_years)
        Students of each (square, facility) pair per year.
    unseated : ndarray of shape (n_nodes, n_years)
        Students without a seat within reach.
    spend_yuan : ndarray of shape (n_years,)
        Construction spending in each year.
    construction_yuan, travel_yuan, unseated_yuan : float
        The three parts of the cost.
    lower_bound_yuan : float
        Proven lower bound on the cost of any plan (HiGHS dual bound).
    optimal : bool
        True when HiGHS proved the plan optimal (within 1e-9 relative).
    """

    units: np.ndarray
    flows: np.ndarray
    unseated: np.ndarray
    spend_yuan: np.ndarray
    construction_yuan: float
    travel_yuan: float
    unseated_yuan: float
    lower_bound_yuan: float
    optimal: bool

    @property
    def cost_yuan(self) -> float:
        """Construction + weighted travel + unseated (yuan)."""
        return self.construction_yuan + self.travel_yuan + self.unseated_yuan

    @property
    def gap(self) -> float:
        """(cost − lower bound) ÷ cost; 0 when proven optimal."""
        c = self.cost_yuan
        return max(c - self.lower_bound_yuan, 0.0) / c if c > 0 else 0.0


def solve_capital(
    years: np.ndarray,
    demand: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    seats: np.ndarray,
    unit_seats: np.ndarray,
    max_units: np.ndarray,
    unit_cost_yuan: np.ndarray,
    lead_years: np.ndarray,
    *,
    travel_weight: float = 200.0,
    unseated_cost_yuan: float = 20_000.0,
    budget_yuan: np.ndarray | None = None,
    first_start_year: int | None = None,
    time_limit_s: float = 20.0,
) -> CapitalSolution:
    """Solve the capital problem given as arrays (the array door of :func:`plan_capital`).

    Parameters
    ----------
    years : ndarray of shape (n_years,)
        Consecutive school years.
    demand : ndarray of shape (n_nodes, n_years)
        Students of each demand point.
    pairs : (node, facility, distance_m) ndarrays of shape (n_pairs,)
        Which facility each node may use, and the trip (metres).
    seats : ndarray of shape (n_facilities, n_years)
        Seats open without any project (0 for a new site).
    unit_seats, max_units, unit_cost_yuan, lead_years : ndarray of shape (n_facilities,)
        Seats of one unit (a 轨, a class, or a whole new school), most units, cost of a unit
        (yuan) and construction years before a unit opens.
    budget_yuan : ndarray of shape (n_years,), optional
        Spending allowed per year (inf: no limit).
    first_start_year : int, optional
        First year construction may start (default ``years[0]``).

    Returns
    -------
    CapitalSolution

    Examples
    --------
    One school of 100 seats, 150 students next to it, one extension of 50 seats at 1 million
    yuan, and students left without a seat cost 20,000 yuan a year each over two years:

    >>> s = solve_capital(np.array([2026, 2027]), np.array([[150.0, 150.0]]),
    ...                   (np.array([0]), np.array([0]), np.array([0.0])),
    ...                   np.array([[100.0, 100.0]]), np.array([50.0]), np.array([1]),
    ...                   np.array([1e6]), np.array([0]))
    >>> s.units.tolist(), s.cost_yuan, s.lower_bound_yuan <= s.cost_yuan
    ([[1.0, 0.0]], 1000000.0, True)
    """
    years = np.asarray(years, dtype=np.int64)
    demand = np.asarray(demand, dtype=np.float64)
    node, fac, dist = (np.asarray(a) for a in pairs)
    node, fac, dist = node.astype(np.int64), fac.astype(np.int64), dist.astype(np.float64)
    seats = np.asarray(seats, dtype=np.float64)
    unit_seats = np.asarray(unit_seats, dtype=np.float64)
    max_units = np.asarray(max_units, dtype=np.int64)
    unit_cost = np.asarray(unit_cost_yuan, dtype=np.float64)
    lead = np.asarray(lead_years, dtype=np.int64)
    n_nodes, n_years = demand.shape
    n_fac, n_pairs = len(unit_seats), len(node)
    _check_arrays(years, demand, node, fac, dist, seats, unit_seats, max_units, unit_cost, lead)
    start = int(years[0] if first_start_year is None else first_start_year)
    # build variables: units of facility f opening in year t (only if it can start in time)
    can = (years[None, :] - lead[:, None] >= start) & (max_units[:, None] > 0)
    bf, bt = np.nonzero(can)
    n_b, n_x = len(bf), n_pairs * n_years
    n_var = n_b + n_x + n_nodes * n_years
    xi = n_b + np.arange(n_x).reshape(n_pairs, n_years)
    ui = n_b + n_x + np.arange(n_nodes * n_years).reshape(n_nodes, n_years)
    c = np.concatenate([unit_cost[bf], np.repeat(travel_weight * dist / 1000.0, n_years),
                        np.full(n_nodes * n_years, float(unseated_cost_yuan))])
    rows, cols, vals, lo, hi = [], [], [], [], []

    def row(c_idx, v, low, high):
        rows.append(np.full(len(c_idx), len(lo)))
        cols.append(np.asarray(c_idx))
        vals.append(np.asarray(v, dtype=np.float64))
        lo.append(low)
        hi.append(high)

    for n in range(n_nodes):  # every student seated or counted unseated
        mine = np.flatnonzero(node == n)
        for t in range(n_years):
            row(np.append(xi[mine, t], ui[n, t]), np.ones(len(mine) + 1),
                demand[n, t], demand[n, t])
    for f in range(n_fac):  # seats: existing + units opened by then
        mine = np.flatnonzero(fac == f)
        built = np.flatnonzero(bf == f)
        for t in range(n_years):
            done = built[bt[built] <= t]
            row(np.concatenate([xi[mine, t], done]),
                np.concatenate([np.ones(len(mine)), -np.full(len(done), unit_seats[f])]),
                -np.inf, seats[f, t])
        if len(built):
            row(built, np.ones(len(built)), 0.0, float(max_units[f]))
    spend = _spend_matrix(years, bf, bt, unit_cost, lead)  # (n_years, n_b)
    if budget_yuan is not None:
        budget = np.asarray(budget_yuan, dtype=np.float64)
        for y in np.flatnonzero(np.isfinite(budget)):
            nz = np.flatnonzero(spend[y])
            row(nz, spend[y, nz], -np.inf, float(budget[y]))
    a = sp.csr_matrix((np.concatenate(vals) if vals else [],
                       (np.concatenate(rows) if rows else [],
                        np.concatenate(cols) if cols else [])), shape=(len(lo), n_var))
    integrality = np.zeros(n_var)
    integrality[:n_b] = 1
    upper = np.full(n_var, np.inf)
    upper[:n_b] = max_units[bf]
    x, _, bound, optimal = milp(c, a, np.array(lo), np.array(hi), np.zeros(n_var), upper,
                                integrality, time_limit=float(time_limit_s), relax=n_b == 0)
    units = np.zeros((n_fac, n_years))
    units[bf, bt] = np.round(x[:n_b]) + 0.0  # no -0.0
    flows = x[xi] if n_pairs else np.zeros((0, n_years))
    unseated = x[ui]
    construction = float(unit_cost[bf] @ units[bf, bt])
    travel = float(travel_weight * (dist / 1000.0) @ flows.sum(axis=1)) if n_pairs else 0.0
    unseated_yuan = float(unseated_cost_yuan * unseated.sum())
    bound = bound if np.isfinite(bound) else -np.inf
    return CapitalSolution(units, flows, unseated, spend @ units[bf, bt], construction, travel,
                           unseated_yuan, min(bound, construction + travel + unseated_yuan),
                           bool(optimal))


def _spend_matrix(years, bf, bt, unit_cost, lead) -> np.ndarray:
    """Spending in each planning year of one unit of each build variable (cost ÷ lead years)."""
    out = np.zeros((len(years), len(bf)))
    for k, (f, t) in enumerate(zip(bf, bt, strict=True)):
        n = int(lead[f])
        if n == 0:
            out[t, k] = unit_cost[f]
            continue
        for y in range(int(years[t]) - n, int(years[t])):
            i = y - int(years[0])
            if 0 <= i < len(years):
                out[i, k] = unit_cost[f] / n
    return out


def _check_arrays(years, demand, node, fac, dist, seats, unit_seats, max_units, unit_cost, lead):
    n_nodes, n_years = demand.shape
    n_fac = len(unit_seats)
    problems = []
    if len(years) != n_years or (n_years > 1 and (np.diff(years) != 1).any()):
        problems.append(f"years must be {n_years} consecutive years, got {years.tolist()}")
    if seats.shape != (n_fac, n_years):
        problems.append(f"seats has shape {seats.shape}; expected ({n_fac}, {n_years})")
    for name, arr in (("max_units", max_units), ("unit_cost_yuan", unit_cost),
                      ("lead_years", lead)):
        if arr.shape != (n_fac,):
            problems.append(f"{name} has shape {arr.shape}; expected ({n_fac},)")
    if not (len(node) == len(fac) == len(dist)):
        problems.append("pairs: node, facility and distance must have the same length")
    elif len(node) and (node.min() < 0 or node.max() >= n_nodes or fac.min() < 0
                        or fac.max() >= n_fac):
        problems.append("pairs name nodes or facilities out of range")
    for name, arr in (("demand", demand), ("seats", seats), ("distance", dist),
                      ("unit_cost_yuan", unit_cost)):
        if not np.isfinite(arr).all() or (arr < 0).any():
            problems.append(f"{name} must be finite and ≥ 0")
    ValidationError.raise_if(problems, "solve_capital")


@dataclass(frozen=True)
class CapitalPlan:
    """A level's costed capital plan.

    Attributes
    ----------
    level : str
    projects : DataFrame
        One row per project (一校一策): ``level``, ``project`` (P1, P2, …), ``school_id``
        (existing school or site id), ``name``, ``action`` (``expand`` or ``new_school``),
        ``classes``, ``seats``, ``cost_yuan``, ``start_year``, ``open_year``,
        ``teachers_needed`` (staff posts for the seats), ``x``, ``y`` (district CRS).
    years : DataFrame
        Per planning year: ``demand``, ``seats_existing``, ``seats_added`` (opened by then),
        ``unseated`` (students without a seat within reach, with the plan),
        ``unseated_without_plan``, ``spend_yuan`` (construction spending that year),
        ``budget_yuan`` (NaN: no limit), ``travel_km`` (student-km with the plan).
    cost_yuan, construction_yuan, travel_yuan, unseated_yuan, lower_bound_yuan, gap : float
    optimal : bool
    settings : CapitalSettings
    notes : tuple of str
    """

    level: str
    projects: pd.DataFrame
    years: pd.DataFrame
    cost_yuan: float
    construction_yuan: float
    travel_yuan: float
    unseated_yuan: float
    lower_bound_yuan: float
    gap: float
    optimal: bool
    settings: CapitalSettings = field(default_factory=CapitalSettings)
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """Plain-data figures for ``summary.json``."""
        return {"projects": len(self.projects), "seats_added": float(self.projects["seats"].sum()),
                "cost_yuan": self.cost_yuan, "construction_yuan": self.construction_yuan,
                "travel_yuan": self.travel_yuan, "unseated_yuan": self.unseated_yuan,
                "lower_bound_yuan": self.lower_bound_yuan, "gap": self.gap,
                "optimal": self.optimal,
                "teachers_needed": float(self.projects["teachers_needed"].sum()),
                "unseated_last_year": float(self.years["unseated"].iloc[-1])
                if len(self.years) else 0.0}


def plan_capital(
    district: District,
    level: str,
    demand_by_year: Mapping[int, np.ndarray],
    *,
    norms: Norms | None = None,
    sites: pd.DataFrame | None = None,
    reach_m: float = 3000.0,
    settings: CapitalSettings | None = None,
) -> CapitalPlan:
    """Cost the cheapest plan of extensions and new schools for one level, year by year.

    Parameters
    ----------
    district : District
    level : str
    demand_by_year : mapping
        School year → students per cell, ndarray of shape (n_cells,) or (n_cells, n_grades);
        consecutive years.
    norms : Norms, optional
        Class sizes, standard sizes, ``max_students`` and the resource norms (areas, cost per
        m², staff ratios). Default: the national norms.
    sites : DataFrame, optional
        New schools that may be built: ``site_id``, ``classes``, ``seats`` and a point geometry
        in the district CRS — e.g. ``site_new_schools(...).sites``.
    reach_m : float
        Longest trip to a seat (metres).
    settings : CapitalSettings, optional

    Returns
    -------
    CapitalPlan

    Examples
    --------
    >>> from schoolmap.testing import tiny_town
    >>> town = tiny_town()
    >>> demand = {2026: np.full(town.n_cells, 100.0), 2027: np.full(town.n_cells, 120.0)}
    >>> plan = plan_capital(town, "primary", demand,
    ...                     settings=CapitalSettings(lead_years_expand=0))
    >>> plan.lower_bound_yuan <= plan.cost_yuan
    True
    """
    norms = norms or default_norms()
    settings = settings or CapitalSettings()
    if level not in LEVELS:
        raise ValidationError([f"unknown level {level!r}; expected one of {', '.join(LEVELS)}"],
                              "plan_capital")
    norm, resource = norms.level(level), norms.resource(level)
    years = np.array(sorted(int(t) for t in demand_by_year), dtype=np.int64)
    if len(years) == 0:
        raise ValidationError(["demand_by_year is empty"], "plan_capital")
    cell_demand = np.column_stack([_cells(demand_by_year[int(t)], district.n_cells, t)
                                   for t in years])
    node_xy, node_demand = _aggregate(district.cell_xy, cell_demand, settings.cell_size_m)
    fac = _facilities(district, norms, level, years, sites, settings)
    pairs = _pairs(node_xy, fac[["x", "y"]].to_numpy(), reach_m, settings.n_nearest)
    budget = np.array([settings.budget_for(int(t)) for t in years])
    sol = solve_capital(
        years, node_demand, pairs, np.vstack(fac["seats_by_year"].to_numpy()),
        fac["unit_seats"].to_numpy(), fac["max_units"].to_numpy(),
        fac["unit_cost_yuan"].to_numpy(), fac["lead_years"].to_numpy(),
        travel_weight=settings.travel_weight, unseated_cost_yuan=settings.unseated_cost_yuan,
        budget_yuan=budget if np.isfinite(budget).any() else None,
        first_start_year=settings.first_start_year, time_limit_s=settings.time_limit_s)
    projects = _projects(level, fac, sol, years, norm, resource)
    seats = np.vstack(fac["seats_by_year"].to_numpy())
    added = np.cumsum(sol.units * fac["unit_seats"].to_numpy()[:, None], axis=1)
    without = _unseated_without(node_demand, pairs, seats)
    table = pd.DataFrame({
        "year": years, "demand": node_demand.sum(axis=0), "seats_existing": seats.sum(axis=0),
        "seats_added": added.sum(axis=0), "unseated": sol.unseated.sum(axis=0),
        "unseated_without_plan": without, "spend_yuan": sol.spend_yuan,
        "budget_yuan": np.where(np.isfinite(budget), budget, np.nan),
        "travel_km": (pairs[2] / 1000.0) @ sol.flows if len(pairs[0]) else 0.0})
    notes = []
    if not sol.optimal:
        notes.append(f"{level}: the capital plan is the best HiGHS found in "
                     f"{settings.time_limit_s:g} s; it is within {sol.gap:.1%} of the best "
                     f"possible (proven lower bound {sol.lower_bound_yuan:,.0f} yuan)")
    late = table.loc[table["unseated"] > 0.5]
    if len(late):
        first_open = int(years[0]) + min(settings.lead_years_new, settings.lead_years_expand)
        worst = int(late.loc[late["unseated"].idxmax(), "year"])
        notes.append(f"{level}: {late['unseated'].max():,.0f} students stay without a seat "
                     f"within {reach_m:,.0f} m in {worst}"
                     f" (no project can open before {first_open}, or seats there cost more "
                     f"than {settings.unseated_cost_yuan:,.0f} yuan a year per student)")
    return CapitalPlan(level, projects, table, sol.cost_yuan, sol.construction_yuan,
                       sol.travel_yuan, sol.unseated_yuan, sol.lower_bound_yuan, sol.gap,
                       sol.optimal, settings, tuple(notes))


def _cells(a: np.ndarray, n_cells: int, year: Any) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr.sum(axis=1)
    if arr.shape != (n_cells,):
        raise ValidationError([f"demand_by_year[{year}] has shape {np.shape(a)}; expected "
                               f"({n_cells},) or ({n_cells}, grades)"], "plan_capital")
    return arr


def _aggregate(xy: np.ndarray, demand: np.ndarray, size_m: float):
    """Cells summed into squares: (centre xy (k, 2), demand (k, n_years)), empty squares out."""
    keep = demand.sum(axis=1) > 0
    xy, demand = xy[keep], demand[keep]
    if len(xy) == 0:
        return np.zeros((0, 2)), np.zeros((0, demand.shape[1]))
    key = np.floor(xy / size_m).astype(np.int64)
    _, square = np.unique(key, axis=0, return_inverse=True)
    square = square.ravel()
    k = square.max() + 1
    w = demand.sum(axis=1)
    total = np.bincount(square, weights=w, minlength=k)
    cx = np.bincount(square, weights=w * xy[:, 0], minlength=k) / total
    cy = np.bincount(square, weights=w * xy[:, 1], minlength=k) / total
    out = np.column_stack([np.bincount(square, weights=demand[:, t], minlength=k)
                           for t in range(demand.shape[1])])
    return np.column_stack([cx, cy]), out


def _facilities(district: District, norms: Norms, level: str, years: np.ndarray,
                sites: pd.DataFrame | None, settings: CapitalSettings) -> pd.DataFrame:
    """Existing schools (extensions) and proposed sites (whole schools) as one table."""
    norm, resource = norms.level(level), norms.resource(level)
    per_year = [level_schools(district, norms, level, int(t)).set_index("school_id")
                for t in years]
    ids = list(dict.fromkeys(i for f in per_year for i in f.index))
    layer = district.schools.drop_duplicates("school_id").set_index("school_id")
    rows = []
    unit_classes = norm.n_grades if settings.expand_unit == "track" else 1
    unit_seats = norm.seats_for_classes(unit_classes)
    largest = max(norm.standard_classes or (0,))
    for sid in ids:
        seen = next(f for f in per_year if sid in f.index)
        seats = np.array([float(f.loc[sid, "seats"]) if sid in f.index else 0.0
                          for f in per_year])
        classes = int(seen.loc[sid, "classes"])
        open_all = all(sid in f.index for f in per_year)
        cap = max(largest, classes)
        cap = min(cap, int(norm.max_students // norm.mean_class_size))
        land = pd.to_numeric(layer.loc[sid].get("land_m2", np.nan), errors="coerce")
        if np.isfinite(land):
            cap = max((c for c in range(classes, cap + 1)
                       if norm.seats_for_classes(c)
                       * resource.land_m2_per_student[resource.area_index(c)] <= land),
                      default=classes)
        public = str(seen.loc[sid, "sector"]) != "private"
        max_units = (cap - classes) // unit_classes if public and open_all else 0
        size = resource.area_index(classes + unit_classes)
        cost = unit_seats * resource.building_m2_per_student[size] * resource.cost_per_m2_yuan
        pt = school_points(seen.loc[[sid]].reset_index())[0]
        rows.append({"school_id": sid, "name": str(seen.loc[sid, "name"]), "action": "expand",
                     "x": pt[0], "y": pt[1], "seats_by_year": seats, "classes_now": classes,
                     "unit_classes": unit_classes, "unit_seats": unit_seats,
                     "max_units": max(int(max_units), 0), "unit_cost_yuan": cost,
                     "lead_years": settings.lead_years_expand,
                     "locality": str(layer.loc[sid].get("locality", "urban"))})
    if sites is not None and len(sites):
        for s in sites.itertuples(index=False):
            classes, seats = int(s.classes), float(s.seats)
            size = resource.area_index(classes)
            pt = s.geometry.representative_point()
            rows.append({"school_id": str(s.site_id), "name": str(getattr(s, "name", "")),
                         "action": "new_school", "x": pt.x, "y": pt.y,
                         "seats_by_year": np.zeros(len(years)), "classes_now": 0,
                         "unit_classes": classes, "unit_seats": seats, "max_units": 1,
                         "unit_cost_yuan": seats * resource.building_m2_per_student[size]
                         * resource.cost_per_m2_yuan, "lead_years": settings.lead_years_new,
                         "locality": "urban"})
    if not rows:
        raise ValidationError([f"{level}: no schools and no sites to plan with"], "plan_capital")
    out = pd.DataFrame(rows)
    bad = sorted(set(out["locality"]) - set(LOCALITIES) - {"nan"})
    ValidationError.raise_if([Problem("schools", f"locality must be one of "
                                      f"{', '.join(LOCALITIES)}; got {', '.join(bad)}")]
                             if bad else [], "plan_capital")
    out.loc[out["locality"] == "nan", "locality"] = "urban"
    return out


def _pairs(node_xy: np.ndarray, fac_xy: np.ndarray, reach_m: float, k: int):
    """(node, facility, metres) of each node's ``k`` nearest facilities within reach."""
    if len(node_xy) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    k = min(k, len(fac_xy))
    d, j = cKDTree(fac_xy).query(node_xy, k=k, distance_upper_bound=reach_m)
    d, j = d.reshape(len(node_xy), k), j.reshape(len(node_xy), k)
    ok = np.isfinite(d)
    node = np.repeat(np.arange(len(node_xy)), k).reshape(len(node_xy), k)
    return node[ok], j[ok], d[ok]


def _unseated_without(demand: np.ndarray, pairs, seats: np.ndarray) -> np.ndarray:
    """Students without a seat within reach each year with the existing schools only: a
    maximum flow, solved exactly (and certified) by the transport engine — every allowed pair
    costs 1 and an unserved student 2, so the optimum seats as many as the seats within reach
    allow. Bounded like every exact solve (never a hang, no time-limited LP to fall back from)."""
    node, fac, _ = pairs
    out = []
    for t in range(demand.shape[1]):
        if len(node) == 0:
            out.append(float(demand[:, t].sum()))
            continue
        cost = sp.csr_matrix((np.ones(len(node)), (node, fac)),
                             shape=(demand.shape[0], seats.shape[0]))
        r = transport(demand[:, t], seats[:, t], cost, unserved_cost=2.0)
        out.append(float(r.unserved_by_cell.sum()))
    return np.array(out)


def _projects(level, fac, sol, years, norm, resource) -> pd.DataFrame:
    rows = []
    for f, t in zip(*np.nonzero(sol.units > 0.5), strict=True):
        r = fac.iloc[f]
        n = int(sol.units[f, t])
        seats = n * float(r.unit_seats)
        ratio = resource.students_per_post[LOCALITIES.index(r.locality)]
        rows.append({"level": level, "school_id": r.school_id, "name": r["name"],
                     "action": r.action, "classes": n * int(r.unit_classes), "seats": seats,
                     "cost_yuan": n * float(r.unit_cost_yuan),
                     "start_year": int(years[t]) - int(r.lead_years), "open_year": int(years[t]),
                     "teachers_needed": seats / ratio, "x": float(r.x), "y": float(r.y)})
    cols = ["level", "project", "school_id", "name", "action", "classes", "seats", "cost_yuan",
            "start_year", "open_year", "teachers_needed", "x", "y"]
    out = pd.DataFrame(rows, columns=[c for c in cols if c != "project"])
    out = out.sort_values(["open_year", "action", "school_id"], kind="stable",
                          ignore_index=True)
    out.insert(1, "project", [f"P{i + 1}" for i in range(len(out))])
    return out[cols]
