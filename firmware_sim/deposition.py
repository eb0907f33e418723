"""Height map of the bed into which extruding moves deposit beads (volume conserved) or loose spaghetti.

Units: mm. Cell (r, c) covers x in [c·cell, (c+1)·cell), y in [r·cell, (r+1)·cell); row 0 is y = 0.
A bead of width w and thickness t has a flat top with smooth (smoothstep) edges centred on ±w/2, so its
cross-section is exactly w·t; w = e·A_filament / (length·t). Segments are rasterised in one batch: centre
lines are drawn with OpenCV into a width-class image, one labelled distance transform gives every cell its
distance to (and the width of) the nearest bead, and the profile is evaluated with numpy over the window.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

WIDTH_QUANTUM = 0.01          # mm; bead widths are drawn in classes of this size (1..255 classes)
STRAND_DIAMETER = 0.45        # mm; a loose strand of extrudate (0.4 mm nozzle with die swell)
_SHIFT = 4                    # sub-pixel bits for cv2.polylines


class Deposition:
    """The material on the bed: top-surface height and the layer that last deposited in each cell."""

    def __init__(self, bed: tuple[float, float] = (220.0, 220.0), cell: float = 0.1,
                 filament_diameter: float = 1.75) -> None:
        self.bed = (float(bed[0]), float(bed[1]))
        self.cell = float(cell)
        self.filament_area = math.pi * (filament_diameter / 2.0) ** 2
        w, h = math.ceil(self.bed[0] / cell - 1e-9), math.ceil(self.bed[1] / cell - 1e-9)
        self.height = np.zeros((h, w), np.float32)
        self.layer = np.full((h, w), -1, np.int16)
        self.extent: tuple[int, int, int, int] | None = None   # touched cells: row0, row1, col0, col1 (exclusive)

    def clear(self) -> None:
        """Remove everything from the bed (a new job)."""
        self.height.fill(0.0)
        self.layer.fill(-1)
        self.extent = None

    def deposit(self, segments: np.ndarray, e: np.ndarray, z: float, thickness: float, layer: int) -> None:
        """Lay beads along (N,4) x0,y0,x1,y1 segments extruding e (N,) mm of filament, bead top at z."""
        seg = np.asarray(segments, np.float64).reshape(-1, 4)
        ev = np.asarray(e, np.float64).reshape(-1)
        if seg.shape[0] != ev.shape[0]:
            raise ValueError(f"segments ({seg.shape[0]}) and e ({ev.shape[0]}) differ in length")
        if seg.shape[0] == 0 or thickness <= 0:
            return
        length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
        ok = (ev > 0) & (length > 1e-6)
        if not ok.any():
            return
        widths = ev[ok] * self.filament_area / (length[ok] * thickness)
        self._rasterise(seg[ok], widths, float(z), float(thickness), int(layer))

    def deposit_loose(self, segments: np.ndarray, e: np.ndarray, layer: int, rng: np.random.Generator) -> None:
        """Spaghetti: the extrudate of these moves falls as curly loose strands near the path, at low height."""
        seg = np.asarray(segments, np.float64).reshape(-1, 4)
        ev = np.asarray(e, np.float64).reshape(-1)
        keep = ev > 0
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
        self._rasterise(segs, np.full(n_steps, d), d, d, int(layer))

    # -- internals ---------------------------------------------------------------------------------------
    def _rasterise(self, seg: np.ndarray, widths: np.ndarray, top: float, thickness: float, layer: int) -> None:
        """Max-combine rounded beads (top at `top`, height `thickness`) along segments into the map."""
        cell = self.cell
        rows, cols = self.height.shape
        classes = np.clip(np.rint(widths / WIDTH_QUANTUM), 1, 255).astype(np.uint8)
        reach = float(classes.max()) * WIDTH_QUANTUM / 2 + thickness / 2 + 2 * cell
        c0 = max(0, math.floor((min(seg[:, 0].min(), seg[:, 2].min()) - reach) / cell))
        c1 = min(cols, math.ceil((max(seg[:, 0].max(), seg[:, 2].max()) + reach) / cell) + 1)
        r0 = max(0, math.floor((min(seg[:, 1].min(), seg[:, 3].min()) - reach) / cell))
        r1 = min(rows, math.ceil((max(seg[:, 1].max(), seg[:, 3].max()) + reach) / cell) + 1)
        if c1 <= c0 or r1 <= r0:
            return
        # centre lines in window pixel coordinates (cell centres at integers), sub-pixel via shift
        scale = float(1 << _SHIFT)
        px = np.empty((seg.shape[0], 2, 2), np.float64)
        px[:, :, 0] = seg[:, [0, 2]] / cell - 0.5 - c0
        px[:, :, 1] = seg[:, [1, 3]] / cell - 0.5 - r0
        pts = np.rint(px * scale).astype(np.int32)
        cls = np.zeros((r1 - r0, c1 - c0), np.uint8)
        order = np.argsort(classes, kind="stable")
        uniq, starts = np.unique(classes[order], return_index=True)
        bounds = [*starts.tolist(), order.size]
        for k, u in enumerate(uniq.tolist()):
            idx = order[bounds[k]:bounds[k + 1]]
            cv2.polylines(cls, list(pts[idx]), False, int(u), 1, cv2.LINE_8, _SHIFT)
        src = np.where(cls == 0, np.uint8(255), np.uint8(0))
        if src.all():
            return
        dist, labels = cv2.distanceTransformWithLabels(src, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
        line_cls = cls[src == 0]
        half = line_cls[labels - 1].astype(np.float32) * np.float32(WIDTH_QUANTUM / 2)
        dist_mm = dist * np.float32(cell)
        ramp = np.minimum(np.float32(thickness / 2), half)
        s = np.clip((dist_mm - (half - ramp)) / (2 * ramp), 0.0, 1.0)
        prof = np.float32(thickness) * (1.0 - s * s * (3.0 - 2.0 * s))
        win_h = self.height[r0:r1, c0:c1]
        win_l = self.layer[r0:r1, c0:c1]
        new = np.float32(top - thickness) + prof
        raise_mask = (prof > 1e-5) & (new > win_h)
        np.copyto(win_h, new, where=raise_mask)
        np.copyto(win_l, np.int16(layer), where=(prof > 1e-5) & (new >= win_h - 1e-4))
        if self.extent is None:
            self.extent = (r0, r1, c0, c1)
        else:
            a0, a1, b0, b1 = self.extent
            self.extent = (min(a0, r0), max(a1, r1), min(b0, c0), max(b1, c1))
