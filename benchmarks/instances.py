"""Seeded district-like allocation instances shared by the benchmarks.

A 30 km × 30 km city: 80 % of cells clustered around town centres (dense), 20 % spread over the
countryside (sparse); schools placed near people, 300–2,400 seats each; total demand 95–110 %
of seats (drawn from the seed). Integer students and seats; coordinates in metres.
"""

from __future__ import annotations

import numpy as np

SIZES = {"S": (5_000, 50), "M": (100_000, 300), "L": (1_000_000, 1_000)}


def make_instance(n_cells: int, n_schools: int, seed: int = 0):
    """Return ``cell_xy`` (n, 2), ``students`` (n,), ``school_xy`` (m, 2), ``seats`` (m,)."""
    rng = np.random.default_rng(seed)
    side = 30_000.0
    n_centres = max(5, n_cells // 20_000)
    centres = rng.uniform(3_000, side - 3_000, (n_centres, 2))
    n_dense = int(n_cells * 0.8)
    which = rng.integers(0, n_centres, n_dense)
    cell_xy = np.vstack([centres[which] + rng.normal(0, 1_500, (n_dense, 2)),
                         rng.uniform(0, side, (n_cells - n_dense, 2))])
    cell_xy = np.clip(cell_xy, 0, side)
    weight = np.concatenate([rng.integers(1, 30, n_dense),
                             rng.integers(0, 5, n_cells - n_dense)]).astype(np.float64)
    near = rng.choice(n_cells, n_schools, replace=False, p=weight / weight.sum())
    school_xy = cell_xy[near] + rng.normal(0, 200, (n_schools, 2))
    seats = rng.integers(300, 2_401, n_schools).astype(np.float64)
    ratio = rng.uniform(0.95, 1.10)
    students = np.floor(weight * seats.sum() * ratio / weight.sum())
    return cell_xy, students, school_xy, seats
