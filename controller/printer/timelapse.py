"""A run's timelapse: its layer photos (`layer_NNNN.jpg` in the photo folder) as one MP4, the layer on each frame.

Codec: what the opencv-python wheel's FFmpeg can encode and a browser can play. The wheel has no H.264 encoder
(`avc1`/`H264` do not open); MPEG-4 Part 2 (`mp4v`) writes but Chromium refuses it; VP9 in MP4 (`vp09`) writes
and Chromium, Firefox and Safari 14+ play it, and cv2.VideoCapture reads it back. So the file is VP9 in MP4, with
`mp4v` as the fallback when a wheel cannot write VP9 (then the file is for download, not for the page).
The file is written beside the photos under a temporary name and renamed, so a reader never sees half a video.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from controller.errors import ControllerError, NotFoundError

log = logging.getLogger(__name__)
FILE_NAME = "timelapse.mp4"
CODECS = ("vp09", "mp4v")            # preferred first: browser-playable VP9, then MPEG-4 Part 2
PLAYABLE = {"vp09"}
DENOISE_PX = 1.0                     # Gaussian sigma on each frame: sensor noise halves the VP9 encoding time
_PHOTO = re.compile(r"^layer_(\d{4,})\.jpg$")
_locks: dict[Path, threading.RLock] = {}
_locks_guard = threading.Lock()


class TimelapseError(ControllerError):
    """The timelapse cannot be written (no codec the wheel can encode, a photo that cannot be read)."""


class NoPhotosError(NotFoundError):
    """The run has no layer photos to make a timelapse of."""


@dataclass(frozen=True)
class Timelapse:
    """A written timelapse: file, frames, frame size (width, height), fps, codec and how long it took."""

    path: Path
    frames: int
    size: tuple[int, int]
    fps: float
    codec: str
    seconds: float

    @property
    def playable(self) -> bool:
        """Can a browser play it (VP9), or is it for download only (MPEG-4 Part 2)?"""
        return self.codec in PLAYABLE


def layer_photos(photo_dir: Path) -> list[tuple[int, Path]]:
    """(layer, path) of every layer photo in a run's folder, by layer (annotated `_check` copies left out)."""
    if not photo_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in photo_dir.iterdir() if (m := _PHOTO.match(p.name))]
    return sorted(found)


def frame_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The frame size for photos of this size: at most `max_width` wide, even sides (the encoders want them)."""
    scale = min(1.0, max_width / max(width, 1))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def frame(image: np.ndarray, layer: int, size: tuple[int, int]) -> np.ndarray:
    """One frame: the photo resized to `size` with "layer N" (1-based, as people count) in the top left."""
    out = cv2.GaussianBlur(cv2.resize(image, size, interpolation=cv2.INTER_AREA), (0, 0), DENOISE_PX)
    text = f"layer {layer + 1}"
    scale = max(0.5, size[0] / 960)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    cv2.rectangle(out, (0, 0), (tw + 16, th + base + 14), (0, 0, 0), -1)
    cv2.putText(out, text, (8, th + 8), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def _open_writer(path: Path, fps: float, size: tuple[int, int]) -> tuple[cv2.VideoWriter, str]:
    """A VideoWriter with the first codec of CODECS the wheel can encode."""
    for codec in CODECS:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), fps, size)
        if writer.isOpened():
            return writer, codec
        writer.release()
    raise TimelapseError(f"OpenCV cannot write an MP4 with any of the codecs {', '.join(CODECS)}")


def _lock_for(path: Path) -> threading.RLock:
    """One writer at a time per timelapse file."""
    with _locks_guard:
        return _locks.setdefault(path.resolve(), threading.RLock())


def write_timelapse(photo_dir: Path, out: Path | None = None, fps: float = 4.0, max_width: int = 960,
                    clock: Callable[[], float] = time.perf_counter) -> Timelapse:
    """Write the folder's layer photos as an MP4 (default `timelapse.mp4` in the folder); NoPhotosError if none."""
    photo_dir = Path(photo_dir)
    out = Path(out) if out is not None else photo_dir / FILE_NAME
    photos = layer_photos(photo_dir)
    if not photos:
        raise NoPhotosError(f"no layer photos in {photo_dir.name}: the run was not watched by a camera, or it "
                            "has not finished a layer yet")
    t0 = clock()
    with _lock_for(out):
        tmp = out.with_name(f".{out.stem}-{os.getpid()}-{threading.get_ident()}.mp4")
        writer: cv2.VideoWriter | None = None
        size, codec, count = (0, 0), "", 0
        try:
            for layer, path in photos:
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    log.warning("timelapse: %s cannot be read; left out", path)
                    continue
                if writer is None:
                    size = frame_size(image.shape[1], image.shape[0], max_width)
                    writer, codec = _open_writer(tmp, fps, size)
                writer.write(frame(image, layer, size))
                count += 1
            if writer is None:
                raise TimelapseError(f"none of the {len(photos)} layer photos in {photo_dir.name} can be read")
            writer.release()
            writer = None
            os.replace(tmp, out)
        finally:
            if writer is not None:
                writer.release()
            tmp.unlink(missing_ok=True)
    return Timelapse(out, count, size, fps, codec, round(clock() - t0, 3))


def is_current(photo_dir: Path, out: Path | None = None) -> bool:
    """Is the folder's timelapse there and newer than every layer photo (no layer photographed since)?"""
    out = Path(out) if out is not None else Path(photo_dir) / FILE_NAME
    if not out.is_file():
        return False
    newest = max((p.stat().st_mtime for _n, p in layer_photos(Path(photo_dir))), default=0.0)
    return out.stat().st_mtime >= newest


def current_timelapse(photo_dir: Path) -> Path:
    """The folder's timelapse, written now if it is missing or older than the newest photo (a run in progress)."""
    out = Path(photo_dir) / FILE_NAME
    with _lock_for(out):  # a writer in progress (the run just ended) is waited for, not repeated
        if not is_current(photo_dir, out):
            write_timelapse(photo_dir, out)
    return out


def write_in_background(photo_dir: Path, done: Callable[[Timelapse | None, str], None]) -> threading.Thread:
    """Write the timelapse in a daemon thread; `done(timelapse, "")` after, or `done(None, why)` when it could
    not be written (a run without photos is not an error and calls nothing). Nothing is raised to the caller."""
    def work() -> None:
        try:
            result = write_timelapse(photo_dir)
        except NoPhotosError:
            return
        except ControllerError as exc:
            log.warning("timelapse of %s not written: %s", photo_dir, exc)
            _report(done, None, str(exc))
            return
        except Exception as exc:  # reported through `done`, never into the print
            log.exception("timelapse of %s failed", photo_dir)
            _report(done, None, f"{type(exc).__name__}: {exc}")
            return
        _report(done, result, "")

    thread = threading.Thread(target=work, name=f"timelapse-{Path(photo_dir).name}", daemon=True)
    thread.start()
    return thread


def _report(done: Callable[[Timelapse | None, str], None], result: Timelapse | None, why: str) -> None:
    """Call `done`, logging (not raising) what it raises (the store may be closing)."""
    try:
        done(result, why)
    except Exception:  # a closing store must not raise in a daemon thread
        log.exception("recording the timelapse result failed")
