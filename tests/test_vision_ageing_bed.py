"""A job's checks learn from its own camera: the bare bed's photo is the per-pixel bed material is told from
(black on black PEI), and the old/fresh brightness ratio is measured on the job's sound layers, so a clog on
white filament reads as a missing layer rather than as low flow."""
from __future__ import annotations

import numpy as np
import pytest

import vision.check
from firmware_sim.camera import CameraConfig
from slicing.job_plan import read_gcode
from slicing.slicer import slice_file
from slicing.toolpath import LayerPaths
from tests.conftest import MODELS
from tests.vision_rig import camera, checker_on_bed, cube_layers
from vision.check import LayerChecker

FAULT_AT = 8
LAYERS = 10


@pytest.fixture(scope="module")
def cube() -> list[LayerPaths]:
    """The first layers of the shared 20 mm cube, sliced by printloop."""
    return cube_layers(LAYERS)


def _print(layers: list[LayerPaths], cam: CameraConfig, fault: str | None = None, bed_photo: bool = True
           ) -> tuple[list[str], LayerChecker]:
    """Photograph the bare bed, then deposit, photograph (JPEG, as served) and judge each layer."""
    dep, _, photo = camera(cam, 5)

    checker = checker_on_bed(layers, photo, bed_photo)
    statuses = []
    for lp in layers:
        active = fault is not None and lp.index >= FAULT_AT
        e = lp.extrusion * 0.4 if active and fault == "under_extrusion" else lp.extrusion
        if not (active and fault == "missing_layer"):
            dep.deposit(lp.segments, e, lp.z, lp.height, lp.index)
        statuses.append(checker.check(photo(lp.index), lp.index, annotated=False)[0].status)
    return statuses, checker


def test_black_on_black_first_layers_pass_with_the_bed_photo_and_fail_without(cube) -> None:
    with_photo, _ = _print(cube[:4], CameraConfig(filament="black", bed="black"))
    without, _ = _print(cube[:4], CameraConfig(filament="black", bed="black"), bed_photo=False)
    assert with_photo == ["ok"] * 4
    assert without.count("ok") < 2


def test_white_filament_ageing_is_measured_on_the_sound_layers(cube) -> None:
    statuses, checker = _print(cube, CameraConfig(filament="white", bed="textured-pei"))
    assert statuses == ["ok"] * LAYERS
    assert checker.old_ratios, "no layer left once-fresh material uncovered to measure"
    assert 0.70 <= float(np.median(checker.old_ratios)) <= 0.85   # the configured ratio is 0.65 (orange)


@pytest.mark.parametrize("fault", ["missing_layer", "under_extrusion"])
def test_a_clog_on_white_is_a_missing_layer_and_low_flow_stays_under_extrusion(cube, fault: str) -> None:
    statuses, _ = _print(cube, CameraConfig(filament="white", bed="textured-pei"), fault)
    assert statuses[:FAULT_AT] == ["ok"] * FAULT_AT
    assert statuses[FAULT_AT] == fault


def test_without_the_measured_ageing_a_white_clog_reads_as_low_flow(cube, monkeypatch) -> None:
    monkeypatch.setattr(vision.check, "ageing_sample", lambda *a, **k: None)
    statuses, checker = _print(cube, CameraConfig(filament="white", bed="textured-pei"), "missing_layer")
    assert not checker.old_ratios
    assert statuses[FAULT_AT] == "under_extrusion"


@pytest.fixture(scope="module")
def two_cubes() -> list[LayerPaths]:
    """The first layers of two labelled copies of the 20 mm cube on one plate."""
    return read_gcode(slice_file(MODELS / "20mm-xyz-cube.stl", copies=2).gcode).layers[:LAYERS]


@pytest.mark.parametrize("fault", ["missing_layer", "under_extrusion"])
def test_a_copy_that_clogs_on_white_is_a_missing_layer_and_its_low_flow_stays_under_extrusion(two_cubes, fault: str
                                                                                              ) -> None:
    dep, _, photo = camera(CameraConfig(filament="white", bed="textured-pei"), 5)

    checker = checker_on_bed(two_cubes, photo, object_names=("a", "b"))
    copies = []
    for lp in two_cubes:
        assert lp.objects is not None
        e = lp.extrusion.copy()
        if lp.index >= FAULT_AT:
            e[lp.objects == 1] *= 0.0 if fault == "missing_layer" else 0.4
        dep.deposit(lp.segments, e, lp.z, lp.height, lp.index)
        verdict, _ = checker.check(photo(lp.index), lp.index, annotated=False)
        copies.append({o["name"]: o["status"] for o in verdict.objects})
    assert checker.old_ratios
    assert all(c == {"a": "ok", "b": "ok"} for c in copies[:FAULT_AT])
    assert copies[FAULT_AT] == {"a": "ok", "b": fault}
