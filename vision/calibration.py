"""A job's own camera figures, measured from its first checked layer instead of constants tuned to one renderer.

What counts as material is a colour distance from the bed. How far printed filament stands from the bed depends on
the filament and the sheet (orange on black PEI: far; orange on gold PEI, grey on grey: close), and how far bare
bed strays from its own median depends on the sheet's texture, the light and the sensor. Both are measured on the
first layer's photo, where the plan says where the new material is and where the bed is bare:

- bed spread: a high percentile of the colour distance of bare-bed pixels (away from any planned material);
- material contrast: the median colour distance of pixels well inside the first layer's beads.

The material threshold is then half the material contrast, kept above the bed spread (so texture and noise never
read as material) and never above the configured threshold (which stays the ceiling on high-contrast set-ups).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.compare import Observation
from vision.config import VisionConfig
from vision.reference import BedGrid

MIN_PIXELS = 200            # fewer bed or material pixels than this: nothing is measured
BED_PERCENTILE = 99.5       # the bed spread is this percentile of bare-bed colour distances
FLOOR_MARGIN = 1.25         # the threshold stays this factor above the bed spread ...
FLOOR_OFFSET = 4.0          # ... plus this many grey levels


@dataclass(frozen=True)
class Calibration:
    """Figures of one camera and material on one printer, measured on a job's first layer."""

    bed_bgr: tuple[float, float, float]   # median colour of the bare bed
    bed_spread: float                     # BED_PERCENTILE of bare-bed colour distances from bed_bgr
    material_contrast: float              # median colour distance of the first layer's material from bed_bgr
    material_threshold: float             # the threshold the job's checks use
    bed_pixels: int
    material_pixels: int

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form (rounded)."""
        return {k: (round(v, 2) if isinstance(v, float) else [round(c, 1) for c in v] if isinstance(v, tuple)
                    else v) for k, v in asdict(self).items()}

    def save(self, path: str | Path) -> None:
        """Keep the figures beside the printer's registration (for the technician and the next job's record)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))


def colour_distance(obs: Observation) -> np.ndarray:
    """Per raster pixel: the largest channel difference from the observation's bed colour (uint8)."""
    bed = np.full_like(obs.bgr, np.round(np.asarray(obs.bed_bgr)).astype(np.uint8))
    b, g, r = cv2.split(cv2.absdiff(obs.bgr, bed))
    return np.asarray(cv2.max(cv2.max(b, g), r))


def calibrate(obs: Observation, top: np.ndarray, grid: BedGrid, config: VisionConfig) -> Calibration | None:
    """Measure bed spread and material contrast on the first layer's photo (`top`: its planned beads, uint8).

    None when the layer has too little material or bed to measure (the configured threshold then stands).
    """
    tol = max(1, round((config.edge_tolerance_mm + 1.0) * grid.px_per_mm))
    near = cv2.dilate(top, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1, 2 * tol + 1)))
    bed = near == 0
    inner = max(1, round(0.5 * config.min_bead_mm * grid.px_per_mm))
    solid = cv2.erode(top, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * inner + 1, 2 * inner + 1))) > 0
    if int(solid.sum()) < MIN_PIXELS:
        solid = top > 0
    dist = colour_distance(obs)
    n_bed, n_mat = int(bed.sum()), int(solid.sum())
    if n_bed < MIN_PIXELS or n_mat < MIN_PIXELS:
        return None
    spread = float(np.percentile(dist[bed], BED_PERCENTILE))
    contrast = float(np.median(dist[solid]))
    floor = FLOOR_MARGIN * spread + FLOOR_OFFSET
    threshold = max(floor, min(config.material_contrast, 0.5 * contrast))
    return Calibration(obs.bed_bgr, spread, contrast, threshold, n_bed, n_mat)


def with_threshold(obs: Observation, threshold: float) -> Observation:
    """The observation with material segmented at another colour-distance threshold."""
    return Observation(obs.bgr, obs.grey, colour_distance(obs) > threshold, obs.bed_bgr)
