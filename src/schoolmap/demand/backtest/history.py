"""The history a backtest runs on: enrolment counts by school, year and grade, and births by
year, read and checked (:func:`read_enrolment_history`, :func:`read_births`) into a
:class:`History` of arrays."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from schoolmap.errors import Problem, ValidationError

__all__ = ["DISTRICT", "History", "births_from_cells", "build_history", "grade_label",
           "read_births", "read_enrolment_history"]


#: The ``school`` of the district-total rows.
DISTRICT = "__district__"


@dataclass(frozen=True)
class History:
    """Enrolment by school, year and grade, as arrays.

    Attributes
    ----------
    schools : tuple of str
        School ids, sorted.
    years : ndarray of shape (n_years,), int64
        Consecutive school years.
    grades : ndarray of shape (n_grades,), int64
        Consecutive grades (K = 0).
    students : ndarray of shape (n_schools, n_years, n_grades), float64
        Pupils; NaN for every grade of a year the school has no count (closed or not yet
        open), 0 for a grade it does not teach.
    births : ndarray of shape (n_years, n_grades), float64
        Births of the cohort in each year's grade (NaN: unknown); all 1.0 without births.
    source : str
    """

    schools: tuple[str, ...]
    years: np.ndarray
    grades: np.ndarray
    students: np.ndarray
    births: np.ndarray
    source: str = "enrolment"

    @property
    def is_open(self) -> np.ndarray:
        """Whether each school has a count in each year, shape (n_schools, n_years)."""
        return ~np.isnan(self.students).any(axis=2)

    def district(self) -> np.ndarray:
        """District pupils by year and grade, shape (n_years, n_grades)."""
        return np.nansum(self.students, axis=0)


def _lines(mask: np.ndarray, offset: int = 2) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i + offset) for i in idx[:5])
    return shown + (f" and {len(idx) - 5} more" if len(idx) > 5 else "")


def _csv_table(path: Path, where: str, expected: str) -> pd.DataFrame:
    """A CSV file's cells as text, or a ValidationError naming the file."""
    if not path.is_file():
        raise ValidationError([Problem(where, f"no such file ({path}); give a CSV with "
                               f"columns {expected}")], "backtest")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValidationError([Problem(where, f"not a readable CSV file: {exc}")],
                              "backtest") from exc
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _column_problems(table: pd.DataFrame, where: str,
                     checks: Sequence[tuple[str, pd.Series, str]]) -> list[Problem]:
    """One problem per column whose ``bad`` rows are set: lines and an example value."""
    problems = []
    for column, bad, what in checks:
        mask = bad.to_numpy()
        if mask.any():
            example = table[column].iloc[int(np.flatnonzero(mask)[0])]
            text = what.format(lines=_lines(mask), example=repr(example))
            problems.append(Problem(where, f"column '{column}' {text}"))
    return problems


def _grade_number(text: str) -> float:
    t = text.strip().upper()
    if t in ("K", "KG", "0K"):
        return 0.0
    try:
        value = float(t)
    except ValueError:
        return np.nan
    return value if value == int(value) and 0 <= value <= 12 else np.nan


def read_enrolment_history(source: str | os.PathLike[str] | pd.DataFrame, *,
                           name: str | None = None) -> pd.DataFrame:
    """Read and check an enrolment history: a CSV file, a GeoPackage or a frame.

    Parameters
    ----------
    source : path-like or DataFrame
        A CSV with columns ``school_id`` (or ``school``), ``year``, ``grade`` (``K`` or 0–12),
        ``students`` and optionally ``classes``; a GeoPackage with such a table ``enrolment``
        (the project's ``enrolment`` layer); or a frame with those columns.
    name : str, optional
        What to call the source in messages (default: the file name).

    Returns
    -------
    DataFrame
        ``school_id`` (str), ``year`` (int), ``grade`` (int, K = 0), ``students`` (float).

    Raises
    ------
    ValidationError
        Listing every problem with the file, the line (CSV; rows of a table are counted from 2
        too, after a header) and the column, e.g. ``enrolment.csv: column 'students' is not a
        number ≥ 0 on line(s) 5 (e.g. 'abc')``.

    Examples
    --------
    >>> frame = pd.DataFrame({"school": ["A", "A"], "year": [2020, 2020],
    ...                       "grade": ["K", "1"], "students": [20, 21]})
    >>> read_enrolment_history(frame)["grade"].tolist()
    [0, 1]
    """
    if isinstance(source, pd.DataFrame):
        where = name or "enrolment"
        table = source.astype(str).reset_index(drop=True)
    else:
        path = Path(source)
        where = name or path.name
        if path.suffix.lower() == ".gpkg" and path.is_file():
            import pyogrio

            where = f"{where}:enrolment"
            try:
                table = pyogrio.read_dataframe(path, layer="enrolment", read_geometry=False)
            except Exception as exc:  # noqa: BLE001 - any GDAL failure is the file's fault
                raise ValidationError([Problem(where, f"cannot read the table 'enrolment': "
                                       f"{exc}")], "backtest") from exc
            table = table.astype(str)
        else:
            table = _csv_table(path, where, "school_id, year, grade, students")
    table.columns = [str(c).strip() for c in table.columns]
    if "school_id" not in table.columns and "school" in table.columns:
        table = table.rename(columns={"school": "school_id"})
    missing = [c for c in ("school_id", "year", "grade", "students") if c not in table.columns]
    if missing:
        raise ValidationError([Problem(where, f"column(s) {', '.join(map(repr, missing))} "
                               f"missing; expected school_id (or school), year, grade, "
                               f"students (got {', '.join(table.columns) or 'no columns'})")],
                              "backtest")
    if table.empty:
        raise ValidationError([Problem(where, "no rows")], "backtest")
    school = table["school_id"].str.strip()
    year = pd.to_numeric(table["year"].str.strip(), errors="coerce")
    grade = table["grade"].map(_grade_number)
    students = pd.to_numeric(table["students"].str.strip(), errors="coerce")
    problems = _column_problems(table, where, [
        ("school_id", (school == "") | (school.str.lower() == "nan"),
         "is empty on line(s) {lines}; name the school"),
        ("year", year.isna() | (year != year.round()),
         "is not a whole year on line(s) {lines} (e.g. {example}); e.g. 2014 for 2014/15"),
        ("grade", grade.isna(),
         "is not a grade on line(s) {lines} (e.g. {example}); K or a whole number 0–12"),
        ("students", students.isna() | (students < 0) | ~np.isfinite(students),
         "is not a number ≥ 0 on line(s) {lines} (e.g. {example}); pupils counted"),
    ])
    ValidationError.raise_if(problems, "backtest")
    out = pd.DataFrame({"school_id": school, "year": year.astype(np.int64),
                        "grade": grade.astype(np.int64), "students": students.astype(float)})
    dup = out.duplicated(["school_id", "year", "grade"], keep=False).to_numpy()
    if dup.any():
        first = out.iloc[int(np.flatnonzero(dup)[0])]
        problems.append(Problem(where, f"school {first['school_id']!r}, year {first['year']}, "
                                f"grade {grade_label(first['grade'])} appears more than once "
                                f"(lines {_lines(dup)}); give one row per school, year and "
                                "grade"))
    span = range(int(out["year"].min()), int(out["year"].max()) + 1)
    gaps = [y for y in span if y not in set(out["year"])]
    if gaps:
        problems.append(Problem(where, f"no rows for year(s) {', '.join(map(str, gaps[:5]))}; "
                                "the years of the history must follow each other"))
    ValidationError.raise_if(problems, "backtest")
    return out.sort_values(["school_id", "year", "grade"], kind="stable").reset_index(drop=True)


def read_births(source: str | os.PathLike[str] | Mapping[int, float], *,
                name: str | None = None) -> dict[int, float]:
    """Read births by year from a CSV file (``year``, ``births``) or check a mapping.

    Raises
    ------
    ValidationError
        Naming the file, the line and the column at fault.

    Examples
    --------
    >>> read_births({2010: 100, 2011: 104.0})
    {2010: 100.0, 2011: 104.0}
    """
    if isinstance(source, Mapping):
        where = name or "births"
        table = pd.DataFrame({"year": [str(k) for k in source],
                              "births": [str(v) for v in source.values()]})
    else:
        path = Path(source)
        where = name or path.name
        table = _csv_table(path, where, "year, births")
    missing = [c for c in ("year", "births") if c not in table.columns]
    if missing:
        raise ValidationError([Problem(where, f"column(s) {', '.join(map(repr, missing))} "
                               f"missing; expected year, births (got "
                               f"{', '.join(table.columns) or 'no columns'})")], "backtest")
    year = pd.to_numeric(table["year"].str.strip(), errors="coerce")
    births = pd.to_numeric(table["births"].str.strip(), errors="coerce")
    problems = _column_problems(table, where, [
        ("year", year.isna() | (year != year.round()),
         "is not a whole year on line(s) {lines} (e.g. {example})"),
        ("births", births.isna() | (births < 0) | ~np.isfinite(births),
         "is not a number ≥ 0 on line(s) {lines} (e.g. {example}); persons born that year"),
    ])
    ValidationError.raise_if(problems, "backtest")
    dup = year.duplicated(keep=False).to_numpy()
    if dup.any():
        problems.append(Problem(where, f"year {int(year[dup].iloc[0])} appears more than once "
                                f"(lines {_lines(dup)})"))
    ValidationError.raise_if(problems, "backtest")
    return {int(y): float(b) for y, b in sorted(zip(year, births, strict=True))}


def births_from_cells(cells: pd.DataFrame, base_year: int) -> dict[int, float]:
    """Past births from residents by single year of age: those aged a were born base − a.

    These are the survivors still living in the district (what an entry ratio needs), e.g. the
    demo district's ``cells`` (``age_0`` … ``age_17``) in its base year 2026.

    Examples
    --------
    >>> births_from_cells(pd.DataFrame({"age_0": [3, 4], "age_1": [5, 5]}), 2026)
    {2025: 10.0, 2026: 7.0}
    """
    out = {}
    for column in cells.columns:
        if str(column).startswith("age_") and str(column)[4:].isdigit():
            out[base_year - int(str(column)[4:])] = float(pd.to_numeric(cells[column]).sum())
    if not out:
        raise ValidationError(["cells: no age_0 … age_17 columns to take births from"],
                              "backtest")
    return dict(sorted(out.items()))


def build_history(enrolment: pd.DataFrame, births: Mapping[int, float] | None,
                  first_age: int | None, source: str) -> History:
    schools = tuple(sorted(enrolment["school_id"].unique()))
    years = np.arange(int(enrolment["year"].min()), int(enrolment["year"].max()) + 1)
    grades = np.arange(int(enrolment["grade"].min()), int(enrolment["grade"].max()) + 1)
    cube = np.full((len(schools), len(years), len(grades)), np.nan)
    s = pd.Index(schools).get_indexer(enrolment["school_id"])
    t = enrolment["year"].to_numpy() - years[0]
    g = enrolment["grade"].to_numpy() - grades[0]
    opened = np.zeros((len(schools), len(years)), dtype=bool)
    opened[s, t] = True
    cube[opened] = 0.0
    cube[s, t, g] = enrolment["students"].to_numpy(dtype=np.float64)
    age0 = grades[0] + 5 if first_age is None else first_age
    ages = age0 + (grades - grades[0])
    if births is None:
        lagged = np.ones((len(years), len(grades)))
    else:
        lagged = np.array([[births.get(int(y - a), np.nan) for a in ages] for y in years])
    return History(schools, years, grades, cube, lagged, source)


def grade_label(g: int) -> str:
    return "K" if g == 0 else str(int(g))
