"""The part fan by layer time (min_fan_speed on long layers, max_fan_speed on short ones) and on bridges."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from slicing.cooling import fan_for_layer_time
from slicing.mesh import LoadedMesh
from slicing.profile import load_profile
from slicing.slicer import slice_mesh_to_gcode
from tests.support_parts import PARTS
from tests.test_slicer_overhangs import extrusions

FAN = {"min_fan_speed": "30", "max_fan_speed": "100", "fan_below_layer_time": "60", "min_layer_time": "5"}


def gcode_of(mesh: trimesh.Trimesh, **sets: str) -> str:
    """G-code of a mesh with the layer-time fan of FAN (and any other options)."""
    return slice_mesh_to_gcode(LoadedMesh(mesh, "part", (), ()), load_profile(overrides=FAN | sets)).gcode


def layer_fans(gcode: str) -> dict[int, set[float]]:
    """The fan S of every extruding move, by layer."""
    rows = extrusions(gcode)
    return {int(k): set(rows[rows[:, 0] == k, 6].tolist()) for k in np.unique(rows[:, 0])}


def test_the_pins_short_layers_run_the_fan_at_its_maximum():
    fans = layer_fans(gcode_of(trimesh.creation.box((3, 3, 20))))
    assert fans[0] == {0.0}                               # fan_start_layer = 2: off on the first layer
    assert all(fans[k] == {255.0} for k in fans if k >= 1), fans


def test_a_large_layer_runs_the_fan_at_its_minimum():
    fans = layer_fans(gcode_of(trimesh.creation.box((100, 100, 2))))
    # a 100 mm square layer takes minutes at 50 mm/s: past fan_below_layer_time, the fan at 30 % (S77)
    assert all(fans[k] == {77.0} for k in fans if k >= 1), fans


def test_a_layer_between_the_two_times_gets_a_fan_between():
    p = load_profile(overrides=FAN)
    assert fan_for_layer_time(120.0, p) == 30.0 and fan_for_layer_time(60.0, p) == 30.0
    assert fan_for_layer_time(5.0, p) == 100.0 and fan_for_layer_time(1.0, p) == 100.0
    assert fan_for_layer_time(32.5, p) == pytest.approx(65.0)  # half way: half way between the two fans
    mid = layer_fans(gcode_of(trimesh.creation.box((20, 20, 2))))
    inside = [s for k, f in mid.items() if k >= 1 for s in f]
    assert all(77 < s < 255 for s in inside), mid


def test_without_a_minimum_layer_time_the_fan_rises_up_to_zero_seconds():
    p = load_profile(overrides=FAN | {"min_layer_time": "0"})
    assert fan_for_layer_time(30.0, p) == pytest.approx(65.0) and fan_for_layer_time(0.0, p) == 100.0


def test_bridge_lines_run_with_the_bridge_fan_and_the_rest_without():
    sets = {"min_fan_speed": "40", "max_fan_speed": "40", "bridge_fan_speed": "90"}
    gcode = slice_mesh_to_gcode(LoadedMesh(PARTS["bridge"](), "bridge", (), ()), load_profile(overrides=sets)).gcode
    lines = gcode.splitlines()
    start = lines.index(";TYPE:BRIDGE")
    assert lines[start + 1] == "M106 S230"                # 90 % before the first bridge line
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(";TYPE:"))
    bridge = [line for line in lines[start + 2:end] if line.startswith("G1 ")]
    assert len(bridge) > 20 and not any(line.startswith(("M106", "M107")) for line in lines[start + 2:end])
    after = next(line for line in lines[end:] if line.startswith(("M106", "M107")))
    assert after == "M106 S102"                           # back to the layer's 40 % after the bridge


def test_the_one_fan_speed_of_older_profiles_sets_both_and_the_fan_options_are_checked():
    from slicing.errors import ProfileError

    p = load_profile(overrides={"fan_speed": "45"})
    assert (p.min_fan_speed, p.max_fan_speed) == (45.0, 45.0)
    with pytest.raises(ProfileError, match="'min_fan_speed' .* must not be above max_fan_speed"):
        load_profile(overrides={"min_fan_speed": "80", "max_fan_speed": "50"})
    with pytest.raises(ProfileError, match="'overhang_speeds' in --set must be a list of 4 numbers"):
        load_profile(overrides={"overhang_speeds": "[20, 10]"})
    with pytest.raises(ProfileError, match="'overhang_fans' in --set must have maximum of 100"):
        load_profile(overrides={"overhang_fans": "[0, 50, 100, 120]"})
    assert load_profile(overrides={"overhang_speeds": "[30, 20, 10, 5]"}).overhang_speeds == (30.0, 20.0, 10.0, 5.0)
