"""Tiny hand-checkable districts and assertion helpers, for schoolmap's tests and yours.

``tiny_town()`` is small enough to check every figure by hand (metres, EPSG:32651)::

    y
    150  K1 P1            J1                P2
     50  C1 C2       C5                 C3 C4
         0   100  ...  650  ... 800 ... 1050 1150   x (+ 500 000)

- cells C1, C2, C3, C4, C5: 100 m squares centred at x = 50, 150, 1050, 1150, 650; every single
  year of age 0–17 holds 10, 50, 5, 0 and 1 residents.
- primary P1 (x 100, 270 seats, 6 classes) zoned for x < 800 (zone ZA); P2 (x 1100, 540 seats,
  12 classes) zoned for x ≥ 800 (zone ZB). Junior J1 (x 600, 150 seats, 3 classes), one zone.
  Kindergarten K1 (x 100, y 100, 90 seats, 3 classes), not zoned.

So primary demand (ages 6–11) is 60, 300, 30, 0, 6 by cell: by catchment P1 gets 366 (61 per
grade in one class each: six 大班额 classes), P2 gets 30. C5 is 559 m from P1, beyond the 500 m
primary radius, and 461 m from P2, so the nearest method sends it to P2.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point, box

from schoolmap.io.district import District, district_from_frames

__all__ = ["assert_conserved", "tiny_town", "tiny_town_layers"]

X0, Y0 = 500_000.0, 3_500_000.0
CRS = "EPSG:32651"


def tiny_town_layers() -> dict[str, gpd.GeoDataFrame]:
    """The layers of :func:`tiny_town` as GeoDataFrames (to modify or write in tests)."""
    centres = {"C1": 50.0, "C2": 150.0, "C3": 1050.0, "C4": 1150.0, "C5": 650.0}
    per_age = {"C1": 10, "C2": 50, "C3": 5, "C4": 0, "C5": 1}
    rows = []
    for cid in centres:
        row = {"cell_id": cid, **{f"age_{a}": per_age[cid] for a in range(18)},
               "population": 100 * per_age[cid], "households": 35 * per_age[cid]}
        rows.append(row)
    cells = gpd.GeoDataFrame(
        pd.DataFrame(rows),
        geometry=[box(X0 + x - 50, Y0, X0 + x + 50, Y0 + 100) for x in centres.values()],
        crs=CRS,
    )
    schools = gpd.GeoDataFrame(
        {
            "school_id": ["P1", "P2", "J1", "K1"],
            "name": ["城东小学", "城西小学", "第一初级中学", "阳光幼儿园"],
            "level": ["primary", "primary", "junior", "kindergarten"],
            "seats": [270.0, 540.0, 150.0, 90.0],
            "classes": [6, 12, 3, 3],
            "sector": ["public", "public", "public", "puhui"],
            "open_year": [np.nan] * 4,
            "close_year": [np.nan] * 4,
        },
        geometry=[Point(X0 + 100, Y0 + 150), Point(X0 + 1100, Y0 + 150),
                  Point(X0 + 600, Y0 + 150), Point(X0 + 100, Y0 + 100)],
        crs=CRS,
    )
    zones = gpd.GeoDataFrame(
        {
            "zone_id": ["ZA", "ZB", "ZJ"],
            "level": ["primary", "primary", "junior"],
            "school_id": ["P1", "P2", "J1"],
            "name": ["East zone", "West zone", "Junior zone"],
        },
        geometry=[box(X0 - 100, Y0 - 100, X0 + 800, Y0 + 300),
                  box(X0 + 800, Y0 - 100, X0 + 1300, Y0 + 300),
                  box(X0 - 100, Y0 - 100, X0 + 1300, Y0 + 300)],
        crs=CRS,
    )
    return {"cells": cells, "schools": schools, "zones": zones}


def tiny_town() -> District:
    """A five-cell district whose every figure can be checked by hand (see module docs).

    >>> town = tiny_town()
    >>> town.n_cells, town.n_schools, town.crs.to_epsg()
    (5, 4, 32651)
    """
    return district_from_frames(tiny_town_layers(), source="tiny_town")


def assert_conserved(alloc: object, rtol: float = 1e-9) -> None:
    """Assert that every student of an allocation is assigned or reported unassigned.

    Parameters
    ----------
    alloc : schoolmap.allocation.Allocation
    rtol : float
        Relative tolerance on the district total.
    """
    demand = float(np.sum(alloc.demand_by_cell))  # type: ignore[attr-defined]
    assigned = float(np.sum(alloc.students))  # type: ignore[attr-defined]
    unassigned = float(np.sum(alloc.unassigned_by_cell))  # type: ignore[attr-defined]
    if abs(assigned + unassigned - demand) > rtol * max(demand, 1.0):
        raise AssertionError(f"students not conserved: assigned {assigned} + unassigned "
                             f"{unassigned} != demand {demand}")
    per_cell = np.bincount(alloc.cell, weights=alloc.students,  # type: ignore[attr-defined]
                           minlength=len(alloc.demand_by_cell))  # type: ignore[attr-defined]
    gap = per_cell + alloc.unassigned_by_cell - alloc.demand_by_cell  # type: ignore[attr-defined]
    if np.abs(gap).max(initial=0.0) > rtol * max(demand, 1.0):
        raise AssertionError(f"students not conserved in cell {int(np.abs(gap).argmax())}")
