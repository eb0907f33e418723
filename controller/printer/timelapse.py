"""A run's timelapse: its layer photos (`layer_NNNN.jpg` in the photo folder), one frame each with the layer on it,
as `timelapse.mp4` (to download) and `timelapse.webm` (what the dashboard plays), written in one pass.

Codecs, as measured on the opencv-python-headless 5.0 wheel: it has no H.264 encoder (`avc1`/`H264` do not open);
MPEG-4 Part 2 (`mp4v`) writes at ~8 ms a frame but Chromium refuses it; VP9 in MP4 (`vp09`) plays in Chromium but
costs ~0.4-0.9 s a frame (960x720, its encoder options cannot be set through OpenCV), 90 s for a 100-layer run on
a busy two-core host that is printing the next copy meanwhile; VP8 in WebM (`VP80`) plays in Chromium at ~50 ms a
frame. So the MP4 is `mp4v` (desktop players, download) and the page plays the VP8 WebM; both read back in OpenCV.
Files are written beside the photos under temporary names and renamed, so a reader never sees half a video.
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
FILE_NAME, WEB_NAME = "timelapse.mp4", "timelapse.webm"
FORMATS = {"mp4": ("mp4v", "vp09"), "webm": ("VP80", "VP90")}   # per container, the first the wheel can encode
PLAYABLE = {"VP80", "VP90", "vp09"}   # what Chromium plays (mp4v is not)
WRITER_NICENESS = 10                 # background writers run at this nice value (a print's threads at 0)
DENOISE_PX = 1.0                     # Gaussian sigma on each frame: sensor noise doubles the VP8/VP9 work
_PHOTO = re.compile(r"^layer_(\d{4,})\.jpg$")
_locks: dict[Path, threading.RLock] = {}
_locks_guard = threading.Lock()


class TimelapseError(ControllerError):
    """The timelapse cannot be written (no codec the wheel can encode, a photo that cannot be read)."""


class NoPhotosError(NotFoundError):
    """The run has no layer photos to make a timelapse of."""


@dataclass(frozen=True)
class Timelapse:
    """A written timelapse: the MP4 and (when the wheel can write VP8/VP9) the WebM, frames, frame size (width,
    height), fps, the codec of each, and how long writing took (seconds)."""

    path: Path
    web: Path | None
    frames: int
    size: tuple[int, int]
    fps: float
    codec: str
    web_codec: str
    seconds: float


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


def _open_writer(path: Path, kind: str, fps: float, size: tuple[int, int]) -> tuple[cv2.VideoWriter | None, str]:
    """A VideoWriter with the first codec of FORMATS[kind] the wheel can encode, or (None, "")."""
    for codec in FORMATS[kind]:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), fps, size)
        if writer.isOpened():
            return writer, codec
        writer.release()
    return None, ""


def _lock_for(path: Path) -> threading.RLock:
    """One writer at a time per timelapse file."""
    with _locks_guard:
        return _locks.setdefault(path.resolve(), threading.RLock())


def write_timelapse(photo_dir: Path, fps: float = 4.0, max_width: int = 960,
                    clock: Callable[[], float] = time.perf_counter) -> Timelapse:
    """Write the folder's layer photos as `timelapse.mp4` and `timelapse.webm` in it; NoPhotosError if none."""
    photo_dir = Path(photo_dir)
    photos = layer_photos(photo_dir)
    if not photos:
        raise NoPhotosError(f"no layer photos in {photo_dir.name}: the run was not watched by a camera, or it "
                            "has not finished a layer yet")
    t0 = clock()
    outs = {"mp4": photo_dir / FILE_NAME, "webm": photo_dir / WEB_NAME}
    tag = f"{os.getpid()}-{threading.get_ident()}"
    tmps = {k: out.with_name(f".{out.stem}-{tag}{out.suffix}") for k, out in outs.items()}
    with _lock_for(photo_dir):
        writers: dict[str, cv2.VideoWriter] = {}
        codecs = {"mp4": "", "webm": ""}
        size, count = (0, 0), 0
        try:
            for layer, path in photos:
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    log.warning("timelapse: %s cannot be read; left out", path)
                    continue
                if count == 0:
                    size = frame_size(image.shape[1], image.shape[0], max_width)
                    writers, codecs = _open_all(tmps, fps, size)
                picture = frame(image, layer, size)
                for w in writers.values():
                    w.write(picture)
                count += 1
            if count == 0:
                raise TimelapseError(f"none of the {len(photos)} layer photos in {photo_dir.name} can be read")
            for kind in list(writers):
                writers.pop(kind).release()
                os.replace(tmps[kind], outs[kind])
        finally:
            for w in writers.values():
                w.release()
            for tmp in tmps.values():
                tmp.unlink(missing_ok=True)
    web = outs["webm"] if codecs["webm"] else None
    return Timelapse(outs["mp4"], web, count, size, fps, codecs["mp4"], codecs["webm"], round(clock() - t0, 3))


def _open_all(tmps: dict[str, Path], fps: float, size: tuple[int, int]
              ) -> tuple[dict[str, cv2.VideoWriter], dict[str, str]]:
    """A writer per container; TimelapseError when not even the MP4 can be written."""
    writers, codecs = {}, {}
    for kind, tmp in tmps.items():
        writer, codecs[kind] = _open_writer(tmp, kind, fps, size)
        if writer is not None:
            writers[kind] = writer
        else:
            log.warning("timelapse: OpenCV cannot write %s with any of %s", kind, ", ".join(FORMATS[kind]))
    if "mp4" not in writers:
        for w in writers.values():
            w.release()
        raise TimelapseError(f"OpenCV cannot write an MP4 with any of the codecs {', '.join(FORMATS['mp4'])}")
    return writers, codecs


def is_current(photo_dir: Path, name: str = FILE_NAME) -> bool:
    """Is the folder's timelapse there and newer than every layer photo (no layer photographed since)?"""
    out = Path(photo_dir) / name
    if not out.is_file():
        return False
    newest = max((p.stat().st_mtime for _n, p in layer_photos(Path(photo_dir))), default=0.0)
    return out.stat().st_mtime >= newest


def current_timelapse(photo_dir: Path, name: str = FILE_NAME) -> Path:
    """The folder's timelapse file `name` (mp4 or webm), written now if it is missing or older than the newest
    photo (a run in progress)."""
    out = Path(photo_dir) / name
    with _lock_for(Path(photo_dir)):  # a writer in progress (the run just ended) is waited for, not repeated
        if not is_current(photo_dir, name):
            write_timelapse(photo_dir)
    if not out.is_file():
        raise NotFoundError(f"this OpenCV cannot write {out.suffix[1:]} videos; ask for {FILE_NAME}")
    return out


def write_in_background(photo_dir: Path, done: Callable[[Timelapse | None, str], None]) -> threading.Thread:
    """Write the timelapse in a daemon thread; `done(timelapse, "")` after, or `done(None, why)` when it could
    not be written (a run without photos is not an error and calls nothing). Nothing is raised to the caller."""
    def work() -> None:
        lower_priority()
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


def lower_priority(niceness: int = WRITER_NICENESS) -> None:
    """Make the calling thread (and the encoder threads it starts) yield the CPU to the printers' threads and
    simulators: on Linux a thread's nice value is its own and is inherited by the threads it creates."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), niceness))
    except (AttributeError, OSError):   # not Linux, or not allowed: written at normal priority
        pass


def _report(done: Callable[[Timelapse | None, str], None], result: Timelapse | None, why: str) -> None:
    """Call `done`, logging (not raising) what it raises (the store may be closing)."""
    try:
        done(result, why)
    except Exception:  # a closing store must not raise in a daemon thread
        log.exception("recording the timelapse result failed")
