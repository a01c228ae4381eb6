"""Candidate schools per cell from its nearest schools and estimated seat prices (numba only)."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def _empty_pairs(k):
    """Room for k (cell, school, distance) pairs."""
    return np.empty(k, np.int64), np.empty(k, np.int64), np.empty(k)


@nb.njit(cache=True, nogil=True)
def select_candidates(dist, idx, price, unserved_cost, supply, bound, margin, k_always):
    """Pick each cell's candidate schools among its nearest, in one pass.

    A school is a candidate when it is among the ``k_always`` nearest or its priced distance
    (distance + estimated price) is within ``margin`` of the cell's best priced option. The
    others stay known (the certificate checks them, see :func:`knn_violations`). Cells whose
    best + margin reaches beyond their nearest-school list (``bound``) are flagged *far*: they
    get no pairs here (the caller looks them up within a radius instead).

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
    cand_row, cand_col, cand_dist : 1-D arrays
    best : (n,) f8 — best priced option of each cell (capped at its unserved cost)
    far : (n,) bool
    """
    n, kk = dist.shape
    best = np.empty(n)
    far = np.zeros(n, np.bool_)
    n_cand = 0
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
    cand_row, cand_col, cand_dist = _empty_pairs(n_cand)
    a = 0
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
    return cand_row, cand_col, cand_dist, best, far


@nb.njit(cache=True, nogil=True)
def _metric(ax, ay, bx, by, pnorm):
    dx = ax - bx
    dy = ay - by
    return abs(dx) + abs(dy) if pnorm == 1 else np.hypot(dx, dy)


@nb.njit(cache=True, nogil=True)
def nearest_from_bins(cell_xy, school_xy, bin_of, bin_xy, bin_schools, bin_bound, width, pnorm):
    """Each cell's ``width`` nearest schools among those listed for its bin, and a bound.

    A school not in the bin's list is at least ``bin_bound − |cell − bin point|`` from the cell
    (triangle inequality), so a cell's bound is the smaller of that and its own next listed
    school: every school not returned for the cell is at least ``bound`` away.

    Parameters
    ----------
    cell_xy : (n, 2) f8 · school_xy : (m, 2) f8
    bin_of : (n,) i8 — bin of each cell
    bin_xy : (nb, 2) f8 — a point of each bin (its centre)
    bin_schools : (nb, kb) i8 — schools nearest to each bin point (m = none)
    bin_bound : (nb,) f8 — every school not listed is at least this far from the bin point
    width : i8 — nearest schools returned per cell
    pnorm : i8 — 1 Manhattan, else straight-line distance

    Returns
    -------
    dist : (n, width) f8 — ascending (ties by school), inf = none
    idx : (n, width) i8 — m = none
    bound : (n,) f8
    """
    n = cell_xy.shape[0]
    m = school_xy.shape[0]
    kb = bin_schools.shape[1]
    dist = np.full((n, width), np.inf)
    idx = np.full((n, width), m, np.int64)
    bound = np.empty(n)
    d = np.empty(kb)
    js = np.empty(kb, np.int64)
    for i in range(n):
        b = bin_of[i]
        x = cell_xy[i, 0]
        y = cell_xy[i, 1]
        count = 0
        for t in range(kb):
            j = bin_schools[b, t]
            if j >= m:
                break
            dj = _metric(x, y, school_xy[j, 0], school_xy[j, 1], pnorm)
            pos = count  # insertion sort by (distance, school)
            while pos > 0 and (d[pos - 1] > dj or (d[pos - 1] == dj and js[pos - 1] > j)):
                d[pos] = d[pos - 1]
                js[pos] = js[pos - 1]
                pos -= 1
            d[pos] = dj
            js[pos] = j
            count += 1
        for t in range(min(count, width)):
            dist[i, t] = d[t]
            idx[i, t] = js[t]
        bnd = bin_bound[b] - _metric(x, y, bin_xy[b, 0], bin_xy[b, 1], pnorm)
        if count > width and d[width] < bnd:
            bnd = d[width]
        bound[i] = bnd
    return dist, idx, bound


@nb.njit(cache=True, nogil=True)
def balls_from_bins(cell_xy, school_xy, cells, radius, bin_of, bin_ptr, bin_schools, pnorm):
    """Every school within ``radius[t]`` of cell ``cells[t]``, among those listed for its bin.

    The caller lists, per bin, every school within the largest cell radius plus the cell's
    distance from the bin point, so nothing within a cell's radius is missed.

    Parameters
    ----------
    cells : (k,) i8 · radius : (k,) f8
    bin_of : (n,) i8 — bin of each cell
    bin_ptr : (nb + 1,) i8 · bin_schools : (nnz,) i8 — CSR lists of schools per bin
    pnorm : i8 — 1 Manhattan, else straight-line distance

    Returns
    -------
    rows, cols, dists : 1-D arrays of the pairs found
    """
    listed = 0
    for t in range(cells.shape[0]):
        listed += bin_ptr[bin_of[cells[t]] + 1] - bin_ptr[bin_of[cells[t]]]
    rows, cols, dists = _empty_pairs(listed)
    a = 0
    for t in range(cells.shape[0]):
        i = cells[t]
        b = bin_of[i]
        for e in range(bin_ptr[b], bin_ptr[b + 1]):
            j = bin_schools[e]
            d = _metric(cell_xy[i, 0], cell_xy[i, 1], school_xy[j, 0], school_xy[j, 1], pnorm)
            if d <= radius[t]:
                rows[a] = i
                cols[a] = j
                dists[a] = d
                a += 1
    return rows[:a].copy(), cols[:a].copy(), dists[:a].copy()


@nb.njit(cache=True, nogil=True)
def pair_distance(rows, cols, cell_xy, school_xy, pnorm):
    """Distance of each (cell, school) pair: (k,) f8, Manhattan if ``pnorm`` is 1 else straight."""
    out = np.empty(rows.shape[0])
    for t in range(rows.shape[0]):
        i = rows[t]
        j = cols[t]
        out[t] = _metric(cell_xy[i, 0], cell_xy[i, 1], school_xy[j, 0], school_xy[j, 1], pnorm)
    return out


@nb.njit(cache=True, nogil=True)
def split_far(rows, cols, dists, price, best, margin, kth):
    """Split the pairs found around *far* cells into candidates and known others.

    A pair is a candidate when its priced distance is within ``margin`` of the cell's best
    (``best``) or it is no farther than the cell's ``kth`` nearest school.

    Returns
    -------
    cand_row, cand_col, cand_dist, other_row, other_col, other_dist : 1-D arrays
    """
    k = rows.shape[0]
    keep = np.empty(k, np.bool_)
    n_keep = 0
    for t in range(k):
        i = rows[t]
        keep[t] = dists[t] + price[cols[t]] <= best[i] + margin or dists[t] <= kth[i]
        if keep[t]:
            n_keep += 1
    cand_row, cand_col, cand_dist = _empty_pairs(n_keep)
    other_row, other_col, other_dist = _empty_pairs(k - n_keep)
    a = 0
    z = 0
    for t in range(k):
        if keep[t]:
            cand_row[a] = rows[t]
            cand_col[a] = cols[t]
            cand_dist[a] = dists[t]
            a += 1
        else:
            other_row[z] = rows[t]
            other_col[z] = cols[t]
            other_dist[z] = dists[t]
            z += 1
    return cand_row, cand_col, cand_dist, other_row, other_col, other_dist


@nb.njit(cache=True, nogil=True)
def knn_violations(dist, idx, skip, price, dual, tol):
    """Dual feasibility of each cell's nearest-school pairs, without listing them.

    Parameters
    ----------
    dist, idx : (n, kk) — nearest schools as in :func:`select_candidates`
    skip : (n,) bool — cells not to check here (their pairs are checked elsewhere)
    price : (m,) f8 — seat prices v
    dual : (n,) f8 — cell duals u
    tol : f8

    Returns
    -------
    bad_row, bad_col, bad_dist : pairs with c_ij + v_j < u_i − tol
    worst : f8 — max(0, max (u_i − c_ij − v_j)) over the checked pairs
    checked : i8 — pairs checked
    """
    n, kk = dist.shape
    worst = 0.0
    checked = 0
    n_bad = 0
    for i in range(n):
        if skip[i]:
            continue
        for t in range(kk):
            d = dist[i, t]
            if d == np.inf:
                break
            checked += 1
            gap = dual[i] - d - price[idx[i, t]]
            if gap > worst:
                worst = gap
            if gap > tol:
                n_bad += 1
    bad_row, bad_col, bad_dist = _empty_pairs(n_bad)
    a = 0
    for i in range(n):
        if skip[i] or a == n_bad:
            continue
        for t in range(kk):
            d = dist[i, t]
            if d == np.inf:
                break
            if dual[i] - d - price[idx[i, t]] > tol:
                bad_row[a] = i
                bad_col[a] = idx[i, t]
                bad_dist[a] = d
                a += 1
    return bad_row, bad_col, bad_dist, worst, checked


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
