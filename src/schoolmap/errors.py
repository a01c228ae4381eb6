"""Exceptions raised by schoolmap.

Every error a planner can cause with bad input is a :class:`ValidationError` whose message says
what was expected, what arrived, where (file, layer, rows, field) and how to fix it. Problems are
collected first and raised once, so one run shows all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["InfeasibleError", "MemoryLimitError", "Problem", "SchoolmapError", "UnprovenError",
           "ValidationError"]


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
