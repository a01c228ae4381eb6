"""Units and candidate zones of a catchment design
(:func:`schoolmap.allocation.design.design_zones`): communities (小区) merged into units, a
多校划片 group's cells joined, each cell's allowed zones with its travel per student, and the
units' adjacency and candidates."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from schoolmap.errors import Problem, ValidationError

__all__ = ["CANDIDATES", "cell_candidates", "communities", "join_groups", "merge_units",
           "zone_pairs", "zones_of_schools"]

#: Candidate zones per cell in the heuristic (the nearest by cost, and the official one).
CANDIDATES = 16
_WHERE = "design_zones"


def communities(community, students, seats, max_u, n, cells, problems):
    codes = np.asarray(community, dtype=object).reshape(-1)
    if len(codes) != n:
        raise ValidationError([f"community_by_cell must have {n} entries, got {len(codes)}"],
                              _WHERE)
    none = np.array([c is None or (isinstance(c, float) and np.isnan(c)) or c == -1
                     for c in codes])
    unit = np.arange(n, dtype=np.int64)
    if (~none).any():
        names, inv = np.unique(codes[~none].astype(str), return_inverse=True)
        big = max_u * seats.max() if len(seats) else 0.0
        size = np.bincount(inv, weights=students[~none])
        for c in np.flatnonzero(size > big + 1e-9):
            problems.append(Problem(_WHERE, f"community {names[c]}: {size[c]:,.0f} students, "
                                    f"more than any school holds ({big:,.0f}); its cells are "
                                    "zoned one by one"))
            inv = np.where(inv == c, -1, inv)
        rows = np.flatnonzero(~none)
        first = {}
        for r, c in zip(rows, inv, strict=True):
            if c >= 0:
                unit[r] = first.setdefault(c, r)
    _, unit = np.unique(unit, return_inverse=True)
    return unit.astype(np.int64)


def cell_candidates(costs, groups, zone_of, official, roots, cell_xy, school_xy, n, k, full,
                    share=None, forced=None):
    """Each cell's allowed zones and travel per student (CSR, cells × zones).

    The travel to a zone of several schools (多校划片) is the mean of its schools' travel
    weighted by ``share`` (each school's share of its zone's seats: the zone's students are
    split between its schools by seats), over the schools a cell may reach. ``forced``:
    (cells, zones) that must be candidates (the cells joining a group's schools; straight
    lines only).
    """
    if k == 0:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.int64), np.zeros(0)
    kk = k if (full or n * k <= 200_000) else min(k, CANDIDATES)
    if costs is None:
        zxy = np.asarray(school_xy, dtype=np.float64)[[g[0] for g in groups]]
        cxy = np.asarray(cell_xy, dtype=np.float64)
        dist, idx = cKDTree(zxy).query(cxy, k=kk)
        dist, idx = dist.reshape(n, kk), idx.reshape(n, kk)
        rows, cols, vals = np.repeat(np.arange(n), kk), idx.ravel(), dist.ravel()
        extra = np.flatnonzero(official >= 0)
        if len(extra):
            oz = zone_of[official[extra]]
            extra, oz = extra[oz >= 0], oz[oz >= 0]
            rows = np.concatenate([rows, extra, roots])
            cols = np.concatenate([cols, oz, np.arange(k)])
            vals = np.concatenate([vals, np.hypot(*(cxy[extra] - zxy[oz]).T),
                                   np.hypot(*(cxy[roots] - zxy).T)])
        if forced is not None and len(forced[0]):
            rows = np.concatenate([rows, forced[0]])
            cols = np.concatenate([cols, forced[1]])
            vals = np.concatenate([vals, np.hypot(*(cxy[forced[0]] - zxy[forced[1]]).T)])
        sxy = np.asarray(school_xy, dtype=np.float64)
        for z, g in enumerate(groups):  # several schools at several points: the seat-mean
            if len(g) > 1 and np.ptp(sxy[list(g)], axis=0).max() > 0:
                at = cols == z
                vals = vals.copy()
                vals[at] = sum(share[j] * np.hypot(*(cxy[rows[at]] - sxy[j]).T) for j in g)
    else:
        if sp.issparse(costs):
            c = sp.coo_matrix(costs)
            rows, cols, vals = c.row.astype(np.int64), c.col.astype(np.int64), c.data
        else:
            dense = np.asarray(costs, dtype=np.float64)
            rows = np.repeat(np.arange(n), dense.shape[1])
            cols = np.tile(np.arange(dense.shape[1]), n)
            vals = dense.ravel()
        rows, cols, vals = zone_pairs(rows, cols, vals, zone_of, share, n, k)
        if kk < k:  # keep each cell's kk cheapest zones and its official one
            order = np.lexsort((vals, rows))
            rows, cols, vals = rows[order], cols[order], vals[order]
            rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
            oz = np.where(official >= 0, zone_of[np.maximum(official, 0)], -1)
            keep = (rank < kk) | (cols == oz[rows])
            rows, cols, vals = rows[keep], cols[keep], vals[keep]
    vals = np.asarray(vals, dtype=np.float64)
    bad = ~np.isfinite(vals) | (vals < 0)
    if bad.any():
        raise ValidationError([Problem(_WHERE, "costs must be finite and ≥ 0",
                                       tuple(str(r) for r in np.unique(rows[bad])[:20]))],
                              _WHERE)
    m = sp.coo_matrix((vals, (rows, cols)), shape=(n, k)).tocsr()
    m.sum_duplicates()  # duplicates (official among the nearest) are the same value twice
    dup = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, k)).tocsr()
    dup.sum_duplicates()
    m.data = m.data / dup.data
    return m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(np.float64)


def merge_units(units, n_units, adj, students, official_zone, ptr, zone, cost, roots):
    """Cells → units (communities merged): adjacency, official zone (the students' majority)
    and candidates (zones allowed for every cell of the unit, at the student-weighted mean
    cost); each school's unit gets its own zone."""
    n = len(units)
    k = len(roots)
    cell_of = np.repeat(np.arange(n), np.diff(ptr))
    if n_units == n:
        adj_u, official_u = adj, official_zone
        rows, cols, vals = cell_of, zone, cost
    else:
        p = sp.csr_matrix((np.ones(n), (np.arange(n), units)), shape=(n, n_units))
        adj_u = (p.T @ adj @ p).tocsr()
        adj_u.setdiag(0)
        adj_u.eliminate_zeros()
        adj_u.sort_indices()
        has = official_zone >= 0
        votes = sp.coo_matrix((students[has] + 1e-9, (units[has], official_zone[has])),
                              shape=(n_units, max(k, 1))).tocsr()
        official_u = np.where(np.diff(votes.indptr) > 0,
                              np.asarray(votes.argmax(axis=1)).ravel(), -1).astype(np.int64)
        size = np.bincount(units, minlength=n_units)
        s_u = np.bincount(units, weights=students, minlength=n_units)
        w = np.where(s_u[units] > 0, students / np.where(s_u[units] > 0, s_u[units], 1.0),
                     1.0 / size[units])
        u = units[cell_of]
        count = sp.coo_matrix((np.ones(len(u)), (u, zone)), shape=(n_units, k)).tocsr()
        mean = sp.coo_matrix((w[cell_of] * cost, (u, zone)), shape=(n_units, k)).tocsr()
        count.sum_duplicates()
        mean.sum_duplicates()
        c, m_ = count.tocoo(), mean.tocoo()
        full = c.data == size[c.row]
        rows, cols, vals = c.row[full], c.col[full], m_.data[full]
    have = set(zip(rows.tolist(), cols.tolist(), strict=True))
    ru = units[roots]
    add = [z for z in range(k) if (int(ru[z]), z) not in have]
    if add:
        rows = np.concatenate([rows, ru[add]])
        cols = np.concatenate([cols, np.asarray(add, dtype=np.int64)])
        vals = np.concatenate([vals, np.zeros(len(add))])
    m = sp.coo_matrix((vals, (rows, cols)), shape=(n_units, k)).tocsr()
    m.sort_indices()
    return (adj_u, np.asarray(official_u, dtype=np.int64),
            (m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(np.float64)))


def zone_pairs(rows: np.ndarray, school: np.ndarray, vals: np.ndarray, zone_of: np.ndarray,
               share: np.ndarray | None, n: int, k: int):
    """(cell, school, cost) pairs → (cell, zone, cost) pairs: a zone's cost is the mean of
    its schools' weighted by ``share`` (seats), over the schools given for the cell."""
    w = np.ones(len(zone_of)) if share is None else np.asarray(share, dtype=np.float64)
    cols = zone_of[school]
    ok = cols >= 0
    rows, cols, school = rows[ok], cols[ok], school[ok]
    vals = np.asarray(vals, dtype=np.float64)[ok]
    wsum = sp.coo_matrix((w[school], (rows, cols)), shape=(n, k)).tocsr()
    vsum = sp.coo_matrix((w[school] * vals, (rows, cols)), shape=(n, k)).tocsr()
    wsum.sum_duplicates()
    vsum.sum_duplicates()
    wsum, vsum = wsum.tocoo(), vsum.tocoo()
    mean = np.where(wsum.data > 0, vsum.data / np.where(wsum.data > 0, wsum.data, 1.0),
                    vsum.data)
    return wsum.row.astype(np.int64), wsum.col.astype(np.int64), mean


def join_groups(units: np.ndarray, adj: sp.csr_matrix, group_cells: list[np.ndarray],
                blocked: np.ndarray, prefer: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Units merged so that each group's cells (the cells of one 多校划片 zone's schools) lie
    in one unit: the cells of a shortest path from the first to each other one (through the
    adjacency, never through a ``blocked`` cell — another zone's school —, a step into a cell
    of ``prefer[g]``, the group's official zone, counting 1 and any other 5) join it, so the
    zone holds all its schools and stays one piece.

    Returns the new unit of each cell (numbered by first cell) and the groups no path joins.
    """
    n = len(units)
    a = adj.tocoo()
    rows = [np.arange(n)]
    cols = [units_first(units)]
    failed = []
    for g, cells in enumerate(group_cells):
        if len(cells) < 2:
            continue
        ok = ~blocked.copy()
        ok[cells] = True
        inside = np.zeros(n, dtype=bool)
        inside[prefer[g]] = True
        keep = ok[a.row] & ok[a.col]
        w = sp.csr_matrix((np.where(inside[a.col[keep]], 1.0, 5.0), (a.row[keep], a.col[keep])),
                          shape=(n, n))
        dist, pred = dijkstra(w, indices=int(cells[0]), return_predecessors=True)
        if not np.isfinite(dist[cells]).all():
            failed.append(g)
            continue
        for c in cells[1:]:
            path = [int(c)]
            while path[-1] != cells[0] and len(path) <= n:
                path.append(int(pred[path[-1]]))
            rows.append(np.asarray(path[1:], dtype=np.int64))
            cols.append(np.asarray(path[:-1], dtype=np.int64))
    r, c = np.concatenate(rows), np.concatenate(cols)
    _, comp = connected_components(sp.coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n)),
                                   directed=False)
    _, first = np.unique(comp, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[comp].astype(np.int64), failed


def units_first(units: np.ndarray) -> np.ndarray:
    """The first cell of each cell's unit, shape (n_cells,)."""
    _, first = np.unique(units, return_index=True)
    return first[np.searchsorted(np.unique(units), units)]


def zones_of_schools(school_cell: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zones of the schools inside the district: schools sharing a cell or a group (≥ 0) are
    one zone, rooted at its first cell; zones numbered by root cell. Returns (root cell of
    each zone, zone of each school, −1 outside)."""
    m = len(school_cell)
    inside = np.flatnonzero(school_cell >= 0)
    zone_of = np.full(m, -1, np.int64)
    if not len(inside):
        return np.zeros(0, np.int64), zone_of
    _, by_cell = np.unique(school_cell[inside], return_inverse=True)
    edges_a = [inside, inside]
    edges_b = [inside[np.unique(by_cell, return_index=True)[1][by_cell]], inside]
    g = group[inside]
    if (g >= 0).any():
        has = inside[g >= 0]
        _, first = np.unique(g[g >= 0], return_index=True)
        _, inv = np.unique(g[g >= 0], return_inverse=True)
        edges_a.append(has)
        edges_b.append(has[first[inv]])
    a, b = np.concatenate(edges_a), np.concatenate(edges_b)
    _, comp = connected_components(sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m)),
                                   directed=False)
    root = {}
    for j in inside:
        c = int(comp[j])
        root[c] = min(root.get(c, school_cell[j]), school_cell[j])
    order = sorted(root, key=lambda c: root[c])
    index = {c: z for z, c in enumerate(order)}
    zone_of[inside] = [index[int(comp[j])] for j in inside]
    return np.array([root[c] for c in order], dtype=np.int64), zone_of
