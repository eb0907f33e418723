"""Height map of the bed into which extruding moves deposit beads (volume conserved) or loose spaghetti.

Units: mm. Cell (r, c) covers x in [c·cell, (c+1)·cell), y in [r·cell, (r+1)·cell); row 0 is y = 0.
A bead of width w and thickness t has a flat top with smooth (smoothstep) edges centred on ±w/2, so its
cross-section is exactly w·t; w = e·A_filament / (length·t); free path ends are pulled in so the round caps
(smooth edges included) add no volume. Material beyond the bed's edges is not kept (the board clamps moves
to the bed, so only a direct caller can put it there). Segments are rasterised in one batch: centre lines are
drawn with OpenCV, one labelled distance transform gives every cell its nearest bead, and the profile is
evaluated with numpy on the cells within reach, from the exact distance to that bead's segment.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from firmware_sim.errors import SimError

MAX_WIDTH = 3.0               # mm; wider "beads" (a blob on a tiny move) are drawn this wide
RAMP_CELLS = 0.8              # bead edges ramp over at least 2 × this many cells (no aliasing of thin layers)
COVER_FRACTION = 0.5          # a bead marks cells as its layer's where it is at least half its thickness thick
STRAND_DIAMETER = 0.45        # mm; a loose strand of extrudate (0.4 mm nozzle with die swell)
_SHIFT = 4                    # sub-pixel bits for cv2.polylines
TILE = 256                    # cells; batches wider than two tiles are rasterised tile by tile


class DepositionError(SimError):
    """The height map cannot be built with these dimensions."""


def _trim_free_ends(seg: np.ndarray, length: np.ndarray, widths: np.ndarray, ramp_min: float) -> np.ndarray:
    """Pull in path ends not joined to the next/previous segment so the rounded end caps add no volume."""
    n = seg.shape[0]
    joined_prev = np.zeros(n, bool)
    joined_prev[1:] = np.hypot(seg[1:, 0] - seg[:-1, 2], seg[1:, 1] - seg[:-1, 3]) < 1e-6
    joined_next = np.zeros(n, bool)
    joined_next[:-1] = joined_prev[1:]
    # the length a cap adds = half-disc volume / (w·t); the smooth edge (ramp R either side of w/2) puts
    # more of a round cap's volume outside r = w/2 than it takes inside: π(w²/8 + R²/10)·t / (w·t)
    w = np.minimum(widths, MAX_WIDTH)
    ramp = np.minimum(ramp_min, w / 2.0)
    cap = np.pi * (w / 8.0 + ramp * ramp / (10.0 * w))
    free = (~joined_prev).astype(np.float64) + (~joined_next).astype(np.float64)
    pull = np.minimum(cap, (length / np.maximum(free, 1.0)) * 0.999)
    unit = (seg[:, 2:] - seg[:, :2]) / length[:, None]
    out = seg.copy()
    out[:, :2] += np.where(joined_prev, 0.0, pull)[:, None] * unit
    out[:, 2:] -= np.where(joined_next, 0.0, pull)[:, None] * unit
    return out


class Deposition:
    """The material on the bed: top-surface height and the layer that last deposited in each cell."""

    def __init__(self, bed: tuple[float, float] = (220.0, 220.0), cell: float = 0.1,
                 filament_diameter: float = 1.75) -> None:
        if not (cell > 0 and bed[0] > 0 and bed[1] > 0 and filament_diameter > 0):
            raise DepositionError(f"bed {bed}, cell {cell} and filament_diameter {filament_diameter} must be > 0")
        if bed[0] / cell * bed[1] / cell > 64e6:
            raise DepositionError(f"cell {cell} mm is too fine for a {bed[0]} x {bed[1]} mm bed (over 64M cells)")
        self.bed = (float(bed[0]), float(bed[1]))
        self.cell = float(cell)
        self.filament_area = math.pi * (filament_diameter / 2.0) ** 2
        w, h = math.ceil(self.bed[0] / cell - 1e-9), math.ceil(self.bed[1] / cell - 1e-9)
        self.height = np.zeros((h, w), np.float32)
        self.layer = np.full((h, w), -1, np.int16)
        self.extent: tuple[int, int, int, int] | None = None   # touched cells: row0, row1, col0, col1 (exclusive)
        self.lift: np.ndarray | None = None      # mm the material is raised off the bed (warping), over `_warp_box`
        self._warp_box = (0, 0, 0, 0)
        self._warp_weight: np.ndarray | None = None

    def clear(self) -> None:
        """Remove everything from the bed (a new job)."""
        self.height.fill(0.0)
        self.layer.fill(-1)
        self.extent = None
        self.lift = self._warp_weight = None

    def surface(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Top-surface height (mm) of a window of cells as a camera sees it: the material, raised where it warps."""
        hgt = self.height[r0:r1, c0:c1]
        if self.lift is None:
            return hgt
        a0, a1, b0, b1 = self._warp_box
        i0, i1, j0, j1 = max(r0, a0), min(r1, a1), max(c0, b0), min(c1, b1)
        if i1 <= i0 or j1 <= j0:
            return hgt
        out = hgt.copy()
        part = out[i0 - r0:i1 - r0, j0 - c0:j1 - c0]
        part += np.where(part > 0, self.lift[i0 - a0:i1 - a0, j0 - b0:j1 - b0], np.float32(0.0))
        return out

    def warp(self, lift_mm: float) -> None:
        """Warping: each part's corners curl up off the bed, the farthest cells from its centre by `lift_mm`,
        falling to none half-way in (squared), the whole column of material with them. The parts are what the
        layer being printed is laid on (a skirt around them stays flat); separate copies each warp about their own
        centre."""
        if self.extent is None:
            return
        if self._warp_weight is None:
            self._warp_box, self._warp_weight = self.extent, self._corner_weight()
        self.lift = self._warp_weight * np.float32(lift_mm)

    def _corner_weight(self) -> np.ndarray:
        """Per cell of the extent 0..1: how far out towards its part's farthest corner a cell of the footprint lies."""
        r0, r1, c0, c1 = self.extent  # type: ignore[misc]
        foot = (self.height[r0:r1, c0:c1] > 0).astype(np.uint8)
        layers = self.layer[r0:r1, c0:c1]
        joined = cv2.dilate(foot, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (21, 21)))  # a copy's islands: one
        _, labels = cv2.connectedComponents(joined)
        current = np.unique(labels[layers == layers.max()])
        weight = np.zeros(foot.shape, np.float32)
        for k in current[current > 0]:
            rr, cc = np.nonzero((labels == k) & (foot > 0))
            d = np.hypot(rr - rr.mean(), cc - cc.mean())
            u = np.clip((d / max(float(d.max()), 1.0) - 0.5) / 0.5, 0.0, 1.0)
            weight[rr, cc] = u * u
        return weight

    def deposit(self, segments: np.ndarray, e: np.ndarray, z: float | np.ndarray, thickness: float,
                layer: int) -> None:
        """Lay beads along (N,4) x0,y0,x1,y1 segments extruding e (N,) mm of filament, bead top at z (one height,
        or one per segment: a vase's spiral rises along its turn)."""
        seg = np.asarray(segments, np.float64).reshape(-1, 4)
        ev = np.asarray(e, np.float64).reshape(-1)
        if seg.shape[0] != ev.shape[0]:
            raise ValueError(f"segments ({seg.shape[0]}) and e ({ev.shape[0]}) differ in length")
        tops = np.broadcast_to(np.asarray(z, np.float64), (seg.shape[0],))
        if seg.shape[0] == 0 or thickness <= 0:
            return
        length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
        ok = (ev > 0) & (length > 1e-6) & np.isfinite(seg).all(axis=1) & np.isfinite(ev)
        if not ok.any():
            return
        seg, length, tops = seg[ok], length[ok], tops[ok]
        widths = ev[ok] * self.filament_area / (length * thickness)
        ramp_min = max(thickness / 2, RAMP_CELLS * self.cell)
        trimmed = _trim_free_ends(seg, length, widths, ramp_min)
        self._rasterise(trimmed, widths, tops, float(thickness), int(layer), COVER_FRACTION)

    def strand_thickness(self, segments: np.ndarray, e: np.ndarray) -> float:
        """Thickness of beads laid with nothing pressing them flat (over an air gap): a strand as wide as the
        nozzle's extrudate, the height its volume then needs (median over the segments)."""
        seg = np.asarray(segments, np.float64).reshape(-1, 4)
        length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
        ok = length > 1e-6
        if not ok.any():
            return STRAND_DIAMETER
        area = np.asarray(e, np.float64)[ok] * self.filament_area / length[ok]
        return float(np.median(area)) / STRAND_DIAMETER

    def deposit_loose(self, segments: np.ndarray, e: np.ndarray, layer: int, rng: np.random.Generator) -> None:
        """Spaghetti: the extrudate of these moves falls as curly loose strands near the path, at low height."""
        seg = np.asarray(segments, np.float64).reshape(-1, 4)
        ev = np.asarray(e, np.float64).reshape(-1)
        keep = (ev > 0) & np.isfinite(seg).all(axis=1) & np.isfinite(ev)
        seg, ev = seg[keep], ev[keep]
        if seg.shape[0] == 0:
            return
        d = STRAND_DIAMETER
        total_len = float(ev.sum()) * self.filament_area / (d * d)      # conserve volume in raster terms
        step = 0.5
        n_steps = max(1, math.ceil(total_len / step))
        per_strand = rng.integers(10, 60, size=max(1, n_steps // 10 + 1))
        bounds = np.cumsum(per_strand)
        per_strand = per_strand[: int(np.searchsorted(bounds, n_steps)) + 1]
        per_strand[-1] -= int(per_strand.sum()) - n_steps
        per_strand = per_strand[per_strand > 0]
        k = per_strand.size
        # strand origins: points on the planned path (weighted by extrusion), scattered by a few mm
        pick = rng.choice(seg.shape[0], size=k, p=ev / ev.sum())
        frac = rng.random(k)
        ox = seg[pick, 0] + (seg[pick, 2] - seg[pick, 0]) * frac + rng.normal(0, 3.0, k)
        oy = seg[pick, 1] + (seg[pick, 3] - seg[pick, 1]) * frac + rng.normal(0, 3.0, k)
        strand = np.repeat(np.arange(k), per_strand)
        first = np.concatenate(([0], np.cumsum(per_strand)[:-1]))
        curl = rng.uniform(-0.6, 0.6, k)[strand]
        turn = curl + rng.normal(0, 0.35, n_steps)
        turn[first] = rng.uniform(0, 2 * np.pi, k)                     # each strand starts in a random direction
        heading = np.cumsum(turn)
        heading -= np.repeat(np.cumsum(turn)[first] - turn[first], per_strand)
        dx, dy = step * np.cos(heading), step * np.sin(heading)
        cx, cy = np.cumsum(dx), np.cumsum(dy)
        base_x = np.repeat(cx[first] - dx[first], per_strand)
        base_y = np.repeat(cy[first] - dy[first], per_strand)
        x1 = ox[strand] + cx - base_x
        y1 = oy[strand] + cy - base_y
        x0, y0 = x1 - dx, y1 - dy
        segs = np.stack([x0, y0, x1, y1], axis=1)
        segs[:, [0, 2]] = np.clip(segs[:, [0, 2]], 0.0, self.bed[0])
        segs[:, [1, 3]] = np.clip(segs[:, [1, 3]], 0.0, self.bed[1])
        self._rasterise(segs, np.full(n_steps, d), d, d, int(layer), 0.0)

    # -- internals ---------------------------------------------------------------------------------------
    def _rasterise(self, seg: np.ndarray, widths: np.ndarray, top: float | np.ndarray, thickness: float, layer: int,
                   cover: float) -> None:
        """Max-combine rounded beads (top at `top`, one or per segment; height `thickness`) along segments.

        A cell takes the new layer number where the bead is at least `cover` × thickness thick there, so the
        layer map covers the bead's nominal width (not its thin smooth edges) and a narrow bead leaves a gap.
        """
        cell = self.cell
        rows, cols = self.height.shape
        widths = np.minimum(widths, MAX_WIDTH)
        top = np.broadcast_to(np.asarray(top, np.float64), (seg.shape[0],))
        margin = math.ceil((float(widths.max()) / 2 + max(thickness / 2, RAMP_CELLS * cell)) / cell) + 2
        # per-segment cell bounding boxes grown by the bead reach
        lo_c = np.floor(np.minimum(seg[:, 0], seg[:, 2]) / cell).astype(np.int64) - margin
        hi_c = np.ceil(np.maximum(seg[:, 0], seg[:, 2]) / cell).astype(np.int64) + margin + 1
        lo_r = np.floor(np.minimum(seg[:, 1], seg[:, 3]) / cell).astype(np.int64) - margin
        hi_r = np.ceil(np.maximum(seg[:, 1], seg[:, 3]) / cell).astype(np.int64) + margin + 1
        r0, r1 = max(0, int(lo_r.min())), min(rows, int(hi_r.max()))
        c0, c1 = max(0, int(lo_c.min())), min(cols, int(hi_c.max()))
        if c1 <= c0 or r1 <= r0:
            return
        if (r1 - r0) * (c1 - c0) <= (2 * TILE) ** 2:
            self._window(seg, widths, top, thickness, layer, cover, (r0, r1, c0, c1), (r0, r1, c0, c1))
        else:
            # large batches (a full plate): only tiles that beads reach, each with a margin for the distances
            for tr in range(r0 - r0 % TILE, r1, TILE):
                for tc in range(c0 - c0 % TILE, c1, TILE):
                    inner = (max(tr, r0), min(tr + TILE, r1), max(tc, c0), min(tc + TILE, c1))
                    outer = (max(0, inner[0] - margin), min(rows, inner[1] + margin),
                             max(0, inner[2] - margin), min(cols, inner[3] + margin))
                    hit = (lo_r < outer[1]) & (hi_r > outer[0]) & (lo_c < outer[3]) & (hi_c > outer[2])
                    if hit.any():
                        self._window(seg[hit], widths[hit], top[hit], thickness, layer, cover, outer, inner)
        if self.extent is None:
            self.extent = (r0, r1, c0, c1)
        else:
            a0, a1, b0, b1 = self.extent
            self.extent = (min(a0, r0), max(a1, r1), min(b0, c0), max(b1, c1))

    def _window(self, seg: np.ndarray, widths: np.ndarray, top: np.ndarray, thickness: float, layer: int, cover: float,
                outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> None:
        """Rasterise segments in the `outer` cell window and update the map inside `inner`.

        Centre lines are drawn with their segment number; a labelled distance transform finds, for each cell,
        the nearest drawn pixel and so its segment; the bead profile then uses the exact distance to it.
        """
        cell = self.cell
        r0, r1, c0, c1 = outer
        ids = np.zeros((r1 - r0, c1 - c0), np.int32)
        px = np.empty((seg.shape[0], 4), np.float64)
        px[:, [0, 2]] = seg[:, [0, 2]] / cell - 0.5 - c0
        px[:, [1, 3]] = seg[:, [1, 3]] / cell - 0.5 - r0
        pts = np.rint(np.clip(px, -1e5, 1e5) * float(1 << _SHIFT)).astype(np.int32).tolist()
        for i, (xa, ya, xb, yb) in enumerate(pts):
            cv2.line(ids, (xa, ya), (xb, yb), i + 1, 1, cv2.LINE_8, _SHIFT)
        drawn = ids != 0
        if not drawn.any():
            return
        src = np.where(drawn, np.uint8(0), np.uint8(255))
        dist, labels = cv2.distanceTransformWithLabels(src, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
        # label -> segment number (label 0 unused); labels number the drawn pixels in row-major order
        seg_of_label = np.empty(int(np.count_nonzero(drawn)) + 1, np.int32)
        seg_of_label[0] = 0
        seg_of_label[1:] = ids[drawn] - 1
        i0, i1, j0, j1 = inner[0] - r0, inner[1] - r0, inner[2] - c0, inner[3] - c0
        ramp_min = max(thickness / 2, RAMP_CELLS * cell)
        reach = (float(widths.max()) / 2 + ramp_min) / cell + 1.5
        near = dist[i0:i1, j0:j1] <= reach
        rr, cc = np.nonzero(near)
        if rr.size == 0:
            return
        sid = seg_of_label[labels[i0:i1, j0:j1][near]]
        # exact distance from each cell centre to its segment, in cells (float32 on the hot path)
        f32 = np.float32
        ax = (seg[:, 0] / cell - 0.5 - inner[2]).astype(f32)
        ay = (seg[:, 1] / cell - 0.5 - inner[0]).astype(f32)
        bx = (seg[:, 2] - seg[:, 0]).astype(f32) / f32(cell)
        by = (seg[:, 3] - seg[:, 1]).astype(f32) / f32(cell)
        inv_len2 = (1.0 / np.maximum(bx * bx + by * by, f32(1e-12))).astype(f32)
        apx = cc.astype(f32) - ax[sid]
        apy = rr.astype(f32) - ay[sid]
        sbx, sby = bx[sid], by[sid]
        t = (apx * sbx + apy * sby) * inv_len2[sid]
        np.clip(t, 0.0, 1.0, out=t)
        apx -= t * sbx
        apy -= t * sby
        d = np.hypot(apx, apy)
        half = (widths / (2 * cell)).astype(f32)[sid]
        ramp = np.minimum(f32(ramp_min / cell), half)     # smooth edge centred on ±w/2: area stays w·t
        u = (d - (half - ramp)) / (2 * ramp)
        np.clip(u, 0.0, 1.0, out=u)
        prof = f32(thickness) * (1.0 - u * u * (3.0 - 2.0 * u))
        keep = prof > 1e-5
        rr, cc, prof, sid = rr[keep], cc[keep], prof[keep], sid[keep]
        win_h = self.height[inner[0]:inner[1], inner[2]:inner[3]]
        win_l = self.layer[inner[0]:inner[1], inner[2]:inner[3]]
        new = prof + (top - thickness).astype(f32)[sid]
        cur = win_h[rr, cc]
        up = new > cur
        win_h[rr[up], cc[up]] = new[up]
        top_here = (new >= cur - 1e-4) & (prof >= f32(cover * thickness))
        win_l[rr[top_here], cc[top_here]] = layer
