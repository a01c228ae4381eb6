"""Old path of :mod:`schoolmap.planning.siting.models` (moved there; this name keeps working)."""

from schoolmap.planning.siting.models import *  # noqa: F403
from schoolmap.planning.siting.models import __all__  # noqa: F401
