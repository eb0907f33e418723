"""Slicer parts on hand-built polygons: walls, skins, fills, ordering, and the G-code writer's conventions."""
from __future__ import annotations

import re

import numpy as np
import pytest
import trimesh

from slicing.gcode_writer import LayerPlan, WriterState, write_layer, write_program
from slicing.infill import line_fill
from slicing.job_plan import read_gcode
from slicing.mesh import LoadedMesh
from slicing.order import order_loops, order_segments, travels_inside
from slicing.profile import load_profile
from slicing.regions import area, island_regions, islands, to_clipper
from slicing.slicer import slice_mesh_to_gcode
from slicing.toolpath import Feature


def square(x0: float, y0: float, size: float, ccw: bool = True) -> np.ndarray:
    """A square polygon, CCW (outer) or CW (hole)."""
    p = np.array([[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size]], dtype=float)
    return p if ccw else p[::-1]


def test_walls_are_offsets_of_the_outline_including_holes():
    (isl,) = islands([square(0, 0, 20), square(5, 5, 10, ccw=False)])
    reg = island_regions(isl, 0.4, 3, 0.04)
    assert len(reg.walls) == 3
    for k, loops in enumerate(reg.walls):
        inset = 0.2 + 0.4 * k
        outer = max(loops, key=lambda lp: np.ptp(lp[:, 0]))
        hole = min(loops, key=lambda lp: np.ptp(lp[:, 0]))
        assert outer.min() == pytest.approx(inset) and outer.max() == pytest.approx(20 - inset)
        assert hole.min() == pytest.approx(5 - inset) and hole.max() == pytest.approx(15 + inset)
    # inner area: 1.2 mm walls minus 0.04 overlap on both sides of the ring
    assert area(reg.inner) == pytest.approx((20 - 2 * 1.16) ** 2 - (10 + 2 * 1.16) ** 2, rel=1e-6)
    assert reg.thin_area == 0.0


def test_part_too_thin_for_a_wall_is_reported():
    (isl,) = islands([np.array([[0, 0], [20, 0], [20, 0.3], [0, 0.3]], dtype=float)])
    reg = island_regions(isl, 0.4, 2, 0.04)
    assert reg.walls == [] and reg.thin_area == pytest.approx(6.0)


def test_line_fill_covers_region_at_spacing_and_avoids_holes():
    region = to_clipper([square(0.13, 0.13, 20), square(5.13, 5.13, 10, ccw=False)])
    for angle in (0.0, 45.0, 90.0, 135.0):
        segs = line_fill(region, 0.5, (angle,))
        length = np.hypot(*(segs[:, 1] - segs[:, 0]).T).sum()
        assert length == pytest.approx(300.0 / 0.5, rel=0.03)
        mid = segs.mean(axis=1)
        assert not np.any((np.abs(mid - 10.13) < 4.99).all(axis=1)), "a line crosses the hole"
        assert np.all((segs >= 0.13 - 1e-9) & (segs <= 20.13 + 1e-9))


def test_grid_crosses_both_ways_and_lines_stack_across_layers():
    region = to_clipper([square(0.3, 0.7, 10)])
    grid = line_fill(region, 2.0, (0.0, 90.0))
    d = grid[:, 1] - grid[:, 0]
    assert (np.abs(d[:, 1]) < 1e-9).sum() == (np.abs(d[:, 0]) < 1e-9).sum() == 5
    shifted = line_fill(to_clipper([square(0.3, 0.7, 12)]), 2.0, (0.0,))
    assert set(np.round(grid[np.abs(d[:, 1]) < 1e-9, 0, 1], 6)) <= set(np.round(shifted[:, 0, 1], 6))


def test_segment_order_is_a_zigzag_permutation():
    segs = line_fill(to_clipper([square(0, 0, 10)]), 1.0, (0.0,))
    ordered, end = order_segments(segs, np.array([0.0, 0.0]))
    assert sorted(map(tuple, np.sort(ordered.reshape(-1, 4), axis=1))) == sorted(
        map(tuple, np.sort(segs.reshape(-1, 4), axis=1)))
    travel = np.hypot(*(ordered[1:, 0] - ordered[:-1, 1]).T)
    assert np.all(travel <= 1.0 + 1e-9)  # each travel is one scanline step: a zig-zag
    assert np.allclose(end, ordered[-1, 1])


def test_loops_start_at_aligned_or_nearest_seam():
    loops = [square(0, 0, 10), square(20, 0, 10)]
    ordered, _ = order_loops(loops, np.array([30.0, 0.0]), "aligned")
    assert [lp[0].tolist() for lp in ordered] == [[20.0, 10.0], [0.0, 10.0]]  # rear-left corners, nearer first
    assert all(np.allclose(lp[0], lp[-1]) for lp in ordered)
    ordered, _ = order_loops(loops, np.array([30.0, 0.0]), "nearest")
    assert np.allclose(ordered[0][0], [30.0, 0.0])  # the nearer loop first, from its nearest corner


def test_travel_inside_check_sees_outline_crossings():
    a = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    b = np.roll(a, -1, axis=0)
    inside = travels_inside(np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([[9.0, 9.0], [15.0, 5.0]]), a, b)
    assert inside.tolist() == [True, False]


def _plan() -> LayerPlan:
    paths = [square(10, 10, 10)[[0, 1, 2, 3, 0]], np.array([[11.0, 11.0], [19.0, 11.0]]),
             np.array([[50.0, 50.0], [60.0, 50.0]])]
    return LayerPlan.from_paths(1, 0.4, 0.2, paths, np.array([Feature.WALL_OUTER, Feature.FILL, Feature.FILL]))


@pytest.mark.parametrize("relative", [False, True])
def test_writer_extrusion_retraction_and_modes(relative):
    profile = load_profile(overrides={"relative_e": str(relative).lower(), "z_hop": "0.5"})
    state = WriterState()
    text, states = write_layer(_plan(), profile, state)
    e_per_mm = 0.4 * 0.2 / profile.filament_area
    assert state.extruded == pytest.approx(e_per_mm * (40 + 8 + 10))
    lines = text.splitlines()
    retracts = [ln for ln in lines if re.fullmatch(r"G1 F2400 E-?[\d.]+", ln)]
    assert len(retracts) == 4  # home → square and fill → far line: retract and prime each
    assert lines.count("G0 F9000 Z0.900") == 2 and lines.count("G0 F9000 Z0.400") == 2
    es = [float(m) for m in re.findall(r"E(-?[\d.]+)", text)]
    if relative:
        assert sum(es) == pytest.approx(state.extruded, abs=1e-4)
    else:
        assert max(es) == pytest.approx(state.extruded, abs=1e-4)
    assert states[-1, 3] == pytest.approx(state.extruded)
    assert ";TYPE:WALL-OUTER" in lines and lines.count(";TYPE:FILL") == 1


def test_program_has_temperatures_before_start_gcode_and_fan_from_layer_two():
    profile = load_profile()
    first = [np.array([[10.0, 10.0], [20.0, 10.0]])]
    plans = [LayerPlan.from_paths(0, 0.2, 0.2, first, np.array([Feature.SKIRT])), _plan()]
    text = write_program(plans, profile).body
    order = [text.index(s) for s in ("M140 S60", "M190 S60", "M104 S200", "M109 S200", "M82", "G28 ; home",
                                      ";LAYER_COUNT:2", ";LAYER:0", "M107", ";LAYER:1", "M106 S255", "M84")]
    assert order == sorted(order)
    assert "F1500" in text.split(";LAYER:1")[0]  # first layer at 25 mm/s
    assert "F3000" in text.split(";LAYER:1")[1]  # later layers at 50 mm/s


def test_writer_output_reads_back_to_the_same_segments():
    profile = load_profile()
    plan = _plan()
    body = write_program([plan], profile).body
    (layer,) = read_gcode(body).layers
    expected = [np.concatenate([p[:-1], p[1:]], axis=1) for p in plan.paths]
    assert np.allclose(layer.segments, np.concatenate(expected), atol=1e-3)
    feats = np.repeat(plan.features, [len(p) - 1 for p in plan.paths])
    assert layer.feature.tolist() == feats.tolist()


def test_box_has_solid_skins_at_bottom_and_top_and_sparse_fill_between():
    loaded = LoadedMesh(trimesh.creation.box((20, 20, 4)), "box", (), ())
    job = read_gcode(slice_mesh_to_gcode(loaded, load_profile()).gcode)
    assert len(job.layers) == 20
    for layer in job.layers:
        has_skin = (layer.feature == Feature.SKIN).any()
        has_fill = (layer.feature == Feature.FILL).any()
        solid = layer.index < 3 or layer.index >= 17
        assert has_skin == solid and has_fill == (not solid), f"layer {layer.index}"


def test_brim_option_adds_loops_inside_the_skirt():
    profile = load_profile(overrides={"brim_width": "2"})
    loaded = LoadedMesh(trimesh.creation.box((10, 10, 1)), "box", (), ())
    layer0 = read_gcode(slice_mesh_to_gcode(loaded, profile).gcode).layers[0]
    brim = layer0.segments[layer0.feature == Feature.BRIM].reshape(-1, 2)
    skirt = layer0.segments[layer0.feature == Feature.SKIRT].reshape(-1, 2)
    assert brim.max(axis=0) == pytest.approx([115 + 1.8, 115 + 1.8], abs=0.01)  # 5 loops, outermost at 1.8
    assert brim.min(axis=0) == pytest.approx([105 - 1.8, 105 - 1.8], abs=0.01)
    assert skirt.max(axis=0) == pytest.approx([115 + 2 + 3.2, 115 + 2 + 3.2], abs=0.01)
    assert len(np.unique(np.round(np.hypot(*(brim - 110).T), 1))) >= 5


def _travels(text: str) -> list[tuple[float, bool, float]]:
    """(length, retracted, distance of the midpoint from the bed centre) of every XY travel in a G-code text."""
    out = []
    x = y = 0.0
    retracted = False
    for line in text.splitlines():
        if line.startswith("G1 F2400 E"):
            retracted = not retracted
        m = re.match(r"G([01]) (?:F\d+ )?X(-?[\d.]+) Y(-?[\d.]+)", line)
        if m:
            nx, ny = float(m.group(2)), float(m.group(3))
            if m.group(1) == "0":
                mid = float(np.hypot((nx + x) / 2 - 110.0, (ny + y) / 2 - 110.0))
                out.append((float(np.hypot(nx - x, ny - y)), retracted, mid))
            x, y = nx, ny
    return out


@pytest.mark.parametrize("combing", [False, True])
def test_long_travels_retract_unless_combing_keeps_them_inside(combing):
    profile = load_profile(overrides={"combing": str(combing).lower()})
    ring = trimesh.creation.annulus(r_min=8, r_max=15, height=2, sections=48)
    travels = _travels(slice_mesh_to_gcode(LoadedMesh(ring, "ring", (), ()), profile).gcode)
    long = [r for d, r, _ in travels if d > 1.5]
    assert all(not r for d, r, _ in travels if d <= 1.5)
    if combing:
        assert 0 < sum(long) < len(long)
        # a travel that skips retraction never crosses the hole of the ring
        assert all(mid > 8.0 for d, r, mid in travels if d > 1.5 and not r)
    else:
        assert long and all(long)


def test_spans_are_ordered_in_monotone_zigzag_chains():
    from slicing.infill import line_fill_indexed
    from slicing.order import order_spans

    # a U: the slot splits the upper scanlines into two legs, each finished before the other is started
    u_shape = np.array([[0, 0], [10, 0], [10, 10], [7, 10], [7, 3], [3, 3], [3, 10], [0, 10]], float) + 0.05
    segs, lines = line_fill_indexed(to_clipper([u_shape]), 1.0, (0.0,))
    ordered, _ = order_spans(segs, lines, np.array([0.0, 0.0]))
    assert sorted(map(tuple, np.sort(ordered.reshape(-1, 4), axis=1).round(9))) == sorted(
        map(tuple, np.sort(segs.reshape(-1, 4), axis=1).round(9)))
    travel = np.hypot(*(ordered[1:, 0] - ordered[:-1, 1]).T)
    assert (travel > 1.0 + 1e-9).sum() == 1  # only the jump from the end of one leg to the other leg
    legs = ordered[:, 0, 0] > 5
    upper = ordered[:, 0, 1] > 3.1
    changes = np.flatnonzero(np.diff(legs[upper].astype(int)))
    assert len(changes) == 1  # one leg completely, then the other


def test_skirt_that_would_leave_the_bed_is_left_out_with_a_warning():
    loaded = LoadedMesh(trimesh.creation.box((219.8, 100, 0.6)), "plate", (), ())
    result = slice_mesh_to_gcode(loaded, load_profile(overrides={"brim_width": "1"}))
    assert any("skirt left out" in w for w in result.warnings)
    assert any("brim left out" in w for w in result.warnings)
    assert result.bounds[0] >= 0 and result.bounds[3] <= 220
    assert ";TYPE:SKIRT" not in result.gcode
