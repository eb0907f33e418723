"""A camera above the bed: a photo-like BGR image (and JPEG) of what the printer has deposited.

Pipeline (at image resolution): the static background (textured sheet, ArUco markers, frame, uneven
lighting) is warped once per configuration and cached; per frame only the printed window of the height map
is reduced to about one pixel per image pixel, shaded (normals from the height gradient, a light direction,
height, newest layer brighter and glossier, older layers darker), warped into its image rectangle and
composited; then sensor noise. The homography bed-mm -> image px comes from a pinhole tilted by `tilt_deg`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from firmware_sim.camera_markers import MARKER_DICT, MARKERS, PLATE_PX_PER_MM, plate_raster
from firmware_sim.deposition import Deposition
from firmware_sim.errors import SimError

__all__ = ["MARKERS", "MARKER_DICT", "CameraConfig", "camera_matrix", "encode_jpeg", "render"]

_LIGHT = np.array([-0.45, 0.55, 1.0]) / np.linalg.norm([-0.45, 0.55, 1.0])
_HALF = (_LIGHT + [0, 0, 1]) / np.linalg.norm(_LIGHT + [0, 0, 1])
_COVER_MM = 0.06        # material thinner than this (after reduction to image pixels) fades into the sheet
_NOISE_PAD = 64         # the noise bank is this much larger than the frame; frames use random crops of it
_NOISE: dict[tuple[int, int, float], np.ndarray] = {}


@dataclass(frozen=True)
class CameraConfig:
    """Camera and scene: resolution, colours, noise, uneven light, tilt and the bed rectangle framed."""

    resolution: tuple[int, int] = (1280, 960)
    filament_bgr: tuple[int, int, int] = (40, 90, 230)
    bed_bgr: tuple[int, int, int] = (35, 35, 35)
    noise_sigma: float = 3.0
    lighting: float = 0.25
    tilt_deg: float = 4.0
    view: tuple[float, float, float, float] = (-30.0, -30.0, 250.0, 250.0)
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        """Reject settings no camera could have, naming the option and its limit."""
        w, h = self.resolution
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise CameraConfigError(f"resolution must be between 16x16 and 8192x8192 pixels, got {w}x{h}")
        if not 1 <= self.jpeg_quality <= 100:
            raise CameraConfigError(f"jpeg_quality must be 1..100, got {self.jpeg_quality}")
        if self.view[2] <= self.view[0] or self.view[3] <= self.view[1]:
            raise CameraConfigError(f"view must be (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {self.view}")
        if not 0.0 <= self.tilt_deg < 45.0:
            raise CameraConfigError(f"tilt_deg must be in [0, 45), got {self.tilt_deg}")
        if self.noise_sigma < 0 or not 0.0 <= self.lighting < 1.0:
            raise CameraConfigError("noise_sigma must be >= 0 and lighting in [0, 1)")


class CameraConfigError(SimError):
    """A camera setting is out of range."""


def _project(config: CameraConfig, pts: np.ndarray) -> np.ndarray:
    """Pinhole projection (unscaled) of bed-mm points for a camera tilted toward the back of the bed."""
    x0, y0, x1, y1 = config.view
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    dist = 2.0 * max(x1 - x0, y1 - y0)
    t = math.radians(config.tilt_deg)
    cam = np.array([0.0, -dist * math.sin(t), dist * math.cos(t)])
    fwd = np.array([0.0, math.sin(t), -math.cos(t)])
    right = np.array([1.0, 0.0, 0.0])
    down = np.cross(fwd, right)
    d = np.column_stack([pts[:, 0] - cx, pts[:, 1] - cy, np.zeros(len(pts))]) - cam
    depth = d @ fwd
    return np.column_stack([(d @ right) / depth, (d @ down) / depth])


@lru_cache(maxsize=8)
def _matrix(config: CameraConfig) -> np.ndarray:
    """Homography bed-mm -> image px fitting the view rectangle into the image (aspect kept, centred)."""
    x0, y0, x1, y1 = config.view
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    uv = _project(config, corners)
    w, h = config.resolution
    span = uv.max(axis=0) - uv.min(axis=0)
    scale = min((w - 1) / span[0], (h - 1) / span[1])
    offset = np.array([w - 1, h - 1]) / 2 - scale * (uv.max(axis=0) + uv.min(axis=0)) / 2
    dst = uv * scale + offset
    return cv2.getPerspectiveTransform(corners.astype(np.float32), dst.astype(np.float32)).astype(np.float64)


def camera_matrix(config: CameraConfig) -> np.ndarray:
    """3×3 homography bed-mm -> image px used by `render` (for tests; a host must find it from markers)."""
    return _matrix(config).copy()


def _to_image(hom: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a homography to (N,2) points."""
    return cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), hom).reshape(-1, 2)


@lru_cache(maxsize=4)
def _background(config: CameraConfig) -> tuple[np.ndarray, np.ndarray]:
    """Lit background image (uint8) and the lighting field (float32, H×W×1) for a configuration."""
    w, h = config.resolution
    hom = _matrix(config)
    inv = np.linalg.inv(hom)
    img_corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    mm = _to_image(inv, img_corners)
    bx0, by0 = math.floor(mm[:, 0].min()) - 2, math.floor(mm[:, 1].min()) - 2
    bx1, by1 = math.ceil(mm[:, 0].max()) + 2, math.ceil(mm[:, 1].max()) + 2
    plate = plate_raster((bx0, by0, bx1, by1), config.bed_bgr)
    s = PLATE_PX_PER_MM
    px_to_mm = np.array([[1 / s, 0, bx0 + 0.5 / s], [0, -1 / s, by1 - 0.5 / s], [0, 0, 1]])
    bg = cv2.warpPerspective(plate, hom @ px_to_mm, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    u = (np.arange(w, dtype=np.float32) - w / 2) / (w / 2)
    v = (np.arange(h, dtype=np.float32) - h / 2) / (h / 2)
    r2 = (u[None, :] ** 2 + v[:, None] ** 2) / 2
    light = 1.0 - config.lighting * (0.75 * r2 + 0.25 * (u[None, :] + 1) / 2 + 0.1 * (v[:, None] + 1) / 2)
    light = (light / light.max()).astype(np.float32)[..., None]
    lit = np.clip(bg.astype(np.float32) * light, 0, 255).astype(np.uint8)
    return lit, light


def _f32(a: Any) -> npt.NDArray[np.float32]:
    """An OpenCV result as a float32 array (for the type checker; no copy)."""
    return np.asarray(a, np.float32)


def _shade(height: np.ndarray, fresh: np.ndarray, mm_px: float, config: CameraConfig) -> np.ndarray:
    """Premultiplied BGRA float32 of printed material: Lambert + gloss, height and layer-age shading."""
    lx, ly, lz = (float(v) for v in _LIGHT)
    hx, hy, hz = (float(v) for v in _HALF)
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
    top = float(height.max()) or 1.0
    diffuse = ndl
    diffuse *= 0.65
    diffuse += 0.35
    diffuse *= _f32(cv2.addWeighted(height, 0.2 / top, height, 0.0, 0.8))  # shaded by height
    diffuse *= _f32(cv2.addWeighted(fresh, 0.2, fresh, 0.0, 0.84))         # newest layer brighter, older darker
    g = ndh * ndh                                                          # gloss = 90 * fresh * ndh^24
    g *= g
    g *= g
    gloss = g * g
    gloss *= g
    gloss *= fresh
    gloss *= 90.0
    alpha = np.minimum(height * np.float32(1.0 / _COVER_MM), np.float32(1.0))
    out = np.empty((*height.shape, 4), np.float32)
    for ch in range(3):
        plane = diffuse * float(config.filament_bgr[ch])
        plane += gloss
        plane *= alpha
        out[..., ch] = plane
    out[..., 3] = alpha
    return out


def _noise_bank(w: int, h: int, sigma: float) -> np.ndarray:
    """A fixed bank of Gaussian sensor noise a little larger than the frame (int16); frames crop it at random."""
    key = (w, h, sigma)
    bank = _NOISE.get(key)
    if bank is None:
        gen = np.random.default_rng(7331)
        bank = np.rint(gen.standard_normal((h + _NOISE_PAD, w + _NOISE_PAD, 3), np.float32) * sigma).astype(np.int16)
        _NOISE.clear()
        _NOISE[key] = bank
    return bank


def render(dep: Deposition, current_layer: int, config: CameraConfig, rng: np.random.Generator) -> np.ndarray:
    """Photo-like BGR uint8 image of the bed with what has been deposited; deterministic for a seed."""
    w, h = config.resolution
    lit, light = _background(config)
    out = lit.copy()
    if dep.extent is not None:
        _composite(out, light, dep, current_layer, config)
    oy, ox = (int(v) for v in rng.integers(0, _NOISE_PAD, 2))
    if config.noise_sigma > 0:
        bank = _noise_bank(w, h, config.noise_sigma)
        out = cv2.add(out, bank[oy:oy + h, ox:ox + w], dtype=cv2.CV_8U)
    return out


def _aligned(a0: int, a1: int, f: int, n: int) -> tuple[int, int]:
    """Grow [a0, a1) to a multiple of f cells inside [0, n)."""
    size = min(-(-(a1 - a0) // f) * f, n - n % f)
    a0 = max(0, min(a0, n - size))
    return a0, a0 + size


def _composite(out: np.ndarray, light: np.ndarray, dep: Deposition, current_layer: int, config: CameraConfig
               ) -> None:
    """Shade the printed window of the height map and blend it into `out` in place."""
    w, h = config.resolution
    hom = _matrix(config)
    rows, cols = dep.height.shape
    r0, r1, c0, c1 = dep.extent  # type: ignore[misc]
    cell = dep.cell
    box = np.array([[c0, r0], [c1, r0], [c1, r1], [c0, r1]], np.float64) * cell
    img_box = _to_image(hom, box)
    ux0, uy0 = max(0, math.floor(img_box[:, 0].min()) - 1), max(0, math.floor(img_box[:, 1].min()) - 1)
    ux1, uy1 = min(w, math.ceil(img_box[:, 0].max()) + 2), min(h, math.ceil(img_box[:, 1].max()) + 2)
    if ux1 <= ux0 or uy1 <= uy0:
        return
    px_per_mm = max((img_box[:, 0].max() - img_box[:, 0].min()) / ((c1 - c0) * cell),
                    (img_box[:, 1].max() - img_box[:, 1].min()) / ((r1 - r0) * cell))
    f = max(1, round(1.0 / (px_per_mm * cell)))         # reduce by an integer factor to ~1 px per image px
    r0, r1 = _aligned(r0, r1, f, rows)
    c0, c1 = _aligned(c0, c1, f, cols)
    hgt: np.ndarray = dep.height[r0:r1, c0:c1]
    fresh: np.ndarray = np.asarray(cv2.compare(dep.layer[r0:r1, c0:c1], current_layer,  # type: ignore[call-overload]
                                               cv2.CMP_EQ))
    if f > 1:
        hgt = np.asarray(cv2.resize(hgt, None, fx=1.0 / f, fy=1.0 / f, interpolation=cv2.INTER_AREA))
        fresh = np.asarray(cv2.resize(fresh, None, fx=1.0 / f, fy=1.0 / f, interpolation=cv2.INTER_AREA))
    fresh_f = fresh.astype(np.float32)
    fresh_f *= 1.0 / 255.0
    step = cell * f
    rgba = _shade(hgt, fresh_f, step, config)
    # reduced pixel (j, i) centre -> bed mm, then -> image px, then -> ROI px
    px_to_mm = np.array([[step, 0, c0 * cell + step / 2], [0, step, r0 * cell + step / 2], [0, 0, 1]])
    shift = np.array([[1, 0, -ux0], [0, 1, -uy0], [0, 0, 1]], np.float64)
    warped = cv2.warpPerspective(rgba, shift @ hom @ px_to_mm, (ux1 - ux0, uy1 - uy0), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    roi = out[uy0:uy1, ux0:ux1]
    alpha = warped[..., 3:4]
    col = warped[..., :3]
    col *= light[uy0:uy1, ux0:ux1]
    base = roi.astype(np.float32)
    base *= 1.0 - alpha
    base += col
    np.clip(base, 0, 255, out=base)
    roi[:] = base


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of a BGR image, as a webcam snapshot URL serves them."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
