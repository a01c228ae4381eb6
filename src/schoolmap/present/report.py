"""The HTML report of a scenario run: one self-contained page that opens offline.

:func:`render_report` writes ``report.html``: the norms used, the headline figures (seats short
per level, 大班额 and 超大班额 shares against the national 5 % / 2 % targets, schools short,
unserved students), the schools shortest of seats, every catchment, charts (demand against seats
per level and method, class-size bands, seat prices of the ``optimal`` method) and the run's
notes, in Chinese or English. The charts are matplotlib PNGs written into the page as ``data:``
URIs; the map (``map.html``, when given) is embedded in an ``<iframe srcdoc>``. The page refers
to no file and no server, except the basemap tiles of the embedded map when the scenario has
them.

Like :mod:`schoolmap.maps`, this module only *shows* figures computed elsewhere. Every string
from the data or the scenario (names, ids, notes, the title) is HTML-escaped.

Chinese chart labels need a CJK font (Debian: ``fonts-noto-cjk``). Without one the charts are
labelled in English and the report says so; no warning is raised.
"""

from __future__ import annotations

import base64
import html
import math
import os
import secrets
from pathlib import Path
from typing import Any

import pandas as pd

from schoolmap.i18n import (
    LANGS,
    LEVEL_NAMES_ZH,
    METHOD_NAMES,
    REPORT_TEXT,
    US_LEVEL_NAMES,
    note_text,
)
from schoolmap.present.admission import admission_section
from schoolmap.present.charts import chart_section
from schoolmap.present.html import esc as _e
from schoolmap.present.html import num as _num
from schoolmap.present.html import pct as _pct
from schoolmap.present.html import table as _table
from schoolmap.present.plan import plan_section
from schoolmap.present.zoning import zoning_section

__all__ = ["render_report", "report_html", "travel_line"]

#: Schools listed per level in the "shortest of seats" table.
TOP_N_SCHOOLS = 10


_CSS = """
body {font: 14px/1.45 "Helvetica Neue", Arial, "Noto Sans CJK SC", "PingFang SC",
  "Microsoft YaHei", sans-serif; color: #222; margin: 0 auto; max-width: 1100px;
  padding: 16px 24px 40px;}
h1 {font-size: 24px; margin: 8px 0 4px;} h2 {font-size: 19px; margin: 28px 0 8px;
  border-bottom: 1px solid #ccc; padding-bottom: 3px;} h3 {font-size: 15px; margin: 16px 0 6px;}
.meta {color: #555;} .desc {margin: 6px 0;}
table {border-collapse: collapse; margin: 6px 0 12px;}
th, td {border-bottom: 1px solid #e3e3e3; padding: 3px 10px 3px 0; text-align: right;
  white-space: nowrap;}
th {font-weight: 600; background: #f6f6f6; white-space: normal; vertical-align: bottom;}
.scroll {overflow-x: auto;} th.l, td.l {text-align: left;}
td.bad {color: #b2182b; font-weight: 600;} td.good {color: #1a7a37;}
.cards {display: flex; flex-wrap: wrap; gap: 10px;}
.card {border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; min-width: 200px;}
.card .v {font-size: 22px; font-weight: 600;} .card .k {color: #555; font-size: 12px;}
img.chart {max-width: 100%; display: block; margin: 6px 0 14px;}
iframe.map {width: 100%; height: 640px; border: 1px solid #ccc;}
.note {color: #555;} details summary {cursor: pointer; color: #225; margin: 4px 0;}
figure.static-map {margin: 10px 0 16px;} figure.static-map img {max-width: 100%; display: block;}
.print-only {display: none;}
@page {size: A4; margin: 14mm 12mm;}
@media print {
  body {max-width: none; padding: 0; font-size: 11px;}
  iframe.map, .map-link {display: none;}
  .print-only {display: block;}
  h2 {break-before: page;} h2:first-of-type {break-before: auto;}
  figure.static-map {break-before: page; break-inside: avoid; margin: 0;}
  figure.static-map img {width: 100%;}
  table, img.chart, .card {break-inside: avoid;}
  .scroll {overflow: visible;}
}
"""


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def render_report(
    result: Any,
    path: str | os.PathLike[str],
    *,
    lang: str | None = None,
    map_html: str | None = None,
    static_maps: dict[str, bytes] | None = None,
) -> Path:
    """Write a scenario run's HTML report, atomically.

    Parameters
    ----------
    result : schoolmap.scenario.ScenarioResult
    path : path-like
        Target file (``report.html``); its folder must exist.
    lang : {"zh", "en"}, optional
        Language; default: the scenario's ``lang``.
    map_html : str, optional
        The run's ``map.html``, embedded in the report (``<iframe srcdoc>``).
    static_maps : dict of str to bytes, optional
        One PNG per level (:func:`schoolmap.present.maps.static.static_maps`), embedded under
        the map; printed instead of it (A4, one per page).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    target = Path(path)
    data = report_html(result, lang=lang, map_html=map_html,
                       static_maps=static_maps).encode("utf-8")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def report_html(result: Any, *, lang: str | None = None, map_html: str | None = None,
                static_maps: dict[str, bytes] | None = None) -> str:
    """The report of a scenario run as one HTML page (see :func:`render_report`).

    Examples
    --------
    Tiny town's report in English, with the hostile name of a scenario escaped:

    >>> import dataclasses
    >>> from schoolmap.scenario import Scenario, run_scenario
    >>> from schoolmap.testing import tiny_town
    >>> town = tiny_town()
    >>> sc = Scenario(name="<b>t</b>", district=town.source, base_year=2026,
    ...               levels=("primary",), methods=("catchment", "optimal"), lang="en")
    >>> page = report_html(run_scenario(sc, town))
    >>> "<h1>School seats report" in page, "&lt;b&gt;t&lt;/b&gt;" in page, "<b>t</b>" in page
    (True, True, False)
    """
    sc = result.scenario
    lang = lang or sc.language
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    r = _Report(result, lang)
    r.static_maps = dict(static_maps or {})
    return r.page(map_html)


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


class _Report:
    def __init__(self, result: Any, lang: str) -> None:
        self.result = result
        self.sc = result.scenario
        self.lang = lang
        self.us = self.sc.norms.grade_system == "us"
        self.headline = self.sc.methods[0]
        self.extra_notes: list[str] = []

    # -- words --------------------------------------------------------------------------------

    def t(self, key: str, lang: str | None = None, **kw: Any) -> str:
        return REPORT_TEXT[key][lang or self.lang].format(**kw)

    def level(self, level: str, lang: str | None = None) -> str:
        lang = lang or self.lang
        name = US_LEVEL_NAMES.get(level, level) if self.us else level
        if lang == "zh":
            return LEVEL_NAMES_ZH.get(level, name)
        return name

    def method(self, method: str, lang: str | None = None) -> str:
        return METHOD_NAMES.get(method, {}).get(lang or self.lang, method)

    # -- sections -----------------------------------------------------------------------------

    def page(self, map_html: str | None) -> str:
        res, sc = self.result, self.sc
        charts = chart_section(self)
        sections = [
            ("headline", self.headline_section()),
            ("norms", self.norms_section()),
            ("charts", charts),
            *([("forecast_methods", self.forecast_methods_section())]
              if getattr(res, "forecast_methods", None) is not None else []),
            *([("new_sites", self.sites_section())] if getattr(res, "siting", None) else []),
            *([("plan", plan_section(self))] if getattr(res, "plans", None) else []),
            *([("zoning", zoning_section(self))] if getattr(res, "designs", None) else []),
            *([("admission", admission_section(self))] if getattr(res, "admission", None)
              else []),
            ("schools", self.schools_section()),
            ("zones", self.zones_section()),
            ("map", self.map_section(map_html)),
            ("notes", self.notes_section()),
        ]
        toc = " · ".join(f'<a href="#{key}">{self.t(key)}</a>' for key, _ in sections)
        body = "".join(f'<section id="{key}"><h2>{self.t(key)}</h2>{content}</section>'
                       for key, content in sections)
        from schoolmap import __version__

        meta = (
            f'<p class="meta">{self.t("scenario")}: <b>{_e(sc.name)}</b> · {self.t("year")}: '
            f"{_e(res.year)} · {self.t('headline_method')}: {_e(self.method(self.headline))}"
            f" · {self.t('district')}: "
            + self.t("cells_schools", cells=f"{res.district.n_cells:,}",
                     schools=f"{res.district.n_schools:,}")
            + "</p>"
        )
        meta += f'<p class="meta travel">{_e(self.travel_line())}</p>'
        desc = f'<p class="desc">{_e(sc.description)}</p>' if sc.description else ""
        title = f"{self.t('title')} · {_e(sc.name)} · {_e(res.year)}"
        footer = (f'<p class="note">{self.t("generated", version=_e(__version__), year=res.year)}'
                  "</p>")
        return (
            f'<!DOCTYPE html>\n<html lang="{"zh-CN" if self.lang == "zh" else "en"}">'
            f'<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, '
            f'initial-scale=1"><title>{title}</title><style>{_CSS}</style></head><body>'
            f"<h1>{self.t('title')} · {_e(sc.name)}</h1>{meta}{desc}"
            f'<nav class="meta">{toc}</nav>{body}{footer}</body></html>\n'
        )

    def travel_line(self) -> str:
        """Which distance every figure uses (the scenario's ``[travel]`` mode)."""
        return travel_line(self.sc, self.lang)

    def totals(self) -> pd.DataFrame:
        return self.result.totals

    def headline_section(self) -> str:
        tot = self.totals()
        rows = tot[tot["method"] == self.headline]
        bands = self.sc.norms.bands
        cards = []
        for r in rows.itertuples():
            cards.append(
                f'<div class="card" data-level="{_e(r.level)}"><div class="k">'
                f"{_e(self.level(r.level))} · {self.t('short_at_schools')}</div>"
                f'<div class="v">{_num(r.shortfall_at_schools)}</div><div class="k">'
                + self.t("seats_short_sentence", n=int(r.n_schools_short), m=int(r.n_schools))
                + "</div></div>")
        head = [self.t(k) for k in ("level", "method", "demand", "seats", "short_at_schools",
                                    "net_shortfall", "schools_short", "share_56", "share_66",
                                    "unserved", "beyond_radius")]
        head[7] += f" ({self.t('target', pct=_pct(bands.target_share_56_plus, 0))})"
        head[8] += f" ({self.t('target', pct=_pct(bands.target_share_66_plus, 0))})"
        body = []
        for r in tot.itertuples():
            s56, s66 = float(r.share_classes_56_plus), float(r.share_classes_66_plus)
            body.append(
                "<tr>"
                f'<td class="l">{_e(self.level(r.level))}</td>'
                f'<td class="l">{_e(self.method(r.method))}</td>'
                f"<td>{_num(r.demand)}</td><td>{_num(r.seats)}</td>"
                f"<td>{_num(r.shortfall_at_schools)}</td><td>{_num(r.net_shortfall)}</td>"
                f"<td>{int(r.n_schools_short)}/{int(r.n_schools)}</td>"
                + self._target_cell(s56, bands.target_share_56_plus)
                + self._target_cell(s66, bands.target_share_66_plus)
                + f"<td>{_num(r.unassigned)}</td><td>{_pct(r.share_beyond_radius)}</td></tr>")
        return (f'<div class="cards">{"".join(cards)}</div>'
                + _table(head, body, left=2, cls="totals"))

    def _target_cell(self, share: float, target: float) -> str:
        if math.isnan(share):
            return "<td>—</td>"
        ok = share <= target + 1e-12
        word = self.t("meets" if ok else "misses")
        return f'<td class="{"good" if ok else "bad"}" title="{word}">{_pct(share)} · {word}</td>'

    def norms_section(self) -> str:
        n = self.sc.norms
        b = n.bands
        general = [
            (self.t("grade_system"), _e(n.grade_system)),
            (self.t("entry_age"), _e(n.entry_age)),
            (self.t("bands"), " · ".join([
                self.t("band_le", a=b.normal_max),
                self.t("band_range", a=b.normal_max + 1, b=b.large_max),
                self.t("band_range", a=b.large_max + 1, b=b.oversized_max) + self.t("band_56"),
                self.t("band_plus", a=b.oversized_max + 1) + self.t("band_66")])),
            (self.t("share_56"), self.t("target", pct=_pct(b.target_share_56_plus, 0))),
            (self.t("share_66"), self.t("target", pct=_pct(b.target_share_66_plus, 0))),
        ]
        out = _table([self.t("norm"), self.t("value")],
                     [f'<tr><td class="l">{k}</td><td class="l">{v}</td></tr>'
                      for k, v in general], left=2, cls="norms")
        levels = [n.level(lv) for lv in self.sc.levels]
        keys = [
            ("ages", lambda ln: ", ".join(map(str, ln.ages))),
            ("class_sizes", lambda ln: ", ".join(map(str, ln.class_sizes))),
            ("service_radius", lambda ln: _num(ln.service_radius_m)),
            ("enrolment_rate", lambda ln: _num(ln.enrolment_rate, 2)),
            ("private_share", lambda ln: _pct(ln.private_share)),
            ("standard_classes", lambda ln: ", ".join(map(str, ln.standard_classes)) or "—"),
            ("max_students", lambda ln: _num(ln.max_students)),
        ]
        head = [self.t("norm")] + [_e(self.level(ln.level)) for ln in levels]
        body = ["<tr>" + f'<td class="l">{self.t(k)}</td>'
                + "".join(f"<td>{_e(f(ln))}</td>" for ln in levels) + "</tr>"
                for k, f in keys]
        return out + _table(head, body, left=1, cls="level-norms")

    def schools_section(self) -> str:
        s = self.result.schools
        s = s[s["method"] == self.headline] if len(s) else s
        head = [self.t(k) for k in ("school", "id", "seats", "demand", "shortfall", "utilisation",
                                    "avg_class", "classes_56_65", "classes_66")]
        out = []
        for level in self.sc.levels:
            rows = s[s["level"] == level] if len(s) else s
            out.append(f"<h3>{_e(self.level(level))} · {_e(self.method(self.headline))}</h3>")
            short = rows[rows["shortfall"] > 0.5].sort_values(
                ["shortfall", "school_id"], ascending=[False, True]).head(TOP_N_SCHOOLS)
            if len(short) == 0:
                out.append(f'<p class="note">{self.t("none_short")}</p>')
                continue
            out.append(_table(head, [self._school_row(r) for r in short.itertuples()], left=2,
                              cls="top-schools"))
        rows = s.sort_values(["level", "school_id"], kind="stable") if len(s) else s
        every = _table([self.t("level")] + head,
                       [self._school_row(r, with_level=True) for r in rows.itertuples()],
                       left=3, cls="all-schools")
        n = int(s["school_id"].nunique()) if len(s) else 0
        out.append(f"<details><summary>{self.t('all_schools')} ({n}; "
                   f"{self.t('more_rows', n=len(rows))})</summary>{every}</details>")
        return "".join(out)

    def _school_row(self, r: Any, with_level: bool = False) -> str:
        level = f'<td class="l">{_e(self.level(r.level))}</td>' if with_level else ""
        attr = f' data-school-id="{_e(r.school_id)}"' if with_level else ""
        return (
            f"<tr{attr}>{level}<td class=\"l\">{_e(r.name)}</td><td class=\"l\">{_e(r.school_id)}"
            f"</td><td>{_num(r.seats)}</td><td>{_num(r.demand)}</td>"
            f"<td>{_num(r.shortfall)}</td><td>{_pct(r.utilisation, 0)}</td>"
            f"<td>{_num(r.avg_class_size, 1)}</td><td>{_num(r.n_classes_56_65)}</td>"
            f"<td>{_num(r.n_classes_66_plus)}</td></tr>"
        )

    def forecast_methods_section(self) -> str:
        """Cohort-component demand against the grade-progression forecast, level × year."""
        m = self.result.forecast_methods
        head = [self.t(k) for k in ("level", "year", "cohort_component", "grade_progression",
                                    "difference", "difference_share")]
        body = [
            f'<tr><td class="l">{_e(self.level(r.level))}</td><td class="l">{_e(r.year)}</td>'
            f"<td>{_num(r.cohort_component)}</td><td>{_num(r.grade_progression)}</td>"
            f"<td>{_num(r.difference)}</td><td>{_pct(r.difference_share)}</td></tr>"
            for r in m.itertuples()
        ]
        return (f'<p class="note">{self.t("methods_intro")}</p>'
                + _table(head, body, left=2, cls="forecast-methods"))

    def sites_section(self) -> str:
        """Per level: the recommended new schools, their paragraphs, and before/after by year."""
        out = []
        for level, plan in self.result.siting.items():
            reach = f"{plan.reach_m:,.0f} {'米' if self.lang == 'zh' else 'm'}"
            out.append(f"<h3>{_e(self.level(level))}</h3>")
            intro = self.t("sites_intro", reach=reach, n=plan.n_new,
                           seats=_num(plan.sites["seats"].sum() if plan.n_new else 0),
                           lb=plan.lower_bound, gap=_pct(plan.gap))
            out.append(f'<p class="note">{intro}</p>')
            if plan.n_new:
                head = [self.t(k) for k in ("site", "id", "tracks", "classes", "seats",
                                            "open_year", "students_served", "mean_distance")]
                body = [
                    f'<tr><td class="l">{_e(r.name)}</td><td class="l">{_e(r.site_id)}</td>'
                    f"<td>{int(r.tracks)}</td><td>{int(r.classes)}</td><td>{_num(r.seats)}</td>"
                    f"<td>{_e(r.open_year)}</td><td>{_num(r.students_served)}</td>"
                    f"<td>{_num(r.mean_distance_m)}</td></tr>"
                    for r in plan.sites.itertuples()
                ]
                out.append(_table(head, body, left=2, cls="new-sites"))
                out.append('<ul class="site-reasons">' + "".join(
                    f"<li>{_e(r)}</li>" for r in plan.sites["reason"]) + "</ul>")
            else:
                out.append(f"<p>{self.t('no_new_sites')}</p>")
            for note in plan.notes:
                out.append(f'<p class="note">{_e(note)}</p>')
            head = [self.t(k) for k in ("year", "demand", "new_seats_open", "unserved_before",
                                        "unserved_after", "short_before", "short_after",
                                        "share56_before", "share56_after")]
            body = [
                f'<tr><td class="l">{_e(r.year)}</td><td>{_num(r.demand)}</td>'
                f"<td>{_num(r.seats_new)}</td><td>{_num(r.unserved_before)}</td>"
                f"<td>{_num(r.unserved_after)}</td><td>{_num(r.short_nearest_before)}</td>"
                f"<td>{_num(r.short_nearest_after)}</td><td>{_pct(r.share_56_plus_before)}</td>"
                f"<td>{_pct(r.share_56_plus_after)}</td></tr>"
                for r in plan.years.itertuples()
            ]
            out.append(f"<h3>{_e(self.level(level))} · {self.t('before_after')}</h3>"
                       + _table(head, body, left=1, cls="siting-years"))
        return "".join(out)

    def zones_section(self) -> str:
        z = self.result.zones
        if len(z) == 0:
            return f'<p class="note">{self.t("no_zones")}</p>'
        head = [self.t(k) for k in ("level", "zone", "id", "zone_schools", "demand", "seats",
                                    "shortfall", "utilisation")]
        order = {lv: i for i, lv in enumerate(self.sc.levels)}
        z = z.assign(_o=z["level"].map(order).fillna(99)).sort_values(["_o", "zone_id"],
                                                                       kind="stable")
        body = [
            f'<tr data-zone-id="{_e(r.zone_id)}"><td class="l">{_e(self.level(r.level))}</td>'
            f'<td class="l">{_e(getattr(r, "name", None))}</td><td class="l">{_e(r.zone_id)}</td>'
            f'<td class="l">{_e(r.school_id)}</td><td>{_num(r.demand)}</td>'
            f"<td>{_num(r.seats)}</td><td>{_num(r.shortfall)}</td>"
            f"<td>{_pct(r.utilisation, 0)}</td></tr>"
            for r in z.itertuples()
        ]
        return _table(head, body, left=4, cls="zones")

    def map_section(self, map_html: str | None) -> str:
        figures = "".join(
            f'<figure class="static-map" data-level="{_e(level)}">'
            f'<img alt="{_e(self.level(level))}" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
            f'<figcaption class="note">{_e(self.level(level))} · '
            f'<a href="map_{_e(level)}.png">map_{_e(level)}.png</a></figcaption></figure>'
            for level, png in getattr(self, "static_maps", {}).items())
        if not map_html:
            return f'<p class="note">{self.t("no_map")}</p>' + figures
        return (f'<iframe class="map" title="{self.t("map")}" sandbox="allow-scripts" '
                f'srcdoc="{html.escape(map_html, quote=True)}"></iframe>'
                f'<p class="note map-link"><a href="map.html">{self.t("map_open")}</a></p>'
                + figures)

    def note(self, text: str) -> str:
        """One of the run's notes in the report's language (:func:`schoolmap.i18n.note_text`)."""
        return note_text(text, self.lang)

    def notes_section(self) -> str:
        notes = [*self.extra_notes, *(_e(self.note(n)) for n in self.result.notes)]
        if not notes:
            return f'<p class="note">{self.t("no_notes")}</p>'
        return "<ul>" + "".join(f"<li>{n}</li>" for n in notes) + "</ul>"


def travel_line(scenario: Any, lang: str) -> str:
    """One line: which distance every figure of a run uses (its ``[travel]`` mode)."""
    travel = getattr(scenario, "travel", None)
    if travel is None or travel.mode == "euclidean":
        return REPORT_TEXT["travel_euclidean"][lang]
    return REPORT_TEXT["travel_road"][lang].format(
        what=REPORT_TEXT[f"travel_{travel.mode}"][lang], mode=travel.mode,
        conn=f"{travel.max_connector_m:,.0f}")


