"""``schoolmap compare``: several scenarios side by side (issue 18) — per level and year of the
forecast, each scenario's demand, seats and seats short at schools, and how far each is from
the first (the reference); written as ``compare.csv``, ``compare.xlsx`` and ``compare.png``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from schoolmap.i18n import SHEET_NAMES, column_header
from schoolmap.io.files import atomic_folder
from schoolmap.io.workbook import write_csv, write_xlsx
from schoolmap.run.scenario import ScenarioResult

__all__ = ["COMPARE_COLUMNS", "COMPARE_FILES", "compare_levels", "compare_table",
           "write_compare"]

#: Files a comparison writes.
COMPARE_FILES = ("compare.csv", "compare.xlsx", "compare.png")

#: Columns of ``compare.csv``: students and seats whole (rounded half up, the differences
#: taken after rounding), the share of 大班额 classes exact.
COMPARE_COLUMNS = ("level", "year", "scenario", "demand", "seats", "shortfall_at_schools",
                   "shortfall_vs_reference", "unassigned", "share_classes_56_plus")

_WHOLE = ("demand", "seats", "shortfall_at_schools", "unassigned")


def compare_levels(results: Sequence[ScenarioResult]) -> list[str]:
    """The levels every result forecast, in the first scenario's order."""
    first = results[0].scenario.levels
    return [lv for lv in first if all(lv in r.simulations for r in results)]


def compare_table(results: Sequence[ScenarioResult]) -> pd.DataFrame:
    """Per level, year (those of every scenario) and scenario: demand, seats, seats short at
    schools (学位缺口), its difference from the first scenario, students without a seat and
    the share of classes of 56 and more.

    Parameters
    ----------
    results : sequence of ScenarioResult
        Two or more runs with a forecast (``horizon > 0``); the first is the reference.
        Scenarios are named by their ``name`` (a repeated name gets ``#2``, ``#3`` …).

    Returns
    -------
    pandas.DataFrame
        :data:`COMPARE_COLUMNS`, rows by level, year, then scenario in the order given.
    """
    names = _unique([r.scenario.name for r in results])
    rows = []
    for level in compare_levels(results):
        frames = [r.simulations[level].district.set_index("year") for r in results]
        years = sorted(set.intersection(*(set(f.index) for f in frames)))
        for year in years:
            reference = None
            for name, frame in zip(names, frames, strict=True):
                row = frame.loc[year]
                whole = {c: int(np.floor(float(row.get(c, np.nan)) + 0.5)) for c in _WHOLE}
                short = whole["shortfall_at_schools"]
                reference = short if reference is None else reference
                rows.append({"level": level, "year": int(year), "scenario": name, **whole,
                             "shortfall_vs_reference": short - reference,
                             "share_classes_56_plus": float(row.get("share_classes_56_plus",
                                                                    np.nan))})
    table = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
    return table.astype({c: "int64" for c in (*_WHOLE, "shortfall_vs_reference", "year")})


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return out


def write_compare(results: Sequence[ScenarioResult], folder: str | os.PathLike[str],
                  lang: str) -> Path:
    """Write ``compare.csv`` (UTF-8 with BOM), ``compare.xlsx`` (headers in ``lang``) and
    ``compare.png`` (seats short by year, one line per scenario, a panel per level) into
    ``folder``, all at once (see :func:`schoolmap.io.files.atomic_folder`).

    Returns
    -------
    Path
        The folder written.
    """
    from schoolmap.present.compare import compare_chart

    table = compare_table(results)
    base_year = min(r.scenario.base_year for r in results)
    with atomic_folder(folder, marker="compare.csv", kind="schoolmap comparison") as tmp:
        write_csv(table, tmp / "compare.csv")
        write_xlsx({SHEET_NAMES.get(lang, {}).get("compare", "compare"): table},
                   tmp / "compare.xlsx",
                   headers={c: column_header(c, lang) for c in table.columns}, year=base_year)
        (tmp / "compare.png").write_bytes(compare_chart(table, lang))
    return Path(folder).resolve()
