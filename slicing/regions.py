"""Per-layer regions: islands of a layer outline, wall loops by polygon offset, and solid/sparse areas.

Polygons travel between functions as pyclipper integer paths (lists of [x, y] in CLIPPER units per mm);
loops handed to path ordering are (K, 2) float64 arrays in mm. Outer contours are CCW, holes CW.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyclipper

SCALE = 10_000.0  # clipper units per millimetre (0.1 µm resolution)
SIMPLIFY_MM = 0.01  # outline vertices this close to their neighbours' line are dropped

IntPaths = list[list[list[int]]]


def to_clipper(polygons: list[np.ndarray]) -> IntPaths:
    """Convert (M, 2) float mm polygons to clipper integer paths."""
    return [np.rint(np.asarray(p, dtype=np.float64) * SCALE).astype(np.int64).tolist() for p in polygons]


def from_clipper(paths: IntPaths) -> list[np.ndarray]:
    """Convert clipper integer paths to (M, 2) float mm arrays."""
    return [np.asarray(p, dtype=np.float64) / SCALE for p in paths if len(p) >= 2]


def area(paths: IntPaths) -> float:
    """Signed-sum area in mm² of clipper paths (holes negative, so a region's net area)."""
    return float(sum(pyclipper.Area(p) for p in paths)) / (SCALE * SCALE)


def offset(paths: IntPaths, delta_mm: float, join: int = pyclipper.JT_MITER) -> IntPaths:
    """Offset closed paths by delta_mm (negative shrinks) in one pyclipper call."""
    if not paths:
        return []
    pco = pyclipper.PyclipperOffset(2.0, 0.05 * SCALE)
    pco.AddPaths(paths, join, pyclipper.ET_CLOSEDPOLYGON)
    return pco.Execute(delta_mm * SCALE)


def boolean(subject: IntPaths, clip: IntPaths, op: int) -> IntPaths:
    """Boolean operation (pyclipper CT_*) between two sets of closed paths, non-zero fill; empty sets allowed."""
    if op == pyclipper.CT_UNION:
        return pyclipper_union(subject + clip)
    if not subject:
        return []
    if not clip:
        return [] if op == pyclipper.CT_INTERSECTION else subject
    pc = pyclipper.Pyclipper()
    pc.AddPaths(subject, pyclipper.PT_SUBJECT, True)
    pc.AddPaths(clip, pyclipper.PT_CLIP, True)
    return pc.Execute(op, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)


def pyclipper_union(paths: IntPaths) -> IntPaths:
    """Union of closed paths with non-zero fill (merges overlapping bodies, keeps holes)."""
    if not paths:
        return []
    pc = pyclipper.Pyclipper()
    pc.AddPaths(paths, pyclipper.PT_SUBJECT, True)
    return pc.Execute(pyclipper.CT_UNION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)


def islands(polygons: list[np.ndarray], tolerance: float = SIMPLIFY_MM) -> list[IntPaths]:
    """Split a layer's section polygons into islands: each an outer contour followed by its holes.

    Vertices closer than `tolerance` mm to their neighbours' line are dropped first (mesh noise a nozzle cannot
    draw), which makes every later offset and fill cheaper.
    """
    paths = [p for p in to_clipper(polygons) if len(p) >= 3]
    if tolerance > 0:
        paths = [p for p in pyclipper.CleanPolygons(paths, tolerance * SCALE) if len(p) >= 3]
    if not paths:
        return []
    return components(paths)


def components(paths: IntPaths) -> list[IntPaths]:
    """Union clipper paths and split them into pieces: each an outer contour followed by its holes."""
    if not paths:
        return []
    pc = pyclipper.Pyclipper()
    try:
        pc.AddPaths(paths, pyclipper.PT_SUBJECT, True)
    except pyclipper.ClipperException:
        return []
    tree = pc.Execute2(pyclipper.CT_UNION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)
    out: list[IntPaths] = []
    stack = list(tree.Childs)
    while stack:
        node = stack.pop()
        out.append([node.Contour] + [h.Contour for h in node.Childs])
        for hole in node.Childs:
            stack.extend(hole.Childs)
    return out


@dataclass(frozen=True)
class IslandRegions:
    """One island of a layer: its outline, wall loops per depth (0 = outer wall) and the inner area."""

    outline: IntPaths
    walls: list[list[np.ndarray]]
    inner: IntPaths
    thin_area: float  # mm² of the outline too narrow to hold the outer wall


def island_regions(outline: IntPaths, line_width: float, perimeters: int, overlap: float,
                   centre_narrow: bool = False) -> IslandRegions:
    """Walls as offsets at w/2 + k·w inside the outline; the inner area starts `overlap` mm inside the last wall.

    With `centre_narrow`, the outer wall leaves out the parts narrower than two lines (what an opening by one
    line width removes), where its loop would fold onto itself and print a bead on a bead; they are left to the
    centre lines of slicing/thin.py. The deeper walls are the same either way (an eroded opening is the erosion).
    """
    walls: list[list[np.ndarray]] = []
    first: IntPaths = []
    wide = outline
    if centre_narrow and perimeters > 0:
        wide = offset(offset(outline, -line_width), line_width)
    for k in range(perimeters):
        loops = offset(wide if k == 0 else outline, -(0.5 + k) * line_width)
        if k == 0:
            first = loops
        if not loops:
            break
        walls.append(from_clipper(loops))
    depth = perimeters * line_width if perimeters else 0.5 * line_width
    inner = offset(outline, overlap - depth) if len(walls) == perimeters else []
    thin = 0.0
    if perimeters > 0:
        thin = _thin_area(outline, first, 0.5 * line_width)
    return IslandRegions(outline=outline, walls=walls, inner=inner, thin_area=thin)


def _length(paths: IntPaths) -> float:
    """Total length in mm of closed paths."""
    total = 0.0
    for p in paths:
        a = np.asarray(p, dtype=np.float64)
        d = np.roll(a, -1, axis=0) - a
        total += float(np.hypot(d[:, 0], d[:, 1]).sum())
    return total / SCALE


def _thin_area(outline: IntPaths, first: IntPaths, r: float) -> float:
    """Area of the outline the outer wall cannot reach: outline minus the first wall loops grown by r.

    A Steiner estimate (area + length·r + π·r² per loop) screens the common case; the exact morphological
    opening is computed only when the estimate says something may be missing.
    """
    whole = area(outline)
    if not first:
        return whole
    turning = sum(1 if pyclipper.Orientation(p) else -1 for p in first)
    estimate = whole - (area(first) + _length(first) * r + turning * np.pi * r * r)
    if estimate < 2.0 * r * r:
        return 0.0
    return max(whole - area(offset(first, r)), 0.0)


def intersect_all(regions: list[IntPaths]) -> IntPaths:
    """Intersection of several regions (empty when any is empty or the list is empty)."""
    if not regions:
        return []
    acc = regions[0]
    for r in regions[1:]:
        if not acc:
            return []
        acc = boolean(acc, r, pyclipper.CT_INTERSECTION)
    return acc


def split_solid(inner: IntPaths, covered: IntPaths, min_area: float) -> tuple[IntPaths, IntPaths]:
    """Split an inner area into (solid, sparse): solid is what `covered` (by the layers around) does not cover."""
    if not inner:
        return [], []
    if not covered:
        return inner, []
    solid = boolean(inner, covered, pyclipper.CT_DIFFERENCE)
    if area(solid) < min_area:
        return [], inner
    sparse = boolean(inner, covered, pyclipper.CT_INTERSECTION)
    return solid, sparse
