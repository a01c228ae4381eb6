"""Writing files safely: GeoPackage layers reproducibly (fixed timestamps), and whole output
folders atomically (written aside, then moved into place) under a manifest of what schoolmap
wrote, so nothing schoolmap did not write is ever deleted."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pyogrio

from schoolmap.errors import SchoolmapError

__all__ = ["MANIFEST", "OutputFolderError", "atomic_folder", "check_output_folder",
           "write_gpkg"]

_FIXED_DATE = "2000-01-01T00:00:00Z"  # GeoPackage timestamps: fixed, so files are reproducible
MANIFEST = ".schoolmap-manifest.json"  # in every folder schoolmap writes: what it wrote
_PART = MANIFEST + ".part"              # the manifest while it is written
_MARK = "schoolmap output folder"      # the manifest's "schoolmap" value


class OutputFolderError(SchoolmapError):
    """An output folder that schoolmap will not replace: it holds files schoolmap did not write.

    The message names the folder, the files that are not schoolmap's and what to do (choose
    another ``--out`` folder, or move those files away).
    """


def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: Path,
               styles: Mapping[str, tuple[str, str]] | None = None,
               views: Mapping[str, tuple[str, Mapping[str, str]]] | None = None) -> None:
    """Write GeoDataFrames as layers of one GeoPackage, reproducibly (fixed timestamps).

    Parameters
    ----------
    layers : dict
        Layer name → GeoDataFrame.
    path : Path
        The ``.gpkg`` file to write.
    styles : mapping, optional
        Layer name → (style name, QML document): stored in the GeoPackage's ``layer_styles``
        table as the layer's default style, the way QGIS stores them, so QGIS opens the
        layer styled. Styles of layers (or views) not written are left out.
    views : mapping, optional
        View name → (layer, {column: value}): a feature view of the layer's rows whose
        columns hold those values (e.g. ``schools_primary_optimal`` → ``("schools",
        {"level": "primary", "method": "optimal"})``), registered in ``gpkg_contents`` and
        ``gpkg_geometry_columns`` so QGIS lists it as a layer of its own. Views of layers not
        written, or that would hold no row, are left out.
    """
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_DATE})
    try:
        for name, frame in layers.items():
            frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    names = set(layers)
    if views:
        names |= _write_views(path, {k: v for k, v in views.items() if v[0] in layers})
    if styles:
        _write_styles(path, {k: v for k, v in styles.items() if k in names})


def _write_views(path: Path, views: Mapping[str, tuple[str, Mapping[str, str]]]) -> set[str]:
    """Create and register the feature views of :func:`write_gpkg`; the names written."""
    written: set[str] = set()
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        for view, (layer, where) in views.items():
            literal = " AND ".join(f'"{column}" = ' + "'" + str(value).replace("'", "''") + "'"
                                   for column, value in where.items())
            if not db.execute(f'SELECT 1 FROM "{layer}" WHERE {literal} LIMIT 1').fetchone():
                continue
            db.execute(f'CREATE VIEW "{view}" AS SELECT * FROM "{layer}" WHERE {literal}')
            column, kind, srs, z, m = db.execute(
                "SELECT column_name, geometry_type_name, srs_id, z, m FROM "
                "gpkg_geometry_columns WHERE table_name = ?", (layer,)).fetchone()
            bounds = db.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents "
                                "WHERE table_name = ?", (layer,)).fetchone()
            db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, "
                       "description, last_change, min_x, min_y, max_x, max_y, srs_id) "
                       "VALUES (?, 'features', ?, '', ?, ?, ?, ?, ?, ?)",
                       (view, view, _FIXED_DATE.replace("T00:00:00Z", "T00:00:00.000Z"),
                        *bounds, srs))
            db.execute("INSERT INTO gpkg_geometry_columns (table_name, column_name, "
                       "geometry_type_name, srs_id, z, m) VALUES (?, ?, ?, ?, ?, ?)",
                       (view, column, kind, srs, z, m))
            written.add(view)
    return written


#: The ``layer_styles`` table as QGIS creates it in a GeoPackage.
_LAYER_STYLES = """CREATE TABLE layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
  styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT CURRENT_TIMESTAMP)"""


def _write_styles(path: Path, styles: Mapping[str, tuple[str, str]]) -> None:
    """Store QML styles in ``path``'s ``layer_styles`` table (registered in gpkg_contents as
    an attributes table), every date fixed."""
    if not styles:
        return
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        geometry = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        db.execute(_LAYER_STYLES)
        db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                   "last_change, srs_id) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                   "'', ?, 0)", (_FIXED_DATE.replace("T00:00:00Z", "T00:00:00.000Z"),))
        for layer, (name, qml) in styles.items():
            db.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                       "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, "
                       "description, owner, ui, update_time) VALUES "
                       "('', '', ?, ?, ?, ?, '', 1, ?, '', NULL, ?)",
                       (layer, geometry.get(layer, "geom"), name, qml, f"schoolmap: {name}",
                        _FIXED_DATE))


def _checkpoint(name: str) -> None:
    """A named moment of :func:`atomic_folder` (``written``, ``manifest``, ``aside``,
    ``swapped``); does nothing. Tests replace it to pause a run there and kill it."""


def _files(folder: Path) -> list[str]:
    """Every file under ``folder`` (relative POSIX paths, sorted), the manifest left out."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if not p.is_dir() and p.name != MANIFEST)


def _read_manifest(folder: Path) -> dict | None:
    """The manifest schoolmap wrote into ``folder``, or None if there is none (or not ours)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schoolmap") != _MARK:
        return None
    return data


def _foreign(folder: Path) -> list[str]:
    """Files in ``folder`` that schoolmap did not write (all of them if it has no manifest)."""
    manifest = _read_manifest(folder)
    own = set(manifest.get("files", ())) if manifest else set()
    return [f for f in _files(folder) if f not in own]


def _write_manifest(folder: Path, kind: str, state: str) -> None:
    """Write the manifest whole or not at all (a killed run never leaves half a manifest)."""
    data = {"schoolmap": _MARK, "kind": kind, "state": state, "pid": os.getpid(),
            "files": _files(folder) if state == "complete" else []}
    part = folder / _PART
    part.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(part, folder / MANIFEST)


def _holds_no_file(folder: Path) -> bool:
    """True if ``folder`` holds no file but a manifest being written (empty folders aside)."""
    return all(p.is_dir() or p.name in (MANIFEST, _PART) for p in folder.rglob("*"))


def _remove_own(folder: Path) -> None:
    """Remove what schoolmap wrote into ``folder`` (its manifest's files), then the folder if
    nothing else is left; a folder being written (state ``writing``) is schoolmap's throughout.
    """
    manifest = _read_manifest(folder)
    if manifest is None:
        return
    if manifest.get("state") == "writing":
        shutil.rmtree(folder, ignore_errors=True)
        return
    for name in manifest.get("files", ()):
        path = folder / name
        if path.resolve().is_relative_to(folder.resolve()) and path.is_file():
            path.unlink()
    (folder / MANIFEST).unlink(missing_ok=True)
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_debris(target: Path) -> None:
    """Find what a killed run left beside ``target`` and put it right: an old result moved
    aside (``.NAME.old-PID``) goes back if ``target`` is missing, else it is removed; a half
    written folder (``.NAME.PID-….tmp``) is removed. Only folders carrying schoolmap's
    manifest (or holding no file at all), and only of processes that are gone."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(?:old-(\d+)|(\d+)-[^/]*\.tmp)$")
    for path in sorted(target.parent.iterdir()) if target.parent.is_dir() else ():
        m = pattern.match(path.name)
        if not m or not path.is_dir() or _alive(int(m.group(1) or m.group(2))):
            continue
        if _read_manifest(path) is None:
            if _holds_no_file(path):  # killed before its manifest, or after removing it
                shutil.rmtree(path)
            continue
        if m.group(1) and not target.exists():
            path.rename(target)  # the swap was cut between its two renames: the old comes back
        else:
            _remove_own(path)


def _libc_exchange() -> object:
    """``renameat2(RENAME_EXCHANGE)`` (Linux): swap two folders in one step, or None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


_exchange = _libc_exchange()


def _swap(tmp: Path, target: Path) -> Path | None:
    """Put ``tmp`` at ``target``; return where the old ``target`` went (None if none).

    At every moment either the old or the new folder is at ``target``: one atomic exchange
    where the system has it; else two renames, and a run killed between them is put right by
    the next one (:func:`_clean_debris`)."""
    if not target.exists():
        tmp.rename(target)
        return None
    backup = target.with_name(f".{target.name}.old-{os.getpid()}")
    if _exchange is not None:
        at_fdcwd = -100
        if _exchange(at_fdcwd, os.fsencode(tmp), at_fdcwd, os.fsencode(target), 2) == 0:
            _checkpoint("swapped")
            tmp.rename(backup)
            return backup
    target.rename(backup)
    _checkpoint("aside")
    tmp.rename(target)
    _checkpoint("swapped")
    return backup


def check_output_folder(folder: str | os.PathLike[str], *,
                        kind: str = "schoolmap output") -> None:
    """Refuse now an output folder that :func:`atomic_folder` would refuse at the end: call it
    before long work, so a run is not lost to a folder it may not replace.

    Raises
    ------
    OutputFolderError
        ``folder`` is not a folder, or holds files schoolmap did not write (named, with what
        to do).
    """
    target = Path(folder).absolute()
    if not (target.exists() or target.is_symlink()):
        return
    if not target.is_dir() or target.is_symlink():
        raise OutputFolderError(f"{target} exists and is not a folder; choose another --out "
                                "folder")
    foreign = _foreign(target)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more"
                                         if len(foreign) > 5 else "")
        what = (f"holds files schoolmap did not write ({shown})"
                if _read_manifest(target) else
                f"is not a {kind} folder (no {MANIFEST}; it holds {shown})")
        raise OutputFolderError(
            f"{target} {what}; schoolmap replaces only its own outputs and deletes nothing "
            "else. Choose another --out folder, or move those files away (or delete the "
            "folder yourself) and run again")


@contextmanager
def atomic_folder(folder: str | os.PathLike[str], *, marker: str = "",
                  kind: str = "schoolmap output") -> Iterator[Path]:
    """Write a folder all at once: yield a temporary sibling, then move it into place.

    The folder gets a manifest (``.schoolmap-manifest.json``) listing every file written. An
    existing ``folder`` is replaced only if it is empty or carries schoolmap's manifest and
    holds nothing outside it; anything else is refused (:class:`OutputFolderError`), to protect
    the user's files. There is no moment where neither the old nor the new result is there, and
    what a killed run left behind is found and put right by the next run. If the body raises,
    the temporary folder is removed and ``folder`` is left as it was.

    Parameters
    ----------
    folder : path-like
        The folder to write.
    marker : str
        The main file of an output of this kind (e.g. ``summary.json``), named in messages.
    kind : str
        Words for the error message (``"schoolmap output"``, ``"schoolmap batch"``).
    """
    target = Path(folder).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_debris(target)
    check_output_folder(target, kind=kind)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp",
                                dir=target.parent))
    try:
        _write_manifest(tmp, kind, "writing")
        yield tmp
        _checkpoint("written")
        _write_manifest(tmp, kind, "complete")
        os.chmod(tmp, 0o755)
        _checkpoint("manifest")
        backup = _swap(tmp, target)
        if backup is not None:
            _remove_own(backup)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
