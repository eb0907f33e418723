"""Overhangs: walls over air slow down and get more fan by how much of their width hangs over the layer below."""
from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import trimesh

from slicing.mesh import LoadedMesh
from slicing.overhangs import hang_zones, layer_hangs, split_wall, wall_hangs
from slicing.profile import load_profile
from slicing.regions import to_clipper
from slicing.slicer import slice_mesh_to_gcode
from tests.support_parts import PARTS

_MOVE = re.compile(r"^G1 (?:F(\d+) )?X([-\d.]+) Y([-\d.]+) E")
FAN = {"min_fan_speed": "40", "max_fan_speed": "40"}  # a steady 40 % (S102), so an overhang's fan stands out


def extrusions(gcode: str) -> np.ndarray:
    """Rows (layer, x0, y0, x1, y1, feed mm/min, fan S, outer wall?) of every extruding XY move."""
    rows, layer, feed, fan, outer, x, y = [], -1, 0.0, 0.0, False, 0.0, 0.0
    for line in gcode.splitlines():
        if line.startswith(";LAYER:"):
            layer = int(line[7:])
        elif line.startswith(";TYPE:"):
            outer = line == ";TYPE:WALL-OUTER"
        elif line.startswith("M106 S"):
            fan = float(line[6:])
        elif line.startswith("M107"):
            fan = 0.0
        elif line.startswith(("G0", "G1")):
            m = _MOVE.match(line)
            if m:
                feed = float(m.group(1)) if m.group(1) else feed
                nx, ny = float(m.group(2)), float(m.group(3))
                rows.append((layer, x, y, nx, ny, feed, fan, outer))
                x, y = nx, ny
                continue
            f = re.search(r"\bF(\d+)", line)
            feed = float(f.group(1)) if f and line.startswith("G1 F") and " X" in line else feed
            for axis, value in re.findall(r"\b([XY])([-\d.]+)", line):
                x, y = (float(value), y) if axis == "X" else (x, float(value))
    return np.asarray(rows, dtype=np.float64)


def sliced(part: str, **sets: str) -> str:
    """G-code of one of the support parts (no support) with the steady test fan."""
    return slice_mesh_to_gcode(LoadedMesh(PARTS[part](), part, (), ()), load_profile(overrides=FAN | sets)).gcode


def leaning_side(rows: np.ndarray, lean_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Outer-wall moves of layers 5-45 on the side that leans out by lean_deg along +X (along Y at the layer's
    largest x), and on the opposite, vertical side (along Y at x = its smallest)."""
    lay = rows[(rows[:, 0] >= 5) & (rows[:, 0] <= 45) & (rows[:, 7] == 1)]
    along_y = np.abs(lay[:, 1] - lay[:, 3]) < 1e-6
    out, back = [], []
    for k in np.unique(lay[:, 0]):
        r = lay[(lay[:, 0] == k) & along_y]
        out.append(r[np.isclose(r[:, 1], r[:, 1].max())])
        back.append(r[np.isclose(r[:, 1], r[:, 1].min())])
    side, other = np.concatenate(out), np.concatenate(back)
    reach = 10.0 * math.tan(math.radians(lean_deg))
    assert np.ptp(side[:, 1]) > 0.8 * 40 * 0.2 * reach / 10.0  # it is the leaning side: it moves out layer by layer
    return side, other


@pytest.fixture(scope="module")
def chamfer60() -> str:
    """The block whose side leans out 60° from vertical (87 % of a line width over air on every layer)."""
    return sliced("chamfer60")


def test_a_60_degree_overhang_wall_prints_at_the_last_quartiles_speed_and_full_fan(chamfer60):
    side, other = leaning_side(extrusions(chamfer60), 60.0)
    assert np.all(side[:, 5] == 15 * 60)             # overhang_speeds[3]: 15 mm/s for 75-100 % over air
    assert np.all(side[:, 6] == 255)                 # overhang_fans[3]: 100 %
    assert np.all(other[:, 5] == 50 * 60)            # the vertical side at the outer-wall speed
    assert np.all(other[:, 6] == 102)                # and the layer's 40 % fan


def test_the_overhang_fan_is_raised_before_the_overhang_and_put_back_after(chamfer60):
    lines = chamfer60.splitlines()
    start = lines.index(";LAYER:25")
    end = lines.index(";LAYER:26")
    fans = [line for line in lines[start:end] if line.startswith(("M106", "M107"))]
    assert "M106 S255" in fans and fans[-1] == "M106 S102"
    slow = next(i for i in range(start, end) if lines[i].startswith("G1 F900 "))
    assert lines[slow - 1] == "M106 S255"


def test_a_40_degree_overhang_wall_gets_its_quartiles_speed():
    side, other = leaning_side(extrusions(sliced("chamfer40")), 40.0)
    # 0.2 mm · tan 40° = 0.17 mm, 42 % of the 0.4 mm line over air: the 25-50 % quartile
    assert np.all(side[:, 5] == 25 * 60) and np.all(side[:, 6] == 153)
    assert np.all(other[:, 5] == 50 * 60)


def test_the_quartiles_speeds_and_fans_come_from_the_profile():
    side, _ = leaning_side(extrusions(sliced("chamfer40", overhang_speeds="[40, 30, 10, 5]",
                                             overhang_fans="[0, 90, 95, 100]")), 40.0)
    assert np.all(side[:, 5] == 30 * 60) and np.all(side[:, 6] == 230)


def test_overhangs_off_print_every_wall_at_its_speed(chamfer60):
    rows = extrusions(sliced("chamfer60", overhangs="false"))
    walls = rows[(rows[:, 0] >= 1) & (rows[:, 7] == 1)]
    assert np.all(walls[:, 5] == 50 * 60) and np.all(walls[:, 6] == 102)


def test_a_shelfs_first_layer_walls_over_air_are_slowed_and_the_post_below_is_not():
    rows = extrusions(sliced("shelf"))
    first = rows[(rows[:, 0] == 80) & (rows[:, 7] == 1)]  # the shelf's first layer, z = 16.2
    beyond = np.maximum(first[:, 1], first[:, 3]) > 110.0 + 0.5  # past the post's edge (x 100..110 on the bed)
    slow = first[(first[:, 1] > 110.5) & (first[:, 3] > 110.5)]
    assert len(slow) and np.all(slow[:, 5] == 15 * 60) and np.all(slow[:, 6] == 255)
    post = rows[(rows[:, 0] > 1) & (rows[:, 0] < 78) & (rows[:, 7] == 1)]
    assert np.all(post[:, 5] == 50 * 60) and np.all(post[:, 6] == 102) and beyond.any()


def test_a_box_has_no_overhang_anywhere():
    box = trimesh.creation.box((12, 8, 6))
    rows = extrusions(slice_mesh_to_gcode(LoadedMesh(box, "box", (), ()), load_profile(overrides=FAN)).gcode)
    walls = rows[(rows[:, 0] >= 1) & (rows[:, 7] == 1)]
    assert np.all(walls[:, 5] == 50 * 60) and np.all(walls[:, 6] == 102)


def test_a_wall_is_split_where_its_hang_changes_and_keeps_its_shape():
    below = to_clipper([np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])])
    # the layer above reaches 0.25 mm past the right side: its outer wall, centred 0.2 mm inside, hangs
    # (0.05 + 0.2) / 0.4 = 62.5 % of its width over air on that side only
    outline = to_clipper([np.array([[0.0, 0.0], [10.25, 0.0], [10.25, 10.0], [0.0, 10.0]])])
    zones = hang_zones(outline, below, 0.4)
    assert zones is not None
    loop = np.array([[0.2, 9.8], [0.2, 0.2], [10.05, 0.2], [10.05, 9.8]])
    wall = np.vstack([loop, loop[:1]])
    hangs = wall_hangs(loop, zones)
    pieces, classes = split_wall(loop, 0, hangs, 0.4)
    assert np.allclose(np.concatenate([p[:-1] for p in pieces] + [pieces[-1][-1:]]).min(axis=0), [0.2, 0.2])
    for a, b in itertools.pairwise(pieces):
        assert np.array_equal(a[-1], b[0])            # pieces join end to end
    right = [c for p, c in zip(pieces, classes) if np.allclose(p[:, 0], 10.05)]
    assert right and set(right) == {3}                 # the 50-75 % quartile
    assert classes[0] == 0 and classes[-1] == 0
    assert hang_zones(below, below, 0.4) is None
    assert wall_hangs(loop, hang_zones(outline, below, 0.4)) is not None
    held = to_clipper([np.array([[0.0, 0.0], [10.5, 0.0], [10.5, 10.0], [0.0, 10.0]])])
    assert wall_hangs(loop, hang_zones(outline, held, 0.4)) is None
    only, cls = split_wall(loop, 0, None, 0.4)
    assert len(only) == 1 and np.array_equal(only[0], wall) and cls == [0]


def test_a_wall_splits_the_same_wherever_its_loop_starts():
    below = to_clipper([np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])])
    outline = to_clipper([np.array([[0.0, 0.0], [10.25, 0.0], [10.25, 10.0], [0.0, 10.0]])])
    loop = np.array([[0.2, 9.8], [0.2, 0.2], [10.05, 0.2], [10.05, 9.8]])
    zones = hang_zones(outline, below, 0.4)
    hangs = wall_hangs(loop, zones)
    reference, _ = split_wall(loop, 0, hangs, 0.4)
    for start in range(1, len(loop)):
        pieces, classes = split_wall(loop, start, hangs, 0.4)
        assert np.array_equal(pieces[0][0], loop[start]) and np.array_equal(pieces[-1][-1], loop[start])
        rotated = np.vstack([loop[start:], loop[:start]])  # the same loop from another vertex: same classes there
        again = wall_hangs(rotated, zones)
        assert again is not None
        assert classes == split_wall(rotated, 0, again, 0.4)[1]
        right = {c for p, c in zip(pieces, classes) if np.allclose(p[:, 0], 10.05)}
        assert right == {3}
    assert sum(len(p) for p in reference) >= len(loop)


def test_the_loops_of_a_layer_tested_at_once_get_each_its_own_classes():
    below = to_clipper([np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])])
    outline = to_clipper([np.array([[-0.3, 0.0], [10.25, 0.0], [10.25, 10.0], [-0.3, 10.0]])])
    zones = hang_zones(outline, below, 0.4)
    right = np.array([[0.2, 9.8], [0.2, 0.2], [10.05, 0.2], [10.05, 9.8]])
    left = np.array([[-0.1, 9.8], [-0.1, 0.2], [3.0, 0.2], [3.0, 9.8]])
    held = np.array([[4.0, 6.0], [4.0, 4.0], [6.0, 4.0], [6.0, 6.0]])
    far = np.array([[40.0, 46.0], [40.0, 44.0], [46.0, 44.0]])
    loops = [right, held, left, far, held[:1]]
    alone = [wall_hangs(loop, zones) for loop in loops]
    together = layer_hangs(loops, zones)
    assert [a is None for a in alone] == [False, True, False, True, True]
    assert all(a is None and b is None or np.array_equal(a, b) for a, b in zip(alone, together))
    assert together[0].max() == 3 and together[2].max() >= 3 and together[0].min() == together[2].min() == 0
