"""Old path of :mod:`schoolmap.demand.backtest` (with :mod:`schoolmap.present.backtest` and
:mod:`schoolmap.run.backtest`; moved there, this name keeps working)."""

from schoolmap._compat import reexport
from schoolmap.demand.backtest import evaluate as _evaluate
from schoolmap.demand.backtest import history as _history
from schoolmap.present import backtest as _page
from schoolmap.run import backtest as _files

__all__ = reexport(globals(), _history, _evaluate, _page, _files)
