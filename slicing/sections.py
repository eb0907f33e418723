"""Layer heights and horizontal sections of a mesh as clean polygons, computed for all planes in one numpy pass.

Method: every (triangle, plane) crossing is generated at once; each crossing segment runs from the point on the
triangle edge that goes down through the plane to the point on the edge that goes up, which makes outer
boundaries counter-clockwise for outward normals. A crossing point is named by (mesh edge, plane), so segments
chain into loops by matching names; loops are ordered by pointer jumping, then each layer is unioned (non-zero
fill) with pyclipper into outers (CCW) and holes (CW). Units: millimetres.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyclipper
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_SCALE = 1e6  # clipper integer units per mm
_COLLINEAR_MM = 1e-3  # points closer than this to the line of their neighbours are dropped
_MIN_AREA_MM2 = 1e-6  # polygons smaller than this are slivers
_NUDGE_MM = 1e-6  # a plane through a vertex is moved up by this much
_JOIN_MM = 5.0  # an open chain whose ends are closer than this is closed

# For a triangle whose corners are above the plane as bits (c0 | c1<<1 | c2<<2), the edge (j -> j+1) that goes
# down through the plane and the one that goes up. Codes 0 and 7 never occur (no crossing).
_DOWN = np.array([-1, 0, 1, 1, 2, 0, 2, -1], dtype=np.int64)
_UP = np.array([-1, 2, 0, 2, 1, 1, 0, -1], dtype=np.int64)


def layer_tops(height: float, first_layer: float, layer_height: float) -> np.ndarray:
    """Z of the top of each layer; a last partial layer is kept when more than half of it has material."""
    if first_layer <= 0 or layer_height <= 0:
        raise ValueError("first_layer and layer_height must be positive")
    if height < first_layer - 1e-9:
        return np.array([first_layer]) if height > first_layer / 2.0 else np.empty(0)
    n = int(np.floor((height - first_layer) / layer_height + 1e-9)) + 1
    if height - (first_layer + (n - 1) * layer_height) > layer_height / 2.0 + 1e-9:
        n += 1
    return np.round(first_layer + layer_height * np.arange(n), 9)


def mid_planes(tops: np.ndarray) -> np.ndarray:
    """Slicing plane of each layer: half-way between its bottom (the previous top, or 0) and its top."""
    tops = np.asarray(tops, dtype=np.float64)
    bottoms = np.concatenate([[0.0], tops[:-1]])
    return (tops + bottoms) / 2.0


def slice_mesh(mesh: trimesh.Trimesh, plane_z: np.ndarray) -> list[list[np.ndarray]]:
    """Closed polygons of each plane's section: (M, 2) arrays, outers CCW and holes CW."""
    return slice_mesh_report(mesh, plane_z)[0]


def slice_mesh_report(mesh: trimesh.Trimesh, plane_z: np.ndarray) -> tuple[list[list[np.ndarray]], int]:
    """Sections as in `slice_mesh`, plus the number of open chains found (non-zero only for open meshes)."""
    planes = np.asarray(plane_z, dtype=np.float64).reshape(-1)
    loops, n_open = section_loops(np.asarray(mesh.vertices), np.asarray(mesh.faces), planes)
    return [_clean_layer(layer) for layer in loops], n_open


def section_loops(
    vertices: np.ndarray, faces: np.ndarray, plane_z: np.ndarray
) -> tuple[list[list[np.ndarray]], int]:
    """Raw closed loops per plane (before the union), and how many open chains had to be closed or dropped."""
    n_planes = len(plane_z)
    out: list[list[np.ndarray]] = [[] for _ in range(n_planes)]
    if n_planes == 0 or len(faces) == 0:
        return out, 0
    order = np.argsort(plane_z, kind="stable")
    planes = _nudge(plane_z[order], vertices[:, 2])
    faces = np.asarray(faces, dtype=np.int64)
    fz = vertices[:, 2][faces]
    lo = np.searchsorted(planes, fz.min(axis=1), side="right")
    count = np.searchsorted(planes, fz.max(axis=1), side="left") - lo
    hit = np.flatnonzero(count > 0)
    if len(hit) == 0:
        return out, 0
    count = count[hit]
    total = int(count.sum())
    tri = np.repeat(hit, count)
    first = np.cumsum(count) - count
    plane = np.repeat(lo[hit] - first, count) + np.arange(total)
    pz = planes[plane]
    ftz = fz[tri]
    code = (ftz[:, 0] > pz) + 2 * (ftz[:, 1] > pz) + 4 * (ftz[:, 2] > pz)
    j_down = _DOWN[code]
    j_up = _UP[code]
    ftri = faces[tri]
    rows = np.arange(total)
    a = ftri[rows, j_down]
    b = ftri[rows, (j_down + 1) % 3]
    za, zb = vertices[a, 2], vertices[b, 2]
    t = (pz - za) / (zb - za)
    start = vertices[a, :2] + t[:, None] * (vertices[b, :2] - vertices[a, :2])
    # name crossing points by (edge, plane): key of the undirected edge, then plane index
    nv = np.int64(len(vertices))
    c = ftri[rows, j_up]
    d = ftri[rows, (j_up + 1) % 3]
    start_edge = np.minimum(a, b) * nv + np.maximum(a, b)
    end_edge = np.minimum(c, d) * nv + np.maximum(c, d)
    edge_keys, inverse = np.unique(np.concatenate([start_edge, end_edge]), return_inverse=True)
    n_p = np.int64(n_planes)
    start_key = inverse[:total] * n_p + plane
    end_key = inverse[total:] * n_p + plane
    succ = _match(start_key, end_key)

    def end_points(seg: np.ndarray) -> np.ndarray:
        """Point where segments `seg` leave their triangle (needed only at the ends of open chains)."""
        ce, de = c[seg], d[seg]
        zc, zd = vertices[ce, 2], vertices[de, 2]
        te = (pz[seg] - zc) / (zd - zc)
        return vertices[ce, :2] + te[:, None] * (vertices[de, :2] - vertices[ce, :2])

    return _assemble(start, plane, succ, n_planes, order, out, end_points)


def _nudge(planes: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Move planes that pass within _NUDGE_MM of a vertex up until none does, so no vertex lies on a plane."""
    zs = np.sort(z)
    planes = planes.copy()
    for _ in range(64):
        i = np.clip(np.searchsorted(zs, planes), 1, len(zs) - 1)
        near = np.minimum(np.abs(zs[i] - planes), np.abs(zs[i - 1] - planes)) < _NUDGE_MM
        if not near.any():
            break
        planes[near] += 2 * _NUDGE_MM
    return planes


def _match(start_key: np.ndarray, end_key: np.ndarray) -> np.ndarray:
    """Successor segment of each segment (-1 at an open end): the k-th end at a point meets the k-th start."""
    s_order = np.argsort(start_key, kind="stable")
    s_sorted = start_key[s_order]
    e_order = np.argsort(end_key, kind="stable")
    e_sorted = end_key[e_order]
    rank = np.arange(len(e_sorted)) - np.searchsorted(e_sorted, e_sorted, side="left")
    pos = np.searchsorted(s_sorted, e_sorted, side="left") + rank
    ok = pos < len(s_sorted)
    ok[ok] = s_sorted[pos[ok]] == e_sorted[ok]
    succ = np.full(len(start_key), -1, dtype=np.int64)
    succ[e_order[ok]] = s_order[pos[ok]]
    return succ


def _assemble(
    start: np.ndarray,
    plane: np.ndarray,
    succ: np.ndarray,
    n_planes: int,
    order: np.ndarray,
    out: list[list[np.ndarray]],
    end_points: Callable[[np.ndarray], np.ndarray],
) -> tuple[list[list[np.ndarray]], int]:
    """Order segments along their chains (pointer jumping) and cut the point array into per-plane loops."""
    n = len(succ)
    linked = succ >= 0
    src = np.flatnonzero(linked)
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, succ[src])), shape=(n, n))
    n_comp, label = connected_components(graph, directed=True, connection="weak")
    has_pred = np.zeros(n, dtype=bool)
    has_pred[succ[src]] = True
    heads = np.flatnonzero(~has_pred)
    rep = np.empty(n_comp, dtype=np.int64)
    rep[label] = np.arange(n)
    is_open = np.zeros(n_comp, dtype=bool)
    is_open[label[heads]] = True
    rep[label[heads]] = heads
    # cut each cycle just before its representative, then rank every segment by its distance to the chain end
    pred = np.full(n, -1, dtype=np.int64)
    pred[succ[src]] = src
    nxt = np.where(linked, succ, np.arange(n))
    cut = pred[rep[~is_open]]
    nxt[cut] = cut
    dist = (nxt != np.arange(n)).astype(np.int64)
    while True:
        nn = nxt[nxt]
        if np.array_equal(nn, nxt):
            break
        dist += dist[nxt]
        nxt = nn
    size = np.bincount(label, minlength=n_comp)
    offset = np.cumsum(size) - size
    position = offset[label] + (size[label] - 1 - dist)
    seq = np.empty(n, dtype=np.int64)
    seq[position] = np.arange(n)
    points = start[seq]
    comp_plane = order[plane[rep]]
    n_open = int(is_open.sum())
    open_chains: dict[int, list[np.ndarray]] = {}
    open_comp = np.flatnonzero(is_open)
    tail_points = end_points(seq[offset[open_comp] + size[open_comp] - 1])
    tail_of = dict(zip(open_comp.tolist(), tail_points))
    for k in np.argsort(comp_plane, kind="stable"):
        pts = points[offset[k] : offset[k] + size[k]]
        if is_open[k]:
            open_chains.setdefault(int(comp_plane[k]), []).append(np.vstack([pts, tail_of[k]]))
        elif len(pts) >= 3:
            out[comp_plane[k]].append(pts)
    for p, chains in open_chains.items():
        out[p].extend(_close_chains(chains))
    return out, n_open


def _close_chains(chains: list[np.ndarray]) -> list[np.ndarray]:
    """Join each open chain's end to the nearest other start when that is nearer than its own start, then close
    chains whose remaining gap is under _JOIN_MM or a quarter of their length; drop the rest (stray pieces)."""
    pending = [c for c in chains if len(c) >= 2]
    closed: list[np.ndarray] = []
    while pending:
        cur = pending.pop()
        while pending:
            gap_self = float(np.hypot(*(cur[0] - cur[-1])))
            starts = np.array([c[0] for c in pending])
            d = np.hypot(*(starts - cur[-1]).T)
            best = int(np.argmin(d))
            if d[best] >= gap_self:
                break
            cur = np.concatenate([cur, pending.pop(best)])
        length = float(np.sum(np.hypot(*np.diff(cur, axis=0).T)))
        gap = float(np.hypot(*(cur[0] - cur[-1])))
        if len(cur) >= 3 and (gap < _JOIN_MM or gap < 0.25 * length):
            closed.append(cur)
    return closed


def _clean_layer(loops: list[np.ndarray]) -> list[np.ndarray]:
    """Non-zero union of one layer's loops: outers CCW, holes CW, strictly simple, no slivers or collinear points."""
    if not loops:
        return []
    paths = pyclipper.CleanPolygons([np.rint(loop * _SCALE).astype(np.int64) for loop in loops],
                                    _COLLINEAR_MM * _SCALE)
    clipper = pyclipper.Pyclipper()
    clipper.StrictlySimple = True
    for path in paths:
        if len(path) >= 3:
            try:
                clipper.AddPath(path, pyclipper.PT_SUBJECT, True)
            except pyclipper.ClipperException:  # a degenerate path (all points collinear)
                continue
    try:
        result = clipper.Execute(pyclipper.CT_UNION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)
    except pyclipper.ClipperException:  # nothing valid was added
        return []
    polygons = []
    for path in result:
        if len(path) < 3:
            continue
        poly = np.asarray(path, dtype=np.float64) / _SCALE
        if abs(polygon_area(poly)) >= _MIN_AREA_MM2:
            polygons.append(poly)
    return polygons


def polygon_area(poly: np.ndarray) -> float:
    """Signed area of a closed polygon given without its repeated first point (positive when CCW)."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
