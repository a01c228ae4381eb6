"""Benchmark: nearest-school and catchment (point-in-polygon) allocation at district scale.

Targets (issue "Exact capacitated allocation core"): nearest school for 1,000,000 cells in under
1 s; catchment for 1,000,000 cells in 1,000 zones in under 3 s. Peers, on the same instance in
the same run: geopandas ``sjoin_nearest`` and ``sjoin`` (predicate ``within``).

Run: ``python benchmarks/simple_methods.py [--cells 1000000] [--schools 1000]``. Prints a table
and writes ``benchmarks/results/simple_methods.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from schoolmap.allocation import allocate_catchment, allocate_nearest


def make_instance(n_cells: int, n_schools: int, seed: int = 0):
    """Clustered cells in a 30 km × 30 km city; zones = nearest-school cells on a 100 m grid."""
    rng = np.random.default_rng(seed)
    side = 30_000.0
    centres = rng.uniform(0, side, (20, 2))
    which = rng.integers(0, 20, n_cells)
    cells = np.clip(centres[which] + rng.normal(0, 2500, (n_cells, 2)), 0, side)
    schools = cells[rng.choice(n_cells, n_schools, replace=False)] + rng.normal(0, 50,
                                                                                  (n_schools, 2))
    demand = rng.integers(0, 40, n_cells).astype(np.float64)
    # zones: Voronoi-like polygons built as the union of 250 m grid squares nearest each school
    g = np.arange(0, side, 250.0)
    gx, gy = np.meshgrid(g, g)
    centre = np.column_stack([gx.ravel() + 125, gy.ravel() + 125])
    from scipy.spatial import cKDTree

    owner = cKDTree(schools).query(centre)[1]
    squares = shapely.box(centre[:, 0] - 125, centre[:, 1] - 125, centre[:, 0] + 125,
                          centre[:, 1] + 125)
    polys = [shapely.union_all(squares[owner == j]) for j in range(n_schools)]
    school_ids = [f"S{j:04d}" for j in range(n_schools)]
    zones = gpd.GeoDataFrame({"zone_id": school_ids, "school_id": school_ids}, geometry=polys,
                             crs="EPSG:32651")
    sch = gpd.GeoDataFrame({"school_id": school_ids, "seats": np.full(n_schools, 1000.0)},
                           geometry=shapely.points(schools), crs="EPSG:32651")
    return cells, demand, sch, zones


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=1_000_000)
    ap.add_argument("--schools", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cells, demand, schools, zones = make_instance(args.cells, args.schools)
    sxy = shapely.get_coordinates(schools.geometry.array)
    allocate_nearest(cells[:1000], demand[:1000], sxy)  # warm-up
    rows = []
    t = timed(lambda: allocate_nearest(cells, demand, sxy), args.repeat)
    rows.append(("nearest", "schoolmap allocate_nearest", t, 1.0))
    pts = gpd.GeoDataFrame(geometry=shapely.points(cells), crs="EPSG:32651")
    t = timed(lambda: gpd.sjoin_nearest(pts, schools[["geometry"]]), 1)
    rows.append(("nearest", "geopandas sjoin_nearest", t, None))
    t = timed(lambda: allocate_catchment(cells, demand, schools, zones), args.repeat)
    rows.append(("catchment", "schoolmap allocate_catchment", t, 3.0))
    t = timed(lambda: gpd.sjoin(pts, zones[["geometry"]], predicate="within"), 1)
    rows.append(("catchment", "geopandas sjoin (within)", t, None))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.cells:,} cells, {args.schools:,} schools/zones; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{'task':<10} {'tool':<30} {'seconds':>9} {'target':>8}")
    for task, tool, sec, target in rows:
        tgt = f"< {target:g}" if target else ""
        print(f"{task:<10} {tool:<30} {sec:9.3f} {tgt:>8}")
    print(f"peak memory of the whole run: {peak_mb:,.0f} MB")
    out = Path(__file__).parent / "results" / "simple_methods.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "cells": args.cells, "schools": args.schools, "cores": os.cpu_count(),
        "results": [{"task": a, "tool": b, "seconds": c, "target_s": d} for a, b, c, d in rows],
        "peak_rss_mb": peak_mb,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
