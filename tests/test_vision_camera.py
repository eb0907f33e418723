"""Camera sources through real HTTP: a snapshot URL and an MJPEG stream decode to the same BGR frame."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from vision.camera import HttpCamera, open_camera
from vision.errors import CameraError

FRAME = np.zeros((48, 64, 3), np.uint8)
FRAME[10:30, 20:50] = (40, 90, 230)
JPEG = cv2.imencode(".jpg", FRAME, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        if self.path == "/snapshot.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(JPEG)))
            self.end_headers()
            self.wfile.write(JPEG)
        elif self.path == "/stream.mjpg":
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                for _ in range(3):
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                    self.wfile.write(f"Content-Length: {len(JPEG)}\r\n\r\n".encode())
                    self.wfile.write(JPEG[:100])
                    self.wfile.flush()
                    self.wfile.write(JPEG[100:] + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/notimage":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")
        else:
            self.send_error(404)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("path", ["/snapshot.jpg", "/stream.mjpg"])
def test_http_sources_decode_the_frame(server, path):
    cam = open_camera(server + path)
    try:
        img = cam.grab()
    finally:
        cam.close()
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8
    assert np.abs(img.astype(int) - FRAME.astype(int)).mean() < 4


def test_http_errors_are_camera_errors(server):
    for path, match in (("/missing", "HTTP 404"), ("/notimage", "not an image")):
        cam = HttpCamera(server + path)
        with pytest.raises(CameraError, match=match):
            cam.grab()
        cam.close()
    with pytest.raises(CameraError, match="cannot be reached"):
        HttpCamera("http://127.0.0.1:9/snapshot.jpg", timeout=2).grab()


def test_unknown_source_and_absent_device_are_refused():
    with pytest.raises(CameraError, match="neither"):
        open_camera("ftp://cam")
    with pytest.raises(CameraError, match="device 97"):
        open_camera("97")
