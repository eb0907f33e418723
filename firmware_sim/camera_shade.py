"""Shading of printed material from its height map (reduced to about one cell per image pixel).

Normals come from the height gradient; Lambert light from the lamp plus ambient, shaded by height and layer age
(the newest layer brighter); a Blinn highlight (only the newest layer's, or some on the older ones for glossy
filament); for silk a Kajiya-Kay highlight across the beads, whose direction is the local orientation of the
height map's structure tensor (beads are ridges along the print direction); for translucent filament an opacity
that grows with thickness and a glow at edges; the cast shadow dims the lamp's share. Walls (seen when material
is projected at its height) take the lamp by the horizontal normal of the part's outline.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from firmware_sim.camera_config import CameraConfig
from firmware_sim.camera_geometry import view_direction
from firmware_sim.camera_light import LIGHT

COVER_MM = 0.06        # material thinner than this (after reduction to image pixels) fades into the sheet
BEAD_MM = 0.45         # the scale of the bead structure the silk highlight follows
SILK_EXP = 90.0
RIM_MM = 0.6           # width of the band along a translucent part's edges where light leaves it
RIM_GAIN = 6.0         # edge strength per unit slope of the height blurred over RIM_MM (a layer's edge: ~1)


@dataclass
class Shading:
    """Per reduced cell: colour planes of the top surface and of walls (BGR, float32) and the top's opacity."""

    top: list[np.ndarray]
    alpha: np.ndarray
    wall: list[np.ndarray] | None


def _f32(a: Any) -> npt.NDArray[np.float32]:
    """An OpenCV result as a float32 array (for the type checker; no copy)."""
    return np.asarray(a, np.float32)


def _power(x: np.ndarray, n: int) -> np.ndarray:
    """x**n for the Blinn exponent (24 by repeated squaring, the way it was always computed)."""
    if n == 24:
        g = x * x
        g *= g
        g *= g
        out = g * g
        out *= g
        return out
    return _f32(cv2.pow(x, float(n)))


def _half(config: CameraConfig) -> tuple[float, float, float]:
    """Half vector between the lamp and the camera (straight up unless material is seen in perspective)."""
    view = view_direction(config) if config.parallax else np.array([0.0, 0.0, 1.0])
    half = LIGHT + view
    return tuple(float(v) for v in half / np.linalg.norm(half))  # type: ignore[return-value]


def _silk(gx: np.ndarray, gy: np.ndarray, mm_px: float, half: tuple[float, float, float]) -> np.ndarray:
    """Kajiya-Kay highlight (0..1) of beads whose direction is the structure tensor's weaker axis."""
    sigma = max(0.8, 1.5 * BEAD_MM / mm_px)
    jxx = _f32(cv2.GaussianBlur(gx * gx, (0, 0), sigma))
    jxy = _f32(cv2.GaussianBlur(gx * gy, (0, 0), sigma))
    jyy = _f32(cv2.GaussianBlur(gy * gy, (0, 0), sigma))
    phi = 0.5 * np.arctan2(2 * jxy, jxx - jyy)            # across the beads
    tx, ty = -np.sin(phi), np.cos(phi)                       # along the beads
    spread = np.sqrt((jxx - jyy) ** 2 + 4 * jxy * jxy)
    coherence = spread / (jxx + jyy + 1e-6)
    th = tx * half[0] + ty * half[1]
    kk = np.clip(1.0 - th * th, 0.0, 1.0) ** (SILK_EXP / 2)
    return _f32(kk * coherence)


def shade(height: np.ndarray, fresh: np.ndarray, mm_px: float, config: CameraConfig,
          shadow: np.ndarray | None = None, built: np.ndarray | None = None) -> Shading:
    """Colour and opacity of printed material: Lambert + gloss, height and layer-age shading, finish effects.

    `built` is the height of the material itself where it differs from its top's (a warped part's corners are
    raised off the bed): the shading by height follows how much is built there, not how far it was lifted."""
    finish = config.finish
    lx, ly, lz = (float(v) for v in LIGHT)
    hx, hy, hz = _half(config)
    gx = _f32(cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3, scale=1.0 / (8 * mm_px)))
    gy = _f32(cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3, scale=1.0 / (8 * mm_px)))
    inv_n = gx * gx
    inv_n += gy * gy
    inv_n += 1.0
    cv2.sqrt(inv_n, inv_n)
    np.reciprocal(inv_n, out=inv_n)
    ndl = _f32(cv2.addWeighted(gx, -lx, gy, -ly, lz))
    ndl *= inv_n
    np.maximum(ndl, 0.0, out=ndl)
    ndh = _f32(cv2.addWeighted(gx, -hx, gy, -hy, hz))
    ndh *= inv_n
    np.maximum(ndh, 0.0, out=ndh)
    lit = None if shadow is None or config.shadow <= 0 else 1.0 - shadow * np.float32(config.shadow)
    if lit is not None:
        ndl *= lit
    stack = height if built is None else built
    top = float(stack.max()) or 1.0
    diffuse = ndl
    diffuse *= 0.65
    diffuse += 0.35
    diffuse *= _f32(cv2.addWeighted(stack, 0.2 / top, stack, 0.0, 0.8))  # shaded by height
    diffuse *= _f32(cv2.addWeighted(fresh, 0.2, fresh, 0.0, 0.84))         # newest layer brighter, older darker
    gloss = _power(ndh, finish.gloss_exp)
    if finish.aged_gloss > 0:
        gloss *= fresh * np.float32(1.0 - finish.aged_gloss) + np.float32(finish.aged_gloss)
    else:
        gloss *= fresh
    gloss *= float(finish.gloss)
    if finish.silk > 0:
        gloss += _silk(gx, gy, mm_px, (hx, hy, hz)) * np.float32(finish.silk) * (0.35 + 0.65 * ndl)
    if lit is not None:
        gloss *= lit
    alpha = np.minimum(height * np.float32(1.0 / COVER_MM), np.float32(1.0))
    glow = None
    if finish.clarity_mm > 0:
        rim = _f32(cv2.GaussianBlur(height, (0, 0), max(1.0, RIM_MM / mm_px)))
        rx = _f32(cv2.Sobel(rim, cv2.CV_32F, 1, 0, ksize=3, scale=1.0 / (8 * mm_px)))
        ry = _f32(cv2.Sobel(rim, cv2.CV_32F, 0, 1, ksize=3, scale=1.0 / (8 * mm_px)))
        edge = np.clip(np.sqrt(rx * rx + ry * ry) * np.float32(RIM_GAIN), 0.0, 1.0)   # 1 at a layer's edge
        # light crossing an edge travels through more material: more opaque there, and it leaves brighter
        path = height + edge * np.float32(finish.clarity_mm)
        alpha *= 1.0 - np.exp(-path / np.float32(finish.clarity_mm))
        glow = edge * np.float32(finish.edge_glow)
        gloss += glow
    planes = []
    for ch in range(3):
        plane = diffuse * float(finish.bgr[ch])
        plane += gloss
        planes.append(plane)
    wall = _walls(height, mm_px, finish.bgr, glow) if config.parallax else None
    return Shading(planes, alpha, wall)


def _walls(height: np.ndarray, mm_px: float, bgr: tuple[int, int, int], glow: np.ndarray | None
           ) -> list[np.ndarray]:
    """Colour planes of the part's side walls: ambient plus the lamp by the outline's outward normal."""
    outline = _f32(cv2.GaussianBlur(height, (0, 0), 2.0))
    gx = _f32(cv2.Sobel(outline, cv2.CV_32F, 1, 0, ksize=3))
    gy = _f32(cv2.Sobel(outline, cv2.CV_32F, 0, 1, ksize=3))
    norm = np.sqrt(gx * gx + gy * gy) + np.float32(1e-6)
    facing = np.maximum(-(gx * float(LIGHT[0]) + gy * float(LIGHT[1])) / norm, 0.0)   # outward normal · lamp
    level = 0.45 + 0.5 * facing                 # the room's light plus the lamp's
    extra = 0.0 if glow is None else glow * 0.5 + 20.0
    return [_f32(level * float(bgr[ch]) + extra) for ch in range(3)]
