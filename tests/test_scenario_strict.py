"""Scenario values are type-checked strictly before any work starts (issue 19): true/false is
not a number, NaN and infinity are refused everywhere, text for a number is named; every message
names the file, the table and the key."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from schoolmap.cli import main

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"


def _broken(tmp_path, old, new, name="broken.toml"):
    text = DEMO.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    text = text.replace(old, new).replace('"../data/geo/demo.gpkg"',
                                          repr(str(DEMO.parent.parent / "data/geo/demo.gpkg")))
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


CASES = [  # (what the demo says, what the broken copy says, table, key, words of the message)
    ("horizon = 10", "horizon = true", None, "horizon", "must be a number, got true"),
    ("births_trend = -0.01", "births_trend = inf", "[forecast]", "births_trend",
     "must be a finite number, got inf"),
    ("migration = 0.005", "migration = nan", "[forecast]", "migration",
     "must be a finite number, got nan"),
    ("housing = true", "housing = 1", "[forecast]", "housing", "must be true or false, got 1"),
    ("ensemble = 200", 'ensemble = "1,200"', "[forecast]", "ensemble",
     "must be a number, got the text '1,200'"),
    ("seed = 0", "seed = false", None, "seed", "must be a number, got false"),
    ("enrolment_rate = 0.90", "enrolment_rate = -inf", "[norms]", "kindergarten.enrolment_rate",
     "must be a finite number, got -inf"),
    ("target_unserved = 0", "target_unserved = true", "[siting]", "target_unserved",
     "must be a number, got true"),
    ("reach_m = { kindergarten = 3000,", "reach_m = { kindergarten = nan,", "[siting]",
     "reach_m.kindergarten", "must be a finite number, got nan"),
    ("births_cv = 0.05", "births_cv = -1", "[forecast]", "births_cv",
     "is a spread ≥ 0 (0: no uncertainty), got -1"),
]


@pytest.mark.parametrize(("old", "new", "table", "key", "words"), CASES,
                         ids=[c[1].split(" =")[0] for c in CASES])
def test_broken_value_is_named_before_any_work(tmp_path, capsys, old, new, table, key, words):
    scenario = _broken(tmp_path, old, new)
    start = time.monotonic()
    code = main(["run", str(scenario), "--out", str(tmp_path / "out"), "--quiet"])
    seconds = time.monotonic() - start
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert code == 2 and "Traceback" not in text
    where = "broken.toml" + (f" {table}" if table else "")
    assert f"{where}: {key} {words}" in text, text
    assert not (tmp_path / "out").exists()
    assert seconds < 10  # refused at loading, before the district is read


def test_every_problem_at_once_in_a_subprocess(tmp_path):
    scenario = _broken(tmp_path, "horizon = 10", "horizon = true")
    text = scenario.read_text(encoding="utf-8").replace("births_trend = -0.01",
                                                        "births_trend = inf")
    scenario.write_text(text, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "schoolmap", "run", str(scenario),
                          "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300)
    out = " ".join((run.stdout + run.stderr).split())
    assert run.returncode != 0 and "Traceback" not in out
    assert "broken.toml: horizon must be a number, got true" in out
    assert "broken.toml [forecast]: births_trend must be a finite number, got inf" in out
    assert not (tmp_path / "out").exists()
