"""Old path of :mod:`schoolmap.demand.forecast` (moved there; this name keeps working)."""

from schoolmap._compat import reexport
from schoolmap.demand import forecast as _new

__all__ = reexport(globals(), _new)
