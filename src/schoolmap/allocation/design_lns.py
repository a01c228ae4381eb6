"""Large-neighbourhood search of a catchment design (private to design).

The heuristic's moves change one or two cells at a time; a zone that should reach a pocket of
homes across empty land, or hand a strip to its neighbour, needs many cells to change together.
:func:`neighbourhood_search` frees the cells of two neighbouring zones within ``radius`` steps
of their shared boundary, holds every other cell where it is (the held cells of a zone merged
into one unit per connected piece, each kept in its zone), and solves that small design exactly
— the HiGHS MILP with flow-based contiguity (:mod:`schoolmap.allocation._milp`), started from
the current design and bounded by nodes — accepting it when the whole design's objective F
falls; optionally then the same for each zone with two of its neighbours (seats handed on
along a chain). Zones stay one piece (the MILP's flows reach every cell of a zone from its
school), within seats, and the other zones are untouched. Every loop is bounded: ``passes``
over the groups of neighbouring zones, ``node_limit`` nodes per solve, ``solve_s`` seconds per
solve and a deadline no further solve starts after.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from schoolmap._kernels.zoning import design_cost
from schoolmap.allocation._milp import solve_milp
from schoolmap.errors import InfeasibleError

__all__ = ["LNS_MAX_FREE", "LNS_NODES", "LNS_RADIUS", "neighbourhood_search"]

#: Steps (cells) from the shared boundary of two zones within which their cells are freed.
LNS_RADIUS = 4
#: Free cells of one neighbourhood, at most (the radius shrinks to stay within it).
LNS_MAX_FREE = 150
#: Branch-and-bound nodes of one neighbourhood's MILP, at most.
LNS_NODES = 10
#: Seconds of one neighbourhood's MILP, at most (the last guard; the node limit comes first).
LNS_SOLVE_S = 20.0


def _objective(inst: Any, label: np.ndarray, lam: float) -> float:
    return float(design_cost(label, inst.students, inst.official, inst.adj.indptr,
                             inst.adj.indices, inst.adj.data, inst.cand_ptr, inst.cand_zone,
                             inst.cand_cost, inst.hi, inst.lo, inst.mw, inst.cw, inst.pen,
                             lam)[5])


def _groups(label: np.ndarray, adj: sp.csr_matrix, size: int) -> list[tuple[int, ...]]:
    """Neighbouring zones, in order: pairs (``size`` 2), or triples of a zone and two of its
    neighbours (``size`` 3)."""
    a = adj.tocoo()
    za, zb = label[a.row], label[a.col]
    keep = (za >= 0) & (zb >= 0) & (za != zb)
    near: dict[int, set[int]] = {}
    for p, q in zip(za[keep].tolist(), zb[keep].tolist(), strict=True):
        near.setdefault(p, set()).add(q)
    if size == 2:
        return sorted({(p, q) for p in near for q in near[p] if p < q})
    return sorted({tuple(sorted((p, b, q))) for b in near for p in near[b] for q in near[b]
                   if p < q})


def _band(label: np.ndarray, adj: sp.csr_matrix, group: tuple[int, ...], member: np.ndarray,
          radius: int, max_free: int, roots: np.ndarray) -> np.ndarray:
    """Cells of the group's zones within ``radius`` steps of a boundary between two of them,
    and unzoned cells next to them that could join one (fewer steps when that frees more
    than ``max_free`` cells); never a school's cell."""
    inside = np.isin(label, group)
    band = (label < 0) & member & (adj @ inside.astype(np.float64) > 0)
    for z in group:
        others = (inside & (label != z)).astype(np.float64)
        band |= (label == z) & (adj @ others > 0)
    band[roots] = False
    if band.sum() > max_free:  # a long boundary: its first max_free cells (by row)
        band[np.flatnonzero(band)[max_free:]] = False
    for _ in range(radius):
        grown = (band | (adj @ band.astype(np.float64) > 0)) & member
        grown[roots] = False
        if grown.sum() > max_free or grown.sum() == band.sum():
            break
        band = grown
    return band


def _subproblem(inst: Any, label: np.ndarray, group: tuple[int, ...], free: np.ndarray):
    """The group's design with the free cells as units and the held cells of each zone merged
    per connected piece: (sub-instance, start label, free cells, the group's zones)."""
    zones = np.array(group, dtype=np.int64)
    local = {int(z): q for q, z in enumerate(zones)}
    adj = inst.adj
    held = np.isin(label, zones) & ~free
    a = adj.tocoo()
    same = held[a.row] & held[a.col] & (label[a.row] == label[a.col])
    n = len(label)
    _, comp = connected_components(
        sp.coo_matrix((np.ones(int(same.sum())), (a.row[same], a.col[same])), shape=(n, n)),
        directed=False)
    cells = np.flatnonzero(free)
    pieces, piece_of = np.unique(comp[held], return_inverse=True)
    nf, nu = len(cells), len(cells) + len(pieces)
    unit = np.full(n, -1, dtype=np.int64)
    unit[cells] = np.arange(nf)
    unit[np.flatnonzero(held)] = nf + piece_of
    inside = unit >= 0
    s_u = np.bincount(unit[inside], weights=inst.students[inside], minlength=nu)
    keep = inside[a.row] & inside[a.col]
    ur, uc, w = unit[a.row[keep]], unit[a.col[keep]], a.data[keep]
    cross = ur != uc
    adj_u = sp.csr_matrix((w[cross], (ur[cross], uc[cross])), shape=(nu, nu))
    adj_u.sort_indices()
    # candidates: a free cell's zones of the group; a held piece its own zone at no cost
    ptr, zz, cc = [0], [], []
    for i in cells:
        lo, hi = inst.cand_ptr[i], inst.cand_ptr[i + 1]
        for z, c in zip(inst.cand_zone[lo:hi], inst.cand_cost[lo:hi], strict=True):
            if int(z) in local:
                zz.append(local[int(z)])
                cc.append(float(c))
        ptr.append(len(zz))
    piece_zone = np.zeros(len(pieces), dtype=np.int64)
    held_cells = np.flatnonzero(held)
    piece_zone[piece_of] = [local[int(z)] for z in label[held_cells]]
    for q in range(len(pieces)):
        zz.append(int(piece_zone[q]))
        cc.append(0.0)
        ptr.append(len(zz))
    off = inst.official[cells]
    official = np.full(nu, -1, dtype=np.int64)
    official[:nf] = np.where(off < 0, -1, len(zones))  # another zone's: moved whichever
    for q, z in enumerate(zones):
        official[:nf][off == z] = q
    official[nf:] = piece_zone
    root = unit[inst.root[zones]]
    fixed = np.setdiff1d(np.arange(nf, nu), root)
    sub = dataclasses.replace(
        inst, adj=adj_u, students=s_u, official=official,
        cand_ptr=np.array(ptr, dtype=np.int64), cand_zone=np.array(zz, dtype=np.int64),
        cand_cost=np.array(cc, dtype=np.float64), root=root, hi=inst.hi[zones],
        lo=inst.lo[zones], fixed_unit=fixed, fixed_zone=piece_zone[fixed - nf])
    start = np.concatenate([[local.get(int(z), -1) for z in label[cells]], piece_zone])
    return sub, start.astype(np.int64), cells, zones


def neighbourhood_search(inst: Any, label: np.ndarray, lam: float, *, passes: int = 1,
                         sizes: tuple[int, ...] = (2,), radius: int = LNS_RADIUS,
                         max_free: int = LNS_MAX_FREE,
                         node_limit: int = LNS_NODES, deadline: float = float("inf"),
                         solve_s: float = LNS_SOLVE_S) -> tuple[np.ndarray, int, bool]:
    """Improve a design by re-solving the boundaries of neighbouring zones exactly: each pair,
    then each zone with two of its neighbours.

    Parameters
    ----------
    inst : the design's prepared instance (:func:`schoolmap.allocation.design.design_zones`)
    label : ndarray of shape (n_units,), int64
        The design: zone of each unit, −1 unzoned (every zone one piece, within seats).
    lam : float
        Cost per student above seats in F (the heuristic's).
    passes : int
        Sweeps over the groups of neighbouring zones, at most (another only after an
        improvement).
    sizes : tuple of int
        Zones per group, in the order swept: 2 (pairs), 3 (a zone and two neighbours).
    radius, max_free, node_limit : int
        Steps from the shared boundary freed, free cells of one group at most, nodes of one
        MILP at most.
    deadline : float
        ``time.perf_counter()`` seconds after which no further MILP starts.
    solve_s : float
        Seconds of one MILP at most (its node limit normally stops it first).

    Returns
    -------
    (label, improvements, stopped) : the design, how many neighbourhoods improved it, and
    whether the deadline or a solve's seconds stopped the search (then the design depends on
    the machine's speed).
    """
    label = np.asarray(label, dtype=np.int64).copy()
    adj = sp.csr_matrix(inst.adj)
    f = _objective(inst, label, lam)
    improved, stopped = 0, False
    cand_unit = np.repeat(np.arange(len(label)), np.diff(inst.cand_ptr))
    for _ in range(int(passes)):
        better = 0
        for group in [g for size in sizes for g in _groups(label, adj, size)]:
            left = deadline - time.perf_counter()
            if left <= 0:
                return label, improved, True
            if not all((label == z).any() for z in group):
                continue
            member = np.isin(label, group)
            join = cand_unit[np.isin(inst.cand_zone, group)]
            member[join] |= label[join] < 0  # unzoned cells that could join
            free = _band(label, adj, group, member, radius, max_free, inst.root)
            if not free.any():
                continue
            sub, start, cells, zones = _subproblem(inst, label, group, free)
            limit = min(solve_s, left)
            t0 = time.perf_counter()
            try:
                lab, _, _ = solve_milp(sub, limit, start=start, node_limit=node_limit,
                                       zoned=start >= 0)
            except InfeasibleError:
                continue
            stopped |= time.perf_counter() - t0 >= 0.98 * limit
            trial = label.copy()
            trial[cells] = np.where(lab[:len(cells)] >= 0, zones[np.maximum(lab[:len(cells)], 0)],
                                    -1)
            g = _objective(inst, trial, lam)
            if g < f - 1e-9 * max(abs(f), 1.0):
                label, f = trial, g
                better += 1
        improved += better
        if not better:
            break
    return label, improved, stopped
