"""Overhanging walls: a wall loop split into pieces by how much of its line width hangs over the layer below.

A point of a wall's centre line hangs by h = (d + w/2) / w of its width w, d being its distance outside the layer
below's outline (negative inside); so h > e exactly where the point lies outside the layer below grown by
(e - 1/2)·w. With the edges 5 %, 25 %, 50 % and 75 % a point's class is the number of those grown outlines it lies
outside: 0 (held up, less than 5 % over air), then the quartiles 1 (5-25 %), 2 (25-50 %), 3 (50-75 %) and
4 (75-100 %), each with its speed and fan in the profile (`overhang_speeds`, `overhang_fans`), as PrusaSlicer 2.6's
dynamic overhang speeds. Loops are sampled every line width; pieces keep the loop's own vertices and add one
where the class changes. The classes are found with the layer (slicing/layers.py, in the layer workers), the pieces
once the planner knows where the loop starts. Units: mm.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyclipper

from slicing.order import closed_from
from slicing.regions import SCALE, IntPaths, boolean, offset

if TYPE_CHECKING:
    import shapely

EDGES = (0.05, 0.25, 0.5, 0.75)
"""Fractions of the line width over air where the overhang classes 1..4 begin."""


class HangZones:
    """One layer's test for hanging points: the layer below grown by (edge - 1/2)·w for each edge (prepared
    shapely geometry in clipper units, each built once a point lies outside the one before) and the box
    (x0, y0, x1, y1) mm outside which nothing hangs."""

    def __init__(self, below: IntPaths, line_width: float, box: tuple[float, float, float, float]) -> None:
        self.width = line_width
        self.box = box
        self.step = line_width
        self._offset = pyclipper.PyclipperOffset(2.0, 0.05 * SCALE)
        if below:
            self._offset.AddPaths(below, pyclipper.JT_MITER, pyclipper.ET_CLOSEDPOLYGON)
        self.held: list[shapely.Geometry] = []

    def zone(self, k: int) -> shapely.Geometry:
        """The layer below grown by (EDGES[k] - 1/2)·w, prepared, in clipper units (built on first use)."""
        import shapely  # (only for parts that overhang: start-up time)

        while len(self.held) <= k:
            tree = self._offset.Execute2((EDGES[len(self.held)] - 0.5) * self.width * SCALE)
            polys: list[shapely.Geometry] = []
            stack = list(tree.Childs)
            while stack:
                node = stack.pop()
                polys.append(shapely.Polygon(np.asarray(node.Contour, dtype=np.float64),
                                             [np.asarray(h.Contour, dtype=np.float64) for h in node.Childs]))
                for hole in node.Childs:
                    stack.extend(hole.Childs)
            geom = shapely.multipolygons(polys) if polys else shapely.Polygon()
            shapely.prepare(geom)
            self.held.append(geom)
        return self.held[k]


def hang_zones(outline: IntPaths, below: IntPaths, line_width: float) -> HangZones | None:
    """The zones of a layer over `below` (clipper paths of the islands beneath), or None when no wall of the layer
    can hang: its outline lies within the layer below grown by 5 % of a line width."""
    if not outline:
        return None
    hang = boolean(outline, offset(below, EDGES[0] * line_width), pyclipper.CT_DIFFERENCE) if below else outline
    if not hang:
        return None
    pts = np.concatenate([np.asarray(p, dtype=np.float64) for p in hang]) / SCALE
    lo, hi = pts.min(axis=0) - line_width, pts.max(axis=0) + line_width
    return HangZones(below, line_width, (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))


def hang_classes(points: np.ndarray, zones: HangZones) -> np.ndarray:
    """(N,) overhang class 0..4 of (N, 2) centre-line points (see the module docstring)."""
    import shapely
    x0, y0, x1, y1 = zones.box
    near = np.flatnonzero((points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1))
    out = np.zeros(len(points), dtype=np.int8)
    scaled = points * SCALE
    for k in range(len(EDGES)):
        if not len(near):
            break
        out_k = ~shapely.contains_xy(zones.zone(k), scaled[near, 0], scaled[near, 1])
        near = near[out_k]  # (the zones are nested: a point inside one is inside all the later ones)
        out[near] += 1
    return out


def _edge_samples(a: np.ndarray, b: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments a[j] -> b[j] (E, 2) sampled every `step`: the points from each segment's start (its end left out),
    the number of samples of each segment (the same wherever a loop starts), the segment of each point and its
    place along it (0: the segment's start)."""
    seg = b - a
    n = np.maximum(np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / step).astype(np.int64), 1)
    which = np.repeat(np.arange(len(seg)), n)
    k = np.arange(len(which)) - np.repeat(np.cumsum(n) - n, n)
    return a[which] + (k / n[which])[:, None] * seg[which], n, which, k


def _samples(poly: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A polyline (K, 2) sampled every `step` along each segment: the points (with the last vertex), the number of
    samples of each segment and which points are vertices."""
    dense, n, _, k = _edge_samples(poly[:-1], poly[1:], step)
    return np.vstack([dense, poly[-1:]]), n, np.concatenate([k == 0, [True]])


def wall_hangs(loop: np.ndarray, zones: HangZones | None) -> np.ndarray | None:
    """The overhang class of each sample of a closed wall loop (K, 2), its K edges taken from vertex 0 and each
    sampled every line width; None when none of it hangs (see `split_wall`)."""
    return layer_hangs([loop], zones)[0]


def layer_hangs(loops: list[np.ndarray], zones: HangZones | None) -> list[np.ndarray | None]:
    """`wall_hangs` of every wall loop of a layer, tested all at once."""
    out: list[np.ndarray | None] = [None] * len(loops)
    if zones is None:
        return out
    x0, y0, x1, y1 = zones.box
    pick = []
    for i, loop in enumerate(loops):
        if len(loop) < 2:
            continue
        lo, hi = loop.min(axis=0), loop.max(axis=0)
        if not (hi[0] < x0 or lo[0] > x1 or hi[1] < y0 or lo[1] > y1):
            pick.append(i)
    if not pick:
        return out
    closed = [closed_from(loops[i], 0) for i in pick]
    points = np.concatenate(closed)
    last = np.cumsum([len(c) for c in closed]) - 1  # each loop's closing vertex
    edge = np.ones(len(points) - 1, dtype=bool)
    edge[last[:-1]] = False  # (no edge from one loop to the next)
    b = points[1:][edge]
    dense, n, which, k = _edge_samples(points[:-1][edge], b, zones.step)
    after = np.empty_like(dense)  # the next point along each loop: the next sample, or the edge's end vertex
    after[:-1] = dense[1:]
    end = np.flatnonzero(k == n[which] - 1)
    after[end] = b[which[end]]
    cls = hang_classes(0.5 * (dense + after), zones)
    per_loop = np.add.reduceat(n, np.concatenate([[0], np.cumsum([len(loops[i]) for i in pick])[:-1]]))
    for i, part in zip(pick, np.split(cls, np.cumsum(per_loop)[:-1])):
        if part.any():
            out[i] = part
    return out


def split_wall(loop: np.ndarray, start: int, hangs: np.ndarray | None,
               step: float) -> tuple[list[np.ndarray], list[int]]:
    """A closed wall loop (K, 2) from vertex `start`, as consecutive pieces and the overhang class of each, from
    the classes `wall_hangs` gave its samples (`step` apart; None: one piece, class 0)."""
    poly = closed_from(loop, start)
    if hangs is None:
        return [poly], [0]
    dense, n, own = _samples(poly, step)
    first = int(np.roll(n, start)[:start].sum())  # the samples of the edges before `start`, from vertex 0
    cls = np.concatenate([hangs[first:], hangs[:first]])
    cuts = np.flatnonzero(cls[1:] != cls[:-1]) + 1  # dense points where the next piece begins
    bounds = np.concatenate([[0], cuts, [len(dense) - 1]])
    pieces, classes = [], []
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        keep = own[a:b + 1].copy()
        keep[0] = keep[-1] = True
        pieces.append(dense[a:b + 1][keep])
        classes.append(int(cls[a]))
    return pieces, classes
