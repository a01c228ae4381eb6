"""Importers: turn a school district's own planning files into a schoolmap district.

Each importer reads one district's raw files as published, checks them, reprojects them into
one metric CRS, writes a GeoPackage with the layers of ``docs/data-model.md`` (atomically and
reproducibly) and says what it had to decide on the way.

========  ==============================================  =======================================
name      district                                        entry point
========  ==============================================  =======================================
durham    Durham Public Schools, North Carolina (USA)     :func:`schoolmap.importers.durham.
                                                          import_durham`
========  ==============================================  =======================================

Run one with ``schoolmap import NAME SRC_DIR OUT_DIR``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["IMPORTERS", "run_importer"]


def _durham(src: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    from schoolmap.importers.durham import import_durham

    return import_durham(src, out)


#: Importer name → function ``(src_dir, out_dir) -> path of the district written``.
IMPORTERS: dict[str, Callable[[str | os.PathLike[str], str | os.PathLike[str]], Path]] = {
    "durham": _durham,
}


def run_importer(name: str, src: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Run the importer ``name`` (see :data:`IMPORTERS`) from ``src`` into ``out``."""
    if name not in IMPORTERS:
        from schoolmap.errors import ValidationError

        raise ValidationError([f"no importer {name!r}; available: {', '.join(IMPORTERS)}"],
                              "import")
    return IMPORTERS[name](src, out)
