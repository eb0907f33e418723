"""Thin walls and gap fill: the parts of an island its walls cannot reach, printed as centre lines of their width.

A rib narrower than one line gets no wall loop at all, one narrower than two lines gets none either (its loop
would fold onto itself: slicing/regions.py leaves it out), and between walls (or inside the last one, where the
next would not fit) a strip narrower than a line is left empty. Each such strip is printed along its medial
axis, found from the Voronoi diagram of points sampled along its boundary, with the flow of its local width.

Units: millimetres; polygons as pyclipper integer paths (slicing/regions.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyclipper

from slicing.regions import IntPaths, area, boolean, components, from_clipper, offset, to_clipper

MIN_WIDTH = 0.2  # of a line width: strips narrower than this are left alone (the beads around squeeze in)
MAX_WIDTH = 2.0  # of a line width: the widest bead a centre line is given (a rib too narrow for two walls)
SAMPLE = 0.25  # of a line width: spacing of the boundary samples for the medial axis


@dataclass(frozen=True)
class ThinLines:
    """Open centre lines of thin strips and their bead width at every point (mm)."""

    lines: list[np.ndarray]  # (K, 2) each
    widths: list[np.ndarray]  # (K,) each

    @property
    def empty(self) -> bool:
        """True when there is nothing to print."""
        return not self.lines


NO_LINES = ThinLines([], [])


def gap_areas(outline: IntPaths, walls: list[list[np.ndarray]], perimeters: int, line_width: float,
              thin_area: float | None = None) -> IntPaths:
    """What the walls leave empty: per depth k, the band the k-th wall should cover minus what it covers.

    Where the walls run out before `perimeters` (the part is too narrow for the next), the whole area left
    inside them is a gap too; when all walls fit, the area inside them is the infill's. A depth whose wall is
    the plain offset of the one outside it (the outline's area the outer wall cannot reach, `thin_area`, for
    the outer wall) leaves nothing and is not computed: most islands of most layers.
    """
    w = line_width
    gaps: IntPaths = []
    inset = {0: outline}   # the outline shrunk by k line widths, each computed once

    def shrunk(k: int) -> IntPaths:
        if k not in inset:
            inset[k] = offset(outline, -k * w)
        return inset[k]

    for k in range(len(walls)):
        if _fits(k, walls, w, thin_area):
            continue
        covered = offset(to_clipper(walls[k]), 0.5 * w, pyclipper.JT_ROUND)
        band = boolean(shrunk(k), covered, pyclipper.CT_DIFFERENCE)
        gaps.extend(boolean(band, shrunk(k + 1), pyclipper.CT_DIFFERENCE))
    if len(walls) < perimeters or perimeters == 0:
        gaps.extend(shrunk(len(walls)))
    if not gaps:
        return []
    r = 0.5 * MIN_WIDTH * w  # an opening drops slivers narrower than MIN_WIDTH (offset noise, sharp corners)
    return offset(offset(gaps, -r, pyclipper.JT_ROUND), r, pyclipper.JT_ROUND)


def _fits(k: int, walls: list[list[np.ndarray]], w: float, thin_area: float | None) -> bool:
    """Whether wall k leaves no gap in its band: by Steiner's formula (area ± length·r + π·r² per loop) the
    band's area, from the wall outside it shrunk by half a line, is what wall k grown by half a line covers,
    within a bead's smallest piece. The outer wall's band is the outline, whose uncovered area is `thin_area`."""
    smallest = MIN_WIDTH * w * w
    if k == 0:
        return thin_area is not None and thin_area < smallest
    return _steiner(walls[k - 1], -0.5 * w) - _steiner(walls[k], 0.5 * w) < smallest


def _steiner(loops: list[np.ndarray], r: float) -> float:
    """Area of closed loops (holes clockwise) offset by r, were nothing to vanish or overlap: A + L·r + π·r²·χ."""
    total = 0.0
    for p in loops:
        q = np.roll(p, -1, axis=0)
        a = 0.5 * float(np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]))
        total += a + float(np.hypot(*(q - p).T).sum()) * r + np.pi * r * r * (1.0 if a > 0 else -1.0)
    return total


def thin_lines(outline: IntPaths, walls: list[list[np.ndarray]], perimeters: int, line_width: float,
               thin_area: float | None = None) -> ThinLines:
    """Centre lines, with widths, of everything the walls of one island leave empty and a bead can fill
    (`thin_area`: the outline's area the outer wall cannot reach, when known; see gap_areas)."""
    gaps = gap_areas(outline, walls, perimeters, line_width, thin_area)
    if not gaps:
        return NO_LINES
    lines: list[np.ndarray] = []
    widths: list[np.ndarray] = []
    smallest = MIN_WIDTH * line_width * line_width  # a bead a line long and MIN_WIDTH wide
    for piece in components(gaps):
        if area(piece) < smallest:
            continue
        for line, width in medial_lines(piece, line_width):
            lines.append(line)
            widths.append(width)
    return ThinLines(lines, widths)


def medial_lines(piece: IntPaths, line_width: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The medial axis of one piece (outer contour and holes) as polylines with the local width at each point.

    Voronoi vertices of boundary samples that lie inside the piece, joined by the ridges between samples far
    apart along the boundary (opposite sides of the strip); branches towards corners are left out that way.
    Lines shorter than a line width, and points wider than MAX_WIDTH lines (the middle of a blob, not a strip),
    are dropped.
    """
    w = line_width
    rings = from_clipper([p for p in piece if len(p) >= 3])
    pts, ring, arc, length = _samples(rings, SAMPLE * w)
    if len(pts) < 4:
        return []
    verts, ridges, gens = voronoi_ridges(pts)
    if not len(ridges):
        return []
    a, b = gens[:, 0], gens[:, 1]
    gap = np.hypot(*(pts[a] - pts[b]).T)
    along = np.abs(arc[a] - arc[b])
    along = np.minimum(along, length[ring[a]] - along)
    across = (ring[a] != ring[b]) | (along > 2.0 * gap + 1.5 * SAMPLE * w)
    ridges, gens = ridges[across], gens[across]
    if not len(ridges):
        return []
    used = np.unique(ridges)
    inside = np.zeros(len(verts), dtype=bool)
    inside[used] = _inside(verts[used], rings)
    radius = np.full(len(verts), np.inf)
    # a vertex's radius is its distance to the nearest sample: the generators of any ridge it ends
    d = np.hypot(*(verts[ridges[:, 0]] - pts[gens[:, 0]]).T)
    np.minimum.at(radius, ridges[:, 0], d)
    d = np.hypot(*(verts[ridges[:, 1]] - pts[gens[:, 0]]).T)
    np.minimum.at(radius, ridges[:, 1], d)
    # samples `step` apart put the nearest one up to step/2 off the foot of the perpendicular: take the mean
    radius = np.sqrt(np.maximum(radius * radius - (0.5 * SAMPLE * w) ** 2 / 3.0, 0.0))
    ok = inside & (2.0 * radius <= MAX_WIDTH * w)
    ridges = ridges[ok[ridges[:, 0]] & ok[ridges[:, 1]]]
    out = []
    degree = np.bincount(ridges.ravel(), minlength=len(verts))
    for chain in _chains(ridges):
        line = verts[chain]
        if _length(line) < w:
            continue
        line = _extend_ends(line, radius[chain], degree[chain])
        width = np.clip(2.0 * radius[chain], MIN_WIDTH * w, MAX_WIDTH * w)
        line, width = _simplify(line, width, 0.02)
        out.append((line, width))
    return out


def voronoi_ridges(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The finite part of the Voronoi diagram of distinct points: (vertices (V, 2), ridges (R, 2) as vertex
    indices, the two points (R, 2) each ridge lies between).

    Built from GEOS's Delaunay triangulation (shapely, already loaded by the slicer; scipy's Qhull would cost the
    command line 0.45 s of import): a vertex is a triangle's circumcentre (those of cocircular triangles, as on
    evenly sampled parallel sides, are merged into one), a ridge joins the two triangles sharing an edge."""
    import shapely

    tris = shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(pts)))
    if not len(tris):
        return np.zeros((0, 2)), np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)
    corners = shapely.get_coordinates(tris).reshape(-1, 4, 2)[:, :3]
    key = pts[:, 0] + 1j * pts[:, 1]
    order = np.argsort(key)
    found = np.searchsorted(key[order], corners[..., 0] + 1j * corners[..., 1])
    tri = order[np.minimum(found, len(order) - 1)]
    p, q, r = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
    bq, br = q - p, r - p
    d = 2.0 * (bq[:, 0] * br[:, 1] - bq[:, 1] * br[:, 0])
    nq, nr = (bq * bq).sum(axis=1), (br * br).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = p + np.column_stack([br[:, 1] * nq - bq[:, 1] * nr, bq[:, 0] * nr - br[:, 0] * nq]) / d[:, None]
    good = np.isfinite(centre).all(axis=1)
    verts, vertex = np.unique(np.round(np.where(good[:, None], centre, 1e12), 6), axis=0, return_inverse=True)
    vertex = vertex.ravel()
    # each triangle's three edges as sorted point pairs; an edge two triangles share is a finite ridge
    edges = np.sort(np.stack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]], axis=1).reshape(-1, 2), axis=1)
    owner = np.repeat(np.arange(len(tri)), 3)
    pair = edges[:, 0].astype(np.int64) * len(pts) + edges[:, 1]
    by = np.argsort(pair, kind="stable")
    pair, owner = pair[by], owner[by]
    shared = np.flatnonzero(pair[1:] == pair[:-1])
    t0, t1 = owner[shared], owner[shared + 1]
    ok = good[t0] & good[t1] & (vertex[t0] != vertex[t1])
    ridges = np.column_stack([vertex[t0], vertex[t1]])[ok]
    gens = np.column_stack([pair[shared] // len(pts), pair[shared] % len(pts)])[ok]
    return verts, ridges, gens


def _extend_ends(line: np.ndarray, radius: np.ndarray, degree: np.ndarray) -> np.ndarray:
    """A chain whose end is a free end of the axis (no other branch meets it) runs on by that end's radius: the
    axis stops where the strip's end begins to round it off, a radius short of the boundary (so a rib's ends get
    their share of material, as PrusaSlicer's thin walls extend theirs)."""
    out = line.copy()
    for end, back in ((0, line), (-1, line[::-1])):
        if degree[end] != 1:
            continue
        # the direction over about a diameter of the end, steadier than its last (short, noisy) segment
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(back, axis=0).T))])
        d = back[0] - back[min(int(np.searchsorted(arc, 2.0 * radius[end])), len(back) - 1)]
        n = float(np.hypot(*d))
        if n > 1e-9:
            out[end] = back[0] + d / n * radius[end]
    return out


def _samples(rings: list[np.ndarray], step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points every `step` mm along closed rings: (points, ring of each, arc length of each, length per ring)."""
    pts: list[np.ndarray] = []
    ring: list[np.ndarray] = []
    arc: list[np.ndarray] = []
    lengths: list[float] = []
    for r, poly in enumerate(rings):
        closed = np.vstack([poly, poly[:1]])
        seg = np.hypot(*np.diff(closed, axis=0).T)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        total = float(cum[-1])
        if total <= 0:
            continue
        s = np.arange(0.0, total, step)
        s = np.union1d(s, cum[:-1])  # keep the corners
        x = np.interp(s, cum, closed[:, 0])
        y = np.interp(s, cum, closed[:, 1])
        pts.append(np.column_stack([x, y]))
        ring.append(np.full(len(s), len(lengths), dtype=np.int64))
        arc.append(s)
        lengths.append(total)
    if not pts:
        return np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    return np.concatenate(pts), np.concatenate(ring), np.concatenate(arc), np.asarray(lengths)


def _inside(points: np.ndarray, rings: list[np.ndarray]) -> np.ndarray:
    """Which points lie inside a piece given as rings in mm (its outer contour and not in its holes)."""
    import shapely

    poly = shapely.Polygon(rings[0], rings[1:])
    return np.asarray(shapely.contains_xy(poly, points[:, 0], points[:, 1]), dtype=bool)


def _chains(edges: np.ndarray) -> list[list[int]]:
    """Split a graph given by its edges into polylines that run between its ends and junctions (and cycles)."""
    if not len(edges):
        return []
    adj: dict[int, list[int]] = {}
    for a, b in edges.tolist():
        if a == b:
            continue
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    seen: set[tuple[int, int]] = set()
    chains: list[list[int]] = []
    starts = [v for v, n in adj.items() if len(n) != 2] + list(adj)
    for s in starts:
        for nxt in adj[s]:
            if (s, nxt) in seen:
                continue
            chain = [s]
            prev, cur = s, nxt
            seen.add((prev, cur))
            seen.add((cur, prev))
            chain.append(cur)
            while len(adj[cur]) == 2 and cur != s:
                a, b = adj[cur]
                step = b if a == prev else a
                if (cur, step) in seen:
                    break
                seen.add((cur, step))
                seen.add((step, cur))
                prev, cur = cur, step
                chain.append(cur)
            chains.append(chain)
    return chains


def _length(line: np.ndarray) -> float:
    """Length of an open polyline, mm."""
    return float(np.hypot(*np.diff(line, axis=0).T).sum())


def _simplify(line: np.ndarray, width: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop points within `tol` mm of the chord of their neighbours whose width is near theirs (Ramer-Douglas-Peucker)."""
    keep = np.zeros(len(line), dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(line) - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        seg = line[j] - line[i]
        n = float(np.hypot(*seg))
        rel = line[i + 1 : j] - line[i]
        dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / n if n > 1e-12 else np.hypot(*rel.T)
        t = np.linspace(0.0, 1.0, j - i + 1)[1:-1]
        dw = np.abs(width[i + 1 : j] - (width[i] + t * (width[j] - width[i])))
        err = np.maximum(dist, 0.5 * dw)
        k = int(np.argmax(err))
        if err[k] > tol:
            m = i + 1 + k
            keep[m] = True
            stack.extend([(i, m), (m, j)])
    return line[keep], width[keep]
