"""Sequential printing: the copies of a plate one after another, the head lifted between them, refused where the
head or the gantry would hit a finished copy; the job plan reads the file with or without layer markers."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from slicing import plan
from slicing.errors import SequentialError, SlicingError
from slicing.job_plan import parse_moves
from slicing.mesh import LoadedMesh
from slicing.profile import load_profile
from slicing.sequential import check_clearance
from slicing.slicer import slice_mesh_to_gcode
from slicing.toolpath import Feature

LAYERS = 25  # a 5 mm box in 0.2 mm layers


def sliced(copies: int, size: tuple[float, float, float] = (10, 10, 5), **sets: str) -> str:
    """G-code of `copies` boxes printed one after another."""
    box = trimesh.creation.box(size)
    profile = load_profile(overrides={"sequential": "true"} | sets)
    return slice_mesh_to_gcode(LoadedMesh(box, "box", (), ()), profile, copies=copies).gcode


@pytest.fixture(scope="module")
def three():
    """Three boxes printed one after another, and their job plan."""
    gcode = sliced(3)
    return gcode, plan(gcode)


def _owners(layer) -> set[int]:  # type: ignore[no-untyped-def]
    """The copies whose part a layer prints (skirt and brim belong to none)."""
    p = layer.paths
    part = (p.feature != Feature.SKIRT) & (p.feature != Feature.BRIM)
    return set(np.unique(p.objects[part]).tolist())


def test_each_copy_prints_all_its_layers_before_the_next_one_starts_on_the_bed(three):
    _, job = three
    assert len(job.layers) == 3 * LAYERS and [o.name for o in job.objects] == ["box_0", "box_1", "box_2"]
    for k, layer in enumerate(job.layers):
        assert _owners(layer) == {k // LAYERS}, k
        assert layer.z == pytest.approx(0.2 * (1 + k % LAYERS)) and layer.height == pytest.approx(0.2)
    # the tallest material printed so far: what a head moved across the bed must clear
    assert [job.layers[k].clear_z for k in (0, LAYERS - 1, LAYERS, 3 * LAYERS - 1)] == pytest.approx([0.2, 5, 5, 5])


def test_between_copies_the_head_rises_above_the_finished_ones_before_it_travels(three):
    gcode, job = three
    moves = parse_moves(gcode)
    s = moves.xyzef
    ext = np.zeros(len(s), dtype=bool)
    ext[1:] = (np.diff(s[:, 3]) > 1e-9) & (np.hypot(*np.diff(s[:, :2], axis=0).T) > 0)
    rows = np.flatnonzero(ext)
    z_ext = s[rows, 2]
    for k in (1, 2):
        first = rows[np.flatnonzero(z_ext[:-1] > z_ext[1:] + 1.0)[k - 1] + 1]  # first extrusion of copy k
        last = rows[np.searchsorted(rows, first) - 1]                           # last one of copy k-1
        between = np.arange(last + 1, first)
        xy_moved = np.hypot(*(s[between, :2] - s[between - 1, :2]).T) > 1e-6
        assert xy_moved.any()
        assert np.all(s[between[xy_moved], 2] >= 5.0 + 1.0), s[between]           # across only above the copies
        assert s[first - 1, 2] == pytest.approx(0.2)                             # then straight down
    lines = gcode.splitlines()
    lift = lines.index(f";LAYER:{LAYERS}")
    assert lines[lift + 1:lift + 3] == ["M486 S-1", "; stop printing object box_0"]  # the lift is no copy's
    command = int(np.searchsorted(job.command_line, lift + 4))
    assert job.command_object[command] == -1


def test_the_copies_stand_the_clearance_radius_apart(three):
    _, job = three
    boxes = []
    for k in range(3):
        segs = np.concatenate([lay.paths.segments[lay.paths.objects == k] for lay in job.layers])
        pts = segs.reshape(-1, 2)
        boxes.append((pts.min(axis=0), pts.max(axis=0)))
    for a in range(3):
        for b in range(a + 1, 3):
            gap = np.maximum(boxes[b][0] - boxes[a][1], boxes[a][0] - boxes[b][1]).max()
            assert gap >= 20.0 - 1e-6, (a, b, gap)


def test_the_job_plan_reads_the_same_layers_without_markers(three):
    gcode, job = three
    bare = plan("\n".join(line for line in gcode.splitlines() if not line.startswith(";LAYER:")))
    assert [round(layer.z, 3) for layer in bare.layers] == [round(layer.z, 3) for layer in job.layers]
    assert [_owners(layer) for layer in bare.layers] == [_owners(layer) for layer in job.layers]


def test_a_copy_taller_than_the_gantry_clearance_is_refused():
    with pytest.raises(SequentialError, match=r"5\.0 mm tall, taller than extruder_clearance_height = 4 mm"):
        sliced(2, extruder_clearance_height="4")
    assert "box_0" in sliced(1, extruder_clearance_height="4")  # one copy has nothing to hit


def test_copies_that_cannot_stand_the_clearance_radius_apart_are_refused():
    # nine 40 mm boxes fit a 220 mm bed 5 mm apart, but not 60 mm apart
    assert "box_8" in slice_mesh_to_gcode(LoadedMesh(trimesh.creation.box((40, 40, 1)), "box", (), ()),
                                          load_profile(), copies=9).gcode
    with pytest.raises(SlicingError, match="cannot stand extruder_clearance_radius = 60 mm apart"):
        sliced(9, (40, 40, 1), extruder_clearance_radius="60")


def test_copies_closer_than_the_clearance_radius_are_named():
    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    profile = load_profile()
    check_clearance(square, np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0]]), profile)
    with pytest.raises(SequentialError, match="copies 1 and 2 stand 15.0 mm apart"):
        check_clearance(square, np.array([[0.0, 0.0], [30.0, 0.0], [55.0, 0.0]]), profile)


def test_each_copys_first_layer_is_read_as_thick_as_the_first_layer():
    job = plan(sliced(2, (10, 10, 2), first_layer_height="0.3"))
    firsts = [layer for layer in job.layers if layer.z == pytest.approx(0.3)]
    assert len(firsts) == 2 and all(layer.height == pytest.approx(0.3) for layer in firsts)
    widths = np.concatenate([layer.paths.widths()[layer.paths.lengths() > 1] for layer in firsts])
    assert np.allclose(widths, 0.4, atol=0.01)
