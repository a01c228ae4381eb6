"""``schoolmap backtest``: the subcommand, and the folder it writes (``backtest.csv``,
``backtest_summary.csv``, ``backtest.html``, all at once)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from schoolmap.demand.backtest.evaluate import METHODS, Backtest, backtest
from schoolmap.io.files import atomic_folder
from schoolmap.present.backtest import backtest_html

__all__ = ["add_backtest_command", "run_backtest_command", "write_backtest"]


def write_backtest(result: Backtest, out: str | os.PathLike[str]) -> Path:
    """Write ``backtest.csv``, ``backtest_summary.csv`` and ``backtest.html`` into ``out``.

    All at once: the files are written into a temporary sibling folder that then replaces
    ``out`` (an existing ``out`` only if it is empty or an earlier backtest's), so a failed run
    leaves nothing half-written. Rows and bytes are the same on every run.
    """
    with atomic_folder(out, marker="backtest_summary.csv", kind="schoolmap backtest") as tmp:
        result.table.to_csv(tmp / "backtest.csv", index=False, float_format="%.4f",
                            lineterminator="\n")
        result.summary.to_csv(tmp / "backtest_summary.csv", index=False, float_format="%.4f",
                              lineterminator="\n")
        (tmp / "backtest.html").write_text(backtest_html(result), encoding="utf-8")
    return Path(out).resolve()


def add_backtest_command(sub: Any) -> None:
    """Add ``schoolmap backtest`` to the CLI's subparsers."""
    p = sub.add_parser(
        "backtest", help="measure forecast accuracy on a real enrolment history",
        description=(
            "Backtest enrolment forecasts on a history of counts by school, year and grade: for "
            "every origin year fit each method on the years up to it only, forecast each later "
            "year up to the horizon and compare with what was counted. Methods: csr (the "
            "classic cohort-survival yardstick) and schoolmap (the recommended method, with "
            "P10/P90 from its own errors on earlier origins). Writes backtest.csv, "
            "backtest_summary.csv and backtest.html into --out (all at once)."),
        epilog=("Example: schoolmap backtest data/history/ecasd/enrolment.csv --births "
                "data/history/ecasd/births.csv --origins 2001:2013 --horizons 1:5 --out "
                "out/backtest-ecasd"))
    p.add_argument("enrolment", type=Path, metavar="ENROLMENT",
                   help="CSV (school_id or school, year, grade, students[, classes]) or a "
                        "GeoPackage with an 'enrolment' table")
    p.add_argument("--births", type=Path, default=None, metavar="BIRTHS.csv",
                   help="births by year (year, births); without it entry grades are forecast "
                        "as if births stayed flat")
    p.add_argument("--origins", default=None, metavar="FIRST:LAST",
                   help="origin years (default: 4th year of the history to the year before "
                        "the last)")
    p.add_argument("--horizons", default="1:5", metavar="FIRST:LAST",
                   help="years ahead (default 1:5)")
    p.add_argument("--methods", default=",".join(METHODS), metavar="LIST",
                   help=f"comma-separated, of {', '.join(METHODS)} (default: all)")
    p.add_argument("--split", type=int, default=None, metavar="YEAR",
                   help="also summarise origins ≤ YEAR and > YEAR separately")
    p.add_argument("--first-age", type=int, default=None, metavar="AGE",
                   help="age of the lowest grade's pupils at the count (default: 5 for K, 6 "
                        "for grade 1)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--quiet", action="store_true", help="print only where results are")


def run_backtest_command(args: Any, console: Any) -> int:
    """Run ``schoolmap backtest`` from parsed arguments; print the accuracy table."""
    from rich.table import Table

    result = backtest(args.enrolment, args.births, origins=args.origins,
                      horizons=args.horizons, methods=args.methods, first_age=args.first_age,
                      split=args.split)
    folder = write_backtest(result, args.out)
    if not args.quiet:
        for label, part in result.summary.groupby("origins", sort=False):
            hs = sorted(part["horizon"].unique())
            table = Table(title=f"MAPE by horizon, origins {label}", title_justify="left")
            for col in ["method", "level", *[f"h={h}" for h in hs], "coverage"]:
                table.add_column(col, justify="left" if col in ("method", "level") else "right")
            for (method, level), grp in part.groupby(["method", "level"], sort=False):
                banded = grp["n_interval"].sum()
                cov = ((grp["coverage_p10_p90"] * grp["n_interval"]).sum() / banded
                       if banded else float("nan"))
                table.add_row(method, level, *[f"{v:.1f} %" for v in grp["mape_pct"]],
                              "—" if cov != cov else f"{100 * cov:.0f} %")
            console.print(table)
        for note in result.notes:
            console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(f"Backtest written to {folder}  (open {folder / 'backtest.html'})",
                  highlight=False, soft_wrap=True)
    return 0
