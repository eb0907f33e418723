"""Copies on a plate, each judged in its own region: the raster split between the labelled objects of a job
(each pixel belongs to the object whose footprint, over all layers, is nearest) and each object's own layers."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import cv2
import numpy as np

from slicing.toolpath import LayerPaths
from vision.reference import BedGrid, draw_layer


def object_count(layers: Sequence[LayerPaths]) -> int:
    """How many labelled objects the layers name (0 when the file labels none)."""
    found = [int(lp.objects.max()) + 1 for lp in layers if lp.objects is not None and len(lp.objects)]
    return max(found, default=0)


def only(layer: LayerPaths, keep: np.ndarray) -> LayerPaths:
    """The layer with only the segments where `keep` is True."""
    objects = layer.objects[keep] if layer.objects is not None else None
    return dataclasses.replace(layer, segments=layer.segments[keep], extrusion=layer.extrusion[keep],
                               feature=layer.feature[keep], objects=objects)


class ObjectRegions:
    """Per-object masks of one job on its raster: the region each object is judged in, and its layers."""

    def __init__(self, layers: Sequence[LayerPaths], grid: BedGrid, count: int,
                 widths: tuple[float, float, float], margin_mm: float = 8.0) -> None:
        self.layers = list(layers)
        self.grid = grid
        self.count = count
        self._widths = widths
        footprints = [np.zeros(grid.shape, np.uint8) for _ in range(count)]
        for lp in self.layers:
            if lp.objects is None:
                continue
            for k in np.unique(lp.objects[lp.objects >= 0]).tolist():
                self._draw(only(lp, lp.objects == k), footprints[k])
        # unowned material (skirt, brim) is judged with the copy nearest to it
        distance = np.stack([cv2.distanceTransform(np.where(fp > 0, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
                             for fp in footprints])
        self.labels = np.argmin(distance, axis=0).astype(np.int16)
        grow = max(1, round(margin_mm * grid.px_per_mm))
        rows, cols = grid.shape
        self.boxes: list[tuple[slice, slice]] = []   # each object's footprint grown by the margin: its crop
        for fp in footprints:
            r, c = np.nonzero(fp)
            if r.size == 0:
                self.boxes.append((slice(0, 0), slice(0, 0)))
                continue
            self.boxes.append((slice(max(0, int(r.min()) - grow), min(rows, int(r.max()) + grow + 1)),
                               slice(max(0, int(c.min()) - grow), min(cols, int(c.max()) + grow + 1))))
        self._crops = [crop_grid(grid, box) for box in self.boxes]
        self._regions = [self.labels[box] == k for k, box in enumerate(self.boxes)]
        self._below: list[np.ndarray] = []
        self._unowned = np.zeros(grid.shape, np.uint8)   # skirt and brim of layers 0..n, on the whole raster
        self._reset_below()

    def _reset_below(self) -> None:
        """Empty every copy's cumulative layers."""
        self._below = [np.zeros(crop.shape, np.uint8) for crop in self._crops]
        self._unowned[:] = 0
        self._below_n = 0
        self._unowned_n = -1

    def _draw(self, layer: LayerPaths, out: np.ndarray | None = None, grid: BedGrid | None = None) -> np.ndarray:
        """Draw a layer (or part of one) on this job's raster, or on a copy's crop of it."""
        d, lo, hi = self._widths
        return draw_layer(layer, grid or self.grid, out, filament_diameter=d, min_width=lo, max_width=hi)

    def region(self, k: int) -> np.ndarray:
        """Bool mask of the pixels object k is judged in, over its crop `boxes[k]`."""
        return self._regions[k]

    def layer(self, n: int, k: int) -> np.ndarray:
        """Object k's part of layer n (uint8 mask over its crop `boxes[k]`: drawn there only, so a plate's copies
        cost their own area, not the plate's)."""
        lp = self.layers[n]
        if lp.objects is None:
            return np.zeros(self._crops[k].shape, np.uint8)
        return self._draw(only(lp, lp.objects == k), grid=self._crops[k])

    def below(self, n: int, k: int) -> np.ndarray:
        """Object k's layers 0..n-1 with what belongs to no object in layers 0..n (skirt, brim: there, but no
        copy's to judge), over its crop; incremental as n grows and redrawn when it goes back."""
        if n < self._below_n:
            self._reset_below()
        for m in range(self._below_n, n):
            lp = self.layers[m]
            if lp.objects is not None:
                for j in np.unique(lp.objects[lp.objects >= 0]).tolist():
                    self._draw(only(lp, lp.objects == j), self._below[j], self._crops[j])
        self._below_n = max(self._below_n, n)
        if self._unowned_n != n:  # layer n's skirt and brim, drawn once for all the copies
            self._unowned_n = n
            lp = self.layers[n]
            if lp.objects is not None and (lp.objects < 0).any():
                self._draw(only(lp, lp.objects < 0), self._unowned)
        return cv2.bitwise_or(self._below[k], self._unowned[self.boxes[k]])


def crop_grid(grid: BedGrid, box: tuple[slice, slice]) -> BedGrid:
    """The raster of a crop `grid[box]`: pixel for pixel the same cells (and the same supersampled cells when
    drawn), so a layer drawn on it equals the whole raster's drawing cut to the box."""
    rows, cols = box
    s = grid.px_per_mm
    x0, y1 = grid.x0 + cols.start / s, grid.y1 - rows.start / s
    h, w = max(1, rows.stop - rows.start), max(1, cols.stop - cols.start)
    crop = BedGrid(x0, y1 - (h - 1e-6) / s, x0 + (w - 1e-6) / s, y1, s)
    assert crop.shape == (h, w), (crop.shape, h, w)
    return crop
