"""Candidate schools per cell from its nearest schools and estimated seat prices (numba only)."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def select_candidates(dist, idx, price, unserved_cost, supply, bound, margin, k_always):
    """Split each cell's nearest schools into candidates and known others, in one pass.

    A school is a candidate when it is among the ``k_always`` nearest or its priced distance
    (distance + estimated price) is within ``margin`` of the cell's best priced option. Cells
    whose best + margin reaches beyond their nearest-school list (``bound``) are flagged *far*:
    they get no pairs here (the caller looks them up within a radius instead).

    Parameters
    ----------
    dist : (n, kk) f8 — distances to the kk nearest schools, ascending (inf = none)
    idx : (n, kk) i8 — their indices
    price : (m,) f8 — estimated seat prices (≥ 0)
    unserved_cost : (n,) f8
    supply : (n,) f8
    bound : (n,) f8 — distance of the (kk + 1)-th nearest school (inf if none)
    margin : f8 — cost units
    k_always : i8

    Returns
    -------
    cand_row, cand_col, cand_dist, drop_row, drop_col, drop_dist : 1-D arrays
    best : (n,) f8 — best priced option of each cell (capped at its unserved cost)
    far : (n,) bool
    """
    n, kk = dist.shape
    best = np.empty(n)
    far = np.zeros(n, np.bool_)
    n_cand = 0
    n_drop = 0
    for i in range(n):
        b = unserved_cost[i]
        for t in range(kk):
            d = dist[i, t]
            if d == np.inf:
                break
            c = d + price[idx[i, t]]
            if c < b:
                b = c
        best[i] = b
        if bound[i] < b + margin and supply[i] > 0.0:
            far[i] = True
            continue
        for t in range(kk):
            d = dist[i, t]
            if d == np.inf:
                break
            if t < k_always or d + price[idx[i, t]] <= b + margin:
                n_cand += 1
            else:
                n_drop += 1
    cand_row = np.empty(n_cand, np.int64)
    cand_col = np.empty(n_cand, np.int64)
    cand_dist = np.empty(n_cand)
    drop_row = np.empty(n_drop, np.int64)
    drop_col = np.empty(n_drop, np.int64)
    drop_dist = np.empty(n_drop)
    a = 0
    z = 0
    for i in range(n):
        if far[i]:
            continue
        b = best[i]
        for t in range(kk):
            d = dist[i, t]
            if d == np.inf:
                break
            j = idx[i, t]
            if t < k_always or d + price[j] <= b + margin:
                cand_row[a] = i
                cand_col[a] = j
                cand_dist[a] = d
                a += 1
            else:
                drop_row[z] = i
                drop_col[z] = j
                drop_dist[z] = d
                z += 1
    return cand_row, cand_col, cand_dist, drop_row, drop_col, drop_dist, best, far


@nb.njit(cache=True, nogil=True)
def reduced_cost_check(rows, cols, dists, price, dual, tol):
    """Which known pairs violate dual feasibility, and by how much at worst.

    Parameters
    ----------
    rows, cols : (k,) i8 — cell and school of each pair
    dists : (k,) f8 — their cost
    price : (m,) f8 — seat prices v
    dual : (n,) f8 — cell duals u
    tol : f8

    Returns
    -------
    bad : (k,) bool — c_ij + v_j < u_i − tol
    worst : f8 — max(0, max_i (u_i − c_ij − v_j))
    """
    k = rows.shape[0]
    bad = np.zeros(k, np.bool_)
    worst = 0.0
    for t in range(k):
        gap = dual[rows[t]] - dists[t] - price[cols[t]]
        if gap > worst:
            worst = gap
        if gap > tol:
            bad[t] = True
    return bad, worst
