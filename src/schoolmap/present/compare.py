"""The chart of ``schoolmap compare``: seats short at schools by year, one line per scenario,
one panel per level (matplotlib on its own Agg canvas, Chinese labels with a CJK font)."""

from __future__ import annotations

import pandas as pd

from schoolmap.i18n import CLI_WORDS, LEVEL_NAMES_ZH
from schoolmap.present.charts import (
    cjk_font,
    figure,
    font_context,
    mpl_text,
    png_bytes,
    thousands,
)

__all__ = ["compare_chart"]

#: Line colours of the scenarios, in order (ColorBrewer Dark2); the reference is drawn thicker.
SCENARIO_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                    "#a6761d", "#666666")


def compare_chart(table: pd.DataFrame, lang: str) -> bytes:
    """PNG of :func:`schoolmap.run.compare.compare_table`'s seats short at schools by year.

    Parameters
    ----------
    table : pandas.DataFrame
        ``level``, ``year``, ``scenario``, ``shortfall_at_schools``.
    lang : {"en", "zh"}
        Language of the titles and axis (Chinese needs a CJK font; without one the labels
        fall back to English).

    Returns
    -------
    bytes
        The PNG (same table, same bytes).
    """
    font = cjk_font() if lang == "zh" else None
    shown = lang if font is not None else "en"
    levels = list(dict.fromkeys(table["level"]))
    scenarios = list(dict.fromkeys(table["scenario"]))
    with font_context(font):
        fig, _ = figure(width=8.0, height=2.4 * max(1, len(levels)) + 0.4)
        fig.clf()
        for k, level in enumerate(levels):
            ax = fig.add_subplot(max(1, len(levels)), 1, k + 1)
            rows = table[table["level"] == level]
            for j, name in enumerate(scenarios):
                line = rows[rows["scenario"] == name]
                ax.plot(line["year"], line["shortfall_at_schools"], marker="o", ms=3,
                        lw=2.4 if j == 0 else 1.6,
                        color=SCENARIO_COLOURS[j % len(SCENARIO_COLOURS)], label=mpl_text(name))
            title = LEVEL_NAMES_ZH.get(level, level) if shown == "zh" else level
            ax.set_title(mpl_text(title), fontsize=9, loc="left")
            ax.set_ylabel(CLI_WORDS["compare axis"][1 if shown == "zh" else 0], fontsize=8)
            ax.yaxis.set_major_formatter(thousands())
            years = sorted(set(rows["year"]))
            ax.set_xticks(years[::max(1, len(years) // 8)])
            ax.spines[["top", "right"]].set_visible(False)
            if k == 0:
                ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return png_bytes(fig)
