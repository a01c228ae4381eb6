"""Students counted per planning unit: ``students_<level>`` cells columns."""

from __future__ import annotations

import numpy as np
import pytest

from schoolmap.demand import demand_by_cell_grade
from schoolmap.errors import ValidationError
from schoolmap.io.district import district_from_frames
from schoolmap.norms import default_norms
from schoolmap.scenario import allocate

# --------------------------------------------------------------- students counted per cell


def _counted_town(town_layers, **students):
    cells = town_layers["cells"].drop(columns=[f"age_{a}" for a in range(18)])
    for col, values in students.items():
        cells[col] = values
    return {**town_layers, "cells": cells}


def test_counted_students_replace_ages(town_layers):
    layers = _counted_town(town_layers, students_primary=[60.0, 300.0, 30.0, 0.0, 6.0])
    town = district_from_frames(layers)  # no age column: valid, because students_ are given
    grades = demand_by_cell_grade(town.cells, default_norms(), "primary")
    assert grades.shape == (5, 6)
    np.testing.assert_allclose(grades.sum(axis=1), [60, 300, 30, 0, 6])
    np.testing.assert_allclose(grades[1], [50.0] * 6)  # spread evenly over the grades
    alloc = allocate(town, "primary", "catchment")
    assert alloc.assigned.tolist() == [366.0, 30.0]  # the hand-checked tiny-town answer
    # a level with neither a count nor ages says so
    with pytest.raises(ValidationError, match="no 'students_junior' column and age column"):
        demand_by_cell_grade(town.cells, default_norms(), "junior")


def test_counted_students_win_over_ages_and_skip_rates(town_layers):
    cells = town_layers["cells"].copy()
    cells["students_primary"] = [1.0, 2.0, 3.0, 4.0, 5.0]
    norms = default_norms().with_overrides({"primary": {"private_share": 0.5}})
    got = demand_by_cell_grade(cells, norms, "primary").sum(axis=1)
    np.testing.assert_allclose(got, [1, 2, 3, 4, 5])  # no private share applied to a count
    junior = demand_by_cell_grade(cells, norms, "junior").sum(axis=1)  # ages still used
    np.testing.assert_allclose(junior, [30, 150, 15, 0, 3])


@pytest.mark.parametrize(
    ("students", "match"),
    [
        ({}, r"age column\(s\) missing .* or students counted per level in students_primary"),
        ({"students_elementary": [1.0] * 5}, "'students_elementary' names no schoolmap level; "
                                             "rename it 'students_primary'"),
        ({"students_senior": [1.0, np.nan, 2.0, 0.0, 1.0]},
         r"'students_senior' is missing or not a number \(rows 'C2'\)"),
        ({"students_junior": [1.0, -2.0, 2.0, 0.0, 1.0]}, r"'students_junior' is negative"),
    ],
)
def test_bad_student_counts_are_named(town_layers, students, match):
    with pytest.raises(ValidationError, match=match):
        district_from_frames(_counted_town(town_layers, **students))
