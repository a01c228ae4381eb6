"""Writing files safely: GeoPackage layers reproducibly (fixed timestamps), and whole output
folders atomically (written aside, then moved into place)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pyogrio

from schoolmap.errors import SchoolmapError

__all__ = ["atomic_folder", "write_gpkg"]

_FIXED_DATE = "2000-01-01T00:00:00Z"  # GeoPackage timestamps: fixed, so files are reproducible


def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Write GeoDataFrames as layers of one GeoPackage, reproducibly (fixed timestamps)."""
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_DATE})
    try:
        for name, frame in layers.items():
            frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


@contextmanager
def atomic_folder(folder: str | os.PathLike[str], *, marker: str,
                  kind: str = "schoolmap output") -> Iterator[Path]:
    """Write a folder all at once: yield a temporary sibling, then move it into place.

    An existing ``folder`` is replaced only if it is empty or holds ``marker`` (the file an
    earlier run of the same kind wrote); anything else is refused, to protect the user's files.
    If the body raises, the temporary folder is removed and ``folder`` is left as it was.

    Parameters
    ----------
    folder : path-like
        The folder to write.
    marker : str
        File name that identifies an earlier output of this kind (e.g. ``summary.json``).
    kind : str
        Words for the error message (``"schoolmap output"``, ``"schoolmap batch"``).
    """
    target = Path(folder).resolve()
    if target.exists() and (not target.is_dir() or (
            any(target.iterdir()) and not (target / marker).exists())):
        raise SchoolmapError(f"{target} exists and is not a {kind} folder; choose another "
                             "--out folder (schoolmap only replaces its own outputs)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        backup = None
        if target.exists():
            backup = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(backup)
        tmp.rename(target)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
