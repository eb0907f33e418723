"""Annotated photo for a verdict: reference outline over the photo, differences marked, the verdict in words."""
from __future__ import annotations

import cv2
import numpy as np

from vision.classify import Verdict
from vision.reference import BedGrid
from vision.registration import Registration

GREEN = (60, 220, 60)
RED = (40, 40, 255)
MAGENTA = (255, 60, 255)
_STATUS_BGR = {"ok": GREEN}


def _contours_to_image(mask: np.ndarray, grid: BedGrid, registration: Registration) -> list[np.ndarray]:
    """Outlines of a raster mask as int32 polylines in camera pixels."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return []
    sizes = [len(c) for c in contours]
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float64)
    img = registration.to_image(grid.to_mm(pts))
    out = np.split(np.round(img).astype(np.int32), np.cumsum(sizes)[:-1])
    return [o.reshape(-1, 1, 2) for o in out]


def _inset(out: np.ndarray, grid: BedGrid, registration: Registration, share: float = 0.42) -> None:
    """Paste an enlarged view of the checked area into the lower right corner, so small parts can be read."""
    h, w = out.shape[:2]
    corners = registration.to_image(np.array([[grid.x0, grid.y0], [grid.x1, grid.y0], [grid.x1, grid.y1],
                                              [grid.x0, grid.y1]]))
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return
    zoom = min(share * w / (x1 - x0), share * h / (y1 - y0))
    if zoom < 1.5:
        return
    crop = cv2.resize(out[y0:y1, x0:x1], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR)
    ch, cw = crop.shape[:2]
    out[h - ch - 4:h, w - cw - 4:w] = 255
    out[h - ch - 2:h - 2, w - cw - 2:w - 2] = crop


def annotate(image: np.ndarray, verdict: Verdict, reference: np.ndarray, missing: np.ndarray, excess: np.ndarray,
             grid: BedGrid, registration: Registration) -> np.ndarray:
    """Copy of the photo with layer n's outline (green), missing (red) and excess (magenta) areas and a caption."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    overlay = out.copy()
    for mask, colour in ((missing, RED), (excess, MAGENTA)):
        polys = _contours_to_image(mask, grid, registration)
        if polys:
            cv2.fillPoly(overlay, polys, colour)
    cv2.addWeighted(overlay, 0.45, out, 0.55, 0, out)
    ref_polys = _contours_to_image(reference > 0, grid, registration)
    cv2.polylines(out, ref_polys, True, GREEN, 1, cv2.LINE_AA)
    if verdict.status == "layer_shift" and ref_polys:
        centre_mm = grid.to_mm(np.argwhere(reference > 0)[:, ::-1].mean(axis=0, keepdims=True))
        tip_mm = centre_mm + np.array(verdict.offset_mm)
        a, b = registration.to_image(np.vstack([centre_mm, tip_mm]))
        cv2.arrowedLine(out, tuple(int(v) for v in a), tuple(int(v) for v in b), RED, 2, cv2.LINE_AA,
                        tipLength=0.3)
    _inset(out, grid, registration)
    colour = _STATUS_BGR.get(verdict.status, RED)
    text = verdict.message if len(verdict.message) <= 110 else verdict.message[:107] + "..."
    scale = max(0.4, out.shape[1] / 1800.0)
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(out, (0, 0), (min(out.shape[1], w + 16), h + base + 14), (0, 0, 0), -1)
    cv2.putText(out, text, (8, h + 7), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
    return out
