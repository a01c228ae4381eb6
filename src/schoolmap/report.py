"""Old path of :mod:`schoolmap.present.report` (moved there; this name keeps working)."""

from schoolmap._compat import reexport
from schoolmap.present import report as _new

__all__ = reexport(globals(), _new)
