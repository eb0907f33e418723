"""Object labels: every copy on a plate is an object for every host (Marlin's M486, PrusaSlicer's comments, Klipper's
EXCLUDE_OBJECT_*), and the job plan reads our labelled file into those same objects."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from shapely.geometry import Point, Polygon

from slicing import plan
from slicing.profile import load_profile
from slicing.slicer import slice_file
from slicing.toolpath import Feature
from tests.conftest import MODELS

_DEFINE = re.compile(r"^EXCLUDE_OBJECT_DEFINE NAME=(\S+) CENTER=(\S+),(\S+) POLYGON=(\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def six():
    """Six cubes on one plate, sliced for Marlin and read back through the job plan."""
    result = slice_file(MODELS / "20mm-xyz-cube.stl", copies=6)
    return result.gcode, plan(result.gcode)


@pytest.fixture(scope="module")
def six_klipper():
    """The same plate sliced for Klipper, read back through the job plan."""
    result = slice_file(MODELS / "20mm-xyz-cube.stl", profile=load_profile(overrides={"flavor": '"klipper"'}),
                        copies=6)
    return result.gcode, plan(result.gcode)


def _extrusions(job):
    """(x, y, feature, object) of the end of every extruding XY move, the object as the job plan gives it."""
    paths = [layer.paths for layer in job.layers if len(layer.paths.segments)]
    return np.column_stack([np.concatenate([p.segments[:, 2:] for p in paths]),
                            np.concatenate([p.feature for p in paths]),
                            np.concatenate([p.objects for p in paths])])


def test_a_six_copy_plate_has_six_objects_named_by_m486_and_comments_for_marlin(six):
    gcode, job = six
    names = [o.name for o in job.objects]
    assert names == [f"20mm-xyz-cube_{k}" for k in range(6)]
    assert "M486 T6" in gcode and "EXCLUDE_OBJECT" not in gcode
    for k, name in enumerate(names):
        assert f"M486 S{k}\nM486 A{name}\n" in gcode
        assert gcode.count(f"; printing object {name}\n") == gcode.count(f"; stop printing object {name}\n") > 0
        assert gcode.count(f"; printing object {name}\nM486 S{k}\n") == gcode.count(f"; printing object {name}\n")
    assert max(len(line) for line in gcode.splitlines() if not line.startswith(";")) <= 96  # Marlin's MAX_CMD_SIZE


def test_for_klipper_each_copy_is_defined_with_its_outline_and_started_and_ended(six_klipper, six):
    gcode, job = six_klipper
    names = [o.name for o in job.objects]
    assert names == [o.name for o in six[1].objects] and "M486" not in gcode
    assert [m[0] for m in _DEFINE.findall(gcode)] == names
    for name in names:
        starts = gcode.count(f"; printing object {name}\nEXCLUDE_OBJECT_START NAME={name}\n")
        assert starts == gcode.count(f"EXCLUDE_OBJECT_END NAME={name}\n; stop printing object {name}\n") > 0


@pytest.mark.parametrize("which", ["six", "six_klipper"])
def test_every_extruding_move_of_a_copy_lies_inside_exactly_one_object(which, request, six_klipper):
    _, job = request.getfixturevalue(which)
    gcode, _ = six_klipper
    outlines = {m[0]: Polygon(json.loads(m[3])).buffer(0.01) for m in _DEFINE.findall(gcode)}
    by_index = {o.index: outlines[o.name] for o in job.objects}
    rows = _extrusions(job)
    part = rows[(rows[:, 2] != Feature.SKIRT) & (rows[:, 2] != Feature.BRIM)]
    assert len(part) and np.all(part[:, 3] >= 0)                            # every part move belongs to a copy
    for x, y, _f, owner in part[:: max(1, len(part) // 4000)]:
        inside = [k for k, poly in by_index.items() if poly.contains(Point(x, y))]
        assert inside == [int(owner)], (x, y, owner, inside)
    skirt = rows[rows[:, 2] == Feature.SKIRT]
    assert len(skirt) and np.all(skirt[:, 3] == -1)                          # the skirt is no copy's


@pytest.mark.parametrize("which", ["six", "six_klipper"])
def test_the_plan_reads_the_labels_the_same_from_comments_alone(which, request):
    gcode, job = request.getfixturevalue(which)
    comments_only = "\n".join(line for line in gcode.splitlines()
                              if not line.startswith(("M486", "EXCLUDE_OBJECT")))
    again = plan(comments_only)
    assert sorted(o.name for o in again.objects) == sorted(o.name for o in job.objects)
    name_again = {o.index: o.name for o in again.objects} | {-1: ""}
    name_job = {o.index: o.name for o in job.objects} | {-1: ""}
    owners_again = [name_again[int(k)] for k in _extrusions(again)[:, 3]]
    assert owners_again == [name_job[int(k)] for k in _extrusions(job)[:, 3]]
