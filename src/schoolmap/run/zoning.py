"""The ``[zoning]`` step of a run: designed catchments (划片调整) per level.

:func:`run_zoning` designs every level the ``[zoning]`` table names with
:func:`schoolmap.allocation.zoning.design_catchments` (the base year's students, the run's
travel: straight lines or the road graph) and fills :attr:`ScenarioResult.designs`; it adds
each cell's designed zone (``designed_<level>``) and whether it changes school against the
official zones (``changed_<level>``) to the ``cells`` layer. :func:`zoning_tables` gives
``zoning.csv`` (one row per designed zone) and the ``designed_zones`` and
``changed_areas`` layers; :func:`zoning_summary` the ``zoning`` block of ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from schoolmap.allocation.travel import district_graph
from schoolmap.allocation.zoning import (
    ZONE_COLUMNS,
    CatchmentDesign,
    barrier_lines,
    cell_adjacency,
    design_catchments,
)
from schoolmap.demand import counts_students

__all__ = ["TRADEOFF_COLUMNS", "ZONING_COLUMNS", "ZONING_FILES", "changed_areas", "run_zoning",
           "tradeoff_table", "zoning_summary", "zoning_tables"]

#: Files a run with ``[zoning]`` writes besides the usual ones.
ZONING_FILES = ("zoning.csv", "zoning_tradeoff.csv")

#: Columns of ``zoning_tradeoff.csv``: one row per level and ``move_weight`` of ``tradeoff``.
TRADEOFF_COLUMNS = ("level", "move_weight", "travel_student_m", "travel_bound_student_m",
                    "travel_gap", "students_moved", "students_moved_bound",
                    "travel_bound_at_moved_student_m", "mean_trip_m", "zones_over_capacity",
                    "zones_several_pieces", "students_unzoned")

#: Columns of ``zoning.csv`` (see :class:`schoolmap.allocation.zoning.CatchmentDesign`).
ZONING_COLUMNS = tuple(c for c in ZONE_COLUMNS)


def run_zoning(result: Any, say: Callable[[str], None]) -> None:
    """Design the catchments of every ``[zoning]`` level (in place)."""
    sc = result.scenario
    settings = sc.zoning
    roads = (None if sc.travel.mode == "euclidean"
             else district_graph(result.district, sc.travel))
    adjacency = None
    barriers = _barriers(result) if roads is not None else None
    if barriers is not None:
        adjacency = cell_adjacency(result.district.cells, barriers=barriers)
        result.notes.append(f"zoning: zones cross the {len(barriers[0])} barrier line(s) of the "
                            f"roads layer only at its {len(barriers[1])} road crossing(s)")
    for level in settings.design_levels(sc.levels):
        say(f"{level}: catchment design")
        column = f"demand_{level}"
        demand = (result.cells[column].to_numpy(dtype=np.float64)
                  if column in result.cells.columns else None)
        peak = _peak(result, level, demand, settings.years)
        design = _design(result, level, demand, settings.move_weight, roads, adjacency, peak)
        adjacency = design.adjacency
        result.designs[level] = design
        for weight in settings.tradeoff:
            say(f"{level}: catchment design, move weight {weight:g} m")
            row = (design if weight == settings.move_weight else _design(
                result, level, demand, weight, roads, adjacency, peak)).summary()
            result.zoning_tradeoff.append(
                {"level": level, "move_weight": weight,
                 **{c: row[c] for c in TRADEOFF_COLUMNS[2:]}})
        result.cells[f"designed_{level}"] = design.zone_by_cell.to_numpy(dtype=object)
        result.cells[f"changed_{level}"] = design.changed_by_cell
        result.notes += [f"{level}/zoning: {p}" for p in design.design.problems]
        result.notes += [f"{level}/zoning: {n}" for n in design.design.notes]


def _barriers(result: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Barrier lines of the district's ``roads`` layer and its road crossings (None: an
    ``.osm.pbf`` file, no layer, or no barrier)."""
    if result.scenario.travel.roads is not None or result.district.source is None:
        return None
    from schoolmap.io.roads import read_roads_layer

    frame, _ = read_roads_layer(result.district.source)
    return barrier_lines(frame, result.district.crs)


def _peak(result: Any, level: str, demand: Any, years: int) -> np.ndarray | None:
    """Each cell's most students of the level from the base year to ``years`` forecast years
    on (the forecast's residents of the level's ages × its public rate, as the siting step
    counts them); None for ``years = 0``, or with a note when there is no forecast to use."""
    if years <= 0:
        return None
    sc = result.scenario
    forecast = result.forecast
    if forecast is None or demand is None or counts_students(result.district.cells, level):
        result.notes.append(f"{level}/zoning: years = {years} not applied: no forecast of the "
                            "level's students (a horizon and single-year ages are needed); the "
                            "design holds for the base year")
        return None
    norm = sc.norms.level(level)
    ages = list(norm.ages)
    peak = np.asarray(demand, dtype=np.float64).copy()
    last = sc.base_year
    for k, year in enumerate(np.asarray(forecast.years).tolist()):
        if sc.base_year < year <= sc.base_year + years:
            peak = np.maximum(peak, forecast.residents[k][:, ages].sum(axis=1) * norm.public_rate)
            last = max(last, int(year))
    result.notes.append(f"{level}/zoning: zones hold within seats in every year {sc.base_year}–"
                        f"{last} (each cell's most students over those years)")
    return peak


def _design(result: Any, level: str, demand: Any, weight: float, roads: Any,
            adjacency: Any, peak: Any = None) -> CatchmentDesign:
    """One level's design with the ``[zoning]`` settings and ``move_weight = weight``."""
    sc = result.scenario
    settings = sc.zoning
    extra = {} if peak is None else {"peak_students_by_cell": peak}
    return design_catchments(
        result.district, level, result.year, max_utilisation=settings.max_utilisation,
        min_utilisation=settings.min_utilisation, move_weight=weight,
        compactness_weight=settings.compactness_weight, norms=sc.norms, demand_by_cell=demand,
        roads=roads, seed=sc.seed, adjacency=adjacency, multi_school=settings.multi_school,
        lns_passes=settings.lns_passes, **extra)


def changed_areas(result: Any) -> gpd.GeoDataFrame:
    """Per designed level, the cells whose school changes against the official zones,
    dissolved: columns ``level``, ``n_cells``, ``students``; polygons in the district CRS."""
    rows = []
    geoms = result.district.cells.geometry.to_numpy()
    for level in result.designs:
        changed = result.cells[f"changed_{level}"].to_numpy(dtype=bool)
        demand = result.cells.get(f"demand_{level}")
        students = (float(demand.to_numpy(dtype=np.float64)[changed].sum())
                    if demand is not None else float("nan"))
        shape = shapely.union_all(geoms[changed]) if changed.any() else None
        rows.append({"level": level, "n_cells": int(changed.sum()), "students": students,
                     "geometry": shape})
    return gpd.GeoDataFrame(rows, columns=["level", "n_cells", "students", "geometry"],
                            geometry="geometry", crs=result.district.crs)


def zoning_tables(result: Any) -> dict[str, Any]:
    """``zoning.csv`` (one row per designed zone, :data:`ZONING_COLUMNS`) and the GeoPackage
    layers ``designed_zones`` (the same rows with their polygons) and ``changed_areas``."""
    frames = [d.zones for d in result.designs.values()]
    zones = (gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                              crs=result.district.crs) if frames else
             gpd.GeoDataFrame(columns=[*ZONING_COLUMNS, "geometry"], geometry="geometry",
                              crs=result.district.crs))
    return {"zoning.csv": pd.DataFrame(zones.drop(columns="geometry"))[list(ZONING_COLUMNS)],
            "zoning_tradeoff.csv": tradeoff_table(result),
            "designed_zones": zones, "changed_areas": changed_areas(result)}


def tradeoff_table(result: Any) -> pd.DataFrame:
    """``zoning_tradeoff.csv``: per level and ``move_weight`` of the ``[zoning] tradeoff``
    list, the design's travel, its proven bound and gap, students moved and mean trip
    (:data:`TRADEOFF_COLUMNS`; a header only without a list)."""
    return pd.DataFrame(result.zoning_tradeoff, columns=list(TRADEOFF_COLUMNS))


def zoning_summary(result: Any) -> dict[str, Any]:
    """The ``zoning`` block of ``summary.json``: per level the design's figures against the
    official zones (:meth:`CatchmentDesign.summary`)."""
    table = tradeoff_table(result)
    return {level: _summary(d) | {"tradeoff": table[table["level"] == level].drop(
        columns="level").to_dict(orient="records")} for level, d in result.designs.items()}


def _summary(design: CatchmentDesign) -> dict[str, Any]:
    out = design.summary()
    out.pop("seconds", None)  # wall-clock: summary.json stays byte-identical run to run
    return out
