"""Every grab returns a frame captured after the request: snapshot URLs past caches, MJPEG streams drained of what
they buffered, OpenCV devices drained of the driver's queue. Through real HTTP servers that misbehave as webcams
and proxies do; the MJPEG parser and the timing headers from tables of what real servers send."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from vision.camera import HttpCamera, StaleFrameError, cache_busted, drain_device
from vision.camera_mjpeg import MjpegParser, boundary_of
from vision.camera_time import capture_time
from vision.errors import CameraError


def jpeg_of(value: int) -> bytes:
    """A small JPEG of one grey level (frames told apart by it)."""
    img = np.full((24, 32, 3), value, np.uint8)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def level(image: np.ndarray) -> int:
    """The grey level of a decoded jpeg_of frame."""
    return round(float(image.mean()))


# ---- the MJPEG parser, bytes in, parts out --------------------------------------------------------------------
def stream_bytes(frames: list[bytes], boundary: str = "boundarydonotcross", length: bool = True,
                 extra: str = "") -> bytes:
    """A multipart/x-mixed-replace body as mjpg-streamer writes it (delimiter first, one part per frame)."""
    out = f"--{boundary}\r\n".encode()
    for f in frames:
        head = "Content-Type: image/jpeg\r\n" + (f"Content-Length: {len(f)}\r\n" if length else "") + extra
        out += head.encode() + b"\r\n" + f + f"\r\n--{boundary}\r\n".encode()
    return out


@pytest.mark.parametrize("content_type,boundary", [
    ("multipart/x-mixed-replace;boundary=boundarydonotcross", b"boundarydonotcross"),          # mjpg-streamer
    ("multipart/x-mixed-replace;boundary=123456789000000000000987654321",                      # ustreamer, cam-
     b"123456789000000000000987654321"),                                                       # era-streamer
    ('multipart/x-mixed-replace; boundary="frame"', b"frame"),
    ("multipart/x-mixed-replace; boundary=--myboundary", b"myboundary"),                      # webcamXP style
    ("multipart/x-mixed-replace", None),
])
def test_boundary_of_the_content_types_servers_send(content_type, boundary):
    assert boundary_of(content_type) == boundary


@pytest.mark.parametrize("length", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 100, 100000])
def test_parts_come_out_whole_however_the_bytes_are_cut(length, chunk):
    frames = [jpeg_of(v) for v in (10, 120, 240)]
    data = stream_bytes(frames, length=length, extra="X-Timestamp: 12.5\r\n")
    parser = MjpegParser(b"boundarydonotcross")
    parts = []
    for i in range(0, len(data), chunk):
        parser.feed(data[i:i + chunk], float(i), after_idle=False)
        parts += parser.parts()
    assert [p.body for p in parts] == frames
    assert all(p.headers["x-timestamp"] == "12.5" for p in parts)


def test_without_a_boundary_parts_are_cut_from_jpeg_start_to_end():
    frames = [jpeg_of(v) for v in (10, 200)]
    parser = MjpegParser(None)
    parser.feed(b"junk" + frames[0] + b"\r\n" + frames[1], 0.0, after_idle=False)
    assert [p.body for p in parser.parts()] == frames


def test_a_part_is_fresh_only_when_the_reader_caught_up_before_its_first_byte():
    old = stream_bytes([jpeg_of(10), jpeg_of(20)])
    parser = MjpegParser(b"boundarydonotcross")
    parser.feed(old, 0.0, after_idle=False)                    # what was buffered, read in one go
    live = stream_bytes([jpeg_of(30)])[len(b"--boundarydonotcross\r\n"):]
    parser.feed(live[:50], 1.0, after_idle=True)               # the reader had to wait for these bytes
    parser.feed(live[50:], 1.1, after_idle=True)
    assert [(level_of(p.body), p.fresh) for p in parser.parts()] == [(10, False), (20, False), (30, True)]
    parser.feed(live[:60], 2.0, after_idle=False)              # a part already waiting in the socket
    parser.feed(live[60:], 2.1, after_idle=True)               # (an idle moment inside it does not count)
    assert [p.fresh for p in parser.parts()] == [False]


def level_of(jpeg: bytes) -> int:
    return level(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))


# ---- what the timing headers of real servers say --------------------------------------------------------------
NOW = 1_790_000_000.0


@pytest.mark.parametrize("headers,captured,stamp", [
    ({}, None, None),
    ({"x-timestamp": f"{NOW - 2.5:.6f}"}, NOW - 2.5, f"{NOW - 2.5:.6f}"),     # wall clock (simulator, raspicam)
    ({"x-timestamp": "8123.456789"}, None, "8123.456789"),                    # input_uvc: the host's boot clock
    ({"x-timestamp": "soon"}, None, "soon"),
    ({"x-timestamp": f"{NOW - 0.01:.6f}", "x-ustreamer-grab-timestamp": "5000.000000",   # ustreamer: sent now,
      "x-ustreamer-send-timestamp": "5001.500000"}, NOW - 0.01 - 1.5, "5000.000000"),   # grabbed 1.5 s before
    ({"x-ustreamer-grab-timestamp": "5000.0", "x-ustreamer-send-timestamp": "5000.25"}, NOW - 0.25, "5000.0"),
])
def test_capture_time_from_the_headers_of_real_servers(headers, captured, stamp):
    when = capture_time(headers, NOW)
    assert when.stamp == stamp
    assert when.captured_at == (pytest.approx(captured) if captured is not None else None)


def test_cache_buster_is_added_to_the_query_and_keeps_the_fragment():
    assert cache_busted("http://cam/?action=snapshot", 7) == "http://cam/?action=snapshot&_=7"
    assert cache_busted("http://cam/snapshot.jpg#x", 8) == "http://cam/snapshot.jpg?_=8#x"


# ---- real HTTP servers misbehaving as webcams and proxies do --------------------------------------------------
class Webcam:
    """A test webcam server; `handle(handler)` is set per test."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.handle = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                try:
                    owner.handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cam():
    c = Webcam()
    yield c
    c.close()


def reply(h: BaseHTTPRequestHandler, body: bytes, **headers: str) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    h.send_header("Content-Length", str(len(body)))
    for k, v in headers.items():
        h.send_header(k.replace("_", "-"), v)
    h.end_headers()
    h.wfile.write(body)


def test_snapshots_go_past_caches_and_old_ones_are_asked_for_again(cam):
    """A server whose first replies carry a capture time before the request (a proxy's cache, a camera that
    serves its last frame): asked again until the frame was captured after the request."""
    asked = time.time()

    def handle(h):
        n = len(cam.requests)
        if n <= 3:
            reply(h, jpeg_of(40), X_Timestamp=f"{asked - 5:.6f}")
        else:
            reply(h, jpeg_of(200), X_Timestamp=f"{time.time():.6f}")

    cam.handle = handle
    camera = HttpCamera(cam.url + "/snapshot.jpg", retry_wait=0.01)
    frame = camera.grab_frame()
    camera.close()
    assert level(frame.image) == 200 and frame.discarded == 3
    assert frame.captured_at is not None and frame.captured_at >= frame.requested_at
    paths = [p for p, _ in cam.requests]
    assert len(set(paths)) == len(paths) and all("?_=" in p for p in paths)     # no cache can answer for it
    assert all(hd.get("cache-control") == "no-cache" for _, hd in cam.requests)


def test_a_camera_that_only_has_old_frames_is_refused_in_words_in_bounded_time(cam):
    old = time.time() - 30
    cam.handle = lambda h: reply(h, jpeg_of(40), X_Timestamp=f"{old:.6f}")
    camera = HttpCamera(cam.url + "/snapshot.jpg", fresh_timeout=0.5, retry_wait=0.05)
    t0 = time.monotonic()
    with pytest.raises(StaleFrameError, match=r"kept sending frames captured before the request: the newest was "
                                              r"taken 3\d\.\d s before it"):
        camera.grab()
    assert time.monotonic() - t0 < 2
    camera.close()


def test_a_proxy_answering_with_the_frame_of_the_request_before_gives_the_fresh_one(cam):
    """Stale-while-revalidate: each reply is the frame fetched for the request before (no timestamp)."""
    frames = [60]

    def handle(h):
        frames.append(60 + 40 * len(cam.requests))        # what the camera captures for this request
        reply(h, jpeg_of(frames[-2]))                     # ... while the proxy answers with the one before

    cam.handle = handle
    camera = HttpCamera(cam.url + "/snapshot.jpg")
    image = camera.grab()
    camera.close()
    assert level(image) == 100                            # the capture made for the first request of this grab


def test_ustreamer_headers_say_a_frame_is_old_whatever_the_hosts_clocks(cam):
    grabbed = 1000.0

    def handle(h):
        n = len(cam.requests)
        age = 3.0 if n <= 2 else 0.0                      # the first replies: grabbed 3 s before they were sent
        reply(h, jpeg_of(40 if age else 220), X_UStreamer_Grab_Timestamp=f"{grabbed + n:.6f}",
              X_UStreamer_Send_Timestamp=f"{grabbed + n + age:.6f}", X_Timestamp="12.0")
    cam.handle = handle
    camera = HttpCamera(cam.url + "/snapshot", retry_wait=0.01)
    frame = camera.grab_frame()
    camera.close()
    assert level(frame.image) == 220 and frame.discarded == 2


def stream_head(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "multipart/x-mixed-replace;boundary=boundarydonotcross")
    h.end_headers()
    h.wfile.write(b"--boundarydonotcross\r\n")


def part(h: BaseHTTPRequestHandler, body: bytes, **headers: str) -> None:
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    h.wfile.write(f"Content-Type: image/jpeg\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body
                  + b"\r\n--boundarydonotcross\r\n")
    h.wfile.flush()


@pytest.mark.parametrize("burst_gap", [None, 0.002])
def test_a_stream_is_drained_of_the_frames_it_buffered_before_the_request(cam, burst_gap):
    """A relay that sends each new client the frames it kept (no timestamps), then live ones at 10 fps; the kept
    ones in one write (waiting in the socket when read) or one by one, a couple of milliseconds apart."""
    def handle(h):
        stream_head(h)
        buffered = [jpeg_of(v) for v in (10, 20, 30, 40, 50)]
        if burst_gap is None:
            h.wfile.write(b"".join(b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(b) + b
                                   + b"\r\n--boundarydonotcross\r\n" for b in buffered))
        else:
            for b in buffered:
                part(h, b)
                time.sleep(burst_gap)
        for v in range(100, 260, 20):                      # live frames as they are captured
            time.sleep(0.1)
            part(h, jpeg_of(v))

    cam.handle = handle
    camera = HttpCamera(cam.url + "/stream.mjpg")
    frame = camera.grab_frame()
    camera.close()
    assert level(frame.image) == 120                       # the next whole frame after the first live one
    assert frame.discarded == 6 and frame.captured_at is None


def test_a_stream_with_timestamps_is_read_until_a_frame_captured_after_the_request(cam):
    """Old frames come paced like live ones (a lagging camera), but their timestamps tell."""
    def handle(h):
        stream_head(h)
        start = time.time()
        for i in range(12):
            time.sleep(0.05)
            part(h, jpeg_of(10 + 20 * i), X_Timestamp=f"{time.time() - (2.0 if i < 6 else 0.0):.6f}")
        assert time.time() - start < 5

    cam.handle = handle
    camera = HttpCamera(cam.url + "/stream.mjpg")
    frame = camera.grab_frame()
    camera.close()
    assert level(frame.image) == 10 + 20 * 6 and frame.discarded == 6
    assert frame.captured_at is not None and frame.captured_at >= frame.requested_at


def test_a_stream_that_never_sends_a_fresh_frame_is_refused_in_bounded_time(cam):
    def handle(h):
        stream_head(h)
        for _ in range(100):
            time.sleep(0.02)
            part(h, jpeg_of(10), X_Timestamp=f"{time.time() - 60:.6f}")

    cam.handle = handle
    camera = HttpCamera(cam.url + "/stream.mjpg", timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(CameraError, match="captured after the request"):
        camera.grab()
    assert time.monotonic() - t0 < 5
    camera.close()


# ---- OpenCV devices: the driver's queue ------------------------------------------------------------------------
class QueuedCapture:
    """Stands in for cv2.VideoCapture on a device whose driver queued `queued` frames: a grab returns at once
    while frames are queued, else waits a frame interval for the sensor (on a clock of its own)."""

    def __init__(self, queued: int, interval: float = 1 / 30) -> None:
        self.queue = list(range(queued))          # frame numbers, oldest first; captured before the request
        self.interval, self.now, self.next_frame, self.grabbed = interval, 0.0, queued, None

    def clock(self) -> float:
        return self.now

    def grab(self) -> bool:
        if self.queue:
            self.grabbed = self.queue.pop(0)
        else:
            self.now += self.interval
            self.grabbed, self.next_frame = self.next_frame, self.next_frame + 1
        return True


@pytest.mark.parametrize("queued", [0, 1, 4, 9])
def test_the_driver_queue_is_drained_until_a_grab_waits_for_the_sensor(queued):
    cap = QueuedCapture(queued)
    grabs = drain_device(cap, cap.interval, cap.clock)
    assert cap.grabbed == queued and grabs == queued + 1   # the first frame captured after the call


def test_a_device_that_never_waits_is_grabbed_a_bounded_number_of_times():
    cap = QueuedCapture(100)
    assert drain_device(cap, cap.interval, cap.clock, max_grabs=12) == 12
