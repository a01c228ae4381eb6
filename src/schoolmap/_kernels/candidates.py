"""Candidate schools per cell from estimated seat prices, and the streamed all-pairs certificate
(numba only).

Both walk grid squares (bins) of cells: a school's distance to a bin's bounding box plus its
seat price bounds the priced distance of every cell of the bin, so most schools are dealt with a
bin at a time and no (cell, school) pair is ever stored unless it is kept.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def _metric(ax, ay, bx, by, pnorm):
    dx = ax - bx
    dy = ay - by
    return abs(dx) + abs(dy) if pnorm == 1 else np.hypot(dx, dy)


@nb.njit(cache=True, nogil=True)
def _grown(rows, cols, dists, used, size):
    """Pair arrays of room ``size`` holding the first ``used`` pairs of the given ones."""
    grown_r = np.empty(size, np.int64)
    grown_c = np.empty(size, np.int64)
    grown_d = np.empty(size)
    grown_r[:used] = rows[:used]
    grown_c[:used] = cols[:used]
    grown_d[:used] = dists[:used]
    return grown_r, grown_c, grown_d


@nb.njit(cache=True, nogil=True)
def _box_distance(box, x, y, pnorm):
    """Distance from point (x, y) to the box (xmin, ymin, xmax, ymax): ≤ its distance to any
    point of the box."""
    dx = 0.0
    if x < box[0]:
        dx = box[0] - x
    elif x > box[2]:
        dx = x - box[2]
    dy = 0.0
    if y < box[1]:
        dy = box[1] - y
    elif y > box[3]:
        dy = y - box[3]
    return dx + dy if pnorm == 1 else np.hypot(dx, dy)


@nb.njit(cache=True, nogil=True)
def _screen(box, school_xy, price, upper, limit, pnorm, pool, n_pool, lb, cand):
    """Schools of ``pool[:n_pool]`` whose box distance (within ``upper``) plus price is at most
    ``limit``: their count k, bounds in ``lb[:k]`` and indices in ``cand[:k]``."""
    n_cand = 0
    for r in range(n_pool):
        j = pool[r]
        d = _box_distance(box, school_xy[j, 0], school_xy[j, 1], pnorm)
        if d > upper:
            continue
        bound = d * (1.0 - 1e-12) + price[j]
        if bound <= limit:
            lb[n_cand] = bound
            cand[n_cand] = j
            n_cand += 1
    return n_cand


@nb.njit(cache=True, nogil=True)
def _bin_schools(box, school_xy, price, upper, limit, pnorm, pool, n_pool, lb, cand):
    """:func:`_screen`, and the order of the bounds (ascending)."""
    n_cand = _screen(box, school_xy, price, upper, limit, pnorm, pool, n_pool, lb, cand)
    return n_cand, np.argsort(lb[:n_cand], kind="mergesort")


@nb.njit(cache=True, nogil=True)
def _top(box, school_xy, price, upper, pnorm, pool, n_pool, top):
    """min(top, min over ``pool[:n_pool]`` of farthest-corner distance + price): at least every
    cell's of the box cheapest priced option among those schools (and so among all, when the
    pool holds every school whose bound is at most the result)."""
    for r in range(n_pool):
        j = pool[r]
        far = _box_far(box, school_xy[j, 0], school_xy[j, 1], pnorm)
        if far <= upper and far + price[j] < top:
            top = far + price[j]
    return top


@nb.njit(cache=True, nogil=True)
def _group_box(bin_box, b0, b1):
    """Bounding box of bins b0 … b1 − 1 (a block)."""
    out = np.empty(4)
    out[0] = np.inf
    out[1] = np.inf
    out[2] = -np.inf
    out[3] = -np.inf
    for b in range(b0, b1):
        out[0] = min(out[0], bin_box[b, 0])
        out[1] = min(out[1], bin_box[b, 1])
        out[2] = max(out[2], bin_box[b, 2])
        out[3] = max(out[3], bin_box[b, 3])
    return out


@nb.njit(cache=True, nogil=True)
def priced_violations(cell_xy, bin_cells, bin_ptr, bin_box, group_ptr, school_xy, price, dual,
                      upper, tol, pnorm, keep, supply, unserved_cost):
    """Dual feasibility over **every** (cell, school) pair, streamed: no pair is stored.

    A pair (i, j) violates when c_ij + v_j < u_i − tol. For each bin of cells, a school's
    distance to the bin's bounding box plus its price is a lower bound on c_ij + v_j for every
    cell of the bin; schools whose bound reaches the bin's largest u are checked cell by cell
    (in order of their bound, stopping at the cell's own u), the others are cleared by the bound.
    Pairs farther than ``upper`` are not allowed and never violate.

    Bins come in blocks (``group_ptr``): the schools are screened once per block with the
    block's box and largest dual, then per bin among the block's survivors only.

    A cell without students adds nothing to either objective, so its dual is free up to its
    cheapest priced option: it is *set* here to min(p_i, min_j c_ij + v_j) over every school
    (found with the same bounds) and never violates.

    Parameters
    ----------
    cell_xy : (n, 2) f8 · school_xy : (m, 2) f8 — metres
    bin_cells : (n,) i8 — cells in bin order · bin_ptr : (nb + 1,) i8
    bin_box : (nb, 4) f8 — xmin, ymin, xmax, ymax of each bin's cells
    group_ptr : (ng + 1,) i8 — the bins of block g are ``group_ptr[g]:group_ptr[g + 1]``
    price : (m,) f8 — seat prices v (≥ 0) · dual : (n,) f8 — cell duals u (may be inf)
    upper : f8 — largest allowed distance (inf: none)
    tol : f8 — violations up to this are accepted (cost units)
    pnorm : i8 — 1 Manhattan, else straight line
    keep : i8 — violating pairs kept per cell (the most violating)
    supply : (n,) f8 — students per cell · unserved_cost : (n,) f8 — p_i

    Returns
    -------
    bad_row, bad_col, bad_dist : violating pairs (at most ``keep`` per cell), by cell
    worst : f8 — max(0, max over all pairs of u_i − c_ij − v_j)
    checked : i8 — pairs evaluated one by one (the rest were cleared by a bound)
    dual_out : (n,) f8 — ``dual``, with each empty cell's dual set as above
    """
    m = school_xy.shape[0]
    lb = np.empty(m)
    cand = np.empty(m, np.int64)
    buf_gap = np.empty(keep)
    buf_col = np.empty(keep, np.int64)
    buf_dist = np.empty(keep)
    bad_row = np.empty(1024, np.int64)
    bad_col = np.empty(1024, np.int64)
    bad_dist = np.empty(1024)
    n_bad = np.int64(0)  # int64, not a literal: see schoolmap._kernels
    worst = 0.0
    checked = np.int64(0)
    dual_out = dual.copy()
    every = np.arange(m)
    pool = np.empty(m, np.int64)
    pool_lb = np.empty(m)
    for g in range(group_ptr.shape[0] - 1):
        b0 = group_ptr[g]
        b1 = group_ptr[g + 1]
        gbox = _group_box(bin_box, b0, b1)
        glimit = _limit(bin_cells, bin_ptr[b0], bin_ptr[b1], gbox, school_xy, price, dual,
                        upper, tol, pnorm, supply, unserved_cost, every, m)
        n_pool = _screen(gbox, school_xy, price, upper, glimit, pnorm, every, m, pool_lb, pool)
        for b in range(b0, b1):
            n_bad, worst, checked, bad_row, bad_col, bad_dist = _bin_violations(
                b, cell_xy, bin_cells, bin_ptr, bin_box, school_xy, price, dual, upper, tol,
                pnorm, keep, supply, unserved_cost, pool, n_pool, lb, cand, buf_gap, buf_col,
                buf_dist, bad_row, bad_col, bad_dist, n_bad, worst, checked, dual_out)
    return bad_row[:n_bad].copy(), bad_col[:n_bad].copy(), bad_dist[:n_bad].copy(), worst, \
        checked, dual_out


@nb.njit(cache=True, nogil=True)
def _limit(bin_cells, lo, hi, box, school_xy, price, dual, upper, tol, pnorm, supply,
           unserved_cost, pool, n_pool):
    """The largest priced distance worth looking at for cells ``bin_cells[lo:hi]`` in ``box``:
    their largest dual − tol, and for cells without students the bound on their cheapest
    priced option (farthest corner + price over the pool)."""
    umax = -np.inf
    pmax = -np.inf
    for t in range(lo, hi):
        i = bin_cells[t]
        if supply[i] > 0.0:
            umax = max(umax, dual[i])
        else:
            pmax = max(pmax, unserved_cost[i])
    limit = umax - tol
    if pmax > -np.inf:
        limit = max(limit, _top(box, school_xy, price, upper, pnorm, pool, n_pool, pmax))
    return limit


@nb.njit(cache=True, nogil=True)
def _bin_violations(b, cell_xy, bin_cells, bin_ptr, bin_box, school_xy, price, dual, upper, tol,
                    pnorm, keep, supply, unserved_cost, pool, n_pool, lb, cand, buf_gap,
                    buf_col, buf_dist, bad_row, bad_col, bad_dist, n_bad, worst, checked,
                    dual_out):
    """The violations of bin b (see :func:`priced_violations`), schools from the block's pool."""
    lo = bin_ptr[b]
    hi = bin_ptr[b + 1]
    limit = _limit(bin_cells, lo, hi, bin_box[b], school_xy, price, dual, upper, tol, pnorm,
                   supply, unserved_cost, pool, n_pool)
    n_cand, order = _bin_schools(bin_box[b], school_xy, price, upper, limit, pnorm, pool,
                                 n_pool, lb, cand)
    for t in range(lo, hi):
        i = bin_cells[t]
        x = cell_xy[i, 0]
        y = cell_xy[i, 1]
        if supply[i] <= 0.0:
            bi = unserved_cost[i]
            for r in range(n_cand):
                q = order[r]
                if lb[q] >= bi:
                    break
                j = cand[q]
                d = _metric(x, y, school_xy[j, 0], school_xy[j, 1], pnorm)
                checked += 1
                if d <= upper and d + price[j] < bi:
                    bi = d + price[j]
            dual_out[i] = bi
            continue
        u = dual[i]
        n_buf = 0
        for r in range(n_cand):
            q = order[r]
            if lb[q] >= u - tol:
                break
            j = cand[q]
            d = _metric(x, y, school_xy[j, 0], school_xy[j, 1], pnorm)
            checked += 1
            if d > upper:
                continue
            gap = u - d - price[j]
            if gap > worst:
                worst = gap
            if gap <= tol:
                continue
            if n_buf < keep:  # insertion into the cell's buffer, most violating first
                pos = n_buf
                n_buf += 1
            elif gap > buf_gap[keep - 1]:
                pos = keep - 1
            else:
                continue
            while pos > 0 and buf_gap[pos - 1] < gap:
                buf_gap[pos] = buf_gap[pos - 1]
                buf_col[pos] = buf_col[pos - 1]
                buf_dist[pos] = buf_dist[pos - 1]
                pos -= 1
            buf_gap[pos] = gap
            buf_col[pos] = j
            buf_dist[pos] = d
        if n_buf == 0:
            continue
        if n_bad + n_buf > bad_row.shape[0]:
            bad_row, bad_col, bad_dist = _grown(bad_row, bad_col, bad_dist, n_bad,
                                                2 * (n_bad + n_buf))
        for s in range(n_buf):
            bad_row[n_bad] = i
            bad_col[n_bad] = buf_col[s]
            bad_dist[n_bad] = buf_dist[s]
            n_bad += 1
    return n_bad, worst, checked, bad_row, bad_col, bad_dist


@nb.njit(cache=True, nogil=True)
def bin_boxes(cell_xy, bin_cells, bin_ptr):
    """Bounding box (xmin, ymin, xmax, ymax) of each bin's cells: (nb, 4) f8."""
    n_bins = bin_ptr.shape[0] - 1
    box = np.empty((n_bins, 4))
    for b in range(n_bins):
        box[b, 0] = np.inf
        box[b, 1] = np.inf
        box[b, 2] = -np.inf
        box[b, 3] = -np.inf
        for t in range(bin_ptr[b], bin_ptr[b + 1]):
            i = bin_cells[t]
            x = cell_xy[i, 0]
            y = cell_xy[i, 1]
            box[b, 0] = min(box[b, 0], x)
            box[b, 1] = min(box[b, 1], y)
            box[b, 2] = max(box[b, 2], x)
            box[b, 3] = max(box[b, 3], y)
    return box


@nb.njit(cache=True, nogil=True)
def _box_far(box, x, y, pnorm):
    """Distance from point (x, y) to the farthest corner of the box: ≥ its distance to any
    point of the box."""
    dx = max(abs(x - box[0]), abs(x - box[2]))
    dy = max(abs(y - box[1]), abs(y - box[3]))
    return dx + dy if pnorm == 1 else np.hypot(dx, dy)


@nb.njit(cache=True, nogil=True)
def priced_candidates(cell_xy, bin_cells, bin_ptr, bin_box, group_ptr, school_xy, price,
                      unserved_cost, supply, margin, upper, pnorm):
    """Each cell's candidate schools: those whose priced distance is within ``margin`` of its best.

    ``best_i = min(p_i, min_j (c_ij + v_j))`` over *every* school within ``upper`` (no list is
    assumed); the candidates of cell i are the schools with c_ij + v_j ≤ best_i + margin. Bins of
    cells prune the schools as in :func:`priced_violations`: a school whose box distance plus
    price exceeds every cell's possible best (bounded by the farthest corner of the box) is
    skipped for the whole bin. Cells without students get no candidates.

    Parameters
    ----------
    cell_xy : (n, 2) f8 · school_xy : (m, 2) f8 — metres
    bin_cells, bin_ptr, bin_box, group_ptr : bins of cells (in blocks) as in
        :func:`priced_violations`
    price : (m,) f8 — estimated seat prices (≥ 0) · unserved_cost : (n,) f8 · supply : (n,) f8
    margin : f8 — cost units · upper : f8 — largest allowed distance (inf: none)
    pnorm : i8 — 1 Manhattan, else straight line

    Returns
    -------
    rows, cols, dists : candidate pairs, by bin then cell
    best : (n,) f8 — each cell's best priced option (its unserved cost if no school is better)
    """
    m = school_xy.shape[0]
    n = cell_xy.shape[0]
    best = unserved_cost.copy()
    lbp = np.empty(m)
    cand = np.empty(m, np.int64)
    rows = np.empty(max(1024, 4 * n), np.int64)
    cols = np.empty(max(1024, 4 * n), np.int64)
    dists = np.empty(max(1024, 4 * n))
    count = np.int64(0)
    every = np.arange(m)
    pool = np.empty(m, np.int64)
    pool_lb = np.empty(m)
    for g in range(group_ptr.shape[0] - 1):
        b0 = group_ptr[g]
        b1 = group_ptr[g + 1]
        gmax = -np.inf
        for t in range(bin_ptr[b0], bin_ptr[b1]):
            if supply[bin_cells[t]] > 0.0 and unserved_cost[bin_cells[t]] > gmax:
                gmax = unserved_cost[bin_cells[t]]
        if gmax == -np.inf:
            continue
        gbox = _group_box(bin_box, b0, b1)
        gtop = _top(gbox, school_xy, price, upper, pnorm, every, m, gmax)
        n_pool = _screen(gbox, school_xy, price, upper, gtop + margin, pnorm, every, m, pool_lb,
                         pool)
        for b in range(b0, b1):
            lo = bin_ptr[b]
            hi = bin_ptr[b + 1]
            box = bin_box[b]
            pmax = -np.inf
            for t in range(lo, hi):
                if supply[bin_cells[t]] > 0.0 and unserved_cost[bin_cells[t]] > pmax:
                    pmax = unserved_cost[bin_cells[t]]
            if pmax == -np.inf:
                continue
            # every cell's best is at most min_j (farthest corner + v_j), and at most its own p_i
            top = _top(box, school_xy, price, upper, pnorm, pool, n_pool, pmax)
            n_cand, order = _bin_schools(box, school_xy, price, upper, top + margin, pnorm, pool,
                                         n_pool, lbp, cand)
            if n_cand == 0:
                continue
            for t in range(lo, hi):
                i = bin_cells[t]
                if supply[i] <= 0.0:
                    continue
                x = cell_xy[i, 0]
                y = cell_xy[i, 1]
                bi = best[i]
                for r in range(n_cand):  # the best priced school (bounds in ascending order)
                    q = order[r]
                    if lbp[q] >= bi:
                        break
                    j = cand[q]
                    d = _metric(x, y, school_xy[j, 0], school_xy[j, 1], pnorm)
                    if d <= upper and d + price[j] < bi:
                        bi = d + price[j]
                best[i] = bi
                if count + n_cand > rows.shape[0]:
                    rows, cols, dists = _grown(rows, cols, dists, count, 2 * (count + n_cand))
                for r in range(n_cand):
                    q = order[r]
                    if lbp[q] > bi + margin:
                        break
                    j = cand[q]
                    d = _metric(x, y, school_xy[j, 0], school_xy[j, 1], pnorm)
                    if d <= upper and d + price[j] <= bi + margin:
                        rows[count] = i
                        cols[count] = j
                        dists[count] = d
                        count += 1
    return rows[:count].copy(), cols[:count].copy(), dists[:count].copy(), best
