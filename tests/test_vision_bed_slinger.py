"""A bed-slinger: the simulator's bed moves in Y under a fixed camera (`printloop sim --bed-slinger`), its markers
with it; the layer check parks the head where the bed is framed and judges every layer over the real pty and HTTP."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from firmware_sim.camera import CameraConfig, bed_offset, render
from firmware_sim.deposition import Deposition
from tests.test_vision_e2e import SAMPLES, print_with_checks
from vision.config import VisionConfig
from vision.registration import register

SLINGER = VisionConfig(policy="pause", park=(0.0, 110.0))   # the head at the left, the bed centred under the camera


def _square() -> Deposition:
    dep = Deposition()
    seg = np.array([[100, 100, 120, 100], [120, 100, 120, 120], [120, 120, 100, 120], [100, 120, 100, 100]], float)
    dep.deposit(seg, np.full(4, 1.0), 0.2, 0.2, 0)
    return dep


def test_the_bed_and_its_markers_move_with_the_heads_y_and_the_markers_register_it():
    dep, rng = _square(), np.random.default_rng(0)
    still = render(dep, 0, CameraConfig(noise_sigma=0), rng)
    slinger = CameraConfig(noise_sigma=0, bed_slinger=True)
    centred = render(dep, 0, slinger, rng, head=(0.0, 110.0, 5.0))
    assert np.array_equal(still, centred)  # framed as a fixed bed when the head is at the view's centre
    moved = render(dep, 0, slinger, rng, head=(0.0, 104.0, 5.0))
    assert bed_offset(slinger, (0.0, 104.0, 5.0)) == -6.0
    # the bed is 6 mm further back: the square's centre lands where bed Y 116 did on the still bed
    a, b = register(centred), register(moved)
    centre = np.array([[[110.0, 110.0]]])
    at_moved = cv2.perspectiveTransform(centre, np.linalg.inv(b.homography))[0, 0]
    expected = cv2.perspectiveTransform(np.array([[[110.0, 116.0]]]), np.linalg.inv(a.homography))[0, 0]
    assert np.hypot(*(at_moved - expected)) < 1.0
    assert not np.array_equal(centred, moved)


@pytest.mark.slow
def test_a_bed_slinger_prints_clean_layers_ok_and_a_layer_shift_pauses_the_job(tmp_path):
    check, _ = print_with_checks(SAMPLES["cura"], "", tmp_path / "clean", last=6, sim_args=("--bed-slinger",),
                                 config=SLINGER)
    assert len(check.verdicts) >= 7 and not check.errors
    assert all(v.status == "ok" for v in check.verdicts), [v.message for v in check.verdicts if v.failed]
    check, state = print_with_checks(SAMPLES["cura"], "layer_shift@4=2.5:0", tmp_path / "shift", last=6,
                                     sim_args=("--bed-slinger",), config=SLINGER)
    failed = [v for v in check.verdicts if v.failed]
    assert state == "paused" and failed and failed[0].status == "layer_shift", [v.message for v in check.verdicts]


@pytest.mark.slow
def test_a_bed_slinger_parked_at_the_back_shows_too_few_markers_and_the_job_stops_saying_so(tmp_path):
    check, state = print_with_checks(SAMPLES["cura"], "", tmp_path, last=3, sim_args=("--bed-slinger",),
                                     config=VisionConfig(policy="pause", park=(110.0, 220.0)))
    assert state == "paused"
    assert check.verdicts and check.verdicts[0].status == "unseen"
    assert "markers" in check.verdicts[0].message, check.verdicts[0].message
