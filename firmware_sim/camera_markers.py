"""ArUco markers on the bed plate and the static top-down plate raster (texture, markers, frame).

Marker geometry is in bed millimetres with y up (as seen from above, the front of the bed at the bottom).
Corner order of `marker_corners` is ArUco's: top-left, top-right, bottom-right, bottom-left as seen in the
image, i.e. (x−s/2, y+s/2), (x+s/2, y+s/2), (x+s/2, y−s/2), (x−s/2, y−s/2).
"""
from __future__ import annotations

import cv2
import numpy as np

from firmware_sim.camera_surfaces import SURFACES, Surface, draw_logo, sheet_raster

MARKER_DICT = cv2.aruco.DICT_4X4_50
MARKER_SIZE = 18.0            # mm, side of the black marker square
MARKER_BORDER = 4.0           # mm of white quiet zone around each marker on the black sheet (Surface.marker_margin)
# ids 0..3 near the four bed corners, outside the 220 × 220 print area
MARKERS: dict[int, tuple[float, float]] = {0: (-14.0, -14.0), 1: (234.0, -14.0), 2: (234.0, 234.0), 3: (-14.0, 234.0)}
SHEET = (-32.0, -32.0, 252.0, 252.0)   # mm extent of the textured print sheet (markers sit on it)
PLATE_PX_PER_MM = 4


def marker_corners(marker_id: int) -> np.ndarray:
    """(4,2) bed-mm corners of a marker in ArUco's corner order."""
    x, y = MARKERS[marker_id]
    h = MARKER_SIZE / 2
    return np.array([[x - h, y + h], [x + h, y + h], [x + h, y - h], [x - h, y - h]], np.float64)


def plate_raster(bounds: tuple[int, int, int, int], bed_bgr: tuple[int, int, int],
                 surface: Surface = SURFACES["black"], logo: bool = False) -> np.ndarray:
    """Top-down BGR uint8 raster of bounds (x0, y0, x1, y1 mm, integers), row 0 at y1, PLATE_PX_PER_MM:
    the machine frame, the sheet (its surface's texture, optionally its printed logo) and the markers."""
    x0, y0, x1, y1 = bounds
    s = PLATE_PX_PER_MM
    w, h = (x1 - x0) * s, (y1 - y0) * s
    rng = np.random.default_rng(20240229)            # the same sheet every time
    # machine frame around the sheet: brushed grey aluminium with a soft gradient
    frame = np.empty((h, w, 3), np.float32)
    frame[:] = np.linspace(78, 62, h, dtype=np.float32)[:, None, None]
    frame += cv2.GaussianBlur(rng.normal(0, 6, (h, w)).astype(np.float32), (0, 0), sigmaX=6, sigmaY=0.7)[..., None]
    sheet = sheet_raster(surface, (h, w), bed_bgr, rng)     # fine grain plus faint mottling (and speckles)
    img = frame
    sx0, sy0, sx1, sy1 = SHEET
    c0, c1 = int((sx0 - x0) * s), int((sx1 - x0) * s)
    r0, r1 = int((y1 - sy1) * s), int((y1 - sy0) * s)
    cs0, cs1, rs0, rs1 = max(c0, 0), min(c1, w), max(r0, 0), min(r1, h)
    img[rs0:rs1, cs0:cs1] = sheet[rs0:rs1, cs0:cs1]
    if surface.mirror > 0:                                   # a glass sheet's edges look green
        cv2.rectangle(img, (c0, r0), (c1 - 1, r1 - 1), (88, 118, 84), 2 * s)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if logo:
        draw_logo(out, bounds, s, bed_bgr)
    dictionary = cv2.aruco.getPredefinedDictionary(MARKER_DICT)
    side = round(MARKER_SIZE * s)
    pad = round(surface.marker_margin * s)
    h, w = out.shape[:2]
    for marker_id, (mx, my) in MARKERS.items():
        col = round((mx - MARKER_SIZE / 2 - x0) * s)
        row = round((y1 - (my + MARKER_SIZE / 2)) * s)
        if row + side + pad <= 0 or col + side + pad <= 0 or row - pad >= h or col - pad >= w:
            continue  # (wholly outside the raster: out of the camera's view)
        out[max(row - pad, 0):max(row + side + pad, 0), max(col - pad, 0):max(col + side + pad, 0)] = 235
        tile = np.where(cv2.aruco.generateImageMarker(dictionary, marker_id, side) > 127, 235, 25).astype(np.uint8)
        r0, c0 = max(row, 0), max(col, 0)   # a sticker partly outside the raster: only the part inside
        r1, c1 = min(row + side, h), min(col + side, w)
        if r1 > r0 and c1 > c0:
            out[r0:r1, c0:c1] = tile[r0 - row:r1 - row, c0 - col:c1 - col, None]
    return out
