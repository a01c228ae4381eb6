"""QGIS styles of ``results.gpkg`` (issue 18): one QML document per layer, stored in the
GeoPackage's ``layer_styles`` table (:func:`schoolmap.io.files.write_gpkg`), so QGIS opens the
layers coloured as the map colours them: catchments (``zones``) by utilisation, schools by
seats short. The colours and classes are the interactive map's (:mod:`.style`); the class
labels are in the run's language."""

from __future__ import annotations

import html
from collections.abc import Sequence

from schoolmap.i18n import map_text
from schoolmap.present.maps.style import (
    SHORTFALL_BREAKS,
    SHORTFALL_COLOURS,
    SHORTFALL_LABELS,
    SHORTFALL_NONE_COLOUR,
    UTILISATION_BREAKS,
    UTILISATION_COLOURS,
    UTILISATION_LABELS,
)

__all__ = ["qgis_styles"]

#: Upper bound of the last class of a graduated style (no utilisation or shortfall is larger).
_TOP = 1e12

#: QGIS version written into the QML header (the format QGIS 3.16 and later read).
_QGIS_VERSION = "3.28.0"


def qgis_styles(lang: str = "en") -> dict[str, tuple[str, str]]:
    """The QML styles of the layers of ``results.gpkg``: layer → (style name, QML).

    ``zones``: catchment polygons filled by utilisation (demand / seats; the map's seven
    classes, blue under-used to red over-full); ``schools``: points filled by seats short
    (none green, 1–49, 50–199, ≥ 200 seats orange to red). Labels in ``lang``.

    Examples
    --------
    >>> styles = qgis_styles("zh")
    >>> sorted(styles), styles["schools"][0]
    (['schools', 'zones'], '学位缺口')
    >>> 'attr="utilisation"' in styles["zones"][1]
    True
    """
    bounds = (0.0, *UTILISATION_BREAKS, _TOP)
    zones = _graduated(
        "utilisation", "fill",
        [(lo, hi, html.unescape(label), colour) for lo, hi, label, colour in zip(
            bounds[:-1], bounds[1:], UTILISATION_LABELS, UTILISATION_COLOURS, strict=True)])
    seats = map_text("unit_seats", lang)
    edges = (0.5, *(b - 0.5 for b in SHORTFALL_BREAKS), _TOP)
    schools = _graduated(
        "shortfall", "marker",
        [(0.0, 0.5, map_text("none", lang), SHORTFALL_NONE_COLOUR)] + [
            (lo, hi, f"{label} {seats}", colour) for lo, hi, label, colour in zip(
                edges[:-1], edges[1:], SHORTFALL_LABELS, SHORTFALL_COLOURS, strict=True)])
    return {"zones": (map_text("legend_utilisation", lang), zones),
            "schools": (map_text("legend_shortfall", lang), schools)}


def _rgba(colour: str) -> str:
    """``#rrggbb`` as QGIS writes colours: ``r,g,b,255``."""
    return ",".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5)) + ",255"


def _options(values: dict[str, str]) -> str:
    rows = "".join(f'<Option name="{k}" type="QString" value="{html.escape(v)}"/>'
                   for k, v in values.items())
    return f'<Option type="Map">{rows}</Option>'


def _symbol(index: int, kind: str, colour: str) -> str:
    """One symbol of a graduated style: a filled polygon or a circle marker."""
    if kind == "fill":
        layer = ("SimpleFill", {"color": _rgba(colour), "outline_color": "90,90,90,255",
                                "outline_style": "solid", "outline_width": "0.3",
                                "outline_width_unit": "MM", "style": "solid"})
    else:
        layer = ("SimpleMarker", {"color": _rgba(colour), "name": "circle", "size": "3",
                                  "size_unit": "MM", "outline_color": "50,50,50,255",
                                  "outline_style": "solid", "outline_width": "0.3",
                                  "outline_width_unit": "MM"})
    return (f'<symbol type="{kind}" name="{index}" alpha="1" clip_to_extent="1" '
            f'force_rhr="0"><layer class="{layer[0]}" enabled="1" locked="0" pass="0">'
            f"{_options(layer[1])}</layer></symbol>")


def _graduated(attribute: str, kind: str,
               classes: Sequence[tuple[float, float, str, str]]) -> str:
    """A QML document: a graduated renderer on ``attribute`` with ``classes``
    (lower, upper, label, colour) and their symbols (``fill`` or ``marker``)."""
    ranges = "".join(
        f'<range lower="{lo:.6f}" upper="{hi:.6f}" symbol="{i}" label="{html.escape(label)}" '
        f'render="true"/>' for i, (lo, hi, label, _) in enumerate(classes))
    symbols = "".join(_symbol(i, kind, colour) for i, (*_, colour) in enumerate(classes))
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="{_QGIS_VERSION}" styleCategories="Symbology">'
            f'<renderer-v2 type="graduatedSymbol" attr="{attribute}" '
            'graduatedMethod="GraduatedColor" symbollevels="0" enableorderby="0" '
            f'forceraster="0"><ranges>{ranges}</ranges><symbols>{symbols}</symbols>'
            "</renderer-v2><layerGeometryType>"
            f"{2 if kind == 'fill' else 0}</layerGeometryType></qgis>\n")
