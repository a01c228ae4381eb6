"""Output folders (issue 19): schoolmap deletes nothing it did not write, and a run killed at
any moment leaves the old or the new result, whose debris the next run removes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from schoolmap.io import files
from schoolmap.io.files import MANIFEST, OutputFolderError, atomic_folder

# A writer in its own process: writes version VERSION into TARGET; with PAUSE set, stops at
# that moment of atomic_folder (or inside the body, "body") and waits there to be killed.
WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from schoolmap.io import files

    target, version, pause, exchange = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    signal_file = Path(target).parent / "paused"
    if exchange == "no":
        files._exchange = None

    def stop(name):
        if name == pause:
            signal_file.write_text(name)
            time.sleep(120)

    files._checkpoint = stop
    with files.atomic_folder(target, marker="summary.json") as tmp:
        for i in range(3):
            (tmp / f"part{i}.csv").write_text(version * 1000)
        (tmp / "summary.json").write_text(version)
        stop("body")
""")


def _write(tmp_path, version, pause="", exchange="yes"):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "out"), version, pause,
                             exchange])


def _result(folder):
    """The version a result folder holds, checking it is whole and listed in its manifest."""
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["state"] == "complete"
    assert manifest["files"] == ["part0.csv", "part1.csv", "part2.csv", "summary.json"]
    version = (folder / "summary.json").read_text()
    assert all((folder / f"part{i}.csv").read_text() == version * 1000 for i in range(3))
    return version


def _kill_at(tmp_path, pause, exchange="yes"):
    proc = _write(tmp_path, "new", pause, exchange)
    deadline = time.monotonic() + 60
    while not (tmp_path / "paused").exists():
        assert proc.poll() is None, "the writer ended before its pause"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (tmp_path / "paused").unlink()


def test_user_folder_with_other_files_is_refused_and_untouched(tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "summary.json").write_text("{}")  # looks like a result, is not one
    (folder / "thesis.docx").write_text("precious")
    with pytest.raises(OutputFolderError, match="thesis.*not a schoolmap output folder.*"
                       "Choose another --out folder") as exc:
        with atomic_folder(folder, marker="summary.json") as tmp:
            (tmp / "summary.json").write_text("new")
    assert "thesis.docx" in str(exc.value)
    assert sorted(p.name for p in folder.iterdir()) == ["summary.json", "thesis.docx"]
    assert (folder / "thesis.docx").read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["thesis"]  # no temp folder left


def test_a_file_added_to_a_result_protects_the_folder(tmp_path):
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        (tmp / "summary.json").write_text("old")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="holds files schoolmap did not write "
                       r"\(notes.txt\)"):
        with atomic_folder(out) as tmp:
            (tmp / "summary.json").write_text("new")
    assert (out / "notes.txt").read_text() == "mine" and (out / "summary.json").read_text() == "old"


def test_own_result_and_empty_folder_are_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for version in ("a", "b"):
        with atomic_folder(out) as tmp:
            (tmp / "summary.json").write_text(version)
            (tmp / "sub").mkdir()
            (tmp / "sub" / "x.csv").write_text(version)
        assert (out / "summary.json").read_text() == version
    assert json.loads((out / MANIFEST).read_text())["files"] == ["sub/x.csv", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _town_scenario(town_gpkg, district):
    scenario = town_gpkg.parent / "town.toml"
    scenario.write_text(f'district = "{district}"\nbase_year = 2026\nhorizon = 1\n'
                        'levels = ["primary"]\nmethods = ["nearest"]\n[map]\ntiles = "none"\n',
                        encoding="utf-8")
    return scenario


def test_cli_refuses_a_user_folder_without_traceback(town_gpkg, tmp_path):
    scenario = _town_scenario(town_gpkg, "town.gpkg")
    user = tmp_path / "mine"
    user.mkdir()
    (user / "summary.json").write_text("{}")
    (user / "thesis.docx").write_text("precious")
    run = subprocess.run([sys.executable, "-m", "schoolmap", "run", str(scenario), "--out",
                          str(user), "--quiet"], capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr + run.stdout
    message = " ".join((run.stderr + run.stdout).split())
    assert str(user) in message.replace(" ", "") or "mine" in message
    assert "not a schoolmap output folder" in message and "--out" in message
    assert sorted(p.name for p in user.iterdir()) == ["summary.json", "thesis.docx"]


@pytest.mark.parametrize(("pause", "exchange"), [
    ("body", "yes"), ("written", "yes"), ("manifest", "yes"), ("swapped", "yes"),
    ("manifest", "no"), ("aside", "no"), ("swapped", "no"),
])
def test_kill_9_leaves_old_or_new_and_the_next_run_cleans_up(tmp_path, pause, exchange):
    if exchange == "yes" and files._exchange is None:
        pytest.skip("no renameat2 here")
    assert _write(tmp_path, "old").wait() == 0
    _kill_at(tmp_path, pause, exchange)
    out = tmp_path / "out"
    debris = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out."))
    assert debris  # the killed run left something behind
    if out.exists():
        assert _result(out) in ("old", "new")
    else:  # killed between the two renames of the fallback: the old one waits aside, whole
        assert pause == "aside" and _result(tmp_path / debris[-1]) == "old"
    # the next run puts it right first: the old result is back, the debris gone
    files._clean_debris(out)
    assert _result(out) in ("old", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "writer.py"]
    assert _write(tmp_path, "third").wait() == 0
    assert _result(out) == "third"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "writer.py"]


def test_debris_not_ours_or_of_a_live_run_is_left_alone(tmp_path):
    out = tmp_path / "out"
    foreign = tmp_path / ".out.12345-abc.tmp"  # looks like debris, has no manifest
    foreign.mkdir()
    (foreign / "x").write_text("mine")
    live = tmp_path / f".out.{os.getpid()}-xyz.tmp"  # a run still going (this process)
    live.mkdir()
    (live / MANIFEST).write_text(json.dumps({"schoolmap": "schoolmap output folder",
                                             "state": "writing"}))
    with atomic_folder(out) as tmp:
        (tmp / "summary.json").write_text("a")
    assert (foreign / "x").read_text() == "mine" and (live / MANIFEST).exists()


def test_cli_refuses_the_folder_before_any_work(town_gpkg, tmp_path):
    """The refusal comes first, not after a long run: no step is taken (piped, the run prints a
    line per step) and the district is not even read."""
    scenario = _town_scenario(town_gpkg, "missing.gpkg")
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    for argv in (["run", str(scenario), "--out", str(user)],
                 ["batch", str(_batch_manifest(tmp_path, scenario)), "--out", str(user)]):
        run = subprocess.run([sys.executable, "-m", "schoolmap", *argv], capture_output=True,
                             text=True, timeout=300)
        text = " ".join((run.stdout + run.stderr).split())
        assert run.returncode == 2 and "Traceback" not in text, text
        assert "not a schoolmap" in text and "notes.txt" in text, text
        assert "reading district" not in text and "missing.gpkg" not in text, text
        assert "tasks" not in text and "dashboard" not in text  # no cluster started
    assert [p.name for p in user.iterdir()] == ["notes.txt"]


def _batch_manifest(tmp_path, scenario):
    path = tmp_path / "batch.toml"
    path.write_text(f'scenarios = ["{scenario}"]\n[[district]]\nname = "x"\npath = '
                    f'"{scenario.parent / "town.gpkg"}"\n', encoding="utf-8")
    return path
