"""Compare a photo of a finished layer with its reference: fresh-material segmentation, overlap, offset.

The photo is warped to the job's bed-mm raster. Fresh material is told from old by change against the previous
layer's photo (same pixels, so uneven light and bed texture cancel): new material where there was bed, or, where
there was material, brightness between the pixel's old and fresh levels, both known from the previous photo and
the fresh fraction found in it. Without a previous photo every material pixel counts as fresh (right for the
first layer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

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
    distance: np.ndarray   # (H, W) uint8, largest channel difference from the bare bed (its photo, or its colour)
    bed_photo: bool = False  # material told from the bare bed's own photo (else from the bed's one colour)

    def crop(self, box: tuple[slice, slice], region: np.ndarray) -> Observation:
        """The observation inside a copy's box, material only within its region (both raster px)."""
        return replace(self, bgr=self.bgr[box], grey=self.grey[box], material=self.material[box] & region,
                                   distance=self.distance[box])


@dataclass(frozen=True, eq=False)
class Background:
    """The bare bed as the job started, warped to the job raster: a per-pixel bed that every later photo is told
    from, so the sheet's texture, a printed logo and fixed reflections are never taken for material."""

    bgr: np.ndarray        # (H, W, 3) float32
    rim_bgr: np.ndarray    # (3,) median colour of the raster's rim in the bed photo (its exposure)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Figures of one layer against its reference, and the masks behind them (raster px)."""

    layer_area_mm2: float
    iou: float
    coverage: float              # mean fresh-ness over the layer's interior, 0..1
    thin: bool                   # no dense area to judge coverage on (single walls, sparse lines): see _coverage
    missing_area_mm2: float
    excess_area_mm2: float       # fresh material outside the layer (beyond the edge tolerance)
    stray_area_mm2: float        # new material outside everything printed so far
    offset_mm: tuple[float, float]
    shifted_iou: float           # IoU after moving the reference by the offset
    shifted_coverage: float      # coverage of the reference moved by the offset
    response: float              # phase-correlation peak strength
    fraction: np.ndarray         # float32 0..1, fresh fraction per pixel (carried to the next layer's check)
    fresh: np.ndarray            # bool, fraction > 0.5
    missing: np.ndarray          # bool
    excess: np.ndarray           # bool
    rim_coverage: float = float("nan")   # coverage at the layer's corners (farthest from its centre; see _zones)
    body_coverage: float = float("nan")  # ... and in its middle; nan where that part has too little to judge


def _disk(radius_px: float) -> np.ndarray:
    """Elliptic structuring element of a given radius in pixels."""
    r = max(0, round(radius_px))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _warped(image: np.ndarray, registration: Registration, grid: BedGrid) -> np.ndarray:
    """A photo warped to the job raster."""
    m = grid.mm_to_px() @ registration.homography
    rows, cols = grid.shape
    return np.asarray(cv2.warpPerspective(image, m, (cols, rows), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REPLICATE))


def _rim_colour(bgr: np.ndarray, grid: BedGrid) -> np.ndarray:
    """Median colour of the outer 2 mm of the raster (bare bed on a sound print; a few strands do not move it)."""
    r = max(1, round(2.0 * grid.px_per_mm))
    rim = np.concatenate([bgr[:r].reshape(-1, 3), bgr[-r:].reshape(-1, 3),
                          bgr[r:-r, :r].reshape(-1, 3), bgr[r:-r, -r:].reshape(-1, 3)])
    return np.median(rim[::3], axis=0).astype(np.float32)


def background(image: np.ndarray, registration: Registration, grid: BedGrid) -> Background:
    """The bare bed's photo (taken before the first layer) as the per-pixel bed of a job's checks."""
    bgr = _warped(image, registration, grid)
    return Background(cv2.GaussianBlur(bgr, (0, 0), 0.7).astype(np.float32), _rim_colour(bgr, grid))


SHADOW_DARKEST = 0.2   # a shadow keeps at least this share of the lit bed's light (the room's, off the lamp)
SHADOW_CHROMA = 0.08   # ... and the bed's colour: its channels dimmed alike, within this share of their mean
SHADOW_MIN_DISTANCE = 4  # grey levels: nearer the lit bed than this is the bed's own noise (left as measured)


def _distance(bgr: np.ndarray, bed: np.ndarray, back: Background | None, shadows: bool = True) -> np.ndarray:
    """Largest channel difference of each pixel from the bare bed: from its own pixel in the bed photo (scaled by
    the rim's change of exposure since) when there is one, else from the bed's one colour. Bed in a shadow (the
    part's, growing with its height) is bed: darker than the lit bed with every channel dimmed alike, which no
    filament of another colour is, so it is at distance 0 (unless `shadows` is False: a job whose filament looks
    like its bed dimmed, see `shadow_lost`)."""
    smooth = cv2.GaussianBlur(bgr, (0, 0), 0.7).astype(np.float32)
    expected: np.ndarray | None = None
    if back is None:
        diff = np.asarray(cv2.absdiff(bgr, np.full_like(bgr, np.round(bed).astype(np.uint8))))
    else:
        gain = bed / np.maximum(back.rim_bgr, 1.0)
        expected = back.bgr * gain.reshape(1, 1, 3).astype(np.float32)
        diff = np.clip(np.asarray(cv2.absdiff(smooth, expected)), 0, 255).astype(np.uint8)
    b, g, r = cv2.split(diff)
    dist = np.asarray(cv2.max(cv2.max(b, g), r))
    if shadows:
        grey = cv2.cvtColor(smooth, cv2.COLOR_BGR2GRAY)
        lit_grey = (float(0.114 * bed[0] + 0.587 * bed[1] + 0.299 * bed[2]) if expected is None
                    else cv2.cvtColor(expected, cv2.COLOR_BGR2GRAY))
        # (only what is darker than the lit bed, a shadow never brightens, and not within noise of it)
        near = np.flatnonzero(((dist > SHADOW_MIN_DISTANCE) & (grey < lit_grey)).reshape(-1))
        if len(near):
            lit = (np.broadcast_to(bed.astype(np.float32), (len(near), 3)) if expected is None
                   else expected.reshape(-1, 3)[near])
            dist.reshape(-1)[near[_shadow(smooth.reshape(-1, 3)[near], lit)]] = 0
    return dist


def _shadow(smooth: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Which of these pixels ((N, 3) each) are the bed with the lamp's light dimmed: each channel the lit bed's
    times one factor a (SHADOW_DARKEST <= a < 1) plus one offset b >= 0 for all channels (the sheet's sheen, which
    the part does not shade), within SHADOW_CHROMA of the bed's mean level. On a grey sheet: any darker grey."""
    e = expected.astype(np.float32)
    o = smooth.astype(np.float32)
    em, om = e.mean(axis=1), o.mean(axis=1)
    de, do = e - em[:, None], o - om[:, None]
    var = (de * de).sum(axis=1)
    grey = var < 27.0                                  # channels within ~3 levels: no colour to fit by
    a = np.where(grey, (om + 4.0) / (em + 4.0), (de * do).sum(axis=1) / np.maximum(var, 1e-6))
    b = np.where(grey, 0.0, om - a * em)
    residual = np.abs(o - (a[:, None] * e + b[:, None])).max(axis=1)
    return ((a >= SHADOW_DARKEST) & (a < 1.0) & (b >= -SHADOW_CHROMA * em) & (om < em)
            & (residual <= SHADOW_CHROMA * np.maximum(em, 20.0)))


def observe(image: np.ndarray, registration: Registration, grid: BedGrid, config: VisionConfig,
            back: Background | None = None, shadows: bool = True) -> Observation:
    """Warp a BGR photo to the raster, take the bed colour from the raster's rim and segment material: colour far
    from the bare bed's photo (`back`) pixel by pixel when there is one, else from the rim's colour; bed in shadow
    is bed (with `shadows`)."""
    bgr = _warped(image, registration, grid)
    grey: np.ndarray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    if config.blur_px > 0:
        grey = cv2.GaussianBlur(grey, (0, 0), config.blur_px)
    bed = _rim_colour(bgr, grid)
    dist = _distance(bgr, bed, back, shadows)
    material = dist > config.material_contrast
    return Observation(bgr, grey, material, (float(bed[0]), float(bed[1]), float(bed[2])), dist, back is not None)


SHADOW_LOST = 0.1  # a first layer losing more than this share of its material to the shadow test: no shadow test


def shadow_lost(with_test: Observation, without: Observation, top: np.ndarray, grid: BedGrid,
                config: VisionConfig) -> float:
    """Share of a first layer's material (well inside its beads, as seen without the shadow test) that the shadow
    test takes for bed in shadow: near 0 unless the filament is the bed's colour, only darker (black on grey)."""
    core = cv2.erode(top, _disk(config.edge_tolerance_mm * grid.px_per_mm)) > 0
    seen = core & without.material
    n = int(np.count_nonzero(seen))
    return float(np.count_nonzero(seen & ~with_test.material)) / n if n else 0.0


def prior_fraction(prev: Observation, prev_top: np.ndarray | None, grid: BedGrid, config: VisionConfig) -> np.ndarray:
    """Fresh fraction assumed for the previous photo when it was not judged: its layer as planned, seen blurred."""
    if prev_top is None:
        return prev.material.astype(np.float32)
    planned = cv2.GaussianBlur(prev_top.astype(np.float32) / 255.0, (0, 0), _psf_px(grid, config))
    return np.where(prev.material, np.clip(planned, 0.0, 1.0), 0.0).astype(np.float32)


def _psf_px(grid: BedGrid, config: VisionConfig) -> float:
    """Blur of a bead's image in raster px: the camera's own and the smoothing applied before differencing."""
    return max(0.3, float(np.hypot(config.psf_mm * grid.px_per_mm, config.blur_px)))


def bed_ratio(obs: Observation, top: np.ndarray, grid: BedGrid, config: VisionConfig) -> float | None:
    """Brightness of fresh material over the bare bed's, measured on a first layer's solid interior.

    Both are lit alike (the rim that gives the bed level lies within `margin_mm` of the part), so the ratio is a
    property of filament, bed and camera; it tells how much of a pixel new material laid on bare bed covers.
    """
    core = cv2.erode(top, _disk(config.edge_tolerance_mm * grid.px_per_mm)) > 0
    solid = core & obs.material
    if np.count_nonzero(solid) * grid.px_area_mm2 < config.min_area_mm2:
        return None
    b, g, r = obs.bed_bgr
    bed_grey = max(0.114 * b + 0.587 * g + 0.299 * r, 1.0)
    ratio = float(np.median(obs.grey[solid])) / bed_grey
    return ratio if ratio > 1.2 else None


def ageing(prev_top: np.ndarray | None, grid: BedGrid, config: VisionConfig) -> np.ndarray | float:
    """Old/fresh brightness ratio per pixel of the previous layer: `old_ratio` on wide fill, whose flat top loses
    its sheen as it ages, `old_ratio_narrow` on walls and lines, whose rounded tops had less sheen to lose."""
    if prev_top is None or config.old_ratio_narrow == config.old_ratio:
        return config.old_ratio
    wide = cv2.erode(prev_top, _disk(config.wide_mm / 2 * grid.px_per_mm)) > 0
    wide = cv2.dilate(wide.astype(np.uint8), _disk(config.wide_mm / 2 * grid.px_per_mm)) > 0
    return np.where(wide, np.float32(config.old_ratio), np.float32(config.old_ratio_narrow))


def freshness(obs: Observation, prev: Observation | None, prev_fraction: np.ndarray | None,
              config: VisionConfig, on_bed: float | None = None,
              old_ratio: np.ndarray | float | None = None) -> np.ndarray:
    """Per-pixel fraction 0..1 of material laid down since the previous photo.

    Each pixel of the previous photo was a known mix of fresh and old material (`prev_fraction`: the previous
    layer as planned when it was judged sound, as measured when not), so its brightness gives the pixel's fresh level F under this camera's light; old
    material is `old_ratio` × F. The new fraction is where the pixel now sits between those two levels.
    Where the previous photo showed bare bed, the fraction is the rise over the bed towards `on_bed` × the bed
    (see `bed_ratio`); without that ratio any material there counts as fresh.
    """
    if prev is None:
        return obs.material.astype(np.float32)
    rho = config.old_ratio if old_ratio is None else old_ratio
    fp = np.zeros(prev.grey.shape, np.float32) if prev_fraction is None else np.clip(prev_fraction, 0.0, 1.0)
    level = fp * (1.0 - rho) + rho                      # previous brightness / fresh level
    fresh_level = prev.grey / level
    old_level = rho * fresh_level
    contrast = np.maximum(fresh_level - old_level, config.fresh_step)
    f = np.clip((obs.grey - old_level) / contrast, 0.0, 1.0)
    laid_on_bed = obs.material & ~prev.material
    if on_bed is None:
        f[laid_on_bed] = 1.0
    else:
        rise = obs.grey[laid_on_bed] / np.maximum(prev.grey[laid_on_bed], 1.0) - 1.0
        f[laid_on_bed] = np.clip(rise / (on_bed - 1.0), 0.0, 1.0)
    f[~obs.material] = 0.0
    return f.astype(np.float32)


def _shifted(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """A mask or image moved by whole pixels (dx columns right, dy rows down), zero-filled."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    if abs(dx) >= w or abs(dy) >= h:
        return out
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    out[yd, xd] = mask[ys, xs]
    return out


def find_offset(ref: np.ndarray, fresh: np.ndarray, search_px: int = 2) -> tuple[float, float, float]:
    """Offset (dx, dy) px of `fresh` against `ref` (masks or fractions) and the correlation response.

    Phase correlation finds the peak; the sub-pixel part is then refined on the overlap around it, since phase
    correlation's own sub-pixel estimate is biased on masks. Large rasters are worked at half size.
    """
    a, b = ref.astype(np.float32), fresh.astype(np.float32)
    scale = 2 if min(ref.shape) >= 160 else 1
    if scale > 1:
        size = (ref.shape[1] // scale, ref.shape[0] // scale)
        a = np.asarray(cv2.resize(a, size, interpolation=cv2.INTER_AREA), np.float32)
        b = np.asarray(cv2.resize(b, size, interpolation=cv2.INTER_AREA), np.float32)
    (dx, dy), response = cv2.phaseCorrelate(a, b)
    cx, cy = round(dx), round(dy)
    r = search_px
    counts = np.zeros((2 * r + 1, 2 * r + 1))
    for j in range(-r, r + 1):
        for i in range(-r, r + 1):
            counts[j + r, i + r] = float(np.vdot(_shifted(a, cx + i, cy + j), b))
    jj, ii = np.unravel_index(np.argmax(counts), counts.shape)
    j, i = int(jj), int(ii)

    def vertex(u: float, v: float, w: float) -> float:
        den = u - 2 * v + w
        return 0.0 if den >= 0 else 0.5 * (u - w) / den

    fx = vertex(counts[j, i - 1], counts[j, i], counts[j, i + 1]) if 0 < i < 2 * r else 0.0
    fy = vertex(counts[j - 1, i], counts[j, i], counts[j + 1, i]) if 0 < j < 2 * r else 0.0
    return scale * (cx + i - r + fx), scale * (cy + j - r + fy), float(response)


def _layer_masks(top: np.ndarray, grid: BedGrid, config: VisionConfig, first: bool
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The layer's core (its mask less the edge tolerance) and its expected fresh fraction.

    Thin beads look dimmer than solid fill to a camera of finite resolution: the expected fraction is the
    reference blurred by the camera (all ones for a first photo, where every material pixel counts).
    """
    ref = top > 0
    core = cv2.erode(top, _disk(config.edge_tolerance_mm * grid.px_per_mm)) > 0
    if np.count_nonzero(core) < 0.25 * np.count_nonzero(ref):
        core = ref
    expected = cv2.GaussianBlur(top.astype(np.float32) / 255.0, (0, 0), _psf_px(grid, config))
    expected = np.ones_like(expected) if first else np.clip(expected, 0.05, 1.0)
    return core, expected


def _dense(core: np.ndarray, expected: np.ndarray, grid: BedGrid, config: VisionConfig) -> np.ndarray | None:
    """Where the layer is dense enough for the camera to resolve (walls, solid fill), if there is enough of it."""
    dense = core & (expected >= config.dense_level)
    return dense if np.count_nonzero(dense) * grid.px_area_mm2 >= config.min_area_mm2 else None


def _coverage(f: np.ndarray, core: np.ndarray, expected: np.ndarray, grid: BedGrid, config: VisionConfig) -> float:
    """Fresh fraction over expected fraction, judged where the layer is dense (walls, solid fill).

    There a bead lies on the bead it was laid on, so the fresh level is known from the previous photo, whereas a
    sparse line bridging a gap looks different from the gap. A small or sparse layer with less than
    `min_area_mm2` that dense is judged on its densest `min_area_mm2` (a copy's walls rather than its infill).
    """
    judged = _dense(core, expected, grid, config)
    if judged is None:
        values = expected[core]
        need = int(np.ceil(config.min_area_mm2 / grid.px_area_mm2))
        if values.size > need:
            level = np.partition(values, values.size - need)[values.size - need]
            judged = core & (expected >= level)
        else:
            judged = core
    return float(f[judged].sum() / expected[judged].sum()) if judged.any() else 1.0


RIM = 0.8    # the corners: cells at least this share of the way from the layer's centre to its farthest cell
BODY = 0.72  # the middle: within this share (a square's walls as far out as the middle of its sides)


def _zones(f: np.ndarray, core: np.ndarray, expected: np.ndarray, grid: BedGrid, config: VisionConfig
           ) -> tuple[float, float]:
    """Coverage at the layer's corners and in its middle, each on its dense pixels (see _coverage). A part whose
    corners lift off the bed (warping) shows its corners' fresh material out of place while its middle is sound;
    low flow thins every bead alike. nan for a part with less than a tenth of `min_area_mm2` to judge (the middle is
    then all but the corners)."""
    judged = core & (expected >= config.dense_level)
    ys, xs = np.nonzero(core)
    if len(ys) == 0:
        return float("nan"), float("nan")
    cy, cx = float(ys.mean()), float(xs.mean())
    jy, jx = np.nonzero(judged)
    u = np.hypot(jy - cy, jx - cx) / max(float(np.hypot(ys - cy, xs - cx).max()), 1.0)
    f_j, e_j = f[jy, jx], expected[jy, jx]
    need = 0.1 * config.min_area_mm2 / grid.px_area_mm2

    def part(sel: np.ndarray) -> float:
        return float(f_j[sel].sum() / e_j[sel].sum()) if np.count_nonzero(sel) >= need else float("nan")

    body = part(u < BODY)
    return part(u >= RIM), part(u < RIM) if math.isnan(body) else body  # (a sparse middle: all but the corners)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1 when both are empty)."""
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def compare(obs: Observation, prev: Observation | None, top: np.ndarray, below: np.ndarray,
            prev_fraction: np.ndarray | None, grid: BedGrid, config: VisionConfig,
            on_bed: float | None = None, old_ratio: np.ndarray | float | None = None) -> Comparison:
    """Compare the observed fresh material with layer n's mask `top` (all layers under it in `below`).

    `prev_fraction` is the fresh fraction found in the previous photo (see `prior_fraction` when there is none),
    `on_bed` the fresh-over-bed brightness ratio of this job (see `bed_ratio`) when known, `old_ratio` the
    ageing ratio per pixel (see `ageing`; the configured one when not given).
    """
    px_area = grid.px_area_mm2
    ref = top > 0
    tol = _disk(config.edge_tolerance_mm * grid.px_per_mm)
    grown = cv2.dilate(top, tol) > 0
    f = freshness(obs, prev, prev_fraction, config, on_bed, old_ratio)
    fresh = f > 0.5
    core, expected = _layer_masks(top, grid, config, prev is None)
    coverage = _coverage(f, core, expected, grid, config)
    rim, body = _zones(f, core, expected, grid, config) if prev is not None else (float("nan"), float("nan"))
    thin = bool(np.count_nonzero(core & (expected >= config.thin_level)) * px_area < config.min_area_mm2)
    missing = core & ~fresh
    excess = fresh & ~grown
    everything = cv2.dilate(cv2.bitwise_or(top, below), tol) > 0
    new = obs.material if prev is None else (obs.material & ~prev.material)
    # a first photo with only the bed's colour to go by cannot tell loose material from what is printed on the
    # sheet itself (a logo, warning text): stray material is judged from the next photo on, against this one
    stray = new & ~everything if (prev is not None or obs.bed_photo) else np.zeros_like(new)
    iou = _iou(fresh, ref)
    offset = (0.0, 0.0)
    shifted_iou, shifted_coverage = iou, coverage
    response = 0.0
    if fresh.any() and ref.any():
        dx, dy, response = find_offset(expected, f)
        ix, iy = round(dx), round(dy)
        moved = _shifted(ref, ix, iy)
        shifted_iou = _iou(fresh, moved)
        # a reference moved mostly off the raster proves nothing
        if np.count_nonzero(moved) >= 0.5 * np.count_nonzero(ref):
            shifted_coverage = _coverage(f, _shifted(core, ix, iy), _shifted(expected, ix, iy), grid, config)
        else:
            shifted_coverage = 0.0
        offset = (float(dx / grid.px_per_mm), float(-dy / grid.px_per_mm))
    return Comparison(
        layer_area_mm2=float(np.count_nonzero(ref) * px_area),
        iou=float(iou), coverage=coverage, thin=thin,
        missing_area_mm2=float(np.count_nonzero(missing) * px_area),
        excess_area_mm2=float(np.count_nonzero(excess) * px_area),
        stray_area_mm2=float(np.count_nonzero(stray) * px_area),
        offset_mm=offset, shifted_iou=float(shifted_iou), shifted_coverage=float(shifted_coverage),
        response=float(response),
        fraction=f, fresh=fresh, missing=missing, excess=excess | stray, rim_coverage=rim, body_coverage=body,
    )
