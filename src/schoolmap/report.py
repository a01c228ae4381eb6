"""Old path of :mod:`schoolmap.present.report` (moved there; this name keeps working)."""

from schoolmap.present.report import *  # noqa: F403
from schoolmap.present.report import __all__  # noqa: F401
