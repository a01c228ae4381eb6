"""Many districts and scenario ensembles on Dask: one machine's cores, or a cluster.

Two kinds of work are split into independent tasks, each a pure function of its inputs (a
district file path and a validated :class:`~schoolmap.scenario.Scenario`), so the results are
identical run serially, on a local cluster or on a remote one:

- **batch** — every district × every scenario of a *manifest* (``schoolmap batch``); each task
  reads its district, runs the scenario on it and returns small plain tables (district totals
  per level × method, the forecast table per level and year). They are gathered into one
  province-level table.
- **ensemble** — ``schoolmap run SCENARIO --ensemble N``: member *k* is the scenario with
  ``seed = seed + k`` whose births and migration are drawn from that seed (see
  :func:`member_scenario`); each member runs the full year-by-year simulation, so the bands
  (P10 / P50 / P90) cover seats short as well as demand.

The manifest (TOML; paths relative to the manifest file)::

    name = "province"                      # optional, used in the summary
    scenarios = ["demo.toml", "low-births.toml"]
    output = "out/batch"                   # optional; --out overrides; default out/<name>
    scatter = false                        # optional; true: send district files to workers
    districts = ["counties/*.gpkg"]        # optional glob(s): district name = file stem

    [[district]]                           # and/or districts one by one
    name = "east"
    path = "data/east.gpkg"                # a GeoPackage or a folder of layers

Each scenario's own ``district`` is replaced by the manifest's districts; everything else
(levels, methods, norms, forecast) comes from the scenario file. District names must be unique.

Where the work runs
-------------------
Default: a :class:`dask.distributed.LocalCluster` on this machine (one single-threaded worker
process per core, bound to 127.0.0.1), started and stopped by the command. To use several
machines, a planner starts a scheduler on one and workers on every machine::

    machine-a$ dask scheduler                     # prints tcp://machine-a:8786
    machine-a$ dask worker tcp://machine-a:8786 --nthreads 1 --nworkers auto
    machine-b$ dask worker tcp://machine-a:8786 --nthreads 1 --nworkers auto

and runs ``schoolmap batch manifest.toml --scheduler tcp://machine-a:8786`` (or sets
``SCHOOLMAP_SCHEDULER``). Every machine needs the same Python environment (schoolmap
installed). Districts reach the workers in one of two ways:

- by default **a shared path**: the district files sit at the same absolute path on every
  machine (a shared folder: NFS, SMB); tasks carry the path, not the data, and each worker
  reads its district itself;
- with ``scatter = true`` in the manifest, **scattered by the client**: the client reads each
  district once and sends it to the workers (see :func:`run_batch`); no shared folder needed.

Only the small result tables (and each district's outline) travel back to the client.

Failures: a task that raises is retried once (``retries=1``) and then reported with its
district and scenario; the other tasks' results are kept. A task whose worker dies mid-run
(killed, out of memory, machine lost) is rescheduled on another worker by Dask itself (up to
``distributed.scheduler.allowed-failures``, 3, lost workers per task).

Numba kernels are compiled (or loaded from their on-disk cache) once per worker process and
reused by every later task in it: the work is partitioned, never the kernel.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from schoolmap.errors import Problem, ValidationError
from schoolmap.present.maps.province import (  # noqa: F401  (re-exported: the colours' old home)
    PROVINCE_SHORTFALL_BREAKS,
    PROVINCE_SHORTFALL_COLOURS,
    province_page,
)
from schoolmap.run.outputs import atomic_folder, json_ready
from schoolmap.run.scenario import Scenario, load_scenario, read_toml, run_scenario

__all__ = [
    "BatchResult",
    "BatchTask",
    "Manifest",
    "TaskError",
    "TaskResult",
    "as_finished",
    "batch_summary",
    "call_task",
    "dask_client",
    "district_outline",
    "error_text",
    "province_map_html",
    "read_manifest",
    "run_batch",
    "run_task",
    "write_batch",
]


#: Environment variable naming a scheduler to connect to (like ``--scheduler``).
SCHEDULER_ENV = "SCHOOLMAP_SCHEDULER"


#: Files ``schoolmap batch`` writes.
BATCH_FILES = ("batch_totals.csv", "batch_forecast.csv", "batch_summary.json",
               "province_map.html")


#: Tolerance (metres) of the district outlines sent back by each task (display only), doubled
#: until an outline has at most :data:`OUTLINE_MAX_POINTS` points (a province of 2,800
#: counties then stays a map a browser can draw).
OUTLINE_SIMPLIFY_M = 50.0


OUTLINE_MAX_POINTS = 400


_MANIFEST_KEYS = {"name", "scenarios", "output", "districts", "district", "scatter"}


@dataclass(frozen=True)
class BatchTask:
    """One unit of work: a scenario run on one district.

    Attributes
    ----------
    district : str
        District name (from the manifest).
    path : Path
        District file or folder (absolute).
    scenario : Scenario
        The scenario, its ``district`` already replaced by ``path``.
    scatter : bool
        On a cluster, send the district's file(s) from the client to the workers instead of
        having each worker read ``path`` (see :func:`run_batch`).
    """

    district: str
    path: Path
    scenario: Scenario
    scatter: bool = False

    @property
    def key(self) -> str:
        """A readable, unique Dask key."""
        return f"schoolmap-{self.district}-{self.scenario.name}"


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: districts × scenarios.

    Attributes
    ----------
    name : str
    districts : tuple of (name, Path)
    scenarios : tuple of Scenario
    output : Path
    source : Path or None
    scatter : bool
        ``scatter = true``: district files travel from the client to the workers.
    """

    name: str
    districts: tuple[tuple[str, Path], ...]
    scenarios: tuple[Scenario, ...]
    output: Path
    source: Path | None = None
    scatter: bool = False

    def tasks(self) -> list[BatchTask]:
        """Every district × scenario, districts outermost, in manifest order."""
        return [BatchTask(name, path, dataclasses.replace(sc, district=path), self.scatter)
                for name, path in self.districts for sc in self.scenarios]


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and check a batch manifest (see the module docs for the format).

    Raises
    ------
    ValidationError
        Naming every problem: unknown keys, missing scenario files or districts, duplicate
        district names, globs that match nothing.
    """
    p = Path(path)
    where = p.name
    data = read_toml(p, "manifest")
    base = p.parent.resolve()
    problems: list[Problem | str] = []
    for key in sorted(set(data) - _MANIFEST_KEYS):
        problems.append(Problem(where, f"unknown key {key!r}; known keys: "
                                f"{', '.join(sorted(_MANIFEST_KEYS))}"))
    names = data.get("scenarios")
    scenarios: list[Scenario] = []
    if not isinstance(names, list) or not names or not all(isinstance(s, str) for s in names):
        problems.append(Problem(where, "scenarios must be a non-empty list of scenario files, "
                                'e.g. scenarios = ["demo.toml"]'))
    else:
        for s in names:
            try:
                scenarios.append(load_scenario(base / s))
            except ValidationError as exc:
                problems += list(exc.problems)
        seen_sc = [sc.name for sc in scenarios]
        dup = sorted({n for n in seen_sc if seen_sc.count(n) > 1})
        if dup:
            problems.append(Problem(where, f"scenario names must be unique; repeated: "
                                    f"{', '.join(dup)} (set 'name' in the scenario files)"))
    districts: list[tuple[str, Path]] = []
    patterns = data.get("districts", [])
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not all(isinstance(g, str) for g in patterns):
        problems.append(Problem(where, "districts must be a glob or a list of globs"))
        patterns = []
    for pattern in patterns:
        found = sorted(glob.glob(str(base / pattern)))
        if not found:
            problems.append(Problem(where, f"districts glob {pattern!r} matches nothing "
                                    f"(relative to {base})"))
        districts += [(Path(f).stem, Path(f).resolve()) for f in found]
    entries = data.get("district", [])
    if not isinstance(entries, list):
        problems.append(Problem(where, "[[district]] entries need name and path"))
        entries = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) - {"name", "path"} or "path" not in entry:
            problems.append(Problem(where, f"[[district]] #{i}: needs path (and optionally "
                                    f"name), got {entry!r}"))
            continue
        dpath = (base / str(entry["path"])).resolve()
        if not dpath.exists():
            problems.append(Problem(where, f"[[district]] #{i}: {dpath} does not exist"))
        districts.append((str(entry.get("name") or dpath.stem), dpath))
    if not districts and not problems:
        problems.append(Problem(where, "no districts: add [[district]] entries or a districts "
                                "glob"))
    names_d = [n for n, _ in districts]
    dup = sorted({n for n in names_d if names_d.count(n) > 1})
    if dup:
        problems.append(Problem(where, f"district names must be unique; repeated: "
                                f"{', '.join(dup)}"))
    scatter = data.get("scatter", False)
    if not isinstance(scatter, bool):
        problems.append(Problem(where, f"scatter must be true or false, got {scatter!r}"))
    ValidationError.raise_if(problems, f"manifest {where}")
    name = str(data.get("name") or p.stem)
    output = base / str(data.get("output", f"out/{name}"))
    return Manifest(name, tuple(districts), tuple(scenarios), output, p, scatter)


@dataclass
class TaskResult:
    """The small tables one task returns (pickled back to the client).

    Attributes
    ----------
    district, scenario : str
    totals : DataFrame
        :attr:`ScenarioResult.totals` with ``district`` and ``scenario`` columns in front.
    forecast : DataFrame
        The forecast table (``forecast.csv``; empty without a forecast), same key columns.
    seconds : float
        Time spent in the task.
    outline : bytes or None
        The district's outline for the province map: WKB in EPSG:4326 (see
        :func:`district_outline`).
    """

    district: str
    scenario: str
    totals: pd.DataFrame
    forecast: pd.DataFrame
    seconds: float = 0.0
    outline: bytes | None = None


def with_keys(frame: pd.DataFrame, **keys: object) -> pd.DataFrame:
    out = frame.reset_index(drop=True).copy()
    for i, (k, v) in enumerate(keys.items()):
        out.insert(i, k, v)
    return out


def run_task(task: BatchTask) -> TaskResult:
    """Run one scenario on one district; a pure function of ``task`` (no files written)."""
    import time

    from schoolmap.run.outputs import forecast_tables

    t0 = time.perf_counter()
    result = run_scenario(task.scenario)
    keys = {"district": task.district, "scenario": task.scenario.name}
    outline = district_outline(result.district)
    return TaskResult(task.district, task.scenario.name, with_keys(result.totals, **keys),
                      with_keys(forecast_tables(result)["forecast.csv"], **keys),
                      time.perf_counter() - t0, outline)


def district_outline(district: Any) -> bytes | None:
    """A district's outline in EPSG:4326 as WKB: the union of its zones, or, without zones, the
    convex hull of its cells; simplified by :data:`OUTLINE_SIMPLIFY_M` (or more, to at most
    :data:`OUTLINE_MAX_POINTS` points) and rounded to 1e-6°.

    Parameters
    ----------
    district : schoolmap.io.district.District

    Returns
    -------
    bytes or None
        None when the district has no geometry.

    Examples
    --------
    >>> import shapely
    >>> from schoolmap.testing import tiny_town
    >>> shape = shapely.from_wkb(district_outline(tiny_town()))
    >>> shape.geom_type, [round(v, 3) for v in shape.bounds]
    ('Polygon', [122.999, 31.634, 123.014, 31.638])
    """
    import shapely

    zones = district.zones
    if zones is not None and len(zones):
        shape = shapely.union_all(zones.geometry.to_numpy())
    else:
        shape = shapely.convex_hull(shapely.geometrycollections(district.cells.geometry.to_numpy()))
    if shape is None or shape.is_empty:
        return None
    tolerance = OUTLINE_SIMPLIFY_M
    simple = shapely.simplify(shape, tolerance, preserve_topology=True)
    while shapely.get_num_coordinates(simple) > OUTLINE_MAX_POINTS and tolerance < 1e5:
        tolerance *= 2
        simple = shapely.simplify(shape, tolerance, preserve_topology=True)
    shape = simple
    lonlat = gpd.GeoSeries([shape], crs=district.crs).to_crs("EPSG:4326").to_numpy()
    return shapely.to_wkb(shapely.set_precision(lonlat[0], 1e-6))


@dataclass
class BatchResult:
    """Gathered results of a batch.

    Attributes
    ----------
    totals : DataFrame
        One row per district × scenario × level × method (``batch_totals.csv``).
    forecast : DataFrame
        One row per district × scenario × level × year (``batch_forecast.csv``).
    failures : list of dict
        ``district``, ``scenario``, ``error`` of every task that failed (after its retry).
    n_tasks : int
    seconds : float
        Wall time.
    task_seconds : list of float
        Time inside each successful task.
    dashboard : str or None
        Dask dashboard address, when a cluster was used.
    outlines : dict
        District name → outline (WKB, EPSG:4326; see :func:`district_outline`), for every
        district with a successful task.
    faults : dict or None
        On a cluster: ``lost_workers`` (addresses of workers that left during the batch, e.g.
        killed), ``retries`` (task runs beyond the first, after a lost worker or an error) and
        ``attempts`` (per task in task order: ``district``, ``scenario``, ``attempts``); None
        for a serial batch or when the scheduler could not record them.
    """

    totals: pd.DataFrame
    forecast: pd.DataFrame
    failures: list[dict[str, str]]
    n_tasks: int
    seconds: float = 0.0
    task_seconds: list[float] = field(default_factory=list)
    dashboard: str | None = None
    outlines: dict[str, bytes] = field(default_factory=dict)
    faults: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when every task succeeded."""
        return not self.failures


class TaskError(RuntimeError):
    """A task's failure as plain text: pickles back from any worker, whatever the original."""


def as_finished(futures: list, index: dict) -> Any:
    """Yield (position, result, None) or (position, None, error text) as tasks finish.

    ``index`` maps each future's key to its position; each future is released once read.
    """
    from distributed import as_completed

    for future in as_completed(futures):
        if future.status == "finished":
            yield index[future.key], future.result(), None
        else:
            exc = future.exception()
            yield (index[future.key], None,
                   error_text(exc) if exc is not None else f"task {future.status}")
        future.release()


def error_text(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, TaskError) else f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) < 2000 else text[:2000] + " …"


def call_task(func: Callable[..., Any], *args: Any) -> Any:
    """Run a task; its exception becomes a :class:`TaskError` naming the original type."""
    try:
        return func(*args)
    except Exception as exc:
        text = error_text(exc)
    raise TaskError(text)  # outside the handler: no unpicklable __context__ travels along


class FaultLog:
    """Scheduler plugin recording one batch's lost workers and each task's attempts.

    Every move of one of the batch's keys (they end with its run id) into ``processing`` is an
    attempt: the first run, a retry after an error (``retries=1``) or a rerun after the worker
    holding it was lost.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.attempts: dict[str, int] = {}
        self.lost: list[str] = []

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if finish == "processing" and str(key).endswith(self.run_id):
            self.attempts[str(key)] = self.attempts.get(str(key), 0) + 1

    def remove_worker(self, scheduler: Any = None, worker: str = "", **kwargs: Any) -> None:
        self.lost.append(str(worker))

    def report(self) -> dict[str, Any]:
        return {"attempts": dict(self.attempts), "lost": list(self.lost)}


def _start_fault_log(client: Any, run_id: str) -> str | None:
    """Register a :class:`FaultLog` on the scheduler; its name, or None if it cannot be."""
    from distributed.diagnostics.plugin import SchedulerPlugin

    plugin_type = type("SchoolmapFaultLog", (FaultLog, SchedulerPlugin), {})
    name = f"schoolmap-faults-{run_id}"
    try:
        client.register_plugin(plugin_type(run_id), name=name)
    except Exception:  # an older or foreign scheduler: the batch runs, unrecorded
        return None
    return name


def _read_fault_log(client: Any, name: str | None, keys: dict[int, str],
                    tasks: Sequence[BatchTask]) -> dict[str, Any] | None:
    if name is None:
        return None
    try:
        log = client.run_on_scheduler(_fault_report, name=name)
        client.unregister_scheduler_plugin(name)
    except Exception:  # the scheduler went away: nothing to read
        return None
    attempts = [{"district": tasks[i].district, "scenario": tasks[i].scenario.name,
                 "attempts": int(log["attempts"].get(keys[i], 0))} for i in sorted(keys)]
    return {"lost_workers": sorted(set(log["lost"])),
            "retries": sum(max(0, a["attempts"] - 1) for a in attempts),
            "attempts": attempts}


def _fault_report(dask_scheduler: Any = None, name: str = "") -> dict[str, Any]:
    return dask_scheduler.plugins[name].report()


def _gather(tasks: Sequence[BatchTask], results: dict[int, TaskResult],
            failures: dict[int, str], seconds: float, dashboard: str | None) -> BatchResult:
    order = sorted(results)
    totals = pd.concat([results[i].totals for i in order], ignore_index=True) if order \
        else pd.DataFrame(columns=["district", "scenario", "level", "method"])
    fc = [results[i].forecast for i in order if len(results[i].forecast)]
    forecast = pd.concat(fc, ignore_index=True) if fc \
        else pd.DataFrame(columns=["district", "scenario", "level", "year"])
    fails = [{"district": tasks[i].district, "scenario": tasks[i].scenario.name,
              "error": failures[i]} for i in sorted(failures)]
    outlines: dict[str, bytes] = {}
    for i in order:
        if results[i].outline is not None:
            outlines.setdefault(results[i].district, results[i].outline)
    return BatchResult(totals, forecast, fails, len(tasks), seconds,
                       [results[i].seconds for i in order], dashboard, outlines)


def run_batch(
    tasks: Sequence[BatchTask],
    client: Any | None = None,
    *,
    on_done: Callable[[BatchTask, str | None], None] | None = None,
    func: Callable[[BatchTask], TaskResult] = run_task,
) -> BatchResult:
    """Run tasks serially (``client=None``) or on a Dask cluster, and gather the results.

    Parameters
    ----------
    tasks : sequence of BatchTask
    client : distributed.Client, optional
        Without one, tasks run one after another in this process.
    on_done : callable, optional
        ``on_done(task, error)`` after each task (error None when it succeeded): progress.
    func : callable
        The task function (tests pass a slow or failing one).

    Returns
    -------
    BatchResult
        Rows in task order whatever the order of completion, so serial and cluster runs give
        equal tables.

    Notes
    -----
    Tasks with ``scatter`` (manifest ``scatter = true``) do not need their district on the
    workers' disks: the client reads each district once (a folder of layers as a zip archive),
    sends it into the cluster's memory (``Client.scatter``), and each task writes it to a
    temporary folder on its worker and reads it from there. Files the scenario names itself
    (e.g. a migration CSV) are not sent.
    """
    import time

    t0 = time.perf_counter()
    results: dict[int, TaskResult] = {}
    failures: dict[int, str] = {}
    done = on_done or (lambda _t, _e: None)
    if client is None:
        for i, task in enumerate(tasks):
            try:
                results[i] = func(task)
            except Exception as exc:  # reported per task, like on a cluster
                failures[i] = error_text(exc)
            done(task, failures.get(i))
        return _gather(tasks, results, failures, time.perf_counter() - t0, None)

    run_id = uuid.uuid4().hex[:8]  # two batches sharing a cluster never share keys
    fault_log = _start_fault_log(client, run_id)
    packed: dict[Path, Any] = {}  # each district sent once, for all its scenarios
    for task in tasks:
        if task.scatter and task.path not in packed:
            try:
                packed[task.path] = client.scatter(_pack(task.path), hash=False)
            except OSError as exc:  # unreadable here: its tasks fail, the others run
                packed[task.path] = error_text(exc)
    futures = []
    for i, task in enumerate(tasks):
        key = f"{task.key}-{i}-{run_id}"
        if not task.scatter:
            futures.append(client.submit(call_task, func, task, key=key, retries=1, pure=False))
        elif isinstance(packed[task.path], str):
            failures[i] = packed[task.path]
            done(task, failures[i])
        else:
            futures.append(client.submit(call_task, _unpacked, func, task, packed[task.path],
                                         key=key, retries=1, pure=False))
    index = {f.key: int(f.key.rsplit("-", 2)[1]) for f in futures}
    keys = {i: k for k, i in index.items()}
    for i, value, error in as_finished(futures, index):
        if error is None:
            results[i] = value
        else:
            failures[i] = error
        done(tasks[i], error)
    out = _gather(tasks, results, failures, time.perf_counter() - t0,
                  getattr(client, "dashboard_link", None))
    out.faults = _read_fault_log(client, fault_log, keys, tasks)
    return out


def _pack(path: Path) -> tuple[str, str, bytes]:
    """A district as (kind, name, bytes) to send to a worker: a file as it is, a folder of
    layers as a zip archive."""
    import io
    import zipfile

    if path.is_dir():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(path.rglob("*")):
                if file.is_file():
                    archive.write(file, file.relative_to(path).as_posix())
        return "folder", path.name, buffer.getvalue()
    return "file", path.name, path.read_bytes()


def _unpacked(func: Callable[[BatchTask], TaskResult], task: BatchTask,
              packed: tuple[str, str, bytes]) -> TaskResult:
    """Run ``func`` on ``task`` with its district written from ``packed`` into a temporary
    folder on this worker (removed afterwards)."""
    import io
    import tempfile
    import zipfile

    kind, name, data = packed
    with tempfile.TemporaryDirectory(prefix="schoolmap-district-") as tmp:
        local = Path(tmp) / name
        if kind == "folder":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                archive.extractall(local)
        else:
            local.write_bytes(data)
        here = dataclasses.replace(task, path=local,
                                   scenario=dataclasses.replace(task.scenario, district=local))
        return func(here)


def batch_summary(result: BatchResult, manifest: Manifest | None = None,
                  top: int = 10) -> dict[str, Any]:
    """Content of ``batch_summary.json``: counts, failures, the worst districts.

    Worst by shortfall: seats short at schools (学位缺口) in the base year summed over levels,
    headline method (each scenario's first method), with the forecast's worst year
    (``peak_year``, ``peak_shortfall_at_schools``) when there is a forecast. Worst by 大班额:
    share of classes of 56+ at any level, base year.
    """
    t = result.totals
    worst_short: list[dict[str, Any]] = []
    worst_large: list[dict[str, Any]] = []
    if len(t):
        head = {sc.name: sc.methods[0] for sc in manifest.scenarios} if manifest else {}
        if head:
            t = t[t["method"] == t["scenario"].map(head)]
        else:
            t = t[t.groupby(["district", "scenario"])["method"].transform("first") == t["method"]]
        by = t.groupby(["district", "scenario"], sort=False).agg(
            shortfall_at_schools=("shortfall_at_schools", "sum"), demand=("demand", "sum"),
            seats=("seats", "sum")).reset_index()
        f = result.forecast
        if len(f):  # the worst year of the forecast: seats short summed over levels
            per_year = f.groupby(["district", "scenario", "year"], sort=False)[
                "shortfall_at_schools"].sum().reset_index()
            peak = per_year.loc[per_year.groupby(["district", "scenario"], sort=False)[
                "shortfall_at_schools"].idxmax()].rename(columns={
                    "shortfall_at_schools": "peak_shortfall_at_schools", "year": "peak_year"})
            by = by.merge(peak, on=["district", "scenario"], how="left")
        by = by.sort_values(["shortfall_at_schools", "district", "scenario"],
                            ascending=[False, True, True], kind="stable")
        worst_short = by.head(top).to_dict(orient="records")
        large = t[["district", "scenario", "level", "method", "share_classes_56_plus",
                   "n_classes_56_plus"]].dropna(subset=["share_classes_56_plus"])
        large = large.sort_values(["share_classes_56_plus", "district", "scenario", "level"],
                                  ascending=[False, True, True, True], kind="stable")
        worst_large = large.head(top).to_dict(orient="records")
    return json_ready({
        "name": manifest.name if manifest else "batch",
        "manifest": str(manifest.source) if manifest and manifest.source else None,
        "n_tasks": result.n_tasks,
        "n_succeeded": result.n_tasks - len(result.failures),
        "n_failed": len(result.failures),
        "failures": result.failures,
        "districts": [n for n, _ in manifest.districts] if manifest else [],
        "scenarios": [sc.name for sc in manifest.scenarios] if manifest else [],
        "worst_by_shortfall": worst_short,
        "worst_by_share_classes_56_plus": worst_large,
        "seconds": result.seconds,
        "faults": result.faults,
        "files": list(BATCH_FILES),
    })


def write_batch(result: BatchResult, folder: str | os.PathLike[str],
                manifest: Manifest | None = None) -> Path:
    """Write ``batch_totals.csv``, ``batch_forecast.csv``, ``batch_summary.json`` and
    ``province_map.html`` (see :func:`province_map_html`) atomically.

    Like :func:`schoolmap.outputs.write_results`: into a temporary sibling folder, moved into
    place when complete; an existing folder is replaced only if it is empty or an earlier batch
    (has ``batch_summary.json``).
    """
    with atomic_folder(folder, marker="batch_summary.json", kind="schoolmap batch") as tmp:
        for name, table in (("batch_totals.csv", result.totals),
                            ("batch_forecast.csv", result.forecast)):
            table.to_csv(tmp / name, index=False, float_format="%.4f", lineterminator="\n")
        summary = batch_summary(result, manifest)
        (tmp / "batch_summary.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (tmp / "province_map.html").write_text(province_map_html(result, manifest, summary),
                                               encoding="utf-8")
    return Path(folder).resolve()


def province_map_html(result: BatchResult, manifest: Manifest | None = None,
                      summary: dict[str, Any] | None = None) -> str:
    """The province map of a batch: one outline per district, coloured by seats short.

    One layer per scenario (the first shown; a layer switcher for the others): each district's
    outline (:func:`district_outline`) filled by its seats short at schools (学位缺口) summed
    over levels, base year, headline method (the scenario's first): green for none, then
    < 100, 100–499, 500–1,999, ≥ 2,000 seats. Its popup gives the district's totals per level
    (demand, seats, seats short, share of classes of 56+) and the forecast's worst year. The
    legend lists the worst districts by seats short and by 大班额 share (from
    :func:`batch_summary`) and the failed tasks. The page carries its own Leaflet (as
    :mod:`schoolmap.maps`), needs no network (no basemap) and is byte-identical for identical
    results; every name from the manifest is HTML-escaped.

    Parameters
    ----------
    result : BatchResult
    manifest : Manifest, optional
        Gives each scenario's headline method and the batch's name.
    summary : dict, optional
        :func:`batch_summary` of the result (computed when not given).

    Returns
    -------
    str
        The HTML page.
    """
    summary = summary if summary is not None else batch_summary(result, manifest)
    t = result.totals
    head = {sc.name: sc.methods[0] for sc in manifest.scenarios} if manifest else {}
    if len(t):
        first = t.groupby(["district", "scenario"], sort=False)["method"].transform("first")
        t = t[t["method"] == (t["scenario"].map(head).fillna(first) if head else first)]
    peaks: dict[tuple[str, str], dict[str, Any]] = {}
    if len(result.forecast):
        per_year = result.forecast.groupby(["district", "scenario", "year"], sort=False)[
            "shortfall_at_schools"].sum().reset_index()
        best = per_year.loc[per_year.groupby(["district", "scenario"], sort=False)[
            "shortfall_at_schools"].idxmax()]
        peaks = {(r.district, r.scenario): {"peak_year": r.year,
                                            "peak_shortfall_at_schools": r.shortfall_at_schools}
                 for r in best.itertuples()}
    districts: dict[tuple[str, str], tuple[float, float]] = {}
    for (district, scenario), d in (t.groupby(["district", "scenario"], sort=False)
                                    if len(t) else []):
        short = float(d["shortfall_at_schools"].sum())
        classes = float(d["classes"].sum())
        share = float(d["n_classes_56_plus"].sum()) / classes if classes else float("nan")
        districts[(district, scenario)] = (short, share)
    # one language per page: the first scenario's (zh unless it says otherwise)
    lang = manifest.scenarios[0].language if manifest and manifest.scenarios else "zh"
    return province_page(t, districts, peaks, result.outlines, summary, lang=lang)


@contextmanager
def dask_client(scheduler: str | None = None, *, n_workers: int | None = None,
                dashboard_address: str | None = ":0") -> Iterator[Any]:
    """A Dask client: connected to ``scheduler`` (or ``$SCHOOLMAP_SCHEDULER``), or to a new
    local cluster of one single-threaded worker process per core (closed on exit)."""
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if address:
        with Client(address) as client:
            yield client
        return
    n = n_workers or max(1, min(os.cpu_count() or 1, 8))
    # failures are reported per task by schoolmap; the workers' own error logs would repeat them
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=dashboard_address, silence_logs=logging.CRITICAL
                      ) as cluster, Client(cluster) as client:
        yield client
