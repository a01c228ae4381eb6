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

from schoolmap._kernels.sampling import hypergeometric_split, log_factorials

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
def _bureau_rule(unplaced, nun, order, group_cell, group_class, left, fb_indptr, fb_school,
                 fb_dist, fb_rank, base_dist, fptr, free, fpos, got, fb_n, fb_extra, none_n,
                 fb_by_school, outside_by_class, cls_end, st):
    """The bureau's rule: students ``unplaced[:nun]`` (group ``order[unplaced[u]]``), in this
    order, each take the nearest school with a seat left (``fb_*`` CSR per cell, by distance).

    With ``cls_end`` (end of each class's run in ``unplaced``; empty: already in lottery order),
    each run is shuffled as it is reached (stream ``st``, :func:`_below`), and only while seats
    are left: once every school is full, the order of the rest no longer matters.

    Work per student is bounded by the number of schools with seats left, not by the length of
    the cell's list: the cell's list is scanned (from where the cell's last student stopped) at
    most that many entries; past that, the free school the cell ranks first is looked up in
    ``fb_rank`` (n_cells, m) — the position of each school on each cell's list (the list's
    length if absent); shape (0, 0): scan only. Both give the same school. Sets ``got[u]``
    (school, −1 none) and adds to the accumulators.
    """
    m = left.shape[0]
    for c in range(fptr.shape[0]):
        fptr[c] = fb_indptr[c]
    nf = 0
    for j in range(m):
        if left[j] > 0:
            free[nf] = j
            fpos[j] = nf
            nf += 1
    use_rank = fb_rank.shape[0] == fptr.shape[0] and fb_rank.shape[1] == m
    p = 0
    for u in range(nun):
        if nf > 0 and cls_end.shape[0] > 0:  # lottery within the class, drawn as reached
            while cls_end[p] <= u:
                p += 1
            r = u + _below(st, cls_end[p] - u)
            x = unplaced[r]
            unplaced[r] = unplaced[u]
            unplaced[u] = x
        g = order[unplaced[u]]
        c = group_cell[g]
        a, end = fb_indptr[c], fb_indptr[c + 1]
        k = end
        if nf > 0:
            k = fptr[c]
            stop = min(end, k + nf) if use_rank else end
            while k < stop and left[fb_school[k]] == 0:
                k += 1
            if k == stop and stop < end:  # nearer schools all full: ask the free ones
                best = end - a
                for q in range(nf):
                    r = fb_rank[c, free[q]]
                    if r < best:
                        best = r
                k = a + best
            fptr[c] = k
        if k < end:
            j = fb_school[k]
            left[j] -= 1
            if left[j] == 0:  # no longer free: swap-remove
                last = free[nf - 1]
                free[fpos[j]] = last
                fpos[last] = fpos[j]
                nf -= 1
            got[u] = j
            fb_n[g] += 1
            fb_extra[g] += fb_dist[k] - base_dist[g]
            fb_by_school[j] += 1
            outside_by_class[group_class[g]] += 1
        else:
            got[u] = -1
            none_n[g] += 1


@nb.njit(cache=True, nogil=True)
def _deferred_acceptance(mtb, dseed, order, pref_indptr, pref_school, pref_priority, seats,
                         hoff, hkey, hstu, hsize, nxt, stack):
    """Student-proposing deferred acceptance over lottery positions t (group ``order[t]``).

    Leaves ``nxt[t]`` at the list position held (the list's length when rejected everywhere)
    and each school's holders in its heap.
    """
    n = order.shape[0]
    for j in range(seats.shape[0]):
        hsize[j] = 0
    for t in range(n):
        nxt[t] = 0
        stack[t] = t
    top = n
    while top > 0:
        top -= 1
        t = stack[top]
        g = order[t]
        b = pref_indptr[g]
        length = pref_indptr[g + 1] - b
        while nxt[t] < length:
            e = b + nxt[t]
            j = pref_school[e]
            cap = seats[j]
            if mtb:  # each school its own lottery number for every student
                lot = np.int64(_mix(dseed + np.uint64(j) * np.uint64(0xD1B54A32D192ED03)
                                    + np.uint64(t) * GOLDEN) >> np.uint64(64 - LOT_BITS))
            else:  # one lottery: the position drawn
                lot = t
            key = (pref_priority[e] << LOT_BITS) + lot
            if hsize[j] < cap:
                _push(hkey, hstu, hoff[j], hsize[j], key, t)
                hsize[j] += 1
                break
            if cap > 0 and key < hkey[hoff[j]]:
                r = hstu[hoff[j]]
                hkey[hoff[j]], hstu[hoff[j]] = key, t
                _sift_down(hkey, hstu, hoff[j], hsize[j], 0)
                nxt[r] += 1
                stack[top] = r
                top += 1
                break
            nxt[t] += 1


@nb.njit(cache=True, nogil=True)
def _one_draw(mech, dseed, st, by_class, class_ptr, group_cell, group_class, pref_indptr,
              pref_school, pref_priority, max_len, seats, fb_indptr, fb_school, fb_dist,
              fb_rank, base_dist, order, nxt, buf, left, gptr, fptr, free, fpos, got, hoff,
              hkey, hstu, hsize, record, school_of, entry_of, placed, fb_n, fb_extra, none_n,
              fb_by_school, outside_by_class):
    """One lottery draw; adds to the accumulators (and, with ``record``, fills ``school_of`` /
    ``entry_of`` by lottery position). Students are lottery positions t of group ``order[t]``:
    students of a group are alike, so the draw shuffles group ids, not student ids."""
    n = order.shape[0]
    n_classes = class_ptr.shape[0] - 1
    st[0] = dseed
    if record:
        for t in range(n):
            school_of[t] = -1
            entry_of[t] = PENDING
    for j in range(seats.shape[0]):
        left[j] = seats[j]
    nun = 0  # students left for the bureau's rule, as positions in class-then-lottery order
    if mech == 0:  # class by class, one lottery within each class: first school with a seat
        for p in range(n_classes):
            _shuffle_into(by_class, class_ptr[p], class_ptr[p + 1], order, st)
        for g in range(gptr.shape[0]):
            gptr[g] = pref_indptr[g]
        for t in range(n):
            g = order[t]
            k = _first_with_seat(gptr, g, pref_indptr, pref_school, left)
            if k < pref_indptr[g + 1]:
                nxt[t] = k - pref_indptr[g]
                left[pref_school[k]] -= 1
            else:
                nxt[t] = -1
                buf[nun] = t
                nun += 1
    else:
        _shuffle_into(by_class, 0, n, order, st)
        if mech == 1:  # immediate acceptance: round k, the k-th choices, by priority
            nrem = 0
            for t in range(n):
                nxt[t] = -1
                if pref_indptr[order[t] + 1] > pref_indptr[order[t]]:
                    buf[nrem] = t
                    nrem += 1
            for k in range(max_len):
                for p in range(n_classes):
                    for u in range(nrem):
                        t = buf[u]
                        e = pref_indptr[order[t]] + k
                        if nxt[t] < 0 and pref_priority[e] == p and left[pref_school[e]] > 0:
                            left[pref_school[e]] -= 1
                            nxt[t] = k
                keep = 0
                for u in range(nrem):
                    t = buf[u]
                    if nxt[t] < 0 and pref_indptr[order[t]] + k + 1 < pref_indptr[order[t] + 1]:
                        buf[keep] = t
                        keep += 1
                nrem = keep
        else:
            _deferred_acceptance(mech == 3, dseed, order, pref_indptr, pref_school,
                                 pref_priority, seats, hoff, hkey, hstu, hsize, nxt, buf)
            for t in range(n):
                if nxt[t] == pref_indptr[order[t] + 1] - pref_indptr[order[t]]:
                    nxt[t] = -1
            for j in range(seats.shape[0]):
                left[j] = seats[j] - hsize[j]
        for p in range(n_classes):
            for t in range(n):
                if nxt[t] < 0 and group_class[order[t]] == p:
                    buf[nun] = t
                    nun += 1
    for t in range(n):
        if nxt[t] >= 0:
            k = pref_indptr[order[t]] + nxt[t]
            placed[k] += 1
            if record:
                school_of[t] = pref_school[k]
                entry_of[t] = nxt[t]
    # the rest, in order of class then lottery, by the bureau's rule: nearest seat left
    _bureau_rule(buf, nun, order, group_cell, group_class, left, fb_indptr, fb_school, fb_dist,
                 fb_rank, base_dist, fptr, free, fpos, got, fb_n, fb_extra, none_n,
                 fb_by_school, outside_by_class, fptr[:0], st)
    if record:
        for u in range(nun):
            t = buf[u]
            school_of[t] = got[u]
            entry_of[t] = FALLBACK if got[u] >= 0 else NO_SEAT


@nb.njit(cache=True, nogil=True)
def _setup(group_class, group_count, n_classes, seats):
    """Group id of every student, sorted by class (with class offsets); heap offsets."""
    n_groups = group_count.shape[0]
    class_ptr = np.zeros(n_classes + 1, dtype=np.int64)
    for g in range(n_groups):
        class_ptr[group_class[g] + 1] += group_count[g]
    for p in range(n_classes):
        class_ptr[p + 1] += class_ptr[p]
    fill = class_ptr[:-1].copy()
    by_class = np.empty(class_ptr[n_classes], dtype=np.int64)
    for g in range(n_groups):
        p = group_class[g]
        for _ in range(group_count[g]):
            by_class[fill[p]] = g
            fill[p] += 1
    hoff = np.zeros(seats.shape[0] + 1, dtype=np.int64)
    for j in range(seats.shape[0]):
        hoff[j + 1] = hoff[j] + seats[j]
    return by_class, class_ptr, hoff


@nb.njit(cache=True, nogil=True)
def _run_draws(mech, d0, d1, seed, group_cell, group_class, pref_indptr, pref_school,
               pref_priority, seats, fb_indptr, fb_school, fb_dist, fb_rank, base_dist, by_class,
               class_ptr, hoff, placed, fb_n, fb_extra, none_n, fb_by_school, outside_by_draw,
               record, order, school_of, entry_of):
    """Draws ``d0 … d1 − 1`` with one workspace; ``outside_by_draw`` rows d − d0."""
    n = by_class.shape[0]
    m = seats.shape[0]
    st = np.zeros(1, dtype=np.uint64)
    nxt = np.empty(n, dtype=np.int64)
    buf = np.empty(n, dtype=np.int64)
    left = np.empty(m, dtype=np.int64)
    gptr = np.empty(group_cell.shape[0], dtype=np.int64)
    fptr = np.empty(fb_indptr.shape[0] - 1, dtype=np.int64)
    free = np.empty(m, dtype=np.int64)
    fpos = np.empty(m, dtype=np.int64)
    got = np.empty(n, dtype=np.int64)
    hkey = np.empty(max(hoff[m], 1), dtype=np.int64)
    hstu = np.empty(max(hoff[m], 1), dtype=np.int64)
    hsize = np.zeros(m, dtype=np.int64)
    max_len = 0
    for g in range(group_cell.shape[0]):
        max_len = max(max_len, pref_indptr[g + 1] - pref_indptr[g])
    for d in range(d0, d1):
        _one_draw(mech, draw_seed(seed, d), st, by_class, class_ptr, group_cell, group_class,
                  pref_indptr, pref_school, pref_priority, max_len, seats, fb_indptr,
                  fb_school, fb_dist, fb_rank, base_dist, order, nxt, buf, left, gptr, fptr,
                  free, fpos, got, hoff, hkey, hstu, hsize, record, school_of, entry_of, placed,
                  fb_n, fb_extra, none_n, fb_by_school, outside_by_draw[d - d0])


@nb.njit(cache=True, nogil=True)
def admit_once(mech, group_cell, group_class, group_count, pref_indptr, pref_school,
               pref_priority, seats, fb_indptr, fb_school, fb_dist, base_dist, n_classes, seed,
               draw):
    """Draw ``draw`` of a run seeded ``seed``, student by student (tests; one lottery shown).

    Returns, per lottery position t (students are numbered in the order drawn)
    ---------------------------------------------------------------------------
    group_of : (n,) i8 — the student's group
    school_of : (n,) i8 — school placed at (−1: none)
    entry_of : (n,) i8 — position on the group's list (≥ 0), −2 placed by the bureau's rule,
        −3 no seat anywhere
    """
    by_class, class_ptr, hoff = _setup(group_class, group_count, n_classes, seats)
    n_groups = group_cell.shape[0]
    n = by_class.shape[0]
    order = np.empty(n, dtype=np.int64)
    school_of = np.empty(n, dtype=np.int64)
    entry_of = np.empty(n, dtype=np.int64)
    _run_draws(mech, draw, draw + 1, seed, group_cell, group_class, pref_indptr, pref_school,
               pref_priority, seats, fb_indptr, fb_school, fb_dist,
               np.zeros((0, 0), dtype=np.int16), base_dist, by_class,
               class_ptr, hoff, np.zeros(pref_school.shape[0], dtype=np.int64),
               np.zeros(n_groups, dtype=np.int64), np.zeros(n_groups),
               np.zeros(n_groups, dtype=np.int64), np.zeros(seats.shape[0], dtype=np.int64),
               np.zeros((1, n_classes), dtype=np.int64), True, order, school_of, entry_of)
    return order, school_of, entry_of


@nb.njit(cache=True, nogil=True)
def _chunk_sums(n_chunks, nnz, n_groups, m, draws, n_classes):
    """Zeroed per-block accumulators of the Monte Carlo drivers (one row per block of draws):
    placed (nnz), fb_n, fb_extra, none_n (groups), fb_by_school (m); outside_by_draw (draws)."""
    return (np.zeros((n_chunks, nnz), dtype=np.int64),
            np.zeros((n_chunks, n_groups), dtype=np.int64), np.zeros((n_chunks, n_groups)),
            np.zeros((n_chunks, n_groups), dtype=np.int64),
            np.zeros((n_chunks, m), dtype=np.int64),
            np.zeros((draws, n_classes), dtype=np.int64))


@nb.njit(cache=True, nogil=True)
def _add_chunks(placed_c, fb_n_c, fb_extra_c, none_c, fb_school_c, outside_by_draw):
    """Sum the blocks of :func:`_chunk_sums` in block order (the same sums whatever the
    threads); ``outside_by_draw`` passes through."""
    placed = placed_c[0].copy()
    fb_n = fb_n_c[0].copy()
    fb_extra = fb_extra_c[0].copy()
    none_n = none_c[0].copy()
    fb_by_school = fb_school_c[0].copy()
    for c in range(1, placed_c.shape[0]):
        placed += placed_c[c]
        fb_n += fb_n_c[c]
        fb_extra += fb_extra_c[c]
        none_n += none_c[c]
        fb_by_school += fb_school_c[c]
    return placed, fb_n, fb_extra, none_n, fb_by_school, outside_by_draw


@nb.njit(cache=True, parallel=True)
def admission_monte_carlo(mech, group_cell, group_class, group_count, pref_indptr, pref_school,
                          pref_priority, seats, fb_indptr, fb_school, fb_dist, fb_rank,
                          base_dist, n_classes, draws, seed, n_chunks):
    """Many seeded draws of one mechanism, summed.

    Parameters
    ----------
    mech : int — 0 lottery, 1 boston, 2 da_stb, 3 da_mtb
    group_cell, group_class, group_count : (G,) i8 — cell, class (0 … n_classes − 1), students
    pref_indptr : (G + 1,) i8 · pref_school, pref_priority : (nnz,) i8 — lists, best first
    seats : (m,) i8
    fb_indptr : (n_cells + 1,) i8 · fb_school : i8 · fb_dist : f8 — per cell, schools of the
        bureau's rule by increasing distance (metres)
    fb_rank : (n_cells, m) i2 — position of each school on each cell's list (or shape (0, 0));
        speeds the bureau's rule up, same result (:func:`_bureau_rule`)
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
    by_class, class_ptr, hoff = _setup(group_class, group_count, n_classes, seats)
    n_groups = group_cell.shape[0]
    nnz = pref_school.shape[0]
    m = seats.shape[0]
    n = by_class.shape[0]
    placed_c, fb_n_c, fb_extra_c, none_c, fb_school_c, outside_by_draw = _chunk_sums(
        n_chunks, nnz, n_groups, m, draws, n_classes)
    for c in nb.prange(n_chunks):
        d0 = c * draws // n_chunks
        d1 = (c + 1) * draws // n_chunks
        none = np.empty(1, dtype=np.int64)
        _run_draws(mech, d0, d1, seed, group_cell, group_class, pref_indptr, pref_school,
                   pref_priority, seats, fb_indptr, fb_school, fb_dist, fb_rank, base_dist,
                   by_class,
                   class_ptr, hoff, placed_c[c], fb_n_c[c], fb_extra_c[c], none_c[c],
                   fb_school_c[c], outside_by_draw[d0:d1], False, np.empty(n, dtype=np.int64),
                   none, none)
    return _add_chunks(placed_c, fb_n_c, fb_extra_c, none_c, fb_school_c, outside_by_draw)


@nb.njit(cache=True, nogil=True)
def _lottery_class(a, b, p, type_class, t_indptr, t_school, rem, cur, left, placed, idx, idx2,
                   take, demand, tau, touched, logfact):
    """Priority-then-lottery for the students of class ``p`` among types ``a … b − 1``: how
    many of each type get each school, drawn exactly, one school filling per step.

    Give every student a uniform lottery number U (lowest first). Each applies to the first
    school on the list with a seat left; school j has ``demand[j]`` applicants for ``left[j]``
    seats. An oversubscribed school fills at the ``left[j]``-th smallest U of its applicants,
    a Beta(left, demand − left + 1) time τ_j, independently of the others; the first to fill,
    j* at τ*, takes ``left[j*]`` of its applicants. By then each other oversubscribed school
    has taken Binomial(left − 1, τ*/τ_j) (its ``left − 1`` applicants below τ_j are uniform on
    (0, τ_j)), each other school Binomial(demand, τ*); which of a school's types they are is a
    multivariate hypergeometric split. The rest have U uniform on (τ*, 1): the same problem
    again, with j* full. At most one step per school, then everyone left fits.
    """
    while True:
        k = 0
        nt = 0
        for s in range(a, b):
            if type_class[s] != p or rem[s] == 0:
                continue
            e = _first_with_seat(cur, s, t_indptr, t_school, left)
            if e == t_indptr[s + 1]:
                continue  # list used up: unplaced
            idx[k] = s
            k += 1
            j = t_school[e]
            if demand[j] == 0:
                touched[nt] = j
                nt += 1
            demand[j] += rem[s]
        if k == 0:
            return
        t_star = 2.0
        j_star = -1
        for q in range(nt):
            j = touched[q]
            if demand[j] > left[j]:
                tau[j] = np.random.beta(left[j], demand[j] - left[j] + 1)  # noqa: NPY002
                if tau[j] < t_star:
                    t_star = tau[j]
                    j_star = j
        for q in range(nt):
            j = touched[q]
            if j_star < 0 or demand[j] <= left[j]:
                x = demand[j] if j_star < 0 else np.random.binomial(demand[j], t_star)  # noqa: NPY002
            elif j == j_star:
                x = left[j]
            else:
                x = np.random.binomial(left[j] - 1, min(t_star / tau[j], 1.0))  # noqa: NPY002
            k2 = 0
            for u in range(k):
                if t_school[cur[idx[u]]] == j:
                    idx2[k2] = idx[u]
                    k2 += 1
            hypergeometric_split(rem, idx2, k2, x, take, logfact)
            for u in range(k2):
                s = idx2[u]
                placed[cur[s]] += take[s]
                rem[s] -= take[s]
            left[j] -= x
            demand[j] = 0
        if j_star < 0:
            return


@nb.njit(cache=True, nogil=True)
def _typed_draw(mech, type_class, type_count, t_indptr, t_school, t_priority, comp_ptr,
                n_classes, max_len, seats, left, rem, cur, take, idx, placed, unplaced, logfact):
    """One draw on student *types* (alike students: same class, list and priorities), zone
    component by component; adds to ``placed`` (type entries), sets ``unplaced`` (types)."""
    m = seats.shape[0]
    for j in range(m):
        left[j] = seats[j]
    idx2 = np.empty(rem.shape[0], dtype=np.int64)
    demand = np.zeros(m, dtype=np.int64)
    tau = np.empty(m)
    touched = np.empty(m, dtype=np.int64)
    for c in range(comp_ptr.shape[0] - 1):
        a, b = comp_ptr[c], comp_ptr[c + 1]
        for s in range(a, b):
            rem[s] = type_count[s]
            cur[s] = t_indptr[s]
        if mech == 0:  # class by class; within a class, school by school as they fill
            for p in range(n_classes):
                _lottery_class(a, b, p, type_class, t_indptr, t_school, rem, cur, left, placed,
                               idx, idx2, take, demand, tau, touched, logfact)
        else:  # immediate acceptance: round r, each school keeps its r-th-choice applicants
            for r in range(max_len):
                for p in range(n_classes):
                    for s in range(a, b):
                        take[s] = 0
                    # schools of this round and priority, one at a time (few per component)
                    for s0 in range(a, b):
                        e0 = t_indptr[s0] + r
                        if (rem[s0] == 0 or e0 >= t_indptr[s0 + 1] or t_priority[e0] != p
                                or take[s0] != 0):
                            continue
                        j = t_school[e0]
                        k = 0
                        for s in range(s0, b):
                            e = t_indptr[s] + r
                            if (rem[s] > 0 and e < t_indptr[s + 1] and t_priority[e] == p
                                    and t_school[e] == j):
                                idx[k] = s
                                k += 1
                        pool = 0
                        for q in range(k):
                            pool += rem[idx[q]]
                        hypergeometric_split(rem, idx, k, min(left[j], pool), take,
                                              logfact)
                        for q in range(k):
                            s = idx[q]
                            placed[t_indptr[s] + r] += take[s]
                            left[j] -= take[s]
                            take[s] = -1 - take[s]  # marks done this pass (≤ −1)
                    for s in range(a, b):
                        if take[s] < 0:
                            rem[s] -= -1 - take[s]
        for s in range(a, b):
            unplaced[s] = rem[s]


@nb.njit(cache=True, nogil=True)
def _typed_draws(mech, d0, d1, seed, type_class, type_count, t_indptr, t_school, t_priority,
                 comp_ptr, stu_ptr, stu_group, group_cell, group_class, n_classes, seats,
                 fb_indptr, fb_school, fb_dist, fb_rank, base_dist, placed, fb_n, fb_extra,
                 none_n, fb_by_school, outside_by_draw):
    """Draws ``d0 … d1 − 1`` of :func:`admission_monte_carlo_typed` with one workspace."""
    n_types = type_count.shape[0]
    m = seats.shape[0]
    left = np.empty(m, dtype=np.int64)
    rem = np.empty(n_types, dtype=np.int64)
    cur = np.empty(n_types, dtype=np.int64)
    take = np.empty(n_types, dtype=np.int64)
    idx = np.empty(n_types, dtype=np.int64)
    unplaced = np.empty(n_types, dtype=np.int64)
    students = stu_group.copy()  # partial shuffles leave it a permutation per type
    buf = np.empty(stu_group.shape[0], dtype=np.int64)
    cls_n = np.empty(n_classes + 1, dtype=np.int64)
    fptr = np.empty(fb_indptr.shape[0] - 1, dtype=np.int64)
    free = np.empty(m, dtype=np.int64)
    fpos = np.empty(m, dtype=np.int64)
    got = np.empty(stu_group.shape[0], dtype=np.int64)
    ident = np.arange(group_cell.shape[0])  # buf holds groups: order is the identity
    logfact = log_factorials(stu_group.shape[0])
    st = np.zeros(1, dtype=np.uint64)
    max_len = 0
    for s in range(n_types):
        max_len = max(max_len, t_indptr[s + 1] - t_indptr[s])
    for d in range(d0, d1):
        ds = draw_seed(seed, d)
        np.random.seed(np.int64(ds >> np.uint64(33)))  # noqa: NPY002 (numba: per thread)
        st[0] = _mix(ds ^ GOLDEN)  # the draw's stream for the subsets and the lottery order
        _typed_draw(mech, type_class, type_count, t_indptr, t_school, t_priority, comp_ptr,
                    n_classes, max_len, seats, left, rem, cur, take, idx, placed, unplaced,
                    logfact)
        # who exactly is unplaced: a random subset of each type's students, then by class in
        # lottery order, the bureau's rule
        for p in range(n_classes + 1):
            cls_n[p] = 0
        for s in range(n_types):
            cls_n[type_class[s] + 1] += unplaced[s]
        for p in range(n_classes):
            cls_n[p + 1] += cls_n[p]
        for s in range(n_types):
            a = stu_ptr[s]
            size = stu_ptr[s + 1] - a
            every = unplaced[s] == size  # the whole type: no subset to draw
            for q in range(unplaced[s]):
                if not every:
                    r = q + _below(st, size - q)
                    g = students[a + r]
                    students[a + r] = students[a + q]
                    students[a + q] = g
                buf[cls_n[type_class[s]]] = students[a + q]
                cls_n[type_class[s]] += 1
        # in lottery order within each class (shuffled by the bureau's rule as it goes)
        _bureau_rule(buf, cls_n[n_classes - 1], ident, group_cell, group_class, left,
                     fb_indptr, fb_school, fb_dist, fb_rank, base_dist, fptr, free, fpos, got,
                     fb_n, fb_extra, none_n, fb_by_school, outside_by_draw[d - d0],
                     cls_n[:n_classes], st)


@nb.njit(cache=True, parallel=True)
def admission_monte_carlo_typed(mech, type_class, type_count, t_indptr, t_school, t_priority,
                                comp_ptr, stu_ptr, stu_group, group_cell, group_class,
                                n_classes, seats, fb_indptr, fb_school, fb_dist, fb_rank,
                                base_dist, draws, seed, n_chunks):
    """:func:`admission_monte_carlo` for ``lottery`` (0) and ``boston`` (1), on student types.

    Students alike in class, list and priorities form a *type*; which of them gets which place
    is exchangeable, so a draw needs only how many of each type get each place (multivariate
    hypergeometric batches no school can overflow for the lottery; each school's applicants of
    a round and priority for 志愿优先), then which students of each type are left over (a
    random subset) for the bureau's rule. Types are grouped by zone component (``comp_ptr``:
    types of component c are ``comp_ptr[c]:comp_ptr[c + 1]``; no list leaves its component);
    ``stu_ptr`` (T + 1,) / ``stu_group`` (n,) list each type's students by group.

    Returns ``placed`` by *type* entry (nnz_types,), then as :func:`admission_monte_carlo`.
    """
    n_groups = group_cell.shape[0]
    nnz = t_school.shape[0]
    m = seats.shape[0]
    placed_c, fb_n_c, fb_extra_c, none_c, fb_school_c, outside_by_draw = _chunk_sums(
        n_chunks, nnz, n_groups, m, draws, n_classes)
    for c in nb.prange(n_chunks):
        d0 = c * draws // n_chunks
        d1 = (c + 1) * draws // n_chunks
        _typed_draws(mech, d0, d1, seed, type_class, type_count, t_indptr, t_school,
                     t_priority, comp_ptr, stu_ptr, stu_group, group_cell, group_class,
                     n_classes, seats, fb_indptr, fb_school, fb_dist, fb_rank, base_dist,
                     placed_c[c], fb_n_c[c], fb_extra_c[c], none_c[c], fb_school_c[c],
                     outside_by_draw[d0:d1])
    return _add_chunks(placed_c, fb_n_c, fb_extra_c, none_c, fb_school_c, outside_by_draw)
