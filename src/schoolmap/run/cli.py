"""Command line: ``schoolmap run``, ``validate``, ``norms``, ``import`` and ``backtest``.

A thin layer over :mod:`schoolmap.scenario`; every planning figure is computed there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from schoolmap import __version__
from schoolmap.errors import SchoolmapError
from schoolmap.i18n import CLI_WORDS, LEVEL_NAMES_ZH, METHOD_NAMES, note_text
from schoolmap.importers import IMPORTERS
from schoolmap.io.files import check_output_folder
from schoolmap.norms import default_norms
from schoolmap.run.backtest import add_backtest_command, run_backtest_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="schoolmap",
        description=(
            "Plan school seats for a district: who needs a kindergarten, primary or junior-middle "
            "seat where, which schools run short of seats (学位缺口) or into oversized classes "
            "(大班额 56+, 超大班额 66+), and maps of it all."
        ),
        epilog="Start with: schoolmap run scenarios/demo.toml   (docs: README.md, docs/)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"schoolmap {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run", help="run a scenario: allocate students, find shortfalls, write tables and a map",
        description=(
            "Run a scenario file (TOML): read and check the district, count the students of each "
            "level in every cell, assign them to schools by each of the scenario's methods "
            "(catchment: by official zone, 划片; nearest: to the nearest school; optimal: least "
            "total travel with no school over its seats, proved optimal; the first is the "
            "headline), and report per school, per catchment and for the district: demand, "
            "seats, seats short, utilisation, classes needed at norm size, class-size bands and "
            "the share of students beyond the service radius; with horizon > 0 the forecast "
            "year by year, with [siting] new schools, with [plan] the capital plan. Writes "
            "results.gpkg, results.xlsx, schools.csv, zones.csv, district.csv, forecast*.csv, "
            "proposed_catchments.csv, new_sites.csv, siting_years.csv, summary.json, map.html, "
            "map_<level>.png and report.html into the output folder (all at once: a failed run "
            "leaves nothing half-written). CSVs are UTF-8 with a BOM (Excel reads them)."
        ),
        epilog=("Scenario keys: district, base_year, horizon, levels, methods (catchment, "
                "nearest, optimal), lang, seed, output, planning_crs, input_crs, "
                "output_crs (results.gpkg; default the input's), coordinate_system, "
                "max_distance_m, name, description; tables [norms], "
                "[forecast], [siting], [travel], [map], [plan], [zoning], [admission] "
                "(admission.csv, admission_cells) — see README.md and docs/."),
    )
    run.add_argument("scenario", type=Path, help="scenario file, e.g. scenarios/demo.toml")
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="output folder (default: the scenario's 'output')")
    run.add_argument("--quiet", action="store_true", help="print only where results are")
    run.add_argument("--lang", choices=("zh", "en"), default=None,
                     help="language of report.html, the map's labels and the summary printed "
                          "(default: the scenario's 'lang'; zh for 6+3/5+4, en for us)")
    run.add_argument("--ensemble", type=int, default=None, metavar="N",
                     help="also run N ensemble members as parallel tasks (seeds seed … "
                          "seed+N−1, each drawing its births and migration and simulating "
                          "every year) and write their P10/P50/P90 of demand and seats short "
                          "per level and year to forecast_ensemble.csv (needs horizon > 0)")
    run.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                     help="with --ensemble: Dask scheduler to run the members on (default: "
                          "$SCHOOLMAP_SCHEDULER, else a local cluster of one worker per core)")

    bat = sub.add_parser(
        "batch", help="run scenarios on many districts in parallel (Dask): a province table",
        description=(
            "Run every scenario of a manifest on every district of it, as independent tasks on "
            "a Dask cluster — by default a local cluster of one worker process per core, or an "
            "existing cluster with --scheduler (env SCHOOLMAP_SCHEDULER). Writes, atomically, "
            "batch_totals.csv (district × scenario × level × method totals), batch_forecast.csv "
            "(district × scenario × level × year), batch_summary.json (the districts worst "
            "by seats short and by 大班额 share, and every failed task) and province_map.html "
            "(an offline map: one outline per district coloured by seats short, a layer per "
            "scenario, the worst districts in the legend). A failed task is "
            "retried once, then reported with its district and scenario; the others' results "
            "are kept. Exit code 0 when every task succeeded, 3 when some failed, 2 when the "
            "manifest is invalid."
        ),
        epilog=(
            "Manifest (TOML, paths relative to it):\n"
            '  scenarios = ["demo.toml", "low-births.toml"]\n'
            '  districts = ["counties/*.gpkg"]     # glob(s); name = file stem\n'
            '  output = "out/province"             # optional\n'
            "  scatter = false                     # true: send district files to the workers\n"
            "  [[district]]\n"
            '  name = "east"\n'
            '  path = "data/east.gpkg"\n\n'
            "Several machines: on one, `dask scheduler` (tcp://HOST:8786); on each, `dask worker "
            "tcp://HOST:8786 --nthreads 1 --nworkers auto`; then `schoolmap batch m.toml "
            "--scheduler tcp://HOST:8786`. Districts must be at the same absolute path on every "
            "machine (a shared folder) — or set `scatter = true` and the client sends each "
            "district's file to the workers."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bat.add_argument("manifest", type=Path, metavar="MANIFEST.toml",
                     help="districts × scenarios to run")
    bat.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="output folder (default: the manifest's 'output')")
    bat.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                     help="Dask scheduler to use (default: $SCHOOLMAP_SCHEDULER, else a local "
                          "cluster of one worker per core)")
    bat.add_argument("--workers", type=int, default=None, metavar="N",
                     help="local cluster only: worker processes (default: one per core)")
    bat.add_argument("--quiet", action="store_true", help="print only where results are")

    val = sub.add_parser(
        "validate", help="check a district file and list every problem found",
        description=(
            "Check a district (a GeoPackage with layers cells, schools, zones, developments, "
            "sites, or a folder of such files) and print every problem at once: missing columns, "
            "duplicate ids, empty or invalid geometries, negative or missing population, seats "
            "≤ 0, unknown levels, schools outside every zone, missing CRS. Exit code 0 when the "
            "district is usable, 2 when not."
        ),
    )
    val.add_argument("district", type=Path, help="district .gpkg or folder")
    val.add_argument("--planning-crs", default=None,
                     help="metric CRS for computations (default: local UTM zone)")
    val.add_argument("--coordinate-system", default="wgs84", choices=("wgs84", "gcj02", "bd09"),
                     help="datum offset of lon/lat inputs (gcj02: Amap/Tencent; bd09: Baidu)")
    val.add_argument("--input-crs", default=None,
                     help="CRS for layers without one (e.g. CSV with x/y), e.g. EPSG:4490")

    norms = sub.add_parser(
        "norms", help="print the planning norms in force (defaults, or a scenario's)",
        description="Print class sizes, class-size bands, service radii, school sizes and the "
                    "grade system — the national defaults, or those of a scenario file.",
    )
    norms.add_argument("scenario", type=Path, nargs="?", help="scenario file (optional)")

    imp = sub.add_parser(
        "import", help="build a district from a school district's own planning files",
        description=(
            "Turn a real school district's raw planning files into a schoolmap district: read "
            "and check them, reproject everything into one metric CRS, and write GeoPackages "
            "with the layers cells, schools, zones, developments and sites (atomically, "
            "byte-reproducibly) plus a JSON report of what was read and decided. "
            "Available: durham — Durham Public Schools, North Carolina (students counted per "
            "planning unit, attendance zones, published crowding ratios, approved housing, a "
            "candidate high-school site); writes durham.gpkg, durham-buildout.gpkg, "
            "durham-new-hs.gpkg and durham-import.json."
        ),
        epilog="Example: schoolmap import durham data/geo/durham/raw data/geo/durham",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("importer", choices=sorted(IMPORTERS), help="which district's files")
    imp.add_argument("source", type=Path, metavar="SRC_DIR",
                     help="folder with the raw files as published (see the importer's docs)")
    imp.add_argument("out", type=Path, metavar="OUT_DIR",
                     help="folder to write the district into (created if missing)")
    imp.add_argument("--quiet", action="store_true", help="print only where the district is")

    cmp_ = sub.add_parser(
        "compare", help="compare scenarios: seats short by level and year",
        description=(
            "Run two or more scenario files and print, for each level and each year of the "
            "forecast, the demand and the seats short at schools (学位缺口) under each, and "
            "each one's difference from the first (A) — e.g. the baseline against low births, "
            "a birth rebound, the new town built out on time, or a migration surge. Writes "
            "compare.csv (UTF-8 with BOM), compare.xlsx and compare.png (seats short by "
            "year, a line per scenario) into the output folder; the scenarios' own outputs "
            "are not written."
        ),
        epilog=("Example: schoolmap compare scenarios/demo.toml scenarios/low-births.toml "
                "scenarios/birth-rebound.toml --out out/compare"),
    )
    cmp_.add_argument("scenarios", type=Path, nargs="+", metavar="SCENARIO.toml",
                      help="two or more scenario files; the first is the reference (A)")
    cmp_.add_argument("--out", type=Path, default=None, metavar="DIR",
                      help="output folder (default: out/compare beside the first scenario)")
    cmp_.add_argument("--lang", choices=("zh", "en"), default=None,
                      help="language of the printed table, compare.xlsx and the chart "
                           "(default: the first scenario's)")
    add_backtest_command(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``schoolmap`` command."""
    args = _parser().parse_args(argv)
    # tables need ~110 columns; pipes and CI logs get that width instead of 80
    console = Console(width=None if sys.stdout.isatty() else 120)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    try:
        if args.command == "run":
            return _run(args, console)
        if args.command == "validate":
            return _validate(args, console)
        if args.command == "import":
            return _import(args, console)
        if args.command == "compare":
            return _compare(args, console)
        if args.command == "batch":
            return _batch(args, console, err)
        if args.command == "backtest":
            return run_backtest_command(args, console)
        return _norms(args, console)
    except SchoolmapError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True,
                  soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted; no output was written")
        return 130


def _batch(args: argparse.Namespace, console: Console, err: Console) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn

    from schoolmap.run.distributed import dask_client, read_manifest, run_batch, write_batch

    t0 = time.perf_counter()
    manifest = read_manifest(args.manifest)
    tasks = manifest.tasks()
    out = args.out if args.out is not None else manifest.output
    check_output_folder(out, kind="schoolmap batch")
    with dask_client(args.scheduler, n_workers=args.workers) as client:
        if not args.quiet:
            n = len(client.scheduler_info().get("workers", {}))
            console.print(f"{len(tasks)} tasks ({len(manifest.districts)} districts × "
                          f"{len(manifest.scenarios)} scenarios) on {n} workers; Dask "
                          f"dashboard: {client.dashboard_link}", highlight=False, soft_wrap=True)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True,
                      disable=args.quiet) as progress:
            bar = progress.add_task("batch", total=len(tasks))

            def done(task: object, error: str | None) -> None:
                progress.advance(bar)
                if error is not None and not args.quiet:  # all are listed again at the end
                    err.print(f"failed: district {task.district!r}, scenario "  # type: ignore
                              f"{task.scenario.name!r}: {error}",  # type: ignore
                              highlight=False, markup=False, soft_wrap=True)

            result = run_batch(tasks, client, on_done=done)
    folder = write_batch(result, out, manifest)
    if not args.quiet:
        from schoolmap.run.distributed import batch_summary

        summ = batch_summary(result, manifest, top=5)
        table = Table(title="Districts most short of seats (学位缺口, headline method)",
                      title_justify="left")
        for col in ("district", "scenario", "demand", "seats", "short at schools",
                    "peak short (year)"):
            table.add_column(col, justify="left" if col in ("district", "scenario") else "right")
        for r in summ["worst_by_shortfall"]:
            peak = (f"{_fmt(r['peak_shortfall_at_schools'])} ({r['peak_year']})"
                    if r.get("peak_year") is not None else "—")
            table.add_row(r["district"], r["scenario"], _fmt(r["demand"]), _fmt(r["seats"]),
                          _fmt(r["shortfall_at_schools"]), peak)
        console.print(table)
        table = Table(title="Largest shares of 大班额 classes (56+)", title_justify="left")
        for col in ("district", "scenario", "level", "classes 56+", "share"):
            table.add_column(col, justify="left" if col in ("district", "scenario", "level")
                             else "right")
        for r in summ["worst_by_share_classes_56_plus"]:
            table.add_row(r["district"], r["scenario"], r["level"],
                          _fmt(r["n_classes_56_plus"]), _fmt(r["share_classes_56_plus"], True))
        console.print(table)
        console.print(f"done in {time.perf_counter() - t0:.1f} s")
    if result.failures:
        err.print(f"{len(result.failures)} of {result.n_tasks} tasks failed (listed in "
                  f"{folder / 'batch_summary.json'}):", highlight=False, soft_wrap=True)
        for f in result.failures:
            err.print(f"  district {f['district']!r}, scenario {f['scenario']!r}: {f['error']}",
                      highlight=False, markup=False, soft_wrap=True)
    console.print(f"Results written to {folder}", highlight=False, soft_wrap=True)
    return 3 if result.failures else 0


def _compare(args: argparse.Namespace, console: Console) -> int:
    from schoolmap.run.compare import compare_levels, compare_table, write_compare
    from schoolmap.run.scenario import load_scenario, run_scenario

    if len(args.scenarios) < 2:
        raise SchoolmapError(f"compare needs two or more scenario files, got "
                             f"{len(args.scenarios)}")
    scenarios = [load_scenario(path) for path in args.scenarios]
    lang = args.lang or scenarios[0].language
    zh = lang == "zh"

    def word(key: str, **kw: object) -> str:
        return CLI_WORDS[key][1 if zh else 0].format(**kw)

    results = []
    for sc in scenarios:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task(sc.name, total=None)
            results.append(run_scenario(sc, step=lambda msg, t=task, n=sc.name:
                                        progress.update(t, description=f"{n}: {msg}")))
    if not compare_levels(results):
        console.print(word("compare none"))
        return 0
    letters = [chr(ord("A") + i) if i < 26 else str(i + 1) for i in range(len(results))]
    table = compare_table(results)
    for level, rows in table.groupby("level", sort=False):
        names = " vs ".join(f"{n} ({x})" for n, x in zip(dict.fromkeys(rows["scenario"]),
                                                        letters, strict=True))
        shown = Table(title=f"{level} {LEVEL_NAMES_ZH.get(str(level), '')}: {names}",
                      title_justify="left")
        columns = [word("compare year")] + [word("compare demand", x=x) for x in letters]
        columns += [word("compare short", x=x) for x in letters]
        columns += [word("compare diff", x=x) for x in letters[1:]]
        for col in columns:
            shown.add_column(col, justify="right")
        for year, by_year in rows.groupby("year", sort=True):
            shown.add_row(str(year), *(_fmt(v) for v in by_year["demand"]),
                          *(_fmt(v) for v in by_year["shortfall_at_schools"]),
                          *(f"{v:+,d}" for v in by_year["shortfall_vs_reference"].iloc[1:]))
        console.print(shown)
    out = args.out if args.out is not None else args.scenarios[0].parent / "out" / "compare"
    folder = write_compare(results, out, lang)
    console.print(word("compare written", folder=folder), highlight=False, soft_wrap=True)
    return 0


def _run(args: argparse.Namespace, console: Console) -> int:
    from schoolmap.run.outputs import write_results
    from schoolmap.run.scenario import load_scenario, run_scenario

    t0 = time.perf_counter()
    scenario = load_scenario(args.scenario)
    if args.lang is not None:
        scenario = dataclasses.replace(scenario, lang=args.lang)
    ensemble = getattr(args, "ensemble", None)
    if ensemble is not None:
        if ensemble < 1 or scenario.horizon < 1:
            raise SchoolmapError(f"--ensemble needs N ≥ 1 (got {ensemble}) and a scenario "
                                 f"with horizon > 0 (got {scenario.horizon})")
        # the members replace the in-process ensemble
        scenario = dataclasses.replace(
            scenario, forecast=dataclasses.replace(scenario.forecast, ensemble=0))
    out = args.out if args.out is not None else scenario.output
    check_output_folder(out)  # before the work, not after it
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True, disable=args.quiet) as progress:
        task = progress.add_task(f"scenario {scenario.name}", total=None)

        plain = not args.quiet and not console.is_terminal  # piped or logged: plain lines

        def step(msg: str) -> None:
            progress.update(task, description=f"{scenario.name}: {msg}")
            if plain:
                print(f"{time.strftime('%H:%M:%S')} +{time.perf_counter() - t0:7.1f} s  "
                      f"{scenario.name}: {msg}", flush=True)

        result = run_scenario(scenario, step=step)
        if ensemble is not None:
            result.timer.start("ensemble members")
            result.ensemble = _ensemble(scenario, ensemble, args, console, progress, task)
        step("writing results")
        folder = write_results(result, out)
    if not args.quiet:
        _print_summary(result, console)
        console.print(f"done in {time.perf_counter() - t0:.1f} s")
    console.print(f"Results written to {folder}  (open {folder / 'report.html'})",
                  highlight=False, soft_wrap=True)
    return 0


def _ensemble(scenario: object, n: int, args: argparse.Namespace, console: Console,
              progress: Progress, task: object) -> object:
    """Run ``n`` ensemble members on Dask; their bands (the ``forecast_ensemble.csv`` table)."""
    from schoolmap.run.distributed import dask_client
    from schoolmap.run.ensemble import run_ensemble

    with dask_client(args.scheduler) as client:
        if not args.quiet:
            console.print(f"ensemble of {n} members on "
                          f"{len(client.scheduler_info().get('workers', {}))} workers; Dask "
                          f"dashboard: {client.dashboard_link}", highlight=False, soft_wrap=True)
        progress.update(task, description=f"ensemble: 0/{n} members")  # type: ignore[arg-type]
        finished = [0]

        def done(member: int, error: str | None) -> None:
            finished[0] += 1
            progress.update(task, description=f"ensemble: {finished[0]}/{n} "  # type: ignore
                                              "members")
            if error is not None:
                console.print(f"ensemble member {member} failed: {error}", highlight=False,
                              markup=False, soft_wrap=True)

        ens = run_ensemble(scenario, n, client, on_done=done)  # type: ignore[arg-type]
    return ens.bands


def _fmt(x: float, pct: bool = False) -> str:
    if x != x:  # NaN
        return "—"
    return f"{100 * x:.1f} %" if pct else f"{x:,.0f}"


def _print_summary(result: object, console: Console) -> None:
    from schoolmap.run.scenario import ScenarioResult

    assert isinstance(result, ScenarioResult)
    sc = result.scenario
    zh = sc.language == "zh"

    def w(key: str, **kw: object) -> str:
        return CLI_WORDS[key][1 if zh else 0].format(**kw)

    def level_name(level: str) -> str:
        zh_name = LEVEL_NAMES_ZH.get(level, "")
        return (zh_name or level) if zh else f"{level} {zh_name}".strip()

    def method_name(method: str) -> str:
        return METHOD_NAMES.get(method, {}).get("zh", method) if zh else method

    console.print(f"[bold]{sc.name}[/]: " + w("cells", cells=f"{result.district.n_cells:,}",
                                              schools=result.district.n_schools,
                                              year=result.year))
    table = Table(title=w("totals"), title_justify="left")
    for col in ("level", "method", "demand", "seats", "short at schools", "schools short",
                "classes 56+", "classes 66+", "beyond radius", "unserved"):
        table.add_column(w(col), justify="left" if col in ("level", "method") else "right",
                         no_wrap=col in ("level", "method"))
    for r in result.totals.itertuples():
        table.add_row(level_name(r.level), method_name(r.method), _fmt(r.demand),
                      _fmt(r.seats), _fmt(r.shortfall_at_schools),
                      f"{r.n_schools_short}/{r.n_schools}", _fmt(r.share_classes_56_plus, True),
                      _fmt(r.share_classes_66_plus, True), _fmt(r.share_beyond_radius, True),
                      _fmt(r.unassigned))
    console.print(table)
    s = result.schools
    if "area_type" in s.columns and len(s):
        head = s[s["method"] == sc.methods[0]]
        by = head.groupby(["level", "area_type"], sort=True)[["demand", "seats", "shortfall"]].sum()
        t2 = Table(title=w("by area", method=method_name(sc.methods[0])), title_justify="left")
        for col in ("level", "area", "demand", "seats", "utilisation", "short at schools"):
            t2.add_column(w(col), justify="left" if col in ("level", "area") else "right")
        for (level, area), r in by.iterrows():
            util = r["demand"] / r["seats"] if r["seats"] else float("nan")
            t2.add_row(level_name(level), area, _fmt(r["demand"]), _fmt(r["seats"]),
                       _fmt(util, True), _fmt(r["shortfall"]))
        console.print(t2)
    if result.siting:
        n = sum(p.n_new for p in result.siting.values())
        lb = sum(p.lower_bound for p in result.siting.values())
        t3 = Table(title=w("new schools", n=n, lb=lb), title_justify="left")
        for col in ("level", "site", "size", "seats", "open year", "served"):
            t3.add_column(w(col), justify="left" if col in ("level", "site") else "right")
        for level, plan in result.siting.items():
            for r in plan.sites.itertuples():
                t3.add_row(level_name(level), f"{r.name} ({r.site_id})",
                           f"{r.tracks} / {r.classes}", _fmt(r.seats),
                           "—" if r.open_year is None or r.open_year != r.open_year
                           else str(r.open_year), _fmt(r.students_served))
        console.print(t3)
    for note in result.notes:
        console.print(f"{w('note')}: {note_text(note, sc.language)}", highlight=False,
                      markup=False, soft_wrap=True)


def _validate(args: argparse.Namespace, console: Console) -> int:
    from schoolmap.allocation.overlaps import overlap_notes, zone_overlaps
    from schoolmap.io.district import read_district

    d = read_district(args.district, planning_crs=args.planning_crs,
                      coordinate_system=args.coordinate_system, input_crs=args.input_crs)
    layers = {"cells": d.cells, "schools": d.schools, "zones": d.zones,
              "developments": d.developments, "sites": d.sites}
    parts = ", ".join(f"{len(f):,} {n}" for n, f in layers.items() if f is not None)
    if d.enrolment is not None:
        parts += f", {len(d.enrolment):,} enrolment rows"
    console.print(f"{args.district}: OK — {parts}; planning CRS {d.crs.name}", highlight=False,
                  soft_wrap=True)
    for note in overlap_notes(zone_overlaps(d)):  # allowed, but a planner should know
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    return 0


def _import(args: argparse.Namespace, console: Console) -> int:
    from schoolmap.importers import run_importer

    t0 = time.perf_counter()
    path = run_importer(args.importer, args.source, args.out)
    if not args.quiet:
        report = path.parent / f"{args.importer}-import.json"
        if report.is_file():
            data = json.loads(report.read_text(encoding="utf-8"))
            for note in data.get("notes", []):
                console.print(f"note: {note}", highlight=False, soft_wrap=True)
        console.print(f"done in {time.perf_counter() - t0:.1f} s")
    console.print(f"District written to {path}  (check it: schoolmap validate {path})",
                  highlight=False, soft_wrap=True)
    return 0


def _norms(args: argparse.Namespace, console: Console) -> int:
    if args.scenario is not None:
        from schoolmap.run.scenario import load_scenario

        norms = load_scenario(args.scenario).norms
    else:
        norms = default_norms()
    console.print_json(json.dumps(norms.to_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
