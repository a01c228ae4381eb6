"""site_new_schools: the fewest new schools of standard sizes, when they are needed, proven bounds.

The districts here are hand-checkable: a town cell A next to primary school P1 and a village
cell B 10 km away; primary standard sizes 12/18/24/30 classes = 540/810/1,080/1,350 seats.
"""

from __future__ import annotations

import itertools
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from schoolmap.allocation.optimal import assign
from schoolmap.errors import ValidationError
from schoolmap.io.district import district_from_frames
from schoolmap.norms import default_norms
from schoolmap.scenario import run_scenario, scenario_from_dict
from schoolmap.site_planning import SitingSettings, site_new_schools

X0, Y0 = 500_000.0, 3_500_000.0
CRS = "EPSG:32651"


def _district(per_age: dict[str, float], *, sites: list[tuple[str, str, float]] | None = None,
              seats: float = 540.0):
    """Cells (100 m squares) at x = 0 (A) and 10,000 m (B); primary P1 at A with ``seats``."""
    xs = {"A": 0.0, "B": 10_000.0}
    cells = gpd.GeoDataFrame(
        pd.DataFrame([{"cell_id": c, **{f"age_{a}": per_age[c] for a in range(18)},
                       "population": 18 * per_age[c]} for c in xs]),
        geometry=[box(X0 + x - 50, Y0 - 50, X0 + x + 50, Y0 + 50) for x in xs.values()], crs=CRS)
    schools = gpd.GeoDataFrame(
        {"school_id": ["P1"], "name": ["城东小学"], "level": ["primary"], "seats": [seats],
         "classes": [12], "sector": ["public"], "open_year": [np.nan], "close_year": [np.nan]},
        geometry=[Point(X0, Y0)], crs=CRS)
    layers = {"cells": cells, "schools": schools}
    if sites:
        layers["sites"] = gpd.GeoDataFrame(
            {"site_id": [s[0] for s in sites], "name": [f"{s[0]}地块" for s in sites],
             "level": [s[1] for s in sites]},
            geometry=[Point(X0 + s[2], Y0) for s in sites], crs=CRS)
    return district_from_frames(layers, source="test")


SITES = [("S1", "primary", 9_900.0), ("S2", "primary", 5_000.0), ("S3", "kindergarten", 200.0),
         ("S4", "nine_year", 20_000.0)]


def test_one_site_serves_the_village_and_is_sized_to_its_students():
    # A: 90 per age → 540 primary pupils = P1's seats; B: 50 per age → 300 pupils, no seat.
    d = _district({"A": 90, "B": 50}, sites=SITES)
    plan = site_new_schools(d, "primary", reach_m=3000)
    assert plan.n_candidates == 3          # S1, S2 and the nine-year S4; not kindergarten S3
    assert plan.sites["site_id"].tolist() == ["S1"]
    row = plan.sites.iloc[0]
    assert (row.tracks, row.classes, row.seats) == (2, 12, 540)   # smallest size ≥ 300
    assert row.students_served == pytest.approx(300)
    assert row.mean_distance_m == pytest.approx(100)
    assert row.source == "sites" and row.level == "primary"
    assert "S1地块" in row.reason and "540 seats" in row.reason
    assert plan.lower_bound == 1 and plan.gap == 0.0
    y = plan.years.iloc[0]
    assert (y.unserved_before, y.unserved_after) == pytest.approx((300, 0))
    assert (y.seats_existing, y.seats_new) == (540, 540)
    # nearest-school view: B's 300 pupils crowd into P1 before (300 short), nobody after
    assert (y.short_nearest_before, y.short_nearest_after) == pytest.approx((300, 0))
    assert plan.notes == ()


def test_open_year_is_the_first_year_the_seats_are_needed():
    d = _district({"A": 90, "B": 0}, sites=SITES)
    g = default_norms().level("primary").n_grades
    a_only = np.array([[90.0] * g, [0.0] * g])
    demand = {2026: a_only, 2027: a_only + [[0] * g, [25] * g],
              2028: a_only + [[0] * g, [50] * g]}   # B: 0, 150, 300 pupils
    plan = site_new_schools(d, "primary", 2028, grade_demand_by_year=demand, reach_m=3000)
    row = plan.sites.iloc[0]
    assert row.site_id == "S1" and row.open_year == 2027
    assert row.busiest_year == 2028 and row.students_served == pytest.approx(300)
    assert row.seats == 540
    assert "2027" in row.reason
    assert plan.years["new_schools_open"].tolist() == [0, 1, 1]
    assert plan.years["unserved_before"].tolist() == pytest.approx([0, 150, 300])
    assert plan.years["unserved_after"].tolist() == pytest.approx([0, 0, 0])
    # years after `year` are not planned
    short = site_new_schools(d, "primary", 2026, grade_demand_by_year=demand, reach_m=3000)
    assert short.n_new == 0 and short.years["year"].tolist() == [2026]


def test_without_a_site_in_reach_a_location_is_generated():
    d = _district({"A": 90, "B": 200}, sites=[("S2", "primary", 5_000.0)])
    plan = site_new_schools(d, "primary", reach_m=3000, lang="zh")
    row = plan.sites.iloc[0]
    assert row.site_id == "cell-B" and row.source == "generated"
    assert row.seats == 1350 and row.students_served == pytest.approx(1200)  # 200 × 6 ages
    assert row.mean_distance_m == pytest.approx(0)
    assert "需在附近选址" in row.reason
    assert row.geometry.x == pytest.approx(X0 + 10_000)


def test_small_pockets_are_reported_not_built():
    d = _district({"A": 90, "B": 10}, sites=SITES)       # 60 pupils in B
    plan = site_new_schools(d, "primary", reach_m=3000)
    assert plan.n_new == 0 and plan.lower_bound == 0
    assert len(plan.notes) == 1 and "60 students remain" in plan.notes[0]
    assert "fewer than 270 students" in plan.notes[0]
    forced = site_new_schools(d, "primary", reach_m=3000, min_students=0)
    assert forced.sites["site_id"].tolist() == ["S1"] and forced.sites.iloc[0].seats == 540


def test_target_unserved_leaves_room():
    d = _district({"A": 90, "B": 50}, sites=SITES)
    assert site_new_schools(d, "primary", reach_m=3000, target_unserved=300).n_new == 0
    assert site_new_schools(d, "primary", reach_m=3000, target_unserved=299).n_new == 1


def test_max_students_caps_the_sizes():
    norms = default_norms().with_overrides({"primary": {"max_students": 900}})
    d = _district({"A": 90, "B": 200}, sites=[("S1", "primary", 9_900.0),
                                             ("S5", "primary", 10_100.0)])
    plan = site_new_schools(d, "primary", norms=norms, reach_m=3000)
    assert plan.sites["seats"].max() <= 900
    assert plan.sites["seats"].sum() >= 1200 and plan.n_new == 2
    assert plan.lower_bound == 2        # 1,200 pupils ÷ 810 seats at most per school


@pytest.mark.parametrize("n_years", [1, 3])
def test_lower_bound_never_exceeds_the_true_minimum(n_years):
    """Brute force over every set of candidates: bound ≤ fewest feasible ≤ plan (one set of
    sites, all open, must meet every year's level of the plan)."""
    rng = np.random.default_rng(7)
    n = 12
    xs = rng.uniform(0, 6000, n)
    ys = rng.uniform(0, 3000, n)
    per_age = rng.integers(0, 40, n).astype(float)
    cells = gpd.GeoDataFrame(
        pd.DataFrame({"cell_id": [f"C{i}" for i in range(n)],
                      **{f"age_{a}": per_age for a in range(18)}, "population": 18 * per_age}),
        geometry=[box(X0 + x - 50, Y0 + y - 50, X0 + x + 50, Y0 + y + 50)
                  for x, y in zip(xs, ys, strict=True)], crs=CRS)
    schools = gpd.GeoDataFrame(
        {"school_id": ["P1"], "name": ["P1"], "level": ["primary"], "seats": [540.0],
         "classes": [12], "sector": ["public"], "open_year": [np.nan], "close_year": [np.nan]},
        geometry=[Point(X0 + 3000, Y0 + 1500)], crs=CRS)
    site_xy = [(500, 500), (5500, 500), (500, 2500), (5500, 2500), (3000, 200)]
    sites = gpd.GeoDataFrame({"site_id": [f"S{k}" for k in range(5)],
                              "name": [f"S{k}" for k in range(5)], "level": ["primary"] * 5},
                             geometry=[Point(X0 + x, Y0 + y) for x, y in site_xy], crs=CRS)
    d = district_from_frames({"cells": cells, "schools": schools, "sites": sites}, source="t")
    grades = {2026 + t: np.repeat((per_age * (1 + 0.6 * t) * rng.uniform(0.5, 1.5, n))[:, None],
                                  6, axis=1) for t in range(n_years)}
    plan = site_new_schools(d, "primary", 2030, grade_demand_by_year=grades, reach_m=2500,
                            min_students=0)
    cell_xy = d.cell_xy
    school_xy = np.array([[X0 + 3000, Y0 + 1500]])
    limits = plan.years["unserved_after"].to_numpy() + 0.5
    fewest = None
    for k in range(len(site_xy) + 1):
        for combo in itertools.combinations(range(len(site_xy)), k):
            new = np.array([[X0 + site_xy[j][0], Y0 + site_xy[j][1]] for j in combo])
            xy = np.vstack([school_xy, new.reshape(-1, 2)])
            seats = np.array([540.0] + [1350.0] * k)
            if all(assign(cell_xy, g.sum(axis=1), xy, seats,
                          max_distance_m=2500).unserved_by_cell.sum() <= lim
                   for g, lim in zip(grades.values(), limits, strict=True)):
                fewest = k
                break
        if fewest is not None:
            break
    assert fewest is not None
    assert plan.n_new >= 1 and plan.lower_bound >= 1
    assert plan.lower_bound <= fewest <= plan.n_new
    assert plan.gap == pytest.approx((plan.n_new - plan.lower_bound) / max(plan.n_new, 1))


def test_bad_inputs_are_named():
    d = _district({"A": 90, "B": 50}, sites=SITES)
    with pytest.raises(ValidationError, match="unknown level"):
        site_new_schools(d, "college")
    with pytest.raises(ValidationError, match="reach_m"):
        site_new_schools(d, "primary", reach_m=-1)
    with pytest.raises(ValidationError, match=r"shape \(3, 6\); expected \(2, 6\)"):
        site_new_schools(d, "primary", grade_demand_by_year={2026: np.zeros((3, 6))})
    with pytest.raises(ValidationError, match="negative"):
        site_new_schools(d, "primary", grade_demand_by_year={2026: -np.ones((2, 6))})
    no_sizes = default_norms().with_overrides({"primary": {"standard_classes": []}})
    with pytest.raises(ValidationError, match="standard_classes"):
        site_new_schools(d, "primary", norms=no_sizes)


def test_siting_table_is_validated():
    s = SitingSettings.from_table({"reach_m": {"primary": 2500}, "target_unserved": 10})
    assert s.reach("primary") == 2500 and s.reach("junior") == 5000
    assert SitingSettings.from_table({"reach_m": 4000}).reach("kindergarten") == 4000
    with pytest.raises(ValidationError) as err:
        SitingSettings.from_table({"reach": 1, "reach_m": {"college": 1, "primary": -5},
                                   "max_new": 0, "levels": ["primary", "x"]})
    text = str(err.value)
    for part in ("unknown key 'reach'", "unknown level 'college'", "reach_m.primary",
                 "max_new", "levels"):
        assert part in text


def test_scenario_run_writes_the_sites(tmp_path):
    d = _district({"A": 90, "B": 50}, sites=SITES)
    sc = scenario_from_dict({"district": "unused", "base_year": 2026, "horizon": 0,
                             "levels": ["primary"], "methods": ["catchment"], "lang": "en",
                             "siting": {"reach_m": {"primary": 3000}}}, base=tmp_path)
    result = run_scenario(sc, d)
    assert result.new_sites["site_id"].tolist() == ["S1"]
    assert result.siting["primary"].lower_bound == 1
    from schoolmap.outputs import write_results

    out = write_results(result, tmp_path / "out", render_map=lambda r, p: None)
    sites = pd.read_csv(out / "new_sites.csv")
    assert sites[["site_id", "tracks", "classes", "seats"]].values.tolist() == [["S1", 2, 12, 540]]
    years = pd.read_csv(out / "siting_years.csv")
    assert years[["unserved_before", "unserved_after"]].values.tolist() == [[300, 0]]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["siting"]["primary"]["new_schools"] == 1
    assert summary["siting"]["primary"]["sites"][0]["site_id"] == "S1"
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="new_sites"' in report and "Recommended new schools" in report
    assert "S1地块" in report
    layers = gpd.read_file(out / "results.gpkg", layer="new_sites")
    assert layers["site_id"].tolist() == ["S1"]
