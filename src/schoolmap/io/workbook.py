"""Writing tables people read: an Excel workbook (one sheet per table) and CSV files that Excel
on a Chinese Windows opens without garbling — both byte-identical for identical inputs."""

from __future__ import annotations

import datetime as dt
import io
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["round_whole", "write_csv", "write_xlsx"]

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
    if missing > 0:
        rest = x[ok] - floor
        order = np.argsort(-rest, kind="stable")[:missing]
        idx = np.flatnonzero(ok)[order]
        out[idx] += 1.0
    return out


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
    if pd.api.types.is_integer_dtype(series) or column in ("year", "open_year", "close_year",
                                                           "busiest_year"):
        return "0"
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
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    headers = dict(headers or {})
    stamp = dt.datetime(year, 1, 1) if year else _EPOCH
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for name, frame in sheets.items():
        table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
        ws = wb.create_sheet(title=name[:31])
        shown = [headers.get(str(c), str(c)) for c in table.columns]
        ws.append(shown)
        for c in ws[1]:
            c.font = bold
        for row in table.itertuples(index=False, name=None):
            ws.append([_cell(v) for v in row])
        for j, col in enumerate(table.columns, start=1):
            letter = get_column_letter(j)
            ws.column_dimensions[letter].width = _width(table[col], shown[j - 1])
            fmt = _number_format(table[col], str(col))
            if fmt:
                for (c,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    c.number_format = fmt
        ws.freeze_panes = "A2"
        if len(table.columns):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table) + 1}"
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
