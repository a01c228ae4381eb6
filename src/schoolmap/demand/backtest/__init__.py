"""Backtest of enrolment forecasts on a real history (:mod:`~.evaluate`: the methods and their
accuracy; :mod:`~.history`: reading the counts and births). The page is drawn by
:mod:`schoolmap.present.backtest`, the files and subcommand are :mod:`schoolmap.run.backtest`."""

from schoolmap.demand.backtest.evaluate import (
    BACKTEST_FILES,
    LEVELS,
    METHODS,
    Z90,
    Backtest,
    SchoolmapSettings,
    backtest,
    summarise_backtest,
)
from schoolmap.demand.backtest.history import (
    DISTRICT,
    History,
    births_from_cells,
    build_history,
    grade_label,
    read_births,
    read_enrolment_history,
)

__all__ = [
    "BACKTEST_FILES",
    "Backtest",
    "DISTRICT",
    "History",
    "LEVELS",
    "METHODS",
    "SchoolmapSettings",
    "Z90",
    "backtest",
    "births_from_cells",
    "build_history",
    "grade_label",
    "read_births",
    "read_enrolment_history",
    "summarise_backtest",
]
