"""Benchmark: catchment design (issue 15) on the demo, on Durham, and at district scale.

- ``demo``: primary and junior, school year 2026: the designed zones (pieces, zones over seats,
  travel against the proven lower bound, pupils moved) against the official zones and the
  optimum dissolved by main school (pupils moved counted flow by flow, as
  :func:`schoolmap.allocation.catchments.students_changing_by_cell` does, and cell by cell);
- ``tradeoff``: the same over a range of ``move_weight`` — travel against pupils moved;
- ``durham``: elementary (primary) and middle (junior), 2024/25: official against designed
  (zones over capacity, students moved, mean trip);
- ``speed``: the demo's two levels (adjacency built once, then each level designed), and a
  synthetic district of 100,000 cells (a 250 × 400 grid of 100 m squares, Poisson students)
  × 300 schools with 10 % spare seats, official zones = nearest school, with the gap.

The machine is shared with other engineers' jobs: the load average before and after each row is
recorded, and times are wall-clock on that load.

Prints a table and writes ``benchmarks/results/zoning.json``.

Run: ``python benchmarks/zoning.py [--skip-large]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from schoolmap.allocation import allocate
from schoolmap.allocation.catchments import students_changing_by_cell
from schoolmap.allocation.design import DEFAULT_MOVE_WEIGHT_M, design_zones
from schoolmap.allocation.zoning import cell_adjacency, design_catchments
from schoolmap.demand import demand_by_cell_grade, level_schools
from schoolmap.io.district import read_district
from schoolmap.norms import default_norms

HERE = Path(__file__).parent
ROOT = HERE.parent
OUT = HERE / "results" / "zoning.json"
WEIGHTS = (0.0, 300.0, 1000.0, 1500.0, 2000.0, 3000.0, 10000.0)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def row_of(r, extra=None) -> dict:
    s = r.summary()
    z = r.zones
    return {
        "level": r.level, "year": r.year, "n_zones": s["n_zones"],
        "zones_several_pieces": s["zones_several_pieces"],
        "zones_over_capacity": s["zones_over_capacity"],
        "max_utilisation_seen": float((z["students"] / z["seats"]).max()),
        "students": s["students"], "students_moved": s["students_moved"],
        "students_moved_bound": s["students_moved_bound"],
        "students_unzoned": s["students_unzoned"], "mean_trip_m": round(s["mean_trip_m"], 1),
        "travel_student_m": round(s["travel_student_m"]),
        "travel_bound_student_m": round(s["travel_bound_student_m"]),
        "travel_gap": round(s["travel_gap"], 5), "gap_with_moves": round(s["gap"], 5),
        "official": s["official"],
        "dissolved_optimum_moved_cells": s["dissolved_optimum_students_moved"],
        "method": s["method"], "seconds": round(s["seconds"], 2), **(extra or {}),
    }


def dissolved_moved_flows(district, level, year, norms) -> float:
    """Pupils changing school if the optimal allocation replaced the official zones (flows)."""
    schools = level_schools(district, norms, level, year)
    demand = demand_by_cell_grade(district.cells, norms, level).sum(axis=1)
    opt = allocate(district, level, "optimal", year=year, norms=norms, schools=schools,
                   demand_by_cell=demand)
    off = allocate(district, level, "catchment", year=year, norms=norms, schools=schools,
                   demand_by_cell=demand)
    return float(students_changing_by_cell(opt, off).sum())


def demo_rows(norms) -> tuple[list[dict], list[dict], dict]:
    district = read_district(ROOT / "data" / "geo" / "demo.gpkg")
    t = time.perf_counter()
    adj = cell_adjacency(district.cells)
    t_adj = time.perf_counter() - t
    rows, trade = [], []
    t_levels = 0.0
    for level in ("primary", "junior"):
        before = load()
        t = time.perf_counter()
        r = design_catchments(district, level, 2026, adjacency=adj, norms=norms)
        wall = time.perf_counter() - t
        t_levels += wall
        rows.append(row_of(r, {"district": "demo", "wall_s": round(wall, 2),
                               "load_before": before, "load_after": load(),
                               "dissolved_optimum_moved_flows":
                                   dissolved_moved_flows(district, level, 2026, norms)}))
        for w in WEIGHTS:
            rw = design_catchments(district, level, 2026, adjacency=adj, norms=norms,
                                   move_weight=w)
            s = rw.summary()
            trade.append({"district": "demo", "level": level, "move_weight": w,
                          "travel_student_m": round(s["travel_student_m"]),
                          "travel_gap": round(s["travel_gap"], 5),
                          "students_moved": s["students_moved"],
                          "students_moved_bound": s["students_moved_bound"],
                          "travel_gap_at_moved": round(
                              s["travel_student_m"] / s["travel_bound_at_moved_student_m"] - 1,
                              5),
                          "mean_trip_m": round(s["mean_trip_m"], 1),
                          "zones_over_capacity": s["zones_over_capacity"],
                          "zones_several_pieces": s["zones_several_pieces"]})
    speed = {"demo_adjacency_s": round(t_adj, 2), "demo_two_levels_s": round(t_levels, 2),
             "demo_total_s": round(t_adj + t_levels, 2)}
    return rows, trade, speed


def durham_rows() -> list[dict]:
    district = read_district(ROOT / "data" / "geo" / "durham" / "durham.gpkg")
    norms = default_norms().with_overrides({"grade_system": "us"})
    rows = []
    for level in ("primary", "junior"):
        before = load()
        t = time.perf_counter()
        r = design_catchments(district, level, 2024, norms=norms)
        rows.append(row_of(r, {"district": "durham", "wall_s": round(time.perf_counter() - t, 2),
                               "load_before": before, "load_after": load()}))
    return rows


def large_row(n_rows=250, n_cols=400, m=300, seed=15) -> dict:
    rng = np.random.default_rng(seed)
    n = n_rows * n_cols
    idx = np.arange(n).reshape(n_rows, n_cols)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    adj = sp.coo_matrix((np.full(len(a), 100.0), (a, b)), shape=(n, n))
    adj = (adj + adj.T).tocsr()
    yx = np.indices((n_rows, n_cols)).reshape(2, -1).T * 100.0 + 50.0
    xy = yx[:, ::-1].copy()
    students = rng.poisson(rng.gamma(2.0, 1.0, n)).astype(float)
    school_cell = rng.choice(n, m, replace=False)
    sxy = xy[school_cell]
    from scipy.spatial import cKDTree

    official = cKDTree(sxy).query(xy)[1]
    voronoi_load = np.bincount(official, weights=students, minlength=m)
    seats = np.ceil(1.1 * students.sum() * rng.dirichlet(np.ones(m) * 4)
                    * 0.5 + 0.55 * voronoi_load)
    seats = np.maximum(seats, students[school_cell])
    before = load()
    t = time.perf_counter()
    d = design_zones(adj, None, students, seats, school_cell, official, cell_xy=xy,
                     school_xy=sxy, method="heuristic")
    wall = time.perf_counter() - t
    return {"district": f"synthetic {n:,} cells × {m} schools", "cells": n, "schools": m,
            "students": float(students.sum()), "seats": float(seats.sum()),
            "wall_s": round(wall, 2), "load_before": before, "load_after": load(),
            "zones_several_pieces": int((d.pieces_by_zone > 1).sum()),
            "zones_over_capacity": int((d.students_by_zone > d.seats_by_zone + 1e-9).sum()),
            "students_unzoned": d.unzoned, "students_moved": d.moved,
            "travel_gap": round(d.travel_gap, 5), "gap_with_moves": round(d.gap, 5)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args()
    norms = default_norms()
    # warm up the JIT on a small district (numba caches to disk; the first run compiles)
    design_zones(sp.diags([np.ones(3), np.ones(3)], [1, -1], shape=(4, 4)), None,
                 [1, 2, 2, 1], [3, 3], [0, 3], cell_xy=np.c_[np.arange(4.0), np.zeros(4)],
                 school_xy=np.array([[0.0, 0.0], [3.0, 0.0]]), method="heuristic")
    result = {"machine": {"arch": platform.machine(), "cores": os.cpu_count(),
                          "note": "shared with other engineers' jobs: see load_before/after"},
              "default_move_weight_m": DEFAULT_MOVE_WEIGHT_M}
    demo, trade, speed = demo_rows(norms)
    result.update(demo=demo, tradeoff=trade)
    result["durham"] = durham_rows()
    speed["load_after_demo"] = load()
    if not args.skip_large:
        speed["large"] = large_row()
    result["speed"] = speed
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=float))
    for r in demo + result["durham"]:
        print(f"{r['district']:7} {r['level']:8} zones {r['n_zones']:3} pieces>1 "
              f"{r['zones_several_pieces']} over {r['zones_over_capacity']} (official "
              f"{r['official']['zones_over_capacity']}) moved {r['students_moved']:7,.0f} "
              f"travel gap {r['travel_gap']:.2%} trip {r['mean_trip_m']:6,.0f} m (official "
              f"{r['official']['mean_trip_m']:6,.0f}) {r['wall_s']:5.1f} s load "
              f"{r['load_before']}")
    print("move_weight trade-off:")
    for t in trade:
        print(f"  {t['level']:8} w={t['move_weight']:7,.0f} travel gap {t['travel_gap']:.2%} "
              f"moved {t['students_moved']:7,.0f} trip {t['mean_trip_m']:6,.0f} m")
    print("speed:", json.dumps(speed, ensure_ascii=False))


if __name__ == "__main__":
    main()
