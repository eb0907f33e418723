"""Where the camera is and how bed points (and points above or below the bed) land in its image.

A pinhole camera at the front of the printer, `tilt_deg` from looking straight down, aimed at the centre of the
framed view rectangle from twice the rectangle's span away. Bed millimetres: x right, y toward the back, z up.
`bed_homography` maps the bed plane (z = 0) to image pixels; a point at height z lands where the camera's ray
through it meets the bed plane, so `height_homography(config, z)` is the bed homography after scaling the bed
about the point under the camera by cz / (cz - z) (z < 0: the mirror image under a glass sheet).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from firmware_sim.camera_config import CameraConfig


def _pose(config: CameraConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Camera centre relative to the view centre, and its forward, right and down unit vectors."""
    x0, y0, x1, y1 = config.view
    dist = 2.0 * max(x1 - x0, y1 - y0)
    t = math.radians(config.tilt_deg)
    cam = np.array([0.0, -dist * math.sin(t), dist * math.cos(t)])
    fwd = np.array([0.0, math.sin(t), -math.cos(t)])
    right = np.array([1.0, 0.0, 0.0])
    down = np.cross(fwd, right)
    return cam, fwd, right, down


@lru_cache(maxsize=8)
def _centre(config: CameraConfig) -> tuple[float, float, float]:
    """Position of the camera's pinhole in bed mm."""
    x0, y0, x1, y1 = config.view
    cam = _pose(config)[0]
    return (x0 + x1) / 2 + float(cam[0]), (y0 + y1) / 2 + float(cam[1]), float(cam[2])


def camera_centre(config: CameraConfig) -> np.ndarray:
    """(3,) position of the camera's pinhole in bed mm."""
    return np.array(_centre(config))


def project(config: CameraConfig, pts: np.ndarray) -> np.ndarray:
    """Pinhole projection (unscaled) of (N,2) bed-plane or (N,3) bed-mm points."""
    x0, y0, x1, y1 = config.view
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    cam, fwd, right, down = _pose(config)
    z = pts[:, 2] if pts.shape[1] > 2 else np.zeros(len(pts))
    d = np.column_stack([pts[:, 0] - cx, pts[:, 1] - cy, z]) - cam
    depth = d @ fwd
    return np.column_stack([(d @ right) / depth, (d @ down) / depth])


@lru_cache(maxsize=8)
def _intrinsics(config: CameraConfig) -> tuple[float, tuple[float, float]]:
    """Scale and offset from unscaled pinhole coordinates to pixels, fitting the view rectangle (centred)."""
    x0, y0, x1, y1 = config.view
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    uv = project(config, corners)
    w, h = config.resolution
    span = uv.max(axis=0) - uv.min(axis=0)
    scale = min((w - 1) / span[0], (h - 1) / span[1])
    offset = np.array([w - 1, h - 1]) / 2 - scale * (uv.max(axis=0) + uv.min(axis=0)) / 2
    return float(scale), (float(offset[0]), float(offset[1]))


def project_px(config: CameraConfig, pts: np.ndarray) -> np.ndarray:
    """(N,2) image pixels of (N,2) or (N,3) bed-mm points."""
    scale, offset = _intrinsics(config)
    return project(config, np.asarray(pts, np.float64)) * scale + np.asarray(offset)


@lru_cache(maxsize=8)
def bed_homography(config: CameraConfig) -> np.ndarray:
    """Homography bed-mm (z = 0) -> image px fitting the view rectangle into the image (aspect kept, centred)."""
    x0, y0, x1, y1 = config.view
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    dst = project_px(config, corners)
    return cv2.getPerspectiveTransform(corners.astype(np.float32), dst.astype(np.float32)).astype(np.float64)


def lift(config: CameraConfig, z: float) -> np.ndarray:
    """3×3 map of bed points to where the camera sees the point above them at height z, on the bed plane."""
    cx, cy, cz = _centre(config)
    s = cz / (cz - z)
    return np.array([[s, 0.0, cx * (1 - s)], [0.0, s, cy * (1 - s)], [0.0, 0.0, 1.0]])


def height_homography(config: CameraConfig, z: float) -> np.ndarray:
    """Homography from bed (x, y) to image px of the point (x, y, z)."""
    return bed_homography(config) @ lift(config, z)


def view_direction(config: CameraConfig) -> np.ndarray:
    """Unit vector from the view centre toward the camera."""
    cam = _pose(config)[0]
    return cam / np.linalg.norm(cam)
