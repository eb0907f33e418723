"""Load a design file into one repaired triangle mesh, and place it on the bed.

Units are millimetres throughout. Binary STL is read straight into numpy (the common, large case); every other
format goes through trimesh without its slow processing, and all formats share the same weld and repair steps.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slicing.errors import MeshError
from slicing.solid import Solid

_STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("corners", "<f4", (3, 3)), ("attr", "<u2")])
_WELD_MM = 1e-5  # corners closer than this (on a grid) are one vertex
_FLAT_MM = 1e-6  # a part thinner than this has no height to slice
_BROKEN_OPEN_FRACTION = 0.5  # more open edges than this share of all edges: a triangle soup, not a solid
_SUPPORTED = ".stl .obj .3mf .ply .off .glb .gltf .dae"


@dataclass(frozen=True)
class LoadedMesh:
    """A design file loaded into one mesh, with the repairs made and what is still wrong with it."""

    mesh: Solid
    name: str
    repairs: tuple[str, ...]
    warnings: tuple[str, ...]


def load_mesh(path: str | os.PathLike[str]) -> LoadedMesh:
    """Read STL/OBJ/3MF (or any mesh trimesh reads) and repair it; MeshError when it cannot be sliced."""
    p = Path(path)
    name = p.name
    if not p.exists():
        raise MeshError(f"{p}: file not found")
    if not p.is_file():
        raise MeshError(f"{p}: not a file")
    size = p.stat().st_size
    if size == 0:
        raise MeshError(f"{name} is empty (0 bytes)")
    try:
        corners = _read_binary_stl(p, size)
    except OSError as exc:
        raise MeshError(f"{name} could not be read: {exc.strerror or exc}") from exc
    repairs: list[str] = []
    if corners is not None:
        if len(corners) == 0:
            raise MeshError(f"{name} has no triangles")
        vertices, faces = _weld(corners.reshape(-1, 3))
    else:
        vertices, faces = _read_with_trimesh(p)
        n_in = len(vertices)
        vertices, faces = _weld(vertices[faces].reshape(-1, 3))
        if len(vertices) < n_in:
            repairs.append(f"merged {n_in - len(vertices)} duplicate vertices")
    _check_finite(vertices, name)
    height = float(vertices[:, 2].max() - vertices[:, 2].min())
    if height < _FLAT_MM:
        raise MeshError(f"{name} is flat (zero height at z={vertices[0, 2]:.3f} mm): nothing to slice")
    faces, counts = _drop_bad_faces(faces, len(vertices), repairs)
    if len(faces) == 0:
        raise MeshError(f"{name} has only degenerate triangles (corners welded together)")
    mesh = Solid(vertices, faces)
    if not np.bincount(faces.reshape(-1), minlength=len(vertices)).all():
        mesh.remove_unreferenced_vertices()
    warnings = _repair_topology(mesh, name, counts, repairs)
    return LoadedMesh(mesh=mesh, name=name, repairs=tuple(repairs), warnings=tuple(warnings))


def place_on_bed(
    mesh: Any,
    bed_size: tuple[float, float, float],
    center: tuple[float, float] | None = None,
) -> Solid:
    """Copy of `mesh` with its XY box centred on `center` (default: bed centre) and its lowest point at z=0."""
    vertices = np.asarray(mesh.vertices)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    ext = hi - lo
    bx, by, bz = (float(b) for b in bed_size)
    size = f"{ext[0]:.1f} x {ext[1]:.1f} x {ext[2]:.1f} mm"
    bed = f"{bx:g} x {by:g} x {bz:g} mm"
    for axis, extent, limit in (("X", ext[0], bx), ("Y", ext[1], by), ("height", ext[2], bz)):
        if extent > limit + 1e-9:
            raise MeshError(f"part is {size}, bigger than the {bed} bed ({axis} {extent:.1f} > {limit:g} mm)")
    cx, cy = (bx / 2.0, by / 2.0) if center is None else (float(center[0]), float(center[1]))
    shift = np.array([cx - (lo[0] + hi[0]) / 2.0, cy - (lo[1] + hi[1]) / 2.0, -lo[2]])
    new_lo, new_hi = lo + shift, hi + shift
    if new_lo[0] < -1e-9 or new_lo[1] < -1e-9 or new_hi[0] > bx + 1e-9 or new_hi[1] > by + 1e-9:
        raise MeshError(
            f"part of {size} centred at ({cx:g}, {cy:g}) leaves the {bed} bed "
            f"(spans X {new_lo[0]:.1f}..{new_hi[0]:.1f}, Y {new_lo[1]:.1f}..{new_hi[1]:.1f})"
        )
    return Solid(vertices + shift, np.asarray(mesh.faces))


def _check_finite(coordinates: np.ndarray, name: str) -> None:
    """MeshError when any vertex has a NaN or infinite coordinate (a corrupt file)."""
    bad = ~np.isfinite(coordinates).all(axis=1)
    if bad.any():
        raise MeshError(f"{name} has {int(bad.sum())} vertices with NaN or infinite coordinates")


def _read_binary_stl(path: Path, size: int) -> np.ndarray | None:
    """(n, 3, 3) float32 triangle corners when the file is a well-formed binary STL, else None."""
    if path.suffix.lower() != ".stl" or size < 84:
        return None
    with path.open("rb") as fh:
        header = fh.read(84)
    count = int(np.frombuffer(header, dtype="<u4", count=1, offset=80)[0])
    if size != 84 + 50 * count:
        return None
    records = np.fromfile(path, dtype=_STL_RECORD, count=count, offset=84)
    return records["corners"]


def _read_with_trimesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces of any file trimesh reads as a mesh; scenes are concatenated."""
    import trimesh

    try:
        loaded = trimesh.load(str(path), force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for unreadable input
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MeshError(f"{path.name} could not be read as a mesh ({_SUPPORTED}): {detail}") from exc
    if not isinstance(loaded, trimesh.Trimesh):
        raise MeshError(f"{path.name} is not a triangle mesh (read as {type(loaded).__name__})")
    vertices = np.asarray(loaded.vertices, dtype=np.float64)
    faces = np.asarray(loaded.faces, dtype=np.int64)
    if faces.ndim != 2 or len(faces) == 0 or len(vertices) == 0:
        raise MeshError(f"{path.name} contains no triangles")
    return vertices, faces.reshape(-1, 3)


def _weld(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge corner points that agree to _WELD_MM into shared vertices; returns (float64 vertices, faces).

    First merges bit-identical corners (the bulk of an STL, on the raw bits), then snaps the survivors to a
    _WELD_MM grid so corners that differ only by rounding noise become one vertex.
    """
    pts = np.ascontiguousarray(points) + points.dtype.type(0)  # -0.0 becomes 0.0, so equal values share bits
    bits = pts.view(np.uint32 if pts.dtype == np.float32 else np.uint64)
    first, inverse = _group_rows(bits)
    unique = pts[first].astype(np.float64)
    with np.errstate(invalid="ignore"):  # NaN corners weld together here and are refused by the caller
        grid = np.rint(unique * (1.0 / _WELD_MM)).astype(np.int64)
    first2, inverse2 = _group_rows(grid)
    return unique[first2], inverse2[inverse].reshape(-1, 3)


def _group_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group equal rows of an (n, 3) integer array: (index of one row per group, group of every row).

    Sorts one hash (with the row index packed into its low bits, so a plain sort gives the order) instead of a
    three-key lexsort; every group is checked against the exact rows (column by column: 1-D gathers are much
    faster than row gathers) and the lexsort is used only if two different rows share a hash.
    """
    cols = [np.ascontiguousarray(rows[:, k]) for k in range(3)]
    key = cols[0].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    key ^= cols[1].astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
    key ^= cols[2].astype(np.uint64) * np.uint64(0x165667B19E3779F9)
    bits = max(len(rows).bit_length(), 1)  # sort the top bits of the hash with the row index packed below
    packed = np.sort(((key >> np.uint64(bits)) << np.uint64(bits)) | np.arange(len(rows), dtype=np.uint64))
    order = (packed & np.uint64((1 << bits) - 1)).astype(np.int64)
    sk = packed >> np.uint64(bits)
    new = np.empty(len(sk), dtype=bool)
    new[0] = True
    np.not_equal(sk[1:], sk[:-1], out=new[1:])
    collided = False
    for col in cols:  # rows that share a hash must be equal: compare each sorted row with the one before it
        sc = col[order]
        collided = collided or bool(np.any((sc[1:] != sc[:-1]) & ~new[1:]))
    group = np.cumsum(new) - 1
    firsts = order[new]
    if collided:
        order = np.lexsort((cols[2], cols[1], cols[0]))
        new[1:] = False
        for col in cols:
            sc = col[order]
            new[1:] |= sc[1:] != sc[:-1]
        group = np.cumsum(new) - 1
        firsts = order[new]
    inverse = np.empty(len(rows), dtype=np.int64)
    inverse[order] = group
    return firsts, inverse


def _drop_bad_faces(
    faces: np.ndarray, n_vertices: int, repairs: list[str]
) -> tuple[np.ndarray, tuple[int, int, bool]]:
    """Remove triangles whose corners were welded together and exact duplicates; returns them with edge_counts.

    Needle triangles (three distinct but collinear corners) stay: removing them would open a crack. Duplicates
    are looked for only when some edge has more than two triangles, since a duplicate always makes one.
    """
    bad = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
    if bad.any():
        repairs.append(f"removed {int(bad.sum())} degenerate triangles")
        faces = faces[~bad]
    if len(faces) == 0:
        return faces, (0, 0, True)
    counts = edge_counts(faces, n_vertices)
    if counts[1] == 0:
        return faces, counts
    first, _ = _group_rows(np.sort(faces, axis=1))
    if len(first) < len(faces):
        repairs.append(f"removed {len(faces) - len(first)} duplicate triangles")
        faces = faces[np.sort(first)]
        counts = edge_counts(faces, n_vertices)
    return faces, counts


def edge_counts(faces: np.ndarray, n_vertices: int) -> tuple[int, int, bool]:
    """(open edges, non-manifold edges, winding consistent) from the directed edges of `faces`.

    One plain sort of (undirected edge key, direction bit): an edge is open when alone, non-manifold when shared
    by more than two triangles, and the winding is consistent when every shared edge is used as often in
    each direction.
    """
    a = faces.reshape(-1).astype(np.int64)
    b = faces[:, [1, 2, 0]].reshape(-1).astype(np.int64)
    key = np.sort(((np.minimum(a, b) * np.int64(n_vertices) + np.maximum(a, b)) << 1) | (a > b))
    edge = key >> 1
    first = np.flatnonzero(np.concatenate([[True], edge[1:] != edge[:-1]]))
    counts = np.diff(np.append(first, len(key)))
    backward = np.add.reduceat(key & 1, first)
    shared = counts > 1
    consistent = bool(np.all(2 * backward[shared] == counts[shared]))
    return int(np.sum(counts == 1)), int(np.sum(counts > 2)), consistent


def _repair_topology(
    mesh: Solid, name: str, counts: tuple[int, int, bool], repairs: list[str]
) -> list[str]:
    """Fix winding and outward normals, fill small holes; returns warnings about what remains."""
    faces = np.asarray(mesh.faces)
    n_open, n_nonmanifold, consistent = counts
    n_edges = len(faces) * 3 // 2
    if n_open > _BROKEN_OPEN_FRACTION * max(n_edges, 1) and n_open > 12:
        raise MeshError(
            f"{name} is broken beyond use: {n_open} open edges on {len(faces)} triangles "
            "(the triangles do not connect into surfaces)"
        )
    if not consistent:
        oriented, flipped = orient_faces(np.asarray(mesh.vertices), faces)
        mesh.faces = oriented
        repairs.append(f"fixed winding and normals of {flipped} triangles")
    elif _signed_volume(mesh) < 0:
        mesh.invert()
        repairs.append("inverted all normals (mesh was inside out)")
    if n_open:
        import trimesh

        filled = mesh.to_trimesh()
        trimesh.repair.fill_holes(filled)
        mesh.vertices, mesh.faces = np.asarray(filled.vertices, dtype=np.float64), np.asarray(filled.faces)
        n_open_after, n_nonmanifold, _ = edge_counts(np.asarray(mesh.faces), len(mesh.vertices))
        if n_open_after < n_open:
            repairs.append(f"filled small holes: closed {n_open - n_open_after} of {n_open} open edges")
        n_open = n_open_after
    if n_open or n_nonmanifold:
        problems = []
        if n_open:
            problems.append(f"{n_open} open edges")
        if n_nonmanifold:
            problems.append(f"{n_nonmanifold} non-manifold edges")
        return [f"not watertight: {', '.join(problems)}; sliced as is"]
    return []


def orient_faces(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, int]:
    """Faces rewound so each connected piece is consistently wound with outward normals; and how many flipped.

    Orientation is a two-colouring: across an edge shared by two triangles, they need the same flip state
    when they run the edge in opposite directions and different states otherwise. On the double cover
    (every face once unflipped, once flipped) the components of that relation are found in one scipy call;
    each piece keeps the state of its lowest-numbered face, then pieces enclosing negative volume are turned
    inside out. Edges of three or more triangles do not constrain (they cannot all agree).
    """
    from scipy.sparse import coo_matrix  # only for a mis-wound mesh: the import costs the command line 0.4 s
    from scipy.sparse.csgraph import connected_components

    m = len(faces)
    a = faces.reshape(-1).astype(np.int64)
    b = faces[:, [1, 2, 0]].reshape(-1).astype(np.int64)
    key = np.minimum(a, b) * np.int64(len(vertices)) + np.maximum(a, b)
    order = np.argsort(key)
    sk = key[order]
    first = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
    counts = np.diff(np.append(first, len(sk)))
    pair = first[counts == 2]
    h1, h2 = order[pair], order[pair + 1]
    f1, f2 = h1 // 3, h2 // 3
    odd = (a[h1] == a[h2]).astype(np.int64)  # same direction: one of the two must flip
    rows = np.concatenate([f1, f1 + m])
    cols = np.concatenate([f2 + m * odd, f2 + m * (1 - odd)])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(2 * m, 2 * m))
    label = connected_components(graph, directed=False)[1]
    flip = label[m:] < label[:m]
    piece = np.minimum(label[:m], label[m:])
    oriented = np.where(flip[:, None], faces[:, ::-1], faces)
    volume = np.bincount(piece, weights=_volume_terms(vertices, oriented))
    flip ^= volume[piece] < 0
    oriented = np.where(flip[:, None], faces[:, ::-1], faces)
    return oriented, int(flip.sum())


def _volume_terms(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Each face's share of the signed enclosed volume (divergence theorem on z: projected area x mean z)."""
    vx, vy, vz = (np.ascontiguousarray(vertices[:, k]) for k in range(3))
    f0, f1, f2 = (np.ascontiguousarray(faces[:, k]) for k in range(3))
    x0, y0 = vx[f0], vy[f0]
    area2 = (vx[f1] - x0) * (vy[f2] - y0) - (vx[f2] - x0) * (vy[f1] - y0)
    return area2 * (vz[f0] + vz[f1] + vz[f2]) / 6.0


def _signed_volume(mesh: Solid) -> float:
    """Signed enclosed volume (positive when normals point outward), without trimesh's mass properties."""
    return float(_volume_terms(np.asarray(mesh.vertices), np.asarray(mesh.faces)).sum())
