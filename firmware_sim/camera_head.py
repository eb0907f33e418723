"""The print head and the X gantry in the camera's view: boxes in bed mm, projected through the pinhole and
drawn over the scene (they are above everything printed), faces turned away from the camera culled.

Sizes are a typical direct-drive carriage: a dark 44 × 40 × 47 mm body, an aluminium heater block and a brass
nozzle whose tip is the head's position, on two rods running across the bed behind it."""
from __future__ import annotations

import cv2
import numpy as np

from firmware_sim.camera_config import CameraConfig
from firmware_sim.camera_geometry import camera_centre, project_px

# (x0, x1, y0, y1, z0, z1) relative to the nozzle tip, and BGR: body, heater block, nozzle, two gantry rods
_PARTS: tuple[tuple[tuple[float, float, float, float, float, float], tuple[int, int, int]], ...] = (
    ((-8.0, 8.0, -6.0, 6.0, 2.5, 8.0), (150, 150, 152)),
    ((-2.0, 2.0, -2.0, 2.0, 0.0, 2.5), (40, 140, 195)),
    ((-22.0, 22.0, -20.0, 20.0, 8.0, 55.0), (44, 44, 48)),
)
_RODS = ((22.0, 30.0, 18.0, 26.0), (22.0, 30.0, 38.0, 46.0))     # y0, y1, z0, z1 relative to the nozzle tip
_ROD_X = (-60.0, 280.0)
_ROD_BGR = (105, 105, 110)
_FACES = (  # a box's six faces: corner indices (a, b, c, d; the outline runs a, b, d, c), outward normal
    ((0, 1, 2, 3), (0.0, 0.0, -1.0)), ((4, 5, 6, 7), (0.0, 0.0, 1.0)),
    ((0, 1, 4, 5), (0.0, -1.0, 0.0)), ((2, 3, 6, 7), (0.0, 1.0, 0.0)),
    ((0, 2, 4, 6), (-1.0, 0.0, 0.0)), ((1, 3, 5, 7), (1.0, 0.0, 0.0)),
)
_FACE_LIGHT = {(0.0, 0.0, 1.0): 1.25, (0.0, -1.0, 0.0): 0.8, (-1.0, 0.0, 0.0): 1.0, (1.0, 0.0, 0.0): 0.7}


def _box(out: np.ndarray, config: CameraConfig, box: tuple[float, ...], bgr: tuple[int, int, int]) -> None:
    """Fill the faces of an axis-aligned box (x0, x1, y0, y1, z0, z1 mm) the camera sees, in place."""
    x0, x1, y0, y1, z0, z1 = box
    corners = np.array([[x, y, z] for z in (z0, z1) for y in (y0, y1) for x in (x0, x1)])
    px = project_px(config, corners)
    cam = camera_centre(config)
    for idx, normal in _FACES:
        centre = corners[list(idx)].mean(axis=0)
        if np.dot(normal, cam - centre) <= 0:
            continue
        level = _FACE_LIGHT.get(normal, 0.6)
        colour = tuple(int(min(255, c * level)) for c in bgr)
        quad = np.round(px[[idx[0], idx[1], idx[3], idx[2]]] * 16).astype(np.int32)
        cv2.fillConvexPoly(out, quad, colour, cv2.LINE_AA, 4)


def draw_head(out: np.ndarray, config: CameraConfig, nozzle: tuple[float, float, float]) -> None:
    """Draw the head with its nozzle tip at `nozzle` (bed mm) and the gantry it rides on, in place."""
    nx, ny, nz = nozzle
    boxes = [((x0 + nx, x1 + nx, y0 + ny, y1 + ny, z0 + nz, z1 + nz), bgr) for (x0, x1, y0, y1, z0, z1), bgr
             in _PARTS]
    rods = [((_ROD_X[0], _ROD_X[1], y0 + ny, y1 + ny, z0 + nz, z1 + nz), _ROD_BGR) for y0, y1, z0, z1 in _RODS]
    # the rods run behind the carriage; then lowest first (from above, nothing lower can hide anything higher)
    for box, bgr in [*rods, *sorted(boxes, key=lambda b: b[0][4])]:
        _box(out, config, box, bgr)
