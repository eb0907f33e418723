"""Camera sources a lab actually has: an HTTP snapshot URL, an MJPEG stream URL or an OpenCV device index.

Every frame is decoded with OpenCV into a BGR uint8 array; the simulator's snapshot URL is just another webcam.
Every grab hands back a frame captured after it was asked for, never one a buffer kept from before:
- snapshot URLs are asked with `Cache-Control: no-cache` and a cache-busting query (`_=N`); a reply whose
  timing headers (see `vision.camera_time`) say it was captured before the request is asked for again, and one
  that says nothing of its time is asked for twice (the second was captured after the first was asked for);
- MJPEG streams are drained of what was buffered before the request (`vision.camera_mjpeg`);
- OpenCV devices get a one-frame driver buffer where the backend allows it and are grabbed until a grab has to
  wait for the sensor (`drain_device`).
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import httpx
import numpy as np

from vision.camera_mjpeg import MjpegReader
from vision.camera_time import capture_time
from vision.errors import CameraError


class StaleFrameError(CameraError):
    """The camera kept sending frames captured before the request."""


@dataclass(frozen=True)
class Frame:
    """A decoded frame and what is known of its time (wall clock, seconds).

    captured_at: when the source says it was captured (None: the source does not say);
    stamp: the source's own stamp of the frame (two frames with the same stamp are the same frame);
    discarded: older frames thrown away before this one (buffered, cached, captured before the request).
    """

    image: np.ndarray
    requested_at: float
    received_at: float
    captured_at: float | None = None
    stamp: str | None = None
    discarded: int = 0

    @property
    def age_s(self) -> float | None:
        """Seconds from capture to arrival, when the capture time is known."""
        return None if self.captured_at is None else max(0.0, self.received_at - self.captured_at)


class Camera(Protocol):
    """Anything that hands back the current frame."""

    def grab(self) -> np.ndarray:
        """The current frame, BGR uint8."""
        ...

    def close(self) -> None:
        """Release the device or connection."""
        ...


def grab_frame(camera: Camera, clock: Callable[[], float] = time.time) -> Frame:
    """A Frame from any camera: its own `grab_frame()` when it has one, else `grab()` with nothing known of time."""
    own = getattr(camera, "grab_frame", None)
    if callable(own):
        frame = own()
        if isinstance(frame, Frame):
            return frame
    asked = clock()
    image = camera.grab()
    return Frame(image, asked, clock())


def decode_image(data: bytes, source: str = "camera") -> np.ndarray:
    """Decode JPEG/PNG bytes with OpenCV into BGR uint8."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise CameraError(f"{source} sent {len(data)} bytes that are not an image")
    return img


def cache_busted(url: str, n: int) -> str:
    """The URL with `_=n` added to its query (as browsers' cache busters do), so no cache can answer for it."""
    base, hash_sign, fragment = url.partition("#")
    joined = base + ("&" if "?" in base else "?") + f"_={n}"
    return joined + hash_sign + fragment


class HttpCamera:
    """A snapshot URL (one image per GET) or an MJPEG stream URL (told apart by the reply's content type)."""

    def __init__(self, url: str, timeout: float = 10.0, clock: Callable[[], float] = time.time,
                 fresh_timeout: float = 10.0, retry_wait: float = 0.1, tolerance_s: float = 0.0,
                 settle_snapshots: int = 1) -> None:
        """`fresh_timeout`: how long a grab asks again for a snapshot captured after the request;
        `settle_snapshots`: snapshots without a capture time thrown away before one is taken (1: a proxy that
        answers with the frame it fetched for the request before, refreshing it meanwhile, is asked twice)."""
        self.url = url
        self.timeout = timeout
        self.clock = clock
        self.fresh_timeout = fresh_timeout
        self.retry_wait = retry_wait
        self.tolerance_s = tolerance_s
        self.settle_snapshots = settle_snapshots
        self._client = httpx.Client(timeout=timeout, follow_redirects=True,
                                    headers={"Cache-Control": "no-cache", "Pragma": "no-cache"})
        self._count = itertools.count(int(time.time() * 1000))
        self._stream: MjpegReader | None = None
        self._bust = True

    def grab(self) -> np.ndarray:
        """Fetch a frame captured after this call."""
        return self.grab_frame().image

    def grab_frame(self) -> Frame:
        """Fetch a frame captured after this call, with what is known of its time."""
        requested = self.clock()
        if self._stream is not None:
            return self._from_stream(requested)
        deadline = time.monotonic() + self.fresh_timeout
        discarded = 0
        while True:
            data, headers, is_stream = self._get()
            if is_stream:
                self._stream = MjpegReader(self.url, self.timeout, self.clock, self.tolerance_s)
                return self._from_stream(requested)
            received = self.clock()
            when = capture_time(headers, received)
            if when.captured_at is None and discarded < self.settle_snapshots:
                discarded += 1            # says nothing of its time: it may be a cache's; the next one is not
                continue
            if when.captured_at is None or when.captured_at >= requested - self.tolerance_s:
                return Frame(decode_image(data, f"camera {self.url}"), requested, received, when.captured_at,
                             when.stamp, discarded)
            discarded += 1
            if time.monotonic() + self.retry_wait > deadline:
                raise StaleFrameError(
                    f"camera {self.url} kept sending frames captured before the request: the newest was taken "
                    f"{requested - when.captured_at:.1f} s before it ({discarded} asked in "
                    f"{self.fresh_timeout:.0f} s); is a proxy caching it, the camera stalled, or its clock behind this one?")
            time.sleep(self.retry_wait)

    def _from_stream(self, requested: float) -> Frame:
        assert self._stream is not None
        got = self._stream.grab(requested)
        return Frame(decode_image(got.jpeg, f"camera {self.url}"), requested, got.received_at, got.captured_at,
                     got.stamp, got.discarded)

    def _get(self) -> tuple[bytes, dict[str, str], bool]:
        """One GET past any cache: (body, headers with lower-case names, whether it is a multipart stream).
        A server that refuses the cache-busting query (4xx) is asked the plain URL from then on."""
        try:
            url = cache_busted(self.url, next(self._count)) if self._bust else self.url
            with self._client.stream("GET", url) as resp:
                if 400 <= resp.status_code < 500 and self._bust:
                    self._bust = False
                    return self._get()
                if resp.status_code != 200:
                    raise CameraError(f"camera {self.url} answered HTTP {resp.status_code}")
                headers = {k.lower(): v for k, v in resp.headers.items()}
                if headers.get("content-type", "").lower().startswith("multipart/"):
                    return b"", headers, True
                return resp.read(), headers, False
        except httpx.HTTPError as exc:
            raise CameraError(f"camera {self.url} cannot be reached: {exc}") from exc

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


class Capture(Protocol):
    """What DeviceCamera uses of cv2.VideoCapture."""

    def grab(self) -> bool: ...
    def retrieve(self) -> tuple[bool, np.ndarray | None]: ...


def drain_device(capture: Capture, frame_interval: float, clock: Callable[[], float] = time.monotonic,
                 max_grabs: int = 12) -> int:
    """Grab and drop the frames the driver buffered until one grab had to wait for the sensor (took at least
    half a frame interval): that frame was captured after the call. Returns the grabs made (at most max_grabs);
    the caller retrieves the last one."""
    for n in range(1, max_grabs + 1):
        t0 = clock()
        if not capture.grab():
            raise CameraError("the camera device gave no frame")
        if clock() - t0 >= 0.5 * frame_interval:
            return n
    return max_grabs


class DeviceCamera:
    """A local camera opened by OpenCV device index; frames the driver buffered before the grab are skipped."""

    def __init__(self, index: int, max_grabs: int = 12, clock: Callable[[], float] = time.time) -> None:
        self.index = index
        self.max_grabs = max_grabs
        self.clock = clock
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraError(f"camera device {index} cannot be opened")
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)          # honoured by V4L2 and DirectShow, ignored elsewhere
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.frame_interval = 1.0 / fps if 1.0 <= fps <= 240.0 else 1.0 / 30.0

    def grab(self) -> np.ndarray:
        """Read a frame captured after this call."""
        return self.grab_frame().image

    def grab_frame(self) -> Frame:
        """Drain the driver's buffer, then retrieve the frame that had to be waited for."""
        requested = self.clock()
        try:
            grabs = drain_device(self._cap, self.frame_interval, max_grabs=self.max_grabs)
        except CameraError:
            raise CameraError(f"camera device {self.index} gave no frame") from None
        ok, frame = self._cap.retrieve()
        if not ok or frame is None:
            raise CameraError(f"camera device {self.index} gave no frame")
        return Frame(frame, requested, self.clock(), discarded=grabs - 1)

    def close(self) -> None:
        """Release the device."""
        self._cap.release()


def open_camera(spec: str | int) -> HttpCamera | DeviceCamera:
    """`http(s)://...` (snapshot or MJPEG, told apart by content type) or a device index like `0`."""
    if isinstance(spec, int) or str(spec).strip().isdigit():
        return DeviceCamera(int(spec))
    text = str(spec).strip()
    if text.startswith(("http://", "https://")):
        return HttpCamera(text)
    raise CameraError(f"camera '{spec}' is neither an http(s) URL nor a device index")
