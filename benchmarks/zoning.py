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
  × 300 schools with 10 % spare seats, official zones = nearest school, with the gap;
- ``stability``: the issue's goal on the ``demo-zoning`` scenario's pupils (≤ 2,450 primary,
  ≤ 777 junior moved, travel ≤ 3 % above the bound): the designs over move weights, the proven
  fewest moves (``moved_bound``, 多校划片 groups kept or split) and the proven least travel of
  any design moving at most the goal, max over move weights w of bound(w) − w × goal (weak
  duality at each w);
- ``road``: the demo by walking along its roads (barriers crossed only at a road crossing),
  move weight 300: gap to the proven bound, without and with the large-neighbourhood search
  (``lns_passes`` 0 and 2, its time budget out of the way; ``--skip-road`` leaves it out).

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


STABILITY_WEIGHTS = (0.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0, 5000.0, 7000.0, 10000.0,
                     20000.0)
GOALS = {"primary": 2450.0, "junior": 777.0}


def stability_rows() -> list[dict]:
    """Designs and proven limits for the issue's stability goal (demo-zoning's pupils)."""
    from schoolmap.run.scenario import load_scenario

    sc = load_scenario(ROOT / "scenarios" / "demo-zoning.toml")
    district = read_district(ROOT / "data" / "geo" / "demo.gpkg")
    adj = cell_adjacency(district.cells)
    rows = []
    for level, goal in GOALS.items():
        demand = demand_by_cell_grade(district.cells, sc.norms, level).sum(axis=1)
        kw = dict(norms=sc.norms, adjacency=adj, demand_by_cell=demand)
        least, at = -np.inf, None
        designs = []
        for w in STABILITY_WEIGHTS:
            # bounds need no search: iterations=0 gives the same bounds, fast
            s = design_catchments(district, level, 2026, move_weight=w, iterations=0,
                                  restarts=0, **kw).summary()
            if s["bound"] - w * goal > least:
                least, at = s["bound"] - w * goal, w
            if w in (300.0, 1000.0, 1500.0, 2000.0, 3000.0) or w == 0.0:
                d = design_catchments(district, level, 2026, move_weight=w, **kw).summary()
                designs.append({"move_weight": w, "students_moved": d["students_moved"],
                                "travel_gap": round(d["travel_gap"], 5),
                                "zones_over_capacity": d["zones_over_capacity"],
                                "zones_several_pieces": d["zones_several_pieces"],
                                "students_unzoned": d["students_unzoned"]})
        split = design_catchments(district, level, 2026, iterations=0, restarts=0,
                                  multi_school=False, **kw).summary()
        rows.append({"level": level, "goal_moved": goal, "students": s["students"],
                     "travel_bound_student_m": round(s["travel_bound_student_m"]),
                     "moved_bound": s["students_moved_bound"],
                     "moved_bound_multi_school_false": split["students_moved_bound"],
                     "least_travel_at_goal_student_m": round(least),
                     "least_travel_at_goal_above_bound": round(
                         least / s["travel_bound_student_m"] - 1, 5),
                     "at_move_weight": at, "designs": designs})
    return rows


def road_rows() -> list[dict]:
    """The demo by walking along its roads, barriers crossed only at road crossings."""
    from schoolmap.allocation.travel import district_graph, travel_from_table
    from schoolmap.allocation.zoning import barrier_lines
    from schoolmap.io.roads import read_roads_layer
    from schoolmap.run.scenario import load_scenario

    sc = load_scenario(ROOT / "scenarios" / "demo-zoning.toml")
    district = read_district(ROOT / "data" / "geo" / "demo.gpkg")
    graph = district_graph(district, travel_from_table({"mode": "walk"}))
    frame, _ = read_roads_layer(district.source)
    adj = cell_adjacency(district.cells, barriers=barrier_lines(frame, district.crs))
    rows = []
    for level, lns in (("primary", 0), ("junior", 0), ("primary", 2), ("junior", 2)):
        demand = demand_by_cell_grade(district.cells, sc.norms, level).sum(axis=1)
        before = load()
        t = time.perf_counter()
        r = design_catchments(district, level, 2026, norms=sc.norms, demand_by_cell=demand,
                              roads=graph, adjacency=adj, lns_passes=lns, lns_time_s=1800.0)
        s = r.summary()
        rows.append({"level": level, "lns_passes": lns,
                     "wall_s": round(time.perf_counter() - t, 1),
                     "load_before": before, "load_after": load(),
                     "zones_several_pieces": s["zones_several_pieces"],
                     "zones_over_capacity": s["zones_over_capacity"],
                     "students_unzoned": s["students_unzoned"],
                     "students_moved": s["students_moved"],
                     "students_moved_bound": s["students_moved_bound"],
                     "travel_gap": round(s["travel_gap"], 5), "gap_with_moves": round(s["gap"], 5),
                     "limits_hit": list(r.design.limits_hit)})
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
    ap.add_argument("--skip-road", action="store_true")
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
    result["stability"] = stability_rows()
    if not args.skip_road:
        result["road"] = road_rows()
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
    for r in result["stability"]:
        print(f"stability {r['level']}: goal {r['goal_moved']:,.0f} moved; fewest that must move "
              f"{r['moved_bound']:,.0f} (every school its own zone: "
              f"{r['moved_bound_multi_school_false']:,.0f}); any design moving ≤ the goal "
              f"travels ≥ {r['least_travel_at_goal_above_bound']:.2%} above the bound (w = "
              f"{r['at_move_weight']:,.0f} m)")
        for d in r["designs"]:
            print(f"    w={d['move_weight']:7,.0f} moved {d['students_moved']:7,.0f} "
                  f"travel gap {d['travel_gap']:.2%}")
    for r in result.get("road", []):
        print(f"road    {r['level']:8} lns {r['lns_passes']} moved "
              f"{r['students_moved']:7,.0f} unzoned "
              f"{r['students_unzoned']:.0f} travel gap {r['travel_gap']:.2%} {r['wall_s']} s "
              f"load {r['load_before']} limits {r['limits_hit']}")
    print("speed:", json.dumps(speed, ensure_ascii=False))


if __name__ == "__main__":
    main()
