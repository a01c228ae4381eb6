"""Old path of :mod:`schoolmap.present.maps` (the maps moved there; this name keeps working)."""

from schoolmap import i18n as _i18n
from schoolmap._compat import reexport
from schoolmap.present import maps as _maps
from schoolmap.present.maps import allocation as _allocation
from schoolmap.present.maps import base as _base
from schoolmap.present.maps import capacity as _capacity
from schoolmap.present.maps import result as _result
from schoolmap.present.maps import style as _style
from schoolmap.present.maps import timeline as _timeline

__all__ = reexport(globals(), _i18n, _style, _base, _capacity, _timeline, _allocation, _result,
                   _maps)
