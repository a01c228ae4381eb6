"""Seat prices by an ε-scaled auction: a cheap estimate to start the exact solve from (numba only).

The exact engine solves its coarsest level without any price estimate, and a cold start costs
one shortest-path search per augmenting path — thousands of searches over all schools. This
kernel finds approximate seat prices first, so that level starts warm like every finer one.

Auction (min-cost form). Every cell with students left bids for its best priced school
j₁ = argmin_j (c_ij + v_j): it offers to pay b = w₂ − c_ij₁ + ε, where w₂ is its second-best
priced option (another school, or its unserved cost p_i). A school holds bids up to its seats;
when over, it sends back the lowest bids (partly, if need be) and its price becomes the lowest
bid it holds. A cell whose best priced school costs at least p_i stays unserved. Prices only
rise; every bid raises one by at least ε, so each phase ends. ε-scaling: phases with ε divided
by ``factor`` each time, prices kept, bids reset.

The result is only a *start*: the exact solver and its all-pairs certificate decide the answer,
so an inaccurate price costs time, never correctness. ``ok`` is False when the bid budget ran
out (the caller then starts cold).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def auction_prices(near, near_cost, supply, capacity, unserved_cost, eps_start, eps_end, factor,
                   max_bids, drop=1.0):
    """Approximate seat prices for the transportation problem over the pairs ``near``.

    Parameters
    ----------
    near : (n, k) i8 — the schools each cell may bid for (its k nearest; −1: none)
    near_cost : (n, k) f8 — their costs (metres; inf: not allowed)
    supply : (n,) f8 — students per cell · capacity : (m,) f8 — seats per school
    unserved_cost : (n,) f8 — finite cost per unserved student (metres)
    eps_start, eps_end : f8 — first and last bid increment (metres); ``factor`` (> 1) between
    max_bids : i8 — bids allowed over all phases

    Returns
    -------
    price : (m,) f8 — seat prices (metres, ≥ 0) · bids : i8 — bids made · ok : bool
    """
    n, k = near.shape
    m = capacity.shape[0]
    price = np.zeros(m)
    pool = 4 * n + 2 * m + 16  # held bids (a cell's bids at one school are one); ok=False if short
    bid_cell = np.empty(pool, np.int64)
    bid_amount = np.empty(pool)
    bid_price = np.empty(pool)
    bid_next = np.empty(pool, np.int64)
    spare = np.empty(pool, np.int64)
    head = np.empty(m, np.int64)
    held = np.empty(m)
    left = np.empty(n)
    queue = np.empty(n, np.int64)
    queued = np.empty(n, np.bool_)
    tiny = 1e-9
    bids = 0
    eps = eps_start
    while True:
        head[:] = -1
        held[:] = 0.0
        n_spare = pool
        for t in range(pool):
            spare[t] = pool - 1 - t
        q_head = 0
        q_len = 0
        for i in range(n):
            left[i] = supply[i]
            queued[i] = supply[i] > 0.0
            if queued[i]:
                queue[q_len] = i
                q_len += 1
        while q_len > 0:
            i = queue[q_head]
            q_head = (q_head + 1) % n
            q_len -= 1
            queued[i] = False
            if left[i] <= tiny:
                continue
            bids += 1
            if bids > max_bids:
                return price, bids, False
            w1 = np.inf
            w2 = np.inf
            j1 = -1
            c1 = np.inf
            for t in range(k):
                j = near[i, t]
                if j < 0 or capacity[j] <= 0.0:
                    continue
                val = near_cost[i, t] + price[j]
                if val < w1:
                    w2 = w1
                    w1 = val
                    j1 = j
                    c1 = near_cost[i, t]
                elif val < w2:
                    w2 = val
            if j1 == -1 or unserved_cost[i] <= w1:
                left[i] = 0.0  # unserved: no school is worth its price to this cell
                continue
            if unserved_cost[i] < w2:
                w2 = unserved_cost[i]
            offer = w2 - c1 + eps
            b = head[j1]  # the cell's bid already held here takes the rest at the new offer
            while b != -1 and bid_cell[b] != i:
                b = bid_next[b]
            if b == -1:
                if n_spare == 0:
                    return price, bids, False
                n_spare -= 1
                b = spare[n_spare]
                bid_cell[b] = i
                bid_amount[b] = 0.0
                bid_next[b] = head[j1]
                head[j1] = b
            bid_amount[b] += left[i]
            bid_price[b] = offer
            held[j1] += left[i]
            left[i] = 0.0
            while held[j1] > capacity[j1] + tiny:  # send the lowest bids back
                low = -1
                low_prev = -1
                prev = -1
                b = head[j1]
                while b != -1:
                    if low == -1 or bid_price[b] < bid_price[low]:
                        low = b
                        low_prev = prev
                    prev = b
                    b = bid_next[b]
                back = min(held[j1] - capacity[j1], bid_amount[low])
                bid_amount[low] -= back
                held[j1] -= back
                c = bid_cell[low]
                left[c] += back
                if not queued[c]:
                    queue[(q_head + q_len) % n] = c
                    q_len += 1
                    queued[c] = True
                if bid_amount[low] <= tiny:
                    if low_prev == -1:
                        head[j1] = bid_next[low]
                    else:
                        bid_next[low_prev] = bid_next[low]
                    spare[n_spare] = low
                    n_spare += 1
            if held[j1] >= capacity[j1] - tiny:  # full: priced at its lowest bid
                lowest = np.inf
                b = head[j1]
                while b != -1:
                    if bid_price[b] < lowest:
                        lowest = bid_price[b]
                    b = bid_next[b]
                if lowest > price[j1]:
                    price[j1] = lowest
        if eps <= eps_end:
            break
        # a phase's prices may overshoot by up to its ε, and a school that cells then leave
        # for their unserved option would keep that price (prices only rise): lower every
        # price by the ε just used, so the next phase starts below the prices it will reach
        for j in range(m):
            price[j] = max(price[j] - drop * eps, 0.0)
        eps = max(eps / factor, eps_end)
    return price, bids, True
