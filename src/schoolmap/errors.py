"""Exceptions raised by schoolmap.

Every error a planner can cause with bad input is a :class:`ValidationError` whose message says
what was expected, what arrived, where (file, layer, rows, field) and how to fix it. Problems are
collected first and raised once, so one run shows all of them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["InfeasibleError", "MemoryLimitError", "Problem", "SchoolmapError", "UnprovenError",
           "ValidationError", "check_values"]


class SchoolmapError(Exception):
    """Base class of every error schoolmap raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input.

    Parameters
    ----------
    where : str
        File and layer (or scenario key) the problem is in, e.g. ``"demo.gpkg:schools"``.
    message : str
        What is wrong and what to do about it, e.g. ``"column 'seats' missing"``.
    rows : tuple of str
        Row labels (ids or 0-based row numbers) affected; empty when the whole layer is.
    """

    where: str
    message: str
    rows: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        if self.rows:
            shown = ", ".join(self.rows[:5])
            more = f" and {len(self.rows) - 5} more" if len(self.rows) > 5 else ""
            text += f" (rows {shown}{more})"
        return text


class ValidationError(SchoolmapError, ValueError):
    """Input that cannot be used as it is; lists every problem found.

    Parameters
    ----------
    problems : sequence of Problem or str
        Everything found wrong. A plain string is taken as a problem with no location.
    subject : str
        What was checked (a file, a scenario, an array argument).
    """

    def __init__(self, problems: Sequence[Problem | str] | str, subject: str = "input") -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems: tuple[Problem | str, ...] = tuple(problems)
        self.subject = subject
        n = len(self.problems)
        head = f"{subject}: {n} problem{'s' if n != 1 else ''}"
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{head}\n{body}")

    @classmethod
    def raise_if(cls, problems: Iterable[Problem | str], subject: str = "input") -> None:
        """Raise one error listing ``problems`` if there are any."""
        found = list(problems)
        if found:
            raise cls(found, subject)


class InfeasibleError(SchoolmapError):
    """A planning question has no answer under the given constraints (e.g. seats can't suffice)."""


class MemoryLimitError(SchoolmapError, MemoryError):
    """A computation would need more memory than allowed; raised before it starts.

    The message names the size of the problem, the estimate, the limit and the option to change
    (``memory_limit``), so the planner can allow more, split the district or coarsen the cells.
    """


class UnprovenError(SchoolmapError):
    """An optimiser could not prove its answer optimal within its limits.

    Raised instead of passing an unproven answer off as optimal. ``result`` holds the best answer
    found, with its certificate (``optimal`` False, the largest violation and the limit hit).
    """

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


def _defaults(schema: Mapping[str, Any] | type) -> dict[str, Any]:
    """Key → example value: a mapping as it is, a dataclass's field defaults."""
    if isinstance(schema, Mapping):
        return dict(schema)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(schema):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _toml(value: object) -> str:
    """A parsed TOML value as written in the file (``true``, ``5``, ``[1, 2]``)."""
    return str(value).lower() if isinstance(value, bool) else repr(value)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_values(table: Mapping[str, Any], where: str,
                 schema: Mapping[str, Any] | type | None = None) -> list[Problem]:
    """Strict checks shared by every table of a scenario, before any table is read.

    Every number anywhere in ``table`` (nested tables and lists too) must be finite: NaN and
    infinity are refused. Where ``schema`` (key → default value, or a settings dataclass whose
    field defaults are taken) has a number, ``true``/``false`` and text are refused (a TOML
    bool would pass an ``int`` check); where it has a bool, only ``true``/``false`` is taken;
    where it has text, only text in quotes.

    Parameters
    ----------
    table : mapping
        A parsed TOML table.
    where : str
        File and table for messages, e.g. ``"demo.toml [forecast]"``.
    schema : mapping or dataclass type, optional

    Returns
    -------
    list of Problem
        Each naming ``where`` and the key (``births_trend``, ``reach_m.primary``).

    Examples
    --------
    >>> [str(p) for p in check_values({"horizon": True}, "a.toml", {"horizon": 10})]
    ['a.toml: horizon must be a number, got true (a true/false value)']
    >>> [str(p) for p in check_values({"name": 5}, "a.toml", {"name": ""})]
    ['a.toml: name must be text in quotes, e.g. name = "…", got 5']
    """
    defaults = _defaults(schema) if schema is not None else {}
    problems: list[Problem] = []

    def walk(value: object, key: str) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(Problem(where, f"{key} must be a finite number, got {value!r}"))
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{key}.{k}")
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")

    for key, value in table.items():
        before = len(problems)
        walk(value, str(key))
        if len(problems) > before or key not in defaults:
            continue
        default = defaults[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            problems.append(Problem(where, f"{key} must be true or false, got {value!r}"))
        elif _number(default) and isinstance(value, bool):
            problems.append(Problem(where, f"{key} must be a number, got "
                                    f"{str(value).lower()} (a true/false value)"))
        elif _number(default) and isinstance(value, str):
            problems.append(Problem(where, f"{key} must be a number, got the text {value!r} "
                                    "(write numbers without quotes or thousands separators)"))
        elif isinstance(default, str) and not isinstance(value, str):
            example = f'{key} = "{default}"' if default else f'{key} = "…"'
            problems.append(Problem(where, f"{key} must be text in quotes, e.g. {example}, got "
                                    f"{_toml(value)}"))
    return problems
