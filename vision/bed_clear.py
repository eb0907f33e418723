"""Is the bed clear? A photo of the bed now against the photo taken before the job started, both in bed mm.

Each photo is registered to the bed by its markers and warped onto the same bed-mm raster over the print area, so
a camera nudged between the two photos does not matter. The colours are blurred, turned into log brightness per
channel and differenced; a change of light (a lamp, daylight, auto exposure) is a smooth field over the bed and is
removed by a robust quadratic fit of the difference. What is left above `threshold` in connected regions of at
least `min_area_mm2` is something on the bed that was not there before: `not_clear`, with where in bed mm. A photo
that shows nothing, a bed whose markers cannot be found, or a change over most of the bed is `unknown`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from vision.config import VisionConfig
from vision.errors import RegistrationError
from vision.reference import BedGrid
from vision.registration import Registration, register

Status = Literal["clear", "not_clear", "unknown"]
GREEN, RED, AMBER = (60, 220, 60), (40, 40, 255), (0, 190, 255)


@dataclass(frozen=True)
class BedClearConfig:
    """Thresholds of the bed-clear check (bed mm, mm², natural-log brightness ratios)."""

    area: tuple[float, float, float, float] = (0.0, 0.0, 220.0, 220.0)  # print area x0, y0, x1, y1
    px_per_mm: float = 2.0            # resolution of the bed raster compared
    blur_mm: float = 0.5              # Gaussian sigma before differencing
    threshold: float = 0.35           # |log ratio| left after the light correction that counts as changed
    min_area_mm2: float = 6.0         # smaller changed regions are noise, dust or a JPEG block
    max_changed_fraction: float = 0.5  # more of the area changed than this: the photos do not show the same bed
    blank_std: float = 3.0            # a photo whose grey levels vary less than this shows nothing


@dataclass(frozen=True)
class Region:
    """A connected changed region: centroid and bounds in bed mm, area in mm²."""

    x_mm: float
    y_mm: float
    bounds_mm: tuple[float, float, float, float]
    area_mm2: float


@dataclass(frozen=True)
class BedVerdict:
    """The camera's opinion on the bed: clear, not_clear (with the regions) or unknown (with why)."""

    status: Status
    message: str
    regions: tuple[Region, ...] = ()
    changed_mm2: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"status": self.status, "message": self.message, "regions": [asdict(r) for r in self.regions],
                "changed_mm2": self.changed_mm2, "figures": dict(self.figures)}


def unknown(message: str) -> BedVerdict:
    """The camera cannot tell."""
    return BedVerdict("unknown", message)


def grid_of(cfg: BedClearConfig) -> BedGrid:
    """The bed raster the photos are compared on."""
    x0, y0, x1, y1 = cfg.area
    return BedGrid(x0, y0, x1, y1, cfg.px_per_mm)


def bed_view(image: np.ndarray, registration: Registration, grid: BedGrid) -> np.ndarray:
    """(rows, cols, 3) float32 BGR of the photo warped onto the bed raster (Y up)."""
    rows, cols = grid.shape
    m = grid.mm_to_px() @ registration.homography
    warped = cv2.warpPerspective(image, m, (cols, rows), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    view = warped.astype(np.float32)
    return view if view.ndim == 3 else np.repeat(view[:, :, None], 3, axis=2)


def smooth_field(values: np.ndarray, rounds: int = 3, step: int = 4) -> np.ndarray:
    """A quadratic surface fitted to a (rows, cols) field, ignoring outliers (what changed on the bed).

    Fitted on every `step`-th pixel; each round drops the points further than 3 MADs from the last fit."""
    rows, cols = values.shape
    yy, xx = np.mgrid[0:rows:step, 0:cols:step]
    u, v = (xx.ravel() / max(cols, 1) - 0.5), (yy.ravel() / max(rows, 1) - 0.5)
    design = np.column_stack((np.ones_like(u), u, v, u * u, u * v, v * v))
    sample = values[::step, ::step].ravel().astype(np.float64)
    keep = np.ones(sample.shape, dtype=bool)
    coef = np.zeros(design.shape[1])
    for _ in range(rounds):
        if keep.sum() < design.shape[1] * 4:
            break
        coef, *_ = np.linalg.lstsq(design[keep], sample[keep], rcond=None)
        resid = sample - design @ coef
        mad = float(np.median(np.abs(resid[keep] - np.median(resid[keep])))) + 1e-3
        keep = np.abs(resid) < 3.0 * 1.4826 * mad + 0.02
    gy, gx = np.mgrid[0:rows, 0:cols]
    gu, gv = gx / max(cols, 1) - 0.5, gy / max(rows, 1) - 0.5
    c = coef
    return (c[0] + c[1] * gu + c[2] * gv + c[3] * gu * gu + c[4] * gu * gv + c[5] * gv * gv).astype(np.float32)


def change_map(before: np.ndarray, after: np.ndarray, cfg: BedClearConfig) -> np.ndarray:
    """(rows, cols) float32: largest per-channel |log brightness ratio| after removing the change of light."""
    sigma = max(cfg.blur_mm * cfg.px_per_mm, 0.5)
    out = np.zeros(before.shape[:2], np.float32)
    for ch in range(3):
        a = cv2.GaussianBlur(before[:, :, ch], (0, 0), sigma)
        b = cv2.GaussianBlur(after[:, :, ch], (0, 0), sigma)
        ratio = np.log(b + 8.0) - np.log(a + 8.0)
        np.maximum(out, np.abs(ratio - smooth_field(ratio)), out=out)
    return out


def changed_regions(mask: np.ndarray, grid: BedGrid, min_area_mm2: float, group_mm: float = 3.0
                    ) -> tuple[np.ndarray, list[Region]]:
    """Changed pixels grouped into things (pixels closer than `group_mm` are one thing, e.g. a part and its
    skirt), kept when at least `min_area_mm2` large: (kept mask, regions largest first)."""
    r = max(1, round(group_mm * grid.px_per_mm / 2))
    grouped = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    n, labels = cv2.connectedComponents(grouped, connectivity=8)
    labels = np.where(mask, labels, 0)
    counts = np.bincount(labels.ravel(), minlength=n)
    kept = np.zeros(mask.shape, dtype=bool)
    regions: list[Region] = []
    for i in np.argsort(-counts[1:])[:50] + 1:
        area = float(counts[i]) * grid.px_area_mm2
        if area < min_area_mm2:
            break
        rows, cols = np.nonzero(labels == i)
        kept[rows, cols] = True
        lo = grid.to_mm(np.array([[cols.min(), rows.max() + 1]], dtype=np.float64))[0]
        hi = grid.to_mm(np.array([[cols.max() + 1, rows.min()]], dtype=np.float64))[0]
        centre = grid.to_mm(np.array([[cols.mean() + 0.5, rows.mean() + 0.5]]))[0]
        regions.append(Region(round(float(centre[0]), 1), round(float(centre[1]), 1),
                              (round(float(lo[0]), 1), round(float(lo[1]), 1), round(float(hi[0]), 1),
                               round(float(hi[1]), 1)), round(area, 1)))
    return kept, regions


def compare_beds(before: np.ndarray, before_reg: Registration, after: np.ndarray, after_reg: Registration,
                 cfg: BedClearConfig | None = None) -> tuple[BedVerdict, np.ndarray]:
    """Judge two registered photos of the bed: (verdict, changed mask on the bed raster)."""
    cfg = cfg or BedClearConfig()
    grid = grid_of(cfg)
    change = change_map(bed_view(before, before_reg, grid), bed_view(after, after_reg, grid), cfg)
    raw = change > cfg.threshold
    raw = cv2.morphologyEx(raw.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    fraction = float(raw.mean())
    figures = {"changed_fraction": round(fraction, 4), "p99_change": round(float(np.percentile(change, 99)), 3),
               "threshold": cfg.threshold}
    if fraction > cfg.max_changed_fraction:
        return BedVerdict("unknown", f"{100 * fraction:.0f} % of the bed looks different from the photo before "
                          "the job: has the camera moved or the light gone?", figures=figures), raw
    kept, regions = changed_regions(raw, grid, cfg.min_area_mm2)
    total = round(float(kept.sum()) * grid.px_area_mm2, 1)
    if not regions:
        return BedVerdict("clear", "the bed looks as it did before the job", (), 0.0, figures), kept
    big = regions[0]
    where = f"{len(regions)} thing(s) on the bed, {total:.0f} mm² in all; the largest at " \
            f"x {big.x_mm:.0f} y {big.y_mm:.0f} mm ({big.area_mm2:.0f} mm²)"
    return BedVerdict("not_clear", where, tuple(regions), total, figures), kept


def blank(image: np.ndarray, cfg: BedClearConfig) -> str | None:
    """Why a photo shows nothing (black or uniform), or None."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    mean, std = cv2.meanStdDev(grey)
    if float(std[0][0]) < cfg.blank_std:
        return f"the camera sent a {'black' if float(mean[0][0]) < 20 else 'uniform'} frame"
    return None


def judge_bed(before: np.ndarray | None, after: np.ndarray, vision: VisionConfig | None = None,
              cfg: BedClearConfig | None = None) -> tuple[BedVerdict, np.ndarray]:
    """Register both photos by the bed markers and compare them: (verdict, annotated copy of `after`)."""
    cfg = cfg or BedClearConfig()
    if before is None:
        return unknown("there is no photo of the bed from before the job to compare with"), after.copy()
    for name, image in (("before the job", before), ("now", after)):
        why = blank(image, cfg)
        if why:
            return unknown(f"photo {name}: {why}"), after.copy()
    try:
        before_reg = register(before, vision)
        after_reg = register(after, vision)
    except RegistrationError as exc:
        return unknown(f"the bed cannot be found in the photo: {exc}"), after.copy()
    verdict, mask = compare_beds(before, before_reg, after, after_reg, cfg)
    return verdict, annotate(after, after_reg, grid_of(cfg), mask, verdict)


def annotate(image: np.ndarray, registration: Registration, grid: BedGrid, mask: np.ndarray,
             verdict: BedVerdict) -> np.ndarray:
    """The photo with the print area outlined, each changed region drawn and labelled, and the verdict on top."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    colour = {"clear": GREEN, "not_clear": RED}.get(verdict.status, AMBER)
    area = np.array([[grid.x0, grid.y0], [grid.x1, grid.y0], [grid.x1, grid.y1], [grid.x0, grid.y1]])
    cv2.polylines(out, [np.round(registration.to_image(area)).astype(np.int32).reshape(-1, 1, 2)], True, colour, 2)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for c in contours:
        pts = registration.to_image(grid.to_mm(c.reshape(-1, 2).astype(np.float64)))
        cv2.polylines(out, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], True, RED, 2)
    for r in verdict.regions[:8]:
        x, y = registration.to_image(np.array([[r.bounds_mm[2], r.bounds_mm[3]]]))[0]
        cv2.putText(out, f"x{r.x_mm:.0f} y{r.y_mm:.0f} mm", (int(x) + 6, int(y)), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    RED, 2, cv2.LINE_AA)
    label = {"clear": "bed clear", "not_clear": "bed NOT clear", "unknown": "bed: cannot tell"}[verdict.status]
    cv2.rectangle(out, (0, 0), (out.shape[1], 36), (0, 0, 0), -1)
    cv2.putText(out, f"{label}: {verdict.message}"[:110], (8, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2,
                cv2.LINE_AA)
    return out
