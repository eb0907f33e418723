"""Copies: one copy's toolpaths are translated to every plate position and all copies print in each layer."""
from __future__ import annotations

import numpy as np
import pytest

from slicing.errors import MeshError
from slicing.job_plan import read_gcode
from slicing.plate import arrange
from slicing.slicer import slice_file
from slicing.toolpath import Feature
from tests.conftest import MODELS

CUBE = MODELS / "20mm-xyz-cube.stl"


@pytest.fixture(scope="module")
def one_and_four():
    """The cube read back from G-code sliced with 1 and with 4 copies."""
    one = slice_file(CUBE)
    four = slice_file(CUBE, copies=4)
    return one, four, read_gcode(one.gcode), read_gcode(four.gcode)


def test_four_copies_print_the_cube_four_times_in_every_layer(one_and_four):
    one, four, job1, job4 = one_and_four
    assert four.copies == 4 and four.layer_count == one.layer_count == len(job4.layers)
    centres = arrange((20.0, 20.0), 4, (220.0, 220.0))
    for l1, l4 in zip(job1.layers, job4.layers):
        keep1, keep4 = l1.feature != Feature.SKIRT, l4.feature != Feature.SKIRT
        len1, len4 = np.sort(l1.lengths()[keep1]), np.sort(l4.lengths()[keep4])
        assert np.allclose(np.sort(np.tile(len1, 4)), len4, atol=2e-3), f"layer {l1.index}"
        assert l4.extrusion[keep4].sum() == pytest.approx(4 * l1.extrusion[keep1].sum(), rel=1e-4)
        mid = (l4.segments[keep4, :2] + l4.segments[keep4, 2:]) / 2
        owner = np.argmin(np.linalg.norm(mid[:, None, :] - centres[None], axis=2), axis=1)
        assert np.all(np.max(np.abs(mid - centres[owner]), axis=1) <= 10.0)
        counts = np.bincount(owner, minlength=4)
        assert np.all(counts == counts[0]) and counts[0] == keep1.sum()


def test_each_copy_is_the_single_copy_translated(one_and_four):
    _, _, job1, job4 = one_and_four
    centres = arrange((20.0, 20.0), 4, (220.0, 220.0))
    layer1, layer4 = job1.layers[50], job4.layers[50]
    walls1 = layer1.segments[layer1.feature == Feature.WALL_OUTER]
    walls4 = layer4.segments[layer4.feature == Feature.WALL_OUTER]
    for c in centres:
        shifted = walls1 + np.tile(c - 110.0, 2)
        rounded = {tuple(r) for r in np.round(walls4, 2)}
        assert all(tuple(r) in rounded for r in np.round(shifted, 2))


def test_skirt_surrounds_all_copies_on_the_first_layer(one_and_four):
    *_, job4 = one_and_four
    layer0 = job4.layers[0]
    skirt = layer0.segments[layer0.feature == Feature.SKIRT].reshape(-1, 2)
    part = layer0.segments[layer0.feature != Feature.SKIRT].reshape(-1, 2)
    assert skirt.min(axis=0) == pytest.approx(part.min(axis=0) - 3.4, abs=0.05)
    assert skirt.max(axis=0) == pytest.approx(part.max(axis=0) + 3.4, abs=0.05)


def test_too_many_copies_are_refused_clearly():
    with pytest.raises(MeshError):
        slice_file(CUBE, copies=200)


def test_each_copy_is_an_object_its_moves_labelled_and_the_skirt_no_ones(one_and_four):
    from slicing import plan

    _one, four, _j1, _j4 = one_and_four
    assert "M486 T4" in four.gcode and four.gcode.count("M486 S-1") >= 2
    job = plan(four.gcode)
    assert [o.name for o in job.objects] == [f"20mm-xyz-cube_{k}" for k in range(4)]
    centres = []
    for obj in job.objects:
        xy = []
        for k, c in enumerate(job.commands):
            if job.command_object[k] == obj.index and c.startswith("G1 ") and " E" in c and " X" in c:
                words = {w[0]: float(w[1:]) for w in c.split()[1:] if w[0] in "XY"}
                xy.append((words["X"], words["Y"]))
        pts = np.asarray(xy)
        assert np.ptp(pts[:, 0]) < 21 and np.ptp(pts[:, 1]) < 21    # one 20 mm cube's moves only
        centres.append(pts.mean(axis=0))
    assert len({(round(x), round(y)) for x, y in centres}) == 4
    first_layer = job.commands[job.layers[0].first_command:job.layers[1].first_command]
    owned = job.command_object[job.layers[0].first_command:job.layers[1].first_command]
    assert any(o == -1 for o, c in zip(owned, first_layer) if " E" in c)   # the skirt belongs to no copy
