"""Old path of :mod:`schoolmap.planning.siting` (the planner and its settings moved there)."""

from schoolmap.planning.siting.planner import SitingPlan, site_new_schools
from schoolmap.planning.siting.settings import DEFAULT_REACH_M, SitingSettings

__all__ = ["DEFAULT_REACH_M", "SitingPlan", "SitingSettings", "site_new_schools"]
