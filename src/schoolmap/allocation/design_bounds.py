"""Proven lower bounds of a catchment design (the transport relaxation: cells may split, zones
need not be contiguous), with the duals clipped over every pair, and the design's seed."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from schoolmap._kernels.zoning import clip_duals_xy
from schoolmap.allocation.design_units import zone_pairs
from schoolmap.allocation.optimal import transport

__all__ = ["clip_cell_duals", "design_bounds"]


def design_bounds(inst: Any, costs: Any, units: np.ndarray, ctx: dict, cell_xy: Any,
                  school_xy: Any, groups: list) -> dict:
    """Proven lower bounds of a catchment design (cells may split, zones need not be
    contiguous) and its seed.

    ``inst`` is the design's prepared instance (:func:`schoolmap.allocation.design.design_zones`
    builds it: units, zones' seats ``hi``, move weight ``mw`` in metres, penalty ``pen`` in
    metres per unplaced pupil, candidate zones per unit); ``ctx`` its cell-level context.
    Returns ``travel_bound`` and ``bound`` (student-metres, the second with moves priced at
    ``mw``) and ``seed`` (each unit's zone at the transport's seat prices).
    """
    k = len(inst.root)
    n = len(units)
    s = ctx["students"]
    out = {"travel_bound": 0.0, "bound": 0.0, "seed": np.full(len(inst.students), -1, np.int64)}
    if k == 0:
        out["travel_bound"] = out["bound"] = inst.pen * s.sum()
        return out
    oz = ctx["official_zone"]
    # cell-level candidate pairs (units share their cells' candidates through the merge)
    ptr, zone, cost = ctx["cell_cand"]
    cell_of = np.repeat(np.arange(n), np.diff(ptr))
    moved = (oz[cell_of] >= 0) & (oz[cell_of] != zone)
    priced = cost + inst.mw * moved
    r = transport(s, inst.hi, sp.csr_matrix((priced, (cell_of, zone)), shape=(n, k)),
                  unserved_cost=inst.pen)
    # clip the cell duals over every pair: the bound holds whatever pairs the solve saw
    u_all = clip_cell_duals(r.cell_dual, r.seat_price, costs, ctx, cell_xy, school_xy, groups,
                            inst.mw, inst.pen)
    out["bound"] = float(s @ u_all - inst.hi @ r.seat_price)
    if inst.mw == 0:
        out["travel_bound"] = out["bound"]
    else:
        r0 = transport(s, inst.hi, sp.csr_matrix((cost, (cell_of, zone)), shape=(n, k)),
                       unserved_cost=inst.pen)
        u0 = clip_cell_duals(r0.cell_dual, r0.seat_price, costs, ctx, cell_xy, school_xy,
                             groups, 0.0, inst.pen)
        out["travel_bound"] = float(s @ u0 - inst.hi @ r0.seat_price)
    # seed: each unit to its cheapest zone at the transport's seat prices (priced travel +
    # the zone's seat price: the zones of an additively weighted Voronoi diagram, nearly
    # contiguous and within seats; a cell the flow splits goes whole to one of its zones)
    unit_of = np.repeat(np.arange(len(inst.students)), np.diff(inst.cand_ptr))
    moved_u = (inst.official[unit_of] >= 0) & (inst.official[unit_of] != inst.cand_zone)
    value = inst.cand_cost + inst.mw * moved_u + np.asarray(r.seat_price)[inst.cand_zone]
    order = np.lexsort((value, unit_of))
    first = order[np.r_[True, unit_of[order][1:] != unit_of[order][:-1]]] if len(order) \
        else order
    seed = np.full(len(inst.students), -1, np.int64)
    seed[unit_of[first]] = inst.cand_zone[first]
    out["seed"] = seed
    return out


def clip_cell_duals(u: np.ndarray, price: np.ndarray, costs: Any, ctx: dict, cell_xy: Any,
                    school_xy: Any, groups: list, mw: float, pen: float) -> np.ndarray:
    """Cell duals ``u`` clipped over every (cell, zone) pair — the cheapest priced zone by
    travel + ``mw`` for a move + the zone's seat price, and ``pen`` — so that the dual bound
    holds whatever pairs the solve saw (metres)."""
    oz = ctx["official_zone"]
    cap = np.full(len(u), pen)
    zone_of = np.asarray(ctx["zone_of"], dtype=np.int64)
    share = ctx.get("share")
    k = len(groups)
    if costs is None:
        # zones of one point in the kernel; a 多校划片 zone's seat-mean distance here
        sxy = np.asarray(school_xy, dtype=np.float64)
        cxy = np.asarray(cell_xy, dtype=np.float64)
        multi = [z for z, g in enumerate(groups) if len(g) > 1
                 and np.ptp(sxy[list(g)], axis=0).max() > 0]
        single = np.where(np.isin(zone_of, multi), -1, zone_of)
        best = clip_duals_xy(np.ascontiguousarray(u, dtype=np.float64),
                             np.ascontiguousarray(cxy), np.ascontiguousarray(sxy),
                             np.ascontiguousarray(single), np.ascontiguousarray(price), oz,
                             float(mw), cap)
        for z in multi:
            d = sum(share[j] * np.hypot(*(cxy - sxy[j]).T) for j in groups[z])
            best = np.minimum(best, d + mw * ((oz >= 0) & (oz != z)) + price[z])
        return best
    if sp.issparse(costs):
        c = sp.coo_matrix(costs)
        rows, school, vals = c.row.astype(np.int64), c.col.astype(np.int64), c.data
    else:
        dense = np.asarray(costs, dtype=np.float64)
        rows = np.repeat(np.arange(dense.shape[0]), dense.shape[1])
        school = np.tile(np.arange(dense.shape[1]), dense.shape[0])
        vals = dense.ravel()
    rows, z, vals = zone_pairs(rows, school, vals, zone_of, share, len(u), k)
    vals = vals + mw * ((oz[rows] >= 0) & (oz[rows] != z)) + price[z]
    best = np.full(len(u), np.inf)
    np.minimum.at(best, rows, vals)
    return np.minimum(np.minimum(u, cap), best)
