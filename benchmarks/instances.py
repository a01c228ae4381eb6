"""Seeded district-like allocation instances shared by the benchmarks: a panel of city shapes.

Every instance is a 30 km × 30 km city (coordinates in metres) of ``n_cells`` residential cells
and ``n_schools`` schools of 300–2,400 seats, schools placed near people. Integer students and
seats. The total demand is **exactly** ``balance`` × the total seats (to the nearest student:
the rounding remainder is handed out by largest remainder, so ``students.sum() / seats.sum()``
equals ``balance`` within 1 / seats), so a balance of 1.04 really is 4 % more students than
seats.

Families (``FAMILIES``):

- ``clustered`` — 80 % of cells around town centres (normal, σ 1.5 km), 20 % spread over the
  countryside; the first benchmark's shape.
- ``ring`` — a ring city (radius 6–13 km around the centre) cut by an empty river band 1.2 km
  wide through the middle: no cell and no school lies in the band.
- ``satellite`` — a main town (σ 2.5 km) holding 55 % of the cells and six satellite towns
  (σ 0.8 km) 9–13 km away, thin countryside between.
- ``rural`` — cells spread uniformly, few students each (villages of every size).
- ``megacity`` — one very dense core (σ 1.2 km) with 85 % of the cells and most students, a thin
  periphery: seats in the core run out first.

Schools are drawn among the cells with probability ∝ students, so dense areas get more schools,
and the seats are not placed where the students are in proportion: some areas are short, others
spare, whatever the district-wide balance.
"""

from __future__ import annotations

import numpy as np

SIZES = {"S": (5_000, 50), "M": (100_000, 300), "L": (1_000_000, 1_000)}
FAMILIES = ("clustered", "ring", "satellite", "rural", "megacity")
BALANCES = (0.90, 1.00, 1.04, 1.20)
SIDE_M = 30_000.0


def _clustered(rng, n):
    n_centres = max(5, n // 20_000)
    centres = rng.uniform(3_000, SIDE_M - 3_000, (n_centres, 2))
    n_dense = int(n * 0.8)
    which = rng.integers(0, n_centres, n_dense)
    xy = np.vstack([centres[which] + rng.normal(0, 1_500, (n_dense, 2)),
                    rng.uniform(0, SIDE_M, (n - n_dense, 2))])
    weight = np.concatenate([rng.integers(1, 30, n_dense), rng.integers(0, 5, n - n_dense)])
    return xy, weight


def _ring(rng, n):
    centre = SIDE_M / 2
    xy = np.empty((0, 2))
    while len(xy) < n:  # rejection: annulus minus the river band |y − centre| < 600 m
        k = 2 * (n - len(xy)) + 100
        r = np.sqrt(rng.uniform(6_000**2, 13_000**2, k))
        a = rng.uniform(0, 2 * np.pi, k)
        p = np.column_stack([centre + r * np.cos(a), centre + r * np.sin(a)])
        p = p[np.abs(p[:, 1] - centre) >= 600.0]
        xy = np.vstack([xy, p])[:n]
    weight = rng.integers(1, 25, n)
    return xy, weight


def _satellite(rng, n):
    centre = np.array([SIDE_M / 2, SIDE_M / 2])
    angles = np.linspace(0, 2 * np.pi, 7)[:6] + rng.uniform(0, 0.5)
    dist = rng.uniform(9_000, 13_000, 6)
    towns = centre + np.column_stack([dist * np.cos(angles), dist * np.sin(angles)])
    n_main, n_sat = int(n * 0.55), int(n * 0.35)
    which = rng.integers(0, 6, n_sat)
    xy = np.vstack([centre + rng.normal(0, 2_500, (n_main, 2)),
                    towns[which] + rng.normal(0, 800, (n_sat, 2)),
                    rng.uniform(0, SIDE_M, (n - n_main - n_sat, 2))])
    weight = np.concatenate([rng.integers(1, 30, n_main), rng.integers(1, 20, n_sat),
                             rng.integers(0, 4, n - n_main - n_sat)])
    return xy, weight


def _rural(rng, n):
    xy = rng.uniform(0, SIDE_M, (n, 2))
    weight = rng.geometric(0.3, n) - 1  # many empty or tiny cells, a few villages
    return xy, weight


def _megacity(rng, n):
    centre = np.array([SIDE_M / 2, SIDE_M / 2])
    n_core = int(n * 0.85)
    xy = np.vstack([centre + rng.normal(0, 1_200, (n_core, 2)),
                    rng.uniform(0, SIDE_M, (n - n_core, 2))])
    weight = np.concatenate([rng.integers(5, 60, n_core), rng.integers(0, 4, n - n_core)])
    return xy, weight


_SHAPES = {"clustered": _clustered, "ring": _ring, "satellite": _satellite, "rural": _rural,
           "megacity": _megacity}


def students_for(weight: np.ndarray, total: int) -> np.ndarray:
    """Whole students per cell ∝ ``weight`` summing to exactly ``total`` (largest remainder).

    >>> students_for(np.array([1.0, 1.0, 1.0]), 4).tolist()
    [2.0, 1.0, 1.0]
    """
    weight = np.asarray(weight, dtype=np.float64)
    raw = weight * (total / weight.sum())
    out = np.floor(raw)
    short = int(total - out.sum())
    if short > 0:  # the largest fractional parts get one more (ties: the first cell)
        frac = raw - out
        top = np.argsort(-frac, kind="stable")[:short]
        out[top] += 1.0
    return out


def make_instance(n_cells: int, n_schools: int, seed: int = 0, *, family: str = "clustered",
                  balance: float | None = None):
    """Return ``cell_xy`` (n, 2) m, ``students`` (n,), ``school_xy`` (m, 2) m, ``seats`` (m,).

    ``balance`` is total students ÷ total seats (exact to one student); ``None`` draws it from
    U(0.95, 1.10) with the seed, as the first benchmark did.
    """
    if family not in _SHAPES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    rng = np.random.default_rng(seed)
    xy, weight = _SHAPES[family](rng, n_cells)
    xy = np.clip(xy, 0, SIDE_M)
    weight = weight.astype(np.float64)
    near = rng.choice(n_cells, n_schools, replace=False, p=weight / weight.sum())
    school_xy = np.clip(xy[near] + rng.normal(0, 200, (n_schools, 2)), 0, SIDE_M)
    if family == "ring":  # keep schools out of the river band too
        band = np.abs(school_xy[:, 1] - SIDE_M / 2) < 600.0
        school_xy[band, 1] = SIDE_M / 2 + np.where(school_xy[band, 1] >= SIDE_M / 2, 600.0, -600.0)
    seats = rng.integers(300, 2_401, n_schools).astype(np.float64)
    ratio = rng.uniform(0.95, 1.10) if balance is None else float(balance)
    students = students_for(weight, int(round(seats.sum() * ratio)))
    return xy, students, school_xy, seats
