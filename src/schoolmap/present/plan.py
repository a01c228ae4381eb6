"""The report's capital-plan section (``[plan]``): per level the projects (一校一策), the
plan's cost against its proven lower bound, the year-by-year construction budget chart and the
balance (优质均衡) indicators. It only shows tables handed to it."""

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

__all__ = ["budget_chart", "plan_section"]


def plan_section(report: Any) -> str:
    """HTML of the section: one block per planned level, then the balance table."""
    from schoolmap.present.html import esc as _e
    from schoolmap.present.html import num as _num
    from schoolmap.present.html import pct as _pct
    from schoolmap.present.html import table as _table

    res = report.result
    out = []
    for level, plan in res.plans.items():
        out.append(f"<h3>{_e(report.level(level))}</h3>")
        out.append('<p class="note">' + report.t(
            "plan_intro", n=len(plan.projects), seats=_num(plan.projects["seats"].sum()),
            cost=_num(plan.construction_yuan / 1e4), total=_num(plan.cost_yuan / 1e4),
            lb=_num(plan.lower_bound_yuan / 1e4), gap=_pct(plan.gap),
            teachers=_num(plan.projects["teachers_needed"].sum())) + "</p>")
        if len(plan.projects):
            head = [report.t(k) for k in ("plan_project", "school", "id", "plan_action",
                                          "classes", "seats", "plan_cost", "plan_start",
                                          "open_year", "plan_teachers")]
            body = [
                f'<tr><td class="l">{_e(r.project)}</td><td class="l">{_e(r.name)}</td>'
                f'<td class="l">{_e(r.school_id)}</td>'
                f'<td class="l">{_e(report.t("plan_" + r.action))}</td><td>{int(r.classes)}</td>'
                f"<td>{_num(r.seats)}</td><td>{_num(r.cost_yuan / 1e4)}</td>"
                f"<td>{_e(r.start_year)}</td><td>{_e(r.open_year)}</td>"
                f"<td>{_num(r.teachers_needed, 1)}</td></tr>"
                for r in plan.projects.itertuples()]
            out.append(_table(head, body, left=4, cls="plan-projects"))
        for note in plan.notes:
            out.append(f'<p class="note">{_e(note)}</p>')
    if res.plans:
        font = cjk_font() if report.lang == "zh" else None
        lang = report.lang if report.lang == "en" or font else "en"
        with font_context(font):
            out.append(chart_block(report, "plan_budget_chart", budget_chart(report, lang)))
    if res.balance:
        head = [report.t(k) for k in ("level", "year", "cv_classrooms", "cv_posts",
                                      "cv_building", "cv_threshold", "cv_pass")]
        body = []
        for level, b in res.balance.items():
            if b.by_year.empty:
                continue
            r = b.by_year.iloc[-1]
            ok = r["cv_pass"]
            word = "—" if ok is None or (isinstance(ok, float) and np.isnan(ok)) else \
                report.t("meets" if ok else "misses")
            body.append(
                f'<tr><td class="l">{_e(report.level(level))}</td><td class="l">'
                f'{_e(int(r["year"]))}</td><td>{_num(r["cv_classrooms_per_100"], 3)}</td>'
                f'<td>{_num(r["cv_posts_per_100"], 3)}</td>'
                f'<td>{_num(r["cv_building_m2_per_student"], 3)}</td>'
                f'<td>{_num(r["cv_threshold"], 2)}</td><td>{_e(word)}</td></tr>')
        out.append(f"<h3>{report.t('balance')}</h3>"
                   + _table(head, body, left=2, cls="balance"))
    return "".join(out)


def budget_chart(report: Any, lang: str) -> bytes:
    """Construction spending by year and level (stacked bars, 万元), with the budget line."""
    plans = report.result.plans
    fig, ax = figure(width=8.0, height=3.2)
    bottom = None
    budget = None
    for level, plan in plans.items():
        y = plan.years
        years = y["year"].to_numpy()
        spend = y["spend_yuan"].to_numpy(dtype=np.float64) / 1e4
        if bottom is None or len(bottom) != len(spend):
            bottom = np.zeros(len(spend))
        ax.bar(years, spend, bottom=bottom, width=0.7, label=mpl_text(report.level(level, lang)))
        bottom = bottom + spend
        b = y["budget_yuan"].to_numpy(dtype=np.float64) / 1e4
        if np.isfinite(b).any():
            budget = (years, b)
    if budget is not None:
        ax.step(budget[0], budget[1], where="mid", color="#222", lw=1.5,
                label=report.t("plan_budget", lang))
    ax.set_ylabel(mpl_text(report.t("plan_cost", lang)), fontsize=8)
    ax.yaxis.set_major_formatter(thousands())
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return png_bytes(fig)
