"""Layer heights and horizontal sections of a mesh as clean polygons, computed for all planes in one numpy pass.

Method: every (triangle, plane) crossing is generated at once; each crossing segment runs from the point on the
triangle edge that goes down through the plane to the point on the edge that goes up, which makes outer
boundaries counter-clockwise for outward normals. A crossing point is named by (mesh edge, plane), so segments
chain into loops by matching names; loops are ordered by pointer jumping, then each layer is unioned (non-zero
fill) with pyclipper into outers (CCW) and holes (CW). Units: millimetres.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from slicing.loops import assemble_loops
from slicing.section_union import polygon_area, union_layers

__all__ = [
    "layer_tops",
    "mid_planes",
    "polygon_area",
    "section_loops",
    "slice_mesh",
    "slice_mesh_report",
    "union_layers",
]

_NUDGE_MM = 1e-6  # a plane through a vertex is moved up by this much
_PACK_LIMIT = 2.0**62  # (edge key, plane) pairs are packed into one int64 below this

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


def slice_mesh(mesh: Any, plane_z: np.ndarray) -> list[list[np.ndarray]]:
    """Closed polygons of each plane's section: (M, 2) arrays, outers CCW and holes CW."""
    return slice_mesh_report(mesh, plane_z)[0]


def slice_mesh_report(mesh: Any, plane_z: np.ndarray) -> tuple[list[list[np.ndarray]], int]:
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
    if np.any(planes[1:] < planes[:-1]):  # a nudged plane passed a neighbour closer than the nudge
        resort = np.argsort(planes, kind="stable")
        planes, order = planes[resort], order[resort]
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
    if float(nv) * float(nv) * float(n_p) >= _PACK_LIMIT:  # too many vertices to pack (edge, plane) in 64 bits
        numbered = np.unique(np.concatenate([start_edge, end_edge]), return_inverse=True)[1]
        start_edge, end_edge = numbered[:total], numbered[total:]
    succ = _match(start_edge * n_p + plane, end_edge * n_p + plane)

    def end_points(seg: np.ndarray) -> np.ndarray:
        """Point where segments `seg` leave their triangle (needed only at the ends of open chains)."""
        return _crossings(vx, vy, vz, c[seg], d[seg], pz[seg])

    return assemble_loops(start, plane, succ, n_planes, order, out, end_points)


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
