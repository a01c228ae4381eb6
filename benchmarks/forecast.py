"""Benchmark: forecasting a 600,000-resident district over 15 years with a 200-member ensemble.

Target (issue "Enrolment forecasting"): under 30 s on 2 cores. Times the per-cell cohort
projection (with new housing), the year-by-year level demand, the same projection with births
from women 15–49 × age-specific fertility and net migration by age in 20 zones, and the seeded
ensemble of the district totals, on a synthetic district of 60,000 cells. Prints a table and writes
``benchmarks/results/forecast.json``.

Run: ``python benchmarks/forecast.py [--cells 60000] [--residents 600000] [--years 15]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import Point

from schoolmap.forecast import (
    WOMEN_BANDS,
    forecast_ensemble,
    forecast_residents,
    housing_children,
    level_totals,
)
from schoolmap.norms import default_norms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=60_000)
    ap.add_argument("--residents", type=int, default=600_000)
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--members", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(20261124)
    norms = default_norms()
    # national births 2009–2026 (millions) shape the age structure; 16 % of residents are 0–17
    births_by_age = np.array([9.0, 9.5, 9.0, 9.6, 10.6, 12.0, 14.7, 15.2, 17.2, 17.9, 16.6,
                              16.9, 16.4, 16.4, 16.0, 15.9, 16.0, 16.2])
    share = births_by_age / births_by_age.sum()
    per_cell = rng.gamma(1.0, args.residents / args.cells, args.cells)
    children = per_cell * 0.16
    ages = rng.poisson(children[:, None] * share[None, :]).astype(np.float64)
    xy = rng.uniform(0, 25_000, (args.cells, 2))
    devs = gpd.GeoDataFrame(
        {"dwellings": rng.integers(400, 3000, 25),
         "housing_type": rng.choice(["commodity", "affordable", "resettlement", "rental"], 25),
         "completion_year": rng.integers(2026, 2033, 25)},
        geometry=[Point(x, y) for x, y in rng.uniform(0, 25_000, (25, 2))])
    levels = {lv: norms.level(lv) for lv in ("kindergarten", "primary", "junior")}
    births = ages[:, 0].sum() * np.linspace(1.0, 0.8, args.years)
    # women 15–49: about a quarter of residents, a little more in the 30s
    band_share = np.array([0.11, 0.12, 0.15, 0.17, 0.16, 0.15, 0.14])
    women = rng.poisson(per_cell[:, None] * 0.24 * band_share[None, :]).astype(np.float64)
    n_zones = 20
    zone = rng.integers(0, n_zones, args.cells)
    zone_rates = np.broadcast_to(rng.normal(0.005, 0.005, (n_zones, 18)),
                                 (args.years, n_zones, 18))
    forecast_residents(ages[:10], 1)  # JIT warm-up (cached)
    forecast_ensemble(ages[:10].sum(axis=0), births[:1], members=2)
    rows = []
    t0 = time.perf_counter()
    added = housing_children(devs, xy, levels, base_year=2026, years=args.years)
    rows.append(("new housing → children by cell, year, age", time.perf_counter() - t0))
    t0 = time.perf_counter()
    f = forecast_residents(ages, args.years, births=births, migration=0.005, added=added)
    demand = {lv: f.level_demand(n).sum(axis=1) for lv, n in levels.items()}
    rows.append(("cohort projection per cell + level demand", time.perf_counter() - t0))
    t0 = time.perf_counter()
    fert = forecast_residents(ages, args.years, migration=zone_rates, migration_group=zone,
                              added=added, women=women)
    rows.append((f"same, births from women × fertility ({len(WOMEN_BANDS)} bands), migration "
                 f"by age in {n_zones} zones", time.perf_counter() - t0))
    t0 = time.perf_counter()
    ens = forecast_ensemble(ages.sum(axis=0), births, members=args.members, seed=1,
                            added_total=added.sum(axis=1))
    bands = {lv: np.percentile(level_totals(ens, n), [10, 50, 90], axis=0).tolist()
             for lv, n in levels.items()}
    rows.append((f"{args.members}-member ensemble + P10/P50/P90", time.perf_counter() - t0))
    total = sum(s for _, s in rows)
    print(f"{args.cells:,} cells, {ages.sum() / 0.16:,.0f} residents, {args.years} years; "
          f"{os.cpu_count()} cores")
    print("| step | seconds |\n|---|---:|")
    for name, sec in rows:
        print(f"| {name} | {sec:.2f} |")
    print(f"| **total** (target < 30 s) | **{total:.2f}** |")
    peak = {lv: int(2026 + np.argmax(d)) for lv, d in demand.items()}
    print("peak years:", peak)
    births_fert = fert.births.round().tolist()
    print("births from fertility, base year then forecast years:", births_fert[:4], "…")
    out = Path(__file__).parent / "results" / "forecast.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"cells": args.cells, "years": args.years,
                               "members": args.members,
                               "steps": [{"step": n, "seconds": s} for n, s in rows],
                               "total_seconds": total, "peak_years": peak,
                               "births_from_fertility": births_fert,
                               "ensemble_p10_p50_p90": bands}, indent=2) + "\n")


if __name__ == "__main__":
    main()
