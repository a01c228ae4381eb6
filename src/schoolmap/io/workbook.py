"""Writing tables people read: an Excel workbook (one sheet per table) and CSV files that Excel
on a Chinese Windows opens without garbling — both byte-identical for identical inputs."""

from __future__ import annotations

import datetime as dt
import io
import math
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["WHOLE_STUDENTS", "round_whole", "whole_tables", "write_csv", "write_xlsx"]

_EPOCH = dt.datetime(2000, 1, 1)  # the workbook's dates when no year is given
_MAX_WIDTH = 40  # characters: wider columns wrap in Excel's view anyway


def write_csv(frame: pd.DataFrame, path: Path, *, bom: bool = True) -> None:
    """Write a table as CSV (no geometry, ``\\n`` line ends, 4 decimals).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; a ``geometry`` column is left out.
    path : Path
        The file to write.
    bom : bool
        Start the file with the UTF-8 byte-order mark (default), so Excel on a Chinese
        Windows reads it as UTF-8 and not as GBK.
    """
    table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    table.to_csv(path, index=False, float_format="%.4f", lineterminator="\n",
                 encoding="utf-8-sig" if bom else "utf-8")


def round_whole(values: np.ndarray | pd.Series, total: float | None = None) -> np.ndarray:
    """Whole numbers that still add up: largest-remainder rounding.

    Every value is rounded down, then the units still missing to reach the rounded total go
    to the values with the largest remainders (ties to the earlier row), so the rounded
    column sums to ``round(total)``.

    Parameters
    ----------
    values : array-like of shape (n,)
        Non-negative amounts (students); NaN stays NaN and counts for nothing.
    total : float, optional
        The total to keep; default the sum of ``values``.

    Returns
    -------
    ndarray of shape (n,), float64
        Whole numbers (as floats, so NaN can stay).

    Examples
    --------
    >>> round_whole([196.2, 3.5, 0.3]).tolist()
    [196.0, 4.0, 0.0]
    >>> round_whole([0.5, 0.5]).tolist()
    [1.0, 0.0]
    """
    x = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(x)
    out = np.full(x.shape, np.nan)
    floor = np.floor(x[ok])
    out[ok] = floor
    target = round(float(np.sum(x[ok])) if total is None else float(total))
    missing = int(target - floor.sum())
    idx = np.flatnonzero(ok)
    rest = x[ok] - floor
    if missing > 0:  # the largest remainders round up
        out[idx[np.argsort(-rest, kind="stable")[:missing]]] += 1.0
    elif missing < 0:  # a total below the floors (kept elsewhere): the smallest give one back
        able = np.flatnonzero(floor >= 1.0)
        out[idx[able[np.argsort(rest[able], kind="stable")[:-missing]]]] -= 1.0
    return out


#: Students columns of the tables people read, rounded to whole students by
#: :func:`whole_tables`: file → (columns, the columns grouping the rows whose sum is kept).
#: Seats are whole already; shortfall and surplus follow from the rounded demand.
WHOLE_STUDENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "district.csv": (("demand", "unassigned"), ()),
    "schools.csv": (("demand", "students_beyond_radius"), ("level", "method")),
    "zones.csv": (("demand",), ("level",)),
    "proposed_catchments.csv": (("students", "students_changing"), ("level", "method")),
    "forecast.csv": (("demand", "unassigned", "demand_puhui", "puhui_seats_short"), ()),
    "forecast_schools.csv": (("students",), ("level", "year")),
    "forecast_ensemble.csv": (("demand_p10", "demand_p50", "demand_p90", "net_shortfall_p10",
                               "net_shortfall_p50", "net_shortfall_p90"), ()),
    "forecast_methods.csv": (("cohort_component", "grade_progression"), ()),
    "new_sites.csv": (("students_served",), ()),
    "siting_years.csv": (("demand", "unserved_before", "unserved_after", "beyond_radius_before",
                          "beyond_radius_after", "short_nearest_before",
                          "short_nearest_after"), ()),
}


def _whole(frame: pd.DataFrame, columns: Sequence[str], by: Sequence[str],
           totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """``columns`` of ``frame`` rounded to whole students, the sum of each group of ``by``
    kept (``totals``: the group's rounded total per column, indexed by ``by``, when the sum
    must match another table)."""
    out = frame.copy()
    by = [c for c in by if c in out.columns]
    for column in [c for c in columns if c in out.columns]:
        values = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=np.float64)
        rounded = np.full(len(out), np.nan)
        if not by:
            rounded = np.floor(values + 0.5)  # half up: round(d) − seats = round(d − seats)
        else:
            for key, rows in out.groupby(by, sort=False).indices.items():
                total = None
                if totals is not None and column in totals.columns:
                    key = key if isinstance(key, tuple) else (key,)
                    total = totals[column].get(key if len(key) > 1 else key[0])
                rounded[rows] = round_whole(values[rows], total)
        out[column] = pd.array(rounded, dtype="Float64").round().astype("Int64")
    return out


def _derived(frame: pd.DataFrame, demand: str) -> pd.DataFrame:
    """Shortfall and surplus again from the rounded ``demand`` and the seats."""
    if demand not in frame.columns or "seats" not in frame.columns:
        return frame
    d = frame[demand].astype("Float64")
    seats = pd.to_numeric(frame["seats"], errors="coerce").astype("Float64")
    for column, value in (("shortfall", d - seats), ("surplus", seats - d)):
        if column in frame.columns:
            frame[column] = value.clip(lower=0).round().astype("Int64")
    return frame


def _grades(schools: pd.DataFrame) -> pd.DataFrame:
    """Each school's students per grade (``students_g1`` …) rounded to add up to its rounded
    demand (a level's grades the school does not have stay empty)."""
    grades = [c for c in schools.columns if str(c).startswith("students_g")]
    if not grades or "demand" not in schools.columns:
        return schools
    values = schools[grades].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    demand = schools["demand"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    rounded = np.array([round_whole(row, total if np.isfinite(total) else None)
                        for row, total in zip(values, demand, strict=True)]).reshape(values.shape)
    for j, column in enumerate(grades):
        schools[column] = pd.array(rounded[:, j], dtype="Float64").round().astype("Int64")
    return schools


#: Seat columns: whole already, written without decimals when every value is whole.
_SEAT_COLUMNS = ("seats", "seats_public_puhui", "seats_existing", "seats_new")


def _whole_seats(frame: pd.DataFrame) -> pd.DataFrame:
    for column in [c for c in _SEAT_COLUMNS if c in frame.columns]:
        values = pd.to_numeric(frame[column], errors="coerce")
        finite = values.dropna()
        if pd.api.types.is_float_dtype(values) and (finite == finite.round()).all():
            frame[column] = values.astype("Int64")
    return frame


def _minus(frame: pd.DataFrame, column: str, a: str, b: str) -> None:
    """``column`` = ``a`` − ``b`` (after rounding), when the table has all three."""
    if {column, a, b} <= set(frame.columns):
        frame[column] = frame[a] - frame[b]


def _sums_into(target: pd.DataFrame, rows: pd.DataFrame, keys: list[str],
               pairs: Sequence[tuple[str, str]]) -> None:
    """Each ``(column, total)``: ``target[total]`` = the sum of ``rows[column]`` over the rows
    of the same ``keys`` (a table's sums over its schools, from the rounded schools)."""
    if not (set(keys) <= set(target.columns) and set(keys) <= set(rows.columns)):
        return
    for column, total in pairs:
        if column in rows.columns and total in target.columns:
            sums = rows.groupby(keys)[column].sum()
            target[total] = pd.array([sums.get(k, pd.NA) for k in zip(
                *(target[c] for c in keys), strict=True)], dtype="Int64")


def whole_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables people read with whole students that still add up.

    Every students column of :data:`WHOLE_STUDENTS` is rounded by the largest-remainder rule
    (:func:`round_whole`) within its groups, so a school table's demand sums to the
    district's assigned students of the same level and method, a zone table's to the
    level's demand, a forecast's school rows to the year's enrolled; the district's and the
    forecast's sums over schools (seats short and spare at schools) are the sums of the
    rounded school rows; differences (assigned = demand − unassigned, enrolled, the
    non-普惠 demand, the methods' difference) are taken after rounding. Tables not named
    there are returned as they are; shares, ratios and distances stay exact.

    Parameters
    ----------
    tables : mapping
        File name (``schools.csv`` …) → table with exact (fractional) students.

    Returns
    -------
    dict
        The same names → tables with whole students (nullable integers).

    Examples
    --------
    >>> import pandas as pd
    >>> district = pd.DataFrame({"level": ["primary"], "method": ["catchment"],
    ...                          "demand": [300.6], "assigned": [300.6], "unassigned": [0.0]})
    >>> schools = pd.DataFrame({"level": "primary", "method": "catchment", "seats": [100, 200],
    ...                         "demand": [100.3, 200.3], "shortfall": [0.3, 0.3]})
    >>> out = whole_tables({"district.csv": district, "schools.csv": schools})
    >>> out["schools.csv"]["demand"].tolist(), out["district.csv"]["assigned"].tolist()
    ([100, 201], [301])
    >>> out["schools.csv"]["shortfall"].tolist()
    [0, 1]
    """
    out = {name: pd.DataFrame(table) for name, table in tables.items()}
    keys = ["level", "method"]
    district = out.get("district.csv")
    if district is not None:
        district = _whole(district, *WHOLE_STUDENTS["district.csv"])
        _minus(district, "assigned", "demand", "unassigned")
        if {"demand", "seats", "net_shortfall"} <= set(district.columns):
            net = district["demand"] - pd.to_numeric(district["seats"]).astype("Float64")
            district["net_shortfall"] = net.clip(lower=0).round().astype("Int64")
    if "schools.csv" in out:
        totals = None
        if district is not None and set(keys + ["assigned"]) <= set(district.columns):
            totals = district.set_index(keys)[["assigned"]].rename(columns={"assigned": "demand"})
        columns, by = WHOLE_STUDENTS["schools.csv"]
        schools = _derived(_whole(out["schools.csv"], columns, by, totals), "demand")
        schools = _grades(schools)
        out["schools.csv"] = schools
        if district is not None:
            _sums_into(district, schools, keys, (("shortfall", "shortfall_at_schools"),
                                                 ("surplus", "surplus_at_schools")))
    if "zones.csv" in out:
        totals = None
        if district is not None and "method" in district.columns:
            head = district[district["method"] == "catchment"]
            totals = head.set_index("level")[["demand"]]
        out["zones.csv"] = _derived(_whole(out["zones.csv"], *WHOLE_STUDENTS["zones.csv"],
                                           totals=totals), "demand")
    if district is not None:
        out["district.csv"] = district
    forecast = out.get("forecast.csv")
    if forecast is not None:
        forecast = _whole(forecast, *WHOLE_STUDENTS["forecast.csv"])
        _minus(forecast, "enrolled", "demand", "unassigned")
        _minus(forecast, "demand_other", "demand", "demand_puhui")
        out["forecast.csv"] = forecast
    if "forecast_schools.csv" in out:
        totals = None
        year_keys = ["level", "year"]
        if forecast is not None and set(year_keys + ["enrolled"]) <= set(forecast.columns):
            totals = forecast.set_index(year_keys)[["enrolled"]].rename(
                columns={"enrolled": "students"})
        by_school = _derived(_whole(out["forecast_schools.csv"],
                                    *WHOLE_STUDENTS["forecast_schools.csv"], totals), "students")
        out["forecast_schools.csv"] = by_school
        if forecast is not None:
            _sums_into(forecast, by_school, year_keys, (("shortfall", "shortfall_at_schools"),))
    for name in ("proposed_catchments.csv", "forecast_ensemble.csv", "new_sites.csv",
                 "siting_years.csv"):
        if name in out:
            out[name] = _whole(out[name], *WHOLE_STUDENTS[name])
    if "forecast_methods.csv" in out:
        methods = _whole(out["forecast_methods.csv"], *WHOLE_STUDENTS["forecast_methods.csv"])
        _minus(methods, "difference", "grade_progression", "cohort_component")
        out["forecast_methods.csv"] = methods
    return {name: _whole_seats(table) if name in WHOLE_STUDENTS else table
            for name, table in out.items()}


def _width(series: pd.Series, header: str) -> float:
    """Column width in Excel characters (CJK characters count twice)."""
    def chars(text: str) -> int:
        return sum(2 if ord(c) > 0x2E7F else 1 for c in text)

    sample = ["" if pd.isna(v) else str(v) for v in series.head(500).tolist()]
    longest = max([chars(header), *(chars(s) for s in sample)], default=8)
    return float(min(_MAX_WIDTH, longest + 2))


def _number_format(series: pd.Series, column: str) -> str | None:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    if column.startswith("share") or column.endswith("_share") or column in (
            "utilisation", "puhui_coverage"):
        return "0.0%"
    if column in ("year", "open_year", "close_year", "busiest_year"):
        return "0"
    if pd.api.types.is_integer_dtype(series):  # whole students, seats, classes: 23,835
        return "#,##0"
    values = series.dropna().to_numpy(dtype=np.float64)
    if len(values) and np.all(values == np.round(values)):
        return "#,##0"
    return "#,##0.0"


def _cell(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool):
        return value
    return str(value)


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame],
    path: Path,
    *,
    headers: Mapping[str, str] | None = None,
    year: int | None = None,
) -> None:
    """Write tables as one Excel workbook, one sheet per table, reproducibly.

    Each sheet has a bold, frozen header row (``headers`` maps column names to the words
    shown, e.g. Chinese), number formats (whole numbers, one decimal, percentages for shares
    and utilisation), column widths fitted to the content and an auto-filter. The workbook's
    created/modified dates are 1 January of ``year`` (the scenario's base year; 2000 if
    none) and every part of the file carries that date, so identical tables give identical
    bytes.

    Parameters
    ----------
    sheets : mapping
        Sheet name (≤ 31 characters) → table; ``geometry`` columns are left out.
    path : Path
        The ``.xlsx`` file to write.
    headers : mapping, optional
        Column name → header shown; columns not named keep their name.
    year : int, optional
        The year of the workbook's dates.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    headers = dict(headers or {})
    stamp = dt.datetime(year, 1, 1) if year else _EPOCH
    # write-only: rows are streamed as they come (a few times faster than cell objects)
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for name, frame in sheets.items():
        table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
        ws = wb.create_sheet(title=name[:31])
        shown = [headers.get(str(c), str(c)) for c in table.columns]
        formats = [_number_format(table[col], str(col)) for col in table.columns]
        for j, col in enumerate(table.columns, start=1):
            ws.column_dimensions[get_column_letter(j)].width = _width(table[col], shown[j - 1])
        ws.freeze_panes = "A2"
        if len(table.columns):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table) + 1}"
        head = []
        for text in shown:
            cell = WriteOnlyCell(ws, value=text)
            cell.font = bold
            head.append(cell)
        ws.append(head)
        for row in table.itertuples(index=False, name=None):
            ws.append([_formatted(ws, _cell(v), fmt) for v, fmt in zip(row, formats,
                                                                         strict=True)])
    if not wb.worksheets:
        wb.create_sheet("empty")
    wb.properties.creator = "schoolmap"
    wb.properties.created = stamp
    wb.properties.modified = stamp
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        # ExcelWriter.save(), not openpyxl's save_workbook(): that stamps the time of day
        ExcelWriter(wb, archive).save()
    _repack(buffer.getvalue(), path, stamp)


def _formatted(ws: Any, value: object, fmt: str | None) -> object:
    """A value of a write-only sheet, as a cell carrying ``fmt`` when it has one."""
    if fmt is None or value is None:
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = fmt
    return cell


def _repack(data: bytes, path: Path, stamp: dt.datetime) -> None:
    """Copy a zip with every entry dated ``stamp``."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        names = {info.filename: src.read(info) for info in src.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, content in names.items():
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, content)
