"""Old path of :mod:`schoolmap.present.maps` (the maps moved there; this name keeps working)."""

from schoolmap.i18n import LAYER_NAMES, LEVEL_NAMES_ZH  # noqa: F401  (names, as before)
from schoolmap.present.maps import *  # noqa: F403
from schoolmap.present.maps import __all__  # noqa: F401
from schoolmap.present.maps.style import *  # noqa: F403  (colours and classes, as before)
