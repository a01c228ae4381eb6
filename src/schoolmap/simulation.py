"""Old path of :mod:`schoolmap.planning.simulation` (moved there; this name keeps working)."""

from schoolmap.planning.simulation import *  # noqa: F403
from schoolmap.planning.simulation import __all__  # noqa: F401
