"""A camera above the bed: a photo-like BGR image (and JPEG) of what the printer has deposited.

Pipeline (at image resolution): the static background (the sheet's surface, ArUco markers, frame, uneven
lighting, the room mirrored in the sheet) is warped once per configuration and cached; per frame only the
printed window of the height map is reduced to about one pixel per image pixel, shaded (`camera_shade`),
optionally given its cast shadow (`camera_light`), and warped into its image rectangle: on the bed plane, or with
`parallax` as a stack of height bands each through the pinhole at its own height (lowest first, so higher
material covers lower: from above, nothing lower can hide it), with its mirror image first on a glass sheet;
then the print head and gantry if in view (`camera_head`), the room light's drift and the camera's
auto-exposure, then sensor noise. The homography bed-mm -> image px
comes from a pinhole tilted by `tilt_deg` (`camera_geometry`).
"""
from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from firmware_sim.camera_config import CameraConfig, CameraConfigError
from firmware_sim.camera_geometry import bed_homography, height_homography, project_px
from firmware_sim.camera_head import draw_head
from firmware_sim.camera_light import cast_shadow, drift_factor, expose, glare, shadow_length
from firmware_sim.camera_markers import (
    MARKER_DICT,
    MARKERS,
    PLATE_PX_PER_MM,
    SHEET,
    marker_corners,
    plate_raster,
)
from firmware_sim.camera_shade import Shading, shade
from firmware_sim.deposition import Deposition

__all__ = ["MARKERS", "MARKER_DICT", "CameraConfig", "CameraConfigError", "camera_matrix", "encode_jpeg",
           "project_px", "render"]

_NOISE_PAD = 64         # the noise bank is this much larger than the frame; frames use random crops of it
_NOISE: dict[tuple[int, int, float], np.ndarray] = {}
_BAND_PX = 1.0          # with parallax, successive height bands move at most this many pixels in the image
_MAX_BANDS = 400


def _slide(dy: float) -> np.ndarray:
    """The bed moved by -dy mm in Y (a bed-slinger's bed under a nozzle dy mm further back than the view's centre)."""
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -dy], [0.0, 0.0, 1.0]])


def _matrix(config: CameraConfig, dy: float = 0.0) -> np.ndarray:
    """Homography bed-mm -> image px (cached in camera_geometry), the bed slid by `dy` (see `bed_offset`)."""
    return bed_homography(config) @ _slide(dy)


def _lifted(config: CameraConfig, z: float, dy: float) -> np.ndarray:
    """Homography from bed (x, y) to image px of the point (x, y, z), the bed slid by `dy`."""
    return height_homography(config, z) @ _slide(dy)


def bed_offset(config: CameraConfig, head: tuple[float, float, float] | None) -> float:
    """How far (mm, in Y) a bed-slinger's bed has moved from where the camera frames it: the nozzle is fixed in Y
    over the view's centre, so the bed sits the head's Y minus that centre towards the front (0 without
    `bed_slinger`, or with no head position)."""
    if not config.bed_slinger or head is None:
        return 0.0
    return round(float(head[1]) - (config.view[1] + config.view[3]) / 2.0, 3)


def camera_matrix(config: CameraConfig) -> np.ndarray:
    """3×3 homography bed-mm -> image px used by `render` (for tests; a host must find it from markers)."""
    return _matrix(config).copy()


def _to_image(hom: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a homography to (N,2) points."""
    return cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), hom).reshape(-1, 2)


def _sheet_mask(config: CameraConfig, hom: np.ndarray) -> np.ndarray:
    """(H, W, 1) float32: 1 on the sheet where it mirrors the room, 0 off it and on the marker stickers."""
    w, h = config.resolution
    mask = np.zeros((h, w), np.float32)
    sx0, sy0, sx1, sy1 = SHEET
    sheet = np.array([[sx0, sy0], [sx1, sy0], [sx1, sy1], [sx0, sy1]])
    cv2.fillConvexPoly(mask, np.round(_to_image(hom, sheet) * 16).astype(np.int32), 1.0, cv2.LINE_AA, 4)
    for i in MARKERS:
        c = marker_corners(i)
        grown = c + np.sign(c - c.mean(axis=0)) * config.surface.marker_margin
        cv2.fillConvexPoly(mask, np.round(_to_image(hom, grown) * 16).astype(np.int32), 0.0, cv2.LINE_AA, 4)
    return mask[..., None]


@lru_cache(maxsize=4)
def _background(config: CameraConfig, dy: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Lit background image (uint8) and the lighting field (float32, H×W×1) for a configuration, the bed slid by
    `dy` (the room's light stays where it is)."""
    w, h = config.resolution
    hom = _matrix(config, dy)
    inv = np.linalg.inv(hom)
    img_corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    mm = _to_image(inv, img_corners)
    bx0, by0 = math.floor(mm[:, 0].min()) - 2, math.floor(mm[:, 1].min()) - 2
    bx1, by1 = math.ceil(mm[:, 0].max()) + 2, math.ceil(mm[:, 1].max()) + 2
    plate = plate_raster((bx0, by0, bx1, by1), config.sheet_bgr, config.surface, config.bed_logo)
    s = PLATE_PX_PER_MM
    px_to_mm = np.array([[1 / s, 0, bx0 + 0.5 / s], [0, -1 / s, by1 - 0.5 / s], [0, 0, 1]])
    bg = cv2.warpPerspective(plate, hom @ px_to_mm, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    u = (np.arange(w, dtype=np.float32) - w / 2) / (w / 2)
    v = (np.arange(h, dtype=np.float32) - h / 2) / (h / 2)
    r2 = (u[None, :] ** 2 + v[:, None] ** 2) / 2
    light = 1.0 - config.lighting * (0.75 * r2 + 0.25 * (u[None, :] + 1) / 2 + 0.1 * (v[:, None] + 1) / 2)
    light = (light / light.max()).astype(np.float32)[..., None]
    lit_f = bg.astype(np.float32) * light
    surface = config.surface
    if surface.glare > 0:
        lit_f += (glare(config, surface.glare, surface.glare_blur)[..., None] * _sheet_mask(config, hom))
    lit = np.clip(lit_f, 0, 255).astype(np.uint8)
    return lit, light


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


def render(dep: Deposition, current_layer: int, config: CameraConfig, rng: np.random.Generator,
           photo: int = 0, seed: int = 0, head: tuple[float, float, float] | None = None) -> np.ndarray:
    """Photo-like BGR uint8 image of the bed with what has been deposited; deterministic for a seed.

    `photo` counts the photos this camera has taken and `seed` is the scene's: with `light_drift` the room
    light of a photo depends on both only. `head` is the nozzle tip (bed mm), drawn with `head_in_view`; with
    `bed_slinger` it also says where the bed is (`bed_offset`)."""
    w, h = config.resolution
    dy = bed_offset(config, head)
    lit, light = _background(config, dy)
    out = lit.copy()
    if dep.extent is not None:
        _composite(out, light, dep, current_layer, config, dy)
    if config.head_in_view and head is not None:
        draw_head(out, config, (head[0], head[1] - dy, head[2]))
    if config.light_drift > 0 or config.auto_exposure > 0:
        out = expose(out, drift_factor(config.light_drift, seed, photo), config.auto_exposure)
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


def _bands(config: CameraConfig, box: np.ndarray, top: float, built: float | None = None) -> np.ndarray:
    """Heights (mm) of the bands material is drawn at: the bed plane only, or with parallax enough bands that
    the top of the window moves at most `_BAND_PX` pixels from one to the next. With `built`, the top of the
    material itself below a `top` that warped corners lift higher, the bands up to `built` are the ones an
    unwarped part gets, and more at their spacing reach the lifted corners."""
    base = top if built is None else min(built, top)
    if not config.parallax or base <= 0:
        return np.zeros(1)
    low = project_px(config, np.column_stack([box, np.zeros(len(box))]))
    high = project_px(config, np.column_stack([box, np.full(len(box), base)]))
    move = float(np.linalg.norm(high - low, axis=1).max())
    n = int(min(_MAX_BANDS, max(1, math.ceil(move / _BAND_PX))))
    bands = np.arange(n + 1) * (base / n) if n > 1 else np.array([0.0, base])
    if top > base + 1e-9:
        step = base / max(n, 1)
        bands = np.concatenate([bands, base + step * np.arange(1, math.ceil((top - base) / step - 1e-9) + 1)])
    return bands


def _composite(out: np.ndarray, light: np.ndarray, dep: Deposition, current_layer: int, config: CameraConfig,
               dy: float = 0.0) -> None:
    """Shade the printed window of the height map and blend it into `out` in place (the bed slid by `dy`)."""
    w, h = config.resolution
    hom = _matrix(config, dy)
    rows, cols = dep.height.shape
    r0, r1, c0, c1 = dep.extent  # type: ignore[misc]
    cell = dep.cell
    top_mm = float(dep.surface(r0, r1, c0, c1).max())
    if config.shadow > 0:                          # the window grows by the reach of the shadow
        grow = math.ceil(shadow_length(top_mm) / cell) + 2
        r0, r1, c0, c1 = max(0, r0 - grow), min(rows, r1 + grow), max(0, c0 - grow), min(cols, c1 + grow)
    box = np.array([[c0, r0], [c1, r0], [c1, r1], [c0, r1]], np.float64) * cell
    img_box = _to_image(hom, box)
    built_mm = None if dep.lift is None else float(dep.height[r0:r1, c0:c1].max())
    bands = _bands(config, box - np.array([0.0, dy]), top_mm, built_mm)
    reach = img_box
    if len(bands) > 1:
        reach = np.vstack([img_box, _to_image(_lifted(config, top_mm, dy), box)])
        if config.surface.mirror > 0:
            reach = np.vstack([reach, _to_image(_lifted(config, -top_mm, dy), box)])
    ux0, uy0 = max(0, math.floor(reach[:, 0].min()) - 1), max(0, math.floor(reach[:, 1].min()) - 1)
    ux1, uy1 = min(w, math.ceil(reach[:, 0].max()) + 2), min(h, math.ceil(reach[:, 1].max()) + 2)
    if ux1 <= ux0 or uy1 <= uy0:
        return
    px_per_mm = max((img_box[:, 0].max() - img_box[:, 0].min()) / ((c1 - c0) * cell),
                    (img_box[:, 1].max() - img_box[:, 1].min()) / ((r1 - r0) * cell))
    f = max(1, round(1.0 / (px_per_mm * cell)))         # reduce by an integer factor to ~1 px per image px
    r0, r1 = _aligned(r0, r1, f, rows)
    c0, c1 = _aligned(c0, c1, f, cols)
    hgt: np.ndarray = dep.surface(r0, r1, c0, c1)
    built: np.ndarray | None = None if dep.lift is None else dep.height[r0:r1, c0:c1]
    fresh: np.ndarray = np.asarray(cv2.compare(dep.layer[r0:r1, c0:c1], current_layer,  # type: ignore[call-overload]
                                               cv2.CMP_EQ))
    if f > 1:
        hgt = np.asarray(cv2.resize(hgt, None, fx=1.0 / f, fy=1.0 / f, interpolation=cv2.INTER_AREA))
        if built is not None:
            built = np.asarray(cv2.resize(built, None, fx=1.0 / f, fy=1.0 / f, interpolation=cv2.INTER_AREA))
        fresh = np.asarray(cv2.resize(fresh, None, fx=1.0 / f, fy=1.0 / f, interpolation=cv2.INTER_AREA))
    fresh_f = fresh.astype(np.float32)
    fresh_f *= 1.0 / 255.0
    step = cell * f
    shadow = cast_shadow(hgt, step) if config.shadow > 0 else None
    shading = shade(hgt, fresh_f, step, config, shadow, built)
    # reduced pixel (j, i) centre -> bed mm, then -> image px, then -> ROI px
    px_to_mm = np.array([[step, 0, c0 * cell + step / 2], [0, step, r0 * cell + step / 2], [0, 0, 1]])
    shift = np.array([[1, 0, -ux0], [0, 1, -uy0], [0, 0, 1]], np.float64)
    size = (ux1 - ux0, uy1 - uy0)
    roi = out[uy0:uy1, ux0:ux1]
    base = roi.astype(np.float32)
    if shadow is not None:                         # the shadow on the bare sheet
        lamp = 1.0 - shadow * np.float32(config.shadow * 0.8)
        base *= _warp(lamp[..., None], shift @ hom @ px_to_mm, size, 1.0)[..., None]
    if len(bands) == 1:
        rgba = np.empty((*hgt.shape, 4), np.float32)
        for ch in range(3):
            rgba[..., ch] = shading.top[ch] * shading.alpha
        rgba[..., 3] = shading.alpha
        warped = _warp(rgba, shift @ hom @ px_to_mm, size, 0.0)
        col, keep = warped[..., :3], 1.0 - warped[..., 3:4]
    else:
        lift_ = np.array(bands)
        if config.surface.mirror > 0:              # the mirror image first: its top (deepest) band first
            col, keep = _stack(hgt, shading, -lift_[::-2], config, shift, px_to_mm, size, config.surface.mirror, dy)
            pcol, pkeep = _stack(hgt, shading, lift_, config, shift, px_to_mm, size, 1.0, dy)
            col = col * pkeep + pcol
            keep = keep * pkeep
        else:
            col, keep = _stack(hgt, shading, lift_, config, shift, px_to_mm, size, 1.0, dy)
    col *= light[uy0:uy1, ux0:ux1]
    base *= keep
    base += col
    np.clip(base, 0, 255, out=base)
    roi[:] = base


def _warp(src: np.ndarray, hom: np.ndarray, size: tuple[int, int], border: float) -> np.ndarray:
    """warpPerspective of a float32 array into the ROI."""
    bv = (border,) * 4
    return np.asarray(cv2.warpPerspective(src, hom, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                          borderValue=bv), np.float32)


def _stack(hgt: np.ndarray, shading: Shading, lifts: np.ndarray, config: CameraConfig, shift: np.ndarray,
           px_to_mm: np.ndarray, size: tuple[int, int], gain: float, dy: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied colour (h, w, 3) and transmittance (h, w, 1) of the material drawn band by band, each band
    (cells at least that high) through the pinhole at its height; walls where material rises above the band."""
    top3 = np.dstack(shading.top)
    wall3 = np.dstack(shading.wall) if shading.wall is not None else top3
    rise3 = top3 - wall3
    gaps = np.abs(np.diff(lifts))
    inv_dz = np.float32(1.0 / float(gaps.max())) if len(gaps) else np.float32(1.0)
    acc = np.zeros((size[1], size[0], 4), np.float32)   # premultiplied colour and transmittance
    acc[..., 3] = 1.0
    alpha = shading.alpha * np.float32(gain)
    rowmax, colmax = hgt.max(axis=1), hgt.max(axis=0)
    for z in lifts:
        level = abs(float(z))
        rows, cols = np.flatnonzero(rowmax > level), np.flatnonzero(colmax > level)
        if len(rows) == 0 or len(cols) == 0:
            continue
        ra, rb, ca, cb = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        above = hgt[ra:rb, ca:cb] - np.float32(level)
        above *= inv_dz                                  # in bands
        rgba = np.empty((rb - ra, cb - ca, 4), np.float32)
        sub = rgba[..., 3]
        if level > 0:
            np.clip(above, 0.0, 1.0, out=sub)
            sub *= alpha[ra:rb, ca:cb]
        else:
            sub[:] = alpha[ra:rb, ca:cb]
        np.subtract(2.0, above, out=above)
        np.clip(above, 0.0, 1.0, out=above)              # 1 on the top surface, 0 on walls below it
        mix = rgba[..., :3]
        np.multiply(rise3[ra:rb, ca:cb], above[..., None], out=mix)
        mix += wall3[ra:rb, ca:cb]
        mix *= sub[..., None]
        np.subtract(1.0, sub, out=sub)                   # the band's transmittance
        hom = shift @ _lifted(config, float(z), dy) @ px_to_mm
        corners = _to_image(hom, np.array([[ca, ra], [cb, ra], [cb, rb], [ca, rb]], np.float64) - 0.5)
        x0, y0 = max(0, math.floor(corners[:, 0].min()) - 1), max(0, math.floor(corners[:, 1].min()) - 1)
        x1, y1 = min(size[0], math.ceil(corners[:, 0].max()) + 2), min(size[1], math.ceil(corners[:, 1].max()) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        place = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ hom
        place = place @ np.array([[1, 0, ca], [0, 1, ra], [0, 0, 1]], np.float64)
        warped = np.asarray(cv2.warpPerspective(rgba, place, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                                borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 1)))
        dst = acc[y0:y1, x0:x1]
        dst *= warped[..., 3:4]
        dst[..., :3] += warped[..., :3]
    return acc[..., :3], acc[..., 3:4]


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of a BGR image, as a webcam snapshot URL serves them."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
