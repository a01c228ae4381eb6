"""Every word schoolmap shows in two languages, once: the languages, level and method names,
the map's layer names, the report's and the command line's phrases.

Ground floor: imports nothing. Chinese names are the ones planning documents use (小学, 初中,
划片, 就近); the US names apply under ``grade_system = "us"``.
"""

from __future__ import annotations

import re
from typing import Any

#: Languages of the report, the CLI summary and the map's labels.
LANGS = ("zh", "en")


def default_lang(grade_system: str) -> str:
    """Language of a scenario without ``lang``: Chinese for Chinese grade systems, else English.

    >>> default_lang("6+3"), default_lang("5+4"), default_lang("us")
    ('zh', 'zh', 'en')
    """
    return "en" if grade_system == "us" else "zh"


#: Chinese names of the levels.
LEVEL_NAMES_ZH: dict[str, str] = {
    "kindergarten": "幼儿园",
    "primary": "小学",
    "junior": "初中",
    "senior": "高中",
}


#: English nouns of the levels in sentences ("a new primary school").
LEVEL_NOUNS_EN = {"kindergarten": "kindergarten", "primary": "primary school",
                  "junior": "junior middle school", "senior": "senior high school"}


#: US names of the levels under ``grade_system = "us"`` (schoolmap level → US name).
US_LEVEL_NAMES: dict[str, str] = {
    "kindergarten": "pre-K",
    "primary": "elementary",
    "junior": "middle",
    "senior": "high",
}


#: Names of the allocation methods, per language (report, command line).
METHOD_NAMES: dict[str, dict[str, str]] = {
    "catchment": {"en": "catchment", "zh": "划片"},
    "nearest": {"en": "nearest", "zh": "就近"},
    "optimal": {"en": "optimal", "zh": "最优"},
}

#: Chinese names of the methods in map titles and layer names (the optimal one in full).
MAP_METHOD_NAMES_ZH = {"catchment": "划片", "nearest": "就近", "optimal": "最优分配"}


#: Layer names in the layer switcher, per language (``lang`` of the map functions): the kind of
#: layer, then " – " and the level (in Chinese under ``"zh"``).
LAYER_NAMES: dict[str, dict[str, str]] = {
    "en": {"catchments": "Catchments", "schools": "Schools", "seat_prices": "Seat prices",
           "unserved": "Unserved students", "unserved_optimal": "Unserved (optimal)",
           "milestone": "Schools", "new_sites": "New schools", "developments": "Developments",
           "lines": "Assignment lines", "designed": "Designed catchments",
           "admission": "Chance of the zone's first school"},
    "zh": {"catchments": "学区", "schools": "学校", "seat_prices": "学位影子价格",
           "unserved": "未获学位学生", "unserved_optimal": "未获学位学生 (最优分配)",
           "milestone": "学校", "new_sites": "建议新建学校", "developments": "新建住宅",
           "lines": "学生来源连线", "designed": "划片方案", "admission": "学区首选学校录取概率"},
}


#: Milestone years in the names of their layers, per language.
MILESTONE_NAMES: dict[str, dict[str, str]] = {
    "en": {"base": "base", "peak": "peak", "horizon": "horizon"},
    "zh": {"base": "基年", "peak": "高峰", "horizon": "规划末年"},
}


#: Name of the proposed-catchment layers, per language.
PROPOSED_NAMES = {"en": "Proposed catchments", "zh": "建议学区"}


#: The run's notes in Chinese (the report; ``summary.json`` keeps them in English): a
#: ``level/method:`` prefix, then the first pattern matching the rest, its groups filled into
#: the Chinese text (``{level}``: the prefix's level in Chinese). A note matching none is
#: shown as it is.
NOTE_PATTERNS_ZH: tuple[tuple[str, str], ...] = (
    (r"no (\w+) zones in the district: catchment = nearest school by road "
     r"\(kindergartens are usually not zoned\)",
     "区内无{level}学区: 划片按沿道路最近的学校计 (幼儿园通常不划片)"),
    (r"no (\w+) zones in the district: catchment = nearest school "
     r"\(kindergartens are usually not zoned\)",
     "区内无{level}学区: 划片按最近的学校计 (幼儿园通常不划片)"),
    (r"zone (\S+): none of its schools \((.*)\) takes (\w+) students this year; its "
     r"students are unassigned",
     "学区 {0}: 其学校 ({1}) 本学年均不招收{level}学生, 该学区学生未获分配"),
    (r"([\d,.]+) applicants in cells with no listed school: the bureau's rule places them",
     "{0} 名报名学生所在网格无可报学校: 由教育局统筹安置"),
    (r"(\d+) cells with applicants lie outside every zone: the bureau's rule places them",
     "{0} 个有报名学生的网格不在任何学区内: 由教育局统筹安置"),
    (r"no (\w+) zones: each cell applies to its nearest school",
     "无{level}学区: 各网格报名最近的学校"),
    (r"([\d,.]+) (\w+) students get no seat: seats run out",
     "{0} 名{level}学生未获学位: 学位不足"),
    (r"([\d,.]+) (\w+) students get no seat within ([\d,.]+) m: seats run out",
     "{0} 名{level}学生在 {2} 米内未获学位: 学位不足"),
    (r"([\d,.]+) (\w+) students get no seat: seats run out or no road reaches one",
     "{0} 名{level}学生未获学位: 学位不足或无道路可达"),
    (r"([\d,.]+) (\w+) students get no seat within ([\d,.]+) m by road: seats run out or "
     r"no road reaches one",
     "{0} 名{level}学生在沿道路 {2} 米内未获学位: 学位不足或无道路可达"),
    # [zoning]: the catchment design's notes
    (r"([\d,.]+) students in (\d+) cells are unzoned: no contiguous zone within seats can "
     r"take them", "{0} 名学生 ({1} 个网格) 未能划入学区: 没有连片且学位足够的学区可以接收"),
    (r"schools (.+) share cell (\S+): one zone \(多校划片\)",
     "学校 {0} 位于同一网格 {1}: 合为一个学区 (多校划片)"),
    (r"schools (.+) form one group \(cells (.+)\): one zone \(多校划片\)",
     "学校 {0} 为同一组 (网格 {1}): 合为一个学区 (多校划片)"),
    (r"the time limit \(([\d.]+) s\) was reached: later phases of the search were skipped; "
     r"the design is the best found so far",
     "已达时间上限 ({0} 秒): 其后的搜索阶段未运行; 方案为目前找到的最好方案"),
    (r"a descent of the local search stopped after (\d+) sweeps, before a local optimum",
     "局部搜索在 {0} 轮后停止, 尚未达到局部最优"),
    (r"the ejection chains stopped at their cap of cell moves with zones still above seats "
     r"\(the local search went on\)", "调整链达到移动次数上限时仍有学区超出学位 (局部搜索继续)"),
    (r"zones hold within seats in every year (\d+)–(\d+) \(each cell's most students over "
     r"those years\)", "各学区在 {0}–{1} 年每年均不超出学位 (按各网格这些年中最多的学生数)"),
    # [siting]: the proven lower bound on new schools
    (r"lower bound from seats missing only \(install highspy for the LP bound\)",
     "下限仅按缺少的学位计 (安装 highspy 可得线性规划下限)"),
    (r"lower bound from seats missing only, weaker than the LP bound \((.*)\)",
     "下限仅按缺少的学位计, 弱于线性规划下限 ({0})"),
    (r"LP lower bound on squares of ([\d,.]+) m, weaker than on ([\d,.]+) m squares \((.*)\)",
     "线性规划下限按 {0} 米方格计, 弱于按 {1} 米方格计 ({2})"),
    # catchment: cells in no zone
    (r"(\d+) cells with ([\d,.]+) (\w+) students lie outside every zone; they are unassigned",
     "{0} 个网格的 {1} 名{level}学生不在任何学区内, 未获分配"),
    # zones that overlap (``zones:`` notes)
    (r"(\w+) zones (\S+) and (\S+) overlap by ([\d,.]+) m² \((\d+) cells, ([\d,.]+) "
     r"students\); allocation gives them to (\S+) \(first in the zones layer\) — redraw the "
     r"boundary if that is wrong",
     "学区 {1} 与 {2} 重叠 {3} 平方米 ({4} 个网格, {5} 名学生): 分配给 {6} "
     "(学区图层中靠前者); 如有误请修正边界"),
)


#: Chinese words of a note's ``level/step:`` prefix beyond the levels and the methods (the
#: steps of a run that write notes).
NOTE_STEPS_ZH: dict[str, str] = {"siting": "选址", "forecast": "预测", "zoning": "划片调整",
                                 "admission": "入学派位", "plan": "规划", "zones": "学区",
                                 "roads": "道路"}


def note_text(text: str, lang: str) -> str:
    """One of a run's notes in ``lang``: under ``"zh"`` its ``level/method:`` prefix in
    Chinese and the rest by :data:`NOTE_PATTERNS_ZH` (a rest matching none is kept as it is);
    any other language: the note unchanged. The one translation of notes (report and CLI).

    >>> note_text("primary/siting: 12 students left", "zh")
    '小学/选址: 12 students left'
    >>> note_text("kindergarten/catchment: no kindergarten zones: each cell applies to its "
    ...           "nearest school", "zh")
    '幼儿园/划片: 无幼儿园学区: 各网格报名最近的学校'
    """
    text = str(text)
    head, sep, rest = text.partition(": ")
    if lang != "zh" or not sep or " " in head:
        return text
    level, _, step = head.partition("/")
    shown = LEVEL_NAMES_ZH.get(level, level)
    if step:
        word = NOTE_STEPS_ZH.get(step) or METHOD_NAMES.get(step, {}).get("zh", step)
        shown_prefix = f"{shown}/{word}"
    else:
        shown_prefix = NOTE_STEPS_ZH.get(level, shown)
    for pattern, zh in NOTE_PATTERNS_ZH:
        found = re.fullmatch(pattern, rest)
        if found:
            return f"{shown_prefix}: {zh.format(*found.groups(), level=shown)}"
    return f"{shown_prefix}: {rest}"


#: Words of the static maps (``present.maps.static``), per language; ``date`` takes the base
#: year (``{year}``) and the next year's last two digits (``{next}``).
STATIC_MAP_TEXT: dict[str, dict[str, Any]] = {
    "en": {"title": "seats and catchments", "date": "School year {year}/{next} (base year)",
           "utilisation": "Catchment utilisation", "shortfall": "School shortfall (seats)",
           "shortfall_classes": ("none", "1–49", "50–199", "≥ 200", "no data"),
           "new_sites": "Recommended new school", "metres": "m", "km": "km", "north": "N"},
    "zh": {"title": "学位与学区", "date": "{year}/{next} 学年 (基年)",
           "utilisation": "学区使用率", "shortfall": "学校学位缺口 (个)",
           "shortfall_classes": ("无缺口", "1–49", "50–199", "≥ 200", "无数据"),
           "new_sites": "建议新建学校", "metres": "米", "km": "公里", "north": "北"},
}


#: Words of the map's own controls and legend, per language (``present.maps.controls``).
MAP_UI: dict[str, dict[str, str]] = {
    "en": {"layers": "Layers", "other": "Other layers", "basemap": "Basemap",
           "search": "Find a school…", "fullscreen": "Full screen", "legend": "Legend"},
    "zh": {"layers": "图层", "other": "其他图层", "basemap": "底图",
           "search": "查找学校…", "fullscreen": "全屏", "legend": "图例"},
}


#: Words of the interactive map's popups, tooltips and legend (``present.maps``): key →
#: (English, Chinese); ``{name}`` fields are filled in by :func:`map_text`. The keys of
#: popup rows are the columns they show.
MAP_TEXT: dict[str, tuple[str, str]] = {
    # popup and tooltip rows, by column
    "school_id": ("ID", "编号"), "site_id": ("ID", "编号"), "dev_id": ("ID", "编号"),
    "level": ("Level", "学段"), "school_type": ("Type", "类型"), "sector": ("Sector", "办学性质"),
    "year": ("Year", "年份"), "seats": ("Seats", "学位"), "classes": ("Classes", "班数"),
    "demand": ("Demand (students)", "需求 (人)"),
    "students": ("Enrolment (students)", "在校生 (人)"),
    "shortfall": ("Shortfall", "学位缺口"), "surplus": ("Spare seats", "空余学位"),
    "utilisation": ("Utilisation", "使用率"), "classes_needed": ("Classes needed", "所需班数"),
    "avg_class_size": ("Avg class size", "平均班额"),
    "max_class_size": ("Largest class", "最大班额"),
    "n_classes_le_45": ("Classes ≤ 45", "45 人及以下班"),
    "n_classes_46_55": ("Classes 46–55", "46–55 人班"),
    "n_classes_56_65": ("Large classes (56–65)", "大班额 (56–65 人)"),
    "n_classes_66_plus": ("Very large classes (66+)", "超大班额 (66 人及以上)"),
    "share_beyond_radius": ("Beyond service radius", "超出服务半径"),
    "mean_distance_m": ("Mean distance", "平均距离"),
    "seat_price_m": ("Seat price", "学位影子价格"),
    "tracks": ("Tracks", "轨"), "open_year": ("Opens", "开办年份"),
    "students_served": ("Students served", "服务学生 (人)"), "source": ("Site", "用地"),
    "demand_optimal": ("Demand, optimal (students)", "最优分配需求 (人)"),
    "zone": ("Zone", "学区"),
    "zone_id": ("Zone ID", "学区编号"), "school_ids": ("School(s)", "学校"),
    "unserved": ("Unserved students", "未获学位学生"), "cells": ("Cells", "网格"),
    "cell": ("Cell", "网格"), "pupils": ("Students", "学生 (人)"), "distance": ("Distance", "距离"),
    "development": ("Development", "住宅项目"), "dwellings": ("Dwellings", "住宅 (套)"),
    "completion_year": ("Completion", "交付年份"), "method": ("Method", "分配方法"),
    "residents": ("Students (residents)", "学生 (常住)"),
    "students_changing": ("Would change school", "需转学"), "n_pieces": ("Pieces", "分块"),
    "area_km2": ("Area", "面积"), "students_moved": ("Moved from official zone", "调出原学区"),
    "mean_trip_m": ("Mean trip", "平均距离"), "mean": ("mean", "均值"),
    "of_mean": ("of the mean", "占均值"), "headcount": ("students", "学生"),
    # values shown in popups
    "value_sites": ("candidate site", "备选用地"), "value_generated": ("generated", "自动生成"),
    # tooltips and sentences
    "new_site_tip": ("New school: {seats} seats · opens {year}",
                     "建议新建: {seats} 个学位 · {year} 年开办"),
    "seat_price_saves": ("one more seat here saves {saved} of travel",
                         "此处每增加一个学位, 总通学距离减少 {saved}"),
    "seats_spare": (" (seats spare)", " (学位有余)"),
    "students_change": ("{n} students change school", "{n} 名学生调整学校"),
    # legend
    "legend_utilisation": ("Catchment utilisation", "学区使用率"),
    "no_data_seats": ("no data (e.g. 0 seats)", "无数据 (如学位为 0)"),
    "no_data": ("no data", "无数据"), "legend_shortfall": ("School shortfall", "学位缺口"),
    "none": ("none", "无缺口"),
    "unit_seats": ("seats", "个学位"), "unit_students": ("students", "人"),
    "legend_classes": ("Oversized classes", "大班额"),
    "large_classes": ("Large classes (56–65 students)", "大班额 (56–65 人)"),
    "very_large_classes": ("Very large classes (66+ students)", "超大班额 (66 人及以上)"),
    "circles": ("Circle area ∝ seats. Click a school for details.",
                "圆面积与学位数成正比。点击学校查看详情。"),
    "unlocated": ("{n} school row(s) without location not shown.", "{n} 所学校无坐标, 未显示。"),
    "legend_seat_price": ("Seat price", "学位影子价格"),
    "seat_price_zero": ("0 m: seats spare", "0 m: 学位有余"),
    "seat_price_note": ("Travel one more seat would save, optimal allocation",
                        "每增加一个学位可减少的总通学距离 (最优分配)"),
    "legend_unserved": ("Unserved students", "未获学位学生"),
    "unserved_note": ("Students without a seat per {side} square",
                      "每 {side} 方格内未获学位的学生数"),
    "legend_milestones": ("Milestone years", "关键年份"),
    "milestones_note": ("Schools in the base year, the year demand peaks and the horizon; "
                        "colours and rings as above.",
                        "基年、需求高峰年与规划末年的学校; 颜色与圆环同上。"),
    "legend_new_sites": ("New schools", "建议新建学校"),
    "new_sites_row": ("recommended site, area ∝ seats", "建议选址, 面积与学位数成正比"),
    "legend_developments": ("Developments by completion", "新建住宅交付年份"),
    "completed_by": ("completed by {year}", "{year} 年前已交付"),
    "and_later": ("{year} and later", "{year} 年及以后"),
    "legend_lines": ("Assignment lines", "学生来源连线"),
    "lines_row": ("cell → school, width ∝ √students", "网格至学校, 线宽随学生数增加"),
    "lines_missing": ("Assignment lines: no school {ids}.", "学生来源连线: 未找到学校 {ids}。"),
    "legend_proposed": ("Proposed catchments", "建议学区"),
    "proposed_row": ("cells by assigned school ({method})", "按分配学校合并网格 ({method})"),
    "proposed_split": ("{n} zone(s) in several pieces", "{n} 个学区不连片"),
    "legend_designed": ("Designed catchments", "划片方案"),
    "designed_row": ("changes school against the official zones", "与现行学区不同"),
    # [admission]: chance of a place at the zone's first school
    "legend_admission": ("Chance of the zone's first school", "学区首选学校录取概率"),
    "first_school": ("Zone's first school", "学区首选学校"),
    "chance_first": ("Chance of a place there", "录取概率"),
    "applicants": ("Applicants", "报名人数"),
    "placed_outside": ("Placed outside the zone (expected)", "区外统筹安置 (期望人数)"),
    "odds_low": ("below 50 %", "低于 50 %"), "odds_mid": ("50–80 %", "50–80 %"),
    "odds_good": ("80–95 %", "80–95 %"), "odds_sure": ("95 % or more", "95 % 及以上"),
    "balance_low": ("below 80 % of the district mean", "低于全区均值的 80 %"),
    "balance_mid": ("80–100 % of the mean", "均值的 80–100 %"),
    "balance_high": ("at or above the mean", "不低于均值"),
    "basemap_gaode": ("Gaode", "高德地图"), "basemap_tianditu": ("Tianditu", "天地图"),
    "basemap_tianditu_labels": ("Tianditu labels", "天地图注记"),
}


#: Words of the province page of a batch (``present.maps.province``): key → (English,
#: Chinese); ``{name}`` fields filled in by :func:`province_text`.
PROVINCE_TEXT: dict[str, tuple[str, str]] = {
    "layer": ("{scenario} · seats short", "{scenario} · 学位缺口"),
    "all_levels": ("all levels", "合计"),
    "worst_year": ("worst year", "缺口最大年份"),
    "lead": ("demand / seats · seats short · 56+ share", "需求 / 学位 · 学位缺口 · 大班额占比"),
    "tip": ("{district}: {n} seats short", "{district}: 学位缺口 {n}"),
    "page_title": ("{name} · province map", "{name} · 全省地图"),
    "title": ("{name} · seats short by district", "{name} · 各区县学位缺口"),
    "none": ("none", "无缺口"),
    "band": ("{lo}–{hi} seats", "{lo}–{hi} 个学位"),
    "band_top": ("≥ {lo} seats", "≥ {lo} 个学位"),
    "legend": ("Legend", "图例"),
    "legend_short": ("Seats short, base year", "学位缺口 (基年)"),
    "worst_short": ("Worst by seats short", "学位缺口最大"),
    "worst_large": ("Worst by share of classes of 56+", "大班额占比最高"),
    "failed": ("failed", "失败"),
    "more": ("… {n} more", "… 另有 {n} 个"),
}


def province_text(key: str, lang: str, **fields: object) -> str:
    """A word of the province page in ``lang`` (Chinese for ``"zh"``, else English).

    >>> province_text("tip", "zh", district="东区", n="12"), province_text("none", "en")
    ('东区: 学位缺口 12', 'none')
    """
    text = PROVINCE_TEXT[key][1 if lang == "zh" else 0]
    return text.format(**fields) if fields else text


#: Chinese words of values shown in map popups (school types, sectors, methods).
MAP_VALUES_ZH: dict[str, str] = {
    "nine_year": "九年一贯制", "twelve_year": "十二年一贯制", "public": "公办", "puhui": "普惠",
    "private": "民办", **MAP_METHOD_NAMES_ZH, **LEVEL_NAMES_ZH,
}


def map_text(key: str, lang: str, **fields: object) -> str:
    """A word of the interactive map in ``lang`` (Chinese for ``"zh"``, else English),
    ``fields`` filled in.

    >>> map_text("unlocated", "zh", n=2), map_text("shortfall", "en")
    ('2 所学校无坐标, 未显示。', 'Shortfall')
    """
    text = MAP_TEXT[key][1 if lang == "zh" else 0]
    return text.format(**fields) if fields else text


#: Phrases of ``report.html`` (key → language → text; ``{name}`` fields filled in).
REPORT_TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "School seats report", "zh": "学位供需报告"},
    "scenario": {"en": "Scenario", "zh": "情景"},
    "district": {"en": "District", "zh": "片区数据"},
    "year": {"en": "School year", "zh": "学年"},
    "headline_method": {"en": "Headline method", "zh": "主要分配方法"},
    "cells_schools": {"en": "{cells} cells, {schools} schools",
                      "zh": "{cells} 个网格, {schools} 所学校"},
    "contents": {"en": "Contents", "zh": "目录"},
    # [travel]: which distance every figure uses (one line under the title)
    "travel_euclidean": {"en": "Distances: straight line (travel mode euclidean).",
                         "zh": "距离：直线距离。"},
    "travel_road": {"en": "Distances: {what} distance along the roads (travel mode {mode}) "
                          "for the nearest and optimal methods, the year-by-year figures and the "
                          "reach of new schools; "
                          "official catchments follow their zones. Cells and schools more than "
                          "{conn} m from a road: straight line.",
                    "zh": "距离：沿道路的{what}距离（出行方式 {mode}），用于就近、最优分配方法、"
                          "逐年模拟及新建学校的服务范围；划片按官方学区。距道路超过 {conn} 米的网格"
                          "和学校按直线距离。"},
    "travel_walk": {"en": "walking", "zh": "步行"},
    # [zoning]: designed catchments (划片调整) against the official zones
    "zoning": {"en": "Designed catchments", "zh": "划片方案 (划片调整)"},
    "zoning_intro": {"en": "{n} zones, {pieces} in several pieces, {over} above {max_u} of "
                           "their seats; travel {gap} above its proven lower bound; {unzoned} "
                           "students unzoned ({method}, {travel}, move weight {mw} m).",
                     "zh": "{n} 个学区，{pieces} 个不连片，{over} 个超过学位的 {max_u}；"
                           "出行距离高于可证下界 {gap}；{unzoned} 名学生未能划入学区"
                           "（{method}，{travel}，调整权重 {mw} 米）。"},
    "zoning_measure": {"en": "Measure", "zh": "指标"},
    "zoning_official": {"en": "Official zones", "zh": "现行学区"},
    "zoning_dissolved": {"en": "Optimal allocation dissolved", "zh": "最优分配合并"},
    "zoning_designed": {"en": "Designed zones", "zh": "划片方案"},
    "zoning_over": {"en": "Zones over capacity", "zh": "超出学位的学区"},
    "zoning_moved": {"en": "Students changing school", "zh": "需调整学校的学生"},
    "zoning_trip": {"en": "Mean trip (m)", "zh": "平均距离 (米)"},
    "zoning_pieces": {"en": "Zones in several pieces", "zh": "不连片学区"},
    "zoning_zones": {"en": "Zones", "zh": "学区"},
    "zoning_per_zone": {"en": "Every designed zone", "zh": "各学区"},
    "zoning_beyond": {"en": "Beyond radius", "zh": "超出服务半径"},
    "zoning_tradeoff": {"en": "Travel against students moved (move weight, m)",
                        "zh": "出行距离与调整学生数 (调整权重, 米)"},
    "zoning_tradeoff_chart": {"en": "Travel above the proven bound against students moved",
                              "zh": "出行距离高于下界与调整学生数"},
    "zoning_weight": {"en": "Move weight (m)", "zh": "调整权重 (米)"},
    "zoning_travel_gap": {"en": "Travel above the bound", "zh": "出行距离高于下界"},
    "zoning_bound": {"en": "Proven lower bound", "zh": "可证下界"},
    "zoning_travel": {"en": "Travel (student-km)", "zh": "总出行距离 (人·千米)"},
    "zoning_moved_floor": {"en": "Fewest that must move", "zh": "至少需调整"},
    "zoning_gap_at_moved": {"en": "Above the bound at its moves", "zh": "同等调整下高于下界"},
    # [admission]: entry-grade admission odds (入学派位)
    "admission": {"en": "Admission odds", "zh": "入学派位"},
    "admission_intro": {"en": "{applicants} applicants for {places} entry places; {mechanism}, "
                              "{draws} draws (seed {seed}). Chance of a place at the zone's "
                              "first school {chance} (applicant-weighted); {outside} students "
                              "a year placed outside their zone by the bureau's rule, {extra} m "
                              "farther on average.",
                        "zh": "{applicants} 名报名学生, 起始年级学位 {places} 个; {mechanism}, "
                              "模拟 {draws} 次 (随机种子 {seed})。学区首选学校录取概率 {chance} "
                              "(按报名人数加权); 每年约 {outside} 名学生由教育局在学区外统筹安置,"
                              " 平均多走 {extra} 米。"},
    "admission_mech_lottery": {"en": "priority classes then one lottery (电脑派位)",
                               "zh": "按类别顺序电脑派位"},
    "admission_mech_boston": {"en": "first choices first (志愿优先, immediate acceptance)",
                              "zh": "志愿优先"},
    "admission_mech_da_stb": {"en": "deferred acceptance, one lottery",
                              "zh": "延迟接受 (统一派位号)"},
    "admission_mech_da_mtb": {"en": "deferred acceptance, one lottery per school",
                              "zh": "延迟接受 (各校派位号)"},
    "admission_class": {"en": "Priority class", "zh": "入学类别"},
    "admission_applicants": {"en": "Applicants", "zh": "报名人数"},
    "admission_first": {"en": "Chance of the first school", "zh": "首选学校录取概率"},
    "admission_outside": {"en": "Placed outside the zone", "zh": "区外统筹安置"},
    "admission_outside_p90": {"en": "… in 9 years of 10 at most", "zh": "… 九成年份不超过"},
    "admission_extra": {"en": "Extra distance (m)", "zh": "多走距离 (米)"},
    "admission_no_seat": {"en": "No seat", "zh": "无学位"},
    "admission_top": {"en": "Most applicants per place", "zh": "报名最集中的学校"},
    "admission_places": {"en": "Entry places", "zh": "起始年级学位"},
    "admission_first_applicants": {"en": "First-choice applicants", "zh": "首选报名人数"},
    "admission_ratio": {"en": "Applicants per place", "zh": "报名与学位比"},
    "admission_bureau": {"en": "Placed by the bureau", "zh": "统筹安置入学"},
    "admission_quotas": {"en": "指标生 quotas: {places} places of {n} senior schools split over "
                               "{juniors} junior schools by graduates (admission_quotas.csv).",
                         "zh": "指标生: {n} 所高中的 {places} 个名额按毕业生人数分配到 {juniors} "
                               "所初中 (admission_quotas.csv)。"},
    "admission_files": {"en": "Every cell and class: admission_cells in results.gpkg; every "
                              "school: admission.csv; every class: admission_classes.csv. "
                              "Figures are expected students per year over the draws.",
                        "zh": "各网格、各类别: results.gpkg 的 admission_cells 图层; 各学校: "
                              "admission.csv; 各类别: admission_classes.csv。数字为多次模拟的"
                              "期望人数。"},
    # [plan]: the costed capital plan (一校一策) and balance indicators
    "plan": {"en": "Capital plan", "zh": "建设规划 (一校一策)"},
    "plan_intro": {"en": "{n} projects, {seats} seats, {teachers} teacher posts; construction "
                         "{cost} (10k yuan), plan cost with travel and unseated students {total} "
                         "(10k yuan); proven lower bound {lb}, gap {gap}.",
                   "zh": "共 {n} 个项目, 新增 {seats} 个学位, 需教师编制 {teachers} 名; 建设投资 "
                         "{cost} 万元, 含通学与未获学位成本的总成本 {total} 万元; 已证明下界 {lb}"
                         " 万元, 差距 {gap}。"},
    "plan_project": {"en": "Project", "zh": "项目"},
    "plan_action": {"en": "Action", "zh": "措施"},
    "plan_expand": {"en": "expand", "zh": "改扩建"},
    "plan_new_school": {"en": "new school", "zh": "新建学校"},
    "plan_cost": {"en": "Cost (10k yuan)", "zh": "投资 (万元)"},
    "plan_start": {"en": "Start year", "zh": "开工年份"},
    "plan_teachers": {"en": "Teacher posts", "zh": "教师编制"},
    "plan_budget": {"en": "Budget", "zh": "年度预算"},
    "plan_budget_chart": {"en": "Construction spending by year", "zh": "逐年建设投资"},
    "balance": {"en": "Balance indicators (优质均衡), last planning year",
                "zh": "优质均衡指标 (规划末年)"},
    "cv_classrooms": {"en": "CV classrooms / 100 students", "zh": "百名学生教室数差异系数"},
    "cv_posts": {"en": "CV staff posts / 100 students", "zh": "百名学生教师编制差异系数"},
    "cv_building": {"en": "CV building m² / student", "zh": "生均校舍面积差异系数"},
    "cv_threshold": {"en": "Threshold", "zh": "标准"},
    "cv_pass": {"en": "Result", "zh": "结果"},
    "travel_drive": {"en": "driving", "zh": "驾车"},
    "headline": {"en": "Headline figures", "zh": "主要指标"},
    "norms": {"en": "Norms used", "zh": "采用的规划标准"},
    "charts": {"en": "Charts", "zh": "图表"},
    "chart_forecast": {"en": "Forecast: students needing a seat, seats and seats short by year",
                       "zh": "预测: 各年学位需求、学位数与学位缺口"},
    "band_p10_p90": {"en": "P10–P90 (ensemble)", "zh": "P10–P90 (随机模拟)"},
    "schools": {"en": "Schools shortest of seats", "zh": "学位缺口最大的学校"},
    "all_schools": {"en": "All schools", "zh": "全部学校"},
    "zones": {"en": "Catchments", "zh": "学区 (划片)"},
    "notes": {"en": "Notes", "zh": "说明"},
    "map": {"en": "Map", "zh": "地图"},
    "map_open": {"en": "Open the map on its own: map.html",
                 "zh": "单独打开地图: map.html"},
    "no_map": {"en": "No map in this report.", "zh": "本报告未包含地图。"},
    "level": {"en": "Level", "zh": "学段"},
    "method": {"en": "Method", "zh": "分配方法"},
    "demand": {"en": "Demand (students)", "zh": "需求 (学生数)"},
    "seats": {"en": "Seats", "zh": "学位"},
    "short_at_schools": {"en": "Seats short at schools", "zh": "学校学位缺口"},
    "net_shortfall": {"en": "Net shortfall", "zh": "净缺口"},
    "schools_short": {"en": "Schools short", "zh": "缺位学校"},
    "share_56": {"en": "Classes of 56+", "zh": "大班额 (56人以上) 占比"},
    "share_66": {"en": "Classes of 66+", "zh": "超大班额 (66人以上) 占比"},
    "target": {"en": "target ≤ {pct}", "zh": "目标 ≤ {pct}"},
    "meets": {"en": "meets target", "zh": "达标"},
    "misses": {"en": "above target", "zh": "未达标"},
    "unserved": {"en": "Unserved students", "zh": "未获学位学生"},
    "beyond_radius": {"en": "Beyond service radius", "zh": "超出服务半径"},
    "school": {"en": "School", "zh": "学校"},
    "id": {"en": "ID", "zh": "编号"},
    "shortfall": {"en": "Shortfall", "zh": "学位缺口"},
    "utilisation": {"en": "Utilisation", "zh": "使用率"},
    "avg_class": {"en": "Avg class size", "zh": "平均班额"},
    "classes_56_65": {"en": "Classes of 56–65", "zh": "大班额班数"},
    "classes_66": {"en": "Classes of 66+", "zh": "超大班额班数"},
    "band_56": {"en": " (large)", "zh": " 大班额"},
    "band_66": {"en": " (very large)", "zh": " 超大班额"},
    "seat_price": {"en": "Seat price (m)", "zh": "学位影子价格 (米)"},
    "zone": {"en": "Catchment", "zh": "学区"},
    "zone_schools": {"en": "School(s)", "zh": "学校"},
    "none_short": {"en": "No school is short of seats.", "zh": "没有学校存在学位缺口。"},
    "no_zones": {"en": "The district has no catchments.", "zh": "本片区无学区划分数据。"},
    "no_notes": {"en": "None.", "zh": "无。"},
    "norm": {"en": "Norm", "zh": "标准"},
    "value": {"en": "Value", "zh": "取值"},
    "grade_system": {"en": "Grade system", "zh": "学制"},
    "entry_age": {"en": "Entry age (years)", "zh": "入学年龄 (岁)"},
    "bands": {"en": "Class-size bands (students per class)", "zh": "班额分级 (每班人数)"},
    "ages": {"en": "Ages (years)", "zh": "年龄 (岁)"},
    "class_sizes": {"en": "Norm class size per grade", "zh": "各年级标准班额"},
    "service_radius": {"en": "Service radius (m)", "zh": "服务半径 (米)"},
    "enrolment_rate": {"en": "Enrolment rate", "zh": "入学 (园) 率"},
    "private_share": {"en": "Private share", "zh": "民办学校比例"},
    "standard_classes": {"en": "Standard sizes (classes)", "zh": "标准办学规模 (班)"},
    "max_students": {"en": "Largest school (students)", "zh": "最大办学规模 (学生)"},
    "band_le": {"en": "≤ {a}", "zh": "≤ {a} 人"},
    "band_range": {"en": "{a}–{b}", "zh": "{a}–{b} 人"},
    "band_plus": {"en": "{a}+", "zh": "{a} 人以上"},
    "chart_demand": {"en": "Demand and seats per level; seats short at schools per method",
                     "zh": "各学段需求与学位; 各分配方法下的学校学位缺口"},
    "chart_bands": {"en": "Classes by size band (share of classes)",
                    "zh": "各班额区间的班级占比"},
    "chart_prices": {"en": "Seat prices, optimal allocation (m of travel one more seat saves)",
                     "zh": "学位影子价格 (最优分配; 每增加一个学位减少的通学距离, 米)"},
    "no_prices": {"en": "Every school has seats spare (all seat prices 0).",
                  "zh": "所有学校学位均有富余 (影子价格均为 0)。"},
    "share_of_classes": {"en": "share of classes", "zh": "班级占比"},
    "students": {"en": "students", "zh": "学生数"},
    "metres": {"en": "metres", "zh": "米"},
    "no_cjk": {"en": "", "zh": "未找到中文字体 (如 fonts-noto-cjk), 图表标签使用英文。"},
    "glyphs": {"en": "Some characters of the data could not be drawn in the charts.",
               "zh": "图表中部分字符无法显示。"},
    "generated": {"en": "Written by schoolmap {version}. Figures for school year {year}.",
                  "zh": "由 schoolmap {version} 生成。数据学年: {year}。"},
    "seats_short_sentence": {"en": "{n} of {m} schools short", "zh": "{m} 所中 {n} 所缺位"},
    "more_rows": {"en": "{n} rows", "zh": "共 {n} 行"},
    "forecast_methods": {"en": "Forecast methods compared", "zh": "预测方法比较"},
    "methods_intro": {
        "en": "Cohort component: children of the level's ages needing a seat, carried forward "
              "from the cells' ages (births, migration, new housing). Grade progression: the "
              "enrolment history carried forward grade by grade with smoothed progression "
              "ratios, the entry grade from births six years before × the entry ratio.",
        "zh": "队列要素法: 由各网格分年龄人口推算 (出生、迁移、新建住宅) 的该学段学位需求。"
              "年级升级比率法: 以历年在校生数据, 按平滑后的年级升级比率逐年推算, "
              "起始年级 = 六年前出生人数 × 入学比率。"},
    "cohort_component": {"en": "Cohort component", "zh": "队列要素法"},
    "grade_progression": {"en": "Grade progression", "zh": "年级升级比率法"},
    "difference": {"en": "Difference", "zh": "差值"},
    "difference_share": {"en": "Difference (%)", "zh": "差值 (%)"},
    "new_sites": {"en": "Recommended new schools", "zh": "新建学校建议"},
    "sites_intro": {
        "en": "The fewest new schools of standard sizes (轨 = classes per grade) so that, with "
              "the optimal allocation (least travel, no school over its seats), every student has "
              "a seat within {reach}; each opens in the first school year it is needed. "
              "{n} new schools, {seats} seats; any plan needs at least {lb} "
              "(proven lower bound; gap {gap}).",
        "zh": "在最优分配 (通学距离最短、不超学位) 下, 使每名学生在 {reach} 内都有学位所需的最少"
              "标准规模新建学校 (轨 = 每年级班数), 并给出最早需要投入使用的学年。"
              "共 {n} 所, {seats} 个学位; 任何方案至少需要 {lb} 所 (已证明的下界; 差距 {gap})。"},
    "no_new_sites": {"en": "No new school is needed within the planning years.",
                     "zh": "规划期内无需新建学校。"},
    "site": {"en": "Site", "zh": "地块"},
    "tracks": {"en": "轨 (classes per grade)", "zh": "轨"},
    "classes": {"en": "Classes", "zh": "班数"},
    "open_year": {"en": "Needed from", "zh": "最迟启用学年"},
    "students_served": {"en": "Students served (busiest year)", "zh": "服务学生 (最多年份)"},
    "mean_distance": {"en": "Mean trip (m)", "zh": "平均距离 (米)"},
    "before_after": {"en": "Before and after the new schools, by year",
                     "zh": "新建学校前后对比 (逐年)"},
    "unserved_before": {"en": "Without a seat within reach, before", "zh": "可达范围内无学位 (前)"},
    "unserved_after": {"en": "… after", "zh": "… (后)"},
    "short_before": {"en": "Seats short, nearest school, before",
                     "zh": "就近入学学位缺口 (前)"},
    "short_after": {"en": "… after", "zh": "… (后)"},
    "share56_before": {"en": "Classes of 56+, nearest school, before",
                       "zh": "就近入学大班额占比 (前)"},
    "share56_after": {"en": "… after", "zh": "… (后)"},
    "new_seats_open": {"en": "New seats open", "zh": "新增学位"},
}


#: Phrases of the command line's run summary (key → (English, Chinese)).
#: Words of the summary printed by ``schoolmap run`` (English, Chinese).
CLI_WORDS: dict[str, tuple[str, str]] = {
    "cells": ("{cells} cells, {schools} schools, school year {year}",
              "{cells} 个网格, {schools} 所学校, {year} 学年"),
    "totals": ("District totals (学位 seats, 缺口 shortfall)", "全区合计"),
    "level": ("level", "学段"),
    "method": ("method", "分配方法"),
    "demand": ("demand", "需求"),
    "seats": ("seats", "学位"),
    "short at schools": ("short at schools", "学校学位缺口"),
    "schools short": ("schools short", "缺位学校"),
    "classes 56+": ("classes 56+", "大班额占比"),
    "classes 66+": ("classes 66+", "超大班额占比"),
    "beyond radius": ("beyond radius", "超出服务半径"),
    "unserved": ("unserved", "未获学位"),
    "by area": ("By area ({method})", "按区域 ({method})"),
    "area": ("area", "区域"),
    "utilisation": ("utilisation", "使用率"),
    "note": ("note", "说明"),
    "new schools": ("Recommended new schools (siting: {n} new, proven minimum {lb})",
                    "新建学校建议 (共 {n} 所, 已证明至少需要 {lb} 所)"),
    "site": ("site", "地块"),
    "size": ("轨 / classes", "轨 / 班"),
    "open year": ("needed from", "最迟启用"),
    "served": ("students served", "服务学生"),
    # schoolmap compare: the table printed ({x}: the scenario's letter) and the chart
    "compare year": ("year", "学年"),
    "compare demand": ("demand {x}", "需求 {x}"),
    "compare short": ("short {x}", "缺口 {x}"),
    "compare diff": ("short {x} − A", "缺口 {x} − A"),
    "compare axis": ("seats short at schools", "学校学位缺口"),
    "compare none": ("no common levels with a forecast (set horizon > 0 in every scenario)",
                     "各方案没有共同的预测学段 (请在每个方案中设 horizon > 0)"),
    "compare written": ("Comparison written to {folder}", "方案对比已写入 {folder}"),
}


#: Chinese headers of the output tables' columns (``results.xlsx`` under ``lang = "zh"``);
#: English runs show the column names themselves. ``students_gN`` → 第N年级学生 is added by
#: :func:`column_header`.
COLUMN_NAMES_ZH: dict[str, str] = {
    "school_id": "学校编号", "name": "名称", "level": "学段", "method": "分配方法",
    "school_type": "学校类型", "sector": "办学性质", "area_type": "片区类型", "seats": "学位数",
    "demand": "学生需求", "shortfall": "学位缺口", "surplus": "富余学位",
    "utilisation": "学位使用率",
    "classes": "班级数", "classes_needed": "按标准班额所需班级数", "avg_class_size": "平均班额",
    "max_class_size": "最大班额", "n_classes_le_45": "45人及以下班级数",
    "n_classes_46_55": "46-55人班级数", "n_classes_56_65": "56-65人班级数 (大班额)",
    "n_classes_66_plus": "66人及以上班级数 (超大班额)", "n_classes_over_norm": "超标准班额班级数",
    "n_classes_56_plus": "56人及以上班级数", "share_classes_56_plus": "大班额占比",
    "share_classes_66_plus": "超大班额占比", "students_beyond_radius": "超出服务半径学生数",
    "share_beyond_radius": "超出服务半径学生占比", "mean_distance_m": "平均距离 (米)",
    "seat_price_m": "学位影子价格 (米)", "zone_id": "学区编号", "n_schools": "学校数",
    "assigned": "已分配学生", "unassigned": "未分配学生", "net_shortfall": "净缺口",
    "shortfall_at_schools": "学校学位缺口合计", "surplus_at_schools": "学校富余学位合计",
    "n_schools_short": "缺位学校数", "target_share_56_plus": "大班额目标占比",
    "target_share_66_plus": "超大班额目标占比", "seats_public_puhui": "公办及普惠学位",
    "puhui_coverage": "普惠覆盖率", "public_share_of_seats": "公办学位占比",
    "year": "学年", "enrolled": "在校学生", "demand_puhui": "普惠需求", "demand_other": "其他需求",
    "puhui_seats_short": "普惠学位缺口", "students": "学生数", "demand_p10": "需求 P10",
    "demand_p50": "需求 P50", "demand_p90": "需求 P90", "net_shortfall_p10": "净缺口 P10",
    "net_shortfall_p50": "净缺口 P50", "net_shortfall_p90": "净缺口 P90",
    "cohort_component": "队列要素法", "grade_progression": "年级升级法", "difference": "差值",
    "difference_share": "差值占比", "site_id": "选址编号", "tracks": "轨数",
    "open_year": "开办年份",
    "close_year": "停办年份", "students_served": "服务学生数", "busiest_year": "高峰年份",
    "source": "来源", "reason": "理由", "x": "X 坐标 (米)", "y": "Y 坐标 (米)",
    "students_changing": "需转学学生", "n_cells": "单元数", "n_pieces": "块数",
    "n_parts": "部分数", "area_km2": "面积 (平方公里)", "seats_existing": "现有学位",
    "seats_new": "新增学位", "new_schools_open": "已开办新校", "unserved_before": "规划前未获学位",
    "unserved_after": "规划后未获学位", "beyond_radius_before": "规划前超半径",
    "beyond_radius_after": "规划后超半径", "mean_distance_before_m": "规划前平均距离 (米)",
    "mean_distance_after_m": "规划后平均距离 (米)", "short_nearest_before": "规划前就近缺位",
    "short_nearest_after": "规划后就近缺位", "share_56_plus_before": "规划前大班额占比",
    "share_56_plus_after": "规划后大班额占比", "scenario": "方案",
    "shortfall_vs_reference": "缺口差 (相对第一个方案)",
    "entry_places": "起始年级学位", "first_choice_applicants": "首选报名人数",
    "applicants_per_place": "报名与学位比", "chance_first": "首选学校录取概率",
    "placed_from_zone": "学区内录取 (期望)", "placed_first": "首选录取 (期望)",
    "placed_by_bureau": "统筹安置 (期望)", "places_left": "剩余学位 (期望)", "class": "入学类别",
    "applicants": "报名人数", "first_choice": "首选录取 (期望)",
    "placed_listed": "学区内录取 (期望)",
    "placed_outside": "区外统筹安置 (期望)", "outside_p90": "区外统筹安置 P90",
    "extra_distance_m": "多走距离 (米)", "no_seat": "无学位 (期望)", "senior_school": "高中",
    "quota": "指标生名额", "junior_school": "初中", "graduates": "毕业生", "places": "名额",
}

#: Sheet names of ``results.xlsx`` per language (file stem → sheet).
SHEET_NAMES: dict[str, dict[str, str]] = {
    "zh": {"district": "全区", "schools": "学校", "zones": "学区",
           "proposed_catchments": "建议学区",
           "forecast": "预测", "forecast_schools": "分校预测", "forecast_ensemble": "预测区间",
           "forecast_methods": "预测方法对比", "new_sites": "建议新建学校",
           "siting_years": "选址逐年", "admission": "入学派位", "admission_classes": "入学类别",
           "admission_quotas": "指标生名额",
           "compare": "方案对比"},
    "en": {},
}


def column_header(column: str, lang: str) -> str:
    """The header shown for an output column in ``lang`` (the name itself in English).

    >>> column_header("shortfall", "zh"), column_header("students_g3", "zh")
    ('学位缺口', '第3年级学生')
    >>> column_header("shortfall", "en")
    'shortfall'
    """
    if lang != "zh":
        return column
    if column.startswith("students_g") and column[10:].isdigit():
        return f"第{column[10:]}年级学生"
    return COLUMN_NAMES_ZH.get(column, column)
