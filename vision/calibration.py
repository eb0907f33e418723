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
from dataclasses import asdict, dataclass, replace
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
    shadows: bool = True                  # bed in shadow told from material (False: the filament is the bed dimmed)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form (rounded)."""
        return {k: (round(v, 2) if isinstance(v, float) else [round(c, 1) for c in v] if isinstance(v, tuple)
                    else v) for k, v in asdict(self).items()}

    def save(self, path: str | Path) -> None:
        """Keep the figures beside the printer's registration (for the technician and the next job's record)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))


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
    dist = obs.distance
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
    return replace(obs, material=obs.distance > threshold)


AGEING_MIN_PX = 60          # fewer once-fresh, now-uncovered pixels than this: no ageing sample from a layer
AGEING_RANGE = (0.35, 0.98)  # a sample outside this is a fault or a change of light, not ageing


def ageing_sample(obs: Observation, prev: Observation, prev_fraction: np.ndarray, top: np.ndarray,
                  grid: BedGrid, config: VisionConfig) -> float | None:
    """Old/fresh brightness ratio of this camera and material, measured on a layer judged sound: material that
    was fresh in the previous photo (its fraction ≥ 0.9) and that this layer does not cover has aged by exactly
    the ratio the check must expect. None when the layer leaves too little such material uncovered."""
    reach = max(1, round(config.psf_mm * grid.px_per_mm))
    covered = cv2.dilate(top, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))) > 0
    was_fresh = prev_fraction >= 0.8
    sample = was_fresh & ~covered & obs.material & prev.material
    if np.count_nonzero(sample) < AGEING_MIN_PX:
        return None
    ratio = float(np.median(obs.grey[sample] / np.maximum(prev.grey[sample], 1.0)))
    return ratio if AGEING_RANGE[0] <= ratio <= AGEING_RANGE[1] else None
