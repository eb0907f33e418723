"""Clean prints of every shared model, checked layer by layer with the default thresholds: no layer fails.

Each model is sliced by printloop (the Cura and PrusaSlicer cubes are used as written), deposited layer by layer
into the simulator's height map and photographed by its camera (JPEG, as served over HTTP), then judged by a
LayerChecker registered from the empty bed's markers, as a job with a camera would be.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from firmware_sim.camera import CameraConfig, encode_jpeg, render
from firmware_sim.deposition import Deposition
from slicing.job_plan import read_gcode, read_gcode_file
from slicing.slicer import slice_file
from slicing.toolpath import LayerPaths
from tests.conftest import GCODE_SAMPLES, MODELS
from vision.check import LayerChecker
from vision.config import VisionConfig
from vision.registration import register

JOBS = sorted(p.name for p in MODELS.glob("*.stl")) + sorted(p.name for p in GCODE_SAMPLES.glob("*.gcode"))


def _layers(name: str) -> list[LayerPaths]:
    """Toolpaths of a shared model sliced by printloop, or of another slicer's G-code sample."""
    if name.endswith(".gcode"):
        return read_gcode_file(GCODE_SAMPLES / name).layers
    return read_gcode(slice_file(MODELS / name).gcode).layers


def _photo(dep: Deposition, n: int, cam: CameraConfig, rng: np.random.Generator) -> np.ndarray:
    """The simulated camera's JPEG snapshot after layer n, decoded."""
    return cv2.imdecode(np.frombuffer(encode_jpeg(render(dep, n, cam, rng)), np.uint8), cv2.IMREAD_COLOR)


@pytest.mark.slow
@pytest.mark.parametrize("name", JOBS)
def test_clean_print_passes_every_layer(name: str) -> None:
    assert len(JOBS) >= 9
    layers = _layers(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    cam = CameraConfig(noise_sigma=4.0, lighting=0.35, tilt_deg=6.0)
    dep = Deposition()
    config = VisionConfig()
    checker = LayerChecker(layers, register(_photo(dep, 0, cam, rng), config), config)
    failed = []
    for lp in layers:
        dep.deposit(lp.segments, lp.extrusion, lp.z, lp.height, lp.index)
        verdict, _ = checker.check(_photo(dep, lp.index, cam, rng), lp.index, annotated=False)
        if verdict.failed:
            failed.append(verdict.message)
    assert not failed, failed
