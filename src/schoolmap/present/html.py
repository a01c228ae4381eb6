"""Small HTML helpers of the report pages: escaped text, numbers, percentages, tables."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["esc", "num", "pct", "table"]


def esc(value: object) -> str:
    """Escaped text; missing values as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    try:
        if pd.isna(value):
            return "—"
    except (TypeError, ValueError):
        pass
    return html.escape(str(value), quote=True)

def num(value: Any, digits: int = 0) -> str:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "—"
    if math.isnan(x):
        return "—"
    if abs(x) < 0.5 * 10 ** -digits:
        x = 0.0
    return f"{x:,.{digits}f}"

def pct(value: Any, digits: int = 1) -> str:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(x) else f"{100 * x:.{digits}f} %"

def table(head: Sequence[str], body: Sequence[str], *, left: int = 1, cls: str = "") -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{h}</th>' for i, h in enumerate(head))
    rows = "".join(body)
    return (f'<div class="scroll"><table class="{cls}"><thead><tr>{th}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")
