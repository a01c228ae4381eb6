"""Admission kernels: 派位 lottery, 志愿优先 (immediate acceptance) and deferred acceptance.

Numba only: plain NumPy arrays in and out, no Python objects, no exceptions.

Applicants come in **groups** g (one cell × one priority class) of ``group_count[g]`` identical
students; student ids run group by group (group 0's students first). A group's preferences are
CSR rows ``pref_school[pref_indptr[g]:pref_indptr[g + 1]]`` (best first) with, per entry, the
group's priority at that school ``pref_priority`` (0 best; usually the group's class at every
school of its zone). Mechanisms (``mech``):

- 0 ``lottery`` — priority-then-lottery, single tie-break: students in order of their class
  (``group_class``), then of one lottery number, each take the first school on their list with a
  seat left (serial dictatorship; equals deferred acceptance with a single tie-break whenever a
  group's priority is its class at every school);
- 1 ``boston`` — 志愿优先, immediate acceptance: in round k every unplaced student applies to the
  k-th school on the list; a school keeps this round's applicants by (priority, lottery) while
  it has seats, and what it keeps is final;
- 2 ``da_stb`` / 3 ``da_mtb`` — student-proposing deferred acceptance; schools rank by
  (priority, lottery), with one lottery for all schools (2) or one per school (3).

Students still without a seat are then placed by the bureau's rule, in order of class and
lottery: the nearest school (``fb_*`` CSR per cell, sorted by distance) with a seat left. No
school ever takes more than ``seats`` students.

Randomness: each draw d has its own seed ``draw_seed(seed, d)`` (splitmix64), so a draw's outcome
depends on (seed, d) only — not on threads or on how draws are split over them.
"""

from __future__ import annotations

import numba as nb
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
LOT_BITS = 40  # lottery numbers below 2**40; priority above them in a school's ranking key

#: ``entry_of`` codes besides a preference position (≥ 0).
PENDING, FALLBACK, NO_SEAT = -1, -2, -3


@nb.njit(cache=True, nogil=True)
def _mix(z):
    """splitmix64 finaliser: a well-mixed 64-bit number from any 64-bit number."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True, nogil=True)
def draw_seed(seed, d):
    """Seed of draw ``d`` of a run seeded ``seed`` (uint64)."""
    return _mix(np.uint64(seed) * GOLDEN + _mix(np.uint64(d) + GOLDEN))


@nb.njit(cache=True, nogil=True)
def _below(st, n):
    """A random whole number in [0, n) from the stream in ``st`` (one uint64, advanced)."""
    st[0] += GOLDEN
    return np.int64(((_mix(st[0]) >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@nb.njit(cache=True, nogil=True)
def _shuffle_into(src, a, b, out, st):
    """Put a uniformly random permutation of ``src[a:b]`` into ``out[a:b]`` (inside-out)."""
    for t in range(b - a):
        j = a + _below(st, t + 1)
        out[a + t] = out[j]
        out[j] = src[a + t]


@nb.njit(cache=True, nogil=True)
def _swap(hkey, hstu, a, b):
    """Swap heap entries a and b."""
    k, s = hkey[a], hstu[a]
    hkey[a], hstu[a] = hkey[b], hstu[b]
    hkey[b], hstu[b] = k, s


@nb.njit(cache=True, nogil=True)
def _sift_down(hkey, hstu, base, size, h):
    """Restore the max-heap ``hkey[base:base + size]`` below position ``h``."""
    while True:
        c = 2 * h + 1
        if c >= size:
            return
        if c + 1 < size and hkey[base + c + 1] > hkey[base + c]:
            c += 1
        if hkey[base + c] <= hkey[base + h]:
            return
        _swap(hkey, hstu, base + c, base + h)
        h = c


@nb.njit(cache=True, nogil=True)
def _push(hkey, hstu, base, size, key, i):
    """Add (key, student) to the max-heap of ``size`` entries at ``base``."""
    h = size
    hkey[base + h], hstu[base + h] = key, i
    while h > 0:
        p = (h - 1) // 2
        if hkey[base + p] >= hkey[base + h]:
            return
        _swap(hkey, hstu, base + p, base + h)
        h = p


@nb.njit(cache=True, nogil=True)
def _deferred_acceptance(mtb, dseed, stu_group, pos, pref_indptr, pref_school, pref_priority,
                         seats, hoff, hkey, hstu, hsize, nxt, stack, school_of, entry_of):
    """Student-proposing deferred acceptance; writes ``school_of`` / ``entry_of`` of the held."""
    n = stu_group.shape[0]
    for j in range(seats.shape[0]):
        hsize[j] = 0
    for i in range(n):
        nxt[i] = 0
        stack[i] = i
    top = n
    while top > 0:
        top -= 1
        i = stack[top]
        g = stu_group[i]
        b = pref_indptr[g]
        length = pref_indptr[g + 1] - b
        while nxt[i] < length:
            e = b + nxt[i]
            j = pref_school[e]
            cap = seats[j]
            if mtb:
                lot = np.int64(_mix(dseed + np.uint64(j) * np.uint64(0xD1B54A32D192ED03)
                                    + np.uint64(i) * GOLDEN) >> np.uint64(64 - LOT_BITS))
            else:
                lot = pos[i]
            key = (pref_priority[e] << LOT_BITS) + lot
            if hsize[j] < cap:
                _push(hkey, hstu, hoff[j], hsize[j], key, i)
                hsize[j] += 1
                break
            if cap > 0 and key < hkey[hoff[j]]:
                r = hstu[hoff[j]]
                hkey[hoff[j]], hstu[hoff[j]] = key, i
                _sift_down(hkey, hstu, hoff[j], hsize[j], 0)
                nxt[r] += 1
                stack[top] = r
                top += 1
                break
            nxt[i] += 1
    for j in range(seats.shape[0]):
        for h in range(hsize[j]):
            i = hstu[hoff[j] + h]
            school_of[i] = j
            entry_of[i] = nxt[i]


@nb.njit(cache=True, nogil=True)
def _first_with_seat(ptr, row, indptr, school, left):
    """First entry at or after ``ptr[row]`` in CSR row ``row`` whose school has a seat left
    (the row's end if none); ``ptr[row]`` moves there (seats only run out, so it never moves
    back within a draw)."""
    k = ptr[row]
    end = indptr[row + 1]
    while k < end and left[school[k]] == 0:
        k += 1
    ptr[row] = k
    return k


@nb.njit(cache=True, nogil=True)
def _one_draw(mech, dseed, st, stu_group, by_class, class_ptr, group_cell, group_class,
              pref_indptr, pref_school, pref_priority, max_len, seats, fb_indptr, fb_school,
              fb_dist, base_dist, order, pos, nxt, buf, left, gptr, fptr, hoff, hkey, hstu,
              hsize, school_of, entry_of, placed, fb_n, fb_extra, none_n, fb_by_school,
              outside_by_class):
    """One lottery draw: fills ``school_of`` / ``entry_of`` and adds to the accumulators."""
    n = stu_group.shape[0]
    n_classes = class_ptr.shape[0] - 1
    st[0] = dseed
    for i in range(n):
        school_of[i] = -1
        entry_of[i] = PENDING
    for j in range(seats.shape[0]):
        left[j] = seats[j]
    if mech == 0:  # class by class, one lottery within each class
        for p in range(n_classes):
            _shuffle_into(by_class, class_ptr[p], class_ptr[p + 1], order, st)
        for g in range(gptr.shape[0]):
            gptr[g] = pref_indptr[g]
        for t in range(n):
            i = order[t]
            g = stu_group[i]
            k = _first_with_seat(gptr, g, pref_indptr, pref_school, left)
            if k < pref_indptr[g + 1]:
                left[pref_school[k]] -= 1
                school_of[i] = pref_school[k]
                entry_of[i] = k - pref_indptr[g]
    else:
        _shuffle_into(by_class, 0, n, order, st)
        for t in range(n):
            pos[order[t]] = t
        if mech == 1:  # immediate acceptance, round by round
            nrem = 0
            for t in range(n):
                i = order[t]
                if pref_indptr[stu_group[i] + 1] > pref_indptr[stu_group[i]]:
                    buf[nrem] = i
                    nrem += 1
            for k in range(max_len):
                for p in range(n_classes):
                    for t in range(nrem):
                        i = buf[t]
                        g = stu_group[i]
                        e = pref_indptr[g] + k
                        if entry_of[i] == PENDING and pref_priority[e] == p:
                            j = pref_school[e]
                            if left[j] > 0:
                                left[j] -= 1
                                school_of[i] = j
                                entry_of[i] = k
                keep = 0
                for t in range(nrem):
                    i = buf[t]
                    g = stu_group[i]
                    if entry_of[i] == PENDING and pref_indptr[g] + k + 1 < pref_indptr[g + 1]:
                        buf[keep] = i
                        keep += 1
                nrem = keep
        else:
            _deferred_acceptance(mech == 3, dseed, stu_group, pos, pref_indptr, pref_school,
                                 pref_priority, seats, hoff, hkey, hstu, hsize, nxt, buf,
                                 school_of, entry_of)
            for j in range(seats.shape[0]):
                left[j] = seats[j] - hsize[j]
    # zone places counted; the rest, in order of class then lottery, by the bureau's rule
    nun = 0
    for t in range(n):
        i = order[t]
        e = entry_of[i]
        g = stu_group[i]
        if e >= 0:
            placed[pref_indptr[g] + e] += 1
        else:
            buf[nun] = i
            nun += 1
    for c in range(fptr.shape[0]):
        fptr[c] = fb_indptr[c]
    passes = 1 if mech == 0 else n_classes  # the lottery order is class by class already
    for p in range(passes):
        for t in range(nun):
            i = buf[t]
            g = stu_group[i]
            if mech != 0 and group_class[g] != p:
                continue
            c = group_cell[g]
            k = _first_with_seat(fptr, c, fb_indptr, fb_school, left)
            if k < fb_indptr[c + 1]:
                j = fb_school[k]
                left[j] -= 1
                school_of[i] = j
                entry_of[i] = FALLBACK
                fb_n[g] += 1
                fb_extra[g] += fb_dist[k] - base_dist[g]
                fb_by_school[j] += 1
                outside_by_class[group_class[g]] += 1
            else:
                entry_of[i] = NO_SEAT
                none_n[g] += 1


@nb.njit(cache=True, nogil=True)
def _setup(group_class, group_count, n_classes, seats):
    """Student → group, students ordered by class (and class offsets), heap offsets."""
    n_groups = group_count.shape[0]
    n = 0
    for g in range(n_groups):
        n += group_count[g]
    stu_group = np.empty(n, dtype=np.int64)
    t = 0
    for g in range(n_groups):
        for _ in range(group_count[g]):
            stu_group[t] = g
            t += 1
    class_ptr = np.zeros(n_classes + 1, dtype=np.int64)
    for g in range(n_groups):
        class_ptr[group_class[g] + 1] += group_count[g]
    for p in range(n_classes):
        class_ptr[p + 1] += class_ptr[p]
    fill = class_ptr[:-1].copy()
    by_class = np.empty(n, dtype=np.int64)
    for i in range(n):
        p = group_class[stu_group[i]]
        by_class[fill[p]] = i
        fill[p] += 1
    hoff = np.zeros(seats.shape[0] + 1, dtype=np.int64)
    for j in range(seats.shape[0]):
        hoff[j + 1] = hoff[j] + seats[j]
    return stu_group, by_class, class_ptr, hoff


@nb.njit(cache=True, nogil=True)
def _max_len(pref_indptr):
    out = 0
    for g in range(pref_indptr.shape[0] - 1):
        out = max(out, pref_indptr[g + 1] - pref_indptr[g])
    return out


@nb.njit(cache=True, nogil=True)
def _run_draws(mech, d0, d1, seed, group_cell, group_class, pref_indptr, pref_school,
               pref_priority, seats, fb_indptr, fb_school, fb_dist, base_dist, stu_group,
               by_class, class_ptr, hoff, placed, fb_n, fb_extra, none_n, fb_by_school,
               outside_by_draw, school_of, entry_of):
    """Draws ``d0 … d1 − 1`` with one workspace; ``outside_by_draw`` rows d − d0."""
    n = stu_group.shape[0]
    n_groups = group_cell.shape[0]
    m = seats.shape[0]
    st = np.zeros(1, dtype=np.uint64)
    order = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    nxt = np.empty(n, dtype=np.int64)
    buf = np.empty(n, dtype=np.int64)
    left = np.empty(m, dtype=np.int64)
    gptr = np.empty(n_groups, dtype=np.int64)
    fptr = np.empty(fb_indptr.shape[0] - 1, dtype=np.int64)
    hkey = np.empty(max(hoff[m], 1), dtype=np.int64)
    hstu = np.empty(max(hoff[m], 1), dtype=np.int64)
    hsize = np.zeros(m, dtype=np.int64)
    max_len = _max_len(pref_indptr)
    for d in range(d0, d1):
        _one_draw(mech, draw_seed(seed, d), st, stu_group, by_class, class_ptr, group_cell,
                  group_class, pref_indptr, pref_school, pref_priority, max_len, seats,
                  fb_indptr, fb_school, fb_dist, base_dist, order, pos, nxt, buf, left, gptr,
                  fptr, hoff, hkey, hstu, hsize, school_of, entry_of, placed, fb_n, fb_extra,
                  none_n, fb_by_school, outside_by_draw[d - d0])


@nb.njit(cache=True, nogil=True)
def admit_once(mech, group_cell, group_class, group_count, pref_indptr, pref_school,
               pref_priority, seats, fb_indptr, fb_school, fb_dist, base_dist, n_classes, seed,
               draw):
    """One draw, student by student (tests, and to show one lottery's outcome).

    Returns
    -------
    stu_group : (n,) i8 — each student's group
    school_of : (n,) i8 — school placed at (−1: none)
    entry_of : (n,) i8 — position on the group's list (≥ 0), −2 placed by the bureau's rule,
        −3 no seat anywhere
    """
    stu_group, by_class, class_ptr, hoff = _setup(group_class, group_count, n_classes, seats)
    n_groups = group_cell.shape[0]
    school_of = np.empty(stu_group.shape[0], dtype=np.int64)
    entry_of = np.empty(stu_group.shape[0], dtype=np.int64)
    _run_draws(mech, draw, draw + 1, seed, group_cell, group_class, pref_indptr, pref_school,
               pref_priority, seats, fb_indptr, fb_school, fb_dist, base_dist, stu_group,
               by_class, class_ptr, hoff, np.zeros(pref_school.shape[0], dtype=np.int64),
               np.zeros(n_groups, dtype=np.int64), np.zeros(n_groups),
               np.zeros(n_groups, dtype=np.int64), np.zeros(seats.shape[0], dtype=np.int64),
               np.zeros((1, n_classes), dtype=np.int64), school_of, entry_of)
    return stu_group, school_of, entry_of


@nb.njit(cache=True, parallel=True)
def admission_monte_carlo(mech, group_cell, group_class, group_count, pref_indptr, pref_school,
                          pref_priority, seats, fb_indptr, fb_school, fb_dist, base_dist,
                          n_classes, draws, seed, n_chunks):
    """Many seeded draws of one mechanism, summed.

    Parameters
    ----------
    mech : int — 0 lottery, 1 boston, 2 da_stb, 3 da_mtb
    group_cell, group_class, group_count : (G,) i8 — cell, class (0 … n_classes − 1), students
    pref_indptr : (G + 1,) i8 · pref_school, pref_priority : (nnz,) i8 — lists, best first
    seats : (m,) i8
    fb_indptr : (n_cells + 1,) i8 · fb_school : i8 · fb_dist : f8 — per cell, schools of the
        bureau's rule by increasing distance (metres)
    base_dist : (G,) f8 — distance the extra distance is counted from (metres)
    n_classes, draws, seed : int
    n_chunks : int — draws are split in this many fixed blocks (run in parallel); results do
        not depend on the number of threads

    Returns
    -------
    placed : (nnz,) i8 — students placed at each list entry, summed over draws
    fb_n : (G,) i8 — placed by the bureau's rule · fb_extra : (G,) f8 — their extra metres
    none_n : (G,) i8 — no seat anywhere · fb_by_school : (m,) i8 — bureau placements per school
    outside_by_draw : (draws, n_classes) i8 — placed by the bureau's rule in each draw
    """
    stu_group, by_class, class_ptr, hoff = _setup(group_class, group_count, n_classes, seats)
    n_groups = group_cell.shape[0]
    nnz = pref_school.shape[0]
    m = seats.shape[0]
    placed_c = np.zeros((n_chunks, nnz), dtype=np.int64)
    fb_n_c = np.zeros((n_chunks, n_groups), dtype=np.int64)
    fb_extra_c = np.zeros((n_chunks, n_groups))
    none_c = np.zeros((n_chunks, n_groups), dtype=np.int64)
    fb_school_c = np.zeros((n_chunks, m), dtype=np.int64)
    outside_by_draw = np.zeros((draws, n_classes), dtype=np.int64)
    n = stu_group.shape[0]
    for c in nb.prange(n_chunks):
        d0 = c * draws // n_chunks
        d1 = (c + 1) * draws // n_chunks
        _run_draws(mech, d0, d1, seed, group_cell, group_class, pref_indptr, pref_school,
                   pref_priority, seats, fb_indptr, fb_school, fb_dist, base_dist, stu_group,
                   by_class, class_ptr, hoff, placed_c[c], fb_n_c[c], fb_extra_c[c], none_c[c],
                   fb_school_c[c], outside_by_draw[d0:d1], np.empty(n, dtype=np.int64),
                   np.empty(n, dtype=np.int64))
    placed = np.zeros(nnz, dtype=np.int64)
    fb_n = np.zeros(n_groups, dtype=np.int64)
    fb_extra = np.zeros(n_groups)
    none_n = np.zeros(n_groups, dtype=np.int64)
    fb_by_school = np.zeros(m, dtype=np.int64)
    for c in range(n_chunks):  # fixed order: the same sums whatever the threads
        placed += placed_c[c]
        fb_n += fb_n_c[c]
        fb_extra += fb_extra_c[c]
        none_n += none_c[c]
        fb_by_school += fb_school_c[c]
    return placed, fb_n, fb_extra, none_n, fb_by_school, outside_by_draw
