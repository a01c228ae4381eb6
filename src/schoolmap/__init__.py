"""schoolmap: enrolment scenarios, seat shortfalls, catchments and school siting for planners.

The public API, in the order of a planning run::

    district = schoolmap.read_district("data/geo/demo.gpkg")
    scenario = schoolmap.load_scenario("scenarios/demo.toml")
    result = schoolmap.run_scenario(scenario, district)
    schoolmap.write_results(result, "out/demo")
"""

from importlib.metadata import PackageNotFoundError, version

from schoolmap.allocation import (
    Allocation,
    CatchmentDesign,
    allocate_catchment,
    allocate_nearest,
    design_catchments,
)

# through the old path, so the attribute schoolmap.backtest stays the function
from schoolmap.backtest import Backtest, backtest
from schoolmap.errors import InfeasibleError, SchoolmapError, ValidationError
from schoolmap.io.district import District, district_from_frames, read_district
from schoolmap.norms import Norms, default_norms
from schoolmap.planning.siting import site_new_schools
from schoolmap.run.outputs import write_results
from schoolmap.run.scenario import Scenario, ScenarioResult, load_scenario, run_scenario

try:
    __version__ = version("schoolmap")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"


__all__ = [
    "Allocation",
    "Backtest",
    "CatchmentDesign",
    "District",
    "InfeasibleError",
    "Norms",
    "Scenario",
    "ScenarioResult",
    "SchoolmapError",
    "ValidationError",
    "__version__",
    "allocate_catchment",
    "allocate_nearest",
    "backtest",
    "default_norms",
    "design_catchments",
    "district_from_frames",
    "load_scenario",
    "read_district",
    "run_scenario",
    "site_new_schools",
    "write_results",
]
