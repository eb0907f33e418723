"""The board's webcam and status page: `/snapshot.jpg`, `/stream.mjpg` and `/status.json` on a stdlib
ThreadingHTTPServer.

Snapshots are rendered on request from the deposition raster as it is at that moment (beads batched so far are
deposited first) and cached until the layer or the deposited bead count changes (or, with the head in view,
the head moves). Each reply says when its frame was captured in `X-Timestamp` (wall clock, seconds), as
mjpg-streamer does.

A webcam that buffers (`WebcamLag`): a capture loop renders the bed `fps` times a second into a short history;
snapshots are then the frame captured `lag_s` ago, or the frame captured at the `behind`-th request before (a
caching proxy), and `/stream.mjpg` (multipart/x-mixed-replace, as mjpg-streamer's `?action=stream`) sends each new
client the `buffer` frames it kept before the live ones.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from firmware_sim.camera import CameraConfig, encode_jpeg, render
from firmware_sim.errors import SimError
from firmware_sim.serve import SimServer


@dataclass(frozen=True)
class WebcamLag:
    """How the simulated webcam buffers frames (the defaults: it does not, every snapshot is rendered on request).

    lag_s: snapshots and stream frames are those captured this many seconds (wall time) ago;
    behind: each snapshot request is answered with the frame captured at the N-th request before it;
    fps: frames a second of the capture loop and the stream; buffer: old frames a new stream client gets first;
    timestamps: say the capture time in X-Timestamp (a server or proxy that strips it: False).
    """

    lag_s: float = 0.0
    behind: int = 0
    fps: float = 5.0
    buffer: int = 3
    timestamps: bool = True


@dataclass(frozen=True)
class Shot:
    """One captured frame: wall clock of capture (s) and its JPEG bytes."""

    at: float
    jpeg: bytes


class Camera:
    """Renders and caches JPEG snapshots of one board's bed."""

    def __init__(self, server: SimServer, config: CameraConfig, seed: int = 0, lag: WebcamLag | None = None) -> None:
        self.server = server
        self.config = config
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._cache: tuple[tuple[int, int, tuple[float, float, float] | None], bytes] | None = None
        self._render_lock = threading.Lock()
        self.frames = 0
        self.lag = lag or WebcamLag()
        self._history: deque[Shot] = deque()
        self._requests: deque[Shot] = deque()
        self._fresh = threading.Condition()
        self._stopping = threading.Event()
        self._loop: threading.Thread | None = None

    def snapshot(self) -> bytes:
        """JPEG bytes of the bed now (rendered at most once per layer and bead count)."""

        with self._render_lock, self.server.lock:
            head = self.server.board.printhead
            head.flush()
            x, y, z, _e = head.position_at(self.server.board.now)
            wanted = self.config.head_in_view or self.config.bed_slinger   # (a bed-slinger's bed is where y puts it)
            nozzle = (float(x), float(y), float(z)) if wanted else None
            key = (head.layer, head.deposited, nozzle)
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
            if head.deposition is None:
                raise SimError("this board has no deposition model to photograph")
            img = render(head.deposition, head.layer, self.config, self.rng, photo=self.frames, seed=self.seed,
                         head=nozzle)
            jpeg = encode_jpeg(img, self.config.jpeg_quality)
            self._cache = (key, jpeg)
            self.frames += 1
            return jpeg

    def capture(self) -> Shot:
        """The bed now, with the wall-clock time of capture."""
        at = time.time()
        return Shot(at, self.snapshot())

    def served(self) -> Shot:
        """The frame a snapshot request gets: captured now, or as the lag options say."""
        if self.lag.behind > 0:
            with self._fresh:
                self._requests.append(self.capture())
                while len(self._requests) > self.lag.behind + 1:
                    self._requests.popleft()
                return self._requests[0]
        if self.lag.lag_s > 0:
            return self.lagged(self._ensure_loop())
        return self.capture()

    def lagged(self, history: list[Shot]) -> Shot:
        """The newest frame captured at least lag_s ago (the oldest kept, when none is that old yet)."""
        cut = time.time() - self.lag.lag_s
        old = [shot for shot in history if shot.at <= cut]
        return old[-1] if old else history[0]

    def _ensure_loop(self) -> list[Shot]:
        """Start the capture loop on first use; the history so far (never empty)."""
        with self._fresh:
            if self._loop is None:
                self._history.append(self.capture())
                self._loop = threading.Thread(target=self._capture_loop, name="webcam", daemon=True)
                self._loop.start()
            return list(self._history)

    def _capture_loop(self) -> None:
        """Capture fps times a second; keep what the lag and the stream buffer need; wake stream clients."""
        period = 1.0 / self.lag.fps
        keep = self.lag.lag_s + period * (self.lag.buffer + 2)
        while not self._stopping.wait(period):
            try:
                shot = self.capture()
            except SimError:
                continue
            with self._fresh:
                self._history.append(shot)
                while self._history and self._history[0].at < shot.at - keep:
                    self._history.popleft()
                self._fresh.notify_all()

    def stream(self) -> Iterator[Shot]:
        """Frames for one stream client: the buffered ones first, then each new (lagged) frame as it comes."""
        history = self._ensure_loop()
        shown = self.lagged(history)
        for shot in [s for s in history if s.at <= shown.at][-self.lag.buffer - 1:]:
            yield shot
        while not self._stopping.is_set():
            with self._fresh:
                self._fresh.wait(1.0)
                history = list(self._history)
            shot = self.lagged(history)
            if shot.at > shown.at:
                shown = shot
                yield shot

    def stop(self) -> None:
        """Stop the capture loop and end the streams."""
        self._stopping.set()
        with self._fresh:
            self._fresh.notify_all()
        if self._loop is not None:
            self._loop.join(timeout=5)


BOUNDARY = "boundarydonotcross"   # mjpg-streamer's


class _Handler(BaseHTTPRequestHandler):
    """GET /snapshot.jpg and /status.json."""

    server: SimHTTPServer

    def do_GET(self) -> None:
        """Serve the two resources; 404 otherwise."""
        path = self.path.split("?", 1)[0]
        try:
            if path == "/status.json":
                body = json.dumps(self.server.status()).encode()
                self._reply(200, "application/json", body)
            elif path in ("/snapshot.jpg", "/snapshot"):
                shot = self.server.camera.served()
                self._reply(200, "image/jpeg", shot.jpeg, self._stamp(shot))
            elif path in ("/stream.mjpg", "/stream"):
                self._stream()
            else:
                self._reply(404, "text/plain", b"not found: try /snapshot.jpg, /stream.mjpg or /status.json\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self) -> None:
        """POST /clear-bed: the technician takes the finished part off the bed (the deposition is emptied)."""
        if self.path.split("?", 1)[0] != "/clear-bed":
            self._reply(404, "text/plain", b"not found: POST /clear-bed\n")
            return
        with self.server.camera._render_lock, self.server.sim.lock:
            self.server.sim.board.printhead.clear_bed()
            self.server.camera._cache = None
        self._reply(200, "application/json", b'{"cleared": true}')

    def _stamp(self, shot: Shot) -> dict[str, str]:
        """X-Timestamp of a frame (wall clock of capture, as mjpg-streamer sends it), unless switched off."""
        return {"X-Timestamp": f"{shot.at:.6f}"} if self.server.camera.lag.timestamps else {}

    def _stream(self) -> None:
        """multipart/x-mixed-replace: one part per frame, until the client goes or the server stops."""
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace;boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(f"--{BOUNDARY}\r\n".encode())
        for shot in self.server.camera.stream():
            head = {"Content-Type": "image/jpeg", "Content-Length": str(len(shot.jpeg)), **self._stamp(shot)}
            self.wfile.write("".join(f"{k}: {v}\r\n" for k, v in head.items()).encode() + b"\r\n")
            self.wfile.write(shot.jpeg + f"\r\n--{BOUNDARY}\r\n".encode())
            self.wfile.flush()

    def _reply(self, code: int, ctype: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Send one complete response."""
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep stderr quiet."""


class SimHTTPServer(ThreadingHTTPServer):
    """HTTP server bound to one SimServer."""

    daemon_threads = True

    def __init__(self, sim: SimServer, camera: Camera, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.sim = sim
        self.camera = camera
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """http://host:port"""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def status(self) -> dict:
        """status.json: the board's status plus serving details."""
        with self.sim.lock:
            st = self.sim.board.status()
        st["serial"] = self.sim.serial_path
        st["tcp"] = self.sim.tcp_url
        st["camera_frames"] = self.camera.frames
        return st

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self.camera.stop()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
