"""A layer check never judges a stale frame.

Through `printloop sim` over its real pty and HTTP: a webcam that lags (`--camera-lag`), one answering with the
frame of the request before (`--camera-behind 1`, as a caching proxy) and a frozen one. A clean print is judged ok
on every layer (each photo captured after the park), and a camera stuck on one frame gives `unseen`, in words,
after bounded retakes, and the job's policy pauses the job.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from controller.printer.layer_check import Freshness, LayerCheck, same_frame
from controller.printer.session import PrinterSession
from slicing.job_plan import CheckPoint, read_gcode_file
from tests.sim_helpers import running_sim
from tests.sim_rig import small_part_gcode
from tests.test_vision_layer_check import LAYERS
from tests.vision_scene import Scene
from vision.camera import Frame, StaleFrameError, open_camera
from vision.config import VisionConfig

LAST_LAYER = 4


class Recorder:
    """Wraps the layer check: keeps each layer's park time and photo capture time; cancels after LAST_LAYER."""

    def __init__(self, check: LayerCheck) -> None:
        self.check = check
        self.parked: dict[int, float] = {}

    def __call__(self, point: CheckPoint, job) -> None:
        before = len(self.check.verdicts)
        self.check(point, job)
        if len(self.check.verdicts) > before:
            self.parked[int(point.layer)] = time.time()
        if point.layer >= LAST_LAYER and self.check.action is None:
            job.cancel()


def print_checked(sim, gcode: Path, camera_url: str, out: Path, freshness: Freshness | None = None,
                  timeout: float = 240) -> tuple[LayerCheck, str]:
    """Stream `gcode` to the simulator with layer checks through `camera_url`; (check, final job state)."""
    layers = read_gcode_file(gcode).layers
    session = PrinterSession(sim.info["serial"], 115200)
    session.connect(timeout=60)
    camera = open_camera(camera_url)
    check = LayerCheck(layers, camera, out, VisionConfig(policy="pause"), freshness=freshness)
    try:
        job = session.start_job(gcode, layer_hook=Recorder(check), wait_for_temperatures=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and job.progress().state == "running":
            time.sleep(0.05)
        state = job.progress().state
        if not job.finished:
            job.cancel()
        job.wait(60)
    finally:
        camera.close()
        session.close()
    return check, state


def stream_url(sim) -> str:
    """The simulator's MJPEG stream, beside its snapshot URL (as mjpg-streamer's ?action=stream)."""
    return sim.info["camera"].rsplit("/", 1)[0] + "/stream.mjpg"


def records(out: Path) -> list[dict]:
    """verdicts.jsonl as records."""
    return [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def block(tmp_path_factory) -> Path:
    """A 14 mm block, 6 solid layers (no sparse infill, whose verdicts sit nearer the thresholds), sliced by
    printloop."""
    return small_part_gcode(tmp_path_factory.mktemp("block"), height_mm=1.2)


@pytest.mark.parametrize("endpoint", ["camera", "stream"])
def test_a_lagging_webcam_is_never_judged_on_a_frame_older_than_the_park(tmp_path, block, endpoint):
    """At 10x a layer takes a few seconds: a frame a second old shows it half printed. Judged, it is the false
    `missing_layer` at layer 1 (and the job paused) that a clean print got before frames were checked for age."""
    with running_sim("--speed", "10", "--seed", "3", "--camera-lag", "1.0", "--camera-fps", "10") as sim:
        t0 = time.time()
        check, _state = print_checked(sim, block, sim.info["camera"] if endpoint == "camera" else stream_url(sim), tmp_path)
    rows = records(tmp_path)
    assert len(rows) >= LAST_LAYER and not check.errors, check.errors
    assert all(r["status"] == "ok" for r in rows), [r["message"] for r in rows if r["status"] != "ok"]
    # the camera said how old its frames were, and the older ones were thrown away (the webcam's first frame,
    # served at once as it has none older, excepted)
    assert all(r["frame_age_s"] >= 0.9 and r["frames_discarded"] >= 1 for r in rows[1:]), rows
    assert all(r["captured_after_park_s"] >= 0 for r in rows), rows   # every photo judged shows the park
    assert time.time() - t0 < 120


def test_a_proxy_answering_with_the_frame_of_the_request_before_is_asked_twice(tmp_path, block):
    with running_sim("--speed", "max", "--seed", "3", "--camera-behind", "1", "--camera-no-timestamp") as sim:
        check, _state = print_checked(sim, block, sim.info["camera"], tmp_path, Freshness(wait=0.05))
    rows = records(tmp_path)
    assert len(rows) >= LAST_LAYER and not check.errors, check.errors
    assert all(r["status"] == "ok" for r in rows), [r["message"] for r in rows if r["status"] != "ok"]
    assert all(r["frames_discarded"] == 1 and r["retakes"] == 0 for r in rows)
    assert "frame_age_s" not in rows[1]                          # nothing known of its time: not made up


class CachingProxy:
    """An HTTP snapshot URL in front of the simulator's, caching what it fetched (query ignored, no timestamps):
    refreshed every `refresh` requests, or never (None: a frozen camera, mjpg-streamer after its camera stalled)."""

    def __init__(self, upstream: str, refresh: int | None = None) -> None:
        self.upstream, self.refresh, self.served = upstream, refresh, 0
        self.frame: bytes | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if owner.frame is None or (owner.refresh and owner.served % owner.refresh == 0):
                    owner.frame = httpx.get(owner.upstream, timeout=10).content
                owner.served += 1
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(owner.frame)))
                self.end_headers()
                self.wfile.write(owner.frame)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/snapshot.jpg"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_caching_proxy_is_caught_by_the_check_and_retaken_until_it_refreshes(tmp_path, block):
    with running_sim("--speed", "max", "--seed", "3") as sim:
        proxy = CachingProxy(sim.info["camera"], refresh=5)
        try:
            check, _state = print_checked(sim, block, proxy.url, tmp_path, Freshness(retakes=4, wait=0.02))
        finally:
            proxy.close()
    rows = records(tmp_path)
    assert len(rows) >= LAST_LAYER and not check.errors, check.errors
    assert all(r["status"] == "ok" for r in rows), [r["message"] for r in rows if r["status"] != "ok"]
    assert sum(r["retakes"] for r in rows) >= LAST_LAYER - 2     # most layers first got the layer before's photo


def test_a_camera_stuck_on_one_frame_is_unseen_in_words_and_the_job_pauses(tmp_path, block):
    with running_sim("--speed", "max", "--seed", "3") as sim:
        proxy = CachingProxy(sim.info["camera"])
        try:
            t0 = time.monotonic()
            check, state = print_checked(sim, block, proxy.url, tmp_path, Freshness(retakes=3, wait=0.1))
            took = time.monotonic() - t0
        finally:
            proxy.close()
    assert state == "paused" and check.action == "paused"
    assert [v.status for v in check.verdicts] == ["ok", "unseen"]
    message = check.verdicts[1].message
    assert message.startswith("layer 1 was not checked: the camera sent the same frame as layer 0"), message
    assert "3 retakes" in message
    assert proxy.served == 2 * (1 + 1 + 3)           # layer 0, layer 1 and its 3 retakes, each asked twice
    assert records(tmp_path)[1]["retakes"] == 3
    assert took < 120


def test_same_frame_tells_one_capture_sent_twice_from_two_captures_of_a_still_scene():
    scene, rng = Scene(), np.random.default_rng(1)
    scene.deposit(LAYERS[0], 0)
    first = cv2.cvtColor(scene.photo(0, rng), cv2.COLOR_BGR2GRAY)
    again = cv2.cvtColor(scene.photo(0, rng), cv2.COLOR_BGR2GRAY)      # same scene, new sensor noise
    jpeg = cv2.imdecode(cv2.imencode(".jpg", first, [cv2.IMWRITE_JPEG_QUALITY, 90])[1], cv2.IMREAD_GRAYSCALE)
    assert same_frame(first, first.copy())
    assert same_frame(jpeg, cv2.imdecode(cv2.imencode(".jpg", first, [cv2.IMWRITE_JPEG_QUALITY, 90])[1],
                                         cv2.IMREAD_GRAYSCALE))
    assert not same_frame(first, again)            # a clogged nozzle's unchanged layer is still a new capture
    assert not same_frame(first, cv2.resize(first, (first.shape[1] // 2, first.shape[0] // 2)))


def test_the_simulators_stream_without_timestamps_is_drained_of_its_buffer(tmp_path, block):
    with running_sim("--speed", "max", "--seed", "3", "--camera-no-timestamp", "--camera-fps", "10") as sim:
        check, _state = print_checked(sim, block, stream_url(sim), tmp_path)
    rows = records(tmp_path)
    assert len(rows) >= LAST_LAYER and not check.errors, check.errors
    assert all(r["status"] == "ok" for r in rows), [r["message"] for r in rows if r["status"] != "ok"]
    # the stream's buffered frames (3; none the first time) and the first live one are thrown away, and no
    # retake was needed: the frame taken was captured after the request
    assert rows[0]["frames_discarded"] >= 1 and all(r["frames_discarded"] >= 4 for r in rows[2:]), rows
    assert all(r["retakes"] == 0 for r in rows)


class ScriptedCamera:
    """A camera (the Camera protocol, as a webcam driver would implement it) handing out scripted Frames."""

    def __init__(self, frames: list[Frame]) -> None:
        self.frames, self.grabs = frames, 0

    def grab_frame(self) -> Frame:
        frame = self.frames[min(self.grabs, len(self.frames) - 1)]
        self.grabs += 1
        return frame

    def grab(self) -> np.ndarray:
        return self.grab_frame().image

    def close(self) -> None:
        pass


def photo_of(level: int, captured_at: float | None = None, stamp: str | None = None) -> Frame:
    rng = np.random.default_rng(level)
    image = np.clip(rng.normal(level, 3.0, (120, 160, 3)), 0, 255).astype(np.uint8)
    return Frame(image, 0.0, 0.0, captured_at, stamp)


def no_sleep(_s: float) -> None:
    pass


def test_a_frame_captured_before_the_park_is_retaken_whatever_the_camera_let_through():
    camera = ScriptedCamera([photo_of(80, captured_at=99.0), photo_of(90, captured_at=100.2)])
    frame, retakes = Freshness(sleep=no_sleep).photo(camera, parked_at=100.0, deposits=True)
    assert frame.captured_at == 100.2 and retakes == 1


def test_the_same_timestamp_as_the_layer_before_is_the_same_frame():
    fresh = Freshness(sleep=no_sleep)
    fresh.keep(3, photo_of(80, stamp="8123.456789"))
    camera = ScriptedCamera([photo_of(95, stamp="8123.456789"), photo_of(96, stamp="8124.000000")])
    frame, retakes = fresh.photo(camera, parked_at=0.0, deposits=True)
    assert frame.stamp == "8124.000000" and retakes == 1


def test_a_layer_that_deposits_nothing_may_look_the_same():
    fresh = Freshness(sleep=no_sleep)
    same = photo_of(80)
    fresh.keep(3, same)
    assert fresh.photo(ScriptedCamera([same]), parked_at=0.0, deposits=False) == (same, 0)


def test_retakes_are_bounded_in_number_and_time_and_said_in_words():
    fresh = Freshness(retakes=50, wait=0.2, within=1.0, sleep=no_sleep, wall=iter(range(1000)).__next__)
    old = photo_of(80, captured_at=-5.0)
    with pytest.raises(StaleFrameError, match=r"captured 5\.0 s before the head was parked \(still after \d "
                                              r"retakes\)"):
        fresh.photo(ScriptedCamera([old]), parked_at=0.0, deposits=True)


def test_printloop_print_with_a_lagging_stream_judges_every_layer_after_the_park(tmp_path, block):
    import subprocess
    import sys

    from tests.conftest import REPO

    with running_sim("--speed", "max", "--seed", "3", "--camera-lag", "0.8", "--camera-fps", "10") as sim:
        out = subprocess.run(
            [sys.executable, "-m", "controller", "print", str(block), "--port", sim.info["serial"], "--json",
             "--camera", stream_url(sim), "--checks-dir", str(tmp_path / "job")],
            cwd=REPO, capture_output=True, text=True, timeout=240, check=False)
    assert out.returncode == 0, out.stderr
    rows = records(tmp_path / "job")
    assert len(rows) >= 5 and all(r["status"] == "ok" for r in rows), [r["message"] for r in rows]
    assert all(r["captured_after_park_s"] >= 0 for r in rows), rows
    assert all(r["frame_age_s"] >= 0.7 for r in rows[1:]), rows


@pytest.mark.parametrize("option,value,limit", [("--camera-lag", "99", "between 0 and 60 seconds"),
                                                 ("--camera-behind", "-1", "between 0 and 10 requests"),
                                                 ("--camera-fps", "0", "between 0.5 and 60 frames")])
def test_the_webcam_options_of_printloop_sim_are_checked_at_start(option, value, limit):
    import subprocess
    import sys

    from tests.conftest import REPO

    out = subprocess.run([sys.executable, "-m", "controller", "sim", option, value], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2 and f"{option} must be {limit}" in out.stderr, out.stderr
