"""Cells sorted into grid squares in blocks of squares, by counting (numba only).

A square is ``side`` metres; a block is ``group_side`` × ``group_side`` squares. Cells are
ordered by block, then by square within the block (row-major: x first, then y, as the squares'
keys ``kx · ny + ky`` order them), then by their own index — a stable counting sort over the
squares, O(n + squares), in place of a two-key lexicographic sort (a stable sort where the
squares far outnumber the cells).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def counting_order(key, n_keys):
    """Indices 0…n−1 sorted by ``key`` (n,) i8 in [0, n_keys), ties by index: a stable
    counting sort, O(n + n_keys)."""
    n = key.shape[0]
    count = np.zeros(n_keys + 1, np.int64)
    for i in range(n):
        count[key[i] + 1] += 1
    for b in range(n_keys):
        count[b + 1] += count[b]
    order = np.empty(n, np.int64)
    for i in range(n):
        order[count[key[i]]] = i
        count[key[i]] += 1
    return order


@nb.njit(cache=True, nogil=True)
def square_order(xy, side, group_side):
    """Cells in square order, and the squares and blocks they fill.

    Parameters
    ----------
    xy : (n, 2) f8 — cell points, metres (n ≥ 1)
    side : f8 — square side, metres (> 0)
    group_side : i8 — squares per block side (≥ 1)

    Returns
    -------
    order : (n,) i8 — cell indices, by block, square, index
    bin_ptr : (n_squares + 1,) i8 — the cells of square b are ``order[bin_ptr[b]:bin_ptr[b + 1]]``
    group_ptr : (n_blocks + 1,) i8 — the squares of block g are ``group_ptr[g]:group_ptr[g + 1]``
    (occupied squares and blocks only)
    """
    n = xy.shape[0]
    x0 = xy[0, 0]
    y0 = xy[0, 1]
    for i in range(n):
        x0 = min(x0, xy[i, 0])
        y0 = min(y0, xy[i, 1])
    kx = np.empty(n, np.int64)
    ky = np.empty(n, np.int64)
    max_y = 0
    max_x = 0
    for i in range(n):
        kx[i] = int(np.floor((xy[i, 0] - x0) / side))
        ky[i] = int(np.floor((xy[i, 1] - y0) / side))
        max_x = max(max_x, kx[i])
        max_y = max(max_y, ky[i])
    gs = group_side
    n_gy = max_y // gs + 1
    n_buckets = (max_x // gs + 1) * n_gy * gs * gs
    bucket = np.empty(n, np.int64)
    for i in range(n):
        g = (kx[i] // gs) * n_gy + ky[i] // gs
        bucket[i] = g * gs * gs + (kx[i] % gs) * gs + ky[i] % gs
    if n_buckets > 4 * n + 1024:  # squares far more than cells (cells along a line): sort
        order = np.argsort(bucket, kind="mergesort")
    else:
        order = counting_order(bucket, n_buckets)
    bin_ptr = np.empty(n + 1, np.int64)
    group_ptr = np.empty(n + 1, np.int64)
    n_bins = 0
    n_groups = 0
    last_bucket = -1
    last_group = -1
    gsq = gs * gs
    for t in range(n):
        b = bucket[order[t]]
        if b != last_bucket:
            if b // gsq != last_group:
                group_ptr[n_groups] = n_bins
                n_groups += 1
                last_group = b // gsq
            bin_ptr[n_bins] = t
            n_bins += 1
            last_bucket = b
    bin_ptr[n_bins] = n
    group_ptr[n_groups] = n_bins
    return order, bin_ptr[:n_bins + 1].copy(), group_ptr[:n_groups + 1].copy()


@nb.njit(cache=True, nogil=True)
def square_keys(xy, origin_x, origin_y, side, counted):
    """Each point's square key ``kx · (max ky + 1) + ky`` on a grid of ``side`` metres from the
    origin, and the number of distinct squares holding a point where ``counted`` is True.

    Returns
    -------
    key : (n,) i8 · occupied : i8
    """
    n = xy.shape[0]
    kx = np.empty(n, np.int64)
    ky = np.empty(n, np.int64)
    top_y = 0
    for i in range(n):
        kx[i] = int(np.floor((xy[i, 0] - origin_x) / side))
        ky[i] = int(np.floor((xy[i, 1] - origin_y) / side))
        top_y = max(top_y, ky[i])
    key = np.empty(n, np.int64)
    top = np.int64(0)
    n_live = 0
    for i in range(n):
        key[i] = kx[i] * (top_y + 1) + ky[i]
        top = max(top, key[i] + 1)
        if counted[i]:
            n_live += 1
    live = np.empty(n_live, np.int64)
    t = 0
    for i in range(n):
        if counted[i]:
            live[t] = key[i]
            t += 1
    return key, distinct(live, top)


@nb.njit(cache=True, nogil=True)
def distinct(key, top):
    """How many distinct values ``key`` (n,) i8 in [0, top) holds."""
    n = key.shape[0]
    if top <= 8 * n + 1024:
        seen = np.zeros(top, np.bool_)
        count = 0
        for i in range(n):
            if not seen[key[i]]:
                seen[key[i]] = True
                count += 1
        return count
    s = np.sort(key)
    count = 0
    for i in range(n):
        if i == 0 or s[i] != s[i - 1]:
            count += 1
    return count


@nb.njit(cache=True, nogil=True)
def ascending_ids(key):
    """Each value's rank among the distinct values of ``key`` (n,) i8 ≥ 0: 0 for the smallest
    (``np.unique(key, return_inverse=True)[1]``, without its sort where the values are few)."""
    n = key.shape[0]
    top = 0
    for i in range(n):
        top = max(top, key[i] + 1)
    out = np.empty(n, np.int64)
    if top <= 8 * n + 1024:
        rank = np.zeros(top, np.int64)
        for i in range(n):
            rank[key[i]] = 1
        r = 0
        for v in range(top):
            if rank[v]:
                rank[v] = r
                r += 1
        for i in range(n):
            out[i] = rank[key[i]]
        return out
    order = np.argsort(key)
    r = -1
    last = -1
    for t in range(n):
        i = order[t]
        if t == 0 or key[i] != last:
            r += 1
            last = key[i]
        out[i] = r
    return out
