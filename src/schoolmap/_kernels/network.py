"""Shortest paths on road graphs (CSR arrays in, arrays out).

- :func:`bounded_dijkstra` — from each source (a school's node, with its connector as the
  starting distance) up to that source's limit: (source, node, distance) triplets, and whether
  the search settled every node it can reach (the limit was never hit).
- :func:`nearest_source` — one multi-source Dijkstra: each node's nearest source and distance
  (ties: the lower source index).
- :func:`path_tree` / :func:`trace_paths` — one search keeping each node's next node towards
  the source, and the node sequences of the paths from given nodes (the map's road lines).
- :func:`landmark_distances` — full searches from a few landmark nodes: every node's distance
  from each landmark (the ALT lower bounds of the certificate).
- :func:`lower_bound_violations` — the exact allocation's certificate over all cell × school
  pairs, streamed over grid squares of cells: a pair absent from the cost matrix costs at least
  its straight-line distance, at least the landmarks' triangle bound ``d(L, b) − d(L, a)`` /
  ``d(a, L) − d(b, L)`` and, when the school's search stopped at ``radius``, at least
  ``radius + connectors``; pairs where even that bound, plus the seat price, is below the cell's
  dual are returned.
- :func:`expand_pairs`, :func:`sort_pairs`, :func:`bin_pairs` — the road door's pairs: search
  triplets to (cell, school, cost), pairs by cell (one counting pass), and grid squares' mean
  costs (the coarse start); linear in the pairs, no comparison sort.

Every search is bounded: a node is pushed only with a strictly smaller distance, so a search
pushes at most one entry per edge plus its source (the heap is sized for that) and pops as many.

Edge weights must be ≥ 0.
"""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _push(hk, hs, hn, size, key, src, node):
    i = size
    hk[i] = key
    hs[i] = src
    hn[i] = node
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] < hk[i] or (hk[p] == hk[i] and hs[p] <= hs[i]):
            break
        hk[p], hk[i] = hk[i], hk[p]
        hs[p], hs[i] = hs[i], hs[p]
        hn[p], hn[i] = hn[i], hn[p]
        i = p
    return size + 1


@numba.njit(cache=True, nogil=True)
def _pop(hk, hs, hn, size):
    key, src, node = hk[0], hs[0], hn[0]
    size -= 1
    hk[0], hs[0], hn[0] = hk[size], hs[size], hn[size]
    i = 0
    while True:
        lft = 2 * i + 1
        if lft >= size:
            break
        c = lft
        r = lft + 1
        if r < size and (hk[r] < hk[lft] or (hk[r] == hk[lft] and hs[r] < hs[lft])):
            c = r
        if hk[i] < hk[c] or (hk[i] == hk[c] and hs[i] <= hs[c]):
            break
        hk[c], hk[i] = hk[i], hk[c]
        hs[c], hs[i] = hs[i], hs[c]
        hn[c], hn[i] = hn[i], hn[c]
        i = c
    return key, src, node, size


@numba.njit(cache=True, nogil=True)
def _grow(a, k, cap):
    """``a[:k]`` copied into a new array of ``cap`` entries."""
    out = np.empty(cap, a.dtype)
    out[:k] = a[:k]
    return out


@numba.njit(cache=True, nogil=True)
def _append3(a, b, c, k, x, y, z):
    """Write (x, y, z) at row ``k`` of the arrays a, b, c, doubled first when full."""
    if k == len(a):
        a = _grow(a, k, 2 * k)
        b = _grow(b, k, 2 * k)
        c = _grow(c, k, 2 * k)
    a[k] = x
    b[k] = y
    c[k] = z
    return a, b, c


@numba.njit(cache=True, nogil=True, inline="always")
def _push4(hk, hn, size, key, node):
    """Push on a 4-ary min-heap of (key, node) (sift up by moving parents down)."""
    i = size
    while i > 0:
        p = (i - 1) >> 2
        if hk[p] <= key:
            break
        hk[i] = hk[p]
        hn[i] = hn[p]
        i = p
    hk[i] = key
    hn[i] = node
    return size + 1


@numba.njit(cache=True, nogil=True, inline="always")
def _pop4(hk, hn, size):
    """Pop the least key of a 4-ary min-heap of (key, node)."""
    key, node = hk[0], hn[0]
    size -= 1
    lk, ln = hk[size], hn[size]
    i = 0
    while True:
        c = 4 * i + 1
        if c >= size:
            break
        best = c
        bk = hk[c]
        e = min(c + 4, size)
        for q in range(c + 1, e):
            if hk[q] < bk:
                bk = hk[q]
                best = q
        if lk <= bk:
            break
        hk[i] = bk
        hn[i] = hn[best]
        i = best
    hk[i] = lk
    hn[i] = ln
    return key, node, size


@numba.njit(cache=True, nogil=True)
def bounded_dijkstra(indptr, index, weight, source_node, source_offset, limit):
    """Dijkstra from each source up to its limit.

    indptr (N+1,) i8 · index (E,) i8 · weight (E,) f8 · source_node (m,) i8 · source_offset (m,)
    f8 (distance at the source node) · limit (m,) f8 (inf: no limit)
    -> src (k,) i8, node (k,) i8, dist (k,) f8 (every node with dist ≤ limit, per source in
    settling order), exhausted (m,) bool (the search ran out of nodes before the limit).

    One search per source, on a 4-ary heap of (key, node) only (the searches need no tie
    order), stale entries skipped by ``d > dist[v]`` (a node is pushed only with a strictly
    smaller distance, so no settled-flag array), and only the touched nodes reset between
    sources — so a bounded search costs what it visits, not N.
    """
    n = len(indptr) - 1
    m = len(source_node)
    dist = np.full(n, np.inf)
    touched = np.empty(n, np.int64)
    cap = max(16, len(index) + 1)
    hk = np.empty(cap, np.float64)
    hn = np.empty(cap, np.int32)
    out_cap = max(1024, 4 * m)
    o_src = np.empty(out_cap, np.int64)
    o_node = np.empty(out_cap, np.int64)
    o_dist = np.empty(out_cap, np.float64)
    k = np.int64(0)
    exhausted = np.zeros(m, np.bool_)
    for j in range(m):
        s = source_node[j]
        if s < 0:
            exhausted[j] = True
            continue
        lim = limit[j]
        n_touched = 1
        touched[0] = s
        dist[s] = source_offset[j]
        size = _push4(hk, hn, 0, source_offset[j], s)
        hit = False
        while size > 0:
            d, v, size = _pop4(hk, hn, size)
            if d > dist[v]:
                continue
            if d > lim:
                hit = True
                break
            if k == out_cap:
                out_cap *= 2
                o_src = _grow(o_src, k, out_cap)
                o_node = _grow(o_node, k, out_cap)
                o_dist = _grow(o_dist, k, out_cap)
            o_src[k] = j
            o_node[k] = v
            o_dist[k] = d
            k += 1
            for e in range(indptr[v], indptr[v + 1]):
                w = index[e]
                nd = d + weight[e]
                if nd < dist[w]:
                    if dist[w] == np.inf:
                        touched[n_touched] = w
                        n_touched += 1
                    dist[w] = nd
                    size = _push4(hk, hn, size, nd, w)
        exhausted[j] = not hit
        for t in range(n_touched):
            dist[touched[t]] = np.inf
    return o_src[:k].copy(), o_node[:k].copy(), o_dist[:k].copy(), exhausted


@numba.njit(cache=True, nogil=True)
def path_tree(indptr, index, weight, source, offset):
    """Full search from one source, keeping predecessors.

    indptr (N+1,) i8 · index (E,) i8 · weight (E,) f8 · source i8 · offset f8 (distance at the
    source) -> dist (N,) f8 (inf: not reached), pred (N,) i8 (the node each node was reached
    from; −1 at the source and where not reached). Ties keep the first node to reach a node.
    """
    n = len(indptr) - 1
    dist = np.full(n, np.inf)
    pred = np.full(n, -1, np.int64)
    hk = np.empty(len(index) + 1, np.float64)
    hn = np.empty(len(index) + 1, np.int32)
    dist[source] = offset
    size = _push4(hk, hn, 0, offset, source)
    while size > 0:
        d, v, size = _pop4(hk, hn, size)
        if d > dist[v]:
            continue
        for e in range(indptr[v], indptr[v + 1]):
            w = index[e]
            nd = d + weight[e]
            if nd < dist[w]:
                dist[w] = nd
                pred[w] = v
                size = _push4(hk, hn, size, nd, w)
    return dist, pred


@numba.njit(cache=True, nogil=True)
def trace_paths(pred, starts, target):
    """Node sequences from each start along ``pred`` to ``target``.

    pred (N,) i8 (from :func:`path_tree`) · starts (k,) i8 · target i8
    -> nodes (total,) i8, ptr (k+1,) i8 (path p is ``nodes[ptr[p]:ptr[p + 1]]``, start first,
    target last; empty when the start does not reach the target). Each path is at most N nodes
    long: a longer walk (a corrupt ``pred`` with a cycle) is cut and its path left empty.
    """
    n = len(pred)
    k = len(starts)
    ptr = np.zeros(k + 1, np.int64)
    cap = max(16, 4 * k)
    out = np.empty(cap, np.int64)
    total = np.int64(0)
    for p in range(k):
        v = starts[p]
        begin = total
        steps = 0
        ok = v >= 0
        while ok:
            if total == cap:
                cap *= 2
                out = _grow(out, total, cap)
            out[total] = v
            total += 1
            if v == target:
                break
            v = pred[v]
            steps += 1
            if v < 0 or steps > n:
                ok = False
        if not ok:
            total = begin
        ptr[p + 1] = total
    return out[:total].copy(), ptr


@numba.njit(cache=True, nogil=True)
def landmark_distances(indptr, index, weight, landmarks):
    """Distance from each landmark to every node.

    indptr (N+1,) i8 · index (E,) i8 · weight (E,) f8 · landmarks (L,) i8
    -> dist (N, L) f8 (inf: not reached), row-major so a node's L distances are adjacent.
    """
    n = len(indptr) - 1
    n_l = len(landmarks)
    out = np.full((n, n_l), np.inf)
    dist = np.full(n, np.inf)
    hk = np.empty(len(index) + 1, np.float64)
    hn = np.empty(len(index) + 1, np.int32)
    for q in range(n_l):
        s = landmarks[q]
        dist[:] = np.inf
        dist[s] = 0.0
        size = _push4(hk, hn, 0, 0.0, s)
        while size > 0:
            d, v, size = _pop4(hk, hn, size)
            if d > dist[v]:
                continue
            out[v, q] = d
            for e in range(indptr[v], indptr[v + 1]):
                w = index[e]
                nd = d + weight[e]
                if nd < dist[w]:
                    dist[w] = nd
                    size = _push4(hk, hn, size, nd, w)
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _alt(fa, ta, fb, tb):
    """Landmark bound on d(a → b) from F = d(L, ·) and T = d(·, L) rows (−inf: none)."""
    best = -np.inf
    for q in range(len(fa)):
        if fb[q] < np.inf:
            best = max(best, fb[q] - fa[q])        # d(L,b) ≤ d(L,a) + d(a,b)
        elif fa[q] < np.inf:
            return np.inf                          # L reaches a but not b: a cannot reach b
        if ta[q] < np.inf:
            best = max(best, ta[q] - tb[q])        # d(a,L) ≤ d(a,b) + d(b,L)
    return best


@numba.njit(cache=True, nogil=True)
def nearest_source(indptr, index, weight, source_node, source_offset):
    """Each node's nearest source (ties: lower source index) and its distance.

    -> label (N,) i8 (-1: unreachable), dist (N,) f8 (inf: unreachable)
    """
    n = len(indptr) - 1
    m = len(source_node)
    dist = np.full(n, np.inf)
    label = np.full(n, -1, np.int64)
    done = np.zeros(n, np.bool_)
    cap = len(index) + m + 1
    hk = np.empty(cap, np.float64)
    hs = np.empty(cap, np.int64)
    hn = np.empty(cap, np.int64)
    size = np.int64(0)
    for j in range(m):
        s = source_node[j]
        if s < 0:
            continue
        d = source_offset[j]
        if d < dist[s] or (d == dist[s] and j < label[s]):
            dist[s] = d
            label[s] = j
            size = _push(hk, hs, hn, size, d, j, s)
    while size > 0:
        d, j, v, size = _pop(hk, hs, hn, size)
        if done[v] or d > dist[v] or (d == dist[v] and j != label[v]):
            continue
        done[v] = True
        for e in range(indptr[v], indptr[v + 1]):
            w = index[e]
            nd = d + weight[e]
            if not done[w] and (nd < dist[w] or (nd == dist[w] and j < label[w])):
                dist[w] = nd
                label[w] = j
                size = _push(hk, hs, hn, size, nd, j, w)
    return label, dist


@numba.njit(cache=True, nogil=True)
def lower_bound_violations(xy, bin_cells, bin_ptr, sxy, price, u, radius, conn_cell,
                           conn_school, comp_cell, comp_school, straight_cell, straight_school,
                           tol, lf_cell, lt_cell, lf_school, lt_school, upper, per_cell):
    """Pairs (i, j) whose lower bound on the network cost, plus price v_j, is below u_i − tol.

    xy (n, 2) · bin_cells (n,) i8 / bin_ptr (B+1,) i8 cells by grid square · sxy (m, 2) ·
    price (m,) · u (n,) · radius (m,) (how far school j's search went; inf: exhausted) ·
    conn_cell (n,) / conn_school (m,) connector metres · comp_cell (n,) / comp_school (m,) piece
    of the network · straight_cell (n,) / straight_school (m,) bool: costs are straight lines ·
    lf_cell (n, L) / lf_school (m, L): d(landmark, node), lt_cell / lt_school: d(node, landmark)
    of each point's node (L may be 0: no landmarks) · upper: longest allowed trip (pairs whose
    straight line is longer are not allowed: never violating) · per_cell: violating pairs kept
    per cell (those of least bound)
    -> cell (k,) i8, school (k,) i8, need (k,) f8 (u_i − v_j: the cost the pair must reach),
    bound (k,) f8 (the pair's lower bound, connectors included), worst (largest violation),
    checked (pairs evaluated one by one), violating (all violating pairs, kept or not)
    A pair (i, j) absent from the cost matrix costs at least d_ij (straight line); a network pair
    also at least radius_j + conn_i + conn_j and the landmarks' bound + conn_i + conn_j; a pair
    between two pieces cannot be travelled. Memory: n × per_cell kept pairs at most.

    A grid square is screened against each school before its cells are: by its cells' largest
    dual, landmark rows and smallest connector — over all its cells, or, for a school on the
    largest piece (piece 0), over the cells that school can reach (on piece 0, or straight):
    a cell on a small piece without a school, left unserved at the unserved price, would
    otherwise open every school to its square.
    """
    n = len(xy)
    m = len(sxy)
    n_l = lf_cell.shape[1]
    fmax = np.empty(n_l)
    tmin = np.empty(n_l)
    fmax0 = np.empty(n_l)  # the same over the square's cells on piece 0
    tmin0 = np.empty(n_l)
    kb = np.full((n, per_cell), np.inf)      # kept pairs of each cell: bound, school
    ks = np.full((n, per_cell), -1, np.int64)
    kc = np.zeros(n, np.int64)
    worst = 0.0
    checked = 0
    violating = 0
    for b in range(len(bin_ptr) - 1):
        lo, hi = bin_ptr[b], bin_ptr[b + 1]
        x0 = np.inf
        x1 = -np.inf
        y0 = np.inf
        y1 = -np.inf
        umax = -np.inf
        umax0 = -np.inf  # over the cells a school on piece 0 can reach
        cmin = np.inf
        any_straight = False
        fmax[:] = -np.inf
        tmin[:] = np.inf
        fmax0[:] = -np.inf
        tmin0[:] = np.inf
        for t in range(lo, hi):
            i = bin_cells[t]
            on0 = straight_cell[i] or comp_cell[i] == 0
            for q in range(n_l):
                fmax[q] = max(fmax[q], lf_cell[i, q])
                tmin[q] = min(tmin[q], lt_cell[i, q])
                if on0:
                    fmax0[q] = max(fmax0[q], lf_cell[i, q])
                    tmin0[q] = min(tmin0[q], lt_cell[i, q])
            x0 = min(x0, xy[i, 0])
            x1 = max(x1, xy[i, 0])
            y0 = min(y0, xy[i, 1])
            y1 = max(y1, xy[i, 1])
            umax = max(umax, u[i])
            if on0:
                umax0 = max(umax0, u[i])
            cmin = min(cmin, conn_cell[i])
            if straight_cell[i]:
                any_straight = True
        for j in range(m):
            dx = max(x0 - sxy[j, 0], 0.0, sxy[j, 0] - x1)
            dy = max(y0 - sxy[j, 1], 0.0, sxy[j, 1] - y1)
            lb = np.sqrt(dx * dx + dy * dy)
            if lb > upper:
                continue
            piece0 = not straight_school[j] and comp_school[j] == 0
            if not any_straight and not straight_school[j]:
                lb = max(lb, radius[j] + conn_school[j] + cmin)
                if n_l:  # every cell a of the bin: d(L,a) ≤ fmax, d(a,L) ≥ tmin
                    alt = (_alt(fmax0, tmin0, lf_school[j], lt_school[j]) if piece0
                           else _alt(fmax, tmin, lf_school[j], lt_school[j]))
                    lb = max(lb, alt + conn_school[j] + cmin)
            if lb + price[j] >= (umax0 if piece0 else umax) - tol:
                continue
            for t in range(lo, hi):
                i = bin_cells[t]
                checked += 1
                ex = xy[i, 0] - sxy[j, 0]
                ey = xy[i, 1] - sxy[j, 1]
                d = np.sqrt(ex * ex + ey * ey)
                if d > upper:
                    continue
                if not straight_cell[i] and not straight_school[j]:
                    if comp_cell[i] != comp_school[j]:
                        continue
                    d = max(d, radius[j] + conn_school[j] + conn_cell[i])
                    if n_l:
                        d = max(d, _alt(lf_cell[i], lt_cell[i], lf_school[j], lt_school[j])
                                + conn_school[j] + conn_cell[i])
                viol = u[i] - price[j] - d
                if viol <= tol:
                    continue
                worst = max(worst, viol)
                violating += 1
                if kc[i] < per_cell:
                    kb[i, kc[i]] = d
                    ks[i, kc[i]] = j
                    kc[i] += 1
                    continue
                far = 0
                for q in range(1, per_cell):
                    if kb[i, q] > kb[i, far]:
                        far = q
                if d < kb[i, far]:
                    kb[i, far] = d
                    ks[i, far] = j
    total = 0
    for i in range(n):
        total += kc[i]
    o_c = np.empty(total, np.int64)
    o_s = np.empty(total, np.int64)
    o_n = np.empty(total, np.float64)
    o_b = np.empty(total, np.float64)
    k = 0
    for i in range(n):
        for q in range(kc[i]):
            o_c[k] = i
            o_s[k] = ks[i, q]
            o_n[k] = u[i] - price[ks[i, q]]
            o_b[k] = kb[i, q]
            k += 1
    return o_c, o_s, o_n, o_b, worst, checked, violating


@numba.njit(cache=True, nogil=True)
def expand_pairs(t_src, t_node, t_dist, cell_order, node_ptr, conn_cell):
    """(source, node, distance) triplets → (cell, source, cost) pairs, every cell at each node.

    t_src (k,) i8 · t_node (k,) i8 · t_dist (k,) f8 (from :func:`bounded_dijkstra`) ·
    cell_order (c,) i8 / node_ptr (N+1,) i8: the cells at node v are
    ``cell_order[node_ptr[v]:node_ptr[v + 1]]`` · conn_cell (n,) f8 connector metres
    -> cell (p,) i4, source (p,) i4, cost (p,) f8 (t_dist + the cell's connector), in the
    triplets' order, each node's cells in ``cell_order``'s.
    """
    total = 0
    for t in range(len(t_node)):
        total += node_ptr[t_node[t] + 1] - node_ptr[t_node[t]]
    o_c = np.empty(total, np.int32)
    o_s = np.empty(total, np.int32)
    o_v = np.empty(total, np.float64)
    k = 0
    for t in range(len(t_node)):
        v = t_node[t]
        for q in range(node_ptr[v], node_ptr[v + 1]):
            i = cell_order[q]
            o_c[k] = i
            o_s[k] = t_src[t]
            o_v[k] = t_dist[t] + conn_cell[i]
            k += 1
    return o_c, o_s, o_v


@numba.njit(cache=True, nogil=True)
def sort_pairs(rows, cols, vals, n, upper):
    """Pairs by row — the sparse door's cell order — with those over ``upper`` left out.

    rows (k,) i4 in 0…n−1 · cols (k,) i4 · vals (k,) f8 · upper f8 (inf: none)
    -> rows (p,) i4, cols (p,) i4, vals (p,) f8, row_ptr (n+1,) i8 (row i's pairs are
    ``row_ptr[i]:row_ptr[i + 1]``). One counting pass, linear in the pairs: a row's pairs keep
    their order (a stable sort by row).
    """
    row_ptr = np.zeros(n + 1, np.int64)
    for t in range(len(vals)):
        if vals[t] <= upper:
            row_ptr[rows[t] + 1] += 1
    for i in range(n):
        row_ptr[i + 1] += row_ptr[i]
    keep = row_ptr[n]
    at = row_ptr[:-1].copy()
    o_r = np.empty(keep, np.int32)
    o_c = np.empty(keep, np.int32)
    o_v = np.empty(keep, np.float64)
    for t in range(len(vals)):
        if vals[t] <= upper:
            i = rows[t]
            p = at[i]
            at[i] = p + 1
            o_r[p] = i
            o_c[p] = cols[t]
            o_v[p] = vals[t]
    return o_r, o_c, o_v, row_ptr


@numba.njit(cache=True, nogil=True)
def bin_pairs(bin_cells, bin_ptr, row_ptr, cols, vals, supply, m):
    """Pairs of grid squares of cells: a square's supply-weighted mean cost to each school
    its cells' pairs reach.

    bin_cells (n,) i8 / bin_ptr (B+1,) i8: the cells of each square · row_ptr (n+1,) i8 /
    cols (k,) i4 / vals (k,) f8: each cell's pairs (:func:`sort_pairs`) · supply (n,) f8 ·
    m schools -> square (p,) i8, school (p,) i8, cost (p,) f8 — by square, then school; a
    (square, school) whose cells' supply is 0 is left out.
    """
    n_b = len(bin_ptr) - 1
    seen = np.full(m, -1, np.int64)
    w_sum = np.zeros(m)
    c_sum = np.zeros(m)
    touched = np.empty(m, np.int64)
    cap = max(16, len(vals) // 4 + 1)  # grown as needed
    o_b = np.empty(cap, np.int64)
    o_s = np.empty(cap, np.int64)
    o_v = np.empty(cap, np.float64)
    k = np.int64(0)
    for b in range(n_b):
        n_t = 0
        for t in range(bin_ptr[b], bin_ptr[b + 1]):
            i = bin_cells[t]
            w = supply[i]
            for q in range(row_ptr[i], row_ptr[i + 1]):
                j = cols[q]
                if seen[j] != b:
                    seen[j] = b
                    w_sum[j] = 0.0
                    c_sum[j] = 0.0
                    touched[n_t] = j
                    n_t += 1
                w_sum[j] += w
                c_sum[j] += w * vals[q]
        here = np.sort(touched[:n_t])
        for q in range(n_t):
            j = here[q]
            if w_sum[j] > 0:
                o_b, o_s, o_v = _append3(o_b, o_s, o_v, k, b, j, c_sum[j] / w_sum[j])
                k += 1
    return o_b[:k].copy(), o_s[:k].copy(), o_v[:k].copy()
