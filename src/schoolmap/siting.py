"""Old path of :mod:`schoolmap.planning.siting.models` (moved there; this name keeps working)."""

from schoolmap._compat import reexport
from schoolmap.planning.siting import models as _new

__all__ = reexport(globals(), _new)
