"""Camera sources a lab actually has: an HTTP snapshot URL, an MJPEG stream URL or an OpenCV device index.

Every frame is decoded with OpenCV into a BGR uint8 array; the simulator's snapshot URL is just another webcam.
"""
from __future__ import annotations

from typing import Protocol

import cv2
import httpx
import numpy as np

from vision.errors import CameraError

_MAX_FRAME_BYTES = 20_000_000


class Camera(Protocol):
    """Anything that hands back the current frame."""

    def grab(self) -> np.ndarray:
        """The current frame, BGR uint8."""
        ...

    def close(self) -> None:
        """Release the device or connection."""
        ...


def decode_image(data: bytes, source: str = "camera") -> np.ndarray:
    """Decode JPEG/PNG bytes with OpenCV into BGR uint8."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise CameraError(f"{source} sent {len(data)} bytes that are not an image")
    return img


def _first_mjpeg_frame(stream: httpx.Response, source: str) -> bytes:
    """Read a multipart/x-mixed-replace body until one whole JPEG (SOI..EOI) has arrived."""
    buf = bytearray()
    for chunk in stream.iter_bytes():
        buf += chunk
        start = buf.find(b"\xff\xd8")
        if start >= 0:
            end = buf.find(b"\xff\xd9", start + 2)
            if end >= 0:
                return bytes(buf[start:end + 2])
        if len(buf) > _MAX_FRAME_BYTES:
            break
    raise CameraError(f"{source} stream ended before a whole JPEG frame arrived")


class HttpCamera:
    """A snapshot URL (one image per GET) or an MJPEG stream URL (first whole frame of a fresh connection)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)

    def grab(self) -> np.ndarray:
        """Fetch the current frame."""
        try:
            with self._client.stream("GET", self.url) as resp:
                if resp.status_code != 200:
                    raise CameraError(f"camera {self.url} answered HTTP {resp.status_code}")
                ctype = resp.headers.get("content-type", "")
                if ctype.startswith("multipart/"):
                    data = _first_mjpeg_frame(resp, self.url)
                else:
                    data = resp.read()
        except httpx.HTTPError as exc:
            raise CameraError(f"camera {self.url} cannot be reached: {exc}") from exc
        return decode_image(data, f"camera {self.url}")

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


class DeviceCamera:
    """A local camera opened by OpenCV device index; stale buffered frames are skipped."""

    def __init__(self, index: int, flush: int = 4) -> None:
        self.index = index
        self.flush = flush
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraError(f"camera device {index} cannot be opened")

    def grab(self) -> np.ndarray:
        """Read the newest frame."""
        for _ in range(self.flush):
            self._cap.grab()
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise CameraError(f"camera device {self.index} gave no frame")
        return frame

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
