"""Property tests on random boxes and cylinders: layers, walls at half a line inside, moves on the bed."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slicing.job_plan import read_gcode
from slicing.mesh import LoadedMesh
from slicing.profile import load_profile
from slicing.slicer import slice_mesh_to_gcode
from slicing.toolpath import Feature

PROFILE = load_profile()
FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _slice(mesh: trimesh.Trimesh):
    result = slice_mesh_to_gcode(LoadedMesh(mesh, "shape", (), ()), PROFILE)
    return result, read_gcode(result.gcode)


@FAST
@given(st.floats(3, 80), st.floats(3, 80), st.floats(0.6, 6))
def test_random_box(x, y, z):
    result, job = _slice(trimesh.creation.box((x, y, z)))
    assert abs(result.layer_count - z / 0.2) <= 0.51
    wall = job.layers[0].segments[job.layers[0].feature == Feature.WALL_OUTER].reshape(-1, 2)
    assert wall.min(axis=0) == pytest.approx([110 - x / 2 + 0.2, 110 - y / 2 + 0.2], abs=1e-3)
    assert wall.max(axis=0) == pytest.approx([110 + x / 2 - 0.2, 110 + y / 2 - 0.2], abs=1e-3)
    part = sum(layer.extrusion[layer.feature != Feature.SKIRT].sum() for layer in job.layers)
    volume = part * PROFILE.filament_area
    printed = x * y * result.layer_count * 0.2  # the last layer is rounded to whole layers
    assert 0.2 * printed < volume < 1.05 * printed
    lo, hi = np.array(result.bounds[:2]), np.array(result.bounds[3:5])
    assert np.all(lo >= 0) and np.all(hi <= 220)


@FAST
@given(st.floats(2, 40), st.floats(0.6, 6))
def test_random_cylinder(radius, height):
    mesh = trimesh.creation.cylinder(radius=radius, height=height, sections=64)
    result, job = _slice(mesh)
    assert abs(result.layer_count - height / 0.2) <= 0.51
    for layer in job.layers:
        wall = layer.segments[layer.feature == Feature.WALL_OUTER].reshape(-1, 2)
        r = np.hypot(wall[:, 0] - 110, wall[:, 1] - 110)
        # vertices of the 64-gon inset by 0.2 lie 0.2/cos(pi/64) inside its corners
        assert np.allclose(r, radius - 0.2 / np.cos(np.pi / 64), atol=2e-3)
