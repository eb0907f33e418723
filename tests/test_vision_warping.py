"""Corners lifting off the bed (warping), seen by a camera at the front tilted 30°: the layer check calls it
warping within two layers of its start, while low flow, which thins the whole layer, is still low flow."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.camera import CameraConfig, render
from firmware_sim.camera_geometry import project_px
from firmware_sim.deposition import Deposition
from firmware_sim.faults import warp_lift
from slicing.toolpath import LayerPaths
from tests.vision_rig import TILTED, camera, checker_on_bed, cube_layers

LAYERS = 12
FAULT_AT = 6


@pytest.fixture(scope="module")
def cube() -> list[LayerPaths]:
    """The first layers of the shared 20 mm cube, sliced by printloop."""
    return cube_layers(LAYERS)


def _print(layers: list[LayerPaths], fault: str | None) -> list[tuple[str, str]]:
    """Deposit, photograph and judge each layer through the tilted camera, the fault from FAULT_AT on; the
    statuses and messages up to the first failure."""
    dep, _, photo = camera(TILTED, 5)
    checker = checker_on_bed(layers, photo)
    out = []
    for lp in layers:
        e = lp.extrusion * 0.5 if fault == "under" and lp.index >= FAULT_AT else lp.extrusion
        dep.deposit(lp.segments, e, lp.z, lp.height, lp.index)
        if fault == "warp" and lp.index >= FAULT_AT:
            dep.warp(warp_lift((FAULT_AT, 2.0), lp.index))
        verdict = checker.check(photo(lp.index), lp.index, annotated=False)[0]
        out.append((verdict.status, verdict.message))
        if verdict.failed:
            break
    return out


def test_corners_lifting_are_called_warping_within_two_layers(cube) -> None:
    seen = _print(cube, "warp")
    statuses = [s for s, _ in seen]
    assert statuses[:FAULT_AT] == ["ok"] * FAULT_AT
    assert statuses[-1] == "warping" and len(statuses) <= FAULT_AT + 3, seen
    assert "corners are lifting" in seen[-1][1]


def test_low_flow_over_the_whole_layer_is_not_warping(cube) -> None:
    seen = _print(cube, "under")
    statuses = [s for s, _ in seen]
    assert statuses[:FAULT_AT] == ["ok"] * FAULT_AT
    assert statuses[-1] in ("under_extrusion", "missing_layer") and len(statuses) <= FAULT_AT + 3, seen


def test_a_clean_print_has_its_corners_and_its_middle_alike(cube) -> None:
    assert [s for s, _ in _print(cube, None)] == ["ok"] * LAYERS


def test_the_simulated_camera_sees_only_the_corners_rise(cube) -> None:
    """Lifting the corners changes the photo at the corners, and leaves the middle of the part as it looked (its
    shading by height and the height bands it is drawn in are those of the part as built)."""
    cam = CameraConfig(tilt_deg=30.0, parallax=True, noise_sigma=0.0)
    dep = Deposition()
    for lp in cube[:8]:
        dep.deposit(lp.segments, lp.extrusion, lp.z, lp.height, lp.index)
    flat = render(dep, 7, cam, np.random.default_rng(0)).astype(int)
    dep.warp(2.0)
    warped = render(dep, 7, cam, np.random.default_rng(0)).astype(int)
    rows, cols = np.nonzero(dep.layer == 7)          # the part (not its skirt)
    x0, x1, y0, y1 = cols.min() * dep.cell, cols.max() * dep.cell, rows.min() * dep.cell, rows.max() * dep.cell
    top = float(dep.height.max())

    def window(x: float, y: float, z: float) -> tuple[slice, slice]:
        u, v = project_px(cam, np.array([[x, y, z]]))[0]
        return slice(int(v) - 6, int(v) + 7), slice(int(u) - 6, int(u) + 7)

    middle = window((x0 + x1) / 2, (y0 + y1) / 2, top)
    assert np.abs(warped[middle] - flat[middle]).max() <= 2
    corner = window(x0 + 1.0, y1 - 1.0, top + 1.5)
    assert np.abs(warped[corner] - flat[corner]).max() > 30


@pytest.mark.slow
def test_printloop_sim_warp_pauses_the_job_as_warping_over_the_pty_and_http(tmp_path) -> None:
    """`printloop sim --camera-tilt 30 --faults warp@6=2` streamed by a printer session with the layer check."""
    from tests.test_vision_e2e import SAMPLES, print_with_checks

    check, state = print_with_checks(SAMPLES["cura"], f"warp@{FAULT_AT}=2", tmp_path, last=FAULT_AT + 2,
                                     sim_args=("--camera-tilt", "30"))
    failed = [v for v in check.verdicts if v.failed]
    assert state == "paused", [v.message for v in check.verdicts]
    assert failed[0].status == "warping" and FAULT_AT <= failed[0].layer <= FAULT_AT + 2, [
        v.message for v in check.verdicts]
    assert all(v.status == "ok" for v in check.verdicts if v.layer < FAULT_AT)
