"""The bed is found in rendered images from its ArUco stickers to well under a millimetre, and stored per printer."""
import numpy as np
import pytest

from tests.vision_scene import Scene
from vision.config import VisionConfig
from vision.errors import RegistrationError
from vision.registration import Registration, drift_mm, ensure_registration, register

BED_POINTS = np.array([[0, 0], [220, 0], [220, 220], [0, 220], [110, 110], [60, 170]], dtype=float)


def project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = np.column_stack([pts, np.ones(len(pts))]) @ h.T
    return p[:, :2] / p[:, 2:]


@pytest.mark.parametrize("tilt,noise", [(0.0, 2.0), (0.04, 3.0), (0.08, 6.0)])
def test_registration_from_markers_is_within_half_a_millimetre(tilt, noise):
    scene = Scene(tilt=tilt)
    img = scene.photo(0, np.random.default_rng(3), noise=noise)
    reg = register(img)
    err = np.linalg.norm(reg.to_bed(project(scene.bed_to_image(), BED_POINTS)) - BED_POINTS, axis=1)
    assert err.max() < 0.5
    assert reg.method == "aruco" and reg.marker_ids == (0, 1, 2, 3)


def test_manual_four_point_calibration_matches_truth():
    scene = Scene(tilt=0.05)
    bed = BED_POINTS[:4]
    reg = Registration.from_points(project(scene.bed_to_image(), bed), bed)
    err = np.linalg.norm(reg.to_bed(project(scene.bed_to_image(), BED_POINTS)) - BED_POINTS, axis=1)
    assert err.max() < 1e-3 and reg.method == "manual"


def test_manual_calibration_rejects_too_few_points():
    with pytest.raises(RegistrationError, match="at least 4"):
        Registration.from_points(np.zeros((3, 2)), np.zeros((3, 2)))


def test_json_round_trip(tmp_path):
    img = Scene().photo(0, np.random.default_rng(1))
    reg = register(img)
    reg.save(tmp_path / "printer1" / "registration.json")
    back = Registration.load(tmp_path / "printer1" / "registration.json")
    assert np.allclose(back.homography, reg.homography) and back.image_size == reg.image_size


def test_hidden_markers_raise_a_registration_error_naming_them():
    img = Scene().photo(0, np.random.default_rng(1))
    img[:, :] = 30
    with pytest.raises(RegistrationError, match=r"\[0, 1, 2, 3\]"):
        register(img)


def test_drift_is_noticed_and_registration_renewed():
    cfg = VisionConfig()
    reg = register(Scene(tilt=0.0).photo(0, np.random.default_rng(1)))
    moved = Scene(tilt=0.06).photo(0, np.random.default_rng(2))
    assert drift_mm(reg, moved, cfg) > cfg.drift_mm
    renewed, changed = ensure_registration(reg, moved, cfg)
    assert changed and not np.allclose(renewed.homography, reg.homography)
    same, changed = ensure_registration(reg, Scene(tilt=0.0).photo(0, np.random.default_rng(3)), cfg)
    assert not changed and same is reg
