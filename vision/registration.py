"""Bed registration: a homography from camera pixels to bed millimetres, found from ArUco stickers on the bed.

Manual four-point calibration (`Registration.from_points`) is the fallback for cameras that cannot see markers.
A registration is stored per printer as JSON and re-checked against fresh marker detections (`drift_mm`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vision.config import VisionConfig
from vision.errors import RegistrationError

_PAD = 24  # px of replicated border around the image before marker detection
_DICTIONARY = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)


def _detector() -> cv2.aruco.ArucoDetector:
    """An ArUco detector for the DICT_4X4_50 bed stickers, with sub-pixel corner refinement."""
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    return cv2.aruco.ArucoDetector(_DICTIONARY, params)


def _apply(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 3x3 homography to (N, 2) points."""
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(pts, h).reshape(-1, 2)


@dataclass(frozen=True, eq=False)
class Registration:
    """Homography image px -> bed mm for one camera pose, with how it was found and its fit residual."""

    homography: np.ndarray            # 3x3, image px -> bed mm
    image_size: tuple[int, int]       # (width, height) of the images it applies to
    method: str = "aruco"             # "aruco" | "manual"
    residual_mm: float = 0.0          # RMS distance of the fitted points, bed mm
    marker_ids: tuple[int, ...] = field(default=())

    def to_bed(self, pts_px: np.ndarray) -> np.ndarray:
        """(N, 2) image px -> (N, 2) bed mm."""
        return _apply(self.homography, pts_px)

    def to_image(self, pts_mm: np.ndarray) -> np.ndarray:
        """(N, 2) bed mm -> (N, 2) image px."""
        return _apply(np.linalg.inv(self.homography), pts_mm)

    @classmethod
    def from_points(cls, img_pts: np.ndarray, bed_pts: np.ndarray,
                    image_size: tuple[int, int] = (1280, 960)) -> Registration:
        """Manual calibration: four (or more) image points clicked on known bed positions."""
        img = np.asarray(img_pts, dtype=np.float64).reshape(-1, 2)
        bed = np.asarray(bed_pts, dtype=np.float64).reshape(-1, 2)
        if len(img) < 4 or len(img) != len(bed):
            raise RegistrationError(f"manual calibration needs at least 4 matching points (got {len(img)}, {len(bed)})")
        h, _ = cv2.findHomography(img, bed, 0)
        if h is None or abs(np.linalg.det(h[:2, :2])) < 1e-12:
            raise RegistrationError("manual calibration points are degenerate (three of them on one line?)")
        res = float(np.sqrt(np.mean(np.sum((_apply(h, img) - bed) ** 2, axis=1))))
        return cls(h, (int(image_size[0]), int(image_size[1])), "manual", res, ())

    def to_json(self) -> str:
        """JSON text for storing this registration per printer."""
        return json.dumps({"homography": self.homography.tolist(), "image_size": list(self.image_size),
                           "method": self.method, "residual_mm": self.residual_mm,
                           "marker_ids": list(self.marker_ids)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Registration:
        """Read a registration written by to_json."""
        try:
            d = json.loads(text)
            h = np.array(d["homography"], dtype=np.float64).reshape(3, 3)
            return cls(h, (int(d["image_size"][0]), int(d["image_size"][1])), str(d.get("method", "aruco")),
                       float(d.get("residual_mm", 0.0)), tuple(int(i) for i in d.get("marker_ids", ())))
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistrationError(f"stored registration is unreadable: {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write to a JSON file (one per printer)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Registration:
        """Read from a JSON file written by save."""
        try:
            return cls.from_json(Path(path).read_text())
        except OSError as exc:
            raise RegistrationError(f"no stored registration at {path}: {exc}") from exc


def _detect_once(grey: np.ndarray) -> dict[int, np.ndarray]:
    """One detection pass on a padded grey image; corners back in unpadded pixels."""
    padded = cv2.copyMakeBorder(grey, _PAD, _PAD, _PAD, _PAD, cv2.BORDER_REPLICATE)
    corners, ids, _ = _detector().detectMarkers(padded)
    if ids is None:
        return {}
    return {int(i): c.reshape(4, 2).astype(np.float64) - _PAD for i, c in zip(ids.ravel(), corners)}


def detect_markers(image: np.ndarray, wanted: int = 4) -> dict[int, np.ndarray]:
    """ArUco id -> (4, 2) corner pixels of every DICT_4X4_50 marker seen in a BGR or grey image.

    Stickers near the frame edge are lost to the detector's border margin, so the frame is padded first; when
    fewer than `wanted` are found, noisy or dim frames get a second pass smoothed and contrast-equalised.
    """
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found = _detect_once(grey)
    if len(found) < wanted:
        smooth = cv2.GaussianBlur(grey, (0, 0), 1.0)
        for variant in (smooth, cv2.createCLAHE(2.0, (8, 8)).apply(smooth)):
            for k, v in _detect_once(variant).items():
                found.setdefault(k, v)
            if len(found) >= wanted:
                break
    return found


def register(image: np.ndarray, config: VisionConfig | None = None) -> Registration:
    """Find the bed in a camera image from the four bed stickers: homography image px -> bed mm.

    The marker centres give a first homography; each detected corner is then matched to the nearest corner of
    its axis-aligned sticker on the bed and all corners are fitted together (orientation of the print does not
    matter). With hand-picked `points` in the config they register the camera instead (no markers needed).
    """
    cfg = config or VisionConfig()
    if cfg.points:
        pts = np.asarray(cfg.points, dtype=np.float64)
        return Registration.from_points(pts[:, :2], pts[:, 2:], (image.shape[1], image.shape[0]))
    layout = cfg.marker_centres()
    seen = detect_markers(image)
    ids = sorted(i for i in seen if i in layout)
    if len(ids) < 3:
        missing = sorted(set(layout) - set(ids))
        raise RegistrationError(f"bed markers {missing} not visible in the camera image (saw {sorted(seen)}); "
                                "clear the view or calibrate by hand with four points")
    centres_px = np.array([seen[i].mean(axis=0) for i in ids])
    centres_mm = np.array([layout[i] for i in ids])
    if len(ids) >= 4:
        h0, _ = cv2.findHomography(centres_px, centres_mm, 0)
    else:  # three stickers seen: an affine first guess, refined below on their twelve corners
        h0 = np.vstack([cv2.getAffineTransform(centres_px.astype(np.float32), centres_mm.astype(np.float32)),
                        [0.0, 0.0, 1.0]])
    if h0 is None:
        raise RegistrationError("bed markers are in a degenerate arrangement; check the marker layout in [vision]")
    half = cfg.marker_size_mm / 2.0
    offsets = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    img_pts, bed_pts = [], []
    for i in ids:
        expected = np.array(layout[i]) + offsets
        mapped = _apply(h0, seen[i])
        d = np.linalg.norm(mapped[:, None, :] - expected[None, :, :], axis=2)
        match = d.argmin(axis=1)
        if len(set(match.tolist())) == 4 and d.min(axis=1).max() < half:
            img_pts.append(seen[i])
            bed_pts.append(expected[match])
        else:
            img_pts.append(seen[i].mean(axis=0, keepdims=True))
            bed_pts.append(np.array([layout[i]]))
    img = np.concatenate(img_pts)
    bed = np.concatenate(bed_pts)
    h, _ = cv2.findHomography(img, bed, 0)
    if h is None:
        h = h0
    res = float(np.sqrt(np.mean(np.sum((_apply(h, img) - bed) ** 2, axis=1))))
    size = (int(image.shape[1]), int(image.shape[0]))
    return Registration(h, size, "aruco", res, tuple(ids))


def drift_mm(registration: Registration, image: np.ndarray, config: VisionConfig | None = None) -> float | None:
    """Largest distance (bed mm) between where the stored registration puts the visible markers and their layout.

    None when no known marker is visible (a manual calibration cannot be re-checked this way).
    """
    cfg = config or VisionConfig()
    layout = cfg.marker_centres()
    seen = detect_markers(image)
    ids = [i for i in seen if i in layout]
    if not ids:
        return None
    mapped = registration.to_bed(np.array([seen[i].mean(axis=0) for i in ids]))
    return float(np.max(np.linalg.norm(mapped - np.array([layout[i] for i in ids]), axis=1)))


def ensure_registration(stored: Registration | None, image: np.ndarray,
                        config: VisionConfig | None = None) -> tuple[Registration, bool]:
    """Keep a stored registration while it still fits the image, else register again; (registration, renewed).

    With hand-picked `points` in the config the camera is registered by them (it is fixed: nothing to re-check)."""
    cfg = config or VisionConfig()
    size = (image.shape[1], image.shape[0])
    if cfg.points:
        fresh = register(image, cfg)
        if (stored is not None and stored.method == "manual" and stored.image_size == size
                and np.allclose(stored.homography, fresh.homography)):
            return stored, False
        return fresh, True
    if stored is not None and stored.image_size == size:
        d = drift_mm(stored, image, cfg)
        if d is None or d <= cfg.drift_mm:
            return stored, False
    return register(image, cfg), True
