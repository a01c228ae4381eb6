"""Old path of :mod:`schoolmap.run.outputs` (moved there; this name keeps working)."""

from schoolmap._compat import reexport
from schoolmap.run import outputs as _new

__all__ = reexport(globals(), _new)
