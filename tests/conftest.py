"""Shared fixtures: the hand-checkable tiny town, data paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from schoolmap.testing import tiny_town, tiny_town_layers

ROOT = Path(__file__).resolve().parents[1]
DEMO_GPKG = ROOT / "data" / "geo" / "demo.gpkg"
DEMO_SCENARIO = ROOT / "scenarios" / "demo.toml"
ORLIB_CAP = Path(__file__).parent / "data" / "orlib_cap"


def read_cap(name: str):
    """An OR-Library capacitated facility location instance and its published optimum.

    Returns ``capacity`` (m,), ``fixed`` cost (m,), ``demand`` (n,), ``cost`` (n, m) of serving
    *all* of a customer's demand from each site (as in the file), the optimal ``sites`` of the
    customers (0-based) and the optimal total cost.
    """
    tokens = (ORLIB_CAP / f"{name}.txt").read_text().split()
    m, n = int(tokens[0]), int(tokens[1])
    pos = 2
    capacity, fixed = np.zeros(m), np.zeros(m)
    for j in range(m):
        capacity[j], fixed[j] = float(tokens[pos]), float(tokens[pos + 1])
        pos += 2
    demand, cost = np.zeros(n), np.zeros((n, m))
    for i in range(n):
        demand[i] = float(tokens[pos])
        cost[i] = np.array(tokens[pos + 1:pos + 1 + m], dtype=float)
        pos += 1 + m
    opt = (ORLIB_CAP / f"{name}.txt.opt").read_text().split()
    return capacity, fixed, demand, cost, np.array(opt[:n], dtype=int), float(opt[n])


@pytest.fixture
def town():
    """The five-cell district of :func:`schoolmap.testing.tiny_town`."""
    return tiny_town()


@pytest.fixture
def town_layers():
    """Fresh, modifiable copies of the tiny town's layers."""
    return tiny_town_layers()


@pytest.fixture
def town_gpkg(tmp_path, town_layers):
    """The tiny town written as a GeoPackage; returns its path."""
    from schoolmap.outputs import write_gpkg

    path = tmp_path / "town.gpkg"
    write_gpkg(town_layers, path)
    return path
