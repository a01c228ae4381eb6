"""The exact catchment design: a HiGHS MILP with flow-based contiguity (private to design).

Variables: x_iz (cell i in zone z, binary, candidate pairs only), y_i (unzoned, binary),
f_abz ≥ 0 (flow of zone z's commodity on arc a → b, both cells candidates of z), σ_z ≥ 0
(students below the zone's lower bound), κ_e ∈ [0, 1] (edge e cut; only with a compactness
weight). Contiguity (Shirabe 2005): zone z's root is a free source; every other cell of z
consumes one unit, ``Σ_in f − Σ_out f = x_iz``, and flow runs only between cells of z
(``f_abz ≤ M x_az``, ``f_abz ≤ M x_bz``), so every cell of z is reached from the root inside z.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from schoolmap.highs import milp

__all__ = ["solve_milp"]


def solve_milp(inst: Any, time_limit_s: float, start: np.ndarray | None = None,
               node_limit: int | None = None,
               zoned: np.ndarray | None = None) -> tuple[np.ndarray, float, bool]:
    """Solve the design exactly: (zone by unit, −1 unzoned; the MILP's lower bound; proven).

    ``start``: a design to start from (zone by unit, −1 unzoned; each zone one piece holding
    its root, within seats), handed to HiGHS with the flows of a spanning tree of each zone;
    ``node_limit`` bounds the branch-and-bound by nodes (the same answer on any machine), while
    ``time_limit_s`` (seconds) stays the last guard. ``zoned`` (bool by unit): units that must
    be in a zone (their unzoned column fixed at 0: a neighbourhood of a design whose cells are
    zoned keeps them so, and the penalty's large costs leave the model).
    """
    n = len(inst.students)
    k = len(inst.root)
    s = inst.students
    ptr, zone, cost = inst.cand_ptr, inst.cand_zone, inst.cand_cost
    nx = len(zone)
    cell_of = np.repeat(np.arange(n), np.diff(ptr))
    x_of = {(int(i), int(z)): t for t, (i, z) in enumerate(zip(cell_of, zone, strict=True))}
    moved = (inst.official[cell_of] >= 0) & (inst.official[cell_of] != zone)
    obj = [s[cell_of] * cost + inst.mw * s[cell_of] * moved, inst.pen * (s + 1.0)]
    lo_col = [np.zeros(nx), np.zeros(n)]
    hi_col = [np.ones(nx), np.ones(n) if zoned is None else (~np.asarray(zoned)).astype(float)]
    integer = [np.ones(nx, bool), np.ones(n, bool)]
    for z in range(k):
        lo_col[0][x_of[(int(inst.root[z]), z)]] = 1.0
    for i, z in zip(getattr(inst, "fixed_unit", ()), getattr(inst, "fixed_zone", ()),
                    strict=True):  # a 多校划片 group's other cells: in its zone
        if (int(i), int(z)) in x_of:
            lo_col[0][x_of[(int(i), int(z))]] = 1.0
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    row_lo: list[float] = []
    row_hi: list[float] = []
    nrow = 0

    def add(r_cols, r_vals, lo, hi):
        nonlocal nrow
        rows.append(np.full(len(r_cols), nrow, np.int64))
        cols.append(np.asarray(r_cols, np.int64))
        vals.append(np.asarray(r_vals, np.float64))
        row_lo.append(lo)
        row_hi.append(hi)
        nrow += 1

    for i in range(n):  # each unit in one zone, or unzoned
        add([*range(ptr[i], ptr[i + 1]), nx + i], np.ones(ptr[i + 1] - ptr[i] + 1), 1.0, 1.0)
    col = nx + n
    slack0 = col
    col += k
    obj.append(np.full(k, inst.pen * (s.sum() + n + 1.0)))
    lo_col.append(np.zeros(k))
    hi_col.append(np.where(inst.lo > 0, np.inf, 0.0))  # no slack below a lower bound of 0
    integer.append(np.zeros(k, bool))
    for z in range(k):  # seats: lo − σ ≤ Σ s x ≤ hi
        members = np.flatnonzero(zone == z)
        add([*members, slack0 + z], [*s[cell_of[members]], 1.0], inst.lo[z], np.inf)
        add(members, s[cell_of[members]], -np.inf, inst.hi[z])
    adj = inst.adj.tocoo()
    arcs = [(int(a), int(b)) for a, b in zip(adj.row, adj.col, strict=True) if a != b]
    flow_in: dict[tuple[int, int], list[int]] = {}
    flow_out: dict[tuple[int, int], list[int]] = {}
    f_count = 0
    arc_keys: list[tuple[int, int, int]] = []
    for z in range(k):
        big = float(np.sum(zone == z) - 1)
        root = int(inst.root[z])
        for a, b in arcs:
            ta, tb = x_of.get((a, z)), x_of.get((b, z))
            if ta is None or tb is None or b == root:
                continue
            f = col + f_count
            f_count += 1
            arc_keys.append((a, b, z))
            flow_out.setdefault((a, z), []).append(f)
            flow_in.setdefault((b, z), []).append(f)
            add([f, ta], [1.0, -big], -np.inf, 0.0)
            add([f, tb], [1.0, -big], -np.inf, 0.0)
    obj.append(np.zeros(f_count))
    arc_col = dict(zip(arc_keys, range(col, col + f_count), strict=True))
    lo_col.append(np.zeros(f_count))
    hi_col.append(np.full(f_count, np.inf))
    integer.append(np.zeros(f_count, bool))
    col += f_count
    for (i, z), t in x_of.items():
        if i == int(inst.root[z]):
            continue
        fin, fout = flow_in.get((i, z), []), flow_out.get((i, z), [])
        add([*fin, *fout, t], [1.0] * len(fin) + [-1.0] * len(fout) + [-1.0], 0.0, 0.0)
    edges: list[tuple[int, int, float]] = []
    edge0 = col
    if inst.cw > 0:
        edges = [(int(a), int(b), float(w)) for a, b, w in zip(adj.row, adj.col, adj.data,
                                                                strict=True) if a < b]
        obj.append(inst.cw * np.array([w for _, _, w in edges]))
        lo_col.append(np.zeros(len(edges)))
        hi_col.append(np.ones(len(edges)))
        integer.append(np.zeros(len(edges), bool))
        for e, (a, b, _) in enumerate(edges):
            for z in range(k):
                ta, tb = x_of.get((a, z)), x_of.get((b, z))
                if ta is None and tb is None:
                    continue
                for sign in (1.0, -1.0):
                    c_, v_ = [col + e], [1.0]
                    if ta is not None:
                        c_.append(ta)
                        v_.append(-sign)
                    if tb is not None:
                        c_.append(tb)
                        v_.append(sign)
                    add(c_, v_, 0.0, np.inf)
        col += len(edges)
    a = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(nrow, col))
    x0 = None
    if start is not None:
        x0 = _start_vector(inst, np.asarray(start, dtype=np.int64), x_of, nx, slack0, arc_col,
                           col)
        for e, (p, q, _) in enumerate(edges):  # an edge between two zones is cut
            x0[edge0 + e] = float(start[p] != start[q])
    x, _, bound, proven = milp(np.concatenate(obj), a, np.array(row_lo), np.array(row_hi),
                               np.concatenate(lo_col), np.concatenate(hi_col),
                               np.concatenate(integer), start=x0, time_limit=time_limit_s,
                               node_limit=node_limit)
    label = np.full(n, -1, dtype=np.int64)
    chosen = np.flatnonzero(x[:nx] > 0.5)
    label[cell_of[chosen]] = zone[chosen]
    return label, bound, proven


def _start_vector(inst: Any, label: np.ndarray, x_of: dict, nx: int, slack0: int,
                  arc_col: dict, n_col: int) -> np.ndarray:
    """The MILP's columns for a design: its x and y, the slack below each zone's lower bound,
    and on a breadth-first spanning tree of each zone the flow of the cells beyond each arc
    (each cell but the root consumes one unit). The compactness columns are set by the caller."""
    from scipy.sparse.csgraph import breadth_first_order

    n = len(label)
    x = np.zeros(n_col)
    for i in range(n):
        if label[i] >= 0:
            x[x_of[(i, int(label[i]))]] = 1.0
        else:
            x[nx + i] = 1.0
    load = np.bincount(label[label >= 0], weights=inst.students[label >= 0],
                       minlength=len(inst.root))
    x[slack0:slack0 + len(load)] = np.maximum(inst.lo - load, 0.0)
    adj = sp.csr_matrix(inst.adj)
    for z, root in enumerate(inst.root):
        cells = np.flatnonzero(label == z)
        order, pred = breadth_first_order(adj[cells][:, cells], int(np.searchsorted(cells, root)),
                                          directed=False, return_predecessors=True)
        beyond = np.ones(len(cells))
        for v in order[::-1]:
            if pred[v] >= 0:
                beyond[pred[v]] += beyond[v]
        for v in order:
            if pred[v] >= 0:
                x[arc_col[(int(cells[pred[v]]), int(cells[v]), z)]] = beyond[v]
    return x
