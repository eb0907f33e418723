"""Light in the scene: the lamp's direction, the part's cast shadow, the room mirrored in the sheet, the room
light drifting between photos and the camera's auto-exposure.

All array code; deterministic (drift from the seed and the photo count only).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

from firmware_sim.camera_geometry import project_px
from firmware_sim.camera_surfaces import ROOM_LIGHTS

if TYPE_CHECKING:
    from firmware_sim.camera_config import CameraConfig

LIGHT = np.array([-0.45, 0.55, 1.0]) / np.linalg.norm([-0.45, 0.55, 1.0])   # toward the lamp: back left, above
LAMP_SIZE = 0.05          # radians the lamp spans as seen from the bed: the penumbra widens this much per mm
AE_TARGET = 105.0         # mean grey level an auto-exposing webcam aims for
AE_GAIN_LIMITS = (0.4, 2.5)


def shadow_length(height_mm: float) -> float:
    """How far (mm, on the bed) the shadow of an edge `height_mm` high reaches from it."""
    return height_mm * math.hypot(float(LIGHT[0]), float(LIGHT[1])) / float(LIGHT[2])


def cast_shadow(height: np.ndarray, step_mm: float) -> np.ndarray:
    """Shadow (0 lit .. 1 dark, float32, same shape) that the height map casts on itself and the bed.

    A cell is shaded when material toward the lamp rises above the ray from the cell to the lamp: the horizon
    max_s h(p + s·u) - s·slope is built by doubling the reach (a max-plus sweep along the lamp's bearing);
    the shadow's edge is softened by the penumbra of a lamp of `LAMP_SIZE`, wider for taller occluders."""
    top = float(height.max())
    if top <= 0:
        return np.zeros_like(height)
    lxy = math.hypot(float(LIGHT[0]), float(LIGHT[1]))
    ux, uy = float(LIGHT[0]) / lxy, float(LIGHT[1]) / lxy      # toward the lamp, in cells (row = +y)
    slope = step_mm * float(LIGHT[2]) / lxy                     # the ray rises this much per cell
    reach = shadow_length(top) / step_mm
    horizon = height.copy()
    d = 1.0
    rows, cols = height.shape
    while d < 2 * reach:
        m = np.array([[1, 0, d * ux], [0, 1, d * uy]], np.float32)
        far = np.asarray(cv2.warpAffine(horizon, m, (cols, rows), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                        borderMode=cv2.BORDER_CONSTANT, borderValue=0.0), np.float32)
        far -= np.float32(d * slope)
        np.maximum(horizon, far, out=horizon)
        d *= 2
    rise = horizon - height
    soft = 0.15 + LAMP_SIZE * top * 0.5                          # mm over which the shadow edge fades in
    shade = np.clip(rise / np.float32(soft), 0.0, 1.0)
    sigma = max(0.6, LAMP_SIZE * shadow_length(top) / step_mm * 0.5)
    return np.asarray(cv2.GaussianBlur(shade, (0, 0), sigma), np.float32)


def glare(config: CameraConfig, strength: float, blur: float) -> np.ndarray:
    """(H, W) float32 grey levels of the room's lamps and windows mirrored by the bed plane into the image.

    Each light quadrilateral is reflected in z = 0 and projected through the pinhole (so the reflection moves
    with the camera's pose), filled and softened by `blur` (a fraction of the image width)."""
    w, h = config.resolution
    out = np.zeros((h, w), np.float32)
    for quad in ROOM_LIGHTS:
        mirrored = quad * np.array([1.0, 1.0, -1.0])
        px = project_px(config, mirrored)
        if not np.isfinite(px).all():
            continue
        cv2.fillConvexPoly(out, np.round(px * 16).astype(np.int32), 1.0, cv2.LINE_AA, 4)
    sigma = max(0.8, blur * w)
    out = np.asarray(cv2.GaussianBlur(out, (0, 0), sigma), np.float32)
    peak = float(out.max())
    if peak > 0:
        out *= np.float32(strength / max(peak, 0.5))
    return out


def drift_factor(amount: float, seed: int, photo: int) -> float:
    """Room light relative to nominal for the photo-th photo: 1 ± amount at most, changing slowly.

    The sum of three slow sinusoids with periods of 40 to 110 photos, phases from the seed, normalised to
    at most 1 in magnitude."""
    if amount <= 0:
        return 1.0
    gen = np.random.default_rng([seed, 0x11D1F7])
    periods = gen.uniform([38.0, 61.0, 97.0], [44.0, 73.0, 113.0])
    phases = gen.uniform(0, 2 * math.pi, 3)
    weights = np.array([0.5, 0.3, 0.2])
    wave = float(np.sum(weights * np.sin(2 * math.pi * photo / periods + phases)))
    return 1.0 + amount * wave


def expose(img: np.ndarray, room: float, auto: float) -> np.ndarray:
    """The image scaled by the room light and the camera's gain: with auto-exposure `auto` (0..1) the gain
    moves that fraction of the way (in log) toward the one that gives the target mean."""
    gain = room
    if auto > 0:
        mean = float(np.mean(cv2.mean(img)[:3])) * room
        wanted = AE_TARGET / max(mean, 1.0)
        gain = room * float(np.clip(wanted ** auto, *AE_GAIN_LIMITS))
    if gain == 1.0:
        return img
    return np.asarray(cv2.convertScaleAbs(img, alpha=gain))
