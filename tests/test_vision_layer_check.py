"""The layer hook parks, photographs through an HTTP camera, saves the verdict files and applies the policy."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from controller.printer.layer_check import LayerCheck, park_commands
from slicing.job_plan import CheckPoint
from tests.vision_scene import Scene, block_layers
from vision.camera import HttpCamera
from vision.config import VisionConfig

LAYERS = block_layers(6, 100, 100, 20, 20)


def done(layer: int) -> CheckPoint:
    """The check point where `layer` is finished."""
    return CheckPoint(layer, 10 * (layer + 1), LAYERS[layer].z)


class RecordingJob:
    """Stands in for the job's command channel only: records what the hook sends and asks."""

    def __init__(self):
        self.sent: list[str] = []
        self.calls: list[str] = []

    def step_aside(self, lines, timeout=120.0):
        self.sent.extend(lines)

    def pause(self, reason=None):
        self.calls.append("pause")

    def cancel(self, reason=None, failure=None):
        self.calls.append("cancel")

    def note_failure(self, failure):
        self.failure = failure

    skipped_objects = ()


class SceneCamera:
    """Serves the current scene photo as a JPEG snapshot URL."""

    def __init__(self):
        self.scene = Scene()
        self.rng = np.random.default_rng(4)
        self.current = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                data = cv2.imencode(".jpg", owner.scene.photo(owner.current, owner.rng), [cv2.IMWRITE_JPEG_QUALITY, 90])[1]
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.tobytes())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/snapshot.jpg"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cam():
    c = SceneCamera()
    yield c
    c.close()


@pytest.mark.parametrize("policy,expected", [("pause", ["pause"]), ("cancel", ["cancel"]), ("warn", [])])
def test_clog_triggers_the_policy_once_and_files_are_kept(tmp_path, cam, policy, expected):
    hook = LayerCheck(LAYERS, HttpCamera(cam.url), tmp_path / "job", VisionConfig(policy=policy),
                      registration_path=tmp_path / "printer" / "registration.json")
    job = RecordingJob()
    for n in range(5):
        cam.scene.deposit(LAYERS[n], n, e_factor=0.0 if n >= 3 else 1.0)
        cam.current = n
        hook(done(n), job)
    statuses = [v.status for v in hook.verdicts]
    assert statuses[:3] == ["ok", "ok", "ok"] and statuses[3] == "missing_layer"
    assert job.calls == expected
    assert job.sent[0] == "M400" and any(s.startswith("G1 X110.000 Y220.000") for s in job.sent)
    rec = json.loads((tmp_path / "job" / "layer_0003.json").read_text())
    assert rec["status"] == "missing_layer" and rec["check_ms"] > 0
    assert (tmp_path / "job" / "layer_0003.jpg").stat().st_size > 10_000
    assert cv2.imread(str(tmp_path / "job" / "layer_0003_check.jpg")).shape == (960, 1280, 3)
    assert len((tmp_path / "job" / "verdicts.jsonl").read_text().splitlines()) == 5
    assert (tmp_path / "printer" / "registration.json").exists()
    measured = json.loads((tmp_path / "job" / "layer_0000.json").read_text())["calibration"]
    assert 0 < measured["material_threshold"] <= VisionConfig().material_contrast
    kept = json.loads((tmp_path / "printer" / "calibration.json").read_text())
    assert {k: kept[k] for k in measured} == measured


def test_the_next_job_starts_from_the_ageing_the_printer_measured_before(tmp_path, cam):
    printer = tmp_path / "printer"
    printer.mkdir()
    (printer / "calibration.json").write_text(json.dumps({"old_ratio": 0.8}))
    hook = LayerCheck(LAYERS, HttpCamera(cam.url), tmp_path / "job", VisionConfig(),
                      registration_path=printer / "registration.json")
    cam.scene.deposit(LAYERS[0], 0)
    cam.current = 0
    hook(done(0), RecordingJob())
    assert json.loads((tmp_path / "job" / "layer_0000.json").read_text())["old_ratio"] == 0.8
    kept = json.loads((printer / "calibration.json").read_text())
    assert kept["old_ratio"] == 0.8 and "material_threshold" in kept


@pytest.mark.parametrize("policy,expected", [("pause", ["pause"]), ("cancel", ["cancel"]), ("warn", [])])
def test_an_unreachable_camera_is_a_layer_not_checked_and_the_policy_acts(tmp_path, policy, expected):
    seen = []
    hook = LayerCheck(LAYERS, HttpCamera("http://127.0.0.1:9/snapshot.jpg", timeout=1), tmp_path,
                      VisionConfig(policy=policy), on_verdict=seen.append)
    job = RecordingJob()
    hook(done(0), job)
    hook(done(1), job)
    assert hook.errors and "cannot be reached" in hook.errors[0]
    assert [v.status for v in hook.verdicts] == ["unseen", "unseen"] and seen == hook.verdicts
    assert job.calls == expected                                      # once, as for any failed layer
    assert job.failure["class"] == "unseen" and "was not checked: camera" in job.failure["message"]
    lines = [json.loads(x) for x in (tmp_path / "verdicts.jsonl").read_text().splitlines()]
    assert [x["status"] for x in lines] == ["unseen", "unseen"]


class _Frames:
    """A camera that hands out fixed frames."""

    def __init__(self, image):
        self.image = image

    def grab(self):
        return self.image.copy()

    def close(self):
        pass


def test_a_black_frame_or_a_bed_without_markers_is_not_checked(tmp_path):
    black = np.zeros((960, 1280, 3), np.uint8)
    hook = LayerCheck(LAYERS, _Frames(black), tmp_path / "a")
    job = RecordingJob()
    hook(done(0), job)
    assert hook.verdicts[0].status == "unseen" and "black frame" in hook.verdicts[0].message
    assert job.calls == ["pause"]
    noise = np.random.default_rng(1).integers(0, 255, (960, 1280, 3), dtype=np.uint8)
    hook = LayerCheck(LAYERS, _Frames(noise), tmp_path / "b")
    hook(done(0), RecordingJob())
    assert hook.verdicts[0].status == "unseen" and "markers" in hook.verdicts[0].message
    assert (tmp_path / "b" / "layer_0000.jpg").exists()              # what the camera showed is kept


def test_park_none_only_waits_for_moves_and_a_park_lifts_before_it_travels():
    assert park_commands(VisionConfig(park=None)) == ["M400"]
    park = park_commands(VisionConfig(park=(5.0, 200.0), park_lift_mm=3.0))
    lift = park.index("G91") + 1
    assert park[lift].startswith("G1 Z3.000") and park[lift + 1] == "G90"
    assert park.index("G1 X5.000 Y200.000 F6000") > lift and park[0] == park[-1] == "M400"
