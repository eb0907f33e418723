"""Parallel-line fills (skin, sparse lines, grid) clipped to a region with one pyclipper call per region."""
from __future__ import annotations

import math

import numpy as np
import pyclipper

from slicing.regions import SCALE, IntPaths


def _rotation(angle_deg: float) -> np.ndarray:
    """2×2 rotation matrix for angle_deg."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s], [s, c]])


def line_fill(region: IntPaths, spacing: float, angles: tuple[float, ...], min_length: float = 0.0) -> np.ndarray:
    """Lines `spacing` mm apart at each angle (degrees), aligned to a fixed grid, clipped to region.

    Returns (N, 2, 2) float64 segments in mm, grouped by angle then by scanline, each running +x in
    the rotated frame. The scanline grid is anchored at the origin so consecutive layers line up.
    """
    if not region or spacing <= 0:
        return np.zeros((0, 2, 2))
    pts = np.concatenate([np.asarray(p, dtype=np.float64) for p in region]) / SCALE
    subject: list[list[list[int]]] = []
    rots = []
    for angle in angles:
        rot = _rotation(angle)
        rots.append(rot)
        local = pts @ rot  # coordinates in the frame where fill lines run along x
        lo, hi = local.min(axis=0), local.max(axis=0)
        k0, k1 = math.ceil(lo[1] / spacing), math.floor(hi[1] / spacing)
        if k1 < k0:
            continue
        ys = np.arange(k0, k1 + 1) * spacing
        x0, x1 = lo[0] - 1.0, hi[0] + 1.0
        ends = np.empty((len(ys), 2, 2))
        ends[:, 0, 0], ends[:, 1, 0] = x0, x1
        ends[:, :, 1] = ys[:, None]
        world = ends @ rot.T
        subject.extend(np.rint(world * SCALE).astype(np.int64).tolist())
    if not subject:
        return np.zeros((0, 2, 2))
    pc = pyclipper.Pyclipper()
    pc.AddPaths(subject, pyclipper.PT_SUBJECT, False)
    pc.AddPaths(region, pyclipper.PT_CLIP, True)
    tree = pc.Execute2(pyclipper.CT_INTERSECTION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)
    open_paths = pyclipper.OpenPathsFromPolyTree(tree)
    if not open_paths:
        return np.zeros((0, 2, 2))
    segs = np.asarray([(p[0], p[-1]) for p in open_paths], dtype=np.float64) / SCALE
    if min_length > 0:
        d = segs[:, 1] - segs[:, 0]
        segs = segs[np.hypot(d[:, 0], d[:, 1]) >= min_length]
    return _sort_scanlines(segs, rots)


def _sort_scanlines(segs: np.ndarray, rots: list[np.ndarray]) -> np.ndarray:
    """Sort segments by direction, scanline and position along it; orient each along the rotated +x."""
    if len(segs) == 0:
        return segs
    keys = []
    for i, rot in enumerate(rots):
        direction = rot[:, 0]
        normal = rot[:, 1]
        along = segs @ direction  # (N, 2) along-line coordinate of both ends
        across = segs.mean(axis=1) @ normal
        keys.append((i, along, across))
    # assign each segment to the angle whose direction it runs along
    d = segs[:, 1] - segs[:, 0]
    d /= np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-12)[:, None]
    align = np.stack([np.abs(d @ rot[:, 0]) for rot in rots])
    which = np.argmax(align, axis=0)
    along = np.take_along_axis(np.stack([k[1] for k in keys]), which[None, :, None], 0)[0]
    across = np.take_along_axis(np.stack([k[2] for k in keys]), which[None, :], 0)[0]
    flip = along[:, 0] > along[:, 1]
    segs = segs.copy()
    segs[flip] = segs[flip, ::-1]
    order = np.lexsort((np.minimum(along[:, 0], along[:, 1]), np.round(across, 3), which))
    return segs[order]


def fill_angles(pattern: str, base_angle: float, layer_index: int) -> tuple[float, ...]:
    """Line angles for a fill pattern on a layer: lines alternate 90° per layer, grid crosses both ways."""
    if pattern == "grid":
        return (base_angle, base_angle + 90.0)
    return (base_angle + 90.0 * (layer_index % 2),)


def sparse_spacing(pattern: str, line_width: float, density_percent: float) -> float:
    """Distance between sparse lines giving `density_percent` of the area filled (grid lays two sets)."""
    if density_percent <= 0:
        return 0.0
    spacing = line_width * 100.0 / density_percent
    return 2.0 * spacing if pattern == "grid" else spacing
