"""Old path of :mod:`schoolmap.run.scenario` (moved there; this name keeps working)."""

from schoolmap._compat import reexport
from schoolmap.run import scenario as _new

__all__ = reexport(globals(), _new)
