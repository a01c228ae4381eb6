"""Allocation on road distances: nearest school and exact capacitated allocation by network.

Cells and schools join the road graph at their nearest node (KD-tree); the connector's length
is part of every trip. A point farther than ``max_connector_m`` from every node travels by
straight line (and is named in a note). Trips run home → school (on a one-way street the
search runs against the traffic, from the school).

**The exact allocation** solves on a sparse cost matrix through :func:`schoolmap.optimal.transport`
(the sparse door) and then proves the answer optimal over *all* cell × school pairs: each
school's bounded Dijkstra computed every node within its radius R_j, so a pair (i, j) absent
from the matrix costs at least ``max(d_ij, R_j + c_i + c_j, ALT_ij + c_i + c_j)`` — d_ij the
straight line, a lower bound on every network distance; c the connectors; ALT_ij the landmark
bound ``max_L max(d(L, school) − d(L, cell), d(cell, L) − d(school, L))`` from ``n_landmarks``
full searches from nodes on the network's rim (on a street grid it reaches the Manhattan-like
walking distance where the straight line is up to √2 short) — or cannot be travelled at all
(two pieces of the network). Where that bound plus the seat price v_j falls below the cell's
dual u_i, the pair could improve the answer: the schools of each such cell's few least-bounded
pairs search farther (to ``min(u_i − v_j, REACH × bound)``, so a cell left unserved by the
restricted problem, whose dual is the price of an unserved student, does not send every
school's search across the whole network) and the problem is solved again, until no pair can
(``certificate["optimal"]``), or ``max_rounds`` rounds pass (``certificate["round_limit_hit"]``;
the answer is then refused as unproven). Every search is bounded by the graph (one heap entry
per edge), every round by ``max_rounds``. Over ``COARSE_CELLS`` × ``COARSE_MIN`` cells the first
solve starts from seat prices estimated on squares of cells (as the straight-line engine's
coarser levels do), on the known pairs near those prices and their squares' duals, the rest
priced in: a start, never the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree

from schoolmap._kernels.network import (
    bounded_dijkstra,
    expand_pairs,
    landmark_distances,
    lower_bound_violations,
    nearest_source,
    path_tree,
    sort_pairs,
    trace_paths,
)
from schoolmap.allocation.methods import Allocation, check_inputs
from schoolmap.allocation.network_solve import coarse_prices, solve_priced
from schoolmap.allocation.optimal import (
    TransportResult,
    cell_bins,
    refuse_unproven,
)
from schoolmap.errors import ValidationError
from schoolmap.io.roads import RoadGraph

__all__ = ["NetworkCosts", "Travel", "allocate_nearest_network", "allocate_optimal_network",
           "connect_points", "landmark_bounds", "landmarks", "network_pair_costs",
           "network_transport", "piece_notes", "road_routes", "school_routes"]

MAX_ROUNDS = 30
MAX_PRICING = 30
WIDEN = 1.2
FIRST_RADIUS = 2.0
CELLS_PER_BIN = 32
LANDMARKS = 8
REACH = 1.3
PER_CELL = 8


@dataclass(frozen=True)
class Travel:
    """How far is a trip: the scenario's ``[travel]`` table.

    Attributes
    ----------
    mode : {"euclidean", "walk", "drive"}
        ``euclidean``: straight lines (no roads needed); ``walk`` / ``drive``: along the roads
        layer (or ``roads``, an ``.osm.pbf``) open to that mode.
    walk_kmh : float
        Walking speed (for travel times).
    detour_max : float
        Expected worst ratio of road to straight-line distance: the reach that prices an
        unserved student (``unserved_cost`` = (m + 1) × ``detour_max`` × the district's diagonal
        + 1, as the straight-line engine does with the diagonal itself).
    max_connector_m : float
        Farthest a cell or school may be from the road network; beyond, straight line.
    roads : str or None
        An ``.osm.pbf`` file instead of the district's ``roads`` layer.
    """

    mode: str = "euclidean"
    walk_kmh: float = 5.0
    detour_max: float = 3.0
    max_connector_m: float = 300.0
    roads: str | None = None

    @property
    def label(self) -> str:
        """One line for the report: which distance every figure uses."""
        if self.mode == "euclidean":
            return "Distances: straight line (travel mode euclidean)."
        what = "walking" if self.mode == "walk" else "driving"
        return (f"Distances: {what} distance along the roads (travel mode {self.mode}; cells and "
                f"schools more than {self.max_connector_m:,.0f} m from a road: straight line).")


@dataclass(frozen=True)
class NetworkCosts:
    """Points joined to a road graph."""

    node: np.ndarray          # (n,) nearest node, -1 when straight
    connector_m: np.ndarray   # (n,) metres to it
    straight: np.ndarray      # (n,) bool: farther than max_connector_m: straight line
    component: np.ndarray     # (n,) piece of the network (-1 when straight)
    barred: np.ndarray | None = None  # (n,) bool: straight because every node within
    #                                   max_connector_m lies across a barrier


def connect_points(graph: RoadGraph, xy: np.ndarray, max_connector_m: float) -> NetworkCosts:
    """Join points to their nearest node (whose connector crosses no barrier,
    :meth:`~schoolmap.io.roads.RoadGraph.connect`); farther than ``max_connector_m`` (or every
    node that near across a river, railway or expressway): straight line."""
    node, conn = graph.connect(xy, max_connector_m)
    straight = ~(conn <= max_connector_m)
    comp = np.where(straight, -1, graph.component[np.maximum(node, 0)] if len(node) else node)
    barred = (node < 0) if graph.n_nodes else np.zeros(len(node), bool)
    return NetworkCosts(np.where(straight, -1, node), np.where(straight, 0.0, conn), straight,
                        comp.astype(np.int64), barred)


def landmarks(graph: RoadGraph, k: int = LANDMARKS) -> np.ndarray:
    """``k`` landmark nodes on the rim of the largest piece: for each of ``k`` compass
    directions, the node farthest out that way (duplicates dropped).

    On a street grid the corners' bounds ``|d(L, a) − d(L, b)|`` reach the walking
    (Manhattan-like) distance, where the straight line is up to √2 short of it.
    """
    big = np.flatnonzero(graph.component == 0)
    if k <= 0 or len(big) < 2:
        return np.zeros(0, np.int64)
    xy = graph.node_xy[big] - graph.node_xy[big].mean(axis=0)
    ang = 2 * np.pi * np.arange(k) / k + np.pi / 4
    pick = big[np.argmax(xy @ np.vstack([np.cos(ang), np.sin(ang)]), axis=0)]
    return np.unique(pick).astype(np.int64)


def landmark_bounds(graph: RoadGraph, forward: tuple[np.ndarray, np.ndarray, np.ndarray],
                    reverse: tuple[np.ndarray, np.ndarray, np.ndarray],
                    k: int = LANDMARKS) -> tuple[np.ndarray, np.ndarray]:
    """Every node's road distance from (``F``, (N, L)) and to (``T``) each landmark, metres.

    For a graph whose every street runs both ways (walking) ``T`` is ``F`` (one search per
    landmark); otherwise one search each way.
    """
    lm = landmarks(graph, k)
    f = landmark_distances(*forward, lm)
    symmetric = bool(np.array_equal(forward[0], reverse[0])
                     and np.array_equal(forward[1], reverse[1])
                     and np.array_equal(forward[2], reverse[2]))
    return f, (f if symmetric else landmark_distances(*reverse, lm))


def _cells_by_node(nodes: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    ok = np.flatnonzero(nodes >= 0)
    order = ok[np.argsort(nodes[ok], kind="stable")]
    ptr = np.zeros(n_nodes + 1, np.int64)
    np.cumsum(np.bincount(nodes[ok], minlength=n_nodes), out=ptr[1:])
    return order.astype(np.int64), ptr


def _expand(t_src, t_node, t_dist, cell_order, node_ptr, conn_cell):
    """(school, node, distance) triplets → (cell, school, cost) pairs for every cell at the node."""
    return expand_pairs(np.ascontiguousarray(t_src, np.int64), t_node, t_dist, cell_order,
                        node_ptr, conn_cell)


def network_pair_costs(graph: RoadGraph, cell_xy: np.ndarray, school_xy: np.ndarray,
                       radius_m: float | np.ndarray = np.inf, *,
                       max_connector_m: float = np.inf):
    """Network cost of every (cell, school) pair within each school's search radius.

    Returns ``cell``, ``school``, ``cost_m`` (arrays of the pairs found; cost = connector of
    the cell + road distance + connector of the school) — cells and schools off the network
    (farther than ``max_connector_m``) are left out.
    """
    cells = connect_points(graph, cell_xy, max_connector_m)
    schools = connect_points(graph, school_xy, max_connector_m)
    indptr, index, weight = graph.reversed_csr()
    radius = np.broadcast_to(np.asarray(radius_m, dtype=np.float64), (len(school_xy),))
    src, node, dist, _ = bounded_dijkstra(indptr, index, weight, schools.node,
                                          schools.connector_m,
                                          np.ascontiguousarray(radius + schools.connector_m))
    order, ptr = _cells_by_node(cells.node, graph.n_nodes)
    cell, school, cost = _expand(src, node, dist, order, ptr, cells.connector_m)
    return cell.astype(np.int64), school.astype(np.int64), cost


def road_routes(graph: RoadGraph, cell_xy: np.ndarray, school_xy: np.ndarray, *,
                max_connector_m: float = 300.0, simplify_m: float = 2.0) -> np.ndarray:
    """The road route from each cell to one school, as lines for a map.

    Parameters
    ----------
    graph : RoadGraph
    cell_xy : ndarray of shape (k, 2)
        Homes (metres, the graph's CRS).
    school_xy : array_like of shape (2,)
        The school.
    max_connector_m : float
        Points farther from every node travel by straight line (as the allocation does).
    simplify_m : float
        Douglas–Peucker tolerance (metres) of the drawn line (0: every vertex of the roads).

    Returns
    -------
    ndarray of shapely.LineString, shape (k,)
        Cell → its node → the shortest road path → the school's node → school (the route the
        allocation's distance measures, trips home → school); a straight line where the cell or
        the school is off the network or no road joins them. Deterministic: one search from the
        school, ties to the first node reached.
    """
    cell_xy = np.ascontiguousarray(cell_xy, dtype=np.float64).reshape(-1, 2)
    sxy = np.asarray(school_xy, dtype=np.float64).reshape(1, 2)
    straight = shapely.linestrings(np.stack([cell_xy, np.repeat(sxy, len(cell_xy), axis=0)],
                                            axis=1)) if len(cell_xy) else np.zeros(0, object)
    school = connect_points(graph, sxy, max_connector_m)
    if school.straight[0] or not len(cell_xy):
        return straight
    cells = connect_points(graph, cell_xy, max_connector_m)
    ip, ix, w = graph.reversed_csr()  # from the school, reversed: pred points home → school
    _, pred = path_tree(ip, ix, w, int(school.node[0]), 0.0)
    nodes, ptr = trace_paths(pred, np.where(cells.straight, -1, cells.node), int(school.node[0]))
    out = straight.copy()
    for p in np.flatnonzero(np.diff(ptr) > 0):
        pts = np.vstack([cell_xy[p], graph.node_xy[nodes[ptr[p]:ptr[p + 1]]], sxy])
        out[p] = shapely.linestrings(pts)
    if simplify_m > 0:
        out = shapely.simplify(out, simplify_m, preserve_topology=False)
    return out


def school_routes(graph: RoadGraph, allocation: Allocation, cell_xy: np.ndarray,
                  school_xy: np.ndarray, school: int, *, max_connector_m: float = 300.0,
                  simplify_m: float = 2.0) -> np.ndarray:
    """Road routes of the flows to one school of an allocation, for
    :func:`schoolmap.present.maps.add_assignment_lines` (``routes=``).

    ``cell_xy`` are the points the map draws from (the cells' representative points),
    ``school_xy`` (m, 2) the allocation's schools, ``school`` the row of the one drawn. Returns
    one line per flow to it, in the allocation's order (see :func:`road_routes`).
    """
    flows = np.flatnonzero(allocation.school == school)
    sxy = np.asarray(school_xy, dtype=np.float64).reshape(-1, 2)[school]
    return road_routes(graph, np.asarray(cell_xy, dtype=np.float64)[allocation.cell[flows]],
                       sxy, max_connector_m=max_connector_m, simplify_m=simplify_m)


def piece_notes(graph: RoadGraph, cells: NetworkCosts, demand_by_cell: np.ndarray,
                schools: NetworkCosts, school_ids: list[str], nearest_straight: np.ndarray,
                level: str = "") -> list[str]:
    """Notes on a network in several pieces: students per piece, schools cut off from cells."""
    notes = []
    if graph.n_pieces <= 1:
        return notes
    net = ~cells.straight & (demand_by_cell > 0)
    students = np.bincount(cells.component[net], weights=demand_by_cell[net],
                           minlength=graph.n_pieces)
    n_sch = np.bincount(schools.component[~schools.straight], minlength=graph.n_pieces)
    used = np.flatnonzero((students > 0) | (n_sch > 0))
    if len(used) > 1:
        parts = [f"piece {p + 1}: {students[p]:,.0f} students, {n_sch[p]} schools"
                 for p in used[:8]]
        more = f"; {len(used) - 8} more" if len(used) > 8 else ""
        notes.append(f"the {graph.mode} road network ({graph.source}) is in {len(used)} pieces "
                     f"that have {level} students or schools — {'; '.join(parts)}{more}. Trips "
                     "between pieces are impossible; join them (a missing bridge or link?)")
    for j, sid in enumerate(school_ids):
        if schools.straight[j]:
            continue
        mine = net & (nearest_straight == j) & (cells.component != schools.component[j])
        if mine.any():
            notes.append(f"school {sid} is unreachable by road from {int(mine.sum())} cells "
                         f"({demand_by_cell[mine].sum():,.0f} students) whose nearest school by "
                         f"straight line it is: it lies on piece {schools.component[j] + 1} of "
                         "the network, they do not")
    return notes


def _fallback_notes(cells: NetworkCosts, schools: NetworkCosts, demand: np.ndarray,
                    school_ids: list[str], max_connector_m: float) -> list[str]:
    notes = []
    c_barred = _barred(cells) & (demand > 0)
    far = cells.straight & (demand > 0) & ~c_barred
    if far.any():
        notes.append(f"{int(far.sum())} cells ({demand[far].sum():,.0f} students) are more than "
                     f"{max_connector_m:,.0f} m from any road: their trips are straight lines")
    if c_barred.any():
        rows = np.flatnonzero(c_barred)
        more = f" and {len(rows) - 8} more" if len(rows) > 8 else ""
        notes.append(f"{len(rows)} cells ({demand[c_barred].sum():,.0f} students; rows "
                     f"{', '.join(map(str, rows[:8]))}{more} of the cells) have roads within "
                     f"{max_connector_m:,.0f} m only across a river, railway or expressway (a "
                     "barrier of the roads layer): their trips are straight lines")
    s_barred = _barred(schools)
    for what, mask in (("more than {m} m from any road", schools.straight & ~s_barred),
                       ("within {m} m of roads only across a barrier", s_barred)):
        if mask.any():
            ids = [school_ids[j] for j in np.flatnonzero(mask)]
            notes.append(f"schools {', '.join(ids[:5])} are "
                         f"{what.format(m=f'{max_connector_m:,.0f}')}: their trips are straight "
                         "lines")
    return notes


def _barred(p: NetworkCosts) -> np.ndarray:
    return p.barred if p.barred is not None else np.zeros(len(p.node), bool)


def allocate_nearest_network(
    graph: RoadGraph,
    cell_xy: np.ndarray,
    demand_by_cell: np.ndarray,
    school_xy: np.ndarray,
    *,
    level: str = "",
    max_connector_m: float = 300.0,
    school_ids: list[str] | None = None,
) -> Allocation:
    """Send every cell's students to the nearest school by road (one multi-source Dijkstra).

    ``distance_m`` of the result is the road distance (connectors included). Cells that reach no
    school (another piece of the network) are unassigned, with a note.
    """
    cell_xy = np.ascontiguousarray(cell_xy, dtype=np.float64)
    school_xy = np.ascontiguousarray(np.asarray(school_xy, dtype=np.float64).reshape(-1, 2))
    demand_by_cell = np.ascontiguousarray(demand_by_cell, dtype=np.float64)
    check_inputs(cell_xy, demand_by_cell)
    n, m = len(cell_xy), len(school_xy)
    ids = school_ids or [str(j) for j in range(m)]
    if m == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Allocation(level, "nearest", empty, empty, np.zeros(0), np.zeros(0),
                          demand_by_cell, demand_by_cell.copy(), 0,
                          (f"no {level or 'open'} school: all students unassigned",))
    cells = connect_points(graph, cell_xy, max_connector_m)
    schools = connect_points(graph, school_xy, max_connector_m)
    indptr, index, weight = graph.reversed_csr()
    label, dist = nearest_source(indptr, index, weight, schools.node, schools.connector_m)
    best = np.full(n, -1, np.int64)
    cost = np.full(n, np.inf)
    net = ~cells.straight
    best[net] = label[cells.node[net]]
    cost[net] = dist[cells.node[net]] + cells.connector_m[net]
    # straight-line trips: cells off the network to any school, any cell to a school off it
    for rows, cols in ((np.flatnonzero(cells.straight), np.arange(m)),
                       (np.arange(n), np.flatnonzero(schools.straight))):
        if len(rows) and len(cols):
            d, k = cKDTree(school_xy[cols]).query(cell_xy[rows], k=1)
            j = cols[k]
            better = (d < cost[rows]) | ((d == cost[rows]) & (j < best[rows]))
            best[rows[better]], cost[rows[better]] = j[better], d[better]
    straight_nearest = cKDTree(school_xy).query(cell_xy, k=1)[1] if n else np.zeros(0, int)
    notes = _fallback_notes(cells, schools, demand_by_cell, ids, max_connector_m)
    notes += piece_notes(graph, cells, demand_by_cell, schools, ids, straight_nearest, level)
    has = np.flatnonzero((demand_by_cell > 0) & (best >= 0))
    lost = (demand_by_cell > 0) & (best < 0)
    if lost.any():
        notes.append(f"{int(lost.sum())} cells ({demand_by_cell[lost].sum():,.0f} {level} "
                     "students) reach no school by road: unassigned")
    unassigned = np.where(lost, demand_by_cell, 0.0)
    return Allocation(level, "nearest", has.astype(np.int64), best[has], demand_by_cell[has],
                      cost[has], demand_by_cell, unassigned, m, tuple(notes))


def _taken(p: NetworkCosts, perm: np.ndarray) -> NetworkCosts:
    """``p`` for the points ``perm`` (in that order)."""
    return NetworkCosts(p.node[perm], p.connector_m[perm], p.straight[perm], p.component[perm],
                        None if p.barred is None else p.barred[perm])


def _in_caller_order(r: TransportResult, perm: np.ndarray,
                     certificate: dict[str, Any]) -> TransportResult:
    """An answer on the cells ``perm`` (cell k of the solve is cell ``perm[k]``) on the caller's
    cells: per-cell arrays put back, flows sorted by cell, then cost (then school)."""
    cell = perm[r.cell].astype(r.cell.dtype, copy=False)
    order = np.lexsort((r.school, r.cost, cell))
    uc = np.asarray(r.unserved_cost)

    def back(a: np.ndarray) -> np.ndarray:
        out = np.empty_like(a)
        out[perm] = a
        return out

    return TransportResult(cell[order], r.school[order], r.students[order], r.cost[order],
                           back(r.unserved_by_cell), r.objective, r.seat_price,
                           back(r.cell_dual), back(uc) if np.ndim(uc) == 1 and len(uc) == len(perm)
                           else uc, certificate)


def _widen_to(v_c: np.ndarray, v_s: np.ndarray, need: np.ndarray, bound: np.ndarray,
              conn_cell: np.ndarray, conn_school: np.ndarray, m: int) -> np.ndarray:
    """The search radius (m,) each school must reach for the proof's violating pairs (0: none).

    A violating pair (i, j) needs school j's search to reach cell i if its road cost is below
    ``need`` = u_i − v_j. Its road cost is at least ``bound`` (> the radius already searched,
    connectors included) and, with landmark bounds, rarely much more: so the school is asked to
    reach ``min(need, REACH × bound)``; the pairs are each cell's ``PER_CELL`` violating pairs
    of least bound (the certificate's kernel keeps only those). A cell unserved in the
    restricted problem has a dual as large as the price of an unserved student and violates
    with every school of its piece: without the cap every school's search would widen to the
    whole network (at 250,000 cells × 250 schools: 50M pairs).
    Every asked radius exceeds the one searched (``need`` and ``REACH`` × ``bound`` both do), so
    the radii grow each round.
    """
    want = np.zeros(m)
    np.maximum.at(want, v_s, np.minimum(need, REACH * bound) - conn_cell[v_c] - conn_school[v_s])
    return want


def network_transport(
    graph: RoadGraph,
    cell_xy: Any,
    students: Any,
    school_xy: Any,
    seats: Any,
    *,
    max_distance_m: float | None = None,
    max_connector_m: float = 300.0,
    detour_max: float = 3.0,
    unserved_cost: Any = None,
    tol: float = 1e-6,
    max_rounds: int = MAX_ROUNDS,
    on_unproven: str = "raise",
    progress: Callable[[str], None] | None = None,
    n_landmarks: int = LANDMARKS,
    max_pricing: int = MAX_PRICING,
    connected: tuple[NetworkCosts, NetworkCosts] | None = None,
) -> TransportResult:
    """Exact capacitated allocation on road distances, proven optimal over all pairs.

    Parameters
    ----------
    graph : RoadGraph
    cell_xy, school_xy : array_like of shape (n, 2), (m, 2)
        Points, metres, in the graph's CRS.
    students, seats : array_like of shape (n,), (m,)
    max_distance_m : float, optional
        Longest allowed trip (road metres); farther pairs are not allowed.
    max_connector_m : float
        Points farther from every node travel by straight line.
    detour_max : float
        The reach pricing an unserved student: ``unserved_cost`` defaults to (m + 1) ×
        ``detour_max`` × (the district's diagonal + 2 × the longest connector used) + 1 — not
        the longest allowed, which may be a huge "no limit" and whose price would swamp the
        solve's arithmetic (an unserved price of 10¹¹ m leaves 10⁻⁵ m of float noise). (The first
        search radius of a school is ``FIRST_RADIUS`` × its nearest-by-road catchment radius:
        on a city whose seats are short here and spare there, a first solve cut short at 1.25 ×
        leaves cells unserved whose duals send the proof wide; the proof widens where it must.)
    max_rounds : int
        Solve rounds (each widening the radii the proof asks for) before giving up.
    on_unproven : {"raise", "warn"}
        As in :func:`schoolmap.optimal.assign`.
    max_pricing : int
        Solves per round (the known pairs entering the solve as the prices ask, see
        :func:`~schoolmap.allocation.network_solve.solve_priced`) before giving up (unproven,
        ``round_limit_hit``).
    n_landmarks : int
        Landmarks of the ALT lower bound (0: straight line and search radius only). Each costs
        one full search of the graph (two on a graph with one-way streets).
    connected : (NetworkCosts, NetworkCosts), optional
        The cells and schools already joined to ``graph`` (:func:`connect_points` with this
        ``max_connector_m``), so a caller that needs them too joins them once.

    Returns
    -------
    TransportResult
        Costs in road metres. ``certificate`` as :func:`~schoolmap.optimal.transport`'s, with
        ``max_violation`` over *all* pairs (by the lower bound), ``pairs_checked`` /
        ``pairs_bounded`` of the all-pairs check, ``rounds``, ``searches`` (Dijkstra runs),
        ``widened`` (schools whose radius grew), ``travel`` (the graph's mode).
    """
    bad = ([f"on_unproven must be 'raise' or 'warn', got {on_unproven!r}"]
           if on_unproven not in ("raise", "warn") else [])
    if not isinstance(max_rounds, int) or max_rounds < 1:
        bad.append(f"max_rounds must be a whole number ≥ 1, got {max_rounds!r}")
    if not isinstance(max_pricing, int) or max_pricing < 1:
        bad.append(f"max_pricing must be a whole number ≥ 1, got {max_pricing!r}")
    if bad:
        raise ValidationError(bad, "network allocation")
    xy = np.ascontiguousarray(np.asarray(cell_xy, dtype=np.float64).reshape(-1, 2))
    sxy = np.ascontiguousarray(np.asarray(school_xy, dtype=np.float64).reshape(-1, 2))
    supply = np.ascontiguousarray(students, dtype=np.float64)
    cap = np.ascontiguousarray(seats, dtype=np.float64)
    n, m = len(xy), len(sxy)
    say = progress or (lambda _msg: None)
    # the cells in grid-square order (as the proof streams them): the searches', solves' and
    # proof's reads over cells then fall near each other; the answer is mapped back at the end
    perm, bin_ptr = cell_bins(xy, CELLS_PER_BIN)
    bin_cells = np.arange(n, dtype=np.int64)
    xy, supply = xy[perm], supply[perm]
    if unserved_cost is not None and np.ndim(unserved_cost) and np.size(unserved_cost) == n:
        unserved_cost = np.asarray(unserved_cost, dtype=np.float64)[perm]
    if connected is not None:
        cells, schools = _taken(connected[0], perm), connected[1]
    else:
        cells = connect_points(graph, xy, max_connector_m)
        schools = connect_points(graph, sxy, max_connector_m)
    indptr, index, weight = graph.reversed_csr()
    # ALT bounds: d(a → b) ≥ d(L, b) − d(L, a) and ≥ d(a, L) − d(b, L) for every landmark L
    lf, lt = landmark_bounds(graph, (graph.indptr, graph.index, graph.length_m),
                             (indptr, index, weight), n_landmarks)
    def _at(p: NetworkCosts, a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.where(p.straight[:, None], np.inf, a[np.maximum(p.node, 0)]))

    lf_c, lf_s = _at(cells, lf), _at(schools, lf)
    lt_c, lt_s = (lf_c, lf_s) if lt is lf else (_at(cells, lt), _at(schools, lt))  # both ways
    del lf, lt
    upper = np.inf if max_distance_m is None else float(max_distance_m)
    if unserved_cost is None and n and m:
        lo = np.minimum(xy.min(axis=0), sxy.min(axis=0))
        hi = np.maximum(xy.max(axis=0), sxy.max(axis=0))
        links = np.concatenate([cells.connector_m[~cells.straight],
                                schools.connector_m[~schools.straight], [0.0]])
        reach = upper if np.isfinite(upper) else detour_max * (
            float(np.hypot(*(hi - lo))) + 2 * float(links.max()))
        unserved_cost = (m + 1) * reach + 1.0
    elif unserved_cost is None:
        unserved_cost = 1.0

    # first radii: FIRST_RADIUS × each school's nearest-by-road catchment
    label, dist = nearest_source(indptr, index, weight, schools.node, schools.connector_m)
    net_cells = np.flatnonzero(~cells.straight)
    radius = np.full(m, 500.0)
    if len(net_cells):
        lab = label[cells.node[net_cells]]
        ok = lab >= 0
        np.maximum.at(radius, lab[ok], dist[cells.node[net_cells[ok]]] - schools.connector_m[
            lab[ok]])
    radius = np.minimum(FIRST_RADIUS * radius, upper - schools.connector_m)
    radius[schools.straight] = 0.0
    order, ptr = _cells_by_node(cells.node, graph.n_nodes)

    # straight-line pairs: cells off the network to their few nearest schools (and the reverse)
    s_rows, s_cols, s_cost = [], [], []
    off = np.flatnonzero(cells.straight)
    if len(off) and m:
        kk = min(m, 4)
        d, k = cKDTree(sxy).query(xy[off], k=kk)
        d, k = d.reshape(len(off), kk), k.reshape(len(off), kk)
        s_rows.append(np.repeat(off, kk))
        s_cols.append(k.ravel())
        s_cost.append(d.ravel())
    straight_pairs = [np.concatenate(a) if a else np.zeros(0, t)
                      for a, t in ((s_rows, np.int64), (s_cols, np.int64), (s_cost, np.float64))]

    todo = np.flatnonzero(~schools.straight)
    # the searches' pairs: cell, school, metres (a school searched again replaces its own)
    found = [np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)]
    searched = np.zeros(m)
    exhausted = np.zeros(m, bool)
    cert: dict[str, Any] = {}
    rounds = searches = pricing = 0
    r: TransportResult | None = None  # the last round's answer: where the next one starts
    widened: set[int] = set()
    while True:
        rounds += 1
        if len(todo):
            src, node, dd, exh = bounded_dijkstra(
                indptr, index, weight, schools.node[todo], schools.connector_m[todo],
                np.ascontiguousarray(radius[todo] + schools.connector_m[todo]))
            searches += len(todo)
            new = _expand(todo[src], node, dd, order, ptr, cells.connector_m)
            del src, node, dd
            again = np.zeros(m, bool)
            again[todo] = True
            old = ~again[found[1]]
            found = [np.concatenate([a[old], b]) for a, b in zip(found, new, strict=True)]
            del new, old
            searched[todo] = radius[todo]
            exhausted[todo] = exh
        # the known pairs by cell (the sparse door's order: its sort finds them sorted)
        rows, cols, vals, _ = sort_pairs(
            np.concatenate([found[0], straight_pairs[0].astype(np.int32)]),  # n, m < 2³¹
            np.concatenate([found[1], straight_pairs[1].astype(np.int32)]),
            np.concatenate([found[2], straight_pairs[2]]), n, upper)
        say(f"{n:,} cells × {m:,} schools by road: round {rounds}, {len(rows):,} pairs known")
        first = r if r is not None else coarse_prices(xy, supply, cap, rows, cols, vals,
                                                        unserved_cost, tol, say)
        r, active, solves, priced_out = solve_priced(
            supply, cap, rows, cols, vals, unserved_cost, tol, first, max_pricing, say)
        pricing += solves
        cert = dict(r.certificate)
        # all pairs: a school whose search settled everything reachable (or everything
        # allowed) has no unseen pair on its piece
        eff = np.where(exhausted | (searched + schools.connector_m >= upper), np.inf, searched)
        v_c, v_s, need, bound, worst, checked, n_viol = lower_bound_violations(
            xy, bin_cells, bin_ptr, sxy, r.seat_price, r.cell_dual, eff, cells.connector_m,
            schools.connector_m, cells.component, schools.component, cells.straight,
            schools.straight, tol, lf_c, lt_c, lf_s, lt_s, upper, PER_CELL)
        cert.update(max_violation=float(worst), pairs_checked=int(checked),
                    pairs_bounded=n * m - int(checked), rounds=rounds, searches=searches,
                    travel=graph.mode, candidates=active, pairs_known=len(rows),
                    pairs_violating=int(n_viol), solves=pricing)
        if priced_out:  # max_pricing solves in one round: unproven, as at max_rounds
            cert["round_limit_hit"] = cert["pricing_limit_hit"] = True
            break
        if not len(v_c):
            break
        if rounds >= max_rounds:
            cert["round_limit_hit"] = True
            break
        straight = cells.straight[v_c] | schools.straight[v_s]
        if straight.any():
            a, b = v_c[straight], v_s[straight]
            straight_pairs = [np.concatenate([straight_pairs[0], a]),
                              np.concatenate([straight_pairs[1], b]),
                              np.concatenate([straight_pairs[2], np.hypot(*(xy[a] - sxy[b]).T)])]
        want = _widen_to(v_c[~straight], v_s[~straight], need[~straight], bound[~straight],
                         cells.connector_m, schools.connector_m, m)
        todo = np.flatnonzero(want > 0)
        radius[todo] = np.minimum(np.maximum(want[todo] + 1.0, WIDEN * radius[todo]),
                                  upper - schools.connector_m[todo])
        widened.update(todo.tolist())
        say(f"  proof asks for wider searches at {len(todo)} schools")
    cert["widened"] = len(widened)
    cert["optimal"] = bool(cert["optimal"] and cert["max_violation"] <= tol
                           and not cert.get("round_limit_hit"))
    out = _in_caller_order(r, perm, cert)
    if not cert["optimal"]:
        refuse_unproven(out, f"exact allocation by road of {n:,} cells × {m:,} schools",
                        max_rounds, "raise max_rounds (or max_pricing, if pricing_limit_hit)",
                        on_unproven)
    return out


def allocate_optimal_network(
    graph: RoadGraph,
    cell_xy: np.ndarray,
    demand_by_cell: np.ndarray,
    school_xy: np.ndarray,
    seats: np.ndarray,
    *,
    level: str = "",
    max_distance_m: float | None = None,
    max_connector_m: float = 300.0,
    detour_max: float = 3.0,
    school_ids: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Allocation:
    """:func:`schoolmap.allocation.allocate_optimal` on road distances (certified)."""
    demand_by_cell = np.ascontiguousarray(demand_by_cell, dtype=np.float64)
    cell_xy = np.ascontiguousarray(cell_xy, dtype=np.float64)
    check_inputs(cell_xy, demand_by_cell)
    school_xy = np.asarray(school_xy, dtype=np.float64).reshape(-1, 2)
    m = len(school_xy)
    cells = connect_points(graph, cell_xy, max_connector_m)
    schools = connect_points(graph, school_xy, max_connector_m)
    r = network_transport(graph, cell_xy, demand_by_cell, school_xy, seats,
                          max_distance_m=max_distance_m, max_connector_m=max_connector_m,
                          detour_max=detour_max, progress=progress, connected=(cells, schools))
    ids = school_ids or [str(j) for j in range(m)]
    notes = _fallback_notes(cells, schools, demand_by_cell, ids, max_connector_m)
    if m and len(cell_xy):
        near = cKDTree(school_xy).query(cell_xy, k=1)[1]
        notes += piece_notes(graph, cells, demand_by_cell, schools, ids, near, level)
    left = float(np.sum(r.unserved_by_cell))
    if left > 0:
        where = f" within {max_distance_m:,.0f} m by road" if max_distance_m else ""
        notes.append(f"{left:,.0f} {level} students get no seat{where}: seats run out or no "
                     "road reaches one")
    return Allocation(level, "optimal", r.cell, r.school, r.students.astype(np.float64),
                      r.cost, demand_by_cell, r.unserved_by_cell.astype(np.float64),
                      m, tuple(notes), r.seat_price, r.certificate)
