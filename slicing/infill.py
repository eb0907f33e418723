"""Parallel-line fills (skin, sparse lines, grid) by vectorised scanline crossing of a region's edges.

A region is clean clipper output (non-overlapping outers and holes), so even-odd pairing of the crossings along
each scanline gives exactly the inside spans. Scanlines sit on a grid anchored at the origin, so the lines of
consecutive layers stack.
"""
from __future__ import annotations

import math

import numpy as np

from slicing.regions import SCALE, IntPaths


def _rotation(angle_deg: float) -> np.ndarray:
    """2×2 matrix whose columns are the line direction and its normal for angle_deg."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s], [s, c]])


def outline_edges(region: IntPaths) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points (E, 2) in mm of every edge of the closed paths."""
    starts = []
    ends = []
    for path in region:
        p = np.asarray(path, dtype=np.float64)
        if len(p) < 3:
            continue
        starts.append(p)
        ends.append(np.roll(p, -1, axis=0))
    if not starts:
        return np.zeros((0, 2)), np.zeros((0, 2))
    return np.concatenate(starts) / SCALE, np.concatenate(ends) / SCALE


def _scan(a: np.ndarray, b: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Inside spans of scanlines y = k·spacing for edges a→b (frame coordinates): (N, 2, 2) sorted by k, x, and k."""
    ya, yb = a[:, 1], b[:, 1]
    lo = np.minimum(ya, yb)
    hi = np.maximum(ya, yb)
    k0 = np.ceil(lo / spacing).astype(np.int64)
    k1 = np.ceil(hi / spacing).astype(np.int64)  # scanlines with lo <= y < hi
    counts = np.maximum(k1 - k0, 0)
    total = int(counts.sum())
    if total == 0:
        return np.zeros((0, 2, 2)), np.zeros(0, dtype=np.int64)
    edge = np.repeat(np.arange(len(a)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    k = k0[edge] + (np.arange(total) - first)
    y = k * spacing
    t = (y - ya[edge]) / (yb[edge] - ya[edge])
    x = a[edge, 0] + t * (b[edge, 0] - a[edge, 0])
    order = np.lexsort((x, k))
    x, k = x[order], k[order]
    if len(x) % 2:
        return np.zeros((0, 2, 2)), np.zeros(0, dtype=np.int64)
    x0, x1, kk = x[0::2], x[1::2], k[0::2]
    good = k[1::2] == kk
    segs = np.empty((len(x0), 2, 2))
    segs[:, 0, 0], segs[:, 1, 0] = x0, x1
    segs[:, 0, 1] = segs[:, 1, 1] = kk * spacing
    return segs[good], kk[good]


_GROUP = 1 << 32  # scanline ids of different angles are this far apart


def line_fill_indexed(region: IntPaths, spacing: float, angles: tuple[float, ...],
                      min_length: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Lines `spacing` mm apart at each angle (degrees) inside region, and the scanline id of each.

    Segments are (N, 2, 2) mm, grouped by angle, then by scanline, then by position, each running along the
    angle's direction. Ids are consecutive integers for neighbouring scanlines of one angle.
    """
    empty = np.zeros((0, 2, 2)), np.zeros(0, dtype=np.int64)
    if not region or spacing <= 0:
        return empty
    a, b = outline_edges(region)
    if len(a) == 0:
        return empty
    out, ids = [], []
    for group, angle in enumerate(angles):
        rot = _rotation(angle)
        segs, k = _scan(a @ rot, b @ rot, spacing)
        if min_length > 0 and len(segs):
            keep = segs[:, 1, 0] - segs[:, 0, 0] >= min_length
            segs, k = segs[keep], k[keep]
        out.append(segs @ rot.T)
        ids.append(k + group * _GROUP)
    if len(out) == 1:
        return out[0], ids[0]
    return np.concatenate(out), np.concatenate(ids)


def line_fill(region: IntPaths, spacing: float, angles: tuple[float, ...], min_length: float = 0.0) -> np.ndarray:
    """Lines `spacing` mm apart at each angle (degrees) inside region: (N, 2, 2) mm, by angle, scanline, position."""
    return line_fill_indexed(region, spacing, angles, min_length)[0]


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
