"""Old path of :mod:`schoolmap.planning.simulation` (moved there; this name keeps working)."""

from schoolmap._compat import reexport
from schoolmap.planning import simulation as _new

__all__ = reexport(globals(), _new)
