"""A camera at the front of the printer, tilted 30°, sees each layer's top drift across the bed plane as the part
grows: the check learns that drift per mm of height from the job's sound layers, so a clean print is not read as a
layer shift, and a real shift (a step) still is."""
from __future__ import annotations

import numpy as np
import pytest

import vision.check
import vision.parallax
from firmware_sim.camera import CameraConfig
from firmware_sim.camera_geometry import camera_centre as camera_centre_of
from slicing.toolpath import LayerPaths
from tests.vision_rig import TILTED, camera, checker_on_bed, cube_layers
from vision.check import LayerChecker
from vision.config import VisionConfig
from vision.pose import camera_centre, drift_at
from vision.registration import register

LAYERS = 40
SHIFT_AT = 36


@pytest.fixture(scope="module")
def cube() -> list[LayerPaths]:
    """The first layers of the shared 20 mm cube, sliced by printloop."""
    return cube_layers(LAYERS)


def _print(layers: list[LayerPaths], shift: bool = False) -> tuple[list[str], LayerChecker]:
    """Photograph the bare bed, then deposit, photograph and judge each layer through the tilted camera."""
    dep, _, photo = camera(TILTED, 11)

    checker = checker_on_bed(layers, photo)
    statuses = []
    for lp in layers:
        seg = lp.segments + np.array([3.0, 0.0, 3.0, 0.0]) if shift and lp.index >= SHIFT_AT else lp.segments
        dep.deposit(seg, lp.extrusion, lp.z, lp.height, lp.index)
        statuses.append(checker.check(photo(lp.index), lp.index, annotated=False)[0].status)
    return statuses, checker


def test_a_clean_print_seen_at_30_degrees_passes_and_the_drift_is_learned(cube) -> None:
    statuses, checker = _print(cube)
    assert statuses == ["ok"] * LAYERS
    kx, ky = checker.parallax.drift
    assert np.hypot(kx, ky) > 0.1      # bed mm per mm of height: the tops visibly move as the part grows


def test_a_layer_shift_is_still_a_shift(cube) -> None:
    statuses, _ = _print(cube, shift=True)
    assert statuses[:SHIFT_AT] == ["ok"] * SHIFT_AT
    assert statuses[SHIFT_AT] == "layer_shift"


def test_without_learning_the_drift_or_the_pose_the_clean_print_fails(cube, monkeypatch) -> None:
    monkeypatch.setattr(vision.parallax.Parallax, "learn", lambda *a, **k: None)
    monkeypatch.setattr(vision.check, "camera_centre", lambda *a, **k: None)
    statuses, _ = _print(cube)
    assert statuses != ["ok"] * LAYERS


def test_the_pose_from_the_registration_alone_predicts_the_drift(cube, monkeypatch) -> None:
    monkeypatch.setattr(vision.parallax.Parallax, "learn", lambda *a, **k: None)
    statuses, checker = _print(cube)
    assert statuses == ["ok"] * LAYERS
    g = checker.grid
    centre = ((g.x0 + g.x1) / 2, (g.y0 + g.y1) / 2)
    cx, cy, cz = camera_centre_of(TILTED)
    assert checker.parallax.drift == pytest.approx(((centre[0] - cx) / cz, (centre[1] - cy) / cz), abs=0.02)


@pytest.mark.parametrize("tilt", [10.0, 20.0, 30.0, 45.0])
def test_the_camera_is_found_where_it_is_from_the_bed_markers(tilt) -> None:
    cam = CameraConfig(tilt_deg=tilt, parallax=True)
    _, _, photo = camera(cam, 1)
    reg = register(photo(0), VisionConfig())
    found = camera_centre(reg.homography, reg.image_size)
    true = camera_centre_of(cam)
    assert found is not None
    assert found == pytest.approx(true, rel=0.1, abs=15.0)
    for point in ((60.0, 60.0), (110.0, 110.0), (180.0, 150.0)):       # the drift a layer top shows there
        assert drift_at(found, point) == pytest.approx(drift_at(true, point), abs=0.02)


def test_a_camera_near_straight_down_is_not_placed() -> None:
    # its focal length, so its height, is told a tenth off at 4°: the drift is learned from the layers instead
    _, _, photo = camera(CameraConfig(tilt_deg=4.0, parallax=True), 1)
    reg = register(photo(0), VisionConfig())
    assert camera_centre(reg.homography, reg.image_size) is None


def test_a_homography_no_pinhole_makes_has_no_camera() -> None:
    assert camera_centre(np.diag([0.2, 0.2, 1.0]), (1280, 960)) is None           # straight down: no focal length
    assert camera_centre(np.zeros((3, 3)), (1280, 960)) is None
