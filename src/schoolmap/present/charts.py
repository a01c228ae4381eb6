"""The report's charts: matplotlib PNGs (demand against seats per level and method, class-size
bands, the forecast, seat prices) drawn on their own Agg canvas, with a CJK font when one is
installed (Debian: ``fonts-noto-cjk``); without one, English labels and a note in the report.

The chart functions take the report being written (its words: ``t``, ``level``, ``method``;
its run: ``result``, ``sc``, ``headline``, ``totals()``) and return PNG bytes.
"""

from __future__ import annotations

import base64
import functools
import io
import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BAND_COLOURS", "CJK_FONTS", "TOP_N_PRICES", "chart_section", "cjk_font",
           "register_cjk_fonts"]

#: Schools shown per level in the seat-price chart (highest prices).
TOP_N_PRICES = 12

#: Font families tried, in order, for Chinese chart labels (any family with "CJK" follows).
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "SimHei", "Noto Sans CJK JP",
)

BAND_COLOURS = ("#4daf4a", "#ffd92f", "#fc8d62", "#b2182b")


def chart_section(report: Any) -> str:
    font = cjk_font() if report.lang == "zh" else None
    chart_lang = report.lang
    if report.lang == "zh" and font is None:
        chart_lang = "en"
        report.extra_notes.append(report.t("no_cjk"))
    out = []
    with warnings.catch_warnings(record=True) as caught, font_context(font):
        warnings.simplefilter("always")
        out.append(chart_block(report, "chart_demand", demand_chart(report, chart_lang, font)))
        out.append(chart_block(report, "chart_bands", bands_chart(report, chart_lang, font)))
        if report.result.simulations:
            out.append(chart_block(report, "chart_forecast",
                                         forecast_chart(report, chart_lang, font)))
        if "optimal" in report.sc.methods:
            png = prices_chart(report, chart_lang, font)
            out.append(chart_block(report, "chart_prices", png) if png else
                       f"<h3>{report.t('chart_prices')}</h3>"
                       f'<p class="note">{report.t("no_prices")}</p>')
    if any("Glyph" in str(w.message) for w in caught):
        report.extra_notes.append(report.t("glyphs"))
    return "".join(out)

def chart_block(report: Any, key: str, png: bytes) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return (f"<h3>{report.t(key)}</h3>"
            f'<img class="chart" alt="{report.t(key)}" src="data:image/png;base64,{b64}">')

def demand_chart(report: Any, lang: str, font: str | None) -> bytes:
    tot = report.totals()
    levels = list(report.sc.levels)
    methods = list(report.sc.methods)
    fig, ax = figure(width=8.0, height=3.6)
    x = np.arange(len(levels))
    n_bars = 2 + len(methods)
    w = 0.8 / n_bars

    def per_level(column: str, method: str | None = None) -> np.ndarray:
        rows = tot[tot["method"] == (method or report.headline)].set_index("level")
        return np.array([float(rows[column].get(lv, np.nan)) for lv in levels])

    ax.bar(x - 0.4 + w / 2, per_level("seats"), w, label=report.t("seats", lang),
           color="#4575b4")
    ax.bar(x - 0.4 + 1.5 * w, per_level("demand"), w, label=report.t("demand", lang),
           color="#fdae61")
    reds = ["#d73027", "#a50026", "#f46d43", "#67001f"]
    for k, m in enumerate(methods):
        ax.bar(x - 0.4 + (2.5 + k) * w, per_level("shortfall_at_schools", m), w,
               label=f"{report.t('short_at_schools', lang)} · {report.method(m, lang)}",
               color=reds[k % len(reds)])
    ax.set_xticks(x, [mpl_text(report.level(lv, lang)) for lv in levels])
    ax.set_ylabel(report.t("students", lang))
    ax.yaxis.set_major_formatter(thousands())
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.spines[["top", "right"]].set_visible(False)
    return png_bytes(fig)

def bands_chart(report: Any, lang: str, font: str | None) -> bytes:
    s = report.result.schools
    b = report.sc.norms.bands
    cols = ("n_classes_le_45", "n_classes_46_55", "n_classes_56_65", "n_classes_66_plus")
    labels = [report.t("band_le", lang, a=b.normal_max),
              report.t("band_range", lang, a=b.normal_max + 1, b=b.large_max),
              report.t("band_range", lang, a=b.large_max + 1, b=b.oversized_max)
              + report.t("band_56", lang),
              report.t("band_plus", lang, a=b.oversized_max + 1) + report.t("band_66", lang)]
    rows, names = [], []
    for lv in report.sc.levels:
        for m in report.sc.methods:
            part = s[(s["level"] == lv) & (s["method"] == m)] if len(s) else s
            counts = np.array([float(part[c].sum()) if len(part) else 0.0 for c in cols])
            total = counts.sum()
            rows.append(counts / total if total > 0 else counts)
            names.append(f"{report.level(lv, lang)} · {report.method(m, lang)}")
    shares = np.array(rows).reshape(-1, 4)
    fig, ax = figure(width=8.0, height=0.9 + 0.32 * max(len(names), 1))
    y = np.arange(len(names))[::-1]
    left = np.zeros(len(names))
    for k in range(4):
        ax.barh(y, shares[:, k], left=left, color=BAND_COLOURS[k], label=mpl_text(labels[k]),
                height=0.7)
        left += shares[:, k]
    ax.axvline(1 - b.target_share_56_plus, color="#555", lw=0.8, ls="--")
    ax.set_yticks(y, [mpl_text(n) for n in names], fontsize=8)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(percent())
    ax.set_xlabel(report.t("share_of_classes", lang))
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.spines[["top", "right"]].set_visible(False)
    return png_bytes(fig)

def forecast_chart(report: Any, lang: str, font: str | None) -> bytes:
    """One panel per level: demand and seats by year, seats short at schools as bars."""
    sims = report.result.simulations
    levels = [lv for lv in report.sc.levels if lv in sims]
    ens = report.result.ensemble
    fig, _ = figure(width=8.0, height=2.4 * len(levels))
    fig.clf()
    for k, lv in enumerate(levels):
        ax = fig.add_subplot(len(levels), 1, k + 1)
        d = sims[lv].district
        years = d["year"].to_numpy()
        if ens is not None and len(ens):
            e = ens[ens["level"] == lv]
            ax.fill_between(e["year"], e["demand_p10"], e["demand_p90"], color="#fdae61",
                            alpha=0.35, lw=0, label=report.t("band_p10_p90", lang))
        ax.plot(years, d["demand"], color="#e66101", lw=2, label=report.t("demand", lang))
        ax.step(years, d["seats"], where="mid", color="#4575b4", lw=2,
                label=report.t("seats", lang))
        ax.bar(years, d["shortfall_at_schools"], color="#d73027", width=0.6,
               label=report.t("short_at_schools", lang))
        ax.set_title(mpl_text(report.level(lv, lang)), fontsize=9, loc="left")
        ax.yaxis.set_major_formatter(thousands())
        ax.set_xticks(years[::max(1, len(years) // 8)])
        ax.spines[["top", "right"]].set_visible(False)
        if k == 0:
            ax.legend(fontsize=8, frameon=False, loc="upper left",
                      bbox_to_anchor=(1.0, 1.0))
    return png_bytes(fig)

def prices_chart(report: Any, lang: str, font: str | None) -> bytes | None:
    s = report.result.schools
    if len(s) == 0 or "seat_price_m" not in s.columns:
        return None
    opt = s[(s["method"] == "optimal") & (s["seat_price_m"] >= 0.5)]
    if len(opt) == 0:
        return None
    picked = []
    for lv in report.sc.levels:
        part = opt[opt["level"] == lv].sort_values(["seat_price_m", "school_id"],
                                                   ascending=[False, True])
        picked.append(part.head(TOP_N_PRICES))
    top = pd.concat(picked)
    fig, ax = figure(width=8.0, height=0.9 + 0.24 * len(top))
    y = np.arange(len(top))[::-1]
    palette = {"kindergarten": "#fdae61", "primary": "#d73027", "junior": "#4575b4",
               "senior": "#1a9850"}
    colours = [palette.get(lv, "#777777") for lv in top["level"]]
    ax.barh(y, top["seat_price_m"].to_numpy(dtype=float), color=colours, height=0.7)
    use_names = not (lang == "en" and font is None and report.lang == "zh")
    labels = [
        mpl_text(f"{(r.name if use_names else r.school_id)} ({report.level(r.level, lang)})")
        for r in top.itertuples()]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(report.t("metres", lang))
    ax.xaxis.set_major_formatter(thousands())
    ax.spines[["top", "right"]].set_visible(False)
    return png_bytes(fig)


#: Folders searched for CJK font files (Debian/Ubuntu, other Linux, macOS, Windows).
FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts",
    "/System/Library/Fonts", "/Library/Fonts", "C:/Windows/Fonts",
)

#: File names of CJK fonts (Noto CJK, Source Han, WenQuanYi, YaHei, PingFang, SimHei).
CJK_FONT_FILES: tuple[str, ...] = (
    "NotoSansCJK*", "NotoSansSC*", "SourceHanSans*", "wqy-*", "msyh*", "PingFang*", "simhei*",
)


def register_cjk_fonts() -> list[str]:
    """Register the CJK font files installed on this machine with matplotlib; their paths.

    matplotlib's font list is a cache written the first time matplotlib ran, so a font
    installed after (``apt-get install fonts-noto-cjk``) is not in it and never would be: the
    files are looked for in :data:`FONT_DIRS` by name (:data:`CJK_FONT_FILES`, regular
    weights first) and added with ``fontManager.addfont``.
    """
    from pathlib import Path

    from matplotlib import font_manager

    found: list[str] = []
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for pattern in CJK_FONT_FILES:
            for path in sorted(root.rglob(pattern)):
                if path.suffix.lower() not in (".ttc", ".otf", ".ttf") or "Bold" in path.name:
                    continue
                try:
                    font_manager.fontManager.addfont(str(path))
                except (OSError, RuntimeError, ValueError):  # unreadable file: try the next
                    continue
                found.append(str(path))
    return found


@functools.cache
def cjk_font() -> str | None:
    """Name of an installed font family with Chinese glyphs, or None (font files found
    directly by :func:`register_cjk_fonts`, whatever matplotlib's cache holds)."""
    from matplotlib import font_manager

    register_cjk_fonts()
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    others = sorted(n for n in names if "CJK" in n and "Mono" not in n)
    return others[0] if others else None


def figure(width: float, height: float) -> tuple[Any, Any]:
    """A figure on its own Agg canvas (no pyplot state) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def png_bytes(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def font_context(font: str | None) -> Any:
    """rc settings putting ``font`` (a CJK family) before DejaVu Sans."""
    import matplotlib

    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    return matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": family})


def mpl_text(text: str) -> str:
    """Text shown literally by matplotlib (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)
