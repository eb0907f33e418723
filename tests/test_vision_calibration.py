"""Each job measures its own camera and material on its first layer: orange on smooth gold PEI, where the fixed
colour threshold reads the bed as empty, is checked as well as orange on black; and a fault is still caught at
its first layer with the right class."""
from __future__ import annotations

import numpy as np
import pytest

import vision.check
from firmware_sim.camera import CameraConfig
from slicing.toolpath import LayerPaths
from tests.vision_rig import camera, checker_on_bed, cube_layers
from vision.check import LayerChecker
from vision.config import VisionConfig

FAULT_AT = 8
LAYERS = 12


@pytest.fixture(scope="module")
def cube() -> list[LayerPaths]:
    """The first layers of the shared 20 mm cube, sliced by printloop."""
    return cube_layers(LAYERS)


def _print(layers: list[LayerPaths], cam: CameraConfig, fault: str | None = None) -> tuple[list[str], LayerChecker]:
    """Deposit and photograph each layer (JPEG, as served), judging it; the statuses and the checker."""
    dep, rng, photo = camera(cam, 5)

    checker = checker_on_bed(layers, photo, bed_photo=False)
    statuses = []
    for lp in layers:
        seg, e = lp.segments, lp.extrusion
        active = fault is not None and lp.index >= FAULT_AT
        if active and fault == "under_extrusion":
            e = e * 0.4
        if active and fault == "layer_shift":
            seg = seg + np.array([3.0, 0.0, 3.0, 0.0])
        if active and fault == "spaghetti":
            dep.deposit_loose(seg, e, lp.index, rng)
        elif not (active and fault == "missing_layer"):
            dep.deposit(seg, e, lp.z, lp.height, lp.index)
        statuses.append(checker.check(photo(lp.index), lp.index, annotated=False)[0].status)
    return statuses, checker


def test_orange_on_smooth_pei_is_measured_and_a_clean_print_passes(cube) -> None:
    statuses, checker = _print(cube, CameraConfig(filament="orange", bed="smooth-pei"))
    assert statuses == ["ok"] * LAYERS
    cal = checker.calibration
    assert cal is not None and cal.material_threshold < 30 < VisionConfig().material_contrast
    assert cal.material_threshold > cal.bed_spread          # the sheet's texture never reads as material
    assert checker.config.material_contrast == cal.material_threshold


def test_without_the_measurement_the_same_print_reads_empty(cube, monkeypatch) -> None:
    monkeypatch.setattr(vision.check, "calibrate", lambda *args, **kwargs: None)
    statuses, _ = _print(cube, CameraConfig(filament="orange", bed="smooth-pei"))
    assert statuses.count("ok") < LAYERS // 2


def test_a_high_contrast_set_up_keeps_the_configured_threshold(cube) -> None:
    statuses, checker = _print(cube, CameraConfig())
    assert statuses == ["ok"] * LAYERS
    assert checker.calibration is not None
    assert checker.calibration.material_threshold == VisionConfig().material_contrast


@pytest.mark.parametrize("fault", ["missing_layer", "under_extrusion", "spaghetti", "layer_shift"])
def test_a_fault_on_smooth_pei_is_caught_at_its_first_layer_with_its_class(cube, fault: str) -> None:
    statuses, _ = _print(cube, CameraConfig(filament="orange", bed="smooth-pei"), fault)
    assert statuses[:FAULT_AT] == ["ok"] * FAULT_AT
    assert statuses[FAULT_AT] == fault, statuses
