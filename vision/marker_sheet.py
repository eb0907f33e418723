"""A printable sheet of the bed markers a layer check registers the camera by, at true size, with where each goes.

The markers are ArUco DICT_4X4_50 squares (ids and centres from the `[vision]` table); each is printed with a
white quiet zone, its id and its centre in bed millimetres, and the sheet carries a 100 mm scale bar so the
technician can check the printer did not scale it.
"""
from __future__ import annotations

import cv2
import numpy as np

from vision.config import VisionConfig

DPI = 300
A4_MM = (210.0, 297.0)
_DICT = cv2.aruco.DICT_4X4_50


def _px(mm: float) -> int:
    """Millimetres to sheet pixels at DPI."""
    return round(mm / 25.4 * DPI)


def _where(x: float, y: float) -> str:
    """'front left' etc. for a marker centre relative to the bed's middle (Y up = towards the back)."""
    return f"{'back' if y > 110 else 'front'} {'right' if x > 110 else 'left'}"


def marker_sheet(config: VisionConfig | None = None) -> np.ndarray:
    """The sheet as a white A4 page (greyscale uint8 at DPI), two markers a row."""
    config = config or VisionConfig()
    page = np.full((_px(A4_MM[1]), _px(A4_MM[0])), 255, np.uint8)
    side = _px(config.marker_size_mm)
    quiet = _px(4.0)
    cell_w, cell_h = _px(A4_MM[0] / 2), _px(80.0)
    dictionary = cv2.aruco.getPredefinedDictionary(_DICT)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k, (marker_id, x, y) in enumerate(config.markers):
        col, row = k % 2, k // 2
        x0 = col * cell_w + (cell_w - side) // 2
        y0 = _px(20.0) + row * cell_h
        page[y0:y0 + side, x0:x0 + side] = cv2.aruco.generateImageMarker(dictionary, int(marker_id), side)
        cv2.rectangle(page, (x0 - quiet, y0 - quiet), (x0 + side + quiet, y0 + side + quiet), 160, 1)  # cut line
        label = f"id {marker_id}: centre at X{x:g} Y{y:g} mm ({_where(x, y)})"
        cv2.putText(page, label, (col * cell_w + _px(8.0), y0 + side + quiet + _px(7.0)), font, 1.2, 0, 2,
                    cv2.LINE_AA)
    top = _px(20.0) + 2 * cell_h + _px(10.0)
    left = _px(55.0)
    cv2.rectangle(page, (left, top), (left + _px(100.0), top + _px(3.0)), 0, -1)
    cv2.putText(page, f"100 mm: print at 100 % ({DPI} dpi); marker squares {config.marker_size_mm:g} mm",
                (_px(20.0), top + _px(12.0)), font, 1.2, 0, 2, cv2.LINE_AA)
    cv2.putText(page, "Stick each marker flat, outside the print area, where the camera always sees it.",
                (_px(20.0), top + _px(20.0)), font, 1.1, 0, 2, cv2.LINE_AA)
    return page
