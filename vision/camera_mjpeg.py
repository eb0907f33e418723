"""MJPEG stream URLs (`multipart/x-mixed-replace`), read so that the frame handed back was captured after the ask.

A stream does not start at "now": a server or proxy may send the frames it buffered first (ffmpeg/go2rtc relays,
nginx, a per-client queue), and bytes sit in our socket's buffer. `MjpegParser` is the sans-IO part (fed bytes
and whether the reader had caught up with the socket before them, gives parts); `MjpegReader` owns the socket
(HTTP through h11) and picks the frame:

- a part whose headers give a capture time (mjpg-streamer's / the simulator's wall-clock `X-Timestamp`,
  ustreamer's grab and send stamps) is taken when it was captured after the request, thrown away otherwise;
- a part without one is *buffered* when its first byte was already waiting in the socket or came in the same
  burst (no idle moment of `idle_s` since the part before it): thrown away. The first part that came after an idle moment may still have been captured
  just before the request, so the one after it is taken ("the next whole frame").
"""
from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

from vision.camera_time import capture_time
from vision.errors import CameraError

MAX_PART_BYTES = 20_000_000
_SOI, _EOI = b"\xff\xd8", b"\xff\xd9"


@dataclass
class MjpegPart:
    """One part of the stream: its headers (lower-case names), the JPEG bytes, whether it began after the reader
    had caught up with the socket (`fresh`), and the clock when its first and last bytes were fed."""

    headers: dict[str, str]
    body: bytes
    fresh: bool
    first_at: float
    done_at: float


@dataclass
class _Pending:
    headers: dict[str, str] = field(default_factory=dict)
    fresh: bool = False
    first_at: float = 0.0


def boundary_of(content_type: str) -> bytes | None:
    """The multipart boundary of a Content-Type (quotes and the leading dashes some servers include removed)."""
    for item in content_type.split(";")[1:]:
        key, _, value = item.strip().partition("=")
        if key.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"').lstrip("-").encode("latin-1") or None
    return None


class MjpegParser:
    """Sans-IO reader of a multipart/x-mixed-replace body: `feed(data, now, after_idle)`, then `parts()`.

    `after_idle`: the reader found the socket empty (it had to wait) before these bytes arrived. Parts are cut by
    Content-Length when a part gives it, else at the next boundary; without a boundary, by JPEG SOI..EOI.
    """

    def __init__(self, boundary: bytes | None) -> None:
        self.boundary = boundary
        self._buf = bytearray()
        self._pending: _Pending | None = None   # headers read, body awaited
        self._idle_since_part = False            # an idle moment since the last part's body ended
        self._ready: list[MjpegPart] = []

    def feed(self, data: bytes, now: float, after_idle: bool) -> None:
        """Take bytes read from the stream at clock `now`."""
        if after_idle and self._pending is None and self._between_parts():
            self._idle_since_part = True     # caught up between parts: the next part was not in the socket yet
        self._buf += data
        self._cut(now)
        if len(self._buf) > MAX_PART_BYTES:
            raise CameraError(f"MJPEG part larger than {MAX_PART_BYTES} bytes: is this a JPEG stream?")

    def _between_parts(self) -> bool:
        """Nothing of the next part's headers or image is buffered (at most the delimiter line)."""
        rest = bytes(self._buf).strip(b"\r\n")
        if self.boundary is None:
            return _SOI not in rest
        return (b"--" + self.boundary).startswith(rest) or rest == b"--" + self.boundary

    def parts(self) -> list[MjpegPart]:
        """Parts completed since the last call, oldest first."""
        out, self._ready = self._ready, []
        return out

    def _cut(self, now: float) -> None:
        while self._cut_one(now):
            pass

    def _emit(self, body: bytes, now: float) -> None:
        pending = self._pending or _Pending(fresh=self._idle_since_part, first_at=now)
        self._ready.append(MjpegPart(pending.headers, body, pending.fresh, pending.first_at, now))
        self._pending = None
        self._idle_since_part = False

    def _cut_one(self, now: float) -> bool:
        """Cut one part (or one part's headers) off the buffer; False when more bytes are needed."""
        buf = self._buf
        if self.boundary is None:                       # no multipart boundary: one JPEG after the other
            start = buf.find(_SOI)
            end = buf.find(_EOI, start + 2) if start >= 0 else -1
            if start >= 0 and self._pending is None:
                self._pending = _Pending(fresh=self._idle_since_part, first_at=now)
            if end < 0:
                return False
            body = bytes(buf[start:end + 2])
            del buf[:end + 2]
            self._emit(body, now)
            return True
        if self._pending is None:
            at = buf.find(b"--" + self.boundary)
            if at < 0:
                return False
            line_end = buf.find(b"\n", at)
            if line_end < 0:
                return False
            head_end, sep = buf.find(b"\r\n\r\n", line_end - 1), 4
            lf_end = buf.find(b"\n\n", line_end)
            if lf_end >= 0 and (head_end < 0 or lf_end < head_end):
                head_end, sep = lf_end, 2
            if head_end < 0:
                return False
            lines = bytes(buf[line_end + 1:head_end]).decode("latin-1").splitlines()
            headers = {}
            for line in lines:
                name, colon, value = line.partition(":")
                if colon:
                    headers[name.strip().lower()] = value.strip()
            del buf[:head_end + sep]
            self._pending = _Pending(headers, self._idle_since_part, now)
            return True
        length = self._pending.headers.get("content-length", "")
        if length.strip().isdigit():
            n = int(length)
            if len(buf) < n:
                return False
            body = bytes(buf[:n])
            del buf[:n]
        else:
            end = buf.find(b"--" + self.boundary)
            if end < 0:
                return False
            body = bytes(buf[:end]).rstrip(b"\r\n")
            del buf[:end]
        self._emit(body, now)
        return True


@dataclass(frozen=True)
class StreamFrame:
    """The JPEG taken from a stream, when it arrived (wall clock), its capture time if the server said, and how
    many older parts were thrown away before it."""

    jpeg: bytes
    received_at: float
    captured_at: float | None
    stamp: str | None
    discarded: int


class MjpegReader:
    """Fresh frames from an MJPEG stream URL: one connection per grab, drained of what was buffered before it."""

    def __init__(self, url: str, timeout: float = 10.0, clock: Callable[[], float] = time.time,
                 tolerance_s: float = 0.0, settle_parts: int = 1, idle_s: float = 0.01) -> None:
        """`settle_parts`: fresh parts without a capture time thrown away before one is taken (1: the next whole
        frame after the first that came after an idle moment); `idle_s`: how long the reader must have waited
        for bytes for that to be an idle moment (a burst's writes come microseconds apart, frames 1/fps)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CameraError(f"camera {url}: not an http(s) URL")
        self.url = url
        self.timeout = timeout
        self.clock = clock
        self.tolerance_s = tolerance_s
        self.settle_parts = settle_parts
        self.idle_s = idle_s
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = parts.scheme == "https"
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def grab(self, requested_at: float | None = None) -> StreamFrame:
        """The first part captured after `requested_at` (our wall clock; default now)."""
        requested = self.clock() if requested_at is None else requested_at
        deadline = time.monotonic() + self.timeout
        try:
            sock = socket.create_connection((self._host, self._port), timeout=self.timeout)
        except OSError as exc:
            raise CameraError(f"camera {self.url} cannot be reached: {exc}") from exc
        try:
            if self._tls:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self._host)
            return self._read(sock, requested, deadline)
        except (OSError, h11.ProtocolError) as exc:
            raise CameraError(f"camera {self.url}: the stream broke off: {exc}") from exc
        finally:
            sock.close()

    def _read(self, sock: socket.socket, requested: float, deadline: float) -> StreamFrame:
        conn = h11.Connection(h11.CLIENT)
        host = self._host if self._port in (80, 443) else f"{self._host}:{self._port}"
        sock.sendall(conn.send(h11.Request(method="GET", target=self._target, headers=[
            ("Host", host), ("Accept", "multipart/x-mixed-replace, image/jpeg"), ("Cache-Control", "no-cache"),
            ("Pragma", "no-cache"), ("Connection", "close")])) + conn.send(h11.EndOfMessage()))
        parser: MjpegParser | None = None
        discarded = settled = 0
        newest: MjpegPart | None = None   # the last part without a capture time, for a stream that ends
        last_reason = "no whole frame arrived"
        while True:
            idle = self._wait(sock, deadline)
            data = sock.recv(262144)
            conn.receive_data(data)
            head_in_this_read = False
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                if isinstance(event, h11.Response):
                    head_in_this_read = True
                    parser = self._parser_for(event)
                elif isinstance(event, h11.Data) and parser is not None:
                    parser.feed(bytes(event.data), time.monotonic(), idle and not head_in_this_read)
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    if newest is not None:   # a stream that ends: its last frame is the newest it had
                        return StreamFrame(newest.body, self.clock(), None, newest.headers.get("x-timestamp"),
                                           discarded - 1)
                    raise CameraError(f"camera {self.url}: the stream ended after {discarded} frames, none "
                                      f"captured after the request ({last_reason})")
            for part in parser.parts() if parser is not None else []:
                received = self.clock()
                when = capture_time(part.headers, received)
                newest = part if when.captured_at is None else None
                if when.captured_at is not None:
                    if when.captured_at >= requested - self.tolerance_s:
                        return StreamFrame(part.body, received, when.captured_at, when.stamp, discarded)
                    last_reason = f"the newest was captured {requested - when.captured_at:.2f} s before it"
                elif part.fresh and settled >= self.settle_parts:
                    return StreamFrame(part.body, received, None, when.stamp, discarded)
                elif part.fresh:
                    settled += 1
                    last_reason = "the stream says nothing of when its frames were captured"
                else:
                    last_reason = "frames buffered before the request were still arriving"
                discarded += 1

    def _parser_for(self, response: h11.Response) -> MjpegParser:
        """Check the reply head and make the parser for its body."""
        if response.status_code != 200:
            raise CameraError(f"camera {self.url} answered HTTP {response.status_code}")
        ctype = {k.lower(): v for k, v in response.headers}.get(b"content-type", b"").decode("latin-1")
        if not ctype.lower().startswith("multipart/"):
            raise CameraError(f"camera {self.url} is no MJPEG stream (Content-Type {ctype or 'none'})")
        return MjpegParser(boundary_of(ctype))

    def _wait(self, sock: socket.socket, deadline: float) -> bool:
        """Block until the socket is readable; True when it had nothing buffered and the next bytes took at least
        `idle_s` to come (the reader had caught up with the server: what comes next was not sent in a burst)."""
        pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
        if pending or select.select([sock], [], [], 0)[0]:
            return False
        t0 = time.monotonic()
        remaining = deadline - t0
        if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
            raise CameraError(f"camera {self.url}: no frame captured after the request within "
                              f"{self.timeout:.0f} s")
        return time.monotonic() - t0 >= self.idle_s
