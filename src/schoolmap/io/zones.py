"""Zones and points: which zone holds a point, and the school ids a zone names."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["split_ids", "zone_of_points"]


def split_ids(value: object) -> list[str]:
    """School ids of a zone: ``"P03;P04"`` → ``["P03", "P04"]``; empty → ``[]``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [s.strip() for s in str(value).split(";") if s.strip()]


def zone_of_points(xy: np.ndarray, zones: gpd.GeoDataFrame) -> np.ndarray:
    """Row of the first zone containing each point (boundary counts), -1 for none.

    Parameters
    ----------
    xy : ndarray of shape (n_points, 2)
        Points (metres), in the zones' CRS.
    zones : GeoDataFrame
        Polygons.

    Returns
    -------
    ndarray of shape (n_points,), int64
    """
    out = np.full(len(xy), -1, dtype=np.int64)
    if len(zones) == 0 or len(xy) == 0:
        return out
    tree = shapely.STRtree(zones.geometry.array)
    pt_idx, zone_idx = tree.query(shapely.points(xy), predicate="intersects")
    # keep the smallest zone row per point
    first = np.full(len(xy), len(zones), dtype=np.int64)
    np.minimum.at(first, pt_idx, zone_idx.astype(np.int64))
    hit = first < len(zones)
    out[hit] = first[hit]
    return out
