"""GCJ-02 / BD-09 conversions and the local metric CRS."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolmap.io.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    utm_crs_for,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)


def test_reference_values():
    lon, lat = wgs84_to_gcj02(120.0, 40.0)
    assert abs(lon - 120.00567568355486) < 1e-12
    assert abs(lat - 40.0013047896019) < 1e-12
    blon, blat = gcj02_to_bd09(116.42703, 39.90245)
    assert abs(blon - 116.43351) < 1e-5 and abs(blat - 39.90851) < 1e-5


def test_round_trip_reference_point():
    lon, lat = gcj02_to_wgs84(120.00567568355486, 40.0013047896019)
    assert abs(lon - 120.0) < 1e-6 and abs(lat - 40.0) < 1e-6
    # far tighter than the 1e-6° asked for
    assert abs(lon - 120.0) < 1e-10 and abs(lat - 40.0) < 1e-10


@settings(max_examples=200, deadline=None)
@given(st.floats(73.0, 135.0), st.floats(18.0, 53.0))
def test_round_trips_across_china(lon, lat):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert abs(back[0] - lon) < 1e-9 and abs(back[1] - lat) < 1e-9
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert abs(back[0] - lon) < 1e-9 and abs(back[1] - lat) < 1e-9
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert abs(back[0] - lon) < 1e-9 and abs(back[1] - lat) < 1e-9


def test_offset_is_hundreds_of_metres_in_china_and_none_outside():
    lon, lat = wgs84_to_gcj02(np.array([120.3, -0.12]), np.array([31.5, 51.5]))
    dx_m = (lon[0] - 120.3) * 111_320 * np.cos(np.radians(31.5))
    dy_m = (lat[0] - 31.5) * 110_574
    assert 100 < np.hypot(dx_m, dy_m) < 1000
    assert lon[1] == -0.12 and lat[1] == 51.5  # London: GCJ-02 is the identity outside China


def test_utm_zone():
    assert utm_crs_for(120.3, 31.5).to_epsg() == 32651
    assert utm_crs_for(116.4, 39.9).to_epsg() == 32650
    assert utm_crs_for(-78.9, 36.0).to_epsg() == 32617  # Durham, NC
    assert utm_crs_for(151.2, -33.9).to_epsg() == 32756
