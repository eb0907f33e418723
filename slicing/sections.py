"""Layer heights and horizontal sections of a mesh as clean polygons, computed for all planes in one numpy pass.

Method: every (triangle, plane) crossing is generated at once; each crossing segment runs from the point on the
triangle edge that goes down through the plane to the point on the edge that goes up, which makes outer
boundaries counter-clockwise for outward normals. A crossing point is named by (mesh edge, plane), so segments
chain into loops by matching names; loops are ordered by pointer jumping, then each layer is unioned (non-zero
fill) with pyclipper into outers (CCW) and holes (CW). Units: millimetres.
"""
from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain

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
_DOWN_NEXT = (_DOWN + 1) % 3
_UP_NEXT = (_UP + 1) % 3
_DOWN[[0, 7]] = _UP[[0, 7]] = _DOWN_NEXT[[0, 7]] = _UP_NEXT[[0, 7]] = 0  # no crossing: never used


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
    return union_layers(loops), n_open


def section_loops(
    vertices: np.ndarray, faces: np.ndarray, plane_z: np.ndarray
) -> tuple[list[list[np.ndarray]], int]:
    """Raw closed loops per plane (before the union), and how many open chains had to be closed or dropped."""
    n_planes = len(plane_z)
    out: list[list[np.ndarray]] = [[] for _ in range(n_planes)]
    if n_planes == 0 or len(faces) == 0:
        return out, 0
    order = np.argsort(plane_z, kind="stable")
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    planes = _nudge(plane_z[order], vertices[:, 2])
    vx, vy, vz = (np.ascontiguousarray(vertices[:, k]) for k in range(3))  # 1-D gathers are the fast ones
    flat = faces.reshape(-1)
    z0, z1, z2 = vz[flat[0::3]], vz[flat[1::3]], vz[flat[2::3]]
    zmin = np.minimum(np.minimum(z0, z1), z2)
    zmax = np.maximum(np.maximum(z0, z1), z2)
    lo = np.searchsorted(planes, zmin, side="right")
    count = np.searchsorted(planes, zmax, side="left") - lo
    hit = np.flatnonzero(count > 0)
    if len(hit) == 0:
        return out, 0
    # which corners are above the plane: all but the lowest below the middle corner, only the highest above it
    zmin, zmax, z0, z1, z2 = zmin[hit], zmax[hit], z0[hit], z1[hit], z2[hit]
    zmid = z0 + z1 + z2 - zmin - zmax
    code = np.empty((len(hit), 2), dtype=np.int8)
    code[:, 0] = (z0 > zmin) + 2 * (z1 > zmin) + 4 * (z2 > zmin)
    code[:, 1] = (z0 >= zmax) + 2 * (z1 >= zmax) + 4 * (z2 >= zmax)
    count = count[hit]
    total = int(count.sum())
    local = np.repeat(np.arange(len(hit)), count)
    first = np.cumsum(count) - count
    plane = np.repeat(lo[hit] - first, count) + np.arange(total)
    pz = planes[plane]
    pair_code = code.reshape(-1)[2 * local + (pz > zmid[local])]
    row = 3 * hit[local]
    a = flat[row + _DOWN[pair_code]]
    b = flat[row + _DOWN_NEXT[pair_code]]
    c = flat[row + _UP[pair_code]]
    d = flat[row + _UP_NEXT[pair_code]]
    start = _crossings(vx, vy, vz, a, b, pz)
    nv = np.int64(len(vertices))
    start_edge = np.minimum(a, b) * nv + np.maximum(a, b)
    end_edge = np.minimum(c, d) * nv + np.maximum(c, d)
    n_p = np.int64(n_planes)
    if float(nv) * float(nv) * float(n_p) >= 2.0**62:  # too many vertices to pack (edge, plane) in 64 bits
        numbered = np.unique(np.concatenate([start_edge, end_edge]), return_inverse=True)[1]
        start_edge, end_edge = numbered[:total], numbered[total:]
    succ = _match(start_edge * n_p + plane, end_edge * n_p + plane)

    def end_points(seg: np.ndarray) -> np.ndarray:
        """Point where segments `seg` leave their triangle (needed only at the ends of open chains)."""
        return _crossings(vx, vy, vz, c[seg], d[seg], pz[seg])

    return _assemble(start, plane, succ, n_planes, order, out, end_points)


def _crossings(
    vx: np.ndarray, vy: np.ndarray, vz: np.ndarray, a: np.ndarray, b: np.ndarray, pz: np.ndarray
) -> np.ndarray:
    """(n, 2) points where edges a -> b cross heights pz (each edge strictly spans its height)."""
    xa, ya, za = vx[a], vy[a], vz[a]
    t = (pz - za) / (vz[b] - za)
    out = np.empty((len(a), 2))
    out[:, 0] = xa + t * (vx[b] - xa)
    out[:, 1] = ya + t * (vy[b] - ya)
    return out


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
    s_order, s_sorted = _argsort_keys(start_key)
    e_order, e_sorted = _argsort_keys(end_key)
    succ = np.full(len(start_key), -1, dtype=np.int64)
    if np.array_equal(s_sorted, e_sorted):  # closed manifold sections: every point starts and ends once
        succ[e_order] = s_order
        return succ
    rank = np.arange(len(e_sorted)) - np.searchsorted(e_sorted, e_sorted, side="left")
    pos = np.searchsorted(s_sorted, e_sorted, side="left") + rank
    ok = pos < len(s_sorted)
    ok[ok] = s_sorted[pos[ok]] == e_sorted[ok]
    succ[e_order[ok]] = s_order[pos[ok]]
    return succ


def _argsort_keys(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, sorted keys) of non-negative int64 keys; packs the index into the low bits for a plain sort."""
    n = len(key)
    bits = max(int(n).bit_length(), 1)
    if n and int(key.max()) < (1 << (63 - bits)):
        packed = np.sort((key << bits) | np.arange(n, dtype=np.int64))
        return packed & ((1 << bits) - 1), packed >> bits
    order = np.argsort(key)
    return order, key[order]


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
    for k, tail in zip(open_comp.tolist(), tail_points):
        chain = np.vstack([points[offset[k] : offset[k] + size[k]], tail])
        open_chains.setdefault(int(comp_plane[k]), []).append(chain)
    closed = np.flatnonzero(~is_open & (size >= 3))
    for k in closed[np.argsort(comp_plane[closed], kind="stable")].tolist():
        out[comp_plane[k]].append(points[offset[k] : offset[k] + size[k]])
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


def union_layers(loops: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Non-zero union of each layer's loops: outers CCW, holes CW, strictly simple, no slivers, and no points
    within _COLLINEAR_MM of the line through their neighbours (clipper's CleanPolygons, before the union).

    Conversion to and from clipper's integer lists is done once for all layers (it costs more than the
    union itself when done polygon by polygon), with the cyclic garbage collector paused meanwhile: the many
    small point lists hold no cycles, and collections triggered by them would scan every live object.
    """
    with _gc_paused():
        return _union_layers(loops)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (if it runs) for a burst of acyclic allocations."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _union_layers(loops: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Body of `union_layers`."""
    counts = [len(layer) for layer in loops]
    flat_loops = [loop for layer in loops for loop in layer]
    if not flat_loops:
        return [[] for _ in loops]
    sizes = [len(loop) for loop in flat_loops]
    ints = np.rint(np.concatenate(flat_loops) * _SCALE).astype(np.int64).tolist()
    ends = np.cumsum(sizes).tolist()
    results: list[list[list[list[int]]]] = []
    k = 0
    for count in counts:
        paths = [ints[ends[i] - sizes[i] : ends[i]] for i in range(k, k + count)]
        k += count
        cleaned = pyclipper.CleanPolygons(paths, _COLLINEAR_MM * _SCALE) if paths else []
        results.append(_union([path for path in cleaned if len(path) >= 3]))
    return _to_arrays(results)


def _union(paths: list[list[list[int]]]) -> list[list[list[int]]]:
    """Clipper non-zero union of integer paths (strictly simple output); empty when nothing valid is given."""
    if not paths:
        return []
    clipper = pyclipper.Pyclipper()
    clipper.StrictlySimple = True
    for path in paths:
        try:
            clipper.AddPath(path, pyclipper.PT_SUBJECT, True)
        except pyclipper.ClipperException:  # a degenerate path (all points collinear)
            continue
    try:
        return clipper.Execute(pyclipper.CT_UNION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)
    except pyclipper.ClipperException:  # nothing valid was added
        return []


def _to_arrays(results: list[list[list[list[int]]]]) -> list[list[np.ndarray]]:
    """Clipper integer paths of every layer to (M, 2) float arrays in mm, dropping slivers, in one pass."""
    paths = [path for layer in results for path in layer]
    out: list[list[np.ndarray]] = [[] for _ in results]
    if not paths:
        return out
    sizes = np.array([len(path) for path in paths])
    n = int(sizes.sum())
    ints = np.fromiter(chain.from_iterable(chain.from_iterable(paths)), dtype=np.int64, count=2 * n)
    xy = ints.reshape(-1, 2) / _SCALE
    areas = _loop_areas(xy, sizes)
    starts = (np.cumsum(sizes) - sizes).tolist()
    keep = ((sizes >= 3) & (np.abs(areas) >= _MIN_AREA_MM2)).tolist()
    size_list = sizes.tolist()
    i = 0
    for layer_index, layer in enumerate(results):
        for _ in layer:
            if keep[i]:
                out[layer_index].append(xy[starts[i] : starts[i] + size_list[i]])
            i += 1
    return out


def _loop_areas(xy: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Signed area of each of the closed loops stored back to back in `xy` (`sizes` points each)."""
    x, y = xy[:, 0], xy[:, 1]
    nxt = np.arange(1, len(x) + 1)
    ends = np.cumsum(sizes)
    nxt[ends - 1] = ends - sizes
    terms = x * y[nxt] - x[nxt] * y
    return 0.5 * np.add.reduceat(terms, ends - sizes)


def polygon_area(poly: np.ndarray) -> float:
    """Signed area of a closed polygon given without its repeated first point (positive when CCW)."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
