"""Old path of :mod:`schoolmap.allocation.catchments` (moved there; this name keeps working)."""

from schoolmap.allocation.catchments import *  # noqa: F403
from schoolmap.allocation.catchments import __all__  # noqa: F401
