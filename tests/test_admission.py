"""Admission: 派位 lottery, 志愿优先 (immediate acceptance), deferred acceptance, 指标生 quotas."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from schoolmap._kernels import admission as K
from schoolmap._kernels.sampling import hypergeometric_many
from schoolmap.errors import ValidationError
from schoolmap.planning.admission import (
    MECHANISMS,
    admission_odds,
    largest_remainder,
    split_quota,
)

# Toy (6 students, 3 schools A B C at x = 0, 1000, 2000 m; 2 seats each; cells at the schools):
#   Z: class 0, 2 students, lists A, C  — first in every mechanism
#   X: class 1, 2 students, lists A, B
#   Y: class 2, 2 students, lists B, C
# lottery / DA: Z gets A; X, rejected at A, takes B ahead of Y; Y gets C — stable.
# 志愿优先: round 1 A takes Z, B takes Y (its first choices); X finds B full in round 2 and is
# placed by the bureau at C (2000 m beyond A). X envies Y at B with better priority: unstable.
SCHOOL_XY = np.array([[0.0, 0.0], [1000.0, 0.0], [2000.0, 0.0]])
CELL_XY = np.array([[0.0, 0.0], [0.0, 0.0], [1000.0, 0.0]])
APPLICANTS = np.array([[2, 0, 0], [0, 2, 0], [0, 0, 2]])  # cells Z, X, Y × classes
SEATS = np.array([2, 2, 2])


def toy(mechanism, lists=((0, 2), (0, 1), (1, 2)), draws=20, seed=0):
    indptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])])
    school = np.array([s for x in lists for s in x])
    return admission_odds(APPLICANTS, SEATS, CELL_XY, SCHOOL_XY, preferences=(indptr, school),
                          mechanism=mechanism, draws=draws, seed=seed)


def got(odds, group):
    """{school: chance} of a group, plus 'out' and 'none'."""
    a, b = odds.pref_indptr[group], odds.pref_indptr[group + 1]
    out = {int(s): round(float(c), 6) for s, c in zip(odds.pref_school[a:b], odds.chance[a:b],
                                                       strict=True) if c > 0}
    if odds.chance_outside[group] > 0:
        out["out"] = round(float(odds.chance_outside[group]), 6)
    return out


@pytest.mark.parametrize("mechanism", ["lottery", "da_stb", "da_mtb"])
def test_toy_stable_mechanisms(mechanism):
    odds = toy(mechanism)
    assert [got(odds, g) for g in range(3)] == [{0: 1.0}, {1: 1.0}, {2: 1.0}]
    assert odds.by_class()["placed_outside"].sum() == 0


def test_toy_immediate_acceptance_is_unstable_and_manipulable():
    odds = toy("boston")
    assert [got(odds, g) for g in range(3)] == [{0: 1.0}, {"out": 1.0}, {1: 1.0}]
    assert odds.extra_distance_m[1] == 2000.0  # X lives at A (its first choice); C is 2 km off
    assert odds.outside_by_school.tolist() == [0.0, 0.0, 2.0]
    # X lying (B first) gets B under 志愿优先 — truth-telling does not pay there …
    assert got(toy("boston", lists=((0, 2), (1, 0), (1, 2))), 1) == {1: 1.0}
    # … and under deferred acceptance the lie gains nothing: B either way
    assert got(toy("da_stb", lists=((0, 2), (1, 0), (1, 2))), 1) == {1: 1.0}


def test_toy_lottery_splits_ties():
    # everyone class 0, all list A then B: 2 of 6 get A, 2 get B, 2 are placed at C
    indptr, school = np.array([0, 2, 4, 6]), np.array([0, 1, 0, 1, 0, 1])
    for mech in MECHANISMS:
        odds = admission_odds(np.array([[2], [2], [2]]), SEATS, CELL_XY, SCHOOL_XY,
                              preferences=(indptr, school), mechanism=mech, draws=3000, seed=3)
        assert np.allclose(odds.chance, 1 / 3, atol=0.03), mech
        assert np.allclose(odds.chance_outside, 1 / 3, atol=0.03), mech
        assert (odds.outside_by_draw.sum(axis=1) == 2).all()


def random_instance(rng, n_groups=40, m=6, n_classes=3):
    group_cell = np.arange(n_groups, dtype=np.int64)
    group_class = rng.integers(0, n_classes, n_groups).astype(np.int64)
    count = rng.integers(1, 5, n_groups).astype(np.int64)
    lists = [rng.permutation(m)[:rng.integers(1, m + 1)] for _ in range(n_groups)]
    indptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
    school = np.concatenate(lists).astype(np.int64)
    priority = rng.integers(0, n_classes, len(school)).astype(np.int64)  # school-specific
    seats = rng.integers(0, 2 * int(count.sum()) // m + 1, m).astype(np.int64)
    fb_indptr = np.arange(n_groups + 1, dtype=np.int64) * m
    fb_school = np.tile(np.arange(m), n_groups).astype(np.int64)
    fb_dist = np.tile(np.arange(m, dtype=np.float64), n_groups)
    return (group_cell, group_class, count, indptr, school, priority, seats, fb_indptr,
            fb_school, fb_dist, np.zeros(n_groups), n_classes)


def test_deferred_acceptance_equals_matching_library():
    hr = pytest.importorskip("matching.games").HospitalResident
    rng = np.random.default_rng(7)
    for trial in range(25):
        inst = random_instance(rng)
        (_, _, _, indptr, school, priority, seats, *_rest) = inst
        group_of, school_of, entry_of = K.admit_once(2, *inst, 11, trial)
        residents, ranks = {}, {j: [] for j in range(len(seats))}
        for t, g in enumerate(group_of):
            lst = school[indptr[g]:indptr[g + 1]].tolist()
            residents[f"r{t}"] = [f"h{j}" for j in lst]
            for k, j in enumerate(lst):  # the kernel's ranking: priority, then lottery position
                ranks[j].append((int(priority[indptr[g] + k]), t))
        # a school with no seat rejects everyone: left out (the library cannot take it)
        open_ = {j for j, v in ranks.items() if v and seats[j] > 0}
        residents = {r: [h for h in lst if int(h[1:]) in open_] for r, lst in residents.items()}
        residents = {r: lst for r, lst in residents.items() if lst}
        hospitals = {f"h{j}": [f"r{t}" for _, t in sorted(ranks[j])
                               if f"r{t}" in residents] for j in open_}
        caps = {f"h{j}": int(seats[j]) for j in open_}
        with warnings.catch_warnings():  # it warns of schools with no seat, residents with
            warnings.simplefilter("ignore")  # no list: both simply stay out of the matching
            game = hr.create_from_dictionaries(residents, hospitals, caps)
            solved = game.solve(optimal="resident")
        expect = np.full(len(group_of), -1)
        for h, rs in solved.items():
            for r in rs:
                expect[int(r.name[1:])] = int(h.name[1:])
        mine = np.where(entry_of >= 0, school_of, -1)
        assert (mine == expect).all(), trial


@pytest.mark.parametrize("mech", [0, 1, 2, 3])
def test_no_school_over_its_seats(mech):
    rng = np.random.default_rng(mech)
    for trial in range(20):
        inst = random_instance(rng)
        seats = inst[6]
        _, school_of, entry_of = K.admit_once(mech, *inst, 5, trial)
        taken = np.bincount(school_of[school_of >= 0], minlength=len(seats))
        assert (taken <= seats).all()
        # a student left without a seat means every school is full
        if (entry_of == K.NO_SEAT).any():
            assert (taken == seats).all()


@pytest.mark.parametrize("mechanism", ["lottery", "boston"])
def test_typed_draw_never_over_seats(mechanism):
    rng = np.random.default_rng(1)
    n_cells, m = 30, 5
    cell_xy, school_xy = rng.uniform(0, 5000, (n_cells, 2)), rng.uniform(0, 5000, (m, 2))
    applicants = rng.integers(0, 8, (n_cells, 3))
    zone_of_cell = rng.integers(-1, 2, n_cells)
    zones = (np.array([0, 3, 5]), np.array([0, 1, 2, 3, 4]))
    seats = rng.integers(5, 60, m)
    for seed in range(15):
        odds = admission_odds(applicants, seats, cell_xy, school_xy, zone_of_cell=zone_of_cell,
                              zones=zones, mechanism=mechanism, draws=1, seed=seed)
        per_group = np.repeat(odds.applicants, np.diff(odds.pref_indptr))
        taken = np.bincount(odds.pref_school, weights=odds.chance * per_group, minlength=m)
        assert (taken + odds.outside_by_school <= seats + 1e-9).all()
        total = taken.sum() + odds.outside_by_school.sum()
        assert total == pytest.approx(min(seats.sum(), applicants.sum()))


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_first_choice_chance_is_seats_over_applicants(mechanism):
    # 100 applicants in 3 cells, all list school 0 (37 seats) first; cells differ after that
    applicants = np.array([[30], [50], [20]])
    indptr, school = np.array([0, 2, 4, 6]), np.array([0, 1, 0, 2, 0, 1])
    xy = np.array([[0.0, 0.0], [500.0, 0.0], [900.0, 0.0]])
    odds = admission_odds(applicants, np.array([37, 60, 60]), xy, xy,
                          preferences=(indptr, school), mechanism=mechanism, draws=1500, seed=2)
    assert np.abs(odds.chance_first() - 0.37).max() < 0.01


def test_typed_lottery_agrees_with_student_by_student_kernel():
    rng = np.random.default_rng(4)
    n_cells, m = 25, 4
    cell_xy, school_xy = rng.uniform(0, 3000, (n_cells, 2)), rng.uniform(0, 3000, (m, 2))
    applicants = rng.integers(0, 6, (n_cells, 2))
    kw = dict(zone_of_cell=np.zeros(n_cells, dtype=np.int64),
              zones=(np.array([0, 4]), np.arange(4)), draws=3000, seed=9)
    seats = np.array([20, 15, 10, 12])
    fast = admission_odds(applicants, seats, cell_xy, school_xy, mechanism="lottery", **kw)
    slow = admission_odds(applicants, seats, cell_xy, school_xy, mechanism="da_stb", **kw)
    assert np.abs(fast.chance - slow.chance).max() < 0.04
    assert np.abs(fast.chance_outside - slow.chance_outside).max() < 0.04


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_same_seed_same_result(mechanism):
    indptr, school = np.array([0, 2, 4, 6]), np.array([0, 1, 0, 2, 1, 0])
    a, b, c = (admission_odds(np.array([[3], [2], [2]]), SEATS, CELL_XY, SCHOOL_XY,
                              preferences=(indptr, school), mechanism=mechanism, draws=40,
                              seed=s) for s in (5, 5, 6))
    assert np.array_equal(a.chance, b.chance)
    assert np.array_equal(a.chance_outside, b.chance_outside)
    assert np.array_equal(a.outside_by_draw, b.outside_by_draw)
    # another seed, other draws (their sums may coincide over 40 draws: compare the draws)
    assert not np.array_equal(a.outside_by_draw, c.outside_by_draw)


def test_quotas_exact_and_within_one_seat():
    rng = np.random.default_rng(0)
    for _ in range(200):
        grads = rng.integers(0, 500, rng.integers(1, 30))
        quota = int(rng.integers(0, 400))
        share = split_quota(quota, grads)
        assert share.sum() == quota
        exact = quota * grads / grads.sum() if grads.sum() else np.full(len(grads),
                                                                         quota / len(grads))
        assert np.abs(share - exact).max() < 1
    # ties: more graduates first, then the school listed first
    assert split_quota(2, np.array([100, 100, 100])).tolist() == [1, 1, 0]
    assert largest_remainder(np.array([1.0, 3.0, 1.0, 3.0]), 1).tolist() == [0, 1, 0, 0]


def test_bad_input_names_every_problem():
    with pytest.raises(ValidationError, match="mechanism 'dice' unknown.*\n.*draws"):
        admission_odds(np.array([[1]]), np.array([1]), np.zeros((1, 2)), np.zeros((1, 2)),
                       mechanism="dice", draws=0)
    with pytest.raises(ValidationError, match="whole students"):
        admission_odds(np.array([[1.5]]), np.array([1]), np.zeros((1, 2)), np.zeros((1, 2)))


@pytest.mark.parametrize("good, bad, sample", [(300, 200, 250), (30, 2000, 500), (7, 3, 4),
                                               (40, 60, 95), (5000, 5000, 3000), (1, 99, 50)])
def test_hypergeometric_sampler_matches_the_exact_law(good, bad, sample):
    stats = pytest.importorskip("scipy.stats")
    x = hypergeometric_many(good, bad, sample, 200_000, 3)
    lo, hi = max(0, sample - bad), min(good, sample)
    assert x.min() >= lo and x.max() <= hi
    k = np.arange(lo, hi + 1)
    observed = np.bincount(x - lo, minlength=len(k)).astype(float)
    expected = stats.hypergeom(good + bad, good, sample).pmf(k) * len(x)
    # chi-square over bins pooled to ≥ 20 expected (the tails pooled into their neighbours)
    edges = np.searchsorted(np.cumsum(expected), np.arange(20.0, expected.sum() - 20, 20.0))
    obs, exp = (np.add.reduceat(a, np.unique(np.r_[0, edges])) for a in (observed, expected))
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-3


def serial_dictatorship_exact(counts, lists, seats):
    """Exact chances of each group at each school (and of none) under one class and one
    lottery: the mean over every order of the students."""
    from itertools import permutations
    students = [g for g, c in enumerate(counts) for _ in range(c)]
    out = np.zeros((len(counts), len(seats) + 1))
    orders = list(permutations(range(len(students))))
    for order in orders:
        left = list(seats)
        for t in order:
            g = students[t]
            j = next((j for j in lists[g] if left[j] > 0), None)
            if j is None:
                out[g, -1] += 1
            else:
                left[j] -= 1
                out[g, j] += 1
    return out / len(orders) / np.array(counts)[:, None]


def test_typed_lottery_equals_exact_enumeration():
    # 7 students, three lists over schools 0-2 with 2, 1, 2 seats: several fill steps
    counts, lists, seats = [3, 2, 2], [(0, 1), (1, 2, 0), (0, 2)], [2, 1, 2]
    exact = serial_dictatorship_exact(counts, lists, seats)
    indptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])])
    xy = np.zeros((3, 2))
    odds = admission_odds(np.array(counts)[:, None], np.array(seats), xy, xy,
                          preferences=(indptr, np.concatenate(lists)), draws=40_000, seed=4)
    for g, lst in enumerate(lists):
        chance = odds.chance[odds.pref_indptr[g]:odds.pref_indptr[g + 1]]
        assert np.abs(chance - exact[g, list(lst)]).max() < 0.01, g


def test_bureau_rule_lookup_equals_scan(monkeypatch):
    # the free-school lookup (fb_rank) picks the same school as scanning each cell's list:
    # the kernels give identical sums with and without it
    rng = np.random.default_rng(5)
    n_cells, m = 120, 30
    cell_xy, school_xy = rng.uniform(0, 9000, (n_cells, 2)), rng.uniform(0, 9000, (m, 2))
    applicants = rng.integers(0, 9, (n_cells, 2))
    d = np.hypot(*(cell_xy[:, None] - school_xy[None]).transpose(2, 0, 1))
    zones = (np.arange(0, m + 1, 3), np.arange(m))
    seats = rng.integers(5, 40, m)
    captured = {}
    kernels = {"admission_monte_carlo_typed": 16, "admission_monte_carlo": 11}
    for name in kernels:
        real = getattr(K, name)

        def spy(*args, real=real, name=name):
            captured[name] = (real, args)
            return real(*args)
        monkeypatch.setattr(K, name, spy)
    for mech in ("lottery", "boston", "da_stb"):
        admission_odds(applicants, seats, cell_xy, school_xy, zone_of_cell=d.argmin(axis=1) // 3,
                       zones=zones, mechanism=mech, draws=60, seed=8)
        name = "admission_monte_carlo" if mech == "da_stb" else "admission_monte_carlo_typed"
        real, args = captured[name]
        at = kernels[name]
        assert args[at].shape == (n_cells, m)
        with_rank = real(*args)
        scan = real(*args[:at], np.zeros((0, 0), dtype=np.int16), *args[at + 1:])
        assert with_rank[1].sum() > 0  # the bureau's rule placed students
        for a, b in zip(with_rank, scan, strict=True):
            assert np.array_equal(a, b), mech
