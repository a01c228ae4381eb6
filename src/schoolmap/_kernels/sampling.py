"""Random variates for the Monte Carlo kernels: hypergeometric in O(1) expected time.

Numba only; draws come from the calling thread's ``np.random`` stream (seed it first).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def log_factorials(n):
    """log k! for k = 0 … max(n, 255), shape (max(n, 255) + 1,) (a table for
    :func:`hypergeometric`; sums of logs, relative error below 1e-13)."""
    out = np.zeros(max(n, 255) + 1)
    for k in range(1, out.shape[0]):
        out[k] = out[k - 1] + np.log(k)
    return out


@nb.njit(cache=True, nogil=True)
def _logfact(k, table):
    """log k! from ``table`` (:func:`log_factorials`), beyond its end (k ≥ 256) by Stirling's
    series to 1/k³ (relative error below 1e-13)."""
    if k < table.shape[0]:
        return table[k]
    x = k + 1.0
    return ((x - 0.5) * np.log(x) - x + 0.9189385332046728 + 1.0 / (12.0 * x)
            - 1.0 / (360.0 * x * x * x))


@nb.njit(cache=True, nogil=True)
def hypergeometric(good, bad, sample, logfact):
    """Goods among ``sample`` drawn without replacement from ``good`` + ``bad`` (one variate,
    from the thread's ``np.random`` stream), in O(1) expected time.

    NumPy's (and numba's) ``hypergeometric`` draws one uniform per item sampled; here the
    smaller side (``sample`` or its complement) is drawn item by item when below 10, else by
    Stadlober's ratio-of-uniforms (HRUA; E. Stadlober, J. Comput. Appl. Math. 31, 1990), with
    the symmetries good ↔ bad and sample ↔ population − sample. ``logfact``: log k! table
    (:func:`log_factorials`, best up to the largest population; computed beyond it).
    """
    pop = good + bad
    if sample <= 0 or good <= 0:
        return np.int64(0)
    if bad <= 0:
        return np.int64(min(sample, good))
    if sample >= pop:
        return np.int64(good)
    lo = min(good, bad)
    hi = pop - lo
    m = min(sample, pop - sample)
    if m < 10:  # item by item: each item drawn is one of the `lo` side with its chance
        z = 0
        left_lo = lo
        left_pop = pop
        for _ in range(m):
            if np.random.random() * left_pop < left_lo:  # noqa: NPY002 (numba)
                z += 1
                left_lo -= 1
            left_pop -= 1
    else:
        p = lo / pop
        mode = np.int64(np.floor((m + 1.0) * (lo + 1.0) / (pop + 2.0)))
        mu = m * p + 0.5
        sd = np.sqrt((pop - m) * m * p * (1.0 - p) / (pop - 1.0) + 0.5)
        width = 1.7155277699214135 * sd + 0.8989161620588988
        top = min(min(m, lo) + 1.0, np.floor(mu + 16.0 * sd))
        f_mode = (_logfact(mode, logfact) + _logfact(lo - mode, logfact)
                  + _logfact(m - mode, logfact) + _logfact(hi - m + mode, logfact))
        while True:
            x = np.random.random()  # noqa: NPY002 (numba)
            y = np.random.random()  # noqa: NPY002 (numba)
            w = mu + width * (y - 0.5) / x
            if w < 0.0 or w >= top:
                continue
            z = np.int64(w)
            t = f_mode - (_logfact(z, logfact) + _logfact(lo - z, logfact)
                          + _logfact(m - z, logfact) + _logfact(hi - m + z, logfact))
            if x * (4.0 - x) - 3.0 <= t:
                break
            if x * (x - t) >= 1.0:
                continue
            if 2.0 * np.log(x) <= t:
                break
    if good > bad:  # z counted the smaller side
        z = m - z
    if m < sample:  # z counted the complement of the sample
        z = good - z
    return np.int64(z)


@nb.njit(cache=True, nogil=True)
def hypergeometric_many(good, bad, sample, n, seed):
    """``n`` variates of :func:`hypergeometric` after seeding the stream (tests)."""
    np.random.seed(seed)  # noqa: NPY002 (numba)
    table = log_factorials(good + bad)
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = hypergeometric(good, bad, sample, table)
    return out


@nb.njit(cache=True, nogil=True)
def hypergeometric_split(counts, idx, k, sample, out, logfact):
    """Draw ``sample`` of the students ``counts[idx[:k]]`` without replacement (multivariate
    hypergeometric): ``out[idx[q]]`` the number drawn of each."""
    pool = 0
    for q in range(k):
        pool += counts[idx[q]]
    for q in range(k):
        c = counts[idx[q]]
        if sample == 0 or c == 0:
            x = 0
        elif sample >= pool:
            x = c
        else:
            x = hypergeometric(c, pool - c, sample, logfact)
        out[idx[q]] = x
        pool -= c
        sample -= x
