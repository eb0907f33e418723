"""The simulated camera over a height map, as the layer-check tests photograph it: the shared 20 mm cube's first
layers, and a camera whose frames arrive as a webcam sends them (JPEG, decoded)."""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from firmware_sim.camera import CameraConfig, encode_jpeg, render
from firmware_sim.deposition import Deposition
from slicing.job_plan import read_gcode
from slicing.slicer import slice_file
from slicing.toolpath import LayerPaths
from tests.conftest import MODELS
from vision.check import LayerChecker
from vision.config import VisionConfig
from vision.registration import register

TILTED = CameraConfig(tilt_deg=30.0, parallax=True)   # a camera at the front of the printer, looking down at 30°


@lru_cache(maxsize=1)
def _cube() -> tuple[LayerPaths, ...]:
    return tuple(read_gcode(slice_file(MODELS / "20mm-xyz-cube.stl").gcode).layers)


def cube_layers(count: int) -> list[LayerPaths]:
    """The first `count` layers of the shared 20 mm cube, sliced by printloop (once per test process)."""
    return list(_cube()[:count])


def camera(cam: CameraConfig, seed: int) -> tuple[Deposition, np.random.Generator, Callable[[int], np.ndarray]]:
    """An empty bed, the noise generator, and photo(n): the camera's frame after layer n, JPEG-compressed and
    decoded."""
    rng = np.random.default_rng(seed)
    dep = Deposition()

    def photo(n: int) -> np.ndarray:
        image = cv2.imdecode(np.frombuffer(encode_jpeg(render(dep, n, cam, rng)), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None
        return np.asarray(image)

    return dep, rng, photo


def checker_on_bed(layers: list[LayerPaths], photo: Callable[[int], np.ndarray], bed_photo: bool = True,
                   object_names: tuple[str, ...] = ()) -> LayerChecker:
    """A layer checker registered on the bare bed's photo (taken now), which it also keeps as the per-pixel bed
    unless `bed_photo` is False."""
    config = VisionConfig()
    bed = photo(0)
    return LayerChecker(layers, register(bed, config), config, object_names=object_names,
                        bed_photo=bed if bed_photo else None)
