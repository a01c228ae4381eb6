"""Benchmark: many districts × scenarios, serially vs on a local Dask cluster.

Generates ``--districts`` (40) seeded county-like districts (a grid of 200 m cells, 12–30 cells
a side; primary and junior schools with rectangular catchments, unzoned kindergartens), three
scenarios (baseline, births −20 %, migration surge; horizon 10, catchment + nearest), runs the
120 tasks one after another in this process and then on a ``LocalCluster`` (one single-threaded
worker process per core), checks the tables are equal, and reports the speed-up, the per-task
overhead of the cluster (no-op round trips, and wall × workers − work), and a paper estimate for
a province-scale run (2,800 counties on 10 machines) from the time of one demo-district task.
Prints a markdown table and writes ``benchmarks/results/batch.json``.

Also times writing the gathered tables, summary and province map, and bounds the province map's
size for the estimate's counties. Run: ``python benchmarks/batch.py [--districts 40] [--workers 2]
[--no-demo] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point, box

from schoolmap.distributed import (
    OUTLINE_MAX_POINTS,
    BatchTask,
    dask_client,
    read_manifest,
    run_batch,
    run_task,
    write_batch,
)
from schoolmap.outputs import write_gpkg

ROOT = Path(__file__).resolve().parents[1]
CRS = "EPSG:32651"
X0, Y0 = 500_000.0, 3_500_000.0
SCENARIO = """\
name = "{name}"
district = "d00.gpkg"
base_year = 2026
horizon = 10
levels = ["kindergarten", "primary", "junior"]
methods = ["catchment", "nearest"]
[forecast]
births_trend = -0.01
migration = 0.005
housing = false
{extra}
"""
SCENARIOS = {"base": "", "low-births": "births_change = -0.20",
             "migration-surge": "migration_change = 0.02"}


def make_district(path: Path, seed: int) -> int:
    """Write a seeded county-like district; returns its number of cells."""
    rng = np.random.default_rng(seed)
    side = int(rng.integers(12, 31))
    cell = 200.0
    xs, ys = np.meshgrid(np.arange(side), np.arange(side))
    xs, ys = xs.ravel(), ys.ravel()
    centre = (side - 1) / 2
    density = np.exp(-((xs - centre) ** 2 + (ys - centre) ** 2) / (0.3 * side ** 2))
    per_age = rng.poisson(25 * density[:, None] * rng.uniform(0.7, 1.3, (len(xs), 18)))
    cells = pd.DataFrame({"cell_id": [f"C{i:04d}" for i in range(len(xs))]})
    for a in range(18):
        cells[f"age_{a}"] = per_age[:, a]
    cells["population"] = per_age.sum(axis=1) * 5
    cells["households"] = per_age.sum(axis=1) * 2
    cells = gpd.GeoDataFrame(cells, geometry=[
        box(X0 + x * cell, Y0 + y * cell, X0 + (x + 1) * cell, Y0 + (y + 1) * cell)
        for x, y in zip(xs, ys, strict=True)], crs=CRS)
    schools, zones = [], []
    extent = side * cell
    for level, block, seats_per_block in (("primary", 6, 900.0), ("junior", 10, 1200.0),
                                          ("kindergarten", 5, 270.0)):
        n = max(1, math.ceil(side / block))
        size = extent / n
        for i in range(n):
            for j in range(n):
                sid = f"{level[0].upper()}{i}{j}"
                x = X0 + (i + 0.5) * size + rng.uniform(-0.2, 0.2) * size
                y = Y0 + (j + 0.5) * size + rng.uniform(-0.2, 0.2) * size
                seats = float(np.round(seats_per_block * rng.uniform(0.6, 1.4), -1))
                classes = max(3, int(seats // (45 if level != "kindergarten" else 30)))
                schools.append({"school_id": sid, "name": f"{level} {i}-{j}", "level": level,
                                "seats": seats, "classes": classes,
                                "sector": "puhui" if level == "kindergarten" else "public",
                                "open_year": np.nan, "close_year": np.nan,
                                "geometry": Point(x, y)})
                if level != "kindergarten":
                    zones.append({"zone_id": f"Z{sid}", "level": level, "school_id": sid,
                                  "name": f"zone {sid}", "geometry": box(
                                      X0 + i * size - 1, Y0 + j * size - 1,
                                      X0 + (i + 1) * size + 1, Y0 + (j + 1) * size + 1)})
    write_gpkg({"cells": cells, "schools": gpd.GeoDataFrame(schools, crs=CRS),
                "zones": gpd.GeoDataFrame(zones, crs=CRS)}, path)
    return len(cells)


def _noop(i: int) -> int:
    return i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--districts", type=int, default=40)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-demo", action="store_true",
                    help="skip timing one task on the demo district (the estimate's basis)")
    ap.add_argument("--machines", type=int, default=10)
    ap.add_argument("--cores", type=int, default=8, help="cores per machine (estimate)")
    ap.add_argument("--counties", type=int, default=2800)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "batch.json",
                    help="where to write the results")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="schoolmap-batch-") as tmp:
        d = Path(tmp)
        sizes = [make_district(d / f"d{k:02d}.gpkg", args.seed + k)
                 for k in range(args.districts)]
        for name, extra in SCENARIOS.items():
            (d / f"{name}.toml").write_text(SCENARIO.format(name=name, extra=extra),
                                            encoding="utf-8")
        scen = ", ".join(f'"{n}.toml"' for n in SCENARIOS)
        (d / "batch.toml").write_text(f'scenarios = [{scen}]\ndistricts = "d*.gpkg"\n',
                                      encoding="utf-8")
        tasks = read_manifest(d / "batch.toml").tasks()
        print(f"{args.districts} districts ({min(sizes)}–{max(sizes)} cells, "
              f"{sum(sizes):,} in all) × {len(SCENARIOS)} scenarios = {len(tasks)} tasks")

        run_task(tasks[0])  # warm up: numba kernels loaded/compiled in this process
        serial = run_batch(tasks)
        assert serial.ok, serial.failures
        print(f"serial: {serial.seconds:.1f} s")

        with dask_client(n_workers=args.workers) as client:
            n_workers = len(client.scheduler_info()["workers"])
            t0 = time.perf_counter()
            client.run(run_task, tasks[0])  # warm up every worker once (kernels, imports)
            warm = time.perf_counter() - t0
            t0 = time.perf_counter()
            futures = client.map(_noop, range(400), pure=False)
            client.gather(futures)
            noop = (time.perf_counter() - t0) / 400
            del futures
            cluster = run_batch(tasks, client)
            assert cluster.ok, cluster.failures
            dashboard = client.dashboard_link
        pd.testing.assert_frame_equal(cluster.totals, serial.totals)
        pd.testing.assert_frame_equal(cluster.forecast, serial.forecast)
        print(f"cluster ({n_workers} workers): {cluster.seconds:.1f} s; tables equal")
        t0 = time.perf_counter()
        folder = write_batch(cluster, d / "out", read_manifest(d / "batch.toml"))
        write_s = time.perf_counter() - t0
        page = (folder / "province_map.html").read_text(encoding="utf-8")
        map_mb = len(page.encode("utf-8")) / 1e6
        # per district and scenario: the popup and colour; per district: at most the capped
        # outline (about 24 bytes a point in the page)
        per_task = (len(page.encode("utf-8")) - len(page.split("const data = ")[0])) / len(tasks)
        map_estimate_mb = (args.counties * len(SCENARIOS) * per_task
                           + args.counties * OUTLINE_MAX_POINTS * 24) / 1e6
        print(f"writing tables, summary and province map: {write_s:.2f} s "
              f"(province_map.html {map_mb:.2f} MB)")

    work = sum(cluster.task_seconds)
    overhead = (cluster.seconds * n_workers - work) / len(tasks)
    mean_task = serial.seconds / len(tasks)
    demo_task = None
    if not args.no_demo:
        from schoolmap.scenario import load_scenario

        sc = load_scenario(ROOT / "scenarios" / "demo.toml")
        t = BatchTask("demo", sc.district, sc)
        t0 = time.perf_counter()
        run_task(t)
        demo_task = time.perf_counter() - t0
        print(f"one demo-district task (22,061 cells, 3 methods, 200-member ensemble): "
              f"{demo_task:.1f} s")
    basis = demo_task if demo_task is not None else mean_task
    slots = args.machines * args.cores
    n_prov = args.counties * len(SCENARIOS)
    est = math.ceil(n_prov / slots) * (basis + max(overhead, 0.0))

    rows = [
        ("tasks (districts × scenarios)", f"{len(tasks)}"),
        ("serial, this process", f"{serial.seconds:.1f} s ({mean_task:.2f} s/task)"),
        (f"LocalCluster, {n_workers} workers × 1 thread", f"{cluster.seconds:.1f} s"),
        ("speed-up", f"{serial.seconds / cluster.seconds:.2f}×"),
        ("worker warm-up (once per worker)", f"{warm:.2f} s"),
        ("no-op task round trip", f"{1000 * noop:.1f} ms"),
        ("overhead per task (wall × workers − work)", f"{1000 * overhead:.0f} ms"),
        ("write tables, summary and province map", f"{write_s:.2f} s "
         f"(province_map.html {map_mb:.2f} MB)"),
        (f"province map for {args.counties:,} counties × {len(SCENARIOS)} scenarios "
         f"(≤ {OUTLINE_MAX_POINTS} points per outline)", f"≤ {map_estimate_mb:.0f} MB"),
    ]
    if demo_task is not None:
        rows.append(("one demo-district task (estimate's basis)", f"{demo_task:.1f} s"))
    rows.append((f"estimate: {args.counties:,} counties × {len(SCENARIOS)} scenarios on "
                 f"{args.machines} machines × {args.cores} cores",
                 f"≈ {est / 60:.0f} min ({n_prov:,} tasks, {math.ceil(n_prov / slots)} waves)"))
    print()
    print("| measure | value |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    load = os.getloadavg()
    print(f"\nload average (1/5/15 min) at the end: {load[0]:.1f} / {load[1]:.1f} / "
          f"{load[2]:.1f} on {os.cpu_count()} cores (other work on the machine slows both runs)")
    out = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "load_average_at_end": list(load)},
        "districts": args.districts, "cells": sizes, "scenarios": list(SCENARIOS),
        "tasks": len(tasks), "workers": n_workers, "serial_s": serial.seconds,
        "cluster_s": cluster.seconds, "speedup": serial.seconds / cluster.seconds,
        "warmup_s": warm, "noop_roundtrip_s": noop, "overhead_per_task_s": overhead,
        "write_s": write_s, "province_map_mb": map_mb,
        "province_map_estimate_mb": map_estimate_mb,
        "mean_task_s": mean_task, "demo_task_s": demo_task, "dashboard": dashboard,
        "estimate": {"counties": args.counties, "machines": args.machines,
                     "cores_per_machine": args.cores, "tasks": n_prov,
                     "task_s": basis, "minutes": est / 60,
                     "assumes": "every county costs one demo-district task; workers read "
                                "districts from a shared folder; no straggler effects"},
    }
    path = args.json.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
