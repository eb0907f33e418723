"""A small stand-in camera for vision tests: beads drawn into a bed raster, photographed through a known homography.

It follows the simulated camera's look (orange filament on a dark bed, fresh layer brighter than older ones,
uneven light, noise, slight perspective, four ArUco stickers) so vision can be tested on images whose truth is known.
"""
from __future__ import annotations

import cv2
import numpy as np

from slicing.toolpath import Feature, LayerPaths

FILAMENT_AREA = np.pi * (1.75 / 2) ** 2
MARKERS = {0: (-14.0, -14.0), 1: (234.0, -14.0), 2: (234.0, 234.0), 3: (-14.0, 234.0)}
MARKER_SIZE = 18.0


def _layer(index: int, segs: list[tuple[float, float, float, float]], width: float, height: float) -> LayerPaths:
    """LayerPaths with E chosen so the bead width comes out as `width`."""
    s = np.array(segs, dtype=np.float64)
    lengths = np.hypot(s[:, 2] - s[:, 0], s[:, 3] - s[:, 1])
    e = width * height * lengths / FILAMENT_AREA
    return LayerPaths(index, (index + 1) * height, height, s, e, np.full(len(s), int(Feature.FILL), np.int8))


def block_layers(count: int, x0: float, y0: float, w: float, h: float, width: float = 0.45,
                 height: float = 0.2) -> list[LayerPaths]:
    """A solid rectangular block: a perimeter and a zig-zag fill, fill direction alternating per layer."""
    layers = []
    for i in range(count):
        segs = [(x0, y0, x0 + w, y0), (x0 + w, y0, x0 + w, y0 + h), (x0 + w, y0 + h, x0, y0 + h), (x0, y0 + h, x0, y0)]
        inner = 0.5 * width
        if i % 2 == 0:
            for y in np.arange(y0 + width, y0 + h - inner, width):
                segs.append((x0 + inner, y, x0 + w - inner, y))
        else:
            for x in np.arange(x0 + width, x0 + w - inner, width):
                segs.append((x, y0 + inner, x, y0 + h - inner))
        layers.append(_layer(i, segs, width, height))
    return layers


class Scene:
    """Bed raster holding the layer index of the top material per cell, photographed on demand."""

    def __init__(self, view: tuple[float, float, float, float] = (-30.0, -30.0, 250.0, 250.0), ppm: float = 5.0,
                 resolution: tuple[int, int] = (1280, 960), tilt: float = 0.03, seed: int = 0) -> None:
        self.view = view
        self.ppm = ppm
        self.rows = int((view[3] - view[1]) * ppm)
        self.cols = int((view[2] - view[0]) * ppm)
        self.layer = np.full((self.rows, self.cols), -1, np.int16)
        self.resolution = resolution
        rng = np.random.default_rng(seed)
        self.texture = rng.normal(0, 4, (self.rows, self.cols)).astype(np.float32)
        w, h = resolution
        src = np.float32([[0, 0], [self.cols, 0], [self.cols, self.rows], [0, self.rows]])
        k = tilt * w
        dst = np.float32([[140 + k, 20], [w - 140 - k, 20], [w - 140, h - 20], [140, h - 20]])
        self.raster_to_img = cv2.getPerspectiveTransform(src, dst)

    def bed_to_raster(self) -> np.ndarray:
        """3x3 bed mm -> scene raster px (Y up)."""
        s = self.ppm
        return np.array([[s, 0, -self.view[0] * s], [0, -s, self.view[3] * s], [0, 0, 1]])

    def bed_to_image(self) -> np.ndarray:
        """3x3 bed mm -> camera px: the truth registration must find."""
        return self.raster_to_img @ self.bed_to_raster()

    def _px(self, pts: np.ndarray) -> np.ndarray:
        """Bed mm -> raster px, fixed point with 4 fractional bits."""
        m = self.bed_to_raster()
        p = np.column_stack((pts[:, 0] * m[0, 0] + m[0, 2], pts[:, 1] * m[1, 1] + m[1, 2]))
        return np.round(p * 16).astype(np.int32)

    def deposit(self, lp: LayerPaths, layer: int, dx: float = 0.0, dy: float = 0.0, e_factor: float = 1.0) -> None:
        """Lay down a layer's beads (optionally offset, or with E scaled) marking cells with its index."""
        if e_factor <= 0:
            return
        s = lp.segments + np.array([dx, dy, dx, dy])
        widths = lp.widths() * e_factor
        mask = np.zeros_like(self.layer, dtype=np.uint8)
        pts = np.stack([self._px(s[:, 0:2]), self._px(s[:, 2:4])], axis=1)
        for wpx in np.unique(np.maximum(1, np.round(widths * self.ppm)).astype(int)):
            sel = np.maximum(1, np.round(widths * self.ppm)).astype(int) == wpx
            cv2.polylines(mask, pts[sel], False, 255, int(wpx), cv2.LINE_8, 4)
        self.layer[mask > 0] = layer

    def deposit_loose(self, lp: LayerPaths, layer: int, rng: np.random.Generator) -> None:
        """Spaghetti: curly strands wandering around the part instead of the planned beads."""
        centre = lp.segments[:, :2].mean(axis=0)
        span = np.ptp(lp.segments[:, :2], axis=0).max() / 2 + 6
        mask = np.zeros_like(self.layer, dtype=np.uint8)
        for _ in range(6):
            p = centre + rng.uniform(-span, span, 2)
            ang = rng.uniform(0, 2 * np.pi)
            pts = [p.copy()]
            for _ in range(60):
                ang += rng.normal(0, 0.5)
                p = p + 0.8 * np.array([np.cos(ang), np.sin(ang)])
                pts.append(p.copy())
            cv2.polylines(mask, [self._px(np.array(pts))], False, 255, max(1, int(0.5 * self.ppm)), cv2.LINE_8, 4)
        self.layer[(mask > 0) & (self.layer < 0)] = layer

    def photo(self, current: int, rng: np.random.Generator, noise: float = 3.0, lighting: float = 0.25) -> np.ndarray:
        """BGR camera image: fresh (current) layer brighter than older material, light falling off to one side."""
        key = round(lighting, 4)
        if getattr(self, "_static_key", None) != key:
            yy, xx = np.mgrid[0:self.rows, 0:self.cols].astype(np.float32)
            self._light = 1.0 - lighting * (0.6 * xx / self.cols + 0.4 * yy / self.rows)
            img = np.empty((self.rows, self.cols, 3), np.float32)
            img[:] = 35.0
            img += self.texture[..., None]
            self._stickers(img)
            self._static = img * self._light[..., None]
            self._static_key = key
        img = self._static.copy()
        mat = self.layer >= 0
        filament = np.array([40, 90, 230], np.float32)
        shade = np.where(self.layer[mat] == current, 1.0, 0.65).astype(np.float32) * self._light[mat]
        img[mat] = filament * shade[:, None]
        out = cv2.warpPerspective(img, self.raster_to_img, self.resolution, flags=cv2.INTER_LINEAR)
        out += rng.normal(0, noise, out.shape).astype(np.float32)
        return np.clip(out, 0, 255).astype(np.uint8)

    def _stickers(self, img: np.ndarray) -> None:
        """Paste the four ArUco markers (white border) into the bed raster."""
        d = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
        side = round(MARKER_SIZE * self.ppm)
        border = round(3 * self.ppm)
        for i, (x, y) in MARKERS.items():
            tag = cv2.aruco.generateImageMarker(d, i, side).astype(np.float32)
            c = self._px(np.array([[x, y]]))[0] / 16.0
            r0, c0 = round(c[1] - side / 2), round(c[0] - side / 2)
            img[r0 - border:r0 + side + border, c0 - border:c0 + side + border] = 235.0
            img[r0:r0 + side, c0:c0 + side] = tag[..., None] * 0.92
