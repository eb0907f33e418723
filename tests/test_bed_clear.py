"""Bed-clear check: the bed photographed as a run starts is compared, in bed mm, with the bed after it.

Pure checks on the simulator's renderer (light changes, a nudged camera, a small leftover blob, frames that show
nothing), then the service with a simulated printer over HTTP: the finished part reads not_clear where it is, the
bed after the simulator's `clear-bed` reads clear, the dashboard warns, and the technician's confirmation (never
refused) is recorded with the camera's verdict."""
from __future__ import annotations

from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from playwright.sync_api import expect, sync_playwright

from firmware_sim.camera import CameraConfig, encode_jpeg, render
from firmware_sim.deposition import Deposition
from slicing.job_plan import plan_file
from tests.sim_rig import served_lab, small_part_gcode, take_part_off, wait_for
from vision.bed_clear import BedClearConfig, judge_bed

KEY = "bed-key"
T, W = 0.2, 0.45


def block(dep: Deposition, box: tuple[float, float, float, float], layers: int = 3) -> Deposition:
    """A solid block of `layers` layers over a bed-mm rectangle."""
    x0, y0, x1, y1 = box
    for layer in range(layers):
        segs = np.array([[x0, y, x1, y] for y in np.arange(y0 + W / 2, y1, W)])
        length = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])
        dep.deposit(segs, W * T * length / dep.filament_area, T * (layer + 1), T, layer)
    return dep


def photo(dep: Deposition, seed: int, **camera: object) -> np.ndarray:
    """What the simulated camera sends: rendered, JPEG-compressed, decoded."""
    cfg = CameraConfig(**camera)  # type: ignore[arg-type]
    img = cv2.imdecode(np.frombuffer(encode_jpeg(render(dep, 2, cfg, np.random.default_rng(seed)), 90), np.uint8),
                       cv2.IMREAD_COLOR)
    assert img is not None
    return img


def relit(img: np.ndarray, gain: float, slope: float) -> np.ndarray:
    """The same scene under other light: overall gain and a left-to-right gradient."""
    w = img.shape[1]
    field = gain * (1.0 + slope * (np.arange(w, dtype=np.float32) / w - 0.5))
    return np.clip(img.astype(np.float32) * field[None, :, None], 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def empty() -> np.ndarray:
    return photo(Deposition(), seed=1)


@pytest.mark.parametrize(("gain", "slope"), [(1.0, 0.0), (0.8, 0.0), (1.25, 0.3), (0.9, -0.4)])
def test_an_empty_bed_reads_clear_under_other_light_and_noise(empty: np.ndarray, gain: float, slope: float) -> None:
    verdict, annotated = judge_bed(empty, relit(photo(Deposition(), seed=7), gain, slope))
    assert verdict.status == "clear", verdict.message
    assert annotated.shape == empty.shape


def test_a_nudged_camera_still_sees_a_clear_bed(empty: np.ndarray) -> None:
    verdict, _ = judge_bed(empty, photo(Deposition(), seed=3, tilt_deg=7.0))
    assert verdict.status == "clear", verdict.message


@pytest.mark.parametrize(("box", "bed_bgr", "filament_bgr"), [
    ((60.0, 60.0, 100.0, 90.0), (35, 35, 35), (40, 90, 230)),     # orange part on the dark sheet
    ((198.0, 18.0, 203.0, 23.0), (35, 35, 35), (40, 90, 230)),    # a 5 mm purge blob left in a corner
    ((20.0, 150.0, 50.0, 200.0), (150, 150, 150), (235, 235, 235)),  # white part on a light grey sheet
])
def test_a_part_left_on_the_bed_reads_not_clear_where_it_is(box: tuple[float, float, float, float],
                                                             bed_bgr: tuple[int, int, int],
                                                             filament_bgr: tuple[int, int, int]) -> None:
    look = {"bed_bgr": bed_bgr, "filament_bgr": filament_bgr}
    before = photo(Deposition(), seed=1, **look)
    after = relit(photo(block(Deposition(), box), seed=2, **look), 0.9, 0.2)
    verdict, annotated = judge_bed(before, after)
    assert verdict.status == "not_clear", verdict.message
    assert len(verdict.regions) == 1
    r = verdict.regions[0]
    assert abs(r.x_mm - (box[0] + box[2]) / 2) < 1.5 and abs(r.y_mm - (box[1] + box[3]) / 2) < 1.5
    assert all(abs(a - b) < 2.5 for a, b in zip(r.bounds_mm, box)), r.bounds_mm
    assert 0.6 < r.area_mm2 / ((box[2] - box[0]) * (box[3] - box[1])) < 2.0  # the optics blur a small blob
    assert not np.array_equal(annotated, after), "the region is drawn on the photo"


def test_smaller_than_the_minimum_area_is_noise(empty: np.ndarray) -> None:
    after = photo(block(Deposition(), (100.0, 100.0, 102.0, 102.0), layers=1), seed=2)  # a 2 mm crumb (~10 mm²)
    assert judge_bed(empty, after, cfg=BedClearConfig(min_area_mm2=20.0))[0].status == "clear"
    assert judge_bed(empty, after, cfg=BedClearConfig(min_area_mm2=4.0))[0].status == "not_clear"


def test_a_photo_that_shows_nothing_or_no_markers_is_unknown(empty: np.ndarray) -> None:
    assert judge_bed(empty, np.zeros_like(empty))[0].status == "unknown"
    assert judge_bed(None, empty)[0].status == "unknown"
    covered = empty.copy()
    covered[:, : empty.shape[1] // 2] = 30      # a hand or a cloth over half of the bed and two markers
    verdict, _ = judge_bed(empty, covered)
    assert verdict.status == "unknown" and "markers" in verdict.message


@pytest.fixture()
def lab(tmp_path: Path):
    gcode = small_part_gcode(tmp_path, height_mm=1.0)  # 5 layers of a 14 mm block in the middle of the bed
    with served_lab(tmp_path, KEY) as (api, svc, sim, server):
        yield api, svc, gcode, sim, server


def _print_one(api: httpx.Client, gcode: Path) -> dict:
    """Queue the file, wait until the printer waits for its bed to be cleared; the job's run."""
    job = api.post("/api/v1/jobs", files={"file": (gcode.name, gcode.read_bytes())}).json()
    wait_for(lambda: api.get("/api/v1/printers/mk3-a").json()["state"] == "awaiting_clear", 90, "the copy to end")
    run: dict = api.get(f"/api/v1/jobs/{job['id']}").json()["runs"][0]
    assert run["state"] == "completed"
    return run


def _bed_events(api: httpx.Client, job_id: int) -> list[dict]:
    return [e for e in api.get(f"/api/v1/jobs/{job_id}/events").json() if e["kind"] == "bed_cleared"]


def test_camera_sees_the_part_then_the_clear_bed_and_the_confirmation_records_its_verdict(lab) -> None:
    api, svc, gcode, sim, server = lab
    first = plan_file(gcode).layers[0].paths.segments  # the part with its skirt, in bed mm
    xs, ys = np.r_[first[:, 0], first[:, 2]], np.r_[first[:, 1], first[:, 3]]
    run = _print_one(api, gcode)
    folder = svc.data_dir / "photos" / f"job-{run['job_id']}" / f"run-{run['id']}"
    assert (folder / "bed_before.jpg").is_file(), "the bed is photographed as the run starts"

    seen = api.get("/api/v1/printers/mk3-a/bed").json()
    assert seen["camera"] == "not_clear" and seen["run_id"] == run["id"], seen
    (part,) = seen["regions"]
    assert abs(part["x_mm"] - (xs.min() + xs.max()) / 2) < 1.5 and abs(part["y_mm"] - (ys.min() + ys.max()) / 2) < 1.5
    assert all(abs(a - b) < 2.5 for a, b in zip(part["bounds_mm"], (xs.min(), ys.min(), xs.max(), ys.max())))
    image = api.get(seen["image_url"])
    assert image.status_code == 200 and cv2.imdecode(np.frombuffer(image.content, np.uint8), 1) is not None

    with sync_playwright() as pw:  # the dashboard shows the camera's opinion beside the button, and warns
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/?key={KEY}")
            bed = page.locator('.card[data-printer="mk3-a"] .bed[data-camera="not_clear"]')
            expect(bed).to_contain_text("check before confirming", timeout=20_000)
            expect(bed.locator("img")).to_be_visible()
        finally:
            browser.close()

    take_part_off(sim)
    assert api.get("/api/v1/printers/mk3-a/bed").json()["camera"] == "clear"
    r = api.post("/api/v1/printers/mk3-a/clear-bed")
    assert r.status_code == 200 and "camera: clear" in r.json()["message"]
    (event,) = _bed_events(api, run["job_id"])
    assert event["data"]["camera"] == "clear" and event["data"]["confirmed"] is True
    assert event["run_id"] == run["id"] and event["printer"] == "mk3-a"

    again = _print_one(api, gcode)   # this time the technician confirms with the part still there
    r = api.post("/api/v1/printers/mk3-a/clear-bed")
    assert r.status_code == 200, "the person decides: the camera never refuses the confirmation"
    (event,) = _bed_events(api, again["job_id"])
    assert event["data"]["camera"] == "not_clear" and event["data"]["confirmed"] is True
    assert len(event["data"]["regions"]) == 1 and "not_clear" in event["message"]
