"""Old path of :mod:`schoolmap.planning.capacity` (moved there; this name keeps working)."""

from schoolmap.planning.capacity import *  # noqa: F403
from schoolmap.planning.capacity import __all__  # noqa: F401
