"""Who goes to which school: the three allocation methods, their one door, proposed zones.

- :mod:`~schoolmap.allocation.methods`: :class:`Allocation` and the array-level methods
  (``catchment``, ``nearest``; ``optimal`` over the exact engine in :mod:`~.optimal`);
- :mod:`~schoolmap.allocation.dispatch`: :func:`allocate`, a district's level by method;
- :mod:`~schoolmap.allocation.catchments`: proposed catchments, cells dissolved by assigned
  school.
"""

from schoolmap.allocation.dispatch import allocate, district_xy, level_zones, school_points
from schoolmap.allocation.methods import (
    METHODS,
    Allocation,
    TransportResult,
    allocate_catchment,
    allocate_nearest,
    allocate_optimal,
    assign,
    transport,
)
from schoolmap.io.zones import zone_of_points

__all__ = [
    "METHODS",
    "Allocation",
    "TransportResult",
    "allocate",
    "allocate_catchment",
    "allocate_nearest",
    "allocate_optimal",
    "assign",
    "district_xy",
    "level_zones",
    "school_points",
    "transport",
    "zone_of_points",
]
