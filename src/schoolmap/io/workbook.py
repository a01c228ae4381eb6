"""Writing tables people read: an Excel workbook (one sheet per table) and CSV files that Excel
on a Chinese Windows opens without garbling — both byte-identical for identical inputs."""

from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

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


def _settled(values: np.ndarray | pd.Series | float) -> np.ndarray:
    """Students taken to a millionth (array or scalar, float64): one amount summed in another
    order (616.4999999999 or 616.5000000001) then rounds to whole students alike."""
    return np.round(np.asarray(values, dtype=np.float64), 6)


def round_whole(values: np.ndarray | pd.Series, total: float | None = None) -> np.ndarray:
    """Whole numbers that still add up: largest-remainder rounding.

    Every value is rounded down, then the units still missing to reach the rounded total go
    to the values with the largest remainders (ties to the earlier row), so the rounded
    column sums to ``round(total)``. Values and total are first taken to a millionth of a
    student, so that the same amount summed in another order (616.4999999999 or
    616.5000000001 students) rounds the same way.

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
    >>> round_whole([616.4999999999]).tolist() == round_whole([616.5000000001]).tolist()
    True
    """
    x = _settled(values)
    ok = np.isfinite(x)
    out = np.full(x.shape, np.nan)
    floor = np.floor(x[ok])
    out[ok] = floor
    target = round(float(_settled(np.sum(x[ok]) if total is None else total)))
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
            # half up: round(d) − seats = round(d − seats)
            rounded = np.floor(_settled(values) + 0.5)
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


#: Cell styles of the workbook (index into ``cellXfs`` of ``xl/styles.xml``) by number format.
_STYLE_OF_FORMAT = {None: 0, "#,##0": 2, "#,##0.0": 3, "0.0%": 4, "0": 5}
_BOLD = 1

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (
    f'{_HEAD}<styleSheet xmlns="{_NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="#,##0.0"/>'
    '<numFmt numFmtId="165" formatCode="0.0%"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs><cellXfs count="6">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    + "".join(f'<xf numFmtId="{n}" fontId="0" fillId="0" borderId="0" xfId="0" '
              'applyNumberFormat="1"/>' for n in (3, 164, 165, 1))
    + '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    """Text as XML character data (characters XML cannot hold left out)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _XML_BAD.sub("", text.replace('"', "&quot;"))


def _letter(j: int) -> str:
    """Excel column letters of the 1-based column ``j`` (1 → A, 27 → AA)."""
    out = ""
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def _cell_xml(ref: str, value: object, style: int) -> str:
    """One ``<c>`` element: a number, a boolean or an inline string; "" for an empty cell."""
    value = _cell(value)
    if value is None:
        return ""
    s = f' s="{style}"' if style else ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"{s}><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}"{s}><v>{value}</v></c>'
    if isinstance(value, float):
        shown = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
        return f'<c r="{ref}"{s}><v>{shown}</v></c>'
    text = str(value)
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c r="{ref}" t="inlineStr"{s}><is><t{space}>{_xml(text)}</t></is></c>'


def _sheet_xml(table: pd.DataFrame, shown: list[str]) -> tuple[str, str]:
    """A worksheet's XML (bold frozen header row, widths, number formats, auto-filter) and
    the range of its filter (``A1:F3``)."""
    columns = list(table.columns)
    letters = [_letter(j) for j in range(1, len(columns) + 1)]
    styles = [_STYLE_OF_FORMAT[_number_format(table[c], str(c))] for c in columns]
    last = f"{letters[-1]}{len(table) + 1}" if columns else "A1"
    cols = "".join(f'<col min="{j}" max="{j}" width="{_width(table[c], shown[j - 1]):g}" '
                   'customWidth="1"/>' for j, c in enumerate(columns, start=1))
    rows = ['<row r="1">' + "".join(_cell_xml(f"{x}1", text, _BOLD)
                                    for x, text in zip(letters, shown, strict=True)) + "</row>"]
    for i, row in enumerate(table.itertuples(index=False, name=None), start=2):
        rows.append(f'<row r="{i}">' + "".join(
            _cell_xml(f"{x}{i}", v, st) for x, v, st in zip(letters, row, styles, strict=True))
            + "</row>")
    pane = ('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>')
    xml = (f'{_HEAD}<worksheet xmlns="{_NS}" xmlns:r="{_REL}"><dimension ref="A1:{last}"/>'
           f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
           '<sheetFormatPr defaultRowHeight="15"/>' + (f"<cols>{cols}</cols>" if cols else "")
           + "<sheetData>" + "".join(rows) + "</sheetData>"
           + (f'<autoFilter ref="A1:{last}"/>' if columns else "") + "</worksheet>")
    return xml, f"A1:{last}" if columns else ""


def _sheet_names(names: list[str]) -> list[str]:
    """Sheet names Excel takes: ≤ 31 characters, none of ``[]:*?/\\``, unique."""
    out: list[str] = []
    for name in names:
        base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"
        shown, k = base, 1
        while shown.lower() in {o.lower() for o in out}:
            k += 1
            shown = f"{base[:31 - len(str(k))]}{k}"
        out.append(shown)
    return out


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
    bytes. The SpreadsheetML is written directly (strings inline, no shared-string table):
    a few times faster than openpyxl's writer, and openpyxl, Excel and LibreOffice read it.

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
    headers = dict(headers or {})
    stamp = dt.datetime(year, 1, 1) if year else _EPOCH
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    tables = {name: pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
              for name, frame in sheets.items()} or {"empty": pd.DataFrame()}
    names = _sheet_names(list(tables))
    parts: dict[str, str] = {}
    filters = []
    for k, (name, table) in enumerate(zip(names, tables.values(), strict=True), start=1):
        xml, ref = _sheet_xml(table, [headers.get(str(c), str(c)) for c in table.columns])
        parts[f"xl/worksheets/sheet{k}.xml"] = xml
        if ref:
            quoted = "'" + name.replace("'", "''") + "'"
            absolute = re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", ref)  # A1:F3 → $A$1:$F$3
            filters.append(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{k - 1}" '
                           f'hidden="1">{_xml(quoted)}!{absolute}</definedName>')
    n = len(names)
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    content_types = (
        f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        + "".join(f'<Override PartName="/xl/worksheets/sheet{k}.xml" '
                  f'ContentType="{sheet_type}"/>' for k in range(1, n + 1))
        + '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
        'package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.extended-properties+xml"/></Types>')
    files = {
        "[Content_Types].xml": content_types,
        "_rels/.rels": (
            f'{_HEAD}<Relationships xmlns="{_PKG}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            f'<Relationship Id="rId2" Type="{_PKG}/metadata/core-properties" '
            'Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{_REL}/extended-properties" '
            'Target="docProps/app.xml"/></Relationships>'),
        "docProps/app.xml": (
            f'{_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            'extended-properties"><Application>schoolmap</Application></Properties>'),
        "docProps/core.xml": (
            f'{_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/'
            '2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<dc:creator>schoolmap</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified>'
            "</cp:coreProperties>"),
        "xl/workbook.xml": (
            f'{_HEAD}<workbook xmlns="{_NS}" xmlns:r="{_REL}"><bookViews><workbookView '
            'activeTab="0"/></bookViews><sheets>'
            + "".join(f'<sheet name="{_xml(name)}" sheetId="{k}" r:id="rId{k}"/>'
                      for k, name in enumerate(names, start=1)) + "</sheets>"
            + (f"<definedNames>{''.join(filters)}</definedNames>" if filters else "")
            + "</workbook>"),
        "xl/_rels/workbook.xml.rels": (
            f'{_HEAD}<Relationships xmlns="{_PKG}">'
            + "".join(f'<Relationship Id="rId{k}" Type="{_REL}/worksheet" '
                      f'Target="worksheets/sheet{k}.xml"/>' for k in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            "</Relationships>"),
        "xl/styles.xml": _STYLES,
        **parts,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"))
