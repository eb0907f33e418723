"""A triangle mesh as the slicer needs it: vertices and faces in numpy, without trimesh's import cost.

`import trimesh` takes about a second (it pulls in scipy.spatial, networkx, shapely); the command line loads a
binary STL and slices it without it. trimesh is imported only to read other formats and to fill holes.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class Solid:
    """Vertices (V, 3) float64 mm and faces (F, 3) int64; what the slicer, the tests and the repair steps ask."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        self.vertices = np.asarray(vertices, dtype=np.float64)
        self.faces = np.asarray(faces, dtype=np.int64)

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3) lowest and highest corner of the box around the mesh."""
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])

    @property
    def extents(self) -> np.ndarray:
        """(3,) size of the box around the mesh."""
        lo, hi = self.bounds
        return hi - lo

    @property
    def volume(self) -> float:
        """Enclosed volume, mm³ (positive when the normals point outward)."""
        v, f = self.vertices, self.faces
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)

    def _edges(self) -> tuple[int, int, bool]:
        """(open edges, edges of three or more faces, consistently wound) as slicing.mesh.edge_counts gives."""
        from slicing.mesh import edge_counts

        return edge_counts(self.faces, len(self.vertices))

    @property
    def is_watertight(self) -> bool:
        """Every edge shared by exactly two faces."""
        n_open, n_nonmanifold, _ = self._edges()
        return n_open == 0 and n_nonmanifold == 0

    @property
    def is_winding_consistent(self) -> bool:
        """Every edge that two faces share run in opposite directions by them (edges of three or more faces
        cannot agree and are not asked, as trimesh does)."""
        a = self.faces.reshape(-1)
        b = self.faces[:, [1, 2, 0]].reshape(-1)
        key = np.minimum(a, b) * np.int64(max(len(self.vertices), 1)) + np.maximum(a, b)
        forward = (a < b).astype(np.int64)
        uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        ahead = np.bincount(inverse, weights=forward, minlength=len(uniq))
        pairs = counts == 2
        return bool(np.all(ahead[pairs] == 1))

    def invert(self) -> None:
        """Turn the mesh inside out (reverse every face)."""
        self.faces = self.faces[:, ::-1].copy()

    def remove_unreferenced_vertices(self) -> None:
        """Drop vertices no face uses, renumbering the faces."""
        used = np.zeros(len(self.vertices), dtype=bool)
        used[self.faces.reshape(-1)] = True
        new_index = np.cumsum(used) - 1
        self.vertices = self.vertices[used]
        self.faces = new_index[self.faces]

    def to_trimesh(self) -> Any:
        """The same mesh as a trimesh.Trimesh (imports trimesh)."""
        import trimesh

        return trimesh.Trimesh(vertices=self.vertices, faces=self.faces, process=False, validate=False)
