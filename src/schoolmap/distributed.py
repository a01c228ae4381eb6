"""Old path of :mod:`schoolmap.run.distributed` and :mod:`schoolmap.run.ensemble` (moved there;
this name keeps working)."""

from schoolmap._compat import reexport
from schoolmap.run import distributed as _distributed
from schoolmap.run import ensemble as _ensemble

__all__ = reexport(globals(), _distributed, _ensemble)
