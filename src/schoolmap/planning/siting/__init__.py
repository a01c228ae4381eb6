"""Where new schools go: the location models on a cost matrix (the array door,
:mod:`~schoolmap.planning.siting.models`) and the district planner that sizes and times new
schools from the forecast (:func:`~schoolmap.planning.siting.planner.site_new_schools`); HiGHS
sits behind :mod:`schoolmap.highs`."""

from schoolmap.planning.siting.models import SitingResult, cflp, lscp, mclp, p_center, p_median
from schoolmap.planning.siting.planner import SitingPlan, site_new_schools
from schoolmap.planning.siting.settings import DEFAULT_REACH_M, SitingSettings

__all__ = ["DEFAULT_REACH_M", "SitingPlan", "SitingResult", "SitingSettings", "cflp", "lscp",
           "mclp", "p_center", "p_median", "site_new_schools"]
