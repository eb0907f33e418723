"""The slicer on every shared model: layer count, moves on the bed, E from volume, reader round trip."""
from __future__ import annotations

import re
from functools import cache

import numpy as np
import pytest
import trimesh

from slicing.job_plan import read_gcode
from slicing.profile import load_profile
from slicing.slicer import SliceResult, slice_file
from slicing.thin import MAX_WIDTH, MIN_WIDTH
from slicing.toolpath import Feature
from tests.conftest import MODELS

MODEL_NAMES = sorted(p.name for p in MODELS.glob("*.stl"))
_MOVE = re.compile(r"^G[01] [^;\n]*", re.MULTILINE)
_AXIS = re.compile(r"([XYZ])(-?\d+\.?\d*)")


@cache
def sliced(name: str) -> SliceResult:
    """Slice a shared model once per test session with the default profile."""
    return slice_file(MODELS / name)


@cache
def read_back(name: str):
    """Our G-code of a model read back by the project's G-code reader."""
    return read_gcode(sliced(name).gcode)


def test_models_folder_has_the_shared_meshes():
    assert {"20mm-xyz-cube.stl", "3DBenchy.stl", "teapot.stl"} <= set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_layer_count_matches_model_height(name):
    height = float(np.ptp(trimesh.load(MODELS / name, force="mesh").bounds[:, 2]))
    result = sliced(name)
    assert abs(result.layer_count - height / 0.2) <= 0.51
    assert f";LAYER_COUNT:{result.layer_count}" in result.gcode
    markers = re.findall(r"^;LAYER:(\d+)$", result.gcode, re.MULTILINE)
    assert [int(m) for m in markers] == list(range(result.layer_count))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_move_lies_on_the_bed(name):
    result = sliced(name)
    coords: dict[str, list[float]] = {"X": [], "Y": [], "Z": []}
    for line in _MOVE.findall(result.gcode):
        for axis, value in _AXIS.findall(line):
            coords[axis].append(float(value))
    x, y, z = (np.array(coords[a]) for a in "XYZ")
    assert len(x) > 100 and len(x) == len(y)
    assert x.min() >= 0 and x.max() <= 220 and y.min() >= 0 and y.max() <= 220
    assert z.min() > 0 and z.max() <= 250
    bx0, by0, bz0, bx1, by1, bz1 = result.bounds
    assert 0 <= bx0 < bx1 <= 220 and 0 <= by0 < by1 <= 220 and 0 < bz0 <= bz1 <= 250


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gcode_reads_back_with_extrusion_from_volume(name):
    result = sliced(name)
    job = read_back(name)
    assert len(job.layers) == result.layer_count
    assert job.flavor and job.flavor.lower() == "marlin"
    assert job.estimated_time_s == pytest.approx(result.estimated_time_s, abs=1)
    total = 0.0
    n_same = n_all = 0
    for layer in job.layers:
        lengths = layer.lengths()
        expected = 0.4 * layer.height * lengths / (np.pi * 0.875**2)
        # coordinates are written to 1 µm and E to 0.01 µm: allow that rounding
        same = np.isclose(layer.extrusion, expected, rtol=1e-3, atol=2e-4)
        # gap fill and thin walls (inner walls) have the width of their strip, within the limits of slicing/thin.py
        widths = layer.widths()[~same]
        assert np.all(layer.feature[~same] == Feature.WALL_INNER), f"layer {layer.index}"
        assert np.all((widths > 0.4 * MIN_WIDTH * 0.99) & (widths < 0.4 * MAX_WIDTH * 1.01)), f"layer {layer.index}"
        n_same += int(same.sum())
        n_all += len(same)
        total += layer.extrusion.sum()
    assert n_same > 0.95 * n_all  # most lines are of the line width
    assert total == pytest.approx(result.filament_mm, rel=1e-4)
    assert result.filament_g == pytest.approx(result.filament_mm * np.pi * 0.875**2 * 1.24e-3, rel=1e-9)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_layer_has_walls_and_annotated_features(name):
    job = read_back(name)
    printed = [layer for layer in job.layers if len(layer.segments)]
    assert len(printed) >= 0.9 * len(job.layers)
    assert (job.layers[0].feature == Feature.SKIRT).any()
    for layer in printed:
        assert not (layer.feature == Feature.OTHER).any()
    walls = sum(int((layer.feature == Feature.WALL_OUTER).any()) for layer in printed)
    assert walls >= 0.9 * len(printed)


def test_cube_first_layer_outer_wall_is_outline_inset_by_half_a_line():
    layer0 = read_back("20mm-xyz-cube.stl").layers[0]
    segs = layer0.segments[layer0.feature == Feature.WALL_OUTER]
    pts = segs.reshape(-1, 2)
    cheb = np.max(np.abs(pts - 110.0), axis=1)  # the cube is centred on the 220 mm bed
    square = cheb > 9.0  # the rest is the engraved Z on the bottom face
    assert np.all(np.abs(cheb[square] - 9.8) <= 0.05)
    on_square = square.reshape(-1, 2).all(axis=1)
    assert np.hypot(*(segs[on_square, 2:] - segs[on_square, :2]).T).sum() == pytest.approx(4 * 19.6, abs=0.1)


def test_cube_at_full_infill_extrudes_its_volume():
    profile = load_profile(overrides={"infill_density": "100"})
    result = slice_file(MODELS / "20mm-xyz-cube.stl", profile)
    volume = trimesh.load(MODELS / "20mm-xyz-cube.stl", force="mesh").volume
    extruded = result.filament_mm * profile.filament_area
    assert extruded == pytest.approx(volume, rel=0.05)


def test_header_carries_time_filament_and_layer_height():
    text = sliced("20mm-xyz-cube.stl").gcode
    head = text[:600]
    assert head.startswith(";FLAVOR:Marlin\n")
    assert re.search(r"^;TIME:\d+$", head, re.MULTILINE)
    assert re.search(r"^;Filament used: \d+\.\d+m$", head, re.MULTILINE)
    assert re.search(r"^;Filament weight: \d+\.\d+g$", head, re.MULTILINE)
    assert ";Layer height: 0.2" in head


@pytest.mark.parametrize("name", ["20mm-xyz-cube.stl", "torus_mm.stl"])
def test_reader_recovers_exactly_the_paths_the_writer_emitted(name):
    from slicing.gcode_writer import write_program
    from slicing.layers import build_layers
    from slicing.mesh import load_mesh, place_on_bed
    from slicing.planner import plan_layers
    from slicing.sections import layer_tops, mid_planes, slice_mesh

    profile = load_profile(overrides={"z_hop": "0.3", "seam": '"nearest"'})
    mesh = place_on_bed(load_mesh(MODELS / name).mesh, (220, 220, 250))
    tops = layer_tops(float(mesh.bounds[1, 2]), 0.2, 0.2)
    layers = build_layers(slice_mesh(mesh, mid_planes(tops)), profile)
    plans = plan_layers(layers, tops, np.zeros((1, 2)), profile)
    job = read_gcode(write_program(plans, profile).body)
    assert len(job.layers) == len(plans)
    for plan, layer in zip(plans, job.layers):
        segs = np.concatenate([np.concatenate([p[:-1], p[1:]], axis=1) for p in plan.paths])
        feats = np.repeat(plan.features, [len(p) - 1 for p in plan.paths])
        assert layer.z == pytest.approx(plan.z) and layer.height == pytest.approx(plan.height)
        assert layer.segments.shape == segs.shape, f"layer {plan.index}"
        assert np.allclose(layer.segments, segs, atol=6e-4)
        assert layer.feature.tolist() == feats.tolist()


@pytest.mark.parametrize(
    "overrides",
    [
        {"perimeters": "0"},
        {"top_layers": "0", "bottom_layers": "0"},
        {"infill_density": "0"},
        {"skirt_loops": "0"},
        {"first_layer_height": "0.3"},
        {"relative_e": "true"},
        {"layer_height": "0.1", "first_layer_height": "0.1"},
        {"retract_length": "0", "fan_speed": "0", "overhang_fans": "[0, 0, 0, 0]"},
    ],
)
def test_settings_keep_extrusion_consistent_with_line_width(overrides):
    profile = load_profile(overrides=overrides)
    result = slice_file(MODELS / "20mm-xyz-cube.stl", profile)
    job = read_gcode(result.gcode)
    assert len(job.layers) == result.layer_count
    first = profile.first_layer_height
    assert result.layer_count == 1 + round((20.0 - first) / profile.layer_height)
    widths = np.concatenate([layer.widths()[layer.lengths() > 0.5] for layer in job.layers])
    assert np.allclose(widths, 0.4, atol=2e-3)
    assert sum(layer.extrusion.sum() for layer in job.layers) == pytest.approx(result.filament_mm, rel=1e-4)
    text = result.gcode
    assert ("M83" in text) == (profile.relative_e) and ("M82" in text) == (not profile.relative_e)
    assert ("G1 F2400 E" in text) == (profile.retract_length > 0)
    assert ("M106" in text) == (profile.max_fan_speed > 0)
    feats = np.concatenate([layer.feature for layer in job.layers])
    assert (Feature.SKIRT in feats) == (profile.skirt_loops > 0)
    assert (Feature.WALL_OUTER in feats) == (profile.perimeters > 0)
    assert (Feature.FILL in feats) == (profile.infill_density > 0)


def test_progress_reports_every_stage_up_to_its_total():
    seen: dict[str, list[tuple[int, int]]] = {}
    slice_file(MODELS / "20mm-xyz-cube.stl", progress=lambda stage, done, total: seen.setdefault(stage, []).append(
        (done, total)))
    assert list(seen) == ["load", "sections", "walls", "infill", "order", "gcode"]
    for stage, calls in seen.items():
        done = [d for d, _ in calls]
        assert done == sorted(done) and calls[-1][0] == calls[-1][1], stage
    assert seen["gcode"][-1] == (100, 100)


def _outer_wall_starts(job) -> np.ndarray:
    """Start point of the first outer-wall segment on the cube's outer square, for layers 10..89."""
    starts = []
    for layer in job.layers[10:90]:
        segs = layer.segments[layer.feature == Feature.WALL_OUTER]
        on_square = np.max(np.abs(segs[:, :2] - 110.0), axis=1) > 9.0
        starts.append(segs[on_square][0, :2])
    return np.array(starts)


def test_aligned_seams_stack_and_nearest_seams_follow_the_nozzle():
    aligned = _outer_wall_starts(read_back("20mm-xyz-cube.stl"))
    assert np.ptp(aligned, axis=0).max() < 0.5  # one seam line up the part
    assert aligned[:, 1].mean() > 119.0  # at the rear
    nearest = slice_file(MODELS / "20mm-xyz-cube.stl", load_profile(overrides={"seam": "nearest"}))
    assert np.ptp(_outer_wall_starts(read_gcode(nearest.gcode)), axis=0).max() > 2.0


def test_sparse_lines_are_spaced_for_the_density_and_turn_90_degrees_each_layer():
    for density, spacing in ((20, 2.0), (40, 1.0)):
        result = slice_file(MODELS / "20mm-xyz-cube.stl", load_profile(overrides={"infill_density": str(density)}))
        job = read_gcode(result.gcode)
        angles = []
        for layer in job.layers[40:42]:
            fill = layer.segments[layer.feature == Feature.FILL]
            d = fill[:, 2:] - fill[:, :2]
            angle = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 180
            assert np.ptp(angle) < 0.1
            angles.append(angle[0])
            normal = np.array([-np.sin(np.radians(angle[0])), np.cos(np.radians(angle[0]))])
            offsets = np.unique(np.round(fill[:, :2] @ normal, 3))
            assert np.allclose(np.diff(offsets), spacing, atol=2e-3)
        assert abs(abs(angles[0] - angles[1]) - 90) < 0.1


def test_feature_speeds_come_from_the_profile():
    profile = load_profile(overrides={"wall_outer_speed": "30", "infill_speed": "80", "skin_speed": "40"})
    text = slice_file(MODELS / "20mm-xyz-cube.stl", profile).gcode
    later = text.split(";LAYER:5\n")[1].split(";LAYER:6\n")[0]
    blocks = {b.split("\n", 1)[0]: b for b in later.split(";TYPE:")[1:]}
    assert "G1 F1800 " in blocks["WALL-OUTER"] and "G1 F4800 " in blocks["FILL"]
    assert "G1 F3000 " in blocks["WALL-INNER"]
    first = text.split(";LAYER:0\n")[1].split(";LAYER:1\n")[0]
    assert set(re.findall(r"^G1 F(\d+) X", first, re.MULTILINE)) == {"1500"}  # first layer and skirt at 25 mm/s
