"""Benchmark: a whole city — the full demo-like scenario at 25k / 100k / 250k / 1M cells (issue 16).

Each size is a seeded district of 100 m cells on a square grid (EPSG:32651): a dense core
(population falling off with distance from the centre), suburbs around it and rural scatter
(a few villages among nearly empty cells). Three levels (kindergarten, primary, junior). Schools
of each level stand at the centres of square blocks of cells (block sides 6 / 10 / 16 cells in
the core and twice that outside it); a school's catchment (``zones``) is its block
(kindergartens unzoned). Seats are sized against the demand schoolmap itself computes
(:func:`schoolmap.demand.demand_by_cell_grade` with the default norms), per level and area:

- core: seats 97 % of demand (short), suburbs 100 %, rural 103 % (spare);

so a level's seats are 97–103 % of its demand; the ratio of seats to demand of every level and
area is round(ratio × demand) exactly (whole seats; asserted within 0.5 % before any run).
A few developments (new housing) stand in the suburbs.

The scenario is the demo's: three levels, catchment / nearest / optimal, horizon 10, the same
forecast (ensemble of 200 members), ``[siting]`` with the demo's reach; map tiles ``none``.
Each size runs ``schoolmap run`` in a fresh process under a time limit, its steps going to
``run.log`` in the size's folder (timestamped lines: ``tail -f`` it); the figures per stage
come from its ``stages.json`` (wall and CPU time, peak RSS within the stage). The 1-minute
load of the machine is recorded before and after each run.

Prints a markdown table and writes ``benchmarks/results/city.json``.

Run: ``python benchmarks/city.py [--sizes 25000 100000 250000 1000000] [--timeout 1800]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).parent
CRS = "EPSG:32651"
X0, Y0 = 500_000.0, 3_500_000.0
CELL = 100.0
SEED = 16
#: seats ÷ demand by area
SEAT_RATIO = {"core": 0.97, "suburb": 1.00, "rural": 1.03}
#: school block side in cells (core); suburbs and rural use twice this
BLOCK = {"kindergarten": 6, "primary": 10, "junior": 16}
LEVELS = ("kindergarten", "primary", "junior")
SCENARIO = """\
name = "city"
district = "city.gpkg"
base_year = 2026
horizon = 10
levels = ["kindergarten", "primary", "junior"]
methods = ["catchment", "nearest", "optimal"]
output = "out"
seed = 0
[norms.kindergarten]
enrolment_rate = 0.90
[norms.primary]
private_share = 0.04
[norms.junior]
private_share = 0.04
[forecast]
births_trend = -0.01
migration = 0.005
housing = true
housing_delay = 1
ensemble = 200
births_cv = 0.05
migration_sd = 0.01
[map]
tiles = "none"
[siting]
reach_m = { kindergarten = 3000, primary = 3000, junior = 5000 }
target_unserved = 0
"""


def make_city(n_cells: int, seed: int = SEED) -> dict[str, gpd.GeoDataFrame]:
    """The layers of a seeded city of about ``n_cells`` 100 m cells (a square grid).

    Returns ``cells``, ``schools``, ``zones`` and ``developments`` in EPSG:32651 (metres);
    ``cells.area_type`` is ``core``, ``suburb`` or ``rural``.
    """
    from schoolmap.demand import demand_by_cell_grade
    from schoolmap.norms import default_norms

    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(n_cells)))
    ix, iy = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    ix, iy = ix.ravel(), iy.ravel()
    c = (side - 1) / 2.0
    r = np.hypot(ix - c, iy - c) / (side / 2.0)  # 0 at the centre, 1 at the edge's middle
    area = np.where(r < 0.25, "core", np.where(r < 0.6, "suburb", "rural"))
    dens = np.where(area == "core", 900.0 * np.exp(-r / 0.15),
                    np.where(area == "suburb", 120.0 * np.exp(-(r - 0.25) / 0.2), 0.0))
    # rural scatter: villages of a few cells among nearly empty land
    village = (area == "rural") & (rng.random(len(r)) < 0.04)
    dens = dens + np.where(village, rng.uniform(20, 80, len(r)), 0.0)
    dens = dens + np.where(area == "rural", 0.5, 0.0)
    per_age = rng.poisson(dens[:, None] / 90.0 * rng.uniform(0.8, 1.2, (len(r), 18)))
    cells = pd.DataFrame({"cell_id": [f"C{i:07d}" for i in range(len(r))]})
    for a in range(18):
        cells[f"age_{a}"] = per_age[:, a]
    cells["population"] = np.maximum(per_age.sum(axis=1) * 5, per_age.sum(axis=1))
    cells["households"] = cells["population"] // 3
    cells["area_type"] = area
    x, y = X0 + ix * CELL, Y0 + iy * CELL
    cells = gpd.GeoDataFrame(cells, geometry=shapely.box(x, y, x + CELL, y + CELL), crs=CRS)
    norms = default_norms()
    schools, zones = [], []
    for level in LEVELS:
        demand = demand_by_cell_grade(cells, norms, level).sum(axis=1)
        for part, ratio in SEAT_RATIO.items():
            b = BLOCK[level] * (1 if part == "core" else 2)
            bx, by = ix // b, iy // b
            inside = area == part
            key = bx[inside] * (side // b + 1) + by[inside]
            keys, inv = np.unique(key, return_inverse=True)
            block_demand = np.bincount(inv, weights=demand[inside], minlength=len(keys))
            # the area's seats, round(ratio × its demand), shared over the blocks with a
            # school (≥ 1 student) by largest remainders: the stated ratio holds exactly
            kept = block_demand >= 1.0
            share = ratio * demand[inside].sum() * block_demand * kept / block_demand[kept].sum()
            seats = np.floor(share)
            extra = int(round(ratio * demand[inside].sum()) - seats.sum())
            seats[np.argsort(-(share - seats), kind="stable")[:extra]] += 1
            for k, kk in enumerate(keys):
                if not kept[k]:
                    continue
                i, j = divmod(int(kk), side // b + 1)
                members = np.flatnonzero(inside)[inv == k]
                # the school in the block's most populous cell
                home = members[np.argmax(demand[members])]
                sid = f"{level[0].upper()}{part[0]}{i:03d}{j:03d}"
                schools.append({"school_id": sid, "name": f"{level} {part} {i}-{j}",
                                "level": level, "seats": float(max(seats[k], 1.0)),
                                "classes": max(1, int(round(seats[k] / 45.0))),
                                "sector": "puhui" if level == "kindergarten" else "public",
                                "open_year": np.nan, "close_year": np.nan,
                                "geometry": shapely.Point(x[home] + 50.0, y[home] + 50.0)})
                if level != "kindergarten":
                    zones.append({"zone_id": f"Z{sid}", "level": level, "school_id": sid,
                                  "name": f"zone {sid}",
                                  "geometry": shapely.union_all(cells.geometry.values[members])
                                  .envelope})
    schools = gpd.GeoDataFrame(schools, crs=CRS)
    zones = gpd.GeoDataFrame(zones, crs=CRS)
    sub = np.flatnonzero(area == "suburb")
    pick = rng.choice(sub, size=min(len(sub), max(4, n_cells // 25_000)), replace=False)
    devs = gpd.GeoDataFrame({
        "dev_id": [f"D{k:04d}" for k in range(len(pick))],
        "name": [f"development {k}" for k in range(len(pick))],
        "dwellings": rng.integers(300, 2000, len(pick)),
        "housing_type": rng.choice(["commodity", "affordable", "resettlement"], len(pick)),
        "completion_year": rng.integers(2027, 2033, len(pick))},
        geometry=shapely.points(x[pick] + 50.0, y[pick] + 50.0), crs=CRS)
    check_city(cells, schools)
    return {"cells": cells, "schools": schools, "zones": zones, "developments": devs}


def check_city(cells: gpd.GeoDataFrame, schools: gpd.GeoDataFrame) -> dict[str, float]:
    """Assert seats ÷ demand of every level and area is the stated ratio (within 0.5 %)."""
    from schoolmap.demand import demand_by_cell_grade
    from schoolmap.norms import default_norms

    norms = default_norms()
    out = {}
    for level in LEVELS:
        demand = demand_by_cell_grade(cells, norms, level).sum(axis=1)
        lv = schools[schools.level == level]
        for part, ratio in SEAT_RATIO.items():
            d = demand[cells.area_type.to_numpy() == part].sum()
            s = lv.loc[lv.school_id.str[1] == part[0], "seats"].sum()
            got = s / d
            assert abs(got - ratio) <= 0.005 * ratio, (level, part, got, ratio)
            out[f"{level}/{part}"] = round(float(got), 4)
        out[f"{level}/all"] = round(float(lv.seats.sum() / demand.sum()), 4)
        assert 0.97 <= out[f"{level}/all"] <= 1.03, (level, out[f"{level}/all"])
    return out


def run_size(n_cells: int, timeout: float, work: Path) -> dict:
    """Generate, write and run one size; the row of the results table."""
    from schoolmap.outputs import write_gpkg

    folder = work / f"city{n_cells}"
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    layers = make_city(n_cells)
    write_gpkg(layers, folder / "city.gpkg")
    ratios = check_city(layers["cells"], layers["schools"])
    row = {"cells": len(layers["cells"]), "schools": len(layers["schools"]),
           "generate_s": round(time.perf_counter() - t0, 1), "seats_over_demand": ratios}
    del layers
    (folder / "city.toml").write_text(SCENARIO, encoding="utf-8")
    row["load_before"] = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    log = folder / "run.log"  # the run's timestamped steps, to follow while it runs
    try:
        with log.open("w", encoding="utf-8") as out:
            proc = subprocess.run([sys.executable, "-m", "schoolmap", "run",
                                   str(folder / "city.toml")], stdout=out,
                                  stderr=subprocess.PIPE, text=True, timeout=timeout)
        row["status"] = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        if proc.returncode:
            row["stderr"] = proc.stderr[-2000:]
    except subprocess.TimeoutExpired:
        row["status"] = f"stopped after {timeout:.0f} s"
    row["last_steps"] = log.read_text(encoding="utf-8").strip().splitlines()[-3:]
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    row["load_after"] = round(os.getloadavg()[0], 2)
    stages = folder / "out" / "stages.json"
    if row["status"] == "ok" and stages.is_file():
        st = json.loads(stages.read_text(encoding="utf-8"))
        row["stages"] = st["stages"]
        row["peak_rss_mb"] = st["peak_rss_mb"]
        out = folder / "out"
        row["files_mb"] = {p.name: round(p.stat().st_size / 1e6, 2) for p in sorted(out.iterdir())
                           if p.suffix in (".html", ".gpkg")}
    return row


def _table(rows: list[dict]) -> str:
    lines = ["| cells | wall (s) | CPU (s) | peak RSS (GB) | slowest stages (wall/CPU s) "
             "| map.html (MB) | load | status |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        stages = sorted(row.get("stages", []), key=lambda s: -s["seconds"])[:3]
        slow = ", ".join(f"{s['stage']} {s['seconds']:.0f}/{s.get('cpu_seconds', 0):.0f}"
                         for s in stages)
        peak = row.get("peak_rss_mb")
        cpu = sum(s.get("cpu_seconds", 0.0) for s in row.get("stages", []))
        lines.append(
            f"| {row['cells']:,} | {row['wall_s']:.0f} | {f'{cpu:.0f}' if cpu else ''} | "
            f"{'' if peak is None else f'{peak / 1024:.1f}'} | {slow} | "
            f"{row.get('files_mb', {}).get('map.html', '')} | "
            f"{row['load_before']}–{row['load_after']} | {row['status']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000, 250_000, 1_000_000])
    ap.add_argument("--timeout", type=float, default=1800.0, help="per size (s)")
    ap.add_argument("--work", type=Path, default=None, help="folder for districts and results")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "city.json")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="schoolmap-city-"))
    rows = []
    for n in args.sizes:
        rows.append(run_size(n, args.timeout, work))
        print(_table(rows[-1:]).splitlines()[-1], flush=True)
        args.json.write_text(json.dumps({
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "platform": platform.platform()},
            "scenario": SCENARIO, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    print(_table(rows))


if __name__ == "__main__":
    main()
