"""The report's catchment-design section (``[zoning]``): per level, the official zones against
the designed ones and the proven lower bounds (zones over capacity, students changing school
and the fewest that must, mean trip and travel against the bound, zones in pieces), every
designed zone, and the trade-off of travel against students moved (table and chart). It only
shows figures handed to it."""

from __future__ import annotations

from typing import Any

import numpy as np

from schoolmap.present.charts import (
    chart_block,
    cjk_font,
    figure,
    font_context,
    mpl_text,
    png_bytes,
    thousands,
)
from schoolmap.present.html import esc as _e
from schoolmap.present.html import num as _num
from schoolmap.present.html import pct as _pct
from schoolmap.present.html import table as _table

__all__ = ["tradeoff_chart", "zoning_section"]


def zoning_section(report: Any) -> str:
    """HTML of the section: one block per designed level (``report.result.designs``)."""
    out = []
    for level, design in report.result.designs.items():
        s = design.summary()
        off = s["official"]
        out.append(f"<h3>{_e(report.level(level))}</h3>")
        out.append('<p class="note">' + report.t(
            "zoning_intro", n=s["n_zones"], pieces=s["zones_several_pieces"],
            over=s["zones_over_capacity"], max_u=_pct(s["setting_max_utilisation"], 0),
            gap=_pct(s["travel_gap"], 2), unzoned=_num(s["students_unzoned"]),
            method=_e(s["method"]), travel=_e(s["setting_travel"]),
            mw=_num(s["setting_move_weight"])) + "</p>")
        head = [report.t(k) for k in ("zoning_measure", "zoning_official", "zoning_dissolved",
                                      "zoning_designed", "zoning_bound")]
        dash = "—"
        students = s["students"] or 1.0
        rows = [("zoning_zones", _num(off.get("n_zones")), dash, _num(s["n_zones"]), dash),
                ("zoning_over", _num(off["zones_over_capacity"]), dash,
                 _num(s["zones_over_capacity"]), dash),
                ("zoning_moved", "0", _num(s["dissolved_optimum_students_moved"]),
                 _num(s["students_moved"]), _num(s["students_moved_bound"])),
                ("zoning_trip", _num(off["mean_trip_m"]), dash, _num(s["mean_trip_m"]),
                 _num(s["travel_bound_student_m"] / students)),
                ("zoning_travel", dash, dash, _num(s["travel_student_m"] / 1000),
                 _num(s["travel_bound_student_m"] / 1000)),
                ("zoning_travel_gap", dash, dash, _pct(s["travel_gap"], 2), "0"),
                ("zoning_pieces", dash, dash, _num(s["zones_several_pieces"]), dash)]
        body = [f'<tr><td class="l">{report.t(k)}</td>' + "".join(f"<td>{v}</td>" for v in vals)
                + "</tr>" for k, *vals in rows]
        out.append(_table(head, body, cls="zoning-before-after"))
        head = [report.t(k) for k in ("school", "id", "students", "seats", "utilisation",
                                      "zoning_moved", "zoning_trip", "zoning_beyond")]
        body = [f'<tr><td class="l">{_e(r.name)}</td><td class="l">{_e(r.school_id)}</td>'
                f"<td>{_num(r.students)}</td><td>{_num(r.seats)}</td>"
                f"<td>{_pct(r.utilisation)}</td><td>{_num(r.students_moved)}</td>"
                f"<td>{_num(r.mean_trip_m)}</td><td>{_pct(r.share_beyond_radius)}</td></tr>"
                for r in design.zones.itertuples()]
        out.append(f"<details><summary>{report.t('zoning_per_zone')}</summary>"
                   + _table(head, body, left=2, cls="zoning-zones") + "</details>")
        for note in [*s["problems"], *s["notes"]]:  # in the run's language where known
            shown = report.note(f"{level}/zoning: {note}").partition(": ")[2]
            out.append(f'<p class="note">{_e(shown)}</p>')
    curve = getattr(report.result, "zoning_tradeoff", None)
    if curve:
        head = [report.t(k) for k in ("level", "zoning_weight", "zoning_travel_gap",
                                      "zoning_gap_at_moved", "zoning_moved",
                                      "zoning_moved_floor", "zoning_trip", "zoning_over")]
        body = [f'<tr><td class="l">{_e(report.level(r["level"]))}</td>'
                f'<td>{_num(r["move_weight"])}</td><td>{_pct(r["travel_gap"], 2)}</td>'
                f'<td>{_pct(_above(r), 2)}</td>'
                f'<td>{_num(r["students_moved"])}</td><td>{_num(r["students_moved_bound"])}</td>'
                f'<td>{_num(r["mean_trip_m"])}</td>'
                f'<td>{_num(r["zones_over_capacity"])}</td></tr>' for r in curve]
        out.append(f"<h3>{report.t('zoning_tradeoff')}</h3>"
                   + _table(head, body, cls="zoning-tradeoff"))
        font = cjk_font() if report.lang == "zh" else None
        lang = report.lang if report.lang == "en" or font else "en"
        with font_context(font):
            out.append(chart_block(report, "zoning_tradeoff_chart",
                                   tradeoff_chart(report, curve, lang)))
    return "".join(out)


def _above(row: dict[str, Any]) -> float:
    """Travel above the least travel of any design moving as few students (a share)."""
    b = row.get("travel_bound_at_moved_student_m") or 0.0
    return max(0.0, row["travel_student_m"] / b - 1.0) if b > 0 else 0.0


def tradeoff_chart(report: Any, curve: list[dict[str, Any]], lang: str) -> bytes:
    """Travel above the proven bound against students moved, one line per level, each point
    labelled with its move weight (metres)."""
    fig, ax = figure(width=8.0, height=3.4)
    for level in dict.fromkeys(r["level"] for r in curve):
        rows = [r for r in curve if r["level"] == level]
        x = np.array([r["students_moved"] for r in rows], dtype=np.float64)
        y = np.array([100 * r["travel_gap"] for r in rows], dtype=np.float64)
        ax.plot(x, y, marker="o", label=mpl_text(report.level(level, lang)))
        for r, xi, yi in zip(rows, x, y, strict=True):
            ax.annotate(f"{r['move_weight']:,.0f}", (xi, yi), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))
    ax.set_xlabel(mpl_text(report.t("zoning_moved", lang)), fontsize=8)
    ax.set_ylabel(mpl_text(report.t("zoning_travel_gap", lang)) + " (%)", fontsize=8)
    ax.xaxis.set_major_formatter(thousands())
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False)
    return png_bytes(fig)
