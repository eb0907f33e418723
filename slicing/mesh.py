"""Load a design file into one repaired triangle mesh, and place it on the bed.

Units are millimetres throughout. Binary STL is read straight into numpy (the common, large case); every other
format goes through trimesh without its slow processing, and all formats share the same weld and repair steps.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from slicing.errors import MeshError

_STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("corners", "<f4", (3, 3)), ("attr", "<u2")])
_WELD_MM = 1e-5  # corners closer than this (on a grid) are one vertex
_FLAT_MM = 1e-6  # a part thinner than this has no height to slice
_BROKEN_OPEN_FRACTION = 0.5  # more open edges than this share of all edges: a triangle soup, not a solid
_SUPPORTED = ".stl .obj .3mf .ply .off .glb .gltf .dae"


@dataclass(frozen=True)
class LoadedMesh:
    """A design file loaded into one mesh, with the repairs made and what is still wrong with it."""

    mesh: trimesh.Trimesh
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
    corners = _read_binary_stl(p, size)
    repairs: list[str] = []
    if corners is not None:
        vertices, faces = _weld(corners.reshape(-1, 3))
    else:
        vertices, faces = _read_with_trimesh(p)
        n_in = len(vertices)
        vertices, faces = _weld(vertices[faces].reshape(-1, 3))
        if len(vertices) < n_in:
            repairs.append(f"merged {n_in - len(vertices)} duplicate vertices")
    if len(faces) == 0:
        raise MeshError(f"{name} has no triangles")
    if not np.all(np.isfinite(vertices)):
        raise MeshError(f"{name} has vertices with NaN or infinite coordinates")
    height = float(vertices[:, 2].max() - vertices[:, 2].min())
    if height < _FLAT_MM:
        raise MeshError(f"{name} is flat (zero height at z={vertices[0, 2]:.3f} mm): nothing to slice")
    faces = _drop_bad_faces(vertices, faces, repairs)
    if len(faces) == 0:
        raise MeshError(f"{name} has only degenerate triangles (corners welded together)")
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False, validate=False)
    if len(np.unique(faces)) < len(vertices):
        mesh.remove_unreferenced_vertices()
    warnings = _repair_topology(mesh, name, repairs)
    return LoadedMesh(mesh=mesh, name=name, repairs=tuple(repairs), warnings=tuple(warnings))


def place_on_bed(
    mesh: trimesh.Trimesh,
    bed_size: tuple[float, float, float],
    center: tuple[float, float] | None = None,
) -> trimesh.Trimesh:
    """Copy of `mesh` with its XY box centred on `center` (default: bed centre) and its lowest point at z=0."""
    lo, hi = mesh.bounds
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
    return trimesh.Trimesh(vertices=mesh.vertices + shift, faces=mesh.faces, process=False, validate=False)


def _read_binary_stl(path: Path, size: int) -> np.ndarray | None:
    """(n, 3, 3) float64 triangle corners when the file is a well-formed binary STL, else None."""
    if path.suffix.lower() != ".stl" or size < 84:
        return None
    with path.open("rb") as fh:
        header = fh.read(84)
    count = int(np.frombuffer(header, dtype="<u4", count=1, offset=80)[0])
    if size != 84 + 50 * count:
        return None
    records = np.fromfile(path, dtype=_STL_RECORD, count=count, offset=84)
    return records["corners"].astype(np.float64)


def _read_with_trimesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces of any file trimesh reads as a mesh; scenes are concatenated."""
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
    """Merge corner points that agree to _WELD_MM into shared vertices; returns (vertices, faces).

    Sorts one 64-bit hash of the quantised coordinates (one sort instead of a three-key lexsort) and checks
    every group against the exact quantised values, falling back to the lexsort if a hash ever collides.
    """
    pts = np.ascontiguousarray(points, dtype=np.float64)
    q = np.rint(pts * (1.0 / _WELD_MM)).astype(np.int64)
    h = q.view(np.uint64)
    key = (h[:, 0] * np.uint64(0x9E3779B97F4A7C15)) ^ (h[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F))
    key ^= h[:, 2] * np.uint64(0x165667B19E3779F9)
    order = np.argsort(key, kind="stable")
    sk = key[order]
    new = np.empty(len(sk), dtype=bool)
    new[0] = True
    np.not_equal(sk[1:], sk[:-1], out=new[1:])
    group = np.cumsum(new) - 1
    sq = q[order]
    if not np.array_equal(sq, sq[new][group]):
        order = np.lexsort((q[:, 2], q[:, 1], q[:, 0]))
        sq = q[order]
        np.any(sq[1:] != sq[:-1], axis=1, out=new[1:])
        group = np.cumsum(new) - 1
    inverse = np.empty(len(pts), dtype=np.int64)
    inverse[order] = group
    return pts[order[new]], inverse.reshape(-1, 3)


def _drop_bad_faces(vertices: np.ndarray, faces: np.ndarray, repairs: list[str]) -> np.ndarray:
    """Remove triangles whose corners were welded together, and exact duplicate triangles.

    Needle triangles (three distinct but collinear corners) stay: removing them would open a crack.
    """
    bad = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
    if bad.any():
        repairs.append(f"removed {int(bad.sum())} degenerate triangles")
        faces = faces[~bad]
    key = np.sort(faces, axis=1)
    n = np.int64(faces.max() + 1) if len(faces) else np.int64(1)
    flat = (key[:, 0] * n + key[:, 1]) * n + key[:, 2] if n < 2_000_000 else None
    if flat is not None:
        _, first = np.unique(flat, return_index=True)
    else:
        _, first = np.unique(key, axis=0, return_index=True)
    if len(first) < len(faces):
        repairs.append(f"removed {len(faces) - len(first)} duplicate triangles")
        faces = faces[np.sort(first)]
    return faces


def edge_counts(faces: np.ndarray, n_vertices: int) -> tuple[int, int, bool]:
    """(open edges, non-manifold edges, winding consistent) from the directed edges of `faces`."""
    a = faces.reshape(-1)
    b = faces[:, [1, 2, 0]].reshape(-1)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo.astype(np.int64) * np.int64(n_vertices) + hi
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    direction = np.bincount(inverse, weights=np.where(a < b, 1.0, -1.0), minlength=len(counts))
    return int(np.sum(counts == 1)), int(np.sum(counts > 2)), bool(np.all(direction[counts > 1] == 0))


def _repair_topology(mesh: trimesh.Trimesh, name: str, repairs: list[str]) -> list[str]:
    """Fix winding and outward normals, fill small holes; returns warnings about what remains."""
    faces = np.asarray(mesh.faces)
    n_open, n_nonmanifold, consistent = edge_counts(faces, len(mesh.vertices))
    n_edges = len(faces) * 3 // 2
    if n_open > _BROKEN_OPEN_FRACTION * max(n_edges, 1) and n_open > 12:
        raise MeshError(
            f"{name} is broken beyond use: {n_open} open edges on {len(faces)} triangles "
            "(the triangles do not connect into surfaces)"
        )
    if not consistent:
        before = faces.copy()
        trimesh.repair.fix_normals(mesh, multibody=True)
        flipped = int(np.sum(np.any(np.asarray(mesh.faces) != before, axis=1)))
        repairs.append(f"fixed winding and normals of {flipped} triangles")
    elif _signed_volume(mesh) < 0:
        mesh.invert()
        repairs.append("inverted all normals (mesh was inside out)")
    if n_open:
        trimesh.repair.fill_holes(mesh)
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


def _signed_volume(mesh: trimesh.Trimesh) -> float:
    """Signed enclosed volume (positive when normals point outward), without trimesh's mass properties."""
    tri = np.asarray(mesh.vertices)[np.asarray(mesh.faces)]
    return float(np.einsum("ij,ij->", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6.0)
