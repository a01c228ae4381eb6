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
