"""The board's webcam and status page: `/snapshot.jpg` and `/status.json` on a stdlib ThreadingHTTPServer.

Snapshots are rendered on request from the deposition raster as it is at that moment (beads batched so far are
deposited first) and cached until the layer or the deposited bead count changes (or, with the head in view,
the head moves).
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from firmware_sim.camera import CameraConfig, encode_jpeg, render
from firmware_sim.errors import SimError
from firmware_sim.serve import SimServer


class Camera:
    """Renders and caches JPEG snapshots of one board's bed."""

    def __init__(self, server: SimServer, config: CameraConfig, seed: int = 0) -> None:
        self.server = server
        self.config = config
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._cache: tuple[tuple[int, int, tuple[float, float, float] | None], bytes] | None = None
        self._render_lock = threading.Lock()
        self.frames = 0

    def snapshot(self) -> bytes:
        """JPEG bytes of the bed now (rendered at most once per layer and bead count)."""

        with self._render_lock, self.server.lock:
            head = self.server.board.printhead
            head.flush()
            x, y, z, _e = head.position_at(self.server.board.now)
            nozzle = (float(x), float(y), float(z)) if self.config.head_in_view else None
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
                self._reply(200, "image/jpeg", self.server.camera.snapshot())
            else:
                self._reply(404, "text/plain", b"not found: try /snapshot.jpg or /status.json\n")
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

    def _reply(self, code: int, ctype: str, body: bytes) -> None:
        """Send one complete response."""
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
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
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
