"""Old path of :mod:`schoolmap.demand.forecast` (moved there; this name keeps working)."""

from schoolmap.demand.forecast import *  # noqa: F403
from schoolmap.demand.forecast import __all__  # noqa: F401
