"""Road graphs: a district's ``roads`` layer (or an OpenStreetMap ``.osm.pbf``) as CSR arrays.

A road graph has a node at every vertex of every road line and an edge along every segment
between consecutive vertices, so a network distance is a sum of straight segments and can never
be shorter than the straight line between its ends (the lower bound the exact allocation's
certificate rests on, :mod:`schoolmap.allocation.network`).

- **Roads layer** (LineStrings; optional columns ``mode`` = ``walk`` / ``drive`` / ``both``,
  ``speed_kmh``, ``oneway``, ``barrier``). The lines of one mode are noded together (shapely's
  ``unary_union`` with a snapping grid of ``tolerance_m``): two roads meet where they cross or
  where their ends lie within the tolerance. A line whose ``barrier`` is set (a river, a railway,
  an expressway drawn for the map) is never an edge: it is crossed only where a road crosses it
  (a bridge, an interchange), and a road that stops at it does not cross it.
- **OpenStreetMap** (``.osm.pbf``, read with pyrosm's ``walking`` / ``driving`` filters): ways meet
  only where OSM says they share a node — a bridge over a road is not a crossing.

Graphs of a layer are cached next to the district (``.schoolmap-cache/roads-<mode>-<hash>.npz``,
keyed by a hash of the layer's geometry and columns), written aside and renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from schoolmap.errors import Problem, ValidationError

__all__ = ["MODES", "RoadGraph", "build_road_graph", "graph_from_edges", "read_osm_roads",
           "read_roads_layer", "road_graph_for"]

#: Travel modes of a road graph (``euclidean`` needs none).
MODES = ("walk", "drive")
DEFAULT_SPEED_KMH = {"walk": 5.0, "drive": 30.0}
TOLERANCE_M = 0.5
CACHE_DIR = ".schoolmap-cache"
_CACHE_VERSION = 2  # 2: the barriers' lines are kept (connectors do not cross them)
#: Candidate nodes a point's connector tries first when its nearest node lies across a barrier
#: (then four times as many, until one does not or ``max_connector_m`` is passed).
CONNECT_TRY = 8
TRUE_WORDS = {"1", "true", "yes", "y", "t", "-1"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "", "nan", "none"}


@dataclass(frozen=True)
class RoadGraph:
    """A directed road graph as CSR arrays, in the district's planning CRS.

    Attributes
    ----------
    node_xy : ndarray of shape (n_nodes, 2), float64
        Node coordinates, metres.
    indptr : ndarray of shape (n_nodes + 1,), int64
        The edges leaving node k are ``index[indptr[k]:indptr[k + 1]]``.
    index : ndarray of shape (n_edges,), int64
        Head node of each edge.
    length_m : ndarray of shape (n_edges,), float64
        Edge length (metres; the straight segment between its nodes).
    time_s : ndarray of shape (n_edges,), float64
        Travel time along the edge (seconds) at its speed.
    component : ndarray of shape (n_nodes,), int64
        Connected piece of each node (0 = the largest); ``n_pieces`` pieces.
    mode : str
        ``walk`` or ``drive``.
    source : str
        Layer or file the graph was built from.
    notes : tuple of str
        What a reader should know (features skipped, pieces).
    barrier_xy : ndarray of shape (k, 2), float64
        Vertices of the layer's barrier lines (rivers, railways, expressways: no edge), metres;
        empty when it has none.
    barrier_part : ndarray of shape (k,), int64
        Which barrier line each vertex belongs to (consecutive, as ``shapely.get_coordinates``
        with ``return_index``).
    """

    node_xy: np.ndarray
    indptr: np.ndarray
    index: np.ndarray
    length_m: np.ndarray
    time_s: np.ndarray
    component: np.ndarray
    mode: str
    source: str = "<memory>"
    notes: tuple[str, ...] = field(default=())
    barrier_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    barrier_part: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.index)

    @property
    def n_pieces(self) -> int:
        """Number of connected pieces of the network."""
        return int(self.component.max()) + 1 if len(self.component) else 0

    def to_scipy(self, weight: str = "length_m") -> csr_matrix:
        """The graph as a scipy.sparse CSR matrix of ``length_m`` (or ``time_s``)."""
        w = self.length_m if weight == "length_m" else self.time_s
        n = self.n_nodes
        return csr_matrix((w, self.index, self.indptr), shape=(n, n))

    def reversed_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The reversed graph's CSR arrays: a search from a school on them gives every node's
        road distance *to* the school (trips run home → school; on a one-way street against
        the traffic).

        Returns
        -------
        indptr : ndarray of shape (n_nodes + 1,), int64
        index : ndarray of shape (n_edges,), int64
            Tail node of each reversed edge: the edges *entering* node k are
            ``index[indptr[k]:indptr[k + 1]]``.
        length_m : ndarray of shape (n_edges,), float64
            Edge length, metres.
        """
        t = self.to_scipy().T.tocsr()
        return (t.indptr.astype(np.int64), t.indices.astype(np.int64),
                np.ascontiguousarray(t.data, dtype=np.float64))

    @cached_property
    def node_tree(self) -> cKDTree:
        """KD-tree of the nodes (built once per graph: every connection queries it)."""
        return cKDTree(self.node_xy)

    @cached_property
    def barriers(self) -> shapely.STRtree | None:
        """The barrier lines in an STR-tree (``None``: the graph has none)."""
        if not len(self.barrier_xy):
            return None
        return shapely.STRtree(shapely.linestrings(self.barrier_xy, indices=self.barrier_part))

    def crosses_barrier(self, xy: np.ndarray, node: np.ndarray) -> np.ndarray:
        """Whether the straight connector from each point to its node crosses a barrier line.

        A connector that only touches one (a point or a node on the line: a bridge's end) does
        not cross it. Returns a bool array of shape (n,).
        """
        out = np.zeros(len(node), bool)
        tree = self.barriers
        if tree is None or not len(node):
            return out
        lines = shapely.linestrings(np.stack([xy, self.node_xy[node]], axis=1))
        hit, bar = tree.query(lines, predicate="intersects")
        if len(hit):
            through = ~shapely.touches(lines[hit], tree.geometries[bar])
            out[hit[through]] = True
        return out

    def connect(self, xy: np.ndarray,
                max_connector_m: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each point whose connector crosses no barrier, and its length.

        The straight connector from a point to its node must not cross a river, railway or
        expressway of the layer (``barrier``): a home on one bank joins the roads of its own
        bank, not the nearer street across the water (whose trip would then start with a swim,
        or run round by the next bridge from the wrong side). Among the nodes within
        ``max_connector_m``, by KD-tree, the nearest whose connector crosses none (ties: the
        tree's order).

        Returns ``node`` (n,) int64 and ``connector_m`` (n,), metres: ``-1`` and ``inf`` when the
        graph is empty or every node within ``max_connector_m`` lies across a barrier; the
        nearest node (and its distance) when none is within ``max_connector_m``.
        """
        xy = np.ascontiguousarray(xy, dtype=np.float64).reshape(-1, 2)
        if self.n_nodes == 0 or len(xy) == 0:
            return np.full(len(xy), -1, np.int64), np.full(len(xy), np.inf)
        dist, node = self.node_tree.query(xy, k=1)
        node, dist = node.astype(np.int64), dist.astype(np.float64)
        if self.barriers is None:
            return node, dist
        near = np.flatnonzero(dist <= max_connector_m)
        todo = near[self.crosses_barrier(xy[near], node[near])]
        k = CONNECT_TRY
        bound = np.nextafter(float(max_connector_m), np.inf)  # ≤ max_connector_m, as above
        while len(todo):
            kk = min(k, self.n_nodes)
            dd, nn = self.node_tree.query(xy[todo], k=kk, distance_upper_bound=bound)
            dd, nn = dd.reshape(len(todo), kk), nn.reshape(len(todo), kk)
            ok = np.isfinite(dd)
            r, c = np.nonzero(ok)
            ok[r, c] = ~self.crosses_barrier(xy[todo[r]], nn[r, c])
            found = ok.any(axis=1)
            at = np.argmax(ok, axis=1)
            rows = np.flatnonzero(found)
            node[todo[rows]], dist[todo[rows]] = nn[rows, at[rows]], dd[rows, at[rows]]
            last = ~found & (~np.isfinite(dd[:, -1]) | (kk == self.n_nodes))  # none left to try
            node[todo[last]], dist[todo[last]] = -1, np.inf
            todo = todo[~found & ~last]
            k *= 4
        return node, dist


def _flag(values: pd.Series, name: str, label: str, problems: list[Problem]) -> np.ndarray:
    text = values.astype(str).str.strip().str.lower()
    bad = ~text.isin(TRUE_WORDS | FALSE_WORDS)
    if bad.any():
        problems.append(Problem(label, f"column '{name}' must be yes/no (or 1/0, true/false); "
                                f"got {sorted(set(text[bad]))[:3]}",
                                tuple(str(i) for i in np.flatnonzero(bad.to_numpy()))))
    return text.isin(TRUE_WORDS).to_numpy()


def build_road_graph(
    roads: gpd.GeoDataFrame,
    mode: str = "walk",
    *,
    crs: pyproj.CRS | str | None = None,
    walk_kmh: float = DEFAULT_SPEED_KMH["walk"],
    tolerance_m: float = TOLERANCE_M,
    label: str = "roads",
    noded: bool = False,
) -> RoadGraph:
    """Build the road graph of one mode from a layer of lines.

    Parameters
    ----------
    roads : GeoDataFrame
        LineStrings (MultiLineStrings are split); optional columns ``mode``
        (walk / drive / both; default both), ``speed_kmh`` (> 0), ``oneway`` (drive only; the
        line's direction), ``barrier`` (set: not an edge).
    mode : {"walk", "drive"}
    crs : CRS, optional
        The planning CRS (metres). The layer is projected to it; a layer without a CRS is
        refused when ``crs`` is given.
    walk_kmh : float
        Walking speed (the ``time_s`` of walk edges).
    tolerance_m : float
        Ends and crossings closer than this are one node (the snapping grid).
    label : str
        Name of the layer in messages (``demo.gpkg:roads``).
    noded : bool
        True when lines already meet only where they share vertices (OpenStreetMap ways): no
        noding at crossings.

    Returns
    -------
    RoadGraph

    Examples
    --------
    Two roads crossing at (50, 0) meet there:

    >>> import geopandas as gpd, shapely
    >>> lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (100, 0)]),
    ...                                    shapely.LineString([(50, -50), (50, 50)])])
    >>> g = build_road_graph(lines)
    >>> g.n_nodes, g.n_edges, g.n_pieces
    (5, 8, 1)
    """
    problems: list[Problem] = []
    if mode not in MODES:
        raise ValidationError([Problem("scenario [travel]", f"mode {mode!r} needs no roads or is "
                                       f"unknown; road modes are {', '.join(MODES)}")], label)
    if not isinstance(roads, gpd.GeoDataFrame):
        raise ValidationError([Problem(label, "roads must be a GeoDataFrame of lines")], label)
    frame = roads.reset_index(drop=True)
    if crs is not None:
        target = pyproj.CRS.from_user_input(crs)
        if frame.crs is None:
            raise ValidationError([Problem(label, f"the layer has no CRS; the district is in "
                                           f"{target.to_string()}. Save the roads with their CRS")],
                                  label)
        if not pyproj.CRS.from_user_input(frame.crs).equals(target):
            frame = frame.to_crs(target)
    elif frame.crs is not None and pyproj.CRS.from_user_input(frame.crs).is_geographic:
        raise ValidationError([Problem(label, f"lines are in a geographic CRS "
                                       f"({frame.crs.to_string()}); distances would be in degrees. "
                                       "Project them, or read them with the district")], label)
    geom = frame.geometry.array
    kind = np.asarray(shapely.get_type_id(geom))
    lines = (kind == 1) | (kind == 5)  # LineString, MultiLineString
    empty = np.asarray(shapely.is_empty(geom)) | np.asarray(shapely.is_missing(geom))
    usable = lines & ~empty
    if not usable.any():
        kinds = sorted({str(t) for t in shapely.get_type_id(geom)}) if len(geom) else []
        raise ValidationError([Problem(label, "the roads layer has no lines"
                                       + (f" (geometry type ids {kinds}; 1 = LineString)"
                                          if kinds else " (it is empty)")
                                       + "; draw roads as LineStrings, or drop the layer")], label)
    skipped = np.flatnonzero(~usable & ~empty)  # not fatal: noted

    modes = pd.Series(["both"] * len(frame))
    if "mode" in frame:
        modes = frame["mode"].fillna("both").astype(str).str.strip().str.lower()
        bad = ~modes.isin(["walk", "drive", "both"])
        if bad.any():
            problems.append(Problem(label, "column 'mode' must be walk, drive or both; got "
                                    f"{sorted(set(modes[bad]))[:3]}",
                                    tuple(str(i) for i in np.flatnonzero(bad.to_numpy()))))
    default_speed = walk_kmh if mode == "walk" else DEFAULT_SPEED_KMH["drive"]
    speed = np.full(len(frame), float(default_speed))
    if "speed_kmh" in frame and mode == "drive":
        raw = pd.to_numeric(frame["speed_kmh"], errors="coerce")
        bad = raw.notna() & ~(raw > 0)
        notnum = frame["speed_kmh"].notna() & raw.isna()
        if (bad | notnum).any():
            rows = tuple(str(i) for i in np.flatnonzero((bad | notnum).to_numpy()))
            problems.append(Problem(label, "column 'speed_kmh' must be a speed > 0 km/h (zero, "
                                    "negative or non-numeric speeds found); fix or leave empty "
                                    "for the default", rows))
        speed = np.where(raw > 0, raw.to_numpy(dtype=np.float64, na_value=np.nan), speed)
    if not (np.isfinite(walk_kmh) and walk_kmh > 0):
        problems.append(Problem("scenario [travel]", f"walk_kmh must be > 0, got {walk_kmh!r}"))
    oneway = np.zeros(len(frame), bool)
    if "oneway" in frame and mode == "drive":
        oneway = _flag(frame["oneway"], "oneway", label, problems)
    barrier = np.zeros(len(frame), bool)
    if "barrier" in frame:
        text = frame["barrier"].astype(str).str.strip().str.lower()
        barrier = ~text.isin(FALSE_WORDS).to_numpy()
    ValidationError.raise_if(problems, label)

    keep = usable & ~barrier & modes.isin([mode, "both"]).to_numpy()
    notes = []
    if len(skipped):
        notes.append(f"{label}: {len(skipped)} features that are not lines ignored (rows "
                     f"{', '.join(map(str, skipped[:5]))})")
    feats = np.flatnonzero(keep)
    if len(feats) == 0:
        raise ValidationError([Problem(label, f"no {mode} roads: every line is a barrier or of "
                                       "another mode (column 'mode')")], label)
    parts, src = shapely.get_parts(geom[feats], return_index=True)
    src = feats[src]
    parts = shapely.set_precision(parts, tolerance_m)
    if not noded:
        parts, src = _node(parts, src, tolerance_m)
    coords, seg_src, seg_dir = _segments(parts, src, geom)
    graph = _assemble(coords, seg_src, seg_dir, speed, oneway, mode, label, tolerance_m, notes)
    walls = shapely.get_parts(geom[usable & barrier])  # every mode's barriers: no one crosses
    if not len(walls):
        return graph
    b_xy, b_part = shapely.get_coordinates(walls, return_index=True)
    return replace(graph, barrier_xy=np.ascontiguousarray(b_xy, np.float64),
                   barrier_part=b_part.astype(np.int64))


def _node(parts: np.ndarray, src: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Split lines where they cross (unary_union), and find each piece's source feature."""
    merged = shapely.unary_union(parts, grid_size=tol)
    pieces = shapely.get_parts(merged)
    pieces = pieces[np.asarray(shapely.get_type_id(pieces)) == 1]
    pieces = pieces[~np.asarray(shapely.is_empty(pieces))]
    mid = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    tree = shapely.STRtree(parts)
    (i_piece, i_part), _dist = tree.query_nearest(mid, return_distance=True, all_matches=False)
    order = np.argsort(i_piece)
    owner = np.empty(len(pieces), np.int64)
    owner[i_piece[order]] = i_part[order]
    return pieces, src[owner]


def _segments(parts: np.ndarray, src: np.ndarray, source_geom: np.ndarray):
    """Consecutive vertex pairs of every line; direction +1 when along its source feature."""
    coords, ring = shapely.get_coordinates(parts, return_index=True)
    same = ring[1:] == ring[:-1]
    a = np.flatnonzero(same)
    seg = np.concatenate([coords[a], coords[a + 1]], axis=1)
    seg_src = src[ring[a]]
    # is each piece oriented along its source line? (unary_union may reverse pieces)
    first = np.searchsorted(ring, np.arange(len(parts)))
    last = np.searchsorted(ring, np.arange(len(parts)), side="right") - 1
    ok = last > first
    direction = np.ones(len(parts))
    if ok.any():
        g = source_geom[src[ok]]
        p0 = shapely.line_locate_point(g, shapely.points(coords[first[ok]]))
        p1 = shapely.line_locate_point(g, shapely.points(coords[last[ok]]))
        direction[ok] = np.where(p1 >= p0, 1.0, -1.0)
    return seg, seg_src, direction[ring[a]]


def _assemble(seg, seg_src, seg_dir, speed, oneway, mode, label, tol, notes) -> RoadGraph:
    key = np.round(np.concatenate([seg[:, :2], seg[:, 2:]]) / tol).astype(np.int64)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    k = len(seg)
    a, b = inv[:k], inv[k:]
    node_xy = np.zeros((len(uniq), 2))
    node_xy[inv] = np.concatenate([seg[:, :2], seg[:, 2:]])
    loop = a == b
    a, b, s_src, s_dir = a[~loop], b[~loop], seg_src[~loop], seg_dir[~loop]
    length = np.hypot(*(node_xy[b] - node_xy[a]).T)
    kmh = speed[s_src]
    time = length / (kmh / 3.6)
    one = oneway[s_src] if mode == "drive" else np.zeros(len(a), bool)
    fwd_a = np.where(s_dir > 0, a, b)
    fwd_b = np.where(s_dir > 0, b, a)
    tail = np.concatenate([fwd_a, fwd_b[~one]])
    head = np.concatenate([fwd_b, fwd_a[~one]])
    w_len = np.concatenate([length, length[~one]])
    w_time = np.concatenate([time, time[~one]])
    return graph_from_edges(node_xy, tail, head, w_len, w_time, mode, label, notes)


def graph_from_edges(node_xy: np.ndarray, tail: np.ndarray, head: np.ndarray,
                     length_m: np.ndarray, time_s: np.ndarray, mode: str = "walk",
                     source: str = "<memory>", notes: Sequence[str] = ()) -> RoadGraph:
    """A road graph from a list of directed edges (the door :func:`build_road_graph` and the
    benchmarks' synthetic cities share).

    Parameters
    ----------
    node_xy : ndarray of shape (n_nodes, 2)
        Node coordinates, metres (the district's planning CRS).
    tail, head : ndarray of shape (n_edges,), int
        Each directed edge's start and end node (a two-way street is two edges).
    length_m, time_s : ndarray of shape (n_edges,), float
        Each edge's length (metres, ≥ 0) and travel time (seconds).
    mode : {"walk", "drive"}
    source : str
        Layer or file named in notes and errors.
    notes : sequence of str
        What a reader should know about the graph.

    Returns
    -------
    RoadGraph
        CSR by tail node; of parallel edges the shortest is kept; pieces numbered by size
        (0 = the largest, weakly connected).
    """
    w_len, w_time = np.asarray(length_m, np.float64), np.asarray(time_s, np.float64)
    tail, head = np.asarray(tail, np.int64), np.asarray(head, np.int64)
    n = len(node_xy)
    k = len(tail)
    problems = [Problem(source, f"{name} has {len(a)} entries, tail {k}: one per edge")
                for name, a in (("head", head), ("length_m", w_len), ("time_s", w_time))
                if len(a) != k]
    if not problems:
        problems += [Problem(source, f"{name} must be node numbers 0…{n - 1}", tuple(
            str(e) for e in np.flatnonzero((a < 0) | (a >= n))[:5]))
            for name, a in (("tail", tail), ("head", head)) if k and (a.min() < 0 or a.max() >= n)]
        problems += [Problem(source, f"{name} must be ≥ 0 (and not NaN)", tuple(
            str(e) for e in np.flatnonzero(~(a >= 0))[:5]))
            for name, a in (("length_m", w_len), ("time_s", w_time)) if not np.all(a >= 0)]
    ValidationError.raise_if(problems, f"{source}: road edges")
    order = np.lexsort((w_len, head, tail))
    tail, head, w_len, w_time = tail[order], head[order], w_len[order], w_time[order]
    first = np.ones(len(tail), bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    tail, head, w_len, w_time = tail[first], head[first], w_len[first], w_time[first]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
    g = csr_matrix((np.ones(len(tail)), head, indptr), shape=(n, n))
    n_comp, comp = connected_components(g, directed=True, connection="weak")
    sizes = np.bincount(comp, minlength=n_comp)
    rank = np.empty(n_comp, np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(n_comp)
    notes = list(notes)
    return RoadGraph(np.ascontiguousarray(node_xy, np.float64), indptr,
                     np.ascontiguousarray(head, np.int64), np.ascontiguousarray(w_len, np.float64),
                     np.ascontiguousarray(w_time, np.float64), rank[comp].astype(np.int64), mode,
                     source, tuple(notes))


# ------------------------------------------------------------------------------------ reading

def read_roads_layer(district_source: str | os.PathLike[str]) -> tuple[gpd.GeoDataFrame | None,
                                                                        str]:
    """The ``roads`` layer of a district (GeoPackage layer, or ``roads.gpkg``/``.geojson`` in a
    district folder); ``(None, label)`` when it has none."""
    p = Path(district_source)
    if p.is_dir():
        for ext in (".gpkg", ".geojson", ".json"):
            f = p / f"roads{ext}"
            if f.exists():
                return _read(f, None, f.name)
        return None, str(p / "roads")
    if p.suffix.lower() == ".gpkg" and p.exists():
        names = {str(r[0]) for r in pyogrio.list_layers(p)}
        if "roads" in names:
            return _read(p, "roads", f"{p.name}:roads")
    return None, f"{p.name}:roads"


def _read(path: Path, layer: str | None, label: str) -> tuple[gpd.GeoDataFrame, str]:
    try:
        return gpd.read_file(path, layer=layer, engine="pyogrio"), label
    except Exception as exc:
        raise ValidationError([Problem(label, f"cannot be read ({exc})")], label) from exc


def read_osm_roads(path: str | os.PathLike[str], mode: str = "walk",
                   bounding_box: list[float] | None = None) -> gpd.GeoDataFrame:
    """Walkable or drivable ways of an OpenStreetMap ``.osm.pbf`` file (pyrosm), WGS 84.

    Columns: ``speed_kmh`` (OSM ``maxspeed`` where it is a number), ``oneway``. Needs the
    ``osm`` extra (``pip install 'schoolmap[osm]'``).
    """
    p = Path(path)
    label = p.name
    if not p.exists():
        raise ValidationError([Problem(label, "no such file; give an OpenStreetMap .osm.pbf")],
                              label)
    with open(p, "rb") as f:
        head = f.read(64)
    if len(head) < 8 or b"OSMHeader" not in head:
        raise ValidationError([Problem(label, "is not an OpenStreetMap PBF file (no OSMHeader "
                                       "block at its start); download a .osm.pbf extract, e.g. "
                                       "from Geofabrik")], label)
    try:
        import pyrosm
    except ImportError as exc:  # pragma: no cover - pyrosm is in the test extra
        raise ValidationError([Problem(label, "reading .osm.pbf needs pyrosm: pip install "
                                       "'schoolmap[osm]'")], label) from exc
    try:
        osm = pyrosm.OSM(str(p), bounding_box=bounding_box)
        edges = osm.get_network(network_type="walking" if mode == "walk" else "driving")
    except Exception as exc:
        raise ValidationError([Problem(label, f"cannot be read as OpenStreetMap ({exc})")],
                              label) from exc
    if edges is None or len(edges) == 0:
        raise ValidationError([Problem(label, f"has no {mode} ways")], label)
    out = gpd.GeoDataFrame(geometry=edges.geometry.array, crs=edges.crs or "EPSG:4326")
    if "maxspeed" in edges:
        out["speed_kmh"] = pd.to_numeric(edges["maxspeed"], errors="coerce").to_numpy()
    if "oneway" in edges:
        out["oneway"] = edges["oneway"].fillna("no").astype(str).str.lower().isin(
            ["yes", "true", "1"]).to_numpy()
    return out


def graph_from_osm(path: str | os.PathLike[str], mode: str, crs: pyproj.CRS | str, *,
                   walk_kmh: float = DEFAULT_SPEED_KMH["walk"],
                   bounding_box: list[float] | None = None) -> RoadGraph:
    """:func:`build_road_graph` of an ``.osm.pbf`` (ways meet at shared OSM nodes only)."""
    roads = read_osm_roads(path, mode, bounding_box)
    return build_road_graph(roads, mode, crs=crs, walk_kmh=walk_kmh, label=Path(path).name,
                            noded=True)


# ------------------------------------------------------------------------------------ caching

def _layer_hash(roads: gpd.GeoDataFrame, mode: str, walk_kmh: float, tol: float) -> str:
    h = hashlib.sha256(f"v{_CACHE_VERSION}|{mode}|{walk_kmh!r}|{tol!r}|".encode())
    h.update(str(roads.crs).encode())
    h.update(b"".join(shapely.to_wkb(roads.geometry.array, hex=False)))
    for col in ("mode", "speed_kmh", "oneway", "barrier"):
        if col in roads:
            h.update(col.encode() + roads[col].astype(str).str.cat(sep="\x1f").encode())
    return h.hexdigest()[:20]


def road_graph_for(
    district_source: str | os.PathLike[str],
    mode: str,
    crs: pyproj.CRS | str,
    *,
    roads: str | os.PathLike[str] | None = None,
    walk_kmh: float = DEFAULT_SPEED_KMH["walk"],
    tolerance_m: float = TOLERANCE_M,
    cache: bool = True,
    cells_bounds: np.ndarray | None = None,
) -> RoadGraph:
    """The road graph of a district for one mode, built once and cached next to the district.

    Parameters
    ----------
    district_source : path
        The district's GeoPackage or folder (its ``roads`` layer is read).
    mode : {"walk", "drive"}
    crs : CRS
        The district's planning CRS.
    roads : path, optional
        An ``.osm.pbf`` file used instead of the layer (relative paths: next to the district).
    cells_bounds : array of 4 floats, optional
        The cells' bounds in ``crs``; roads that miss them entirely are refused (another CRS).
    """
    base = Path(district_source)
    folder = base if base.is_dir() else base.parent
    if roads is not None:
        pbf = Path(roads) if Path(roads).is_absolute() else folder / roads
        graph = graph_from_osm(pbf, mode, crs, walk_kmh=walk_kmh)
        _check_overlap(graph, cells_bounds, pbf.name)
        return graph
    frame, label = read_roads_layer(base)
    if frame is None:
        raise ValidationError([Problem(label, f"travel mode {mode!r} needs roads: add a 'roads' "
                                       "layer of LineStrings to the district, or set roads = "
                                       "\"file.osm.pbf\" in [travel]; or use mode = "
                                       "\"euclidean\"")],
                              label)
    key = _layer_hash(frame, mode, walk_kmh, tolerance_m) + "-" + str(pyproj.CRS(crs).to_epsg())
    cache_file = folder / CACHE_DIR / f"roads-{base.stem}-{mode}-{key}.npz"
    if cache and cache_file.exists():
        graph = _load(cache_file, label)
        if graph is not None:
            _check_overlap(graph, cells_bounds, label)
            return graph
    graph = build_road_graph(frame, mode, crs=crs, walk_kmh=walk_kmh, tolerance_m=tolerance_m,
                             label=label)
    _check_overlap(graph, cells_bounds, label)
    if cache:
        _save(cache_file, graph)
    return graph


def _check_overlap(graph: RoadGraph, bounds: np.ndarray | None, label: str) -> None:
    if bounds is None or graph.n_nodes == 0:
        return
    lo, hi = graph.node_xy.min(axis=0), graph.node_xy.max(axis=0)
    b = np.asarray(bounds, dtype=np.float64)
    if lo[0] > b[2] or hi[0] < b[0] or lo[1] > b[3] or hi[1] < b[1]:
        raise ValidationError([Problem(label, f"the roads (x {lo[0]:,.0f}…{hi[0]:,.0f}, y "
                                       f"{lo[1]:,.0f}…{hi[1]:,.0f}) do not overlap the cells (x "
                                       f"{b[0]:,.0f}…{b[2]:,.0f}, y {b[1]:,.0f}…{b[3]:,.0f}): the "
                                       "lines are in another CRS than the layer says. Save them "
                                       "with their true CRS")], label)


_FIELDS = ("node_xy", "indptr", "index", "length_m", "time_s", "component", "barrier_xy",
           "barrier_part")


def _save(path: Path, graph: RoadGraph) -> None:
    """Write aside and rename (atomic); a folder we cannot write to just means no cache."""
    try:
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".roads-", suffix=".npz.part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, schoolmap_roads=np.array(_CACHE_VERSION), mode=np.array(graph.mode),
                         source=np.array(graph.source), notes=np.array(graph.notes, dtype=str),
                         **{k: getattr(graph, k) for k in _FIELDS})
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)  # only the part file this call wrote
    except OSError:
        return


def _load(path: Path, label: str) -> RoadGraph | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            if "schoolmap_roads" not in z or int(z["schoolmap_roads"]) != _CACHE_VERSION:
                return None
            return RoadGraph(**{k: z[k] for k in _FIELDS}, mode=str(z["mode"]), source=label,
                             notes=tuple(str(s) for s in z["notes"]))
    except (OSError, ValueError, KeyError):
        return None
