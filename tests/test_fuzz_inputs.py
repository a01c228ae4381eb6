"""Fuzzing the scenario parser and the layer readers (issue 19): random bytes, random TOML,
mutated and truncated copies of the demo — schoolmap either reads them or raises a
``SchoolmapError`` (shown without a traceback); never any other exception."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schoolmap.errors import SchoolmapError
from schoolmap.io.district import read_district
from schoolmap.run.scenario import load_scenario, scenario_from_dict
from tests.test_catalogue import _cut_demo, _write

ROOT = Path(__file__).resolve().parents[1]
DEMO_TOML = ROOT / "scenarios" / "demo.toml"
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

_scalars = st.one_of(st.booleans(), st.integers(-10**12, 10**12),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
_keys = st.sampled_from(sorted(tomllib.loads(DEMO_TOML.read_text(encoding="utf-8"))))


def _accepts_or_names(fn, *args, **kw) -> None:
    try:
        fn(*args, **kw)
    except SchoolmapError:
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_as_a_scenario(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("s") / "random.toml"
    path.write_bytes(data)
    _accepts_or_names(load_scenario, path)


@FUZZ
@given(st.data())
def test_mutated_demo_scenario(tmp_path_factory, data):
    lines = DEMO_TOML.read_text(encoding="utf-8").replace(
        '"../data/geo/demo.gpkg"', repr(str(ROOT / "data/geo/demo.gpkg"))).splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        kind = data.draw(st.sampled_from(["value", "drop", "cut", "text"]))
        if kind == "value" and "=" in lines[i] and not lines[i].lstrip().startswith("#"):
            key = lines[i].split("=")[0]
            lines[i] = key + "= " + data.draw(st.sampled_from(
                ["true", "-1", "0", "1e400", "nan", "-inf", '"x"', "[]", "{}", "[1, 'a']",
                 "2026.5", '"1,200"', "9999999999", "{ primary = -5 }"]))
        elif kind == "drop":
            del lines[i]
        elif kind == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))]
        else:
            lines[i] = data.draw(st.text(max_size=20))
        if not lines:
            break
    path = tmp_path_factory.mktemp("s") / "mutated.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    _accepts_or_names(load_scenario, path)


@FUZZ
@given(st.dictionaries(_keys, _values, max_size=6))
def test_random_tables(data):
    base = tomllib.loads(DEMO_TOML.read_text(encoding="utf-8"))
    base["district"] = str(ROOT / "data/geo/demo.gpkg")
    base.update(data)
    _accepts_or_names(scenario_from_dict, base, base=ROOT / "scenarios", where="fuzz.toml")


@pytest.fixture(scope="module")
def small_gpkg(tmp_path_factory) -> bytes:
    path = _write(_cut_demo(), tmp_path_factory.mktemp("d") / "small.gpkg")
    return path.read_bytes()


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from([".gpkg", ".geojson", ".csv"]))
def test_random_bytes_as_layers(tmp_path_factory, data, ext):
    folder = tmp_path_factory.mktemp("d")
    if ext == ".gpkg":
        path = folder / "random.gpkg"
        path.write_bytes(data)
    else:
        (folder / f"cells{ext}").write_bytes(data)
        (folder / f"schools{ext}").write_bytes(data[::-1])
        path = folder
    _accepts_or_names(read_district, path)


@FUZZ
@given(st.data())
def test_truncated_and_damaged_geopackage(tmp_path_factory, small_gpkg, data):
    raw = bytearray(small_gpkg)
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 20))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("d") / "damaged.gpkg"
    path.write_bytes(bytes(raw))
    _accepts_or_names(read_district, path)


_cell_values = st.one_of(
    st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                       st.integers(-10**15, 10**15)), min_size=1, max_size=1),
    st.lists(st.one_of(st.none(), st.text(max_size=8), st.sampled_from(
        ["1,200", "12 班", "1e400", "nan", "-0", " 7 ", "٣", "１２"])), min_size=1, max_size=1))
_columns = {"cells": ["age_6", "age_0", "population", "households", "cell_id"],
            "schools": ["seats", "classes", "open_year", "close_year", "level", "sector",
                        "school_id"],
            "zones": ["school_id", "level", "zone_id"],
            "developments": ["dwellings", "completion_year", "housing_type"]}


@settings(FUZZ, max_examples=30)
@given(st.data())
def test_random_values_in_the_demo_layers(tmp_path_factory, small_layers, capsys, data):
    """Valid layers with random values put into a few of their fields (numbers with NaN, inf
    and huge values; text like '1,200', '12 班', full-width digits): ``schoolmap validate``
    accepts them or names them (exit 0 or 2), never an uncaught exception."""
    from schoolmap.run.cli import main

    layers = {n: f.copy() for n, f in small_layers.items()}
    for _ in range(data.draw(st.integers(1, 4))):
        layer = data.draw(st.sampled_from(sorted(_columns)))
        col = data.draw(st.sampled_from(_columns[layer]))
        frame = layers[layer]
        rows = data.draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=3))
        value = data.draw(_cell_values)[0]
        if not pd.api.types.is_numeric_dtype(frame[col]) or isinstance(value, str):  # text
            frame[col] = frame[col].astype(object).where(frame[col].isna(),
                                                         frame[col].astype(str))
            value = None if value is None else str(value)
        else:
            frame[col] = frame[col].astype(float)
        frame.loc[rows, col] = value
    path = _write(layers, tmp_path_factory.mktemp("v") / "random.gpkg")
    assert main(["validate", str(path)]) in (0, 2)
    capsys.readouterr()


@pytest.fixture(scope="module")
def small_layers():
    return _cut_demo()
