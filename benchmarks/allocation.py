"""Benchmark: exact capacitated allocation, schoolmap against OR-Tools, POT and HiGHS.

The same seeded instances (see ``instances.py``) go to every tool in one run:

- S = 5,000 cells × 50 schools, M = 100,000 × 300, L = 1,000,000 × 1,000;
- schoolmap ``assign`` (coordinate door, exact over all pairs with a certificate);
- OR-Tools ``SimpleMinCostFlow`` on the dense matrix (S, M) or on each cell's 16 nearest
  schools (L; *not* optimal over all pairs), costs in integer centimetres;
- POT ``ot.emd`` on the dense matrix (S, M), balanced with a dummy school and cell;
- scipy ``linprog`` (HiGHS) on the dense LP (S).

Each tool runs in its own process so that its peak memory (RSS above the instance) is its own.
The machine's 1-minute load average is recorded next to each run (the machine may be shared:
with load above the core count, wall times grow for every tool); ``--repeat N`` times
schoolmap N times in its process and reports the fastest (all times are kept in the JSON).
Prints a table and writes ``benchmarks/results/allocation.json``.

Run: ``python benchmarks/allocation.py [--sizes S M L] [--tools ...] [--repeat 1]
[--timeout 1800]`` (needs the ``bench`` extra: ``pip install -e '.[bench]'``).

**The panel** (``--panel [--sizes M L]``): every city family of ``instances.FAMILIES`` × every
balance (students ÷ seats 0.90, 1.00, 1.04, 1.20), and each family at 1.04 with
``max_distance_m`` = 5 km, at M and L; unserved students cost 200,000 m each (a planner's
setting: a seat is worth a 200 km detour). schoolmap (certified every time), POT ``ot.emd``
dense at M and OR-Tools on each cell's 16 nearest schools at L run side by side on the same
instance in the same run. Rows are printed worst schoolmap time first; the JSON goes to
``benchmarks/results/allocation_panel.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from instances import BALANCES, FAMILIES, SIZES, make_instance  # noqa: E402

TOOLS = ("schoolmap", "ortools", "pot", "highs")
UNSERVED_M = None  # default unserved cost of each tool run: (m + 1) × diagonal + 1


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dense(cell_xy, school_xy):
    return np.hypot(cell_xy[:, None, 0] - school_xy[None, :, 0],
                    cell_xy[:, None, 1] - school_xy[None, :, 1])


def _unserved_cost(cell_xy, school_xy):
    lo = np.minimum(cell_xy.min(0), school_xy.min(0))
    hi = np.maximum(cell_xy.max(0), school_xy.max(0))
    return (len(school_xy) + 1) * float(np.hypot(*(hi - lo))) + 1.0


def run_schoolmap(cell_xy, students, school_xy, seats, p, repeat=1, max_distance_m=None):
    from schoolmap.optimal import assign

    # numba warm-up: an instance large enough for every kernel the timed call uses (levels,
    # auction, threaded certificate passes, unserved students, a reach limit) to be compiled or
    # loaded from the cache before the clock starts (200 cells × 5 schools missed most of them:
    # the first L row in an empty cache took 9.3 s, 3.4 s again)
    w_xy, w_students, w_sxy, w_seats = make_instance(20_000, 60, seed=1, family="clustered",
                                                     balance=1.2)
    assign(w_xy, w_students, w_sxy, w_seats, unserved_cost=p, max_distance_m=max_distance_m)
    base = _rss_mb()
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = assign(cell_xy, students, school_xy, seats, unserved_cost=p,
                   max_distance_m=max_distance_m, on_unproven="warn")
        walls.append(time.perf_counter() - t0)
    return {"seconds": min(walls), "runs": walls, "objective": r.objective,
            "all_pairs_optimal": bool(r.certificate["optimal"]),
            "extra_mb": _rss_mb() - base,
            "detail": {k: r.certificate[k] for k in ("rounds", "paths", "candidates",
                                                       "pairs_checked", "pairs_bounded")}}


def run_ortools(cell_xy, students, school_xy, seats, p, k=None, max_distance_m=None):
    from ortools.graph.python import min_cost_flow
    from scipy.spatial import cKDTree

    base = _rss_mb()
    t0 = time.perf_counter()
    n, m = len(cell_xy), len(school_xy)
    if k is None:
        cost = _dense(cell_xy, school_xy)
        tails = np.repeat(np.arange(n), m)
        heads = n + np.tile(np.arange(m), n)
        unit = np.rint(cost.ravel() * 100).astype(np.int64)
        del cost
    else:
        dist, idx = cKDTree(school_xy).query(cell_xy, k=k)
        tails = np.repeat(np.arange(n), k)
        heads = n + idx.ravel()
        unit = np.rint(dist.ravel() * 100).astype(np.int64)
        if max_distance_m is not None:
            ok = dist.ravel() <= max_distance_m
            tails, heads, unit = tails[ok], heads[ok], unit[ok]
    sink, dummy = n + m, n + m + 1
    caps = students.astype(np.int64)[tails]
    f = min_cost_flow.SimpleMinCostFlow()
    f.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, unit)
    f.add_arcs_with_capacity_and_unit_cost(
        np.arange(n), np.full(n, dummy), students.astype(np.int64),
        np.full(n, int(round(p * 100)), dtype=np.int64))
    f.add_arcs_with_capacity_and_unit_cost(n + np.arange(m), np.full(m, sink),
                                           seats.astype(np.int64), np.zeros(m, np.int64))
    f.add_arc_with_capacity_and_unit_cost(dummy, sink, int(students.sum()), 0)
    f.set_nodes_supplies(np.arange(n), students.astype(np.int64))
    f.set_node_supply(sink, -int(students.sum()))
    status = f.solve()
    wall = time.perf_counter() - t0
    if status != f.OPTIMAL:
        return {"seconds": wall, "error": f"status {status}"}
    # objective in metres from the flows (the solver's own is in rounded centimetres)
    flows = f.flows(np.arange(len(tails)))
    used = flows > 0
    d = np.hypot(*(cell_xy[tails[used]] - school_xy[heads[used] - n]).T)
    unserved = students.sum() - flows.sum()
    return {"seconds": wall, "objective": float(d @ flows[used] + p * unserved),
            "all_pairs_optimal": k is None, "extra_mb": _rss_mb() - base,
            "detail": {"arcs": int(len(tails)), "candidates_per_cell": k or m}}


def run_pot(cell_xy, students, school_xy, seats, p, max_distance_m=None):
    import ot

    base = _rss_mb()
    t0 = time.perf_counter()
    cost = _dense(cell_xy, school_xy)
    if max_distance_m is not None:  # a pair beyond reach costs more than leaving unserved
        cost[cost > max_distance_m] = p + 1.0
    n, m = cost.shape
    full = np.zeros((n + 1, m + 1))
    full[:n, :m] = cost
    full[:n, m] = p  # unserved
    a = np.append(students, seats.sum())
    b = np.append(seats, students.sum())
    plan = ot.emd(a, b, full, numItermax=10**9)
    wall = time.perf_counter() - t0
    return {"seconds": wall, "objective": float((plan[:n] * full[:n]).sum()),
            "all_pairs_optimal": True, "extra_mb": _rss_mb() - base}


def run_highs(cell_xy, students, school_xy, seats, p):
    import scipy.sparse as sp
    from scipy.optimize import linprog

    base = _rss_mb()
    t0 = time.perf_counter()
    cost = _dense(cell_xy, school_xy)
    n, m = cost.shape
    c = np.concatenate([cost.ravel(), np.full(n, p)])
    a_eq = sp.hstack([sp.kron(sp.eye(n), np.ones((1, m))), sp.eye(n)]).tocsr()
    a_ub = sp.hstack([sp.kron(np.ones((1, n)), sp.eye(m)), sp.csr_matrix((m, n))]).tocsr()
    r = linprog(c, A_ub=a_ub, b_ub=seats, A_eq=a_eq, b_eq=students, method="highs")
    wall = time.perf_counter() - t0
    return {"seconds": wall, "objective": float(r.fun), "all_pairs_optimal": r.status == 0,
            "extra_mb": _rss_mb() - base}


def worker(tool: str, size: str, repeat: int = 1) -> dict:
    n, m = SIZES[size]
    cell_xy, students, school_xy, seats = make_instance(n, m, seed=20261124)
    p = _unserved_cost(cell_xy, school_xy)
    if tool == "schoolmap":
        return run_schoolmap(cell_xy, students, school_xy, seats, p, repeat)
    if tool == "ortools":
        return run_ortools(cell_xy, students, school_xy, seats, p,
                           k=16 if size == "L" else None)
    if tool == "pot":
        return run_pot(cell_xy, students, school_xy, seats, p)
    return run_highs(cell_xy, students, school_xy, seats, p)


PANEL_UNSERVED_M = 200_000.0
PANEL_MAX_DISTANCE_M = 5_000.0
PANEL_PEERS = {"S": ("pot",), "M": ("pot",), "L": ("ortools",)}


def panel_worker(tool: str, size: str, family: str, balance: float, reach: float | None,
                 repeat: int) -> dict:
    n, m = SIZES[size]
    cell_xy, students, school_xy, seats = make_instance(n, m, seed=20261202, family=family,
                                                        balance=balance)
    p = PANEL_UNSERVED_M
    info = {"balance_made": float(students.sum() / seats.sum())}
    if tool == "schoolmap":
        out = run_schoolmap(cell_xy, students, school_xy, seats, p, repeat, reach)
    elif tool == "ortools":
        out = run_ortools(cell_xy, students, school_xy, seats, p, k=16, max_distance_m=reach)
    else:
        out = run_pot(cell_xy, students, school_xy, seats, p, max_distance_m=reach)
    return {**info, **out}


def panel(sizes, timeout: float, repeat: int, tools=TOOLS, balances=BALANCES, with_reach=True,
          out_name="allocation_panel.json", families=FAMILIES) -> None:
    rows = []
    cases = [(f, b, None) for f in families for b in balances]
    if with_reach:
        cases += [(f, 1.04, PANEL_MAX_DISTANCE_M) for f in families]
    for size in sizes:
        for family, balance, reach in cases:
            row = {"size": size, "cells": SIZES[size][0], "schools": SIZES[size][1],
                   "family": family, "balance": balance, "max_distance_m": reach}
            for tool in ("schoolmap", *PANEL_PEERS[size]):
                if tool not in tools:
                    row[tool] = {"error": "not run"}
                    continue
                load = os.getloadavg()[0]
                out = _subprocess([tool, size, family, str(balance), str(reach or 0),
                                   str(repeat)], timeout, "--panel-worker")
                row[tool] = {"load_before": load, **out}
            rows.append(row)
            sm = row["schoolmap"]
            peer = row[PANEL_PEERS[size][0]]
            print(f"{size} {family:<10} {balance:.2f} {'reach' if reach else '     '} "
                  f"schoolmap {sm.get('seconds', float('nan')):7.2f} s "
                  f"{sm.get('extra_mb', float('nan')):7.0f} MB "
                  f"{'certified' if sm.get('all_pairs_optimal') else sm.get('error', 'UNPROVEN')}"
                  f" | {PANEL_PEERS[size][0]} {peer.get('seconds', float('nan')):7.2f} s "
                  f"{peer.get('error', '')} (load {load:.1f})", flush=True)
    out = Path(__file__).parent / "results" / out_name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": {"arch": platform.machine(), "cores": os.cpu_count()},
                               "unserved_cost_m": PANEL_UNSERVED_M, "rows": rows},
                              indent=2) + "\n")
    print()
    print(panel_table(rows))


def panel_table(rows: list[dict]) -> str:
    """The panel as a Markdown table, worst schoolmap wall time first in each size."""
    head = ("| size | family | students ÷ seats | reach | schoolmap s | peak MB | certified "
            "| peer | peer s | peer objective vs schoolmap | load |\n"
            "|---|---|---:|---|---:|---:|---|---|---:|---:|---:|")
    lines = [head]
    def key(r):
        return (r["size"], -r["schoolmap"].get("seconds", np.inf))
    for r in sorted(rows, key=key):
        sm = r["schoolmap"]
        name = PANEL_PEERS[r["size"]][0]
        peer = r[name]
        if "objective" in sm and "objective" in peer:
            rel = f"{peer['objective'] / sm['objective'] - 1:+.1e}"
        else:
            rel = peer.get("error", "—")[:40]
        reach = f"{r['max_distance_m'] / 1000:.0f} km" if r["max_distance_m"] else "—"
        lines.append(
            f"| {r['size']} | {r['family']} | {sm.get('balance_made', r['balance']):.3f} "
            f"| {reach} | {sm.get('seconds', float('nan')):.2f} "
            f"| {sm.get('extra_mb', float('nan')):,.0f} "
            f"| {'yes' if sm.get('all_pairs_optimal') else sm.get('error', 'NO')[:30]} "
            f"| {name} | {peer.get('seconds', float('nan')):.2f} | {rel} "
            f"| {sm.get('load_before', float('nan')):.1f} |")
    return "\n".join(lines)


def _subprocess(args: list[str], timeout: float, flag: str) -> dict:
    try:
        proc = subprocess.run([sys.executable, __file__, flag, *args], capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode == 0:
            return json.loads(proc.stdout.strip().splitlines()[-1])
        tail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return {"error": tail[:200]}
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}


PLAN = {"S": ("schoolmap", "ortools", "pot", "highs"), "M": ("schoolmap", "ortools", "pot"),
        "L": ("schoolmap", "ortools")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["S", "M", "L"], choices=list(SIZES))
    ap.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per tool run")
    ap.add_argument("--repeat", type=int, default=1, help="schoolmap runs per size (fastest)")
    ap.add_argument("--panel", action="store_true",
                    help="families × balances at the sizes given (default M L)")
    ap.add_argument("--balances", nargs="+", type=float, default=list(BALANCES),
                    help="panel: students ÷ seats to run (default all)")
    ap.add_argument("--no-reach", action="store_true", help="panel: skip the max-distance rows")
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES,
                    help="panel: city families to run (default all)")
    ap.add_argument("--out", default="allocation_panel.json",
                    help="panel: JSON file name in benchmarks/results/")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--panel-worker", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.panel_worker:
        tool, size, family, balance, reach, repeat = args.panel_worker
        print(json.dumps(panel_worker(tool, size, family, float(balance),
                                      float(reach) or None, int(repeat))))
        return
    if args.panel:
        panel(args.sizes if args.sizes != ["S", "M", "L"] else ["M", "L"], args.timeout,
              args.repeat, args.tools, tuple(args.balances), not args.no_reach, args.out,
              tuple(args.families))
        return
    if args.worker:
        tool, size, repeat = args.worker
        print(json.dumps(worker(tool, size, int(repeat))))
        return
    rows = []
    for size in args.sizes:
        for tool in PLAN[size]:
            if tool not in args.tools:
                continue
            load = os.getloadavg()[0]
            try:
                proc = subprocess.run([sys.executable, __file__, "--worker", tool, size,
                                       str(args.repeat)],
                                      capture_output=True, text=True, timeout=args.timeout)
                out = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 \
                    else {"error": proc.stderr.strip().splitlines()[-1][:200]}
            except subprocess.TimeoutExpired:
                out = {"error": f"over {args.timeout:.0f} s"}
            rows.append({"size": size, "cells": SIZES[size][0], "schools": SIZES[size][1],
                         "tool": tool, "load_before": load, "load_after": os.getloadavg()[0],
                         **out})
            r = rows[-1]
            print(f"{size} {tool:<10} " + (f"{r['seconds']:9.2f} s  {r['objective']:,.1f}"
                                          if "objective" in r else r.get("error", ""))
                  + f"  (load {r['load_before']:.1f} → {r['load_after']:.1f})", flush=True)
    best = {}
    for r in rows:
        if r.get("all_pairs_optimal") and "objective" in r:
            best[r["size"]] = min(best.get(r["size"], np.inf), r["objective"])
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    print("| size | tool | wall s | load | peak MB (above instance) | objective (m) | optimal over "
          "all pairs | vs best exact |")
    print("|---|---|---:|---:|---:|---:|---|---:|")
    for r in rows:
        load = f"{r['load_before']:.1f}"
        if "objective" not in r:
            print(f"| {r['size']} | {r['tool']} | — | {load} | — | {r.get('error', '')} | — | — |")
            continue
        rel = r["objective"] / best[r["size"]] - 1 if r["size"] in best else float("nan")
        print(f"| {r['size']} | {r['tool']} | {r['seconds']:.2f} | {load} "
              f"| {r.get('extra_mb', 0):,.0f} | {r['objective']:,.1f} "
              f"| {'yes' if r['all_pairs_optimal'] else 'no'} | {rel:+.2e} |")
    out = Path(__file__).parent / "results" / "allocation.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": {"arch": platform.machine(), "cores": os.cpu_count()},
                               "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
