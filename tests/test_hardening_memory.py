"""No out-of-memory kill (issue 19): a run whose exact solves would not fit in memory is
refused with a clear message before any work — here the demo's cut district against a
``memory_limit_gb`` below its real estimate (the real allowance, 60 % of the memory available,
would need a district of millions of cells to exceed)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from schoolmap.allocation.memory import estimate_assign_bytes
from schoolmap.demand import level_schools
from schoolmap.errors import MemoryLimitError
from schoolmap.io.district import read_district
from schoolmap.run.scenario import check_run_memory, load_scenario
from tests.test_catalogue import _copy, _cut_demo, _scenario, _write


@pytest.fixture(scope="module")
def small_gpkg(tmp_path_factory):
    return _write(_copy(_cut_demo()), tmp_path_factory.mktemp("mem") / "small.gpkg")


def _run(tmp_path, small_gpkg, extra, methods='["catchment", "nearest", "optimal"]'):
    scenario = _scenario(tmp_path, small_gpkg, 'methods = ["catchment", "nearest", "optimal"]',
                         f"methods = {methods}\n{extra}")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "schoolmap", "run", str(scenario), "--out",
                          str(out)], capture_output=True, text=True, timeout=600)
    return run, " ".join((run.stdout + run.stderr).split()), out


def test_a_run_too_large_for_its_memory_is_refused_before_any_work(tmp_path, small_gpkg):
    run, text, out = _run(tmp_path, small_gpkg, "memory_limit_gb = 0.001")
    assert run.returncode == 2 and "Traceback" not in text, text
    assert "error: scenario broken.toml: the exact allocation of 1,421 cells × " in text, text
    assert "MB allowed (memory_limit_gb in the scenario); nothing was computed" in text, text
    assert "allocation" not in text.split("error:")[0]  # no step after reading the district
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_the_check_is_the_engines_estimate_and_within_it_the_run_goes_on(tmp_path, small_gpkg):
    sc = load_scenario(_scenario(tmp_path, small_gpkg, None, ""))
    district = read_district(sc.district)
    m = max(len(level_schools(district, sc.norms, lv, sc.base_year)) for lv in sc.levels)
    needed = estimate_assign_bytes(len(district.cells), m + len(district.sites))
    check_run_memory(dataclasses.replace(sc, memory_limit_gb=needed * 1.01 / 1e9), district)
    check_run_memory(sc, district)  # 60 % of the memory available: far more
    with pytest.raises(MemoryLimitError, match=r"needs about [\d.]+ MB at its peak, more than"):
        check_run_memory(dataclasses.replace(sc, memory_limit_gb=needed * 0.99 / 1e9), district)
    plain = dataclasses.replace(sc, methods=("catchment", "nearest"), siting=None, zoning=None,
                                memory_limit_gb=1e-9)
    check_run_memory(plain, district)  # no exact solve: nothing to check


@pytest.mark.parametrize(("value", "words"), [("true", "memory_limit_gb must be a number, got "
                                               "true"),
                                              ("-2", "memory_limit_gb must be gigabytes > 0"),
                                              ('"8 GB"', "must be a number, got the text")])
def test_memory_limit_gb_is_checked_strictly(tmp_path, small_gpkg, value, words):
    run, text, out = _run(tmp_path, small_gpkg, f"memory_limit_gb = {value}")
    assert run.returncode == 2 and "Traceback" not in text and words in text, text
    assert not out.exists()
