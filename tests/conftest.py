"""Shared fixtures: the hand-checkable tiny town, data paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from schoolmap.testing import tiny_town, tiny_town_layers

ROOT = Path(__file__).resolve().parents[1]
DEMO_GPKG = ROOT / "data" / "geo" / "demo.gpkg"
DEMO_SCENARIO = ROOT / "scenarios" / "demo.toml"


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
