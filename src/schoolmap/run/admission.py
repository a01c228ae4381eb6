"""The ``[admission]`` step of a run: entry-grade admission odds (入学派位) per level.

:func:`run_admission` simulates every level the ``[admission]`` table names with
:func:`schoolmap.planning.admission_district.simulate_admission` — the applicants are the
children of entry age in the chosen year (the base year's cells, or the forecast's) × the
level's public share — and fills :attr:`ScenarioResult.admission`; with ``quota_share`` it
splits senior schools' 指标生 places over junior schools by graduates
(:attr:`ScenarioResult.admission_quotas`). :func:`admission_tables` gives ``admission.csv``
(one row per level × school), ``admission_classes.csv`` (per level × priority class),
``admission_quotas.csv`` and the ``admission_cells`` layer (per level × cell, polygons);
:func:`admission_summary` the ``admission`` block of ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from schoolmap.demand.cells import demand_by_cell_grade, level_schools
from schoolmap.errors import Problem, ValidationError
from schoolmap.planning.admission_district import (
    CELL_COLUMNS,
    QUOTA_COLUMNS,
    SCHOOL_COLUMNS,
    quota_table,
    simulate_admission,
)

__all__ = ["ADMISSION_FILES", "admission_summary", "admission_tables", "applicants_of",
           "run_admission"]

#: Files a run with ``[admission]`` writes besides the usual ones.
ADMISSION_FILES = ("admission.csv", "admission_classes.csv", "admission_quotas.csv")


def applicants_of(result: Any, level: str, year: int) -> np.ndarray:
    """Students applying for ``level``'s first grade in ``year``, per cell (expected).

    The base year: the cells' children of entry age (:func:`schoolmap.demand.
    demand_by_cell_grade`, first grade); a later year: the forecast's residents of entry age
    × the level's public rate. Raises :class:`ValidationError` when the year has no forecast.
    """
    sc = result.scenario
    if year == sc.base_year:
        return demand_by_cell_grade(result.district.cells, sc.norms, level)[:, 0]
    fc = result.forecast
    years = [] if fc is None else [int(t) for t in fc.years.tolist()]
    if year not in years:
        raise ValidationError([Problem(
            f"{sc.source or sc.name} [admission]", f"year {year} has no forecast (the run "
            f"forecasts {years[0] if years else sc.base_year}–"
            f"{years[-1] if years else sc.base_year}); set year within the horizon or leave "
            "it out for the base year")], "[admission]")
    norm = sc.norms.level(level)
    return fc.residents[years.index(year)][:, norm.ages[0]] * norm.public_rate


def run_admission(result: Any, say: Callable[[str], None]) -> None:
    """Admission odds of every ``[admission]`` level, and the 指标生 quotas (in place)."""
    sc = result.scenario
    settings = sc.admission
    year = settings.year or sc.base_year
    seed = settings.seed if settings.seed is not None else sc.seed
    for level in settings.admission_levels(sc.levels):
        say(f"{level}: admission ({settings.mechanism}, {settings.draws:,} draws)")
        adm = simulate_admission(result.district, level, applicants_of(result, level, year),
                                 year=year, settings=settings, seed=seed, norms=sc.norms)
        result.admission[level] = adm
        result.notes += [f"{level}/admission: {n}" for n in adm.notes]
    if settings.quota_share > 0:
        result.admission_quotas = _quotas(result, year)


def _quotas(result: Any, year: int) -> pd.DataFrame:
    """指标生: senior schools' places split over junior schools by this year's graduates (the
    headline allocation's junior students × the last grade's share of junior demand)."""
    sc = result.scenario
    settings = sc.admission
    senior = level_schools(result.district, sc.norms, "senior", year)
    senior = senior.assign(entry_places=np.floor(senior["seats"].to_numpy(dtype=np.float64)
                                                 / sc.norms.level("senior").n_grades + 1e-9))
    rows = result.schools[(result.schools["level"] == "junior")
                          & (result.schools["method"] == sc.methods[0])]
    if not len(senior) or not len(rows):
        result.notes.append("admission: quotas skipped — they need senior schools and a "
                            "junior level in the run")
        return pd.DataFrame(columns=list(QUOTA_COLUMNS))
    grade = demand_by_cell_grade(result.district.cells, sc.norms, "junior")
    last = float(grade[:, -1].sum() / grade.sum()) if grade.sum() > 0 else 0.0
    graduates = pd.Series(rows["demand"].to_numpy(dtype=np.float64) * last,
                          index=rows["school_id"].astype(str).to_numpy())
    missing = sorted(set(settings.quota_schools) - set(senior["school_id"].astype(str)))
    if missing:
        result.notes.append(f"admission: quota_schools {missing} are not senior schools open "
                            f"in {year}; left out")
    return quota_table(senior, graduates, settings.quota_share, settings.quota_schools)


def admission_tables(result: Any) -> dict[str, Any]:
    """``admission.csv`` (:data:`~schoolmap.planning.admission_district.SCHOOL_COLUMNS`),
    ``admission_classes.csv``, ``admission_quotas.csv`` and the ``admission_cells`` layer
    (:data:`~schoolmap.planning.admission_district.CELL_COLUMNS` and the per-class columns,
    cell polygons in the district CRS)."""
    adms = list(result.admission.values())
    schools = (pd.concat([a.schools for a in adms], ignore_index=True) if adms
               else pd.DataFrame(columns=list(SCHOOL_COLUMNS)))
    classes = (pd.concat([a.classes for a in adms], ignore_index=True) if adms
               else pd.DataFrame(columns=["level", "class"]))
    cells = (pd.concat([a.cells for a in adms], ignore_index=True) if adms
             else pd.DataFrame(columns=list(CELL_COLUMNS)))
    geometry = result.district.cells.set_index("cell_id").geometry
    layer = gpd.GeoDataFrame(cells, geometry=geometry.reindex(cells["cell_id"]).to_numpy(),
                             crs=result.district.crs)
    quotas = result.admission_quotas if result.admission_quotas is not None else \
        pd.DataFrame(columns=list(QUOTA_COLUMNS))
    return {"admission.csv": schools[list(SCHOOL_COLUMNS)],
            "admission_classes.csv": classes, "admission_quotas.csv": quotas,
            "admission_cells": layer}


def admission_summary(result: Any) -> dict[str, Any]:
    """The ``admission`` block of ``summary.json``: per level the mechanism, draws and seed,
    applicants and entry places, the applicant-weighted chance at the zone's first school,
    expected students placed outside the zone and their mean extra distance, per class."""
    out: dict[str, Any] = {}
    for level, adm in result.admission.items():
        cells, odds = adm.cells, adm.odds
        a = cells["applicants"].to_numpy(dtype=np.float64)
        first = cells["chance_first"].to_numpy(dtype=np.float64)
        ok = ~np.isnan(first)
        outside = float(cells["placed_outside"].sum())
        extra = cells["extra_distance_m"].to_numpy(dtype=np.float64)
        w = cells["placed_outside"].to_numpy(dtype=np.float64)
        has = ~np.isnan(extra) & (w > 0)
        out[level] = {
            "year": adm.year, "mechanism": odds.mechanism, "draws": odds.draws,
            "seed": odds.seed, "applicants": int(a.sum()),
            "entry_places": int(adm.schools["entry_places"].sum()),
            "chance_first": float(np.average(first[ok], weights=a[ok])) if a[ok].sum() else None,
            "placed_outside": outside,
            "extra_distance_m": float(np.average(extra[has], weights=w[has])) if has.any()
            else None,
            "no_seat": float(cells["no_seat"].sum()),
            "classes": adm.classes.drop(columns="level").to_dict(orient="records"),
            "notes": list(adm.notes)}
    if result.admission_quotas is not None:
        q = result.admission_quotas
        out["quotas"] = {str(s): int(g["places"].sum()) for s, g in q.groupby("senior_school")}
    return out
