"""Location-model kernels: greedy, vertex substitution and Lagrangian bounds for the p-median.

Numba only: plain NumPy arrays in and out, no Python objects, no exceptions.

All kernels work on a dense C-contiguous cost matrix ``cost`` of shape (n, m) (demand point i,
candidate site j, float64) and a weight vector ``w`` (n,). An open-site mask ``is_open`` (m,) of
uint8 is updated in place. ``fixed`` (m,) uint8 marks sites that must stay open.

The maximal covering model is a p-median on the 0/1 matrix "not covered", so it uses the same
kernels.
"""

from __future__ import annotations

import numba as nb
import numpy as np

INF = np.inf
BLOCK = 64  # candidate columns evaluated together by the interchange (cache-friendly rows)


@nb.njit(cache=True, nogil=True)
def nearest_two(cost, is_open, n1, d1, n2, d2):
    """Nearest and second-nearest open site of every row (−1 / inf when there is none)."""
    sites = np.nonzero(is_open)[0]
    _nearest_two_listed(cost, sites, len(sites), n1, d1, n2, d2)


@nb.njit(cache=True, nogil=True)
def _open_list(is_open):
    """Open sites as a list (room for all m, first k used) and each site's place in it (−1)."""
    m = is_open.shape[0]
    sites = np.empty(m, dtype=np.int64)
    k = 0
    for j in range(m):
        if is_open[j]:
            sites[k] = j
            k += 1
    pos = np.full(m, -1, dtype=np.int64)
    for t in range(k):
        pos[sites[t]] = t
    return sites, k, pos


@nb.njit(cache=True, nogil=True)
def _row_nearest_two(cost, sites, k, i):
    """Row i's nearest and second-nearest of the first ``k`` ``sites``: (j1, c1, j2, c2)."""
    b1 = INF
    b2 = INF
    j1 = -1
    j2 = -1
    for t in range(k):
        j = sites[t]
        c = cost[i, j]
        if c < b1 or j1 < 0:
            b2 = b1
            j2 = j1
            b1 = c
            j1 = j
        elif c < b2 or j2 < 0:
            b2 = c
            j2 = j
    return j1, b1, j2, b2


@nb.njit(cache=True, nogil=True)
def _nearest_two_listed(cost, sites, k, n1, d1, n2, d2):
    for i in range(cost.shape[0]):
        n1[i], d1[i], n2[i], d2[i] = _row_nearest_two(cost, sites, k, i)


@nb.njit(cache=True, nogil=True)
def greedy_add(cost, w, is_open, p):
    """Open sites one at a time, each the one lowering Σ w_i min_open c_ij most, until p are open.

    Returns the objective Σ w_i d1_i afterwards.
    """
    n, m = cost.shape
    best = np.full(n, INF)
    for i in range(n):
        for j in range(m):
            if is_open[j] and cost[i, j] < best[i]:
                best[i] = cost[i, j]
    n_open = 0
    for j in range(m):
        if is_open[j]:
            n_open += 1
    total = np.zeros(m)
    while n_open < p:
        total[:] = 0.0
        for i in range(n):
            b = best[i]
            wi = w[i]
            for j in range(m):
                c = cost[i, j]
                total[j] += wi * (c if c < b else b)
        jbest = -1
        vbest = INF
        for j in range(m):
            if not is_open[j] and (jbest < 0 or total[j] < vbest):
                jbest = j
                vbest = total[j]
        is_open[jbest] = 1
        n_open += 1
        for i in range(n):
            if cost[i, jbest] < best[i]:
                best[i] = cost[i, jbest]
    obj = 0.0
    for i in range(n):
        if w[i] > 0.0:
            obj += w[i] * best[i]
    return obj


@nb.njit(cache=True, nogil=True)
def interchange(cost, w, is_open, fixed, max_swaps, rel_tol):
    """Vertex substitution (Teitz–Bart with Whitaker's nearest/second-nearest bookkeeping).

    Candidates are scanned in blocks of ``BLOCK`` columns; in each block the best (in, out)
    swap is applied if it lowers the objective, until a full pass over all candidates finds no
    improving swap (a local optimum) or ``max_swaps`` swaps were made.

    Returns (objective, swaps, n1) where n1 is each row's nearest open site.
    """
    n, m = cost.shape
    sites, k, pos = _open_list(is_open)
    n1 = np.empty(n, dtype=np.int64)
    n2 = np.empty(n, dtype=np.int64)
    d1 = np.empty(n)
    d2 = np.empty(n)
    _nearest_two_listed(cost, sites, k, n1, d1, n2, d2)
    obj = 0.0
    for i in range(n):
        obj += w[i] * d1[i]
    gain = np.zeros(BLOCK)
    extra = np.zeros((BLOCK, k))
    swaps = 0
    since_improvement = 0  # candidate columns scanned since the last swap
    start = 0
    while since_improvement < m and swaps < max_swaps:
        stop = min(start + BLOCK, m)
        width = stop - start
        gain[:width] = 0.0
        extra[:width, :] = 0.0
        for i in range(n):
            wi = w[i]
            if wi == 0.0:
                continue
            a1 = d1[i]
            a2 = d2[i]
            r = pos[n1[i]]
            for jj in range(width):
                c = cost[i, start + jj]
                if c < a2:
                    a = c if c < a1 else a1
                    gain[jj] += wi * (a1 - a)
                    extra[jj, r] += wi * (c - a)
                else:
                    extra[jj, r] += wi * (a2 - a1)
        jbest = -1
        rbest = -1
        dbest = 0.0
        for jj in range(width):
            j = start + jj
            if is_open[j]:
                continue
            for t in range(k):
                if fixed[sites[t]]:
                    continue
                delta = extra[jj, t] - gain[jj]
                if delta < dbest:
                    dbest = delta
                    jbest = j
                    rbest = t
        if jbest >= 0 and dbest < -rel_tol * max(1.0, abs(obj)):
            out = sites[rbest]
            is_open[out] = 0
            is_open[jbest] = 1
            pos[out] = -1
            sites[rbest] = jbest
            pos[jbest] = rbest
            _nearest_two_listed(cost, sites, k, n1, d1, n2, d2)
            obj = 0.0
            for i in range(n):
                obj += w[i] * d1[i]
            swaps += 1
            since_improvement = 0
        else:
            since_improvement += width
            start = stop if stop < m else 0
    return obj, swaps, n1


@nb.njit(cache=True, nogil=True)
def lagrangian_bound(cost, nbr, nbr_cost, w, p, fixed, lam, upper, n_iter, integral, best_open,
                     bound_open):
    """Lower bound of the p-median by subgradient ascent on the relaxed assignment rows.

    L(λ) = Σ_i λ_i + Σ_{j ∈ S(λ)} ρ_j with ρ_j = Σ_i min(0, w_i c_ij − λ_i) and S(λ) the fixed
    sites plus the p − |fixed| other sites of smallest ρ. ``nbr`` / ``nbr_cost`` (n, K) are each
    row's K cheapest columns in order (K ≤ m): ρ only needs the columns with w_i c_ij < λ_i, so a
    row is scanned in full only when λ_i passes its K-th cost. ``lam`` (n,) is the start, updated in
    place; ``upper`` a known objective value (the step target). With ``integral`` (all w_i c_ij
    whole numbers) the bound is rounded up. Every S(λ) is also priced as a solution; the best
    is written to ``best_open`` (m,) uint8, the set of the best bound to ``bound_open``.
    Returns (best bound, iterations, best primal value).
    """
    n, m = cost.shape
    rho = np.zeros(m)
    key = np.zeros(m)
    chosen = np.zeros(m, dtype=np.uint8)
    g = np.zeros(n)
    best = -INF
    theta = 2.0
    stall = 0
    it = 0
    primal = INF
    stall_limit = min(20, max(5, n_iter // 25))
    for it in range(n_iter):
        rho[:] = 0.0
        lsum = 0.0
        kk = nbr.shape[1]
        for i in range(n):
            li = lam[i]
            lsum += li
            wi = w[i]
            if kk < m and wi * nbr_cost[i, kk - 1] < li:
                for j in range(m):
                    v = wi * cost[i, j] - li
                    if v < 0.0:
                        rho[j] += v
            else:
                for t in range(kk):
                    v = wi * nbr_cost[i, t] - li
                    if v >= 0.0:
                        break
                    rho[nbr[i, t]] += v
        for j in range(m):
            key[j] = -INF if fixed[j] else rho[j]
        order = np.argsort(key)
        chosen[:] = 0
        value = lsum
        for t in range(p):
            j = order[t]
            chosen[j] = 1
            value += rho[j]
        # price S(λ) as a solution, and the subgradient g_i = 1 − #{j ∈ S(λ): w_i c_ij < λ_i}
        heur = 0.0
        norm = 0.0
        for i in range(n):
            li = lam[i]
            wi = w[i]
            b = INF
            s = 1.0
            for t in range(kk):
                j = nbr[i, t]
                if chosen[j]:
                    if b == INF:
                        b = nbr_cost[i, t]
                    if wi * nbr_cost[i, t] < li:
                        s -= 1.0
                if b < INF and wi * nbr_cost[i, t] >= li:
                    break
            if b == INF or (kk < m and wi * nbr_cost[i, kk - 1] < li):
                b = INF
                s = 1.0
                for t in range(p):
                    c = cost[i, order[t]]
                    if c < b:
                        b = c
                    if wi * c < li:
                        s -= 1.0
            heur += wi * b
            g[i] = s
            norm += s * s
        if heur < primal:
            primal = heur
            best_open[:] = chosen
        if integral:
            value = np.ceil(value - 1e-7 * max(1.0, abs(value)))
        if it == 0 or value > best + 1e-12 * max(1.0, abs(best)):
            best = value
            bound_open[:] = chosen
            stall = 0
        else:
            stall += 1
            if stall >= stall_limit:
                theta *= 0.5
                stall = 0
        if best >= upper - 1e-9 * max(1.0, abs(upper)) or theta < 1e-5:
            break
        if norm == 0.0:
            break
        step = theta * (upper - value) / norm
        if step <= 0.0:
            step = theta * 1e-3 * max(1.0, abs(upper)) / norm
        for i in range(n):
            lam[i] += step * g[i]
            if kk < m:  # any λ bounds; keeping λ_i within the K cheapest avoids full row scans
                cap = w[i] * nbr_cost[i, kk - 1]
                if lam[i] > cap:
                    lam[i] = cap
    return best, it + 1, primal


@nb.njit(cache=True, nogil=True)
def greedy_cover(covers, must):
    """Greedy set cover: open the site covering most uncovered rows until all ``must`` rows are.

    covers (n, m) uint8 · must (n,) uint8 · -> open mask (m,) uint8 (rows no site covers stay
    uncovered). Redundant sites are dropped at the end.
    """
    n, m = covers.shape
    need = must.copy()
    is_open = np.zeros(m, dtype=np.uint8)
    count = np.zeros(m, dtype=np.int64)
    while True:
        count[:] = 0
        for i in range(n):
            if need[i]:
                for j in range(m):
                    if covers[i, j]:
                        count[j] += 1
        jbest = -1
        cbest = 0
        for j in range(m):
            if count[j] > cbest:
                cbest = count[j]
                jbest = j
        if jbest < 0:
            break
        is_open[jbest] = 1
        for i in range(n):
            if covers[i, jbest]:
                need[i] = 0
    # drop redundant sites (every row they cover is covered by another open site)
    hits = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for j in range(m):
            if is_open[j] and covers[i, j]:
                hits[i] += 1
    for j in range(m):
        if not is_open[j]:
            continue
        redundant = True
        for i in range(n):
            if must[i] and covers[i, j] and hits[i] < 2:
                redundant = False
                break
        if redundant:
            is_open[j] = 0
            for i in range(n):
                if covers[i, j]:
                    hits[i] -= 1
    return is_open


@nb.njit(cache=True, nogil=True)
def packing_bound(covers, must):
    """Rows no two of which share a covering site: a lower bound on any cover's size."""
    n, m = covers.shape
    n_cov = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for j in range(m):
            if covers[i, j]:
                n_cov[i] += 1
    order = np.argsort(n_cov)
    used = np.zeros(m, dtype=np.uint8)
    size = 0
    for t in range(n):
        i = order[t]
        if not must[i] or n_cov[i] == 0:
            continue
        free = True
        for j in range(m):
            if covers[i, j] and used[j]:
                free = False
                break
        if free:
            size += 1
            for j in range(m):
                if covers[i, j]:
                    used[j] = 1
    return size


@nb.njit(cache=True, nogil=True)
def interchange_lists(cost, nbr_cost, rev_ptr, rev_row, rev_cost, w, is_open, fixed, max_swaps,
                      rel_tol):
    """Vertex substitution like :func:`interchange`, visiting only the rows a candidate can help.

    Adding candidate j changes row i only if c_ij < d2_i (its second-nearest open cost). Rows
    whose d2_i lies within their K cheapest columns (``nbr_cost`` (n, K), sorted) are found
    through the transposed lists ``rev_ptr`` (m + 1,), ``rev_row``, ``rev_cost`` (each column's
    rows with it among their K cheapest); the other ("far") rows are scanned for every
    candidate. The loss of closing site r starts from B_r = Σ_{i: n1_i = r} w_i (d2_i − d1_i).
    Needs at least two open sites. Candidates are tried one at a time (first improvement, best
    site to close). Returns (objective, swaps, n1).
    """
    n, m = cost.shape
    kk = nbr_cost.shape[1]
    sites, k, pos = _open_list(is_open)
    n1 = np.empty(n, dtype=np.int64)
    n2 = np.empty(n, dtype=np.int64)
    d1 = np.empty(n)
    d2 = np.empty(n)
    base = np.zeros(k)
    extra = np.zeros(k)
    is_far = np.zeros(n, dtype=np.uint8)
    far = np.empty(n, dtype=np.int64)
    n_far = 0
    obj = 0.0
    swaps = 0
    fresh = True
    since = 0
    j = 0
    _nearest_two_listed(cost, sites, k, n1, d1, n2, d2)
    while since < m and swaps < max_swaps:
        if fresh:
            base[:] = 0.0
            obj = 0.0
            n_far = 0
            for i in range(n):
                obj += w[i] * d1[i]
                base[pos[n1[i]]] += w[i] * (d2[i] - d1[i])
                if kk < m and d2[i] > nbr_cost[i, kk - 1]:
                    is_far[i] = 1
                    far[n_far] = i
                    n_far += 1
                else:
                    is_far[i] = 0
            fresh = False
        if not is_open[j]:
            gain = 0.0
            extra[:k] = base[:k]
            for e in range(rev_ptr[j], rev_ptr[j + 1]):
                i = rev_row[e]
                c = rev_cost[e]
                if is_far[i] or c >= d2[i] or w[i] == 0.0:
                    continue
                a = c if c < d1[i] else d1[i]
                gain += w[i] * (d1[i] - a)
                extra[pos[n1[i]]] += w[i] * ((c - a) - (d2[i] - d1[i]))
            for f in range(n_far):
                i = far[f]
                c = cost[i, j]
                if c >= d2[i] or w[i] == 0.0:
                    continue
                a = c if c < d1[i] else d1[i]
                gain += w[i] * (d1[i] - a)
                extra[pos[n1[i]]] += w[i] * ((c - a) - (d2[i] - d1[i]))
            rbest = -1
            dbest = 0.0
            for t in range(k):
                if fixed[sites[t]]:
                    continue
                delta = extra[t] - gain
                if rbest < 0 or delta < dbest:
                    dbest = delta
                    rbest = t
            if rbest >= 0 and dbest < -rel_tol * max(1.0, abs(obj)):
                out = sites[rbest]
                is_open[out] = 0
                is_open[j] = 1
                pos[out] = -1
                sites[rbest] = j
                pos[j] = rbest
                _swap_nearest_two(cost, sites, k, out, j, n1, d1, n2, d2)
                swaps += 1
                since = 0
                fresh = True
                continue
        since += 1
        j = j + 1 if j + 1 < m else 0
    if fresh:
        obj = 0.0
        for i in range(n):
            obj += w[i] * d1[i]
    return obj, swaps, n1


@nb.njit(cache=True, nogil=True)
def _swap_nearest_two(cost, sites, k, out, new, n1, d1, n2, d2):
    """Update nearest / second-nearest after site ``out`` closed and ``new`` opened."""
    n = cost.shape[0]
    for i in range(n):
        if n1[i] == out or n2[i] == out:
            n1[i], d1[i], n2[i], d2[i] = _row_nearest_two(cost, sites, k, i)
        else:
            c = cost[i, new]
            if c < d1[i]:
                n2[i] = n1[i]
                d2[i] = d1[i]
                n1[i] = new
                d1[i] = c
            elif c < d2[i]:
                n2[i] = new
                d2[i] = c
