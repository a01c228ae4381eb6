"""Who goes to which school: the three allocation methods, their one door, proposed zones.

- :mod:`~schoolmap.allocation.methods`: :class:`Allocation` and the array-level methods
  (``catchment``, ``nearest``; ``optimal`` over the exact engine in :mod:`~.optimal`);
- :mod:`~schoolmap.allocation.dispatch`: :func:`allocate`, a district's level by method;
- :mod:`~schoolmap.allocation.catchments`: proposed catchments, cells dissolved by assigned
  school;
- :mod:`~schoolmap.allocation.design` / :mod:`~schoolmap.allocation.zoning`: catchment design
  (划片调整) — contiguous zones within seats, the array door and the district door.
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
from schoolmap.allocation.zoning import (
    CatchmentDesign,
    ZoneDesign,
    cell_adjacency,
    design_catchments,
    design_zones,
)
from schoolmap.io.zones import zone_of_points

__all__ = [
    "METHODS",
    "Allocation",
    "CatchmentDesign",
    "TransportResult",
    "ZoneDesign",
    "allocate",
    "allocate_catchment",
    "allocate_nearest",
    "allocate_optimal",
    "assign",
    "cell_adjacency",
    "design_catchments",
    "design_zones",
    "district_xy",
    "level_zones",
    "school_points",
    "transport",
    "zone_of_points",
]
