"""Catchment design kernels: contiguous zones within seats (CSR arrays in, labels out).

A *design* is a label per cell: the zone it belongs to (0 … k−1) or −1 (unzoned). Its cost is

    F = Σ_i term(i, label_i) + cw × Σ_{cut edges} w_e + lam × Σ_z excess_z

with term(i, z) = s_i × c_iz + mw × s_i × [z ≠ official_i ≥ 0] for a zone and
term(i, −1) = pen × (s_i + 1) for an unzoned cell; ``excess_z`` = students above ``hi_z`` or below
``lo_z``. Each zone must stay contiguous through the adjacency and keep its root cell; every
move below is checked for that. ``cand_*`` lists each cell's allowed zones (CSR) with the
travel cost per student; a zone absent from a cell's list is not allowed.

- :func:`repair` — every zone cut down to the piece holding its root; cut-off cells join the
  cheapest neighbouring zone, wave by wave (cells no zone can reach are unzoned).
- :func:`improve` — boundary moves and swaps to a local optimum, then simulated annealing
  (seeded, so the same input gives the same design), restarted, and a final descent.
- :func:`design_cost` — F of a labelling, by part.
- :func:`clip_duals_xy` — the transport dual of each cell clipped over *all* schools by
  straight line (a valid lower bound whatever pairs the solve saw).
"""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _cost(i, z, cand_ptr, cand_zone, cand_cost):
    for t in range(cand_ptr[i], cand_ptr[i + 1]):
        if cand_zone[t] == z:
            return cand_cost[t]
    return np.inf


@numba.njit(cache=True, nogil=True)
def _term(i, z, s, official, cand_ptr, cand_zone, cand_cost, mw, pen):
    if z < 0:
        return pen * (s[i] + 1.0)
    c = _cost(i, z, cand_ptr, cand_zone, cand_cost)
    moved = mw * s[i] if (official[i] >= 0 and official[i] != z) else 0.0
    return s[i] * c + moved


@numba.njit(cache=True, nogil=True)
def _excess(load, hi, lo):
    """Students above ``hi`` or below ``lo``; 1e-9 or less counts as none: loads of fractional
    students summed in another order differ by rounding, and × lam (huge) that noise looked
    like a gain — descents passed cells back and forth for their 1000 sweeps."""
    above = load - hi
    below = lo - load
    return (above if above > 1e-9 else 0.0) + (below if below > 1e-9 else 0.0)


@numba.njit(cache=True, nogil=True)
def design_cost(label, s, official, adj_ptr, adj_idx, adj_w, cand_ptr, cand_zone, cand_cost,
                hi, lo, mw, cw, pen, lam):
    """(travel, moved students, cut boundary, unzoned students, excess students, F)."""
    n = len(s)
    k = len(hi)
    load = np.zeros(k)
    travel = 0.0
    moved = 0.0
    unzoned = 0.0
    unzoned_cells = 0
    cut = 0.0
    for i in range(n):
        z = label[i]
        if z < 0:
            unzoned += s[i]
            unzoned_cells += 1
        else:
            load[z] += s[i]
            travel += s[i] * _cost(i, z, cand_ptr, cand_zone, cand_cost)
            if official[i] >= 0 and official[i] != z:
                moved += s[i]
        for t in range(adj_ptr[i], adj_ptr[i + 1]):
            j = adj_idx[t]
            if j > i and label[j] != z:
                cut += adj_w[t]
    excess = 0.0
    for z in range(k):
        excess += _excess(load[z], hi[z], lo[z])
    f = travel + mw * moved + cw * cut + pen * (unzoned + unzoned_cells) + lam * excess
    return travel, moved, cut, unzoned, excess, f


@numba.njit(cache=True, nogil=True)
def _move_delta(i, b, label, load, s, official, adj_ptr, adj_idx, adj_w, cand_ptr, cand_zone,
                cand_cost, hi, lo, mw, cw, pen, lam):
    """Change of F when cell i moves from its zone to b (either may be −1)."""
    a = label[i]
    d = (_term(i, b, s, official, cand_ptr, cand_zone, cand_cost, mw, pen)
         - _term(i, a, s, official, cand_ptr, cand_zone, cand_cost, mw, pen))
    if cw > 0.0:
        for t in range(adj_ptr[i], adj_ptr[i + 1]):
            lj = label[adj_idx[t]]
            d += cw * adj_w[t] * ((1.0 if lj != b else 0.0) - (1.0 if lj != a else 0.0))
    if a >= 0:
        d += lam * (_excess(load[a] - s[i], hi[a], lo[a]) - _excess(load[a], hi[a], lo[a]))
    if b >= 0:
        d += lam * (_excess(load[b] + s[i], hi[b], lo[b]) - _excess(load[b], hi[b], lo[b]))
    return d


@numba.njit(cache=True, nogil=True)
def _reach(start, z, label, adj_ptr, adj_idx, stamp, near, queue, tick, targets):
    """Breadth-first search through zone z from ``start`` (cells stamped ``tick`` are already
    seen): the cells reached, or −1 as soon as ``targets`` cells with ``near == tick`` are
    found (``targets`` ≤ 0: never stop early)."""
    stamp[start] = tick
    queue[0] = start
    head = 0
    tail = 1
    found = 1 if near[start] == tick else 0
    while head < tail:
        u = queue[head]
        head += 1
        for t in range(adj_ptr[u], adj_ptr[u + 1]):
            j = adj_idx[t]
            if label[j] == z and stamp[j] != tick:
                stamp[j] = tick
                if near[j] == tick:
                    found += 1
                    if found == targets:
                        return -1
                queue[tail] = j
                tail += 1
    return tail


@numba.njit(cache=True, nogil=True)
def _stays_connected(i, label, adj_ptr, adj_idx, stamp, near, queue, tick):
    """Does cell i's zone stay connected without i? (The search from one zone neighbour of i
    stops as soon as it has met all of them.) ``tick`` is a fresh stamp value."""
    a = label[i]
    targets = 0
    start = -1
    for t in range(adj_ptr[i], adj_ptr[i + 1]):
        j = adj_idx[t]
        if label[j] == a and near[j] != tick:
            near[j] = tick
            targets += 1
            start = j
    if targets <= 1:
        return True
    stamp[i] = tick
    return _reach(start, a, label, adj_ptr, adj_idx, stamp, near, queue, tick, targets) < 0


@numba.njit(cache=True, nogil=True)
def _connected(z, root, size, label, adj_ptr, adj_idx, stamp, near, queue, tick):
    """Is zone z one piece (all ``size[z]`` cells reached from its root)?"""
    r = root[z]
    if label[r] != z:
        return False
    return _reach(r, z, label, adj_ptr, adj_idx, stamp, near, queue, tick, 0) == size[z]


@numba.njit(cache=True, nogil=True)
def repair(label, root, s, adj_ptr, adj_idx, cand_ptr, cand_zone, cand_cost, hi):
    """Make every zone one piece holding its root (in place); returns cells reattached.
    A cut-off cell joins the cheapest neighbouring zone with room for it (``hi``), or the
    cheapest neighbouring zone when none has room."""
    n = len(label)
    k = len(root)
    for z in range(k):
        label[root[z]] = z
    keep = np.zeros(n, dtype=np.bool_)
    queue = np.empty(n, dtype=np.int64)
    for z in range(k):
        r = root[z]
        keep[r] = True
        queue[0] = r
        head = 0
        tail = 1
        while head < tail:
            u = queue[head]
            head += 1
            for t in range(adj_ptr[u], adj_ptr[u + 1]):
                j = adj_idx[t]
                if label[j] == z and not keep[j]:
                    keep[j] = True
                    queue[tail] = j
                    tail += 1
    moved = 0
    orphan = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if label[i] >= 0 and not keep[i]:
            orphan[i] = True
            label[i] = -1
            moved += 1
        elif label[i] < 0:
            orphan[i] = True  # unserved by the seed: join a zone if one is next to it
    load = np.zeros(k)
    for i in range(n):
        if label[i] >= 0:
            load[label[i]] += s[i]
    new = np.empty(n, dtype=np.int64)
    for _wave in range(n + 1):  # each wave attaches a cell or ends the loop: at most n waves
        changed = 0
        for i in range(n):
            new[i] = -1
            if not orphan[i]:
                continue
            best = np.inf
            for t in range(adj_ptr[i], adj_ptr[i + 1]):
                z = label[adj_idx[t]]
                if z >= 0 and not orphan[adj_idx[t]]:
                    c = _cost(i, z, cand_ptr, cand_zone, cand_cost)
                    if load[z] + s[i] > hi[z]:
                        c += 1e30  # full: only when no neighbour has room
                    if c < best:
                        best = c
                        new[i] = z
        for i in range(n):
            if new[i] >= 0:
                label[i] = new[i]
                load[new[i]] += s[i]
                orphan[i] = False
                changed += 1
        if changed == 0:
            break
    return moved


@numba.njit(cache=True, nogil=True)
def _apply(i, b, label, load, size, s):
    a = label[i]
    if a >= 0:
        load[a] -= s[i]
        size[a] -= 1
    if b >= 0:
        load[b] += s[i]
        size[b] += 1
    label[i] = b


@numba.njit(cache=True, nogil=True)
def _best_move(i, label, load, root_of, s, official, adj_ptr, adj_idx, adj_w, cand_ptr,
               cand_zone, cand_cost, hi, lo, mw, cw, pen, lam):
    """Cheapest move of cell i to a neighbouring zone (or out, from an overfull zone):
    (delta, zone), zone −2 when none is allowed."""
    a = label[i]
    best_d = np.inf
    best_b = -2
    if a >= 0 and root_of[i] == a:
        return best_d, best_b
    for t in range(adj_ptr[i], adj_ptr[i + 1]):
        b = label[adj_idx[t]]
        if b == a or b < 0 or not np.isfinite(_cost(i, b, cand_ptr, cand_zone, cand_cost)):
            continue
        d = _move_delta(i, b, label, load, s, official, adj_ptr, adj_idx, adj_w, cand_ptr,
                        cand_zone, cand_cost, hi, lo, mw, cw, pen, lam)
        if d < best_d:
            best_d = d
            best_b = b
    if a >= 0 and load[a] > hi[a]:  # leaving the cell unzoned beats an overfull zone
        d = _move_delta(i, -1, label, load, s, official, adj_ptr, adj_idx, adj_w, cand_ptr,
                        cand_zone, cand_cost, hi, lo, mw, cw, pen, lam)
        if d < best_d:
            best_d = d
            best_b = -1
    return best_d, best_b


@numba.njit(cache=True, nogil=True)
def _try_swap(i, j, label, load, size, root, root_of, s, official, adj_ptr, adj_idx, adj_w,
              cand_ptr, cand_zone, cand_cost, hi, lo, mw, cw, pen, lam, stamp, near, queue,
              tick, threshold):
    """Swap neighbours i (zone a) and j (zone b) if F drops by more than −threshold and both
    zones stay one piece; returns (delta or inf, tick)."""
    a = label[i]
    b = label[j]
    if a < 0 or b < 0 or a == b or root_of[i] == a or root_of[j] == b:
        return np.inf, tick
    if not (np.isfinite(_cost(i, b, cand_ptr, cand_zone, cand_cost))
            and np.isfinite(_cost(j, a, cand_ptr, cand_zone, cand_cost))):
        return np.inf, tick
    d = _move_delta(i, b, label, load, s, official, adj_ptr, adj_idx, adj_w, cand_ptr,
                    cand_zone, cand_cost, hi, lo, mw, cw, pen, lam)
    _apply(i, b, label, load, size, s)
    d += _move_delta(j, a, label, load, s, official, adj_ptr, adj_idx, adj_w, cand_ptr,
                     cand_zone, cand_cost, hi, lo, mw, cw, pen, lam)
    if d < threshold:
        _apply(j, a, label, load, size, s)
        tick += 1
        ok = _connected(a, root, size, label, adj_ptr, adj_idx, stamp, near, queue, tick)
        tick += 1
        if ok and _connected(b, root, size, label, adj_ptr, adj_idx, stamp, near, queue, tick):
            return d, tick
        _apply(j, b, label, load, size, s)
    _apply(i, a, label, load, size, s)
    return np.inf, tick


@numba.njit(cache=True, nogil=True)
def _descend(label, load, size, root, root_of, s, official, adj_ptr, adj_idx, adj_w, cand_ptr,
             cand_zone, cand_cost, hi, lo, mw, cw, pen, lam, stamp, near, queue, tick, order,
             max_sweeps):
    """Best-improvement boundary moves, then neighbour swaps, until no sweep lowers F by more
    than 1e-12 of travel + moves (less is rounding: moves passed back and forth) or
    ``max_sweeps`` sweeps ran. Returns (tick, 1 if stopped by the cap else 0)."""
    n = len(label)
    part = design_cost(label, s, official, adj_ptr, adj_idx, adj_w, cand_ptr, cand_zone,
                       cand_cost, hi, lo, mw, cw, pen, lam)
    tol = 1e-9 + 1e-12 * (abs(part[0]) + mw * part[1])  # of travel + moves, not the penalties
    for _ in range(max_sweeps):
        gain = 0.0
        for q in range(n):
            i = order[q]
            d, b = _best_move(i, label, load, root_of, s, official, adj_ptr, adj_idx, adj_w,
                              cand_ptr, cand_zone, cand_cost, hi, lo, mw, cw, pen, lam)
            if b == -2 or d >= -1e-9:
                continue
            tick += 1
            if label[i] >= 0 and not _stays_connected(i, label, adj_ptr, adj_idx, stamp, near,
                                                      queue, tick):
                continue
            _apply(i, b, label, load, size, s)
            gain += d
        for q in range(n):
            i = order[q]
            for t in range(adj_ptr[i], adj_ptr[i + 1]):
                d, tick = _try_swap(i, adj_idx[t], label, load, size, root, root_of, s,
                                    official, adj_ptr, adj_idx, adj_w, cand_ptr, cand_zone,
                                    cand_cost, hi, lo, mw, cw, pen, lam, stamp, near, queue, tick,
                                    -1e-9)
                if d < np.inf:
                    gain += d
                    break
        gain += _insert_unzoned(label, load, size, root_of, s, official, adj_ptr, adj_idx,
                                adj_w, cand_ptr, cand_zone, cand_cost, hi, lo, mw, cw, pen,
                                lam, stamp, near, queue, tick, order)
        tick += 2 * n
        if gain > -tol:
            return tick, 0
    return tick, 1


@numba.njit(cache=True, nogil=True)
def _insert_unzoned(label, load, size, root_of, s, official, adj_ptr, adj_idx, adj_w,
                    cand_ptr, cand_zone, cand_cost, hi, lo, mw, cw, pen, lam, stamp, near,
                    queue, tick, order):
    """An ejection chain of two: an unzoned cell i joins a neighbouring zone b while a cell j
    of b near i passes to another zone c, when that lowers F. Returns the gain (≤ 0)."""
    n = len(label)
    gain = 0.0
    for q in range(n):
        i = order[q]
        if label[i] >= 0:
            continue
        done = False
        for t in range(adj_ptr[i], adj_ptr[i + 1]):
            b = label[adj_idx[t]]
            if done or b < 0 or not np.isfinite(_cost(i, b, cand_ptr, cand_zone, cand_cost)):
                continue
            d1 = _move_delta(i, b, label, load, s, official, adj_ptr, adj_idx, adj_w, cand_ptr,
                             cand_zone, cand_cost, hi, lo, mw, cw, pen, lam)
            _apply(i, b, label, load, size, s)
            # cells of b within two steps of i
            for t2 in range(adj_ptr[i], adj_ptr[i + 1]):
                h = adj_idx[t2]
                for t3 in range(adj_ptr[h] - 1, adj_ptr[h + 1]):
                    j = h if t3 < adj_ptr[h] else adj_idx[t3]
                    if done or j == i or label[j] != b or root_of[j] == b:
                        continue
                    d2, c = _best_move(j, label, load, root_of, s, official, adj_ptr, adj_idx,
                                       adj_w, cand_ptr, cand_zone, cand_cost, hi, lo, mw, cw,
                                       pen, lam)
                    if c < 0 or d1 + d2 >= -1e-9:
                        continue
                    tick += 1
                    if _stays_connected(j, label, adj_ptr, adj_idx, stamp, near, queue, tick):
                        _apply(j, c, label, load, size, s)
                        gain += d1 + d2
                        done = True
            if not done:
                _apply(i, -1, label, load, size, s)
    return gain


@numba.njit(cache=True, nogil=True)
def _state(label, root, s):
    """Zone loads and sizes, the zone rooted at each cell (−1), and search scratch arrays."""
    n = len(label)
    k = len(root)
    load = np.zeros(k)
    size = np.zeros(k, dtype=np.int64)
    root_of = np.full(n, -1, dtype=np.int64)
    for z in range(k):
        root_of[root[z]] = z
    for i in range(n):
        if label[i] >= 0:
            load[label[i]] += s[i]
            size[label[i]] += 1
    return (load, size, root_of, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
            np.empty(n, dtype=np.int64))


@numba.njit(cache=True, nogil=True)
def _rand(state):
    """xorshift64*: a uniform float in [0, 1) from ``state`` (one uint64, updated)."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) / 9007199254740992.0


@numba.njit(cache=True, nogil=True)
def _randint(state, n):
    return min(int(_rand(state) * n), n - 1)


@numba.njit(cache=True, nogil=True)
def _boundary(label, adj_ptr, adj_idx, front):
    """Cells with a neighbour in another zone (written to ``front``); returns how many."""
    m = 0
    for i in range(len(label)):
        for t in range(adj_ptr[i], adj_ptr[i + 1]):
            if label[adj_idx[t]] != label[i]:
                front[m] = i
                m += 1
                break
    return m


@numba.njit(cache=True, nogil=True)
def improve(label, root, s, official, adj_ptr, adj_idx, adj_w, cand_ptr, cand_zone, cand_cost,
            hi, lo, mw, cw, pen, lam, iterations, restarts, seed, t_start, max_sweeps,
            p_front):
    """Local search from ``label`` (in place, contiguous zones expected — see :func:`repair`):
    descent, then ``restarts`` rounds of simulated annealing of ``iterations`` proposals each
    (a random cell moves to a random neighbouring zone, or swaps with that neighbour), each
    followed by a descent of at most ``max_sweeps`` sweeps; the best design found is left in
    ``label``. ``t_start``: the first temperature (≤ 0: half the mean size of a boundary
    move). Every loop is bounded: proposals by ``iterations`` × ``restarts``, descents by
    ``max_sweeps``. ``p_front``: the share of proposals drawn from the cells on a zone
    boundary (the rest from any cell; 0: none, and the random stream of before). Returns (F,
    descents stopped by ``max_sweeps`` before a local optimum)."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed) * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
    if state[0] == 0:
        state[0] = np.uint64(88172645463325252)
    n = len(label)
    load, size, root_of, stamp, near, queue = _state(label, root, s)
    order = np.arange(n)
    for q in range(n - 1, 0, -1):  # Fisher-Yates
        r = _randint(state, q + 1)
        order[q], order[r] = order[r], order[q]
    tick, capped = _descend(label, load, size, root, root_of, s, official, adj_ptr, adj_idx,
                            adj_w, cand_ptr, cand_zone, cand_cost, hi, lo, mw, cw, pen, lam,
                            stamp, near, queue, 0, order, max_sweeps)
    f = design_cost(label, s, official, adj_ptr, adj_idx, adj_w, cand_ptr, cand_zone,
                    cand_cost, hi, lo, mw, cw, pen, lam)[5]
    best = label.copy()
    best_f = f
    if n < 2 or iterations <= 0:
        return best_f, capped
    # temperature scale: the typical size of a boundary move that keeps seats within limits
    acc = 0.0
    cnt = 0
    for _ in range(min(8 * n, 40000)):
        i = _randint(state, n)
        deg = adj_ptr[i + 1] - adj_ptr[i]
        if deg == 0 or label[i] < 0:
            continue
        b = label[adj_idx[adj_ptr[i] + _randint(state, deg)]]
        if b < 0 or b == label[i] or not np.isfinite(_cost(i, b, cand_ptr, cand_zone,
                                                            cand_cost)):
            continue
        acc += abs(_move_delta(i, b, label, load, s, official, adj_ptr, adj_idx, adj_w,
                               cand_ptr, cand_zone, cand_cost, hi, lo, mw, cw, pen, 0.0))
        cnt += 1
    t0 = 0.5 * acc / cnt if cnt else 1.0
    if t_start > 0.0:
        t0 = t_start
    if t0 <= 0.0:
        t0 = 1.0
    stages = 40
    per = max(1, iterations // stages)
    # seats are a soft limit while annealing: lam_a grows from about one move's cost per
    # student to the true lam, so a full zone can take a cell and pass another on
    s_mean = 0.0
    for i in range(n):
        s_mean += s[i]
    s_mean = max(s_mean / n, 1e-9)
    lam_lo = min(lam, max(t0 / s_mean, 1e-9))
    front = np.empty(n, dtype=np.int64)
    for _r in range(restarts):
        for st in range(stages):
            frac = st / (stages - 1)
            temp = t0 * (0.002 ** frac)
            lam_a = lam_lo * (lam / lam_lo) ** frac
            # a share p_front of the proposals from the cells on a zone boundary at the
            # stage's start (an interior cell has no other zone to move to), the rest from any
            n_front = _boundary(label, adj_ptr, adj_idx, front) if p_front > 0.0 else 0
            for _ in range(per):
                i = _randint(state, n)
                if n_front > 0 and _rand(state) < p_front:
                    i = front[_randint(state, n_front)]
                a = label[i]
                deg = adj_ptr[i + 1] - adj_ptr[i]
                if deg == 0 or (a >= 0 and root_of[i] == a):
                    continue
                j = adj_idx[adj_ptr[i] + _randint(state, deg)]
                b = label[j]
                if b == a or b < 0:
                    continue
                if _rand(state) < 0.2:  # a swap
                    thr = -temp * np.log(1.0 - _rand(state) + 1e-300)
                    d, tick = _try_swap(i, j, label, load, size, root, root_of, s, official,
                                        adj_ptr, adj_idx, adj_w, cand_ptr, cand_zone,
                                        cand_cost, hi, lo, mw, cw, pen, lam_a, stamp, near, queue,
                                        tick, thr)
                    continue
                if not np.isfinite(_cost(i, b, cand_ptr, cand_zone, cand_cost)):
                    continue
                d = _move_delta(i, b, label, load, s, official, adj_ptr, adj_idx, adj_w,
                                cand_ptr, cand_zone, cand_cost, hi, lo, mw, cw, pen, lam_a)
                if d > 0.0 and _rand(state) >= np.exp(-d / temp):
                    continue
                tick += 1
                if a >= 0 and not _stays_connected(i, label, adj_ptr, adj_idx, stamp, near,
                                                   queue, tick):
                    continue
                _apply(i, b, label, load, size, s)
            f = design_cost(label, s, official, adj_ptr, adj_idx, adj_w, cand_ptr, cand_zone,
                            cand_cost, hi, lo, mw, cw, pen, lam)[5]
            if f < best_f - 1e-9 * abs(best_f):
                best_f = f
                best[:] = label
        tick, hit = _descend(label, load, size, root, root_of, s, official, adj_ptr, adj_idx,
                             adj_w, cand_ptr, cand_zone, cand_cost, hi, lo, mw, cw, pen, lam,
                             stamp, near, queue, tick, order, max_sweeps)
        capped += hit
        f = design_cost(label, s, official, adj_ptr, adj_idx, adj_w, cand_ptr, cand_zone,
                        cand_cost, hi, lo, mw, cw, pen, lam)[5]
        if f < best_f - 1e-9 * abs(best_f):
            best_f = f
            best[:] = label
        # next round starts from the best design so far
        label[:] = best
        f = best_f
        load[:] = 0.0
        size[:] = 0
        for i in range(n):
            if label[i] >= 0:
                load[label[i]] += s[i]
                size[label[i]] += 1
    label[:] = best
    return best_f, capped


@numba.njit(cache=True, nogil=True)
def clip_duals_xy(u, cell_xy, school_xy, school_zone, price, official, mw, cap_u):
    """min(u_i, cap_u_i, min_j |x_i − y_j| + mw·[z_j ≠ official_i ≥ 0] + price_{z_j}) over
    every school j of a zone z_j ≥ 0, for every cell: a dual feasible over all cell × zone
    pairs (a zone of several schools costs at least the distance to its nearest)."""
    n = len(u)
    out = np.empty(n)
    for i in range(n):
        best = min(u[i], cap_u[i])
        for j in range(len(school_zone)):
            z = school_zone[j]
            if z < 0:
                continue
            c = np.hypot(cell_xy[i, 0] - school_xy[j, 0], cell_xy[i, 1] - school_xy[j, 1])
            if official[i] >= 0 and official[i] != z:
                c += mw
            c += price[z]
            if c < best:
                best = c
        out[i] = best
    return out


@numba.njit(cache=True, nogil=True)
def rebalance(label, root, s, official, adj_ptr, adj_idx, cand_ptr, cand_zone, cand_cost, hi,
              mw, max_moves):
    """Ejection chains (in place): while a zone holds more students than ``hi``, find the
    nearest zone with room (for the excess, or one student) through the zone adjacency
    (fewest hops) and pass boundary cells along the path — the first zone as many students as
    the target has room for (its excess at most), each zone after it what it received beyond
    its seats; from each zone to the next the cell whose move costs least per student among
    those no larger than what is left to pass on, else the one passing on least beyond it
    (an empty cell only opens the way), keeping every zone one piece; it stops when 2k + 10
    chains in a row have not lowered the students above seats (chains passing them round in
    circles), or after ``max_moves`` cell moves. Returns (cells moved, 1 if ``max_moves``
    stopped it with students still above seats else 0)."""
    n = len(label)
    k = len(root)
    load, size, root_of, stamp, near, queue = _state(label, root, s)
    tick = 0
    moves = 0
    stuck = np.zeros(k, dtype=np.bool_)
    parent = np.empty(k, dtype=np.int64)
    zq = np.empty(k, dtype=np.int64)
    touch = np.zeros((k, k), dtype=np.bool_)
    best_excess = np.inf
    stall = 0
    while moves < max_moves:
        a = -1
        worst = 1e-9
        excess = 0.0
        for z in range(k):
            excess += max(0.0, load[z] - hi[z])
            if not stuck[z] and load[z] - hi[z] > worst:
                worst = load[z] - hi[z]
                a = z
        if a < 0:
            break
        # chains that only pass students round in circles: stop (the local search goes on)
        if excess < best_excess - 1e-9:
            best_excess = excess
            stall = 0
        else:
            stall += 1
            if stall > 2 * k + 10:
                break
        touch[:, :] = False
        for i in range(n):
            p = label[i]
            if p < 0:
                continue
            for t in range(adj_ptr[i], adj_ptr[i + 1]):
                q = label[adj_idx[t]]
                if q >= 0 and q != p and np.isfinite(_cost(adj_idx[t], p, cand_ptr, cand_zone,
                                                           cand_cost)):
                    touch[q, p] = True  # a cell of q could pass to p
        parent[:] = -2
        parent[a] = -1
        zq[0] = a
        head = 0
        tail = 1
        target = -1
        while head < tail and target < 0:
            p = zq[head]
            head += 1
            for q in range(k):
                if touch[p, q] and parent[q] == -2:
                    parent[q] = p
                    zq[tail] = q
                    tail += 1
                    if hi[q] - load[q] >= min(worst, 1.0) - 1e-9:
                        target = q
                        break
        if target < 0:
            stuck[a] = True
            continue
        # the path a → … → target, then push along it from a
        path = np.empty(k, dtype=np.int64)
        m = 0
        q = target
        while q >= 0:
            path[m] = q
            m += 1
            q = parent[q]
        ok = True
        # the first zone passes on what the target has room for (all its excess at most):
        # passing it all overfilled the target by the rest, and the excess went round
        floor_a = load[a] - min(worst, hi[target] - load[target])
        for h in range(m - 1, 0, -1):
            p = path[h]
            q = path[h - 1]
            empty_moves = 0
            while load[p] > (floor_a if p == a else hi[p]) + 1e-9 and ok:
                need = load[p] - (floor_a if p == a else hi[p])
                best = np.inf
                best_t = 3
                best_o = np.inf
                pick = -1
                for i in range(n):
                    if label[i] != p or root_of[i] == p:
                        continue
                    nextto = False
                    for t in range(adj_ptr[i], adj_ptr[i + 1]):
                        if label[adj_idx[t]] == q:
                            nextto = True
                            break
                    if not nextto:
                        continue
                    cq = _cost(i, q, cand_ptr, cand_zone, cand_cost)
                    if not np.isfinite(cq):
                        continue
                    d = s[i] * (cq - _cost(i, p, cand_ptr, cand_zone, cand_cost))
                    if official[i] >= 0:
                        d += mw * s[i] * ((1.0 if official[i] != q else 0.0)
                                          - (1.0 if official[i] != p else 0.0))
                    # cells that fit what is left to pass on, cheapest per student; else
                    # the one passing on least beyond it (each student beyond overfills the
                    # next zone); an empty cell only opens the way (last choice)
                    tier = 2
                    over = 0.0
                    if s[i] > 0.0:
                        d = d / s[i]
                        over = s[i] - need
                        tier = 0 if over <= 1e-9 else 1
                        if tier == 0:
                            over = 0.0
                    if tier < best_t or (tier == best_t and (
                            over < best_o or (over == best_o and d < best))):
                        tick += 1
                        if _stays_connected(i, label, adj_ptr, adj_idx, stamp, near, queue,
                                            tick):
                            best = d
                            best_t = tier
                            best_o = over
                            pick = i
                if pick < 0 or empty_moves > 200:
                    ok = False
                    break
                if s[pick] <= 0.0:
                    empty_moves += 1
                _apply(pick, q, label, load, size, s)
                moves += 1
                if moves >= max_moves:
                    break
            if not ok or moves >= max_moves:
                break
        if not ok:
            stuck[a] = True
    over = 0.0
    for z in range(k):
        over += max(0.0, load[z] - hi[z])
    return moves, 1 if (moves >= max_moves and over > 1e-9) else 0
