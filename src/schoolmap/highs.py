"""HiGHS behind one function: :func:`milp` solves a (mixed-integer) linear programme quietly.

Ground floor, shared by every room that solves a MILP or LP exactly: the location models and
the planner's LP bound (:mod:`schoolmap.planning.siting`), catchment design."""

from __future__ import annotations

import os
import sys

import numpy as np
import scipy.sparse as sp

from schoolmap.errors import InfeasibleError

__all__ = ["DEFAULT_TIME_LIMIT_S", "load_highspy", "milp", "quiet_highs"]

#: Seconds any HiGHS solve may take when its caller gives no limit: no solve runs unbounded.
#: A solve stopped by a limit returns ``optimal`` False (the caller reports it or falls back).
DEFAULT_TIME_LIMIT_S = 600.0


def load_highspy():
    try:
        import highspy
    except ImportError:  # pragma: no cover - highspy is in the test extra
        raise ImportError("exact siting needs the HiGHS solver: pip install highspy "
                          "(or leave exact=False for the heuristic with its gap)") from None
    return highspy


def quiet_highs():
    """A HiGHS instance that prints nothing (its banner goes to the C-level stdout)."""
    highspy = load_highspy()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


def milp(c, a, row_lo, row_hi, col_lo, col_hi, integer, *, start=None, time_limit=None,
          relax=False, node_limit=None):
    """Solve min c·x, row_lo ≤ A x ≤ row_hi, col_lo ≤ x ≤ col_hi with HiGHS.

    ``time_limit`` (seconds) defaults to :data:`DEFAULT_TIME_LIMIT_S`, so every solve is
    bounded; ``node_limit`` (branch-and-bound nodes) bounds a MILP by work, so a solve that
    stops there gives the same answer on any machine. Returns (x, objective, dual bound, proven
    optimal): an LP stopped by its limit has
    ``optimal`` False and a NaN bound; a MILP, its best solution and dual bound so far.
    """
    highspy = load_highspy()
    h = quiet_highs()
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.setOptionValue("mip_abs_gap", 1e-7)
    h.setOptionValue("time_limit", float(DEFAULT_TIME_LIMIT_S if time_limit is None
                                         else time_limit))
    if node_limit is not None:
        h.setOptionValue("mip_max_nodes", int(node_limit))
    a = sp.csc_matrix(a)
    lp = highspy.HighsLp()
    lp.num_col_ = a.shape[1]
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
    lp.col_lower_ = np.asarray(col_lo, dtype=np.float64)
    lp.col_upper_ = np.asarray(col_hi, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lo, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_hi, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    if not relax:
        kinds = [highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger]
        lp.integrality_ = [kinds[int(b)] for b in integer]
    h.passModel(lp)
    if start is not None and not relax:
        sol = highspy.HighsSolution()
        sol.col_value = list(np.asarray(start, dtype=np.float64))
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        raise InfeasibleError("the siting problem has no feasible solution")
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    obj = float(info.objective_function_value)
    optimal = status == highspy.HighsModelStatus.kOptimal
    if relax:
        bound = obj if optimal else float("nan")
    else:
        bound = float(info.mip_dual_bound)
    if relax and status == highspy.HighsModelStatus.kTimeLimit:
        return x, float("nan"), float("nan"), False
    if len(x) != a.shape[1] or not np.isfinite(obj):
        raise InfeasibleError(f"HiGHS found no solution ({h.modelStatusToString(status)}); "
                              "raise time_limit")
    return x, obj, bound, bool(optimal)
