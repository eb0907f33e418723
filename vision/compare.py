"""Compare a photo of a finished layer with its reference: fresh-material segmentation, overlap, offset.

The photo is warped to the job's bed-mm raster. Fresh material is told from old by change against the previous
layer's photo (same pixels, so uneven light and bed texture cancel): new material where there was bed, or a rise
in brightness where old material was covered, or brightness held where the previous layer was fresh. Without a
previous photo every material pixel counts as fresh (right for the first layer).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.config import VisionConfig
from vision.reference import BedGrid
from vision.registration import Registration


@dataclass(frozen=True, eq=False)
class Observation:
    """One photo warped to the job raster: colour, blurred grey level and where material is."""

    bgr: np.ndarray        # (H, W, 3) uint8
    grey: np.ndarray       # (H, W) float32, blurred luminance
    material: np.ndarray   # (H, W) bool, colour far enough from the bed's
    bed_bgr: tuple[float, float, float]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Figures of one layer against its reference, and the masks behind them (raster px)."""

    layer_area_mm2: float
    iou: float
    coverage: float              # mean fresh-ness over the layer's interior, 0..1
    missing_area_mm2: float
    excess_area_mm2: float       # fresh material outside the layer (beyond the edge tolerance)
    stray_area_mm2: float        # new material outside everything printed so far
    offset_mm: tuple[float, float]
    shifted_iou: float           # IoU after moving the reference by the offset
    response: float              # phase-correlation peak strength
    rho: float                   # measured brightness ratio old/fresh material
    brightness_gain: float       # grey levels gained per unit of expected fresh material (0 without previous)
    fresh: np.ndarray            # bool
    missing: np.ndarray          # bool
    excess: np.ndarray           # bool


def _disk(radius_px: float) -> np.ndarray:
    """Elliptic structuring element of a given radius in pixels."""
    r = max(0, int(round(radius_px)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def observe(image: np.ndarray, registration: Registration, grid: BedGrid, config: VisionConfig,
            footprint: np.ndarray | None = None) -> Observation:
    """Warp a BGR photo to the raster, estimate the bed colour away from the part and segment material."""
    m = grid.mm_to_px() @ registration.homography
    rows, cols = grid.shape
    bgr = cv2.warpPerspective(image, m, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    if config.blur_px > 0:
        grey = cv2.GaussianBlur(grey, (0, 0), config.blur_px)
    if footprint is not None and footprint.any():
        away = cv2.dilate(footprint, _disk(3.0 * grid.px_per_mm)) == 0
    else:
        away = np.ones((rows, cols), bool)
    sample = bgr[away] if away.sum() >= 50 else bgr.reshape(-1, 3)
    bed = np.median(sample, axis=0).astype(np.float32)
    dist = np.linalg.norm(bgr.astype(np.float32) - bed, axis=2)
    if config.blur_px > 0:
        dist = cv2.GaussianBlur(dist, (0, 0), config.blur_px)
    material = dist > config.material_contrast
    return Observation(bgr, grey, material, (float(bed[0]), float(bed[1]), float(bed[2])))


def freshness(obs: Observation, prev: Observation | None, prev_top: np.ndarray | None, top: np.ndarray,
              grid: BedGrid, config: VisionConfig, rho_default: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-pixel evidence 0..1 that material was laid down since the previous photo, the brightness above the
    "nothing printed" prediction (grey levels) and the ageing ratio used.

    Material that was fresh in the previous photo darkens by a ratio rho once covered by nothing new; rho is
    measured on this photo where the previous layer lies away from this one (else the last known value). The
    evidence is the brightness above that "nothing printed" prediction, over the full fresh-old contrast.
    """
    if prev is None:
        f0 = obs.material.astype(np.float32)
        return f0, f0 * 0.0, rho_default
    was_fresh = prev.material if prev_top is None else (prev.material & (cv2.dilate(prev_top, _disk(1)) > 0))
    # measure on the interior of wide areas only: thin beads mix with their darker surroundings in the photo
    solid = prev.material if prev_top is None else (prev.material & (cv2.erode(prev_top, _disk(1)) > 0))
    away = solid & obs.material & (cv2.dilate(top, _disk(config.edge_tolerance_mm * grid.px_per_mm)) == 0)
    rho = rho_default
    if np.count_nonzero(away) >= 40:
        rho = float(np.clip(np.median(obs.grey[away] / np.maximum(prev.grey[away], 1.0)), 0.3, 1.0))
    p = prev.grey
    predicted = np.where(was_fresh, rho * p, p)
    contrast = np.where(was_fresh, p * (1.0 - rho), p * (1.0 / rho - 1.0))
    contrast = np.maximum(contrast, config.fresh_step)
    gain = (obs.grey - predicted).astype(np.float32)
    f = np.clip(gain / contrast, 0.0, 1.0)
    f[obs.material & ~prev.material] = 1.0
    f[~obs.material] = 0.0
    return f.astype(np.float32), gain, rho


def _shifted(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """A bool mask moved by whole pixels (dx columns right, dy rows down), zero-filled."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    if abs(dx) >= w or abs(dy) >= h:
        return out
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    out[yd, xd] = mask[ys, xs]
    return out


def find_offset(ref: np.ndarray, fresh: np.ndarray, search_px: int = 2) -> tuple[float, float, float]:
    """Offset (dx, dy) px of `fresh` against `ref` and the correlation response.

    Phase correlation finds the peak; the sub-pixel part is then refined on the overlap count around it, since
    phase correlation's own sub-pixel estimate is biased on binary masks.
    """
    (dx, dy), response = cv2.phaseCorrelate(ref.astype(np.float32), fresh.astype(np.float32))
    cx, cy = int(round(dx)), int(round(dy))
    r = search_px
    counts = np.zeros((2 * r + 1, 2 * r + 1))
    for j in range(-r, r + 1):
        for i in range(-r, r + 1):
            counts[j + r, i + r] = np.count_nonzero(_shifted(ref, cx + i, cy + j) & fresh)
    j, i = np.unravel_index(np.argmax(counts), counts.shape)

    def vertex(a: float, b: float, c: float) -> float:
        den = a - 2 * b + c
        return 0.0 if den >= 0 else 0.5 * (a - c) / den

    fx = vertex(counts[j, i - 1], counts[j, i], counts[j, i + 1]) if 0 < i < 2 * r else 0.0
    fy = vertex(counts[j - 1, i], counts[j, i], counts[j + 1, i]) if 0 < j < 2 * r else 0.0
    return cx + i - r + fx, cy + j - r + fy, float(response)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1 when both are empty)."""
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def compare(obs: Observation, prev: Observation | None, top: np.ndarray, below: np.ndarray,
            prev_top: np.ndarray | None, grid: BedGrid, config: VisionConfig, rho: float = 0.65) -> Comparison:
    """Compare the observed fresh material with layer n's mask `top` (all layers under it in `below`)."""
    px_area = grid.px_area_mm2
    ref = top > 0
    tol = _disk(config.edge_tolerance_mm * grid.px_per_mm)
    grown = cv2.dilate(top, tol) > 0
    core = cv2.erode(top, tol) > 0
    if np.count_nonzero(core) < 0.25 * np.count_nonzero(ref):
        core = ref
    f, gain, rho = freshness(obs, prev, prev_top, top, grid, config, rho)
    fresh = f > 0.5
    # thin beads look dimmer than solid fill to a camera of finite resolution: compare with the reference
    # blurred by the camera, so a clean sparse layer scores about as well as a clean solid one
    expected = cv2.GaussianBlur(top.astype(np.float32) / 255.0, (0, 0), max(0.3, config.psf_mm * grid.px_per_mm))
    expected = np.clip(expected, 0.05, 1.0) if prev is not None else np.ones_like(expected)
    coverage = float(f[core].sum() / expected[core].sum()) if core.any() else 1.0
    # brightness gained around the layer per unit of expected material: linear in the width of the beads laid
    band = cv2.dilate(top, _disk(2.0 * config.psf_mm * grid.px_per_mm)) > 0
    brightness_gain = float(gain[band].sum() / max(float(expected[band].sum()), 1e-6))
    missing = core & ~fresh
    excess = fresh & ~grown
    everything = cv2.dilate(cv2.bitwise_or(top, below), tol) > 0
    new = obs.material if prev is None else (obs.material & ~prev.material)
    stray = new & ~everything
    iou = _iou(fresh, ref)
    offset = (0.0, 0.0)
    shifted_iou = iou
    response = 0.0
    if fresh.any() and ref.any():
        dx, dy, response = find_offset(ref, fresh)
        moved = _shifted(ref, int(round(dx)), int(round(dy)))
        shifted_iou = _iou(fresh, moved)
        offset = (float(dx / grid.px_per_mm), float(-dy / grid.px_per_mm))
    return Comparison(
        layer_area_mm2=float(np.count_nonzero(ref) * px_area),
        iou=float(iou), coverage=coverage,
        missing_area_mm2=float(np.count_nonzero(missing) * px_area),
        excess_area_mm2=float(np.count_nonzero(excess) * px_area),
        stray_area_mm2=float(np.count_nonzero(stray) * px_area),
        offset_mm=offset, shifted_iou=float(shifted_iou), response=float(response), rho=rho, brightness_gain=brightness_gain,
        fresh=fresh, missing=missing, excess=excess | stray,
    )
