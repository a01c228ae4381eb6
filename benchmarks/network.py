"""Road-network benchmark (issue 14): graph build + costs + exact allocation on the demo, and a
synthetic grid city against scipy.sparse.csgraph.dijkstra(indices=schools, limit=…).

Run: python benchmarks/network.py [--nodes N] [--cells N] [--schools N]
The machine is shared: the load average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import dijkstra

from schoolmap._kernels.network import bounded_dijkstra
from schoolmap.allocation.network import (
    allocate_optimal_network,
    connect_points,
    network_transport,
)
from schoolmap.demand import demand_by_cell_grade, level_schools
from schoolmap.io.district import read_district
from schoolmap.io.roads import RoadGraph, graph_from_edges, road_graph_for
from schoolmap.norms import default_norms

ROOT = Path(__file__).resolve().parents[1]


def demo(repeat: int = 2) -> dict:
    d = read_district(ROOT / "data" / "geo" / "demo.gpkg")
    norms = default_norms()
    s = level_schools(d, norms, "primary", 9999)
    dem = demand_by_cell_grade(d.cells, norms, "primary").sum(axis=1)
    sxy = np.column_stack([s.geometry.x, s.geometry.y])
    best = {}
    for _ in range(repeat):  # first pass warms the JIT and the cache
        t0 = time.perf_counter()
        g = road_graph_for(d.source, "walk", d.crs, cache=False)
        t1 = time.perf_counter()
        a = allocate_optimal_network(g, d.cell_xy, dem, sxy, s["seats"].to_numpy(float))
        t2 = time.perf_counter()
        best = {"graph_s": t1 - t0, "costs_and_allocation_s": t2 - t1, "total_s": t2 - t0,
                "nodes": g.n_nodes, "edges": g.n_edges, "cells": d.n_cells, "schools": len(s),
                "optimal": a.certificate["optimal"], "rounds": a.certificate["rounds"]}
    return best


def grid_city(n_nodes: int, seed: int = 0) -> RoadGraph:
    """A perturbed square street grid with ~2.5 directed edges per node (some streets removed)."""
    rng = np.random.default_rng(seed)
    side = int(np.sqrt(n_nodes))
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.column_stack([ii.ravel() * 100.0, jj.ravel() * 100.0]) + rng.uniform(-20, 20,
                                                                               (side * side, 2))
    k = np.arange(side * side).reshape(side, side)
    a = np.concatenate([k[:-1, :].ravel(), k[:, :-1].ravel()])
    b = np.concatenate([k[1:, :].ravel(), k[:, 1:].ravel()])
    keep = rng.uniform(size=len(a)) < 0.63  # ~1.25 undirected streets per node → 2.5 directed
    a, b = a[keep], b[keep]
    length = np.hypot(*(xy[a] - xy[b]).T)
    tail, head = np.concatenate([a, b]), np.concatenate([b, a])
    w = np.concatenate([length, length])
    return graph_from_edges(xy, tail, head, w, w / (5 / 3.6), "walk", "synthetic")


def _scipy_check(g: RoadGraph, sources: np.ndarray, limit: float, src: np.ndarray,
                 node: np.ndarray, dist: np.ndarray, batch: int = 50) -> float:
    """Seconds scipy's dijkstra(indices, limit) takes for the same searches (in batches of
    ``batch`` sources: its answer is a dense sources × nodes array, 8 GB at 1,000 × 1M); checks
    every distance equal to ours (1e-6 m) and the same nodes reached."""
    a = g.to_scipy().T.tocsr()
    seconds = 0.0
    for q in range(0, len(sources), batch):
        t0 = time.perf_counter()
        ref = dijkstra(a, indices=sources[q:q + batch], limit=limit)
        seconds += time.perf_counter() - t0
        mine = (src >= q) & (src < q + batch)
        assert np.allclose(ref[src[mine] - q, node[mine]], dist[mine], atol=1e-6)
        assert np.isfinite(ref).sum() == mine.sum()
    return seconds


def pandana_side(n_nodes: int, n_schools: int, limit: float, seed: int = 0) -> dict:
    """pandana 0.8 (contraction hierarchies) against our bounded Dijkstra on the same searches:
    ``Network(...)`` (its preprocessing) and ``nodes_in_range(schools, limit)``; every pair
    both find checked equal to 1e-5 × the limit (pandana sums float32 distances: 0.02 m at 3 km)
    and the pairs only one finds lie that close to the limit. Skipped, saying so, where
    pandana is not installed (the ``bench`` extra: ``pip install -e '.[bench]'``; manylinux
    wheels on PyPI, e.g. CPython 3.11)."""
    try:
        import pandana
        import pandas as pd
    except ImportError as exc:
        why = f"skipped: not importable ({exc}); pip install -e '.[bench]'"
        print(f"pandana {why}")
        return {"nodes": n_nodes, "pandana": why}
    g = grid_city(n_nodes, seed)
    rng = np.random.default_rng(seed)
    sc = connect_points(g, rng.uniform(0, g.node_xy.max(axis=0), (n_schools, 2)), 1e9)
    ip, ix, w = g.reversed_csr()
    tail = np.repeat(np.arange(g.n_nodes), np.diff(ip))
    t0 = time.perf_counter()
    net = pandana.Network(pd.Series(g.node_xy[:, 0]), pd.Series(g.node_xy[:, 1]),
                          pd.Series(tail), pd.Series(ix), pd.DataFrame({"m": w}), twoway=False)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = net.nodes_in_range(sc.node.tolist(), limit)
    t_pd = time.perf_counter() - t0
    t_ours = np.inf
    for _ in range(2):  # the first call may compile
        t0 = time.perf_counter()
        src, node, dist, _ = bounded_dijkstra(ip, ix, w, sc.node, np.zeros(n_schools),
                                              np.full(n_schools, limit))
        t_ours = min(t_ours, time.perf_counter() - t0)
    # one search per distinct source node (two schools may share one)
    ours = pd.DataFrame({"source": sc.node[src], "destination": node, "ours": dist})
    ours = ours.drop_duplicates(["source", "destination"])
    both = ours.merge(found.drop_duplicates(["source", "destination"]),
                      on=["source", "destination"], how="outer")
    alone = both["ours"].isna() | both["m"].isna()
    paired = both[~alone]
    worst = float(np.abs(paired["ours"] - paired["m"]).max()) if len(paired) else 0.0
    close = 1e-5 * limit  # float32 sums over a path: 0.02 m seen at 3 km
    edge = np.abs(both["ours"].fillna(both["m"]) - limit) <= close
    assert worst <= close and bool(edge[alone].all()), (worst, int(alone.sum()))
    return {"nodes": g.n_nodes, "edges": g.n_edges, "schools": n_schools, "limit_m": limit,
            "pandana": pandana.__version__, "pandana_build_s": t_build,
            "pandana_nodes_in_range_s": t_pd, "ours_dijkstra_s": t_ours,
            "pairs": int(len(paired)), "max_abs_diff_m": worst,
            "speedup_query": t_pd / t_ours, "speedup_with_build": (t_build + t_pd) / t_ours,
            "load": os.getloadavg()[0]}


def dijkstra_only(n_nodes: int, n_schools: int, limit: float, seed: int = 0) -> dict:
    """Our bounded Dijkstra against scipy's on the same searches (school → every node within
    ``limit`` metres), on a synthetic grid city."""
    g = grid_city(n_nodes, seed)
    rng = np.random.default_rng(seed)
    sc = connect_points(g, rng.uniform(0, g.node_xy.max(axis=0), (n_schools, 2)), 1e9)
    ip, ix, w = g.reversed_csr()
    lim = np.full(n_schools, limit)
    t0 = time.perf_counter()
    src, node, dist, _ = bounded_dijkstra(ip, ix, w, sc.node, np.zeros(n_schools), lim)
    t_ours = time.perf_counter() - t0
    t_scipy = _scipy_check(g, sc.node, limit, src, node, dist)
    return {"nodes": g.n_nodes, "edges": g.n_edges, "schools": n_schools, "limit_m": limit,
            "nodes_settled": len(dist), "ours_dijkstra_s": t_ours, "scipy_dijkstra_s": t_scipy,
            "speedup": t_scipy / t_ours, "load": os.getloadavg()[0]}


def _reset_peak() -> None:
    """Start a new peak-RSS measurement (Linux: VmHWM reset by /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_gb() -> float:
    """Peak RSS since the last :func:`_reset_peak`, GB (VmHWM; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def synthetic(n_nodes: int, n_cells: int, n_schools: int, seed: int = 0) -> dict:
    """Graph build, then network costs + certified allocation (``network_transport``) of
    ``n_cells`` random cells and ``n_schools`` schools (seats 1.1 × pupils, spread evenly), with
    the peak RSS of that part; then our Dijkstra against scipy's to the 99th-percentile trip."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    g = grid_city(n_nodes, seed)
    t_build = time.perf_counter() - t0
    span = g.node_xy.max(axis=0)
    cells = rng.uniform(0, span, (n_cells, 2))
    students = rng.integers(1, 20, n_cells).astype(float)
    schools = rng.uniform(0, span, (n_schools, 2))
    seats = np.full(n_schools, np.ceil(1.1 * students.sum() / n_schools))
    _reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    r = network_transport(g, cells, students, schools, seats, max_connector_m=1e9)
    t_alloc, c_alloc = time.perf_counter() - t0, time.process_time() - c0
    peak = _peak_gb()
    load = os.getloadavg()[0]
    # same distances both ways: each school's search to the same limit
    sc = connect_points(g, schools, 1e9)
    limit = float(np.quantile(r.cost, 0.99)) if len(r.cost) else 1000.0
    ip, ix, w = g.reversed_csr()
    t0 = time.perf_counter()
    src, node, dist, _ = bounded_dijkstra(ip, ix, w, sc.node, np.zeros(n_schools),
                                          np.full(n_schools, limit))
    t_ours = time.perf_counter() - t0
    t_scipy = _scipy_check(g, sc.node, limit, src, node, dist)
    return {"nodes": g.n_nodes, "edges": g.n_edges, "cells": n_cells, "schools": n_schools,
            "graph_s": t_build, "costs_and_allocation_s": t_alloc,
            "costs_and_allocation_cpu_s": c_alloc,  # the load barely moves CPU time
            "optimal": r.certificate["optimal"], "rounds": r.certificate["rounds"],
            "pairs_known": r.certificate["pairs_known"], "pairs_in_solve": r.certificate[
                "candidates"], "solves": r.certificate["solves"], "allocation_peak_gb": peak,
            "load_after_allocation": load, "dijkstra_limit_m": limit,
            "ours_dijkstra_s": t_ours, "scipy_dijkstra_s": t_scipy,
            "speedup": t_scipy / t_ours if t_ours else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=1_000_000)
    p.add_argument("--cells", type=int, default=1_000_000)
    p.add_argument("--schools", type=int, default=1_000)
    p.add_argument("--pandana-nodes", type=int, default=250_000,
                   help="nodes of the pandana comparison (its preprocessing grows fast)")
    p.add_argument("--alloc-nodes", type=int, default=40_000,
                   help="nodes = cells of the synthetic certified allocation (cells/1000 schools)")
    args = p.parse_args()
    load0 = os.getloadavg()
    out = {"load_before": load0, "cpus": os.cpu_count(),
           "note": "shared machine (several engineers): timings include their load"}
    out["demo"] = demo()
    print("demo:", out["demo"])
    synthetic(10_000, 10_000, 20)  # warm up
    out["dijkstra"] = [dijkstra_only(args.nodes, args.schools, lim) for lim in (3000.0, 9000.0)]
    print("dijkstra:", out["dijkstra"])
    npd = args.pandana_nodes
    out["pandana"] = pandana_side(npd, max(1, npd * args.schools // args.nodes), 3000.0)
    print("pandana:", out["pandana"])
    na = args.alloc_nodes
    out["synthetic"] = synthetic(na, na, max(1, na * args.schools // args.cells))
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    out["load_after"] = os.getloadavg()
    print("synthetic:", out["synthetic"])
    print(f"peak RSS {out['peak_rss_gb']:.2f} GB; load {load0} → {out['load_after']}")
    (ROOT / "benchmarks" / "results" / "network.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
