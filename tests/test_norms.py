"""Planning norms: national defaults and scenario overrides."""

from __future__ import annotations

import pytest

from schoolmap.errors import ValidationError
from schoolmap.norms import default_norms


def test_defaults_are_the_national_norms():
    n = default_norms()
    kg, pri, jun = n.level("kindergarten"), n.level("primary"), n.level("junior")
    assert kg.ages == (3, 4, 5) and kg.class_sizes == (25, 30, 35) and kg.service_radius_m == 300
    assert pri.ages == tuple(range(6, 12)) and pri.class_sizes == (45,) * 6
    assert pri.service_radius_m == 500 and pri.standard_classes == (12, 18, 24, 30)
    assert jun.ages == (12, 13, 14) and jun.class_sizes == (50,) * 3
    assert jun.service_radius_m == 1000
    assert (n.bands.normal_max, n.bands.large_max, n.bands.oversized_max) == (45, 55, 65)
    assert (n.bands.target_share_56_plus, n.bands.target_share_66_plus) == (0.05, 0.02)
    # a 4-轨 primary school = 24 classes = 1,080 seats at 45
    assert pri.seats_for_classes(24) == 1080


def test_five_four_grade_system_moves_ages():
    n = default_norms().with_overrides({"grade_system": "5+4"})
    assert n.level("primary").ages == (6, 7, 8, 9, 10)
    assert n.level("junior").ages == (11, 12, 13, 14)
    assert n.level("junior").class_sizes == (50,) * 4
    assert n.level("senior").ages == (15, 16, 17)


def test_overrides_keep_other_values():
    n = default_norms().with_overrides(
        {"primary": {"class_size": 40, "service_radius_m": 800}, "bands": {"normal_max": 40}}
    )
    assert n.level("primary").class_sizes == (40,) * 6
    assert n.level("primary").service_radius_m == 800.0
    assert n.level("junior").class_sizes == (50,) * 3
    assert n.bands.normal_max == 40 and n.bands.large_max == 55
    # per-grade class sizes
    n2 = default_norms().with_overrides({"kindergarten": {"class_size": [20, 25, 30]}})
    assert n2.level("kindergarten").class_sizes == (20, 25, 30)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"grade_system": "4+5"}, r"grade_system '4\+5' unknown"),
        ({"primary": {"class_sise": 40}}, "unknown norm 'class_sise'"),
        ({"primary": {"class_size": -3}}, "class_size must be a positive whole number"),
        ({"kindergarten": {"enrolment_rate": 1.5}}, "enrolment_rate is a share between 0 and 1"),
        ({"colour": "red"}, "unknown norm 'colour'"),
        ({"junior": {"class_size": [50, 50]}}, "list of 3"),
    ],
)
def test_bad_overrides_are_named(overrides, match):
    with pytest.raises(ValidationError, match=match):
        default_norms().with_overrides(overrides)


def test_all_problems_reported_at_once():
    with pytest.raises(ValidationError) as info:
        default_norms().with_overrides({"grade_system": "x", "primary": {"foo": 1}})
    assert len(info.value.problems) == 2


def test_us_grade_system_has_us_levels_and_norms():
    n = default_norms().with_overrides({"grade_system": "us"})
    assert n.grade_system == "us" and n.entry_age == 5
    prek, es, ms, hs = (n.level(lv) for lv in ("kindergarten", "primary", "junior", "senior"))
    assert prek.ages == (3, 4) and prek.class_sizes == (18, 18)
    assert es.ages == (5, 6, 7, 8, 9, 10) and es.n_grades == 6  # K–5
    assert es.class_sizes == (18, 16, 17, 17, 24, 24)
    assert ms.ages == (11, 12, 13) and ms.class_sizes == (24, 23, 23)  # grades 6–8
    assert hs.ages == (14, 15, 16, 17) and hs.class_sizes == (26, 29, 29, 29)  # grades 9–12
    assert hs.enrolment_rate == 1.0 and hs.standard_classes == ()
    # walk zones: 1, 1.5 and 2 miles
    assert [round(lv.service_radius_m) for lv in (es, ms, hs)] == [1609, 2414, 3219]
    # the Chinese class-size norms do not leak into the US system
    assert 45 not in es.class_sizes
    assert "sources" in n.to_dict() and "sources" not in default_norms().to_dict()


def test_us_norms_can_be_overridden_in_one_table():
    n = default_norms().with_overrides({
        "grade_system": "us", "entry_age": 6,
        "senior": {"class_size": 25, "service_radius_m": 5000},
        "primary": {"class_size": [20, 20, 20, 22, 22, 22]},
    })
    assert n.entry_age == 6 and n.level("primary").ages == tuple(range(6, 12))
    assert n.level("senior").ages == (15, 16, 17, 18)
    assert n.level("senior").class_sizes == (25,) * 4
    assert n.level("senior").service_radius_m == 5000.0
    assert n.level("primary").class_sizes == (20, 20, 20, 22, 22, 22)
    with pytest.raises(ValidationError, match="list of 4"):
        default_norms().with_overrides({"grade_system": "us", "senior": {"class_size": [25] * 3}})


def test_switching_back_from_us_restores_the_chinese_norms():
    us = default_norms().with_overrides({"grade_system": "us"})
    cn = us.with_overrides({"grade_system": "6+3"})
    assert cn == default_norms()
    five_four = us.with_overrides({"grade_system": "5+4"})
    assert five_four.entry_age == 6 and five_four.level("junior").ages == (11, 12, 13, 14)
    assert five_four.level("primary").class_sizes == (45,) * 5
    # overrides made under one system survive a later change within the same family
    custom = default_norms().with_overrides({"primary": {"class_size": 40}})
    assert custom.with_overrides({"grade_system": "5+4"}).level("primary").class_sizes == (40,) * 5
