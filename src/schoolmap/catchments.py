"""Old path of :mod:`schoolmap.allocation.catchments` (moved there; this name keeps working)."""

from schoolmap._compat import reexport
from schoolmap.allocation import catchments as _new

__all__ = reexport(globals(), _new)
