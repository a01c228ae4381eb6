"""Benchmark: location models of schoolmap.siting, with PySAL spopt as a peer where installed.

Instances (seeded, Euclidean metres in a 20 km square, integer weights 1–49):

- ``sf``: the PySAL spopt San Francisco instance (205 tracts × 16 stores, network metres), p = 4,
  MCLP radius 5,000 m;
- ``2k``: 2,000 demand points × 200 candidates, p = 10 and p = 20, MCLP radius 2,500 m;
- ``20k``: 20,000 × 2,000, p = 40 (p-median only).

Tools: schoolmap heuristic (greedy + vertex substitution + Lagrangian bound), schoolmap exact
(HiGHS MILP, with a time limit), spopt ``PMedian`` / ``MCLP`` ``from_cost_matrix`` solved by CBC
through PuLP (``pip install spopt pulp``). Every tool runs in its own process under a timeout.
``gap_to_best`` compares with the best objective any tool found; ``gap`` is the tool's own proven
gap (schoolmap only).

Prints a table and writes ``benchmarks/results/siting.json``.

Run: ``python benchmarks/siting.py [--timeout 300] [--skip-exact] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
SF = HERE.parent / "tests" / "data" / "spopt_sf"

# (instance, n, m, p, mclp radius or None)
CASES = [
    ("sf", 205, 16, 4, 5000.0),
    ("2k", 2000, 200, 10, 2500.0),
    ("2k", 2000, 200, 20, 2500.0),
    ("20k", 20000, 2000, 40, None),
]


def make_instance(name: str):
    """Cost matrix (n, m) and weights (n,) of a benchmark instance."""
    if name == "sf":
        import pandas as pd

        dist = pd.read_csv(SF / "SF_network_distance_candidateStore_16_censusTract_205_new.csv",
                           dtype={"DestinationName": str})
        table = dist.pivot_table(values="distance", index="DestinationName", columns="name")
        demand = pd.read_csv(SF / "SF_demand_205_centroid_uniform_weight.csv",
                             dtype={"NAME": str}).sort_values("NAME")
        return table.to_numpy(), demand["POP2000"].to_numpy(dtype=float)
    n, m = {"2k": (2000, 200), "20k": (20000, 2000)}[name]
    rng = np.random.default_rng({"2k": 2, "20k": 20}[name])
    demand_xy = rng.uniform(0, 20_000, (n, 2))
    site_xy = rng.uniform(0, 20_000, (m, 2))
    cost = np.hypot(demand_xy[:, None, 0] - site_xy[None, :, 0],
                    demand_xy[:, None, 1] - site_xy[None, :, 1])
    return np.ascontiguousarray(cost), rng.integers(1, 50, n).astype(float)


def _run(tool: str, model: str, name: str, p: int, radius, time_limit: float, queue) -> None:
    try:
        queue.put(_measure(tool, model, name, p, radius, time_limit))
    except Exception as err:  # reported in the table, not raised
        queue.put({"status": f"error: {type(err).__name__}: {err}"[:200]})


def _measure(tool, model, name, p, radius, time_limit):
    cost, w = make_instance(name)
    if tool.startswith("schoolmap"):
        from schoolmap.siting import mclp, p_median

        exact = tool == "schoolmap-exact"
        # JIT warm-up: numba loads each specialisation from its disk cache on first use, so the
        # heuristic is run once on the instance itself (exact runs: on a small slice)
        if exact:
            p_median(cost[:50, :10], w[:50], 2)
            mclp(cost[:50, :10], w[:50], 2, float(np.median(cost[:50, :10])))
        elif model == "p_median":
            p_median(cost, w, p)
        else:
            mclp(cost, w, p, radius)
        t0 = time.perf_counter()
        if model == "p_median":
            r = p_median(cost, w, p, exact=exact, time_limit=time_limit if exact else None)
        else:
            r = mclp(cost, w, p, radius, exact=exact, time_limit=time_limit if exact else None)
        seconds = time.perf_counter() - t0
        bound = r.lower_bound if model == "p_median" else r.upper_bound
        return {"seconds": seconds, "objective": r.objective, "bound": bound, "gap": r.gap,
                "status": "optimal" if r.optimal else "feasible", "sites": r.sites.tolist()}
    # spopt
    import pulp
    from spopt.locate import MCLP, PMedian

    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit)
    t0 = time.perf_counter()
    if model == "p_median":
        m = PMedian.from_cost_matrix(cost, w, p_facilities=p).solve(solver)
        sites = [j for j, v in enumerate(m.fac_vars) if v.value() > 0.5]
        objective = float(w @ cost[:, sites].min(axis=1))
    else:
        m = MCLP.from_cost_matrix(cost, w, service_radius=radius, p_facilities=p).solve(solver)
        sites = [j for j, v in enumerate(m.fac_vars) if v.value() > 0.5]
        objective = float(w @ (cost[:, sites].min(axis=1) <= radius))
    seconds = time.perf_counter() - t0
    status = pulp.LpStatus[m.problem.status].lower()
    return {"seconds": seconds, "objective": objective, "bound": None, "gap": None,
            "status": status, "sites": sites}


def _kill_tree(proc) -> None:
    """Stop a timed-out tool and every solver process it started (CBC runs as a child)."""
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in children:
        child.kill()
    proc.terminate()
    proc.join()
    psutil.wait_procs(children, timeout=10)


def run_one(tool, model, name, p, radius, timeout, time_limit):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(tool, model, name, p, radius, time_limit, queue))
    t0 = time.perf_counter()
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        _kill_tree(proc)
        return {"seconds": time.perf_counter() - t0, "objective": None, "bound": None,
                "gap": None, "status": f"timeout ({timeout:.0f} s)"}
    return queue.get() if not queue.empty() else {"status": "crashed"}


def _spopt_available() -> bool:
    try:
        import pulp  # noqa: F401
        import spopt  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per tool run")
    ap.add_argument("--skip-exact", action="store_true", help="no HiGHS MILP runs")
    ap.add_argument("--quick", action="store_true", help="sf and 2k only")
    args = ap.parse_args()
    spopt_ok = _spopt_available()
    rows = []
    for name, n, m, p, radius in CASES:
        if args.quick and name == "20k":
            continue
        for model in ("p_median", "mclp"):
            if model == "mclp" and radius is None:
                continue
            tools = ["schoolmap"]
            if name != "20k" and not args.skip_exact:
                tools.append("schoolmap-exact")
            if name != "20k" and spopt_ok:
                tools.append("spopt-cbc")
            for tool in tools:
                out = run_one(tool, model, name, p, radius, args.timeout, 0.8 * args.timeout)
                row = {"instance": name, "n": n, "m": m, "p": p, "model": model,
                       "radius_m": radius, "tool": tool, **out}
                rows.append(row)
                print(f"  {name} {model} p={p} {tool}: {out.get('status')} "
                      f"{out.get('seconds', float('nan')):.2f} s", flush=True)
    # best known objective per (instance, p, model)
    for row in rows:
        same = [r for r in rows if (r["instance"], r["p"], r["model"]) ==
                (row["instance"], row["p"], row["model"]) and r.get("objective") is not None]
        if not same or row.get("objective") is None:
            row["gap_to_best"] = None
            continue
        if row["model"] == "p_median":
            best = min(r["objective"] for r in same)
            row["gap_to_best"] = (row["objective"] - best) / best
        else:
            best = max(r["objective"] for r in same)
            row["gap_to_best"] = (best - row["objective"]) / best
        row["best_known"] = best
    head = (f"{'instance':<9}{'p':>4} {'model':<9}{'tool':<17}{'seconds':>9}{'objective':>17}"
            f"{'bound':>17}{'gap':>9}{'to best':>9}  status")
    print(head)
    print("-" * len(head))
    for r in rows:
        obj = f"{r['objective']:,.1f}" if r.get("objective") is not None else "—"
        bound = f"{r['bound']:,.1f}" if r.get("bound") is not None else "—"
        gap = f"{100 * r['gap']:.3f}%" if r.get("gap") is not None else "—"
        tb = f"{100 * r['gap_to_best']:.3f}%" if r.get("gap_to_best") is not None else "—"
        print(f"{r['instance']:<9}{r['p']:>4} {r['model']:<9}{r['tool']:<17}"
              f"{r.get('seconds', float('nan')):>9.2f}{obj:>17}{bound:>17}{gap:>9}{tb:>9}  "
              f"{r.get('status')}")
    if not spopt_ok:
        print("spopt/pulp not installed: no peer runs (pip install spopt pulp)")
    out = HERE / "results" / "siting.json"
    out.parent.mkdir(exist_ok=True)
    meta = {"machine": platform.platform(), "python": platform.python_version(),
            "cpus": mp.cpu_count(), "timeout_s": args.timeout, "spopt": spopt_ok}
    for r in rows:
        r.pop("sites", None)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
