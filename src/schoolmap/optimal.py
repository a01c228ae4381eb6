"""Old path of :mod:`schoolmap.allocation.optimal` (the exact engine moved there; this name keeps
working)."""

from schoolmap._compat import reexport
from schoolmap.allocation import optimal as _optimal

__all__ = reexport(globals(), _optimal)
