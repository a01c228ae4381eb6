"""Location models (schoolmap.siting) against published optima and brute force."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from schoolmap.errors import InfeasibleError, ValidationError
from schoolmap.siting import cflp, lscp, mclp, p_center, p_median

from .conftest import read_cap

DATA = Path(__file__).parent / "data"
PMED = [f"pmed{k}" for k in range(1, 11)]


# --------------------------------------------------------------------------- loaders

def _read_sf():
    folder = DATA / "spopt_sf"
    dist = pd.read_csv(folder / "SF_network_distance_candidateStore_16_censusTract_205_new.csv",
                       dtype={"DestinationName": str})
    table = dist.pivot_table(values="distance", index="DestinationName", columns="name")
    demand = pd.read_csv(folder / "SF_demand_205_centroid_uniform_weight.csv",
                         dtype={"NAME": str}).sort_values("NAME")
    assert table.index.tolist() == demand["NAME"].tolist()
    expected = json.loads((folder / "expected_values.json").read_text())["oracles"]
    return (table.to_numpy(), demand["POP2000"].to_numpy(dtype=float),
            table.columns.tolist(), expected)


def _read_pmed(name):
    tokens = (DATA / "orlib_pmed" / f"{name}.txt").read_text().split()
    n, n_edges, p = int(tokens[0]), int(tokens[1]), int(tokens[2])
    edges = np.array(tokens[3:3 + 3 * n_edges], dtype=float).reshape(n_edges, 3)
    graph = np.zeros((n, n))
    for i, j, c in edges:  # in file order: a repeated edge keeps its last cost
        graph[int(i) - 1, int(j) - 1] = graph[int(j) - 1, int(i) - 1] = c
    return shortest_path(sp.csr_matrix(graph), directed=False), p


def _pmed_optima():
    return pd.read_csv(DATA / "orlib_pmed" / "optima.csv", index_col="instance")


@pytest.fixture(scope="module")
def sf():
    return _read_sf()


# --------------------------------------------------------------------------- spopt SF

@pytest.mark.parametrize("exact", [False, True])
def test_sf_p_median(sf, exact):
    cost, w, names, expected = sf
    r = p_median(cost, w, 4, exact=exact)
    assert r.objective / w.sum() == pytest.approx(
        expected["pmedian_p4_mean_weighted_distance"]["expected"], rel=1e-9)
    assert sorted(names[j] for j in r.sites) == ["Store_11", "Store_12", "Store_15", "Store_2"]
    assert r.lower_bound <= r.objective + 1e-6
    if exact:
        assert r.optimal and r.gap == 0


def test_sf_mclp(sf):
    cost, w, _, expected = sf
    oracle = expected["mclp_p4_S5000_uncovered_clients"]
    r = mclp(cost, w, 4, 5000.0, exact=True)
    assert r.detail["uncovered"] == oracle["expected"] == 21
    assert 100 * r.detail["covered"].mean() == pytest.approx(oracle["perc_clients_covered"])
    assert r.objective == pytest.approx(oracle["covered_population"])
    assert r.optimal
    h = mclp(cost, w, 4, 5000.0)
    assert h.lower_bound <= oracle["covered_population"] + 1e-6 <= h.upper_bound + 2e-6
    assert h.objective >= 0.99 * oracle["covered_population"]


def test_sf_lscp(sf):
    cost, _, _, expected = sf
    r = lscp(cost, 5000.0, exact=True)
    assert r.objective == len(r.sites) == expected["lscp_S5000_min_facilities"]["expected"]
    assert r.optimal
    assert (cost[:, r.sites].min(axis=1) <= 5000.0).all()
    h = lscp(cost, 5000.0)
    assert h.lower_bound <= 8 <= h.objective
    assert (cost[:, h.sites].min(axis=1) <= 5000.0).all()


def test_sf_p_center(sf):
    cost, _, _, expected = sf
    r = p_center(cost, 4, exact=True)
    assert r.objective == pytest.approx(expected["pcenter_p4_optimal_radius"]["expected"])
    assert r.optimal and len(r.sites) == 4
    h = p_center(cost, 4)
    assert h.lower_bound <= r.objective <= h.objective


# --------------------------------------------------------------------------- OR-Library pmed

@pytest.fixture(scope="module")
def pmed():
    return {name: _read_pmed(name) for name in PMED}


@pytest.mark.parametrize("name", PMED)
def test_pmed_heuristic_within_half_percent(pmed, name):
    cost, p = pmed[name]
    optimum = _pmed_optima().loc[name, "p_median_optimum"]
    r = p_median(cost, np.ones(len(cost)), p)
    assert len(r.sites) == p
    assert r.lower_bound <= optimum <= r.objective <= 1.005 * optimum
    assert r.objective == pytest.approx(cost[np.arange(len(cost)), r.assignment].sum())


# pmed6 is the slow one (~15 s): its LP bound is 0.5 % below the optimum and HiGHS branches
@pytest.mark.parametrize("name", PMED)
def test_pmed_exact(pmed, name):
    cost, p = pmed[name]
    r = p_median(cost, np.ones(len(cost)), p, exact=True)
    assert r.objective == _pmed_optima().loc[name, "p_median_optimum"]
    assert r.optimal and r.lower_bound == r.objective


@pytest.mark.parametrize("name", PMED)
def test_pmed_p_center_exact(pmed, name):
    cost, p = pmed[name]
    r = p_center(cost, p, exact=True)
    assert r.objective == _pmed_optima().loc[name, "p_center_optimum"]
    assert r.optimal and len(r.sites) == p


# --------------------------------------------------------------------------- OR-Library cap

@pytest.mark.parametrize("name", ["cap71", "cap72", "cap73", "cap74"])
def test_cap_cflp(name):
    capacity, fixed, demand, cost, _, optimum = read_cap(name)
    cost = cost / demand[:, None]  # the file gives the cost of serving ALL demand
    h = cflp(cost, demand, capacity, fixed)
    assert h.lower_bound <= optimum + 1e-6
    assert optimum - 1e-6 <= h.objective <= 1.01 * optimum
    flows = h.detail["flows"]
    assert flows.sum(axis=1) == pytest.approx(demand)
    assert (flows.sum(axis=0) <= capacity + 1e-6).all()
    r = cflp(cost, demand, capacity, fixed, exact=True)
    assert r.objective == pytest.approx(optimum, rel=1e-9)
    assert r.optimal


# --------------------------------------------------------------------------- brute force

def _brute_p_median(cost, w, p, fixed=()):
    best = np.inf
    for s in itertools.combinations(range(cost.shape[1]), p):
        if set(fixed) <= set(s):
            best = min(best, float(w @ cost[:, list(s)].min(axis=1)))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_p_median_matches_brute_force_with_fixed_sites(seed):
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0, 100, (30, 8))
    w = rng.integers(0, 5, 30).astype(float)
    fixed = [int(seed % 8)]
    for exact in (False, True):
        r = p_median(cost, w, 3, fixed=fixed, exact=exact)
        assert fixed[0] in r.sites
        optimum = _brute_p_median(cost, w, 3, fixed)
        assert r.lower_bound <= optimum + 1e-6
        assert r.objective <= 1.01 * optimum
        if exact:
            assert r.objective == pytest.approx(optimum) and r.optimal


def test_p_median_all_sites_fixed_and_single_site():
    cost = np.array([[1.0, 2.0], [3.0, 1.0]])
    r = p_median(cost, [1, 1], 2, fixed=[0, 1])
    assert r.sites.tolist() == [0, 1] and r.objective == 2.0 and r.optimal
    r = p_median(cost, [1, 1], 1)
    assert r.objective == 3.0 and r.optimal


def test_lscp_unreachable_demand_is_infeasible():
    with pytest.raises(InfeasibleError, match="no candidate site within radius"):
        lscp(np.array([[1.0, 2.0], [50.0, 60.0]]), 10.0)


def test_cflp_too_little_capacity():
    with pytest.raises(InfeasibleError, match="exceeds the capacity"):
        cflp(np.ones((2, 2)), [5, 5], [3, 3], [1, 1])


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize(("call", "match"), [
    (lambda: p_median(np.ones(3), [1, 1, 1], 1), "must be 2-D"),
    (lambda: p_median(np.array([[1.0, np.nan]]), [1], 1), "NaN"),
    (lambda: p_median(np.array([[1.0, -2.0]]), [1], 1), "negative"),
    (lambda: p_median(np.array([[1.0, np.inf]]), [1], 1), "inf"),
    (lambda: p_median(np.ones((2, 3)), [1, 1, 1], 1), "weights has 3 entries, expected 2"),
    (lambda: p_median(np.ones((2, 3)), [1, -1], 1), "weights is negative"),
    (lambda: p_median(np.ones((2, 3)), [1, 1], 4), r"p = 4 is out of range"),
    (lambda: p_median(np.ones((2, 3)), [1, 1], 0), r"p = 0 is out of range"),
    (lambda: p_median(np.ones((2, 3)), [1, 1], 1.5), "whole number"),
    (lambda: p_median(np.ones((2, 3)), [1, 1], 1, fixed=[0, 2]), r"p = 1 is out of range"),
    (lambda: p_median(np.ones((2, 3)), [1, 1], 2, fixed=[5]), "outside 0..2"),
    (lambda: p_median(np.zeros((0, 3)), [], 1), "empty"),
    (lambda: p_center(np.ones((2, 3)), 9), "out of range"),
    (lambda: mclp(np.ones((2, 3)), [1, 1], 1, -5), "radius must be finite"),
    (lambda: lscp(np.ones((2, 3)), np.nan), "radius must be finite"),
    (lambda: cflp(np.ones((2, 3)), [1, 1], [1, 1], [1, 1, 1]), "capacity has 2 entries"),
    (lambda: p_median(sp.csr_matrix(np.ones((2, 2))), [1, 1], 1), "dense array"),
])
def test_bad_input_is_a_validation_error(call, match):
    with pytest.raises(ValidationError, match=match):
        call()


def test_cflp_local_search_is_bounded_and_says_so(monkeypatch):
    # issue 19: the local search stops at its round or time limit with its best set so far —
    # feasible, the LP bound and gap still reported, and the limit named in detail
    import schoolmap.planning.siting.models as models

    capacity, fixed, demand, cost, _, optimum = read_cap("cap71")
    cost = cost / demand[:, None]
    free = cflp(cost, demand, capacity, fixed)
    assert "search_stopped" not in free.detail
    monkeypatch.setattr(models, "CFLP_MAX_ROUNDS", 1)
    one = cflp(cost, demand, capacity, fixed)
    assert one.detail["search_stopped"] == "round limit (1)"
    assert one.objective >= free.objective - 1e-6 and one.lower_bound <= optimum + 1e-6
    monkeypatch.setattr(models, "CFLP_MAX_ROUNDS", 1_000)
    now = cflp(cost, demand, capacity, fixed, time_limit=1e-9)
    assert now.detail["search_stopped"] == "time limit (1e-09 s)"
    assert len(now.sites) == cost.shape[1] and now.gap >= one.gap  # all sites: still feasible
    for r in (one, now):
        flows = r.detail["flows"]
        assert flows.sum(axis=1) == pytest.approx(demand)
        assert (flows.sum(axis=0) <= capacity + 1e-6).all()
