"""Where the camera is, from the bed registration alone: a pinhole's homography of the bed plane is K·[r1 r2 t],
so with square pixels and the principal point at the image's centre its focal length, rotation and position follow
(Zhang, "A flexible new technique for camera calibration", 2000, §3.1, with one view and two constraints).

A camera that looks at an angle sees a layer's top at height z where its ray meets the bed: displaced from the
layer's plan position X by (X - C)·z / (C_z - z). Knowing C from the registration predicts that drift from the
first layer on, before the job's sound layers have taught it (see `vision.parallax`).
"""
from __future__ import annotations

import numpy as np

MIN_TILT_SIN = 0.05   # a homography this close to an affine one: no perspective to tell a focal length from
MIN_TILT_DEG = 8.0    # nearer straight down the focal length is told too poorly (a tenth off at 4°) to predict by


def camera_centre(image_to_bed: np.ndarray, image_size: tuple[int, int]) -> np.ndarray | None:
    """The camera's centre (x, y, z) in bed mm from a homography image px -> bed mm of an image of this size
    (width, height); None when the homography does not determine it well (a camera within `MIN_TILT_DEG` of
    straight down, or a fit that is no pinhole's)."""
    try:
        bed_to_image = np.linalg.inv(np.asarray(image_to_bed, np.float64))
    except np.linalg.LinAlgError:
        return None
    w, h = image_size
    shift = np.array([[1.0, 0.0, -w / 2.0], [0.0, 1.0, -h / 2.0], [0.0, 0.0, 1.0]])
    g = shift @ bed_to_image
    g = g / np.linalg.norm(g[:, 0])
    (a, b, _), (c, d, _), (e, f_, _) = g
    # r1·r2 = 0 and |r1| = |r2| for the columns of diag(1/f, 1/f, 1)·g, linear in w = 1/f²
    rows = np.array([[a * b + c * d, e * f_], [a * a + c * c - b * b - d * d, e * e - f_ * f_]])
    scale = float(np.linalg.norm(rows[:, 0]))
    if scale == 0.0 or float(np.hypot(e, f_)) * np.sqrt(w * w + h * h) < MIN_TILT_SIN:
        return None
    inv_f2 = -float(rows[:, 0] @ rows[:, 1]) / (scale * scale)
    if not inv_f2 > 0:
        return None
    focal = 1.0 / np.sqrt(inv_f2)
    m = np.diag([1.0 / focal, 1.0 / focal, 1.0]) @ g
    lam = 1.0 / np.linalg.norm(m[:, 0])
    if m[2, 2] < 0:                  # the bed lies in front of the camera
        lam = -lam
    r1, r2, t = lam * m[:, 0], lam * m[:, 1], lam * m[:, 2]
    r3 = np.cross(r1, r2)
    rot = np.column_stack([r1, r2, r3])
    u, _, vt = np.linalg.svd(rot)     # the nearest rotation
    rot = u @ vt
    if np.degrees(np.arccos(min(1.0, abs(float(rot[2, 2]))))) < MIN_TILT_DEG:   # optical axis from the bed normal
        return None
    centre = -rot.T @ t
    if centre[2] <= 0:               # bed axes x right, y back: a camera above the bed has z > 0
        centre[2] = -centre[2]
    return centre if np.all(np.isfinite(centre)) else None


def drift_at(centre: np.ndarray, point: tuple[float, float]) -> tuple[float, float]:
    """Apparent offset (bed mm) per mm of height of a layer top at a bed point, for low heights: (X - C) / C_z."""
    cx, cy, cz = (float(v) for v in centre)
    return ((point[0] - cx) / cz, (point[1] - cy) / cz)
