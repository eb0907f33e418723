"""The layer check on a real photograph: a phone's frame of a FlashForge print, registered by four hand-picked points.

`../shared/vision-photos/flashforge-android/template.png` shows green translucent PLA on the printer's blue sheet,
which carries a printed logo and warning text, with no markers; the G-code that was printed lies beside it.
"""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from slicing.job_plan import read_gcode_file
from tests.conftest import GCODE_SAMPLES, SHARED
from vision.check import check_layer
from vision.config import VisionConfig, config_from_mapping
from vision.errors import VisionConfigError
from vision.registration import ensure_registration

PHOTO = SHARED / "vision-photos" / "flashforge-android"
# the corners of the 232 × 154 mm sheet (the bed's origin at its centre, Y towards the back), picked by hand
CORNERS = [[216, 31, -116, 77], [1486, 30, 116, 77], [1489, 884, 116, -77], [202, 880, -116, -77]]
FIRST = 1  # the file's layer 0 is its purge line; layer 1 is the part's first layer, which the frame shows

pytestmark = pytest.mark.skipif(not (PHOTO / "template.png").exists(), reason="the shared real photos are not here")


@pytest.fixture(scope="module")
def photo_and_config() -> tuple[np.ndarray, VisionConfig]:
    image = cv2.imread(str(PHOTO / "template.png"))
    assert image is not None
    return image, config_from_mapping({"points": CORNERS})


def _moved(layers: list, d: np.ndarray) -> list:
    """Layers moved by d mm in XY."""
    return [replace(lp, segments=lp.segments + np.array([d[0], d[1], d[0], d[1]])) for lp in layers]


def _centre(layer) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.concatenate([layer.segments[:, :2], layer.segments[:, 2:]]).mean(axis=0)


def test_the_photo_registered_by_four_points_matches_its_own_gcodes_layer(photo_and_config):
    image, config = photo_and_config
    registration, renewed = ensure_registration(None, image, config)
    assert renewed and registration.method == "manual" and registration.residual_mm < 1e-6
    layers = read_gcode_file(PHOTO / "android_modified.g").layers
    verdict, picture = check_layer(image, registration, layers, FIRST, config)
    assert verdict.status == "ok", verdict.message
    assert verdict.score["coverage"] >= 0.9 and verdict.iou >= 0.6, verdict.score
    assert picture.shape == image.shape
    # the sheet's own print (logo, warning text) is not taken for loose material on a first photo
    assert verdict.score["stray_area_mm2"] == 0.0


def test_the_photo_does_not_match_another_files_layer_nor_its_own_in_the_wrong_place(photo_and_config):
    image, config = photo_and_config
    registration, _ = ensure_registration(None, image, config)
    own = read_gcode_file(PHOTO / "android_modified.g").layers
    cube = read_gcode_file(GCODE_SAMPLES / "cube.cura.gcode").layers[:3]
    at_the_part = _moved(cube, _centre(own[FIRST]) - _centre(cube[0]))
    verdict, _ = check_layer(image, registration, at_the_part, 0, config)
    assert verdict.failed and verdict.score["coverage"] < 0.5, verdict.message
    off_the_part = _moved(own, np.array([-60.0, 0.0]))  # on the bare sheet, beside the logo
    verdict, _ = check_layer(image, registration, off_the_part, FIRST, config)
    assert verdict.failed and verdict.score["coverage"] < 0.5, verdict.message


def test_hand_picked_points_are_validated_at_load():
    with pytest.raises(VisionConfigError, match="at least four points"):
        config_from_mapping({"points": CORNERS[:3]})
    with pytest.raises(VisionConfigError, match=r"\[u, v, x, y\]"):
        config_from_mapping({"points": [[1, 2, 3]] * 4})
    with pytest.raises(VisionConfigError, match=r"\[u, v, x, y\]"):
        config_from_mapping({"points": "corners"})


def test_a_stored_registration_is_kept_while_the_points_are_the_same(photo_and_config):
    image, config = photo_and_config
    first, renewed = ensure_registration(None, image, config)
    again, renewed_again = ensure_registration(first, image, config)
    assert renewed and not renewed_again and again is first
    moved = config.replace(points=tuple((u + 5.0, v, x, y) for u, v, x, y in config.points))
    other, renewed_other = ensure_registration(first, image, moved)
    assert renewed_other and not np.allclose(other.homography, first.homography)
