"""Scenarios: a TOML file says which district, year, levels, norms and methods; run it.

A scenario file (see ``scenarios/demo.toml``)::

    name = "demo"
    district = "../data/geo/demo.gpkg"   # relative to this file
    base_year = 2026
    levels = ["kindergarten", "primary", "junior"]
    methods = ["catchment", "nearest"]
    output = "../out/demo"               # relative to this file; `--out` overrides
    [norms.primary]
    private_share = 0.04
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from scipy.spatial import cKDTree

from schoolmap.allocation import (
    METHODS,
    Allocation,
    allocate,
    district_xy,
    level_zones,
    school_points,
)
from schoolmap.allocation.memory import (
    available_memory,
    estimate_assign_bytes,
    shared_solver_memory,
)
from schoolmap.allocation.overlaps import overlap_notes, zone_overlaps
from schoolmap.allocation.travel import Travel, district_graph, travel_from_table
from schoolmap.allocation.zoning_settings import ZoningSettings
from schoolmap.demand import counts_students, demand_by_cell_grade, level_schools
from schoolmap.demand.forecast import (
    Forecast,
    ForecastSettings,
    cohort_births,
    compare_forecast_methods,
    forecast_by_progression,
    forecast_district,
    level_totals,
)
from schoolmap.errors import MemoryLimitError, Problem, ValidationError, check_values
from schoolmap.i18n import LANGS, default_lang
from schoolmap.io.crs import COORDINATE_SYSTEMS
from schoolmap.io.district import District, read_district
from schoolmap.norms import LEVELS, Norms, default_norms
from schoolmap.planning.admission_settings import AdmissionSettings
from schoolmap.planning.capacity import district_totals, school_table, zone_table
from schoolmap.planning.capital import CapitalPlan, CapitalSettings
from schoolmap.planning.simulation import simulate_enrolment
from schoolmap.planning.siting import SitingPlan, SitingSettings, site_new_schools
from schoolmap.present.maps.settings import TILES, MapSettings  # noqa: F401  (TILES: its old home)
from schoolmap.run.stages import StageTimer

__all__ = ["LANGS", "Scenario", "ScenarioResult", "allocate", "check_run_memory", "default_lang",
           "district_xy", "load_scenario", "run_scenario"]



@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name : str
        Short name, used in output names.
    district : Path
        District GeoPackage or folder.
    base_year : int
        School year the cells' ages refer to (e.g. 2026 = school year 2026/27).
    horizon : int
        Years to forecast (used by forecasting).
    levels : tuple of str
        Levels to plan.
    methods : tuple of str
        Allocation methods, the first being the headline one (tables, map).
    output : Path
        Output folder.
    norms : Norms
        Norms with the scenario's overrides.
    planning_crs, coordinate_system, input_crs : str or None
        How to read coordinates (see :func:`schoolmap.io.district.read_district`).
    output_crs : str or None
        CRS of ``results.gpkg`` (e.g. ``"EPSG:4549"``, CGCS2000 3° Gauss–Krüger CM 120°E);
        None: the CRS the district's cells came in.
    seed : int
        Seed of every random draw.
    tiles : str
        Basemap of the map: ``OpenStreetMap``, ``gaode`` (Gaode/AutoNavi tiles; the layers are
        shifted to GCJ-02 to line up with them) or ``none`` (data layers only, works offline).
    map_settings : MapSettings
        The whole ``[map]`` table (main level, Tianditu key; not written to ``summary.json``).
    assignment_lines : tuple of str
        School ids whose students the map links to their cells (headline method); empty: none.
    max_distance_m : float or None
        ``optimal`` only: no student is sent farther (metres); beyond it students are unserved.
    description : str
    source : Path or None
        The scenario file.
    lang : {"zh", "en"} or None
        Language of the report, the CLI summary and the map's labels; None: Chinese for the
        Chinese grade systems (6+3, 5+4), English for ``us`` (see :attr:`language`).
    travel : Travel
        The ``[travel]`` table: ``euclidean`` (default, straight lines) or ``walk`` / ``drive``
        (``nearest`` and ``optimal`` by road, from the district's ``roads`` layer).
    zoning : ZoningSettings or None
        The ``[zoning]`` table (None: no catchment design).
    admission : AdmissionSettings or None
        The ``[admission]`` table (None: no admission odds; see :mod:`schoolmap.run.admission`).
    memory_limit_gb : float or None
        The most memory (GB) the run's exact solves may need, checked before any work
        (:func:`check_run_memory`); None: 60 % of the memory available when the run starts.
        Each solve also checks itself against 60 % of the memory available then.
    """

    name: str
    district: Path
    base_year: int
    horizon: int = 10
    levels: tuple[str, ...] = ("kindergarten", "primary", "junior")
    methods: tuple[str, ...] = ("catchment", "nearest")
    output: Path = Path("out")
    norms: Norms = field(default_factory=default_norms)
    planning_crs: str | None = None
    coordinate_system: str = "wgs84"
    input_crs: str | None = None
    output_crs: str | None = None
    seed: int = 0
    tiles: str = "OpenStreetMap"
    assignment_lines: tuple[str, ...] = ()
    max_distance_m: float | None = None
    description: str = ""
    source: Path | None = None
    lang: str | None = None
    forecast: ForecastSettings = field(default_factory=ForecastSettings)
    siting: SitingSettings | None = None
    travel: Travel = field(default_factory=Travel)
    plan: CapitalSettings | None = None
    zoning: ZoningSettings | None = None
    admission: AdmissionSettings | None = None
    map_settings: MapSettings = field(default_factory=MapSettings)
    memory_limit_gb: float | None = None

    @property
    def language(self) -> str:
        """The language in force: ``lang``, or the grade system's default."""
        return self.lang or default_lang(self.norms.grade_system)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for ``summary.json`` (paths as given, norms in full)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("norms", "travel", "plan", "zoning", "map_settings",
                                 "output_crs", "memory_limit_gb")}
        out = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
               for k, v in out.items()}
        out["norms"] = self.norms.to_dict()
        out["forecast"] = dataclasses.asdict(self.forecast)
        out["siting"] = None if self.siting is None else self.siting.to_dict()
        if self.travel.mode != "euclidean":  # straight lines: as before [travel] existed
            out["travel"] = dataclasses.asdict(self.travel)
        if self.plan is not None:  # no [plan]: as before it existed
            out["plan"] = dataclasses.asdict(self.plan)
        if self.zoning is not None:  # no [zoning]: as before it existed
            out["zoning"] = dataclasses.asdict(self.zoning)
        out.pop("admission", None)
        if self.admission is not None:  # no [admission]: as before it existed
            out["admission"] = dataclasses.asdict(self.admission)
        if self.output_crs is not None:  # none: as before output_crs existed
            out["output_crs"] = self.output_crs
        if self.memory_limit_gb is not None:
            out["memory_limit_gb"] = self.memory_limit_gb
        return out


_KEYS = {
    "name", "description", "district", "base_year", "horizon", "levels", "methods", "output",
    "norms", "planning_crs", "coordinate_system", "input_crs", "output_crs", "seed", "map",
    "max_distance_m", "memory_limit_gb",
    "lang", "forecast", "siting", "travel", "plan", "zoning", "admission",
}


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and check a scenario TOML file.

    Relative paths in the file (``district``, ``output``) are relative to the file's folder.

    Raises
    ------
    ValidationError
        Naming every unknown key and bad value.
    """
    p = Path(path)
    data = read_toml(p, "scenario")
    return scenario_from_dict(data, base=p.parent, where=p.name, source=p)


def read_toml(path: Path, kind: str) -> dict[str, Any]:
    """Parse a TOML file (a scenario, a manifest), with one clear error if it cannot be read.

    ``kind`` names the file in messages: ``"{path}: no such {kind} file"``.
    """
    if not path.is_file():
        raise ValidationError([f"{path}: no such {kind} file"], kind)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError([f"{path.name}: not valid TOML ({exc})"], kind) from exc


def scenario_from_dict(
    data: Mapping[str, Any], *, base: Path = Path("."), where: str = "scenario",
    source: Path | None = None,
) -> Scenario:
    """Build a :class:`Scenario` from parsed TOML (see :func:`load_scenario`)."""
    ValidationError.raise_if(_strict_values(data, where), f"scenario {where}")
    problems: list[Problem | str] = []
    for key in sorted(set(data) - _KEYS):
        problems.append(Problem(where, f"unknown key {key!r}; known keys: "
                                f"{', '.join(sorted(_KEYS))}"))
    for key in ("district", "base_year"):
        if key not in data:
            problems.append(Problem(where, f"{key!r} is required"))
    name = str(data.get("name") or (source.stem if source else "scenario"))
    base_year = data.get("base_year", 2026)
    if not isinstance(base_year, int) or not 1990 <= base_year <= 2100:
        problems.append(Problem(where, f"base_year must be a year like 2026, got {base_year!r}"))
    horizon = data.get("horizon", 10)
    if not isinstance(horizon, int) or not 0 <= horizon <= 30:
        problems.append(Problem(where, f"horizon must be 0–30 years, got {horizon!r}"))
    levels = tuple(data.get("levels", ("kindergarten", "primary", "junior")))
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad or not levels:
        problems.append(Problem(where, f"levels must be a non-empty list of {', '.join(LEVELS)}; "
                                f"got {list(levels)!r}"))
    methods = tuple(data.get("methods", ("catchment", "nearest")))
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        problems.append(Problem(where, f"methods must be a non-empty list of "
                                f"{', '.join(METHODS)}; got {list(methods)!r}"))
    cs = data.get("coordinate_system", "wgs84")
    if cs not in COORDINATE_SYSTEMS:
        problems.append(Problem(where, f"coordinate_system must be one of "
                                f"{', '.join(COORDINATE_SYSTEMS)}; got {cs!r}"))
    output_crs = data.get("output_crs")
    problems += output_crs_problems(output_crs, where)
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or seed < 0:
        problems.append(Problem(where, f"seed must be a whole number ≥ 0, got {seed!r}"))
    map_settings = MapSettings()
    try:
        map_settings = MapSettings.from_table(dict(data.get("map", {})), where=where)
    except ValidationError as exc:
        problems += list(exc.problems)
    max_distance = data.get("max_distance_m")
    if max_distance is not None and (isinstance(max_distance, bool) or not isinstance(
            max_distance, int | float) or max_distance <= 0):
        problems.append(Problem(where, f"max_distance_m must be a distance > 0 in metres, got "
                                f"{max_distance!r}"))
    memory_gb = data.get("memory_limit_gb")
    if memory_gb is not None and not (isinstance(memory_gb, int | float) and memory_gb > 0):
        problems.append(Problem(where, f"memory_limit_gb must be gigabytes > 0, got "
                                f"{memory_gb!r}"))
    lang = data.get("lang")
    if lang is not None and lang not in LANGS:
        problems.append(Problem(where, f"lang must be one of {', '.join(map(repr, LANGS))}; got "
                                f"{lang!r}"))
    norms = default_norms()
    try:
        norms = norms.with_overrides(dict(data.get("norms", {})), where=f"{where} [norms]")
    except ValidationError as exc:
        problems += list(exc.problems)
    def table(key: str, reader: Any, default: Any, always: bool) -> Any:
        """The ``[key]`` table read by ``reader`` (its problems collected), or ``default`` when
        it is absent (and not ``always`` read) or wrong."""
        if key not in data and not always:
            return default
        try:
            return reader(dict(data.get(key, {})), where=f"{where} [{key}]")
        except ValidationError as exc:
            problems.extend(exc.problems)
            return default

    settings = table("forecast", ForecastSettings.from_table, ForecastSettings(), True)
    siting = table("siting", SitingSettings.from_table, None, False)
    if siting is not None and siting.levels and set(siting.levels) - set(levels):
        problems.append(Problem(where, f"[siting] levels {list(siting.levels)} must be among "
                                f"the scenario's levels {list(levels)}"))
    if map_settings.main_level is not None and map_settings.main_level not in levels:
        problems.append(Problem(where, f"map.main_level {map_settings.main_level!r} must be one "
                                f"of the scenario's levels {list(levels)}"))
    travel = table("travel", travel_from_table, Travel(), True)
    plan = table("plan", CapitalSettings.from_table, None, False)
    zoning = table("zoning", ZoningSettings.from_table, None, False)
    if zoning is not None and zoning.levels and set(zoning.levels) - set(levels):
        problems.append(Problem(where, f"[zoning] levels {list(zoning.levels)} must be among "
                                f"the scenario's levels {list(levels)}"))
    admission = table("admission", AdmissionSettings.from_table, None, False)
    problems += _admission_problems(admission, levels, base_year, horizon, where)
    ValidationError.raise_if(problems, f"scenario {where}")
    output = base / str(data.get("output", f"out/{name}"))
    return Scenario(
        name=name, district=base / str(data["district"]), base_year=base_year, horizon=horizon,
        levels=levels, methods=methods, output=output, norms=norms,
        planning_crs=data.get("planning_crs") or None, coordinate_system=cs,
        input_crs=data.get("input_crs") or None, seed=seed, tiles=map_settings.tiles,
        output_crs=output_crs,
        assignment_lines=map_settings.assignment_lines,
        description=str(data.get("description", "")), source=source,
        max_distance_m=float(max_distance) if max_distance is not None else None,
        lang=lang or default_lang(norms.grade_system), forecast=settings, siting=siting,
        travel=travel, plan=plan, zoning=zoning, admission=admission,
        map_settings=map_settings,
        memory_limit_gb=float(memory_gb) if memory_gb is not None else None,
    )


def output_crs_problems(value: object, where: str) -> list[Problem]:
    """What is wrong with a scenario's ``output_crs`` (nothing when absent): it must be a
    CRS in quotes that pyproj knows, in longitude/latitude or projected.

    >>> [p.message for p in output_crs_problems("EPSG:4549", "a.toml")]
    []
    >>> print(output_crs_problems(4549, "a.toml")[0].message)
    output_crs must be a CRS in quotes, e.g. output_crs = "EPSG:4549", got 4549
    """
    if value is None:
        return []
    example = 'e.g. output_crs = "EPSG:4549" (CGCS2000 / 3-degree Gauss-Kruger CM 120E)'
    if not isinstance(value, str) or not value.strip():
        return [Problem(where, f"output_crs must be a CRS in quotes, {example.split(' (')[0]}, "
                        f"got {value!r}")]
    try:
        crs = pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        return [Problem(where, f"output_crs {value!r} is not a CRS pyproj knows; give an EPSG "
                        f"code, {example}, or leave output_crs out to write results in the "
                        "CRS the district came in")]
    if not (crs.is_projected or crs.is_geographic):
        return [Problem(where, f"output_crs {value!r} ({crs.name}) is neither longitude/latitude "
                        f"nor projected; {example}")]
    return []


def _admission_problems(admission: AdmissionSettings | None, levels: tuple[str, ...],
                        base_year: Any, horizon: Any, where: str) -> list[Problem]:
    """What ``[admission]`` asks that the scenario cannot give (levels, year)."""
    if admission is None:
        return []
    out = []
    if admission.levels and set(admission.levels) - set(levels):
        out.append(Problem(f"{where} [admission]", f"levels {list(admission.levels)} must be "
                           f"among the scenario's levels {list(levels)}"))
    if (admission.year is not None and isinstance(base_year, int) and isinstance(horizon, int)
            and not base_year <= admission.year <= base_year + horizon):
        out.append(Problem(f"{where} [admission]", f"year {admission.year} must be from the "
                           f"base year {base_year} to {base_year + horizon} (the horizon)"))
    return out


def _strict_values(data: Mapping[str, Any], where: str) -> list[Problem]:
    """Every table of a scenario through the one strict checker (:func:`check_values`):
    finite numbers everywhere, no true/false or text for a number, before anything is read."""
    tables: dict[str, Any] = {"forecast": ForecastSettings, "siting": SitingSettings,
                              "map": MapSettings, "travel": Travel, "zoning": ZoningSettings,
                              "admission": AdmissionSettings, "norms": None, "plan": None}
    top = {**{k: v for k, v in dataclasses.asdict(Scenario("", Path(), 2026)).items()
              if k not in tables and not isinstance(v, dict)},
           "max_distance_m": 1.0, "memory_limit_gb": 1.0, "district": "", "output": ""}
    problems = check_values({k: v for k, v in data.items() if k not in tables}, where, top)
    for name, schema in tables.items():
        table = data.get(name)
        if isinstance(table, Mapping):
            problems += check_values(table, f"{where} [{name}]", schema)
        elif table is not None:
            problems.append(Problem(where, f"[{name}] must be a table, got {table!r}"))
    for key in ("levels", "methods"):
        value = data.get(key)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value)):
            problems.append(Problem(where, f"{key} must be a list of names in quotes, e.g. "
                                    f"{key} = [\"primary\"], got {value!r}"))
    return problems


@dataclass
class ScenarioResult:
    """Everything a scenario run computed.

    Attributes
    ----------
    scenario : Scenario
    district : District
    year : int
        School year of the figures.
    schools : GeoDataFrame
        One row per school × level × method (see :func:`schoolmap.capacity.school_table`),
        plus ``area_type`` when the cells carry one.
    zones : GeoDataFrame
        One row per zone (see :func:`schoolmap.capacity.zone_table`).
    totals : DataFrame
        One row per level × method (see :func:`schoolmap.capacity.district_totals`).
    cells : GeoDataFrame
        Per cell: ``demand_<level>`` and ``school_<level>_<method>`` (main school id).
    allocations : dict
        ``(level, method)`` → :class:`schoolmap.allocation.Allocation`.
    notes : list of str
    forecast : Forecast or None
        Residents by cell, age and year (None when the horizon is 0 or ages are missing).
    simulations : dict
        Level → :class:`schoolmap.simulation.EnrolmentSimulation` (year-by-year enrolment).
    ensemble : DataFrame or None
        Level × year demand percentiles ``demand_p10``, ``demand_p50``, ``demand_p90``, and of
        the net shortfall (district demand − seats of the schools open that year, ≥ 0)
        ``net_shortfall_p10`` … ``net_shortfall_p90``.
    new_sites : GeoDataFrame or None
        Recommended new schools, one row per site × level (see
        :func:`schoolmap.site_planning.site_new_schools`): ``level``, ``site_id``, ``name``,
        ``tracks`` (轨), ``classes``, ``seats``, ``open_year`` (first school year the seats are
        needed), ``students_served``, ``mean_distance_m``, ``source`` (``sites`` or
        ``generated``), ``reason`` (a plain-language paragraph in the run's language); points in
        the district CRS. None when siting was not asked for.
    siting : dict
        Level → :class:`schoolmap.site_planning.SitingPlan` (bounds, year-by-year before/after).
    forecast_methods : DataFrame or None
        When the district has an ``enrolment`` history: per level (not kindergarten) and
        year, ``cohort_component`` (students needing a seat), ``grade_progression``
        (enrolment by grade progression ratios), ``difference``, ``difference_share`` (see
        :func:`schoolmap.forecast.compare_forecast_methods`).
    plans, resources, balance : dict
        With ``[plan]``: level → :class:`schoolmap.planning.capital.CapitalPlan`,
        :class:`~schoolmap.planning.resources.SchoolResources` and
        :class:`~schoolmap.planning.balance.BalanceIndicators` (see :mod:`schoolmap.run.plan`).
    designs : dict
        With ``[zoning]``: level → :class:`schoolmap.allocation.zoning.CatchmentDesign` (see
        :mod:`schoolmap.run.zoning`).
    zoning_tradeoff : list of dict
        With ``[zoning] tradeoff``: one row per level and move weight (see
        :func:`schoolmap.run.zoning.tradeoff_table`).
    admission, admission_quotas : dict, DataFrame or None
        With ``[admission]``: level → :class:`schoolmap.planning.admission_district.
        DistrictAdmission`, and the 指标生 quotas (see :mod:`schoolmap.run.admission`).
    timer : StageTimer
        Wall time, CPU time and peak memory of each stage of the run (see
        :mod:`schoolmap.run.stages`); ``write_results`` adds its own stage and writes
        ``stages.json``.
    """

    scenario: Scenario
    district: District
    year: int
    schools: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    totals: pd.DataFrame
    cells: gpd.GeoDataFrame
    allocations: dict[tuple[str, str], Allocation]
    notes: list[str]
    forecast: Forecast | None = None
    simulations: dict[str, Any] = field(default_factory=dict)
    ensemble: pd.DataFrame | None = None
    new_sites: gpd.GeoDataFrame | None = None
    forecast_methods: pd.DataFrame | None = None
    siting: dict[str, SitingPlan] = field(default_factory=dict)
    plans: dict[str, CapitalPlan] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    balance: dict[str, Any] = field(default_factory=dict)
    designs: dict[str, Any] = field(default_factory=dict)
    zoning_tradeoff: list[dict[str, Any]] = field(default_factory=list)
    admission: dict[str, Any] = field(default_factory=dict)
    admission_quotas: pd.DataFrame | None = None
    timer: StageTimer = field(default_factory=StageTimer)


def check_run_memory(scenario: Scenario, district: District) -> None:
    """Refuse, before any work, a run whose largest exact solve would not fit in memory.

    The exact engine (``optimal``, and the solves of ``[siting]`` and ``[zoning]``) is
    estimated on the district's cells and each level's schools (with the candidate sites when
    siting), by :func:`schoolmap.allocation.memory.estimate_assign_bytes`.

    Raises
    ------
    MemoryLimitError
        Naming the scenario, the size, the estimate, the allowance and what to change.
    """
    if "optimal" not in scenario.methods and scenario.siting is None and scenario.zoning is None:
        return
    n = len(district.cells)
    sites = (len(district.sites) if scenario.siting is not None and district.sites is not None
             else 0)
    level, m = max(((lv, len(level_schools(district, scenario.norms, lv, scenario.base_year))
                     + sites) for lv in scenario.levels), key=lambda t: t[1])
    needed = estimate_assign_bytes(n, m)
    given = scenario.memory_limit_gb is not None
    allowed = scenario.memory_limit_gb * 1e9 if given else 0.6 * available_memory()
    if needed > allowed:
        where = scenario.source.name if scenario.source is not None else scenario.name
        raise MemoryLimitError(
            f"scenario {where}: the exact allocation of {n:,} cells × {m:,} "
            f"{'schools and candidate sites' if sites else 'schools'} ({level}) needs about "
            f"{_size(needed)} at its peak, more than the {_size(allowed)} allowed ("
            + ("memory_limit_gb in the scenario" if given else
               "60 % of the memory available now") + "); nothing was computed. Free memory "
            "(close other programs), split the district or use coarser cells, or leave out "
            "what uses the exact engine (method 'optimal', [siting], [zoning])")


def _size(n_bytes: float) -> str:
    """``12.34 GB``, or ``5.6 MB`` below 0.1 GB."""
    return f"{n_bytes / 1e9:,.2f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:,.1f} MB"


def run_scenario(
    scenario: Scenario,
    district: District | None = None,
    *,
    step: Callable[[str], None] | None = None,
) -> ScenarioResult:
    """Compute a scenario's base-year answers for every level and method.

    Parameters
    ----------
    scenario : Scenario
    district : District, optional
        Already read district (read from ``scenario.district`` otherwise).
    step : callable, optional
        Called with a short description before each step (progress display).

    Returns
    -------
    ScenarioResult
    """
    say = step or (lambda _msg: None)
    timer = StageTimer()
    if district is None:
        timer.start("read district")
        say("reading district")
        district = read_district(scenario.district, planning_crs=scenario.planning_crs,
                                 coordinate_system=scenario.coordinate_system,
                                 input_crs=scenario.input_crs)
    check_run_memory(scenario, district)
    year = scenario.base_year
    cell_xy = district.cell_xy
    norms = scenario.norms
    area_of_school = _area_lookup(district)
    school_frames, zone_frames, totals, notes = [], [], [], []
    notes += [f"zones: {n}" for n in overlap_notes(zone_overlaps(district, norms))]
    cells_out = district.cells[["cell_id"]].copy()
    allocations: dict[tuple[str, str], Allocation] = {}
    travel = scenario.travel
    graph = None
    if travel.mode != "euclidean":
        say(f"road graph ({travel.mode})")
        graph = district_graph(district, travel)
        notes += [f"roads: {n}" for n in graph.notes]
    for level in scenario.levels:
        timer.start(f"allocation: {level}")
        norm = norms.level(level)
        schools = level_schools(district, norms, level, year)
        grade_demand = demand_by_cell_grade(district.cells, norms, level)
        demand = grade_demand.sum(axis=1)
        cells_out[f"demand_{level}"] = demand
        zones = level_zones(district, level)
        if len(zones):
            zone_frames.append(zone_table(cell_xy, demand, schools, zones, level))
        for method in scenario.methods:
            say(f"{level}: {method} allocation")
            alloc = allocate(district, level, method, year=year, norms=norms,
                             max_distance_m=scenario.max_distance_m, schools=schools,
                             demand_by_cell=demand, travel=travel, graph=graph,
                             progress=lambda msg, lv=level: say(f"{lv}: optimal: {msg}"))
            allocations[(level, method)] = alloc
            notes += [f"{level}/{method}: {n}" for n in alloc.notes]
            table = school_table(alloc, schools, grade_demand, norm, norms.bands)
            if area_of_school is not None:
                table.insert(6, "area_type", area_of_school(table))
            school_frames.append(table)
            totals.append(district_totals(alloc, table, norms.bands))
            ids = schools["school_id"].to_numpy()
            main = alloc.main_school_by_cell()
            assigned_id = np.full(len(main), None, dtype=object)
            assigned_id[main >= 0] = ids[main[main >= 0]]
            cells_out[f"school_{level}_{method}"] = assigned_id
            cells_out[f"distance_{level}_{method}_m"] = alloc.distance_by_cell()
            cells_out[f"unassigned_{level}_{method}"] = alloc.unassigned_by_cell
    crs = district.crs
    schools_all = _concat(school_frames, crs)
    zones_all = _concat(zone_frames, crs)
    cells_gdf = gpd.GeoDataFrame(cells_out, geometry=district.cells.geometry.values, crs=crs)
    result = ScenarioResult(scenario, district, year, schools_all, zones_all,
                            pd.DataFrame(totals), cells_gdf, allocations, notes, timer=timer)
    if scenario.horizon > 0:
        _run_forecast(result, say)
    if scenario.siting is not None and scenario.siting.enabled:
        _run_siting(result, say)
    if scenario.plan is not None and scenario.plan.enabled:
        timer.start("plan")
        from schoolmap.run.plan import run_plan

        run_plan(result, say)
    if scenario.zoning is not None and scenario.zoning.enabled:
        timer.start("zoning")
        from schoolmap.run.zoning import run_zoning

        run_zoning(result, say)
    if scenario.admission is not None and scenario.admission.enabled:
        timer.start("admission")
        from schoolmap.run.admission import run_admission

        run_admission(result, say)
    timer.stop()
    return result


def _run_siting(result: ScenarioResult, say: Callable[[str], None]) -> None:
    """Recommend new schools per level over the forecast years (base year without one)."""
    sc, settings = result.scenario, result.scenario.siting
    assert settings is not None
    plans, frames = {}, []
    # reach by road where the scenario travels by road (the graph is built once and cached)
    road = {} if sc.travel.mode == "euclidean" else {
        "travel": sc.travel, "graph": district_graph(result.district, sc.travel)}
    for level in settings.levels or sc.levels:
        norm = sc.norms.level(level)
        grade_demand = None
        year = sc.base_year
        if result.forecast is not None and not counts_students(result.district.cells, level):
            rate = norm.public_rate
            ages = list(norm.ages)
            grade_demand = {int(t): result.forecast.residents[k][:, ages] * rate
                            for k, t in enumerate(result.forecast.years.tolist())}
            year = max(grade_demand)
        result.timer.start(f"siting: {level}")
        say(f"{level}: siting new schools")
        with shared_solver_memory():  # its many exact solves share the kernel's workspaces
            plan = site_new_schools(result.district, level, year, norms=sc.norms,
                                    grade_demand_by_year=grade_demand,
                                    reach_m=settings.reach(level),
                                    target_unserved=settings.target_unserved,
                                    max_new=settings.max_new, lang=sc.language, progress=say,
                                    lp_time_limit_s=settings.lp_time_limit_s, **road)
        plans[level] = plan
        frames.append(plan.sites)
        result.notes += [f"{level}/siting: {n}" for n in plan.notes]
    result.siting = plans
    result.new_sites = _concat(frames, result.district.crs) if frames else None


def _run_forecast(result: ScenarioResult, say: Callable[[str], None]) -> None:
    """Forecast residents over the horizon and simulate each level year by year (in place)."""
    sc, district = result.scenario, result.district
    settings = sc.forecast
    years = sc.horizon
    result.timer.start("forecast")
    say(f"forecast {sc.base_year}–{sc.base_year + years}")
    if not all(f"age_{a}" in district.cells.columns for a in range(18)):
        result.notes.append("forecast skipped: cells carry no single-year ages (age_0 … age_17)")
        return
    levels = {lv: sc.norms.level(lv) for lv in sc.levels}
    forecast, ens = forecast_district(district, settings, levels, base_year=sc.base_year,
                                      years=years, seed=sc.seed,
                                      folder=sc.source.parent if sc.source else None)
    result.forecast = forecast
    method = sc.methods[0]
    road = {} if sc.travel.mode == "euclidean" else {
        "travel": sc.travel, "graph": district_graph(district, sc.travel)}
    for level in sc.levels:
        result.timer.start(f"simulation: {level}")
        say(f"{level}: year-by-year enrolment ({method})")
        result.simulations[level] = simulate_enrolment(
            district, forecast, sc.norms, level, method=method, max_distance_m=sc.max_distance_m,
            puhui_target=settings.puhui_target, **road)
    history = district.enrolment
    graded = {lv: [a - sc.norms.entry_age + 1 for a in levels[lv].ages] for lv in sc.levels
              if history is not None and lv != "kindergarten"
              and set(history["grade"]) & {a - sc.norms.entry_age + 1 for a in levels[lv].ages}}
    if history is not None and graded:
        result.timer.start("grade progression")
        say("grade progression forecast")
        progression, _ = forecast_by_progression(history, graded, cohort_births(forecast),
                                                 forecast.years.tolist(),
                                                 entry_age=sc.norms.entry_age)
        cohort = pd.concat([result.simulations[lv].district.assign(level=lv)
                            .rename(columns={"demand": "students"}) for lv in graded])
        result.forecast_methods = compare_forecast_methods(cohort, progression)
    if ens is not None:
        result.timer.start("ensemble bands")
        say(f"ensemble of {settings.ensemble}")
        rows = []
        for level, norm in levels.items():
            members = level_totals(ens, norm)
            p10, p50, p90 = np.percentile(members, [10, 50, 90], axis=0)
            seats = result.simulations[level].district.set_index("year")["seats"]
            seats = seats.reindex(forecast.years.tolist()).to_numpy(dtype=np.float64)
            s10, s50, s90 = np.percentile(np.maximum(members - seats[None, :], 0.0),
                                          [10, 50, 90], axis=0)
            for t, year in enumerate(forecast.years.tolist()):
                rows.append({"level": level, "year": year, "demand_p10": p10[t],
                             "demand_p50": p50[t], "demand_p90": p90[t],
                             "net_shortfall_p10": s10[t], "net_shortfall_p50": s50[t],
                             "net_shortfall_p90": s90[t]})
        result.ensemble = pd.DataFrame(rows)


def _area_lookup(district: District) -> Callable[[gpd.GeoDataFrame], np.ndarray] | None:
    """When cells carry ``area_type``: a function giving each school its nearest cell's type."""
    if "area_type" not in district.cells.columns or district.n_cells == 0:
        return None
    tree = cKDTree(district.cell_xy)
    labels = district.cells["area_type"].astype(str).to_numpy()

    def lookup(schools: gpd.GeoDataFrame) -> np.ndarray:
        if len(schools) == 0:
            return np.zeros(0, dtype=object)
        _, idx = tree.query(school_points(schools), k=1)
        return labels[idx]

    return lookup


def _concat(frames: list[gpd.GeoDataFrame], crs: Any) -> gpd.GeoDataFrame:
    """Rows of every frame; with no rows at all, the first frame's columns (tables stay valid)."""
    full = [f for f in frames if len(f)]
    if not full:
        if frames:
            return gpd.GeoDataFrame(frames[0].iloc[:0], geometry="geometry", crs=crs)
        return gpd.GeoDataFrame(geometry=[], crs=crs)
    frames = full
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
