"""``schoolmap run`` killed with SIGKILL while it writes its results (issue 19): at every kind of
moment of the write phase the old or the new result is at ``--out``, whole, and the next run
removes what the killed one left (the hidden ``.out.*`` folders).

The real command line runs in its own process on a district cut from the demo
(``data/geo/demo.gpkg``). A small wrapper counts the run's changes to files under the runs'
folder (folders made, files opened for writing, renames, removals) and, at the chosen one,
stops and waits to be killed; the test kills it with ``SIGKILL`` from outside. The moments are
picked from a first, unkilled run's own list of changes, so the test knows nothing of how the
write phase is built: the first and last files written, one in between, and every rename,
permission change and folder removal (the swap of the old result for the new and its clean-up).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.test_catalogue import _cut_demo, _write

WRAPPER = textwrap.dedent('''
    import builtins, io, os, sys, time

    pause_at, watch, log = int(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
    _open = builtins.open
    count = 0

    def _paths(args):
        return [os.path.abspath(os.fsdecode(os.fspath(a))) for a in args
                if isinstance(a, (str, bytes, os.PathLike))]

    def _change(name, args):
        global count
        paths = _paths(args)
        if not any(p.startswith(watch + os.sep) for p in paths):
            return
        count += 1
        with _open(log, "a", encoding="utf-8") as f:
            f.write(f"{count} {name} {' '.join(os.path.basename(p) for p in paths)}\\n")
        if count == pause_at:
            with _open(os.path.join(os.path.dirname(log), "paused"), "w") as f:
                f.write(f"{name} {paths}")
            time.sleep(600)  # wait for SIGKILL

    def wrap(module, name, writes=None, paths=2):
        fn = getattr(module, name)
        def changed(*args, **kw):
            if writes is None or writes(*args, **kw):
                _change(name, args[:paths])
            return fn(*args, **kw)
        setattr(module, name, changed)

    for name in ("mkdir", "rename", "replace", "unlink", "remove", "rmdir", "chmod"):
        wrap(os, name)
    wrap(builtins, "open", lambda file, mode="r", *a, **kw: any(c in mode for c in "wax+"), 1)
    io.open = builtins.open

    from schoolmap.run.cli import main
    sys.exit(main(sys.argv[4:]))
''')

SCENARIO = """name = "small"
district = "small.gpkg"
base_year = 2026
horizon = 2
levels = ["primary", "junior"]
methods = ["catchment", "nearest"]
[forecast]
ensemble = 0
[map]
tiles = "none"
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kill")
    _write(_cut_demo(), folder / "small.gpkg")
    (folder / "small.toml").write_text(SCENARIO, encoding="utf-8")
    (folder / "wrapper.py").write_text(WRAPPER, encoding="utf-8")
    (folder / "runs").mkdir()
    return folder


def _start(study: Path, pause_at: int) -> subprocess.Popen:
    log = study / "log"
    log.unlink(missing_ok=True)
    return subprocess.Popen(
        [sys.executable, str(study / "wrapper.py"), str(pause_at), str(study / "runs"),
         str(log), "run", str(study / "small.toml"), "--out", str(study / "runs" / "out"),
         "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(study: Path) -> list[str]:
    """Run to the end; the run's changes, in order."""
    proc = _start(study, 0)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "Traceback" not in out, out
    return (study / "log").read_text(encoding="utf-8").splitlines()


def _kill_at(study: Path, moment: int) -> str:
    proc = _start(study, moment)
    paused = study / "paused"
    deadline = time.monotonic() + 600
    while not paused.exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    what = paused.read_text()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    paused.unlink()
    return what


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and not p.name.startswith(".schoolmap"))


def _whole(folder: Path, expected: list[str]) -> None:
    assert folder.is_dir(), "no result at --out"
    assert _files(folder) == expected
    json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def _moments(changes: list[str]) -> list[int]:
    """The changes to stop at: first, middle and last file written, and every rename, chmod,
    folder made or removed; the first and a middle file removed."""
    kinds = [line.split()[1] for line in changes]
    opened = [i for i, k in enumerate(kinds) if k == "open"]
    removed = [i for i, k in enumerate(kinds) if k in ("unlink", "remove")]
    picked = {opened[0], opened[len(opened) // 2], opened[-1]}
    picked |= {i for i, k in enumerate(kinds) if k in ("mkdir", "rename", "replace", "chmod",
                                                       "rmdir")}
    if removed:
        picked |= {removed[0], removed[len(removed) // 2]}
    return sorted(i + 1 for i in picked)


def test_kill_9_in_the_write_phase_leaves_a_whole_result_and_the_next_run_cleans_up(study):
    from schoolmap.io import files

    if getattr(files, "_exchange", True) is None:
        pytest.skip("no renameat2 here: the two-rename swap leaves a moment with the old result "
                    "aside (tests/test_outputs_safety.py covers it)")
    runs = study / "runs"
    _finish(study)  # an old result to replace
    expected = _files(runs / "out")
    assert "summary.json" in expected and "report.html" in expected
    changes = _finish(study)  # a run that replaces it: the moments to kill it at
    moments = _moments(changes)
    assert len(moments) >= 8, changes
    for moment in moments:
        what = _kill_at(study, moment)
        left = sorted(p.name for p in runs.iterdir())
        _whole(runs / "out", expected)  # the old or the new result, whole
        _finish(study)  # the next run puts it right
        assert sorted(p.name for p in runs.iterdir()) == ["out"], (
            f"killed at {changes[moment - 1]} ({what}): the next run left {left}")
        _whole(runs / "out", expected)
