"""The report's admission section (``[admission]``, 入学派位): per level the intake against the
entry places, the chance of a place at the zone's first school, how many the bureau places
outside the zone and how far, per priority class, and the most oversubscribed schools. It
only shows figures handed to it (:attr:`ScenarioResult.admission`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from schoolmap.present.html import esc as _e
from schoolmap.present.html import num as _num
from schoolmap.present.html import pct as _pct
from schoolmap.present.html import table as _table

__all__ = ["admission_section"]

#: Schools listed per level, most applicants per place first.
TOP_SCHOOLS = 10


def admission_section(report: Any) -> str:
    """HTML of the section: one block per simulated level (``report.result.admission``)."""
    out = []
    for level, adm in report.result.admission.items():
        cells, odds = adm.cells, adm.odds
        a = cells["applicants"].to_numpy(dtype=np.float64)
        first = cells["chance_first"].to_numpy(dtype=np.float64)
        ok = ~np.isnan(first) & (a > 0)
        w = cells["placed_outside"].to_numpy(dtype=np.float64)
        extra = cells["extra_distance_m"].to_numpy(dtype=np.float64)
        has = ~np.isnan(extra) & (w > 0)
        out.append(f"<h3>{_e(report.level(level))}</h3>")
        out.append('<p class="note">' + report.t(
            "admission_intro", applicants=_num(a.sum()),
            places=_num(adm.schools["entry_places"].sum()),
            mechanism=report.t(f"admission_mech_{odds.mechanism}"), draws=_num(odds.draws),
            seed=odds.seed,
            chance=_pct(np.average(first[ok], weights=a[ok]) if ok.any() else np.nan),
            outside=_num(w.sum()),
            extra=_num(np.average(extra[has], weights=w[has]) if has.any() else np.nan))
            + "</p>")
        head = [report.t(k) for k in ("admission_class", "admission_applicants",
                                      "admission_first", "admission_outside",
                                      "admission_outside_p90", "admission_extra",
                                      "admission_no_seat")]
        body = [f'<tr><td class="l">{_e(r["class"])}</td><td>{_num(r["applicants"])}</td>'
                f"<td>{_pct(r['first_choice'] / r['applicants'] if r['applicants'] else np.nan)}"
                f"</td><td>{_num(r['placed_outside'])}</td><td>{_num(r['outside_p90'])}</td>"
                f"<td>{_num(r['extra_distance_m'])}</td><td>{_num(r['no_seat'])}</td></tr>"
                for r in adm.classes.to_dict(orient="records")]
        out.append(_table(head, body, cls="admission-classes"))
        top = adm.schools.sort_values(["applicants_per_place", "school_id"],
                                      ascending=[False, True]).head(TOP_SCHOOLS)
        head = [report.t(k) for k in ("school", "id", "admission_places",
                                      "admission_first_applicants", "admission_ratio",
                                      "admission_first", "admission_bureau")]
        body = [f'<tr><td class="l">{_e(r.name)}</td><td class="l">{_e(r.school_id)}</td>'
                f"<td>{_num(r.entry_places)}</td><td>{_num(r.first_choice_applicants)}</td>"
                f"<td>{_num(r.applicants_per_place, 2)}</td><td>{_pct(r.chance_first)}</td>"
                f"<td>{_num(r.placed_by_bureau)}</td></tr>" for r in top.itertuples()]
        out.append(f"<h4>{report.t('admission_top')}</h4>")
        out.append(_table(head, body, left=2, cls="admission-schools"))
    quotas = getattr(report.result, "admission_quotas", None)
    if quotas is not None and len(quotas):
        by = quotas.groupby("senior_school", sort=True)["places"].sum()
        out.append('<p class="note">' + report.t(
            "admission_quotas", n=len(by), places=_num(by.sum()),
            juniors=quotas["junior_school"].nunique()) + "</p>")
    out.append('<p class="note">' + report.t("admission_files") + "</p>")
    return "".join(out)
