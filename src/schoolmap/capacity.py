"""Old path of :mod:`schoolmap.planning.capacity` (moved there; this name keeps working)."""

from schoolmap._compat import reexport
from schoolmap.planning import capacity as _new

__all__ = reexport(globals(), _new)
