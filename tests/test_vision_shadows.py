"""The part's own shadow, growing with its height, is bed in shadow, not loose material; a filament that looks like
its bed dimmed (black on a grey sheet) turns that test off for the job, measured on its first layer."""
from __future__ import annotations

import numpy as np
import pytest

import vision.compare
from firmware_sim.camera import CameraConfig
from slicing.toolpath import LayerPaths
from tests.vision_rig import camera, checker_on_bed, cube_layers
from vision.check import LayerChecker
from vision.config import VisionConfig

LAYERS = 14
FAULT_AT = 9
SHADOWED = CameraConfig(filament="orange", bed="smooth-pei", shadow=0.6)


@pytest.fixture(scope="module")
def cube() -> list[LayerPaths]:
    """The first layers of the shared 20 mm cube, sliced by printloop."""
    return cube_layers(LAYERS)


def _print(layers: list[LayerPaths], cam: CameraConfig, fault: str | None = None,
           strays: list[float] | None = None) -> tuple[list[str], LayerChecker]:
    """Photograph the bare bed, then deposit and photograph each layer (JPEG, as served), judging it (each layer's
    stray area into `strays`)."""
    dep, rng, photo = camera(cam, 11)

    checker = checker_on_bed(layers, photo)
    statuses = []
    for lp in layers:
        active = fault is not None and lp.index >= FAULT_AT
        if active and fault == "spaghetti":
            dep.deposit_loose(lp.segments, lp.extrusion, lp.index, rng)
        elif active and fault == "layer_shift":
            dep.deposit(lp.segments + np.array([3.0, 0.0, 3.0, 0.0]), lp.extrusion, lp.z, lp.height, lp.index)
        else:
            dep.deposit(lp.segments, lp.extrusion, lp.z, lp.height, lp.index)
        verdict = checker.check(photo(lp.index), lp.index, annotated=False)[0]
        statuses.append(verdict.status)
        if strays is not None:
            strays.append(verdict.score.get("stray_area_mm2", 0.0))
    return statuses, checker


def test_a_part_casting_its_shadow_on_a_bright_sheet_shows_no_loose_material(cube) -> None:
    strays: list[float] = []
    statuses, checker = _print(cube, SHADOWED, strays=strays)
    assert checker.shadows and checker.calibration is not None and checker.calibration.shadows
    assert "spaghetti" not in statuses and max(strays) < VisionConfig().spaghetti_area_mm2, (statuses, strays)
    assert statuses == ["ok"] * LAYERS, statuses


def test_without_the_shadow_test_its_shadow_reads_as_loose_material(cube, monkeypatch) -> None:
    monkeypatch.setattr(vision.compare, "_shadow", lambda smooth, expected: np.zeros(len(smooth), bool))
    strays: list[float] = []
    statuses, _ = _print(cube, SHADOWED, strays=strays)
    assert "spaghetti" in statuses, (statuses, strays)


@pytest.mark.parametrize("fault", ["spaghetti", "layer_shift"])
def test_faults_beside_the_shadow_are_still_caught_at_their_first_layer(cube, fault: str) -> None:
    statuses, _ = _print(cube, SHADOWED, fault)
    assert statuses[:FAULT_AT] == ["ok"] * FAULT_AT, statuses
    assert statuses[FAULT_AT] == fault, statuses


def test_black_filament_on_a_grey_sheet_turns_the_shadow_test_off_and_is_still_seen(cube) -> None:
    cam = CameraConfig(filament_bgr=(38, 38, 40), bed_bgr=(150, 150, 152), filament="orange", bed="smooth-pei")
    statuses, checker = _print(cube[:5], cam)
    assert not checker.shadows
    assert checker.calibration is not None and checker.calibration.to_dict()["shadows"] is False
    assert statuses == ["ok"] * 5, statuses
