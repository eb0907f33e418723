"""A camera at the front of the printer, tilted 30°, sees each layer's top drift across the bed plane as the part
grows: the check learns that drift per mm of height from the job's sound layers, so a clean print is not read as a
layer shift, and a real shift (a step) still is."""
from __future__ import annotations

import numpy as np
import pytest

import vision.parallax
from firmware_sim.camera import CameraConfig
from slicing.toolpath import LayerPaths
from tests.vision_rig import camera, checker_on_bed, cube_layers
from vision.check import LayerChecker

LAYERS = 40
SHIFT_AT = 36
TILTED = CameraConfig(tilt_deg=30.0, parallax=True)


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


def test_without_learning_the_drift_the_clean_print_fails(cube, monkeypatch) -> None:
    monkeypatch.setattr(vision.parallax.Parallax, "learn", lambda *a, **k: None)
    statuses, _ = _print(cube)
    assert statuses != ["ok"] * LAYERS
