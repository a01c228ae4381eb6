"""Benchmark: admission Monte Carlo (schoolmap.planning.admission) — issue 20's speed target.

Instance (seeded): 300 schools and 5,000 cells in a 30 km square; 100 多校划片 zones of three
schools each (a cell's zone is its nearest school's); 100,000 applicants in three priority
classes (50 / 30 / 20 %); seats 95 % of the nearest-school load × U(0.7, 1.3), so some zones
are oversubscribed and the bureau's rule places students outside them. Target: 10,000 draws of
the ``lottery`` mechanism in ≤ 10 s. Every mechanism is timed; the deferred-acceptance ones
(student by student) on fewer draws, scaled to 10,000.

The JIT is warmed on the instance itself (2 draws) before timing. The machine is shared: the
1-minute load average is recorded with each figure.

Prints a table and writes ``benchmarks/results/admission.json``.

Run: ``python benchmarks/admission.py [--draws 10000] [--da-draws 500]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from schoolmap.planning.admission import MECHANISMS, admission_odds


def instance(seed: int = 0) -> dict:
    """The seeded benchmark instance (arrays for :func:`admission_odds`)."""
    rng = np.random.default_rng(seed)
    m, n_cells = 300, 5000
    school_xy = rng.uniform(0, 30_000, (m, 2))
    cell_xy = rng.uniform(0, 30_000, (n_cells, 2))
    zone_of_school = np.arange(m) // 3
    d = np.hypot(*(cell_xy[:, None, :] - school_xy[None]).transpose(2, 0, 1))
    nearest = d.argmin(axis=1)
    students = rng.multinomial(100_000, np.full(n_cells, 1 / n_cells))
    applicants = np.stack([rng.multinomial(k, [0.5, 0.3, 0.2]) for k in students])
    load = np.bincount(nearest, weights=students, minlength=m)
    seats = np.floor(load * 0.95 * rng.uniform(0.7, 1.3, m)).astype(np.int64)
    zone_indptr = np.arange(0, m + 1, 3)
    return {"applicants": applicants, "seats": seats, "cell_xy": cell_xy,
            "school_xy": school_xy, "zone_of_cell": zone_of_school[nearest],
            "zones": (zone_indptr, np.arange(m))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--da-draws", type=int, default=500)
    args = ap.parse_args()
    inst = instance()
    rows = []
    for mech in MECHANISMS:
        draws = args.draws if mech in ("lottery", "boston") else args.da_draws
        kw = dict(inst, classes=("一类", "二类", "三类"), mechanism=mech)
        admission_odds(**kw, draws=2, seed=1)  # compile / load the cache
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        odds = admission_odds(**kw, draws=draws, seed=1)
        sec = time.perf_counter() - t0
        cls = odds.by_class()
        rows.append({"mechanism": mech, "applicants": int(odds.applicants.sum()),
                     "schools": len(odds.seats), "seats": int(odds.seats.sum()),
                     "draws": draws, "seconds": round(sec, 2),
                     "seconds_per_10000_draws": round(sec * 10_000 / draws, 2),
                     "placed_outside_per_draw": round(float(cls["placed_outside"].sum()), 1),
                     "extra_distance_m": round(float(np.nansum(
                         cls["extra_distance_m"] * cls["placed_outside"])
                         / max(cls["placed_outside"].sum(), 1e-9)), 0),
                     "load_1min": round(load, 2)})
        per = rows[-1]["seconds_per_10000_draws"]
        print(f"{mech:8s} {draws:>6,} draws {sec:7.2f} s  (≈ {per:.1f} s per 10,000)  "
              f"outside {rows[-1]['placed_outside_per_draw']:,.0f}/draw  "
              f"load {load:.2f}")
    out = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                       "note": "shared machine (five engineers on 2 cores): times vary with "
                               "the load recorded per row"},
           "target": "lottery, 100,000 applicants, 300 schools, 10,000 draws <= 10 s",
           "rows": rows}
    path = Path(__file__).parent / "results" / "admission.json"
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
