"""Height parallax of a camera that does not look straight down, learned from the job's own sound layers.

The registration maps the bed plane. A layer's top at height z is seen where the camera's ray through it meets
the bed: displaced from the layer's plan position by (X - C)·z / (C_z - z), C the camera's centre. Over a part's
footprint and the first centimetres of height that is close to a displacement k·z with one vector k per camera
and part: each layer judged sound gives its measured offset at its height, k is their least-squares fit through
the origin, and the next photo is registered at its layer's height by moving the bed plane by k·z. A layer shift
is a step, not a drift that grows with height, so it stays a shift.

Before any layer has taught it, k comes from the camera's pose found in the bed registration (`vision.pose`), and
that prediction counts in the fit as one sample at `PRIOR_HEIGHT_MM`: a lens the pinhole model misses is corrected
by the job's own layers as the part grows.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from vision.registration import Registration

MIN_RESPONSE = 0.3        # an offset measured with a weaker phase-correlation peak teaches nothing
MIN_HEIGHT_MM = 0.5       # samples below this height are all noise and no parallax
MIN_SAMPLES = 2
PRIOR_HEIGHT_MM = 2.0     # the pose's prediction weighs as much as one layer measured at this height


class Parallax:
    """Learns the apparent drift per mm of height (bed mm / mm) and registers photos at a layer's height."""

    def __init__(self, limit_mm: float) -> None:
        """`limit_mm`: a measured offset (beyond the drift already allowed for) this large is not a sample."""
        self.limit_mm = limit_mm
        self._z: list[float] = []
        self._d: list[tuple[float, float]] = []
        self.prior: tuple[float, float] | None = None   # k predicted from the camera's pose, if known

    @property
    def drift(self) -> tuple[float, float]:
        """k: bed mm of apparent offset per mm of height (the pose's prediction, or 0, until enough sound layers
        were measured; then their fit, the prediction counted as one of them)."""
        if len(self._z) < MIN_SAMPLES:
            return self.prior or (0.0, 0.0)
        z = np.asarray(self._z)
        d = np.asarray(self._d)
        num, den = (z[:, None] * d).sum(axis=0), float((z * z).sum())
        if self.prior is not None:
            num, den = num + PRIOR_HEIGHT_MM ** 2 * np.asarray(self.prior), den + PRIOR_HEIGHT_MM ** 2
        k = num / den
        return (float(k[0]), float(k[1]))

    def offset_at(self, z: float) -> tuple[float, float]:
        """Predicted apparent offset (bed mm) of a layer top at height z."""
        kx, ky = self.drift
        return (kx * z, ky * z)

    def learn(self, z: float, measured: tuple[float, float], response: float) -> None:
        """A sound layer at height z, checked with its top moved by `offset_at(z)`, showed `measured` offset on top."""
        if z < MIN_HEIGHT_MM or response < MIN_RESPONSE or float(np.hypot(*measured)) >= self.limit_mm:
            return
        px, py = self.offset_at(z)
        self._z.append(z)
        self._d.append((px + measured[0], py + measured[1]))

    def walls(self, footprint: np.ndarray, z: float, px_per_mm: float) -> np.ndarray:
        """`footprint` (uint8 raster, registered at height z) grown over where the part's side walls are seen:
        from its top, where the registration puts it, to its foot on the bed, moved by the predicted offset."""
        dx, dy = self.offset_at(z)
        steps = int(np.ceil(np.hypot(dx, dy) * px_per_mm))
        if steps == 0:
            return footprint
        out = footprint.copy()
        for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
            # bed mm (x right, y up) to raster px (column right, row down); the foot lies back by the offset
            move = np.array([[1.0, 0.0, -t * dx * px_per_mm], [0.0, 1.0, t * dy * px_per_mm]])
            out = np.maximum(out, cv2.warpAffine(footprint, move, (footprint.shape[1], footprint.shape[0]),
                                                 flags=cv2.INTER_NEAREST))
        return out

    def at_height(self, registration: Registration, z: float) -> Registration:
        """The registration of the plane at height z: the bed plane moved back by the predicted offset."""
        dx, dy = self.offset_at(z)
        if dx == 0.0 and dy == 0.0:
            return registration
        move = np.array([[1.0, 0.0, -dx], [0.0, 1.0, -dy], [0.0, 0.0, 1.0]])
        return dataclasses.replace(registration, homography=move @ registration.homography)
