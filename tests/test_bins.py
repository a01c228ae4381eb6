"""The engine's streamed passes split over threads give the serial kernels' results, bit for bit."""

import numpy as np
import pytest

from schoolmap._kernels.candidates import bin_boxes, priced_candidates, priced_violations
from schoolmap.allocation import bins


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_threaded_passes_equal_the_serial_kernels(monkeypatch, threads):
    monkeypatch.setattr(bins, "MIN_CELLS_PER_TASK", 50)  # split even this small district
    rng = np.random.default_rng(5)
    n, m = 4000, 60
    cells = np.vstack([rng.normal(2500, 600, (n // 2, 2)), rng.uniform(0, 8000, (n // 2, 2))])
    schools = rng.uniform(0, 8000, (m, 2))
    price = np.where(rng.random(m) < 0.4, 0.0, rng.uniform(0, 2500, m))
    p = np.full(n, 6000.0)
    supply = rng.integers(0, 4, n).astype(float)
    bin_cells, bin_ptr, group_ptr = bins.grouped_cell_bins(cells, 16)
    box = bin_boxes(cells, bin_cells, bin_ptr)
    runs = bins._runs(bin_ptr, group_ptr, threads)
    assert (len(runs) == 1) == (threads == 1)  # split into runs of blocks (a dense core: fewer)
    assert runs[0][0] == 0 and runs[-1][1] == len(group_ptr) - 1
    want = priced_candidates(cells, bin_cells, bin_ptr, box, group_ptr, schools, price, p,
                             supply, 300.0, np.inf, 2)
    got = bins.streamed_candidates(cells, bin_cells, bin_ptr, box, group_ptr, schools, price, p,
                                   supply, 300.0, np.inf, 2, threads=threads)
    for a, b in zip(want, got, strict=True):
        assert np.array_equal(a, b)
    u = np.minimum(p, want[3] + rng.uniform(-100, 500, n))
    want = priced_violations(cells, bin_cells, bin_ptr, box, group_ptr, schools, price, u,
                             np.inf, 1e-6, 2, 4, supply, p)
    got = bins.streamed_violations(cells, bin_cells, bin_ptr, box, group_ptr, schools, price, u,
                                   np.inf, 1e-6, 2, 4, supply, p, threads=threads)
    assert len(want[0]) > 100  # the duals were raised: there are violations to find
    for a, b in zip(want, got, strict=True):
        assert np.array_equal(a, b)


def _lexsorted_bins(xy, per_bin, group_side=4):
    """The reference: cells sorted by (block, square, index) with a two-key lexsort."""
    n = len(xy)
    span = np.ptp(xy, axis=0)
    side = max(float(np.sqrt(max(span[0] * span[1], 1.0) * per_bin / n)), 1e-9)
    k = np.floor((xy - xy.min(axis=0)) / side).astype(np.int64)
    key = k[:, 0] * (int(k[:, 1].max()) + 1) + k[:, 1]
    g = k // group_side
    group = g[:, 0] * (int(g[:, 1].max()) + 1) + g[:, 1]
    order = np.lexsort((key, group))
    sk, sg = key[order], group[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    gb = sg[starts]
    return order, np.r_[starts, n], np.r_[np.flatnonzero(np.r_[True, gb[1:] != gb[:-1]]),
                                          len(starts)]


@pytest.mark.parametrize("shape", ["uniform", "clustered", "line", "point", "one"])
@pytest.mark.parametrize("per_bin", [1, 16, 32])
def test_counting_sort_bins_equal_a_lexsort(shape, per_bin):
    rng = np.random.default_rng(len(shape) * 100 + per_bin)
    xy = {"uniform": lambda: rng.uniform(0, 9000, (5000, 2)),
          "clustered": lambda: np.vstack([rng.normal(3000, 200, (4000, 2)),
                                          rng.uniform(0, 20000, (300, 2))]),
          "line": lambda: np.c_[rng.uniform(0, 5000, 3000), np.full(3000, 7.0)],
          "point": lambda: np.full((50, 2), 12.5),
          "one": lambda: np.array([[3.0, 4.0]])}[shape]()
    got = bins.grouped_cell_bins(xy, per_bin)
    want = _lexsorted_bins(xy, per_bin)
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("shape", ["uniform", "clustered", "line", "point"])
def test_square_keys_and_ids_equal_numpy(shape):
    """The grid keys, occupied squares and ascending ids of the price levels, as numpy gives
    them (bincount where the keys are few, np.unique where they are many)."""
    from schoolmap._kernels.bins import ascending_ids, square_keys

    rng = np.random.default_rng(len(shape))
    xy = {"uniform": lambda: rng.uniform(0, 9000, (5000, 2)),
          "clustered": lambda: np.vstack([rng.normal(3000, 50, (4000, 2)),
                                          rng.uniform(0, 90000, (50, 2))]),
          "line": lambda: np.c_[rng.uniform(0, 5000, 3000), np.full(3000, 7.0)],
          "point": lambda: np.full((50, 2), 12.5)}[shape]()
    counted = rng.random(len(xy)) < 0.7
    origin = xy.min(axis=0)
    for side in (1.0, 37.5, 400.0):
        k = np.floor((xy - origin) / side).astype(np.int64)
        want = k[:, 0] * (int(k[:, 1].max()) + 1) + k[:, 1]
        key, occupied = square_keys(xy, float(origin[0]), float(origin[1]), side, counted)
        assert np.array_equal(key, want)
        assert occupied == len(np.unique(want[counted]))
        assert np.array_equal(ascending_ids(key), np.unique(key, return_inverse=True)[1])
