"""Capacitated transportation (students → seats) by successive shortest paths on the school graph.

Numba only: plain NumPy arrays in and out, no Python objects, no exceptions (status codes).
Counters and flags handed to helpers are ``np.int64``/``np.bool_`` (see ``schoolmap._kernels``).

The problem: minimise Σ c_ij x_ij + Σ p_i u_i subject to Σ_j x_ij + u_i = s_i (cells),
Σ_i x_ij ≤ cap_j (schools), x, u ≥ 0, over the candidate pairs given in CSR form.

Graph. Cells are condensed away: the nodes are the m schools, U ("unserved", index m) and T (the
seat pool, index m + 1). A residual arc j → k moves one student of a cell i now at school j to
school k, at cost c_ik − c_ij (the cheapest such cell realises the arc); j → U leaves one student
of a cell at j unserved (p_i − c_ij); U → k seats an unserved student (c_ik − p_i). School j
forwards ``fwd_j`` ≤ cap_j students to T (arcs j → T while fwd_j < cap_j, T → j while
fwd_j > 0, both free); U forwards all unserved students to T. A school holding more students
than it forwards has *excess*, one forwarding more than it holds has *deficit*; T has the
difference to the total supply.

Warm start. Given estimated seat prices v ≥ 0 (zeros for a cold start), every cell starts at
its cheapest *priced* option argmin(c_ij + v_j, p_i), potentials are π_j = −v_j, π_U = π_T = 0,
and a priced school forwards its full capacity. Every reduced cost c + π_a − π_b is then ≥ 0.
Successive shortest paths (Dijkstra on m + 2 nodes, potentials updated with min(d, D)) move
excess to deficit until none is left. Each arc keeps a *ladder*: its few cheapest
realising cells at the node, cheapest first, and the cheapest key of those not kept. When the
arc's cell leaves the node, the next cell on the ladder still there takes over; the node's row of
the arc table (m + 1, m + 1) is rebuilt from all its cells only when a ladder runs out while
realisers were left off it. Arriving cells join the ladders in place. Integer supplies
and capacities give integer flows.

At the end the seat price of school j is v_j = max(π_T − π_j, 0).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from schoolmap._kernels.bins import counting_order

INF = np.inf

STATUS_OK = 0
STATUS_NO_PATH = 1  # an imbalance that cannot be resolved (p_i infinite and too few seats)
STATUS_PATH_LIMIT = 2  # ``max_paths`` augmenting paths were not enough (a bound, never a hang)
LADDER = 64  # cheapest realisers kept per arc (fewer for large m, see ladder_size)
# memory the ladders may take at most, unless LADDER_MIN forces more. Every page of it is
# faulted in on first use (~1 ms per MB on a virtual machine; once per call: one workspace
# serves every level and round), and too few rungs cost rebuilds: 128 rungs at 300 schools
# (186 MB) took 0.2–0.4 s of a 0.9 s solve, while 16 (and 7 at 1,000 schools) made the road
# engine's solves 2–2.5× slower (250,000 cells × 250 schools by road: CPU 10.0 s with 128
# rungs, 10.6 s with 64, 18.4 s with 16)
LADDER_BYTES = 512e6
LADDER_MIN = 2


@nb.njit(cache=True, nogil=True)
def ladder_size(m):
    """Realisers kept per arc for m schools: ``LADDER``, or fewer so that the ladders
    (16 bytes per entry on (m + 1)² arcs) stay within ``LADDER_BYTES`` (never below
    ``LADDER_MIN``)."""
    per_rung = 16.0 * (m + 1) * (m + 1)
    k = int(LADDER_BYTES // per_rung) if per_rung > 0 else LADDER
    return max(LADDER_MIN, min(LADDER, k))


def solver_workspace(m: int) -> tuple[np.ndarray, ...]:
    """Workspace for :func:`ssp_transport` with m schools, to be shared by every solve of one
    problem size: the pool of arc ladders (keys, from-slots and to-slots, ``ladder_size(m)``
    rungs each, 16 bytes a rung, one row per arc in use: only the rows a solve hands out are
    ever touched), each arc's row in the pool and the rows handed out, the arc tables (arc
    cost, realising slots, neighbour lists, ladder counts and bounds: 49 bytes per arc) and
    the search heap (16 bytes per entry, (m + 2)(m + 3) + 8 entries). Every solve sets them up
    afresh; sharing them means their pages are faulted in once, not at every solve."""
    rungs = ladder_size(m)
    arcs = (m + 1, m + 1)
    pool = (m + 1) * (m + 1)
    heap = (m + 2) * (m + 3) + 8
    return (np.empty((pool, rungs)), np.empty((pool, rungs), np.int32),
            np.empty((pool, rungs), np.int32), np.empty(arcs, np.int64), np.zeros(1, np.int64),
            np.empty(arcs), np.empty(arcs, np.int64), np.empty(arcs, np.int64),
            np.empty(arcs, np.int64), np.empty(arcs, np.int64), np.empty(arcs),
            np.empty(arcs, np.bool_), np.empty(heap), np.empty(heap, np.int64))


@nb.njit(cache=True, nogil=True)
def _is_deficit(a, m, fwd, load, t_excess, eps):
    """Node a (a school, U = m or T = m + 1) can take flow: a school forwarding more than it
    holds, or T short of the supply."""
    if a < m:
        return fwd[a] > load[a] + eps
    return a == m + 1 and t_excess < -eps


@nb.njit(cache=True, nogil=True)
def _heap_push(keys, vals, size, key, val):
    i = size
    keys[i] = key
    vals[i] = val
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= keys[i]:
            break
        keys[parent], keys[i] = keys[i], keys[parent]
        vals[parent], vals[i] = vals[i], vals[parent]
        i = parent
    return size + 1


@nb.njit(cache=True, nogil=True)
def _heap_pop(keys, vals, size):
    key = keys[0]
    val = vals[0]
    size -= 1
    keys[0] = keys[size]
    vals[0] = vals[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and keys[left + 1] < keys[left]:
            child = left + 1
        if keys[i] <= keys[child]:
            break
        keys[i], keys[child] = keys[child], keys[i]
        vals[i], vals[child] = vals[child], vals[i]
        i = child
    return key, val, size


@nb.njit(cache=True, nogil=True)
def _insert(row, k, key, s_from, s_to, arc, arc_from, arc_to, nbr, n_nbr, lk, lf, lt, lslot,
            lcount, ln, lbound, innbr, fresh):
    """Offer a move row → k of cost ``key`` (realised by slot ``s_from`` → ``s_to``) to the
    arc's ladder: its cheapest realisers (``lk.shape[1]`` of them), cheapest first (the arc
    itself). An arc's ladder is row ``lslot[row, k]`` of the pool ``lk, lf, lt``, handed out
    in the order arcs are first offered a realiser (``lcount[0]``: rows handed out so far), so
    the pages a solve touches are as many as the arcs it uses, not all (m + 1)² arcs' rows.

    ``lbound[row, k]`` is the cheapest key *not* kept (inf: every realiser is kept). A key at or
    above it is only remembered in the bound. ``fresh``: the row is being rebuilt, so the slot
    cannot be on the ladder already (otherwise a returning cell is not kept twice).
    """
    n = ln[row, k]
    rungs = lk.shape[1]
    if key >= lbound[row, k]:
        return
    sl = lslot[row, k]
    if sl < 0:  # the arc's first realiser this solve: it gets the next ladder of the pool
        sl = lcount[0]
        lslot[row, k] = sl
        lcount[0] = sl + 1
    if n == rungs and key >= lk[sl, n - 1]:
        lbound[row, k] = key
        return
    if not fresh:
        for t in range(n):
            if lf[sl, t] == s_from:
                return
    if n == rungs:  # the dearest realiser drops off; the bound remembers it
        n -= 1
        lbound[row, k] = lk[sl, n]
    pos = n
    while pos > 0 and lk[sl, pos - 1] > key:
        lk[sl, pos] = lk[sl, pos - 1]
        lf[sl, pos] = lf[sl, pos - 1]
        lt[sl, pos] = lt[sl, pos - 1]
        pos -= 1
    lk[sl, pos] = key
    lf[sl, pos] = s_from
    lt[sl, pos] = s_to
    ln[row, k] = n + 1
    if pos == 0:
        if not innbr[row, k]:
            innbr[row, k] = True
            nbr[row, n_nbr[row]] = k
            n_nbr[row] += 1
        arc[row, k] = key
        arc_from[row, k] = s_from
        arc_to[row, k] = s_to


@nb.njit(cache=True, nogil=True)
def _offer(row, i, s_from, base, indptr, school, cost, unserved_cost, m, arc, arc_from, arc_to,
           nbr, n_nbr, lk, lf, lt, lslot, lcount, ln, lbound, innbr, fresh):
    """Cell i (at node ``row``; slot ``s_from`` or −1 − i when unserved) offers its moves."""
    for s2 in range(indptr[i], indptr[i + 1]):
        k = school[s2]
        if k == row:
            continue
        _insert(row, k, cost[s2] - base, s_from, s2, arc, arc_from, arc_to, nbr, n_nbr, lk, lf,
                lt, lslot, lcount, ln, lbound, innbr, fresh)
    if row < m:
        _insert(row, m, unserved_cost[i] - base, s_from, np.int64(-1), arc, arc_from, arc_to, nbr,
                n_nbr, lk, lf, lt, lslot, lcount, ln, lbound, innbr, fresh)


@nb.njit(cache=True, nogil=True)
def _depart(a, src, flow, unserved, m, eps, arc, arc_from, arc_to, nbr, n_nbr, lk, lf, lt, lslot,
            lcount, ln, lbound):
    """Slot ``src`` (a cell) has left node a: every arc it realised passes to the next realiser
    on its ladder still at a. True when a ladder ran out while realisers were not kept: then the
    row must be rebuilt from the cells at a."""
    for t in range(n_nbr[a]):
        b = nbr[a, t]
        if arc_from[a, b] != src:
            continue
        sl = lslot[a, b]
        n = ln[a, b]
        first = 0
        while first < n:
            f = lf[sl, first]
            if (a < m and flow[f] > eps) or (a == m and unserved[-1 - f] > eps):
                break
            first += 1
        if first == n:
            ln[a, b] = 0
            arc[a, b] = INF
            arc_from[a, b] = -1
            if lbound[a, b] < INF:
                return True
            continue
        for q in range(first, n):
            lk[sl, q - first] = lk[sl, q]
            lf[sl, q - first] = lf[sl, q]
            lt[sl, q - first] = lt[sl, q]
        ln[a, b] = n - first
        arc[a, b] = lk[sl, 0]
        arc_from[a, b] = lf[sl, 0]
        arc_to[a, b] = lt[sl, 0]
    return False


@nb.njit(cache=True, nogil=True)
def _push_list(node, item, head, nxt, item_at, used):
    if used == nxt.shape[0]:
        grown = np.empty(2 * used, np.int64)
        grown[:used] = nxt
        nxt = grown
        grown2 = np.empty(2 * used, np.int64)
        grown2[:used] = item_at
        item_at = grown2
    nxt[used] = head[node]
    item_at[used] = item
    head[node] = used
    return nxt, item_at, used + 1


@nb.njit(cache=True, nogil=True)
def _rebuild(a, flow, unserved, cell_of, indptr, school, cost, unserved_cost, m, arc, arc_from,
             arc_to, nbr, n_nbr, head, nxt, item_at, used, listed, listed_u, eps, lk, lf, lt,
             lslot, lcount, ln, lbound, innbr):
    """Rebuild the arcs out of node a (a school, or U = m) and their ladders from the cells now
    there."""
    for t in range(n_nbr[a]):
        b = nbr[a, t]
        arc[a, b] = INF
        arc_from[a, b] = -1
        ln[a, b] = 0
        lbound[a, b] = INF
        innbr[a, b] = False
    n_nbr[a] = 0
    prev = -1
    e = head[a]
    while e != -1:
        it = item_at[e]
        if (a < m and flow[it] <= eps) or (a == m and unserved[it] <= eps):
            if a < m:
                listed[it] = False
            else:
                listed_u[it] = False
            if prev == -1:
                head[a] = nxt[e]
            else:
                nxt[prev] = nxt[e]
            e = nxt[e]
            continue
        if a < m:
            _offer(a, cell_of[it], it, cost[it], indptr, school, cost, unserved_cost, m, arc,
                   arc_from, arc_to, nbr, n_nbr, lk, lf, lt, lslot, lcount, ln, lbound, innbr,
                   np.bool_(True))
        else:
            _offer(a, it, -1 - it, unserved_cost[it], indptr, school, cost, unserved_cost, m,
                   arc, arc_from, arc_to, nbr, n_nbr, lk, lf, lt, lslot, lcount, ln, lbound,
                   innbr, np.bool_(True))
        prev = e
        e = nxt[e]
    return nxt, item_at, used


@nb.njit(cache=True, nogil=True)
def _next_admissible(a, ptr, dead, on_path, dirty, potential, fwd, capacity, load,
                     unserved_total, m, arc, nbr, n_nbr, eps, atol):
    """Next node b with an arc a → b of zero reduced cost; −1: none; −2: row a is stale."""
    T = m + 1
    if a != T and dirty[a]:
        return -2
    pa = potential[a]
    if a == T:
        while ptr[T] <= m:
            b = ptr[T]
            if b < m:
                ok = fwd[b] > eps
            else:
                ok = unserved_total > eps
            if ok and not dead[b] and not on_path[b] and pa - potential[b] <= atol:
                return b
            ptr[T] += 1
        return -1
    while ptr[a] < n_nbr[a]:
        b = nbr[a, ptr[a]]
        if not dead[b] and not on_path[b] and arc[a, b] + pa - potential[b] <= atol:
            return b
        ptr[a] += 1
    if ptr[a] == n_nbr[a]:
        if (a == m or fwd[a] < capacity[a] - eps) and not dead[T] and not on_path[T] \
                and pa - potential[T] <= atol:
            return T
        ptr[a] += 1
    return -1


@nb.njit(cache=True, nogil=True)
def _augment(path, length, t_excess, flow, unserved, load, fwd, capacity, cell_of, indptr,
             school, cost, unserved_cost, m, arc, arc_from, arc_to, nbr, n_nbr, dirty, head,
             nxt, item_at, used, listed, listed_u, fwd_total, unserved_total, eps, lk, lf, lt,
             lslot, lcount, ln, lbound, innbr):
    """Push the bottleneck amount along path[0] (an excess node) → path[length − 1]."""
    U = m
    T = m + 1
    source = path[0]
    sink = path[length - 1]
    delta = (load[source] - fwd[source]) if source < m else t_excess
    room = (fwd[sink] - load[sink]) if sink < m else -t_excess
    if room < delta:
        delta = room
    for t in range(length - 1):
        a = path[t]
        b = path[t + 1]
        if a == T:
            cap_ab = fwd[b] if b < m else unserved_total
        elif b == T:
            cap_ab = INF if a == U else capacity[a] - fwd[a]
        elif a == U:
            cap_ab = unserved[-1 - arc_from[a, b]]
        else:
            cap_ab = flow[arc_from[a, b]]
        if cap_ab < delta:
            delta = cap_ab
    for t in range(length - 1):
        a = path[t]
        b = path[t + 1]
        if a == T:
            if b < m:
                fwd[b] -= delta
                fwd_total -= delta
            else:
                unserved_total -= delta  # fewer unserved students reach T through U
            continue
        if b == T:
            if a < m:
                fwd[a] += delta
                fwd_total += delta
            else:
                unserved_total += delta
            continue
        src = arc_from[a, b]
        dst = arc_to[a, b]
        # a remainder at most eps would stay behind unseen (rows hold only amounts above eps)
        # and could pile up into an excess no arc can move: it moves with the rest
        move = delta
        if a == U:
            i = -1 - src
            if unserved[i] - delta <= eps:
                move = unserved[i]
            unserved[i] -= move
            if unserved[i] <= eps and not dirty[U]:
                dirty[U] = _depart(U, src, flow, unserved, m, eps, arc, arc_from, arc_to, nbr,
                                   n_nbr, lk, lf, lt, lslot, lcount, ln, lbound)
        else:
            if flow[src] - delta <= eps:
                move = flow[src]
            flow[src] -= move
            load[a] -= move
            if flow[src] <= eps and not dirty[a]:
                dirty[a] = _depart(a, src, flow, unserved, m, eps, arc, arc_from, arc_to, nbr,
                                   n_nbr, lk, lf, lt, lslot, lcount, ln, lbound)
        if b == U:
            i = cell_of[src]
            was_empty = unserved[i] <= eps
            unserved[i] += move
            if not listed_u[i]:
                nxt, item_at, used = _push_list(U, i, head, nxt, item_at, used)
                listed_u[i] = True
                was_empty = True
            if was_empty and not dirty[U]:
                _offer(U, i, -1 - i, unserved_cost[i], indptr, school, cost, unserved_cost,
                       m, arc, arc_from, arc_to, nbr, n_nbr, lk, lf, lt, lslot, lcount, ln,
                       lbound, innbr, np.bool_(False))
        else:
            load[b] += move
            was_empty = flow[dst] <= eps
            flow[dst] += move
            if not listed[dst]:
                nxt, item_at, used = _push_list(b, dst, head, nxt, item_at, used)
                listed[dst] = True
                was_empty = True
            if was_empty and not dirty[b]:
                _offer(b, cell_of[dst], dst, cost[dst], indptr, school, cost, unserved_cost, m,
                       arc, arc_from, arc_to, nbr, n_nbr, lk, lf, lt, lslot, lcount, ln, lbound,
                       innbr, np.bool_(False))
    return nxt, item_at, used, fwd_total, unserved_total


@nb.njit(cache=True, nogil=True)
def ssp_transport(supply, capacity, indptr, school, cost, unserved_cost, price0, eps, flow0,
                  max_paths, lk, lf, lt, lslot, lcount, arc, arc_from, arc_to, nbr, ln, lbound,
                  innbr, hkeys, hvals):
    """Solve the capacitated transportation problem over candidate pairs.

    ``flow0`` (nnz,) is a previous solution over the same pairs (zeros on pairs added since, or
    an empty array for none): a cell whose previous flows are all still on its cheapest priced
    options keeps them, only the others start again at their cheapest option.

    The search rebuilds a school's arcs from the cells it holds, so cells starting at the same
    school are first made neighbours in memory (a stable counting sort by starting school); the
    answer is mapped back to the caller's order. Same arguments and returns as the core below.
    """
    n = supply.shape[0]
    m = capacity.shape[0]
    group = np.full(n, m, np.int64)  # m: no supply, or starts unserved
    for i in range(n):
        if supply[i] <= 0.0:
            continue
        best = unserved_cost[i]
        for s in range(indptr[i], indptr[i + 1]):
            c = cost[s] + price0[school[s]]
            if c < best:
                best = c
                group[i] = school[s]
    order = counting_order(group, m + 1)
    indptr2 = np.empty(n + 1, np.int64)
    indptr2[0] = 0
    for r in range(n):
        i = order[r]
        indptr2[r + 1] = indptr2[r] + indptr[i + 1] - indptr[i]
    nnz = school.shape[0]
    slot = np.empty(nnz, np.int64)  # slot in the caller's order of each reordered slot
    for r in range(n):
        i = order[r]
        for t in range(indptr[i + 1] - indptr[i]):
            slot[indptr2[r] + t] = indptr[i] + t
    flow0_r = flow0[slot] if flow0.shape[0] == nnz else np.zeros(0)
    flow2, unserved2, price, n_paths, status = _ssp_core(
        supply[order], capacity, indptr2, school[slot], cost[slot], unserved_cost[order],
        price0, eps, flow0_r, max_paths, lk, lf, lt, lslot, lcount, arc, arc_from, arc_to, nbr,
        ln, lbound, innbr, hkeys, hvals)
    flow = np.empty(nnz)
    flow[slot] = flow2
    unserved = np.empty(n)
    unserved[order] = unserved2
    return flow, unserved, price, n_paths, status


@nb.njit(cache=True, nogil=True)
def _ssp_core(supply, capacity, indptr, school, cost, unserved_cost, price0, eps, flow0,
              max_paths, lk, lf, lt, lslot, lcount, arc, arc_from, arc_to, nbr, ln, lbound, innbr,
              hkeys, hvals):
    """Solve the capacitated transportation problem over candidate pairs (in memory order).

    Parameters
    ----------
    supply : (n,) f8 — students per cell (≥ 0)
    capacity : (m,) f8 — seats per school (≥ 0)
    indptr : (n + 1,) i8 — CSR row pointers of candidate pairs
    school : (nnz,) i8 — school of each pair
    cost : (nnz,) f8 — cost per student of each pair (≥ 0)
    unserved_cost : (n,) f8 — cost per student left unserved (may be inf)
    price0 : (m,) f8 — estimated seat prices (≥ 0) to start from; zeros for a cold start
    eps : f8 — amounts below this are zero (0.5 for integer data)
    flow0 : (nnz,) f8 or (0,) — previous flows to keep where still cheapest (see the wrapper)
    max_paths : i8 — augmenting paths allowed before giving up with ``STATUS_PATH_LIMIT``
    lk, lf, lt, lslot, lcount, arc, arc_from, arc_to, nbr, ln, lbound, innbr, hkeys, hvals : the
        workspace from :func:`solver_workspace` (any contents: set up here; a caller solving many
        times reuses it, so its memory is faulted in once, not at every solve)

    Returns
    -------
    flow : (nnz,) f8, unserved : (n,) f8, price : (m,) f8, n_paths : i8, status : i8
    """
    n = supply.shape[0]
    m = capacity.shape[0]
    nnz = school.shape[0]
    U = m
    T = m + 1
    flow = np.zeros(nnz)
    unserved = np.zeros(n)
    load = np.zeros(m)
    fwd = np.zeros(m)
    potential = np.zeros(m + 2)
    for j in range(m):
        potential[j] = -price0[j]
    cell_of = np.empty(nnz, np.int64)
    for i in range(n):
        for s in range(indptr[i], indptr[i + 1]):
            cell_of[s] = i
    total = 0.0
    use_flow0 = flow0.shape[0] == nnz and nnz > 0
    for i in range(n):
        if supply[i] <= 0.0:
            continue
        total += supply[i]
        best = unserved_cost[i]
        best_s = -1
        for s in range(indptr[i], indptr[i + 1]):
            c = cost[s] + price0[school[s]]
            if c < best:
                best = c
                best_s = s
        if use_flow0:  # keep the previous flows if they are all still on cheapest options
            slack = 1e-9 * max(1.0, abs(best))
            kept = 0.0
            ok = True
            for s in range(indptr[i], indptr[i + 1]):
                if flow0[s] > 0.0:
                    kept += flow0[s]
                    if cost[s] + price0[school[s]] > best + slack:
                        ok = False
            rest = supply[i] - kept
            if rest < -eps or (rest > eps and unserved_cost[i] > best + slack):
                ok = False
            if ok:
                top = -1  # the largest kept flow takes any remainder at most eps
                for s in range(indptr[i], indptr[i + 1]):
                    if flow0[s] > 0.0 and (top == -1 or flow0[s] > flow0[top]):
                        top = s
                for s in range(indptr[i], indptr[i + 1]):
                    if flow0[s] > 0.0:
                        f = flow0[s]
                        if s == top and rest <= eps:
                            f += rest
                        flow[s] = f
                        load[school[s]] += f
                unserved[i] = rest if (rest > eps or top == -1) else 0.0
                continue
        if best_s >= 0:
            flow[best_s] = supply[i]
            load[school[best_s]] += supply[i]
        else:
            unserved[i] = supply[i]
    unserved_total = 0.0
    for i in range(n):
        unserved_total += unserved[i]
    fwd_total = 0.0
    for j in range(m):
        fwd[j] = capacity[j] if price0[j] > 0.0 else min(load[j], capacity[j])
        fwd_total += fwd[j]

    # per-node linked lists: slots holding students (schools), cells with unserved (U)
    pool = max(2 * n, 1024)
    head = np.full(m + 1, -1, np.int64)
    nxt = np.empty(pool, np.int64)
    item_at = np.empty(pool, np.int64)
    used = np.int64(0)
    listed = np.zeros(nnz, np.bool_)
    listed_u = np.zeros(n, np.bool_)
    for s in range(nnz):
        if flow[s] > 0.0:
            nxt, item_at, used = _push_list(school[s], s, head, nxt, item_at, used)
            listed[s] = True
    for i in range(n):
        if unserved[i] > 0.0:
            nxt, item_at, used = _push_list(U, i, head, nxt, item_at, used)
            listed_u[i] = True
    arc[:, :] = INF
    arc_from[:, :] = -1
    arc_to[:, :] = -1
    n_nbr = np.zeros(m + 1, np.int64)
    ln[:, :] = 0
    lbound[:, :] = INF
    lslot[:, :] = -1
    lcount[0] = 0
    innbr[:, :] = False
    dirty = np.ones(m + 1, np.bool_)

    dist = np.empty(m + 2)
    pred = np.empty(m + 2, np.int64)
    done = np.zeros(m + 2, np.bool_)
    path = np.empty(m + 2, np.int64)
    dead = np.zeros(m + 2, np.bool_)
    on_path = np.zeros(m + 2, np.bool_)
    ptr = np.zeros(m + 2, np.int64)
    atol = 1e-9  # reduced costs this small count as zero (cost units)
    # from estimated prices few paths are needed, each search prices the whole graph and all
    # its shortest paths are used; from a cold start, one path per (early-stopped) search
    warm = False
    for j in range(m):
        if price0[j] > 0.0:
            warm = True
    n_paths = 0

    while True:
        if n_paths >= max_paths:
            return flow, unserved, np.zeros(m), n_paths, STATUS_PATH_LIMIT
        t_excess = fwd_total + unserved_total - total  # > 0: T has excess; < 0: deficit
        # excesses and deficits cancel exactly (Σ_j (load_j − fwd_j) + t_excess = 0), so an
        # excess with no deficit anywhere is rounding drift of the running sums (seen: 8.8e-8
        # students on one school, eps 8.8e-8): the flows are done
        n_deficit = 0
        for v in range(m + 2):
            if _is_deficit(v, m, fwd, load, t_excess, eps):
                n_deficit += 1
        if n_deficit == 0:
            break
        for v in range(m + 2):
            dist[v] = INF
            done[v] = False
        size = np.int64(0)
        for j in range(m):
            if load[j] > fwd[j] + eps:
                dist[j] = 0.0
                pred[j] = -1
                size = _heap_push(hkeys, hvals, size, 0.0, j)
        if t_excess > eps:
            dist[T] = 0.0
            pred[T] = -1
            size = _heap_push(hkeys, hvals, size, 0.0, T)
        if size == 0:
            break
        sink = -1
        reach = 0.0
        while size > 0:
            d, a, size = _heap_pop(hkeys, hvals, size)
            if done[a] or d > dist[a]:
                continue
            done[a] = True
            reach = d
            if _is_deficit(a, m, fwd, load, t_excess, eps):
                if sink == -1:
                    sink = a  # the nearest deficit
                    if not warm:
                        break  # cold start: one path per search
                # warm start: the search goes on to price every deficit (many paths per
                # search); a node farther than the last one lies on no shortest path to any
                n_deficit -= 1
                if n_deficit == 0:
                    break
            pa = potential[a]
            if a == T:
                for j in range(m):
                    if fwd[j] > eps and not done[j]:
                        r = pa - potential[j]
                        if r < 0.0:
                            r = 0.0
                        if d + r < dist[j]:
                            dist[j] = d + r
                            pred[j] = T
                            size = _heap_push(hkeys, hvals, size, d + r, j)
                if unserved_total > eps and not done[U]:
                    r = pa - potential[U]
                    if r < 0.0:
                        r = 0.0
                    if d + r < dist[U]:
                        dist[U] = d + r
                        pred[U] = T
                        size = _heap_push(hkeys, hvals, size, d + r, U)
                continue
            if dirty[a]:  # rebuild the arcs out of a from the cells now at a
                nxt, item_at, used = _rebuild(a, flow, unserved, cell_of, indptr, school, cost,
                                              unserved_cost, m, arc, arc_from, arc_to, nbr,
                                              n_nbr, head, nxt, item_at, used, listed,
                                              listed_u, eps, lk, lf, lt, lslot, lcount, ln,
                                              lbound, innbr)
                dirty[a] = False
            for t in range(n_nbr[a]):
                b = nbr[a, t]
                if done[b]:
                    continue
                r = arc[a, b] + pa - potential[b]
                if r < 0.0:
                    r = 0.0
                if d + r < dist[b]:
                    dist[b] = d + r
                    pred[b] = a
                    size = _heap_push(hkeys, hvals, size, d + r, b)
            # free arcs to T: a school with room to forward, or U
            if not done[T] and (a == U or fwd[a] < capacity[a] - eps):
                r = pa - potential[T]
                if r < 0.0:
                    r = 0.0
                if d + r < dist[T]:
                    dist[T] = d + r
                    pred[T] = a
                    size = _heap_push(hkeys, hvals, size, d + r, T)
        if sink == -1:
            return flow, unserved, np.zeros(m), n_paths, STATUS_NO_PATH
        for v in range(m + 2):
            potential[v] += dist[v] if dist[v] < reach else reach
        # every shortest path now has zero reduced cost: augment along as many as there are
        n_found = 0
        for v in range(m + 2):
            dead[v] = not warm  # cold: no admissible search, the tree path below
            on_path[v] = False
            ptr[v] = 0
        while True:
            t_excess = fwd_total + unserved_total - total
            src = -1
            for j in range(m):
                if load[j] > fwd[j] + eps and not dead[j]:
                    src = j
                    break
            if src == -1 and t_excess > eps and not dead[T]:
                src = T
            if src == -1:
                break
            path[0] = src
            on_path[src] = True
            length = 1
            found = False
            while length > 0:
                a = path[length - 1]
                if _is_deficit(a, m, fwd, load, t_excess, eps):
                    found = True
                    break
                b = _next_admissible(a, ptr, dead, on_path, dirty, potential, fwd, capacity,
                                     load, unserved_total, m, arc, nbr, n_nbr, eps, atol)
                if b == -2:  # row a is stale: rebuild it first
                    nxt, item_at, used = _rebuild(a, flow, unserved, cell_of, indptr, school,
                                                  cost, unserved_cost, m, arc, arc_from,
                                                  arc_to, nbr, n_nbr, head, nxt, item_at,
                                                  used, listed, listed_u, eps, lk, lf, lt, lslot,
                                                  lcount, ln, lbound, innbr)
                    dirty[a] = False
                    ptr[a] = 0
                    continue
                if b == -1:
                    dead[a] = True
                    on_path[a] = False
                    length -= 1
                    continue
                path[length] = b
                on_path[b] = True
                length += 1
            for t in range(length):
                on_path[path[t]] = False
            if not found:
                continue
            nxt, item_at, used, fwd_total, unserved_total = _augment(
                path, length, t_excess, flow, unserved, load, fwd, capacity, cell_of, indptr,
                school, cost, unserved_cost, m, arc, arc_from, arc_to, nbr, n_nbr, dirty, head,
                nxt, item_at, used, listed, listed_u, fwd_total, unserved_total, eps, lk, lf, lt,
                lslot, lcount,
                ln, lbound, innbr)
            n_paths += 1
            n_found += 1
            if n_paths >= max_paths:
                break
        if n_found > 0:
            continue
        # rounding hid the zero-cost arcs: follow the search tree to the nearest deficit
        length = 0
        v = sink
        while v != -1:
            path[length] = v
            length += 1
            v = pred[v]
        path[:length] = path[:length][::-1].copy()
        nxt, item_at, used, fwd_total, unserved_total = _augment(
            path, length, fwd_total + unserved_total - total, flow, unserved, load, fwd,
            capacity, cell_of, indptr, school, cost, unserved_cost, m, arc, arc_from, arc_to,
            nbr, n_nbr, dirty, head, nxt, item_at, used, listed, listed_u, fwd_total,
            unserved_total, eps, lk, lf, lt, lslot, lcount, ln, lbound, innbr)
        n_paths += 1
    price = np.empty(m)
    for j in range(m):
        price[j] = max(potential[T] - potential[j], 0.0)
    return flow, unserved, price, n_paths, STATUS_OK
