"""Cooling: every layer of a small pin takes at least the minimum layer time, or prints at the minimum speed."""
from __future__ import annotations

import numpy as np
import trimesh

from slicing.job_plan import parse_moves
from slicing.mesh import LoadedMesh
from slicing.profile import load_profile
from slicing.slicer import slice_mesh_to_gcode


def layer_times(gcode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per layer, the extrusion time at the programmed feed rates (s) and the fastest extruding feed (mm/s)."""
    moves = parse_moves(gcode)
    s = moves.xyzef
    d = np.hypot(*(s[1:, 0:2] - s[:-1, 0:2]).T)
    ext = (s[1:, 3] - s[:-1, 3] > 1e-9) & (d > 0)
    layer = moves.layer[1:]
    n = int(layer.max()) + 1
    seconds = np.bincount(layer[ext], weights=d[ext] / s[1:, 4][ext], minlength=n)
    fastest = np.zeros(n)
    np.maximum.at(fastest, layer[ext], s[1:, 4][ext])
    return seconds, fastest


def pin_gcode(**sets: str) -> str:
    """G-code of a 3 × 3 × 20 mm pin."""
    pin = trimesh.creation.box((3, 3, 20))
    return slice_mesh_to_gcode(LoadedMesh(pin, "pin", (), ()), load_profile(overrides=sets)).gcode


def test_every_layer_of_a_pin_takes_the_minimum_layer_time_or_prints_at_the_minimum_speed():
    seconds, fastest = layer_times(pin_gcode(min_layer_time="5", min_print_speed="10"))
    slow_enough = seconds >= 5.0 - 0.05
    at_floor = fastest <= 10.0 + 1e-6
    assert np.all(slow_enough | at_floor), list(zip(seconds.round(2), fastest))
    # a layer of this pin is ~20 mm of line: at the 10 mm/s floor it takes ~2 s (0.4 s at full speed)
    assert np.median(seconds[1:]) > 1.5


def test_without_a_minimum_layer_time_the_pin_prints_at_full_speed():
    seconds, fastest = layer_times(pin_gcode(min_layer_time="0"))
    assert np.median(seconds[1:]) < 1.0 and np.median(fastest[1:]) == 50.0
