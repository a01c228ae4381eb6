"""Writing a scenario's results: GeoPackage, CSV tables, summary.json and the map — atomically.

Everything is written into a temporary sibling folder first; only when every file is complete is
it moved into place (replacing an earlier run's folder), so a failed run never leaves a
half-written output folder. Tables are byte-identical for identical inputs.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj

from schoolmap.allocation.catchments import changing_summary, proposed_catchments
from schoolmap.i18n import SHEET_NAMES, column_header
from schoolmap.io.files import atomic_folder, write_gpkg
from schoolmap.io.workbook import whole_tables, write_csv, write_xlsx
from schoolmap.run.admission import ADMISSION_FILES, admission_summary, admission_tables
from schoolmap.run.plan import PLAN_FILES, plan_summary, plan_tables
from schoolmap.run.scenario import ScenarioResult
from schoolmap.run.zoning import ZONING_FILES, zoning_summary, zoning_tables

__all__ = ["OUTPUT_FILES", "atomic_folder", "json_ready", "write_gpkg", "write_results"]

#: Files every run writes.
OUTPUT_FILES = ("results.gpkg", "schools.csv", "zones.csv", "district.csv", "summary.json",
                "map.html", "report.html", "forecast.csv", "forecast_schools.csv",
                "forecast_ensemble.csv", "forecast_methods.csv", "proposed_catchments.csv",
                "new_sites.csv", "siting_years.csv", "stages.json", "results.xlsx")



def _csv(frame: pd.DataFrame, path: Path) -> None:
    write_csv(frame, path, bom=True)  # UTF-8 with BOM: Excel on a Chinese Windows reads it


def _read_back(path: Path) -> pd.DataFrame:
    """A CSV just written, as a table (an empty table for a file without columns)."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _workbook(result: ScenarioResult, folder: Path) -> None:
    """``results.xlsx``: every CSV table of ``folder`` as one sheet, headers in the run's
    language (read back from the CSVs, so the sheets hold exactly what the files hold)."""
    lang = result.scenario.language
    sheets = {SHEET_NAMES.get(lang, {}).get(p.stem, p.stem): _read_back(p)
              for p in sorted(folder.glob("*.csv"))}
    headers = {c: column_header(c, lang) for t in sheets.values() for c in t.columns}
    write_xlsx(sheets, folder / "results.xlsx", headers=headers,
               year=result.scenario.base_year)


def json_ready(value: Any) -> Any:
    """JSON-safe value: NaN → None, numpy scalars → Python."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if value is pd.NA:
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def forecast_tables(result: ScenarioResult) -> dict[str, pd.DataFrame]:
    """The year-by-year tables: district and school figures per level, ensemble bands, and
    the cohort-component forecast against grade progression (with an enrolment history).

    Written even without a forecast (``horizon = 0``), then with a header only.
    """
    district_cols = ["level", "year", "demand", "enrolled", "unassigned", "seats",
                     "shortfall_at_schools", "n_classes_56_plus", "n_classes_66_plus",
                     "share_classes_56_plus"]
    frames = [sim.district.assign(level=lv) for lv, sim in result.simulations.items()]
    district = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=district_cols)
    # kindergartens: the 普惠 split (empty for the other levels)
    puhui = ["seats_public_puhui", "puhui_coverage", "demand_puhui", "demand_other",
             "puhui_seats_short"]
    district = district[district_cols + [c for c in puhui if c in district.columns]]
    frames = [sim.by_school.assign(level=lv) for lv, sim in result.simulations.items()]
    schools = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["level", "year", "school_id"])
    schools = schools[["level", *[c for c in schools.columns if c != "level"]]]
    ensemble = result.ensemble if result.ensemble is not None else pd.DataFrame(
        columns=["level", "year", "demand_p10", "demand_p50", "demand_p90", "net_shortfall_p10",
                 "net_shortfall_p50", "net_shortfall_p90"])
    methods = result.forecast_methods if result.forecast_methods is not None else pd.DataFrame(
        columns=["level", "year", "cohort_component", "grade_progression", "difference",
                 "difference_share"])
    return {"forecast.csv": district, "forecast_schools.csv": schools,
            "forecast_ensemble.csv": ensemble, "forecast_methods.csv": methods}


def forecast_summary(result: ScenarioResult) -> dict[str, Any]:
    """Peak year and size of demand, and seats short by year, per level."""
    out: dict[str, Any] = {}
    for level, sim in result.simulations.items():
        year, size = sim.peak
        d = sim.district
        out[level] = {
            "peak_year": year, "peak_demand": size,
            "shortfall_at_schools_by_year": dict(zip(d["year"].astype(int).astype(str),
                                                     d["shortfall_at_schools"], strict=True)),
            "share_classes_56_plus_by_year": dict(zip(d["year"].astype(int).astype(str),
                                                      d["share_classes_56_plus"], strict=True)),
        }
    return out


def summary(result: ScenarioResult, proposed: gpd.GeoDataFrame | None = None) -> dict[str, Any]:
    """The content of ``summary.json``: scenario, norms, district totals, findings, notes.

    With ``proposed`` (:func:`schoolmap.catchments.proposed_catchments`), also per level and
    method the proposed catchments: zones, zones in several pieces, students changing school.
    """
    sc = result.scenario
    headline = sc.methods[0]
    schools = result.schools
    findings: dict[str, Any] = {}
    for level in sc.levels:
        rows = schools[(schools["level"] == level) & (schools["method"] == headline)]
        short = rows[rows["shortfall"] > 0.5].sort_values(["shortfall", "school_id"],
                                                          ascending=[False, True])
        findings[level] = {
            "schools_short": [
                {"school_id": r.school_id, "name": r.name, "shortfall": r.shortfall,
                 "utilisation": r.utilisation, "n_classes_56_plus":
                 int(r.n_classes_56_65 + r.n_classes_66_plus)}
                for r in short.head(10).itertuples()
            ],
        }
        if "area_type" in rows.columns:
            by_area = rows.groupby("area_type", sort=True)[["demand", "seats", "shortfall"]].sum()
            by_area["utilisation"] = by_area["demand"] / by_area["seats"]
            findings[level]["by_area_type"] = by_area.to_dict(orient="index")
    return json_ready({
        "scenario": sc.to_dict(),
        "district": {
            "source": result.district.source,
            "planning_crs": result.district.crs.to_string(),
            "n_cells": result.district.n_cells,
            "n_schools": result.district.n_schools,
            "population": float(result.district.cells["population"].sum()),
        },
        "year": result.year,
        "headline_method": headline,
        **({} if sc.travel.mode == "euclidean" else {"travel": travel_summary(result)}),
        "totals": result.totals.to_dict(orient="records"),
        "findings": findings,
        "forecast": forecast_summary(result),
        "siting": siting_summary(result),
        **({} if proposed is None else {"proposed_catchments": changing_summary(proposed)}),
        **_plan_blocks(result),
        **({"zoning": zoning_summary(result)} if _zoned(result) else {}),
        **({"admission": admission_summary(result)} if _admitted(result) else {}),
        "notes": result.notes,
        "files": list(OUTPUT_FILES) + (list(PLAN_FILES) if _planned(result) else [])
        + (list(ZONING_FILES) if _zoned(result) else [])
        + (list(ADMISSION_FILES) if _admitted(result) else []),
    })


def _planned(result: ScenarioResult) -> bool:
    """True when the run had a ``[plan]`` table (its files and blocks are written)."""
    plan = result.scenario.plan
    return plan is not None and plan.enabled


def _zoned(result: ScenarioResult) -> bool:
    """True when the run had a ``[zoning]`` table (zoning.csv and its layers are written)."""
    zoning = result.scenario.zoning
    return zoning is not None and zoning.enabled


def _admitted(result: ScenarioResult) -> bool:
    """True when the run had an ``[admission]`` table (admission.csv and its layer)."""
    admission = result.scenario.admission
    return admission is not None and admission.enabled


def _plan_blocks(result: ScenarioResult) -> dict[str, Any]:
    """``plan`` / ``balance`` / ``resources`` of summary.json (nothing without ``[plan]``)."""
    return plan_summary(result) if _planned(result) else {}


def travel_summary(result: ScenarioResult) -> dict[str, Any]:
    """The ``[travel]`` mode and the report's line saying which distance every figure uses."""
    from schoolmap.present.report import travel_line

    t = result.scenario.travel
    return {"mode": t.mode, "line": travel_line(result.scenario, result.scenario.language),
            "walk_kmh": t.walk_kmh, "detour_max": t.detour_max,
            "max_connector_m": t.max_connector_m}


#: Columns of ``new_sites.csv`` (see :class:`schoolmap.site_planning.SitingPlan`).
SITE_COLUMNS = ("level", "site_id", "name", "tracks", "classes", "seats", "open_year",
                "students_served", "busiest_year", "mean_distance_m", "source", "reason", "x",
                "y")


def siting_tables(result: ScenarioResult) -> dict[str, pd.DataFrame]:
    """``new_sites.csv`` (one row per proposed school, planning-CRS x/y in metres) and
    ``siting_years.csv`` (per level and year, unserved and travel before/after the plan).

    Both have a header only when siting was not asked for.
    """
    sites = pd.DataFrame(columns=list(SITE_COLUMNS))
    if result.new_sites is not None and len(result.new_sites):
        s = result.new_sites
        sites = pd.DataFrame(s.drop(columns="geometry"))
        sites["x"], sites["y"] = s.geometry.x.round(2), s.geometry.y.round(2)
        sites = sites[list(SITE_COLUMNS)]
    years = [plan.years for plan in result.siting.values()]
    return {"new_sites.csv": sites,
            "siting_years.csv": pd.concat(years, ignore_index=True) if years else
            pd.DataFrame(columns=["level", "year", "unserved_before", "unserved_after"])}


def siting_summary(result: ScenarioResult) -> dict[str, Any] | None:
    """Per level: new schools, proven lower bound and gap, seats, and the sites with reasons."""
    if not result.siting:
        return None
    out: dict[str, Any] = {}
    for level, plan in result.siting.items():
        worst = plan.years.loc[plan.years["unserved_before"].idxmax()] if len(plan.years) \
            else None
        out[level] = {
            "new_schools": plan.n_new,
            "lower_bound": plan.lower_bound,
            "gap": plan.gap,
            "reach_m": plan.reach_m,
            "target_unserved": plan.target_unserved,
            "candidates": plan.n_candidates,
            "seats_new": int(plan.sites["seats"].sum()) if plan.n_new else 0,
            "worst_year": None if worst is None or pd.isna(worst["year"]) else int(worst["year"]),
            "unserved_before": None if worst is None else float(worst["unserved_before"]),
            "unserved_after": None if worst is None else float(worst["unserved_after"]),
            "sites": plan.sites.drop(columns="geometry").to_dict(orient="records"),
            "notes": list(plan.notes),
        }
    return out


def output_crs(result: ScenarioResult) -> pyproj.CRS:
    """The CRS of ``results.gpkg``: the scenario's ``output_crs``, else the CRS the district's
    cells came in, else the planning CRS."""
    chosen = result.scenario.output_crs or getattr(result.district, "source_crs", None)
    return pyproj.CRS.from_user_input(chosen) if chosen is not None else result.district.crs


def write_results(
    result: ScenarioResult,
    folder: str | os.PathLike[str],
    *,
    render_map: Callable[[ScenarioResult, Path], None] | None = None,
) -> Path:
    """Write all outputs of a run into ``folder``, atomically.

    Parameters
    ----------
    result : ScenarioResult
    folder : path-like
        Output folder. An existing folder is replaced only if it is empty or holds an earlier
        schoolmap run (a ``summary.json``); anything else is refused, to protect your files.
    render_map : callable, optional
        ``render_map(result, path)`` writes ``map.html``; default
        :func:`schoolmap.present.maps.render_result_map` (given the proposed catchments
        written beside it). ``report.html`` (see
        :func:`schoolmap.report.render_report`, in the scenario's language) embeds the map.

    Returns
    -------
    Path
        The folder written.
    """
    with atomic_folder(folder, marker="summary.json") as tmp:
        result.timer.start("write results")
        proposed = proposed_catchments(result)
        layers = {"schools": result.schools, "zones": result.zones, "cells": result.cells,
                  "proposed_catchments": proposed}
        if result.new_sites is not None and len(result.new_sites):
            layers["new_sites"] = result.new_sites
        zoning = zoning_tables(result) if _zoned(result) else {}
        if zoning:
            layers["designed_zones"] = zoning["designed_zones"]
            layers["changed_areas"] = zoning["changed_areas"]
            for name in ZONING_FILES:
                _csv(zoning[name], tmp / name)
        crs = output_crs(result)
        layers = {name: frame if frame.crs is None or frame.crs.equals(crs) else frame.to_crs(crs)
                  for name, frame in layers.items()}
        admission = admission_tables(result) if _admitted(result) else {}
        if admission:
            layers["admission_cells"] = admission.pop("admission_cells")
        from schoolmap.present.maps.qgis import qgis_styles

        # exact students (the tables: whole ones), styled for QGIS in the run's language; one
        # view per level and method of the layers that stack them (QGIS: no overlapping points)
        styles = qgis_styles(result.scenario.language)
        views = {f"{layer}_{level}_{method}": (layer, {"level": level, "method": method})
                 for layer in ("schools", "zones") if "method" in layers[layer]
                 for level, method in sorted(set(zip(layers[layer]["level"],
                                                     layers[layer]["method"], strict=True)))}
        styles.update({view: styles[layer] for view, (layer, _) in views.items()})
        write_gpkg(layers, tmp / "results.gpkg", styles=styles, views=views)
        tables = {"proposed_catchments.csv": proposed, **siting_tables(result),
                  "schools.csv": result.schools, "zones.csv": result.zones,
                  "district.csv": result.totals, **forecast_tables(result)}
        if _planned(result):
            tables.update(plan_tables(result))
        tables.update(admission)  # expected students per draw: not rounded
        for name, table in whole_tables(tables).items():
            _csv(table, tmp / name)
        _workbook(result, tmp)
        (tmp / "summary.json").write_text(
            json.dumps(summary(result, proposed), ensure_ascii=False, indent=2,
                       sort_keys=False) + "\n",
            encoding="utf-8")
        if render_map is None:
            from schoolmap.present.maps import render_result_map
            from schoolmap.run.routes import assignment_routes

            render_result_map(result, tmp / "map.html", proposed=proposed,
                              zoning=zoning or None, routes=assignment_routes(result))
        else:
            render_map(result, tmp / "map.html")
        from schoolmap.present.maps.static import static_maps
        from schoolmap.present.report import render_report

        pngs = static_maps(result)  # one labelled PNG per level, beside the report
        for level, png in pngs.items():
            (tmp / f"map_{level}.png").write_bytes(png)
        map_file = tmp / "map.html"
        render_report(result, tmp / "report.html",
                      map_html=map_file.read_text(encoding="utf-8") if map_file.is_file()
                      else None, static_maps=pngs)
        # measured figures (time, memory) differ from run to run: their own file, last
        result.timer.stop()
        (tmp / "stages.json").write_text(json.dumps(result.timer.summary(), indent=2) + "\n",
                                         encoding="utf-8")
    return Path(folder).resolve()
