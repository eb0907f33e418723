"""The camera's opinion on a printer's bed: a photo now against the run's `bed_before.jpg`, judged by vision.

The files sit in the run's photo folder: `bed_before.jpg` (taken by the layer check as the run started),
`bed_now.jpg` (the latest photo) and `bed_check.jpg` (that photo annotated) with `bed_check.json` (the verdict).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from controller.store.records import Printer, Run
from vision.bed_clear import BedVerdict, judge_bed, unknown
from vision.camera import DeviceCamera, HttpCamera
from vision.config import load_config
from vision.errors import CameraError, VisionError

BEFORE, NOW, CHECK, FIGURES = "bed_before.jpg", "bed_now.jpg", "bed_check.jpg", "bed_check.json"
CAMERA_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class BedCheck:
    """One look at a printer's bed: the verdict, the run compared with, the annotated photo (if any), when."""

    printer: str
    run_id: int | None
    verdict: BedVerdict
    image: Path | None
    t: float

    def summary(self) -> str:
        """The camera's opinion in words, for an event message."""
        return f"camera: {self.verdict.status} ({self.verdict.message})"

    def event_data(self) -> dict[str, Any]:
        """The opinion as event data: {"camera": status, ...}."""
        v = self.verdict
        return {"camera": v.status, "camera_message": v.message, "regions": v.to_dict()["regions"],
                "changed_mm2": v.changed_mm2, "image": str(self.image) if self.image else None}


def run_photo_dir(data_dir: Path, run: Run) -> Path:
    """Where a run's photos are kept (as the fleet makes it when the run starts)."""
    return Path(data_dir) / "photos" / f"job-{run.job_id}" / f"run-{run.id}"


def grab(spec: str, timeout: float = CAMERA_TIMEOUT_S) -> np.ndarray:
    """One frame from a printer's camera (http(s) snapshot/MJPEG URL or device index), closed again."""
    text = spec.strip()
    camera: HttpCamera | DeviceCamera
    if text.isdigit():
        camera = DeviceCamera(int(text))
    elif text.startswith(("http://", "https://")):
        camera = HttpCamera(text, timeout=timeout)
    else:
        raise CameraError(f"camera '{spec}' is neither an http(s) URL nor a device index")
    try:
        return camera.grab()
    finally:
        camera.close()


def check_bed(data_dir: Path, printer: Printer, run: Run | None, t: float) -> BedCheck:
    """Photograph the bed now and compare it with the run's photo from before it started (never raises on a
    camera or a missing photo: those are an `unknown` verdict)."""
    if not printer.camera:
        return BedCheck(printer.name, run.id if run else None, unknown("this printer has no camera"), None, t)
    if run is None:
        return BedCheck(printer.name, None, unknown("this printer has not printed anything yet"), None, t)
    folder = run_photo_dir(data_dir, run)
    try:
        now = grab(printer.camera)
        config = load_config(printer.profile)
    except VisionError as exc:
        return BedCheck(printer.name, run.id, unknown(f"the camera cannot be read: {exc}"), None, t)
    before = cv2.imread(str(folder / BEFORE), cv2.IMREAD_COLOR) if (folder / BEFORE).is_file() else None
    verdict, annotated = judge_bed(before, now, config)
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / NOW), now)
    cv2.imwrite(str(folder / CHECK), annotated)
    (folder / FIGURES).write_text(json.dumps({"t": t, "run_id": run.id, **verdict.to_dict()}, indent=1))
    return BedCheck(printer.name, run.id, verdict, folder / CHECK, t)


def last_image(data_dir: Path, run: Run | None) -> Path | None:
    """The annotated photo of the latest bed check of a run, if there is one."""
    if run is None:
        return None
    path = run_photo_dir(data_dir, run) / CHECK
    return path if path.is_file() else None
