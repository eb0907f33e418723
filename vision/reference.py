"""Expected top view of a layer, drawn from the G-code's own toolpaths in bed millimetres.

Beads are drawn at their real width (from E, layer height and length: conserved volume), so a reference is what a
perfect print of that G-code looks like from above, at any resolution.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from slicing.toolpath import LayerPaths

_SHIFT = 4  # fixed-point bits for sub-pixel drawing
_SUPERSAMPLE = 4  # beads are drawn at this multiple of the raster resolution


@dataclass(frozen=True)
class BedGrid:
    """A raster over a bed-mm rectangle: column = (x - x0)·ppm, row = (y1 - y)·ppm (Y up, as seen from above)."""

    x0: float
    y0: float
    x1: float
    y1: float
    px_per_mm: float

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the raster."""
        return (max(1, int(np.ceil((self.y1 - self.y0) * self.px_per_mm))),
                max(1, int(np.ceil((self.x1 - self.x0) * self.px_per_mm))))

    def mm_to_px(self) -> np.ndarray:
        """3x3 affine matrix bed mm -> raster px (homogeneous)."""
        s = self.px_per_mm
        return np.array([[s, 0.0, -self.x0 * s], [0.0, -s, self.y1 * s], [0.0, 0.0, 1.0]])

    def to_px(self, pts_mm: np.ndarray) -> np.ndarray:
        """(N, 2) bed mm -> (N, 2) raster px (x = column, y = row)."""
        pts = np.asarray(pts_mm, dtype=np.float64).reshape(-1, 2)
        return np.column_stack(((pts[:, 0] - self.x0) * self.px_per_mm, (self.y1 - pts[:, 1]) * self.px_per_mm))

    def to_mm(self, pts_px: np.ndarray) -> np.ndarray:
        """(N, 2) raster px -> (N, 2) bed mm."""
        pts = np.asarray(pts_px, dtype=np.float64).reshape(-1, 2)
        return np.column_stack((pts[:, 0] / self.px_per_mm + self.x0, self.y1 - pts[:, 1] / self.px_per_mm))

    @property
    def px_area_mm2(self) -> float:
        """Area of one raster pixel in mm²."""
        return 1.0 / (self.px_per_mm * self.px_per_mm)


def layers_bounds(layers: Sequence[LayerPaths], margin_mm: float = 0.0) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) in bed mm of every extruding segment, grown by a margin."""
    segs = [lp.segments for lp in layers if len(lp.segments)]
    if not segs:
        return (0.0, 0.0, 1.0, 1.0)
    allseg = np.concatenate(segs)
    xs = allseg[:, [0, 2]]
    ys = allseg[:, [1, 3]]
    return (float(xs.min()) - margin_mm, float(ys.min()) - margin_mm,
            float(xs.max()) + margin_mm, float(ys.max()) + margin_mm)


def make_grid(layers: Sequence[LayerPaths], px_per_mm: float, bounds: tuple[float, float, float, float] | None = None,
              margin_mm: float = 8.0) -> BedGrid:
    """The raster a job's references and warped photos share: bounds of all its layers plus a margin."""
    b = bounds if bounds is not None else layers_bounds(layers, margin_mm)
    return BedGrid(b[0], b[1], b[2], b[3], px_per_mm)


def draw_layer(layer: LayerPaths, grid: BedGrid, out: np.ndarray | None = None, filament_diameter: float = 1.75,
               min_width: float = 0.25, max_width: float = 1.2) -> np.ndarray:
    """Draw one layer's beads (255 on 0) into a uint8 raster of grid.shape.

    OpenCV draws thick lines only in odd pixel widths, so beads are drawn at _SUPERSAMPLE x the resolution and
    area-averaged down, which keeps a bead's drawn width within a fraction of a raster pixel of its real width.
    """
    mask = np.zeros(grid.shape, np.uint8) if out is None else out
    if len(layer.segments) == 0:
        return mask
    k = _SUPERSAMPLE
    fine = BedGrid(grid.x0, grid.y0, grid.x1, grid.y1, grid.px_per_mm * k)
    rows, cols = grid.shape
    big = np.zeros((rows * k, cols * k), np.uint8)
    widths = np.clip(layer.widths(filament_diameter), min_width, max_width) * fine.px_per_mm
    pts = np.empty((len(layer.segments), 2, 2), np.float64)
    pts[:, 0, :] = fine.to_px(layer.segments[:, 0:2])
    pts[:, 1, :] = fine.to_px(layer.segments[:, 2:4])
    fixed = np.round(pts * (1 << _SHIFT)).astype(np.int32)
    thickness = np.maximum(1, np.round((widths - 1.0) / 2.0).astype(np.int32) * 2)  # drawn width = t + 1 (odd)
    for t in np.unique(thickness):
        cv2.polylines(big, fixed[thickness == t], False, 255, int(t), cv2.LINE_8, _SHIFT)
    small = cv2.resize(big, (cols, rows), interpolation=cv2.INTER_AREA)
    mask[small >= 128] = 255
    return mask


def reference_image(layers: Sequence[LayerPaths], n: int, px_per_mm: float,
                    bounds: tuple[float, float, float, float] | None = None,
                    filament_diameter: float = 1.75) -> tuple[np.ndarray, np.ndarray]:
    """(layer n, union of all layers below n) as uint8 masks (255 = material) over `bounds` (default: the part)."""
    if not 0 <= n < len(layers):
        raise IndexError(f"layer {n} is not in this job (0..{len(layers) - 1})")
    grid = make_grid(layers, px_per_mm, bounds)
    top = draw_layer(layers[n], grid, filament_diameter=filament_diameter)
    below = np.zeros(grid.shape, np.uint8)
    for lp in layers[:n]:
        draw_layer(lp, grid, below, filament_diameter=filament_diameter)
    return top, below


class References:
    """Per-job cache of layer masks and of the cumulative footprint, so each check draws only one new layer."""

    def __init__(self, layers: Sequence[LayerPaths], grid: BedGrid, filament_diameter: float = 1.75,
                 min_width: float = 0.25, max_width: float = 1.2) -> None:
        self.layers = list(layers)
        self.grid = grid
        self._widths = (filament_diameter, min_width, max_width)
        self._masks: dict[int, np.ndarray] = {}
        self._below = np.zeros(grid.shape, np.uint8)
        self._below_n = 0

    def layer(self, n: int) -> np.ndarray:
        """Mask of layer n (cached)."""
        if n not in self._masks:
            if not 0 <= n < len(self.layers):
                raise IndexError(f"layer {n} is not in this job (0..{len(self.layers) - 1})")
            self._masks[n] = self._draw_one(n)
            if len(self._masks) > 8:
                self._masks.pop(min(k for k in self._masks if k != n))
        return self._masks[n]

    def _draw_one(self, n: int) -> np.ndarray:
        """Draw layer n without caching it."""
        d, lo, hi = self._widths
        return draw_layer(self.layers[n], self.grid, filament_diameter=d, min_width=lo, max_width=hi)

    def below(self, n: int) -> np.ndarray:
        """Union of layers 0..n-1 (incremental when n grows; redrawn when it goes back)."""
        if n < self._below_n:
            self._below = np.zeros(self.grid.shape, np.uint8)
            self._below_n = 0
        for k in range(self._below_n, n):
            cv2.bitwise_or(self._below, self._masks[k] if k in self._masks else self._draw_one(k), self._below)
        self._below_n = max(self._below_n, n)
        return self._below
