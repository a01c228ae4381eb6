"""The backtest page (``backtest.html``): MAPE by horizon per method as a chart, the accuracy
tables and the notes, in one offline file."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["backtest_html"]


def _chart(summary: pd.DataFrame) -> bytes:
    """PNG of MAPE by horizon per method, district and school panels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    label = summary["origins"].iloc[0] if len(summary) else ""
    part = summary[summary["origins"] == label]
    axes = fig.subplots(1, 2)
    for ax, level in zip(axes, ("district", "school"), strict=True):
        for method, grp in part[part["level"] == level].groupby("method", sort=False):
            ax.plot(grp["horizon"], grp["mape_pct"], marker="o", label=method)
        ax.set_xticks(sorted(part["horizon"].unique()))
        ax.set_title(f"{level} (origins {label})")
        ax.set_xlabel("years ahead (horizon)")
        ax.set_ylabel("MAPE, %")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def backtest_html(result: Any) -> str:
    """The backtest report: chart, accuracy tables and notes (offline, one file).

    ``result`` is a :class:`schoolmap.demand.backtest.Backtest`.
    """
    s = result.summary
    png = base64.b64encode(_chart(s)).decode("ascii")
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<title>schoolmap backtest</title><style>body{font-family:sans-serif;margin:2em;"
             "max-width:70em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid"
             " #ccc;padding:2px 8px;text-align:right}th{background:#eee}td:first-child,"
             "th:first-child{text-align:left}</style></head><body>",
             f"<h1>Forecast accuracy (backtest): {html.escape(result.history.source)}</h1>",
             f"<p>{len(result.history.schools)} schools, school years "
             f"{result.history.years[0]}–{result.history.years[-1]}. At each origin every "
             "method is fitted on the years up to the origin only and compared with what was "
             "counted later. MAPE = mean |forecast − actual| ÷ actual; bias = mean (forecast − "
             "actual) ÷ actual; coverage = share of actuals within [P10, P90]. Levels: "
             "district total; <i>school</i> = the schools counted every year; "
             "<i>school_all</i> = every school counted in both the origin and the target "
             "year.</p>",
             f"<img alt='MAPE by horizon' src='data:image/png;base64,{png}'>"]
    for label, part in s.groupby("origins", sort=False):
        parts.append(f"<h2>Origins {html.escape(str(label))}</h2><table><tr><th>method</th>"
                     "<th>level</th>" + "".join(f"<th>h={h}</th>" for h in
                                                 sorted(part["horizon"].unique()))
                     + "<th>bias h=max</th><th>coverage</th></tr>")
        for (method, level), grp in part.groupby(["method", "level"], sort=False):
            cells = "".join(f"<td>{v:.1f} %</td>" for v in grp["mape_pct"])
            banded = grp["n_interval"].sum()
            cov = ((grp["coverage_p10_p90"] * grp["n_interval"]).sum() / banded
                   if banded else np.nan)
            parts.append(f"<tr><td>{html.escape(method)}</td><td>{level}</td>{cells}"
                         f"<td>{grp['bias_pct'].iloc[-1]:+.1f} %</td>"
                         f"<td>{'—' if cov != cov else f'{100 * cov:.0f} %'}</td></tr>")
        parts.append("</table>")
    if result.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>"
                                                    for n in result.notes) + "</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)
