"""The G-code reader turns Cura's, PrusaSlicer's and hand-written G-code back into moves and layer toolpaths."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slicing.errors import GcodeReadError
from slicing.job_plan import parse_moves, read_gcode, read_gcode_file
from slicing.toolpath import Feature
from tests.conftest import GCODE_SAMPLES, MODELS

SAMPLES = ["cube.cura.gcode", "cube.prusa.gcode"]


@pytest.fixture(scope="module", params=SAMPLES)
def sample(request):
    """A peer slicer's cube G-code read back: (file name, job)."""
    return request.param, read_gcode_file(GCODE_SAMPLES / request.param)


def _naive_e_scan(path) -> tuple[float, float]:
    """(net filament: last absolute E with each G92 reset added back, forward E on XY moves), line by line."""
    total, e, forward = 0.0, 0.0, 0.0
    for raw in path.read_text().splitlines():
        code = raw.split(";", 1)[0].split()
        if not code:
            continue
        words = {w[0]: w[1:] for w in code[1:]}
        if code[0] == "G92" and "E" in words:
            total += e - float(words["E"])
            e = float(words["E"])
        elif code[0] in ("G0", "G1") and "E" in words:
            if float(words["E"]) > e and ("X" in words or "Y" in words):
                forward += float(words["E"]) - e
            e = float(words["E"])
    return total + e, forward


def test_cube_samples_have_100_layers_at_0_2_mm_steps(sample):
    name, job = sample
    assert len(job.layers) == 100, name
    for n, layer in enumerate(job.layers):
        assert layer.index == n
        assert layer.z == pytest.approx(0.2 * (n + 1), abs=1e-6)
        assert layer.height == pytest.approx(0.2, abs=1e-6)


def test_cube_samples_every_segment_lies_on_the_bed(sample):
    _, job = sample
    segs = np.vstack([layer.segments for layer in job.layers])
    assert segs.shape[0] > 4000
    assert segs.min() >= 0.0 and segs.max() <= 220.0
    for layer in job.layers:
        assert (layer.extrusion > 0).all()
        assert layer.segments.shape[0] == layer.extrusion.shape[0] == layer.feature.shape[0]


def test_cube_samples_each_layer_has_outer_walls_and_known_features(sample):
    _, job = sample
    for layer in job.layers:
        assert (layer.feature == Feature.WALL_OUTER).any()
        assert (layer.feature == Feature.WALL_INNER).any()
    first = job.layers[0].feature
    assert (first == Feature.SKIRT).any() and (first == Feature.SKIN).any()
    middle = job.layers[50].feature
    assert (middle == Feature.FILL).any()
    assert not (np.concatenate([layer.feature for layer in job.layers]) == Feature.OTHER).any()


def test_cube_samples_extrusion_total_matches_the_file_e_with_g92_resets(sample):
    name, job = sample
    total = sum(float(layer.extrusion.sum()) for layer in job.layers)
    moves = parse_moves((GCODE_SAMPLES / name).read_text())
    net, forward = _naive_e_scan(GCODE_SAMPLES / name)
    assert moves.xyzef[-1, 3] == pytest.approx(net, abs=1e-6)
    assert total == pytest.approx(forward, abs=1e-6)
    assert total == pytest.approx(net, abs=2.5)  # only the final 2 mm retraction is not re-primed


def test_cube_samples_walls_trace_the_20mm_footprint(sample):
    _, job = sample
    walls = np.vstack([layer.segments[layer.feature != Feature.SKIRT] for layer in job.layers])
    xs, ys = walls[:, [0, 2]], walls[:, [1, 3]]
    assert xs.max() - xs.min() == pytest.approx(20.0, abs=1.0)
    assert ys.max() - ys.min() == pytest.approx(20.0, abs=1.0)


def test_header_figures_of_both_slicers():
    cura = read_gcode_file(GCODE_SAMPLES / "cube.cura.gcode")
    assert cura.flavor == "Marlin" and cura.estimated_time_s == 6666.0 and cura.header["LAYER_COUNT"] == "100"
    prusa = read_gcode_file(GCODE_SAMPLES / "cube.prusa.gcode")
    assert prusa.estimated_time_s == 18 * 60 + 32
    assert prusa.filament_mm == pytest.approx(1325.30)
    assert prusa.line_count == len((GCODE_SAMPLES / "cube.prusa.gcode").read_text().splitlines())


def test_first_line_points_at_the_layer_marker():
    path = GCODE_SAMPLES / "cube.cura.gcode"
    lines = path.read_text().splitlines()
    job = read_gcode_file(path)
    assert [lines[layer.first_line] for layer in job.layers[:3]] == [";LAYER:0", ";LAYER:1", ";LAYER:2"]


def test_absolute_moves_and_feed_rate():
    m = parse_moves("G90\nG1 X10 Y5 Z0.3 F600\nG0 X20\n")
    assert m.xyzef.tolist() == [[0, 0, 0, 0, 25.0], [10, 5, 0.3, 0, 10.0], [20, 5, 0.3, 0, 10.0]]
    assert m.line.tolist() == [-1, 1, 2]


def test_relative_extrusion_m83_accumulates():
    m = parse_moves("M83\nG1 X10 E1\nG1 X20 E0.5\nG1 E-0.8\nG1 E0.8\nM82\nG1 X30 E5\n")
    assert m.xyzef[:, 3].tolist() == pytest.approx([0, 1, 1.5, 0.7, 1.5, 5])


def test_g91_makes_axes_and_e_relative_until_g90():
    m = parse_moves("G1 X5 Y5 E1\nG91\nG1 X1 Y-2 E0.5\nG1 Z0.2\nG90\nG1 X0 E2\n")
    np.testing.assert_allclose(
        m.xyzef[:, :4], [[0, 0, 0, 0], [5, 5, 0, 1], [6, 3, 0, 1.5], [6, 3, 0.2, 1.5], [0, 3, 0.2, 2]])


def test_g92_resets_e_and_shifts_axes():
    m = parse_moves("G1 X10 E3\nG92 E0\nG1 X20 E1\nG92 X0\nG1 X5\nG28\nG1 X1\n")
    assert m.xyzef[:, 3].tolist() == pytest.approx([0, 3, 4, 4, 4, 4])
    # G92 X0 at physical X20: X5 is physical 25; G28 homes to 0 and clears the shift
    assert m.xyzef[:, 0].tolist() == pytest.approx([0, 10, 20, 25, 0, 1])


def test_g28_homes_only_the_named_axes():
    m = parse_moves("G1 X10 Y10 Z5\nG28 X\nG28 Z0\n")
    assert m.xyzef[-2, :3].tolist() == [0, 10, 5]
    assert m.xyzef[-1, :3].tolist() == [0, 10, 0]


def test_g20_inch_units_scale_axes_and_feed():
    m = parse_moves("G20\nG1 X1 Y2 E0.1 F60\nG21\nG1 X10\n")
    assert m.xyzef[1].tolist() == pytest.approx([25.4, 50.8, 0, 2.54, 25.4])
    assert m.xyzef[2, 0] == pytest.approx(10)


def test_comments_blank_lines_line_numbers_and_checksums():
    m = parse_moves("; start\n\n  G1 X1 ; go\nN12 G1 X2 Y3*71\nG1X4Y5E1\n;G1 X99\n")
    assert m.xyzef[1:, :4].tolist() == [[1, 0, 0, 0], [2, 3, 0, 0], [4, 5, 0, 1]]
    assert m.line.tolist() == [-1, 2, 3, 4]


def test_arc_g2_quarter_circle_is_linearised_on_the_circle():
    m = parse_moves("G1 X10 Y0 F600\nG2 X0 Y-10 I-10 J0 E2\n")
    pts = m.xyzef[2:]
    assert pts.shape[0] >= 9
    assert np.hypot(pts[:, 0], pts[:, 1]) == pytest.approx(10.0)
    assert (pts[:, 0] >= -1e-9).all() and (pts[:, 1] <= 1e-9).all()  # clockwise from +X goes through -Y
    assert pts[-1, :4].tolist() == pytest.approx([0, -10, 0, 2])
    assert (m.line[2:] == 1).all()
    assert np.diff(pts[:, 3]).min() > 0


def test_arc_g3_full_circle_and_radius_form():
    full = parse_moves("G1 X10 Y0\nG3 X10 Y0 I-10 J0 E6.28\n").xyzef[2:]
    ang = np.unwrap(np.arctan2(full[:, 1], full[:, 0] - 0.0))
    assert ang[-1] - ang[0] == pytest.approx(2 * math.pi * (1 - 1 / full.shape[0]), abs=1e-6)
    half = parse_moves("G1 X10 Y0\nG3 X-10 Y0 R10 E1\n").xyzef[2:]
    assert np.hypot(half[:, 0], half[:, 1]) == pytest.approx(10.0, abs=1e-6)
    assert (half[:, 1] >= -1e-9).all()  # counter-clockwise from +X passes through +Y


def test_unmarked_file_starts_a_layer_at_each_z_rise_followed_by_extrusion():
    text = (
        "G1 Z0.3 F600\nG1 X10 E1\nG1 Y10 E2\n"
        "G1 Z1.0\nG1 X0\nG1 Z0.5\nG1 X5 E3\n"  # z-hop travel, then down to the next layer
        "G1 Z0.7\nG1 X1 Y1\nG1 Z5\n"  # rises without extrusion: not layers
    )
    job = read_gcode(text)
    assert [round(layer.z, 6) for layer in job.layers] == [0.3, 0.5]
    assert [layer.height for layer in job.layers] == pytest.approx([0.3, 0.2])
    assert job.layers[0].segments.tolist() == [[0, 0, 10, 0], [10, 0, 10, 10]]
    assert job.layers[1].segments.tolist() == [[0, 10, 5, 10]]
    assert job.layers[1].first_line == 5
    moves = parse_moves(text)
    assert moves.layer.tolist() == [-1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]


def test_retraction_prime_travel_and_z_moves_are_not_segments():
    job = read_gcode(";LAYER:0\nG1 Z0.2\nG1 X5 E1\nG1 E0\nG1 X9\nG1 E1\nG1 X9 Y4 E2\nG1 Z0.4 E2.1\n")
    (layer,) = job.layers
    assert layer.segments.tolist() == [[0, 0, 5, 0], [9, 0, 9, 4]]
    assert layer.extrusion.tolist() == pytest.approx([1, 1])


def test_type_comments_map_to_features():
    text = (";LAYER:0\nG1 Z0.2\n;TYPE:External perimeter\nG1 X1 E1\n;TYPE:Gap fill\nG1 X2 E2\n"
            ";TYPE:SUPPORT\nG1 X3 E3\n;TYPE:Solid infill\nG1 X4 E4\n;TYPE:Wipe tower\nG1 X5 E5\n"
            ";TYPE:BRIM\nG1 X6 E6")
    (layer,) = read_gcode(text).layers
    assert layer.feature.tolist() == [Feature.WALL_OUTER, Feature.FILL, Feature.SUPPORT, Feature.SKIN,
                                      Feature.OTHER, Feature.BRIM]


def test_extrusion_before_the_first_marker_joins_layer_zero():
    job = read_gcode("G1 Z0.2\nG1 X50 E5\n;LAYER:0\nG1 X60 E6\n;LAYER:1\nG1 Z0.4\nG1 X70 E7\n")
    assert [layer.segments.shape[0] for layer in job.layers] == [2, 1]
    assert parse_moves("G1 Z0.2\nG1 X50 E5\n;LAYER:0\nG1 X60 E6\n").layer.tolist() == [-1, -1, -1, 0]


def test_unreadable_files_raise_gcode_read_error(tmp_path):
    with pytest.raises(GcodeReadError, match="cannot read"):
        read_gcode_file(tmp_path / "missing.gcode")
    binary = tmp_path / "part.bgcode"
    binary.write_bytes(b"GCDE\x00\x01\x00\x00" * 10)
    with pytest.raises(GcodeReadError, match="binary"):
        read_gcode_file(binary)
    stl = tmp_path / "cube.gcode"
    stl.write_text("solid cube\n facet normal 0 0 1\n endfacet\nendsolid\n")
    with pytest.raises(GcodeReadError, match="no G-code moves"):
        read_gcode_file(stl)


_STEP = st.one_of(
    st.tuples(st.just("extrude"), st.integers(0, 220_000), st.integers(0, 220_000), st.integers(1, 500_000)),
    st.tuples(st.just("travel"), st.integers(0, 220_000), st.integers(0, 220_000), st.just(0)),
    st.tuples(st.just("retract"), st.just(0), st.just(0), st.integers(1, 300_000)),
    st.tuples(st.just("prime"), st.just(0), st.just(0), st.integers(1, 300_000)),
    st.tuples(st.just("reset"), st.just(0), st.just(0), st.just(0)),
    st.tuples(st.just("layer"), st.just(0), st.just(0), st.just(0)),
)


def _write(steps, relative_e: bool, relative_xy: bool):
    """G-code for the steps (XY in µm, E in 1e-5 mm) and the segments/extrusion per layer it should read as."""
    out = ["G21", "G91" if relative_xy else "G90", "M83" if relative_e else "M82", ";LAYER:0", "G0 Z0.2 F600"]
    x = y = 0
    e_logical = 0  # absolute-mode E register, 1e-5 mm
    layers: list[list[tuple[tuple[float, float, float, float], float]]] = [[]]
    z = 0.2  # in G91 mode "Z0.2" from z=0 is the same move

    def xy(nx: int, ny: int) -> str:
        dx, dy = (nx - x, ny - y) if relative_xy else (nx, ny)
        return f"X{dx / 1000:.3f} Y{dy / 1000:.3f}"

    def e_word(delta: int) -> str:
        return f"E{(delta if relative_e else e_logical + delta) / 1e5:.5f}"

    for kind, nx, ny, amount in steps:
        if kind == "extrude":
            out.append(f"G1 {xy(nx, ny)} {e_word(amount)}")
            if (nx, ny) != (x, y):
                layers[-1].append(((x / 1000, y / 1000, nx / 1000, ny / 1000), amount / 1e5))
            x, y, e_logical = nx, ny, e_logical + amount
        elif kind == "travel":
            out.append(f"G0 {xy(nx, ny)}")
            x, y = nx, ny
        elif kind in ("retract", "prime"):
            delta = -amount if kind == "retract" else amount
            out.append(f"G1 {e_word(delta)}")
            e_logical += delta
        elif kind == "reset":
            out.append("G92 E0")
            e_logical = 0
        else:
            z += 0.2
            out += [f";LAYER:{len(layers)}", "G0 Z0.2" if relative_xy else f"G0 Z{z:.1f}"]
            layers.append([])
    return "\n".join(out) + "\n", layers


@settings(max_examples=80, deadline=None)
@given(st.lists(_STEP, max_size=40), st.booleans(), st.booleans())
def test_random_moves_written_as_gcode_read_back_to_the_same_segments(steps, relative_e, relative_xy):
    text, expected = _write(steps, relative_e, relative_xy)
    job = read_gcode(text)
    printed = [(n, want) for n, want in enumerate(expected) if want]  # a marked layer that extrudes nothing is none
    assert len(job.layers) == len(printed)
    for layer, (n, want) in zip(job.layers, printed):
        assert layer.z == pytest.approx(0.2 * (n + 1))
        assert layer.segments.shape == (len(want), 4)
        if want:
            np.testing.assert_allclose(layer.segments, [s for s, _ in want], atol=1e-9)
            np.testing.assert_allclose(layer.extrusion, [e for _, e in want], atol=1e-9)


def test_printloop_output_reads_back_to_its_layers_filament_and_estimate():
    from slicing.estimate import estimate_time
    from slicing.slicer import slice_file

    result = slice_file(MODELS / "20mm-xyz-cube.stl")
    job = read_gcode(result.gcode)
    assert len(job.layers) == result.layer_count == 100
    assert [round(layer.z, 6) for layer in job.layers] == [round(0.2 * (n + 1), 6) for n in range(100)]
    assert all((layer.feature == Feature.WALL_OUTER).any() for layer in job.layers)
    assert sum(float(layer.extrusion.sum()) for layer in job.layers) == pytest.approx(result.filament_mm, rel=1e-4)
    assert job.filament_mm == pytest.approx(result.filament_mm, abs=0.01)
    assert job.estimated_time_s == round(result.estimated_time_s)
    assert estimate_time(parse_moves(result.gcode).xyzef) == pytest.approx(result.estimated_time_s, rel=1e-3)


def test_messages_malformed_numbers_and_bare_letters():
    m = parse_moves("M117 Layer X of 12 E9\nG1 X1.2.3 Y4 E1\nG1 X7 Y-\nG28 X Y\nG1 X3 E2\n")
    assert m.xyzef[1:, :4].tolist() == [[0, 4, 0, 1], [7, 4, 0, 1], [0, 0, 0, 1], [3, 0, 0, 2]]
    assert m.line.tolist() == [-1, 1, 2, 3, 4]


def test_crlf_line_ends_lower_case_and_tabs():
    job = read_gcode(";LAYER:0\r\ng1 z0.2 f600\r\n;TYPE:WALL-OUTER\r\nG1\tX10\tY0\tE1.5\r\n")
    (layer,) = job.layers
    assert layer.z == pytest.approx(0.2)
    assert layer.segments.tolist() == [[0, 0, 10, 0]]
    assert layer.extrusion.tolist() == [1.5]
    assert layer.feature.tolist() == [Feature.WALL_OUTER]


def _reference_moves(text: str) -> np.ndarray:
    """Line-by-line reference for absolute-XYZ files (G0/G1, G28, G92 E, M82/M83): the xyzef rows."""
    pos, e_reg, e_abs, feed, rel_e = [0.0, 0.0, 0.0], 0.0, 0.0, 25.0, False
    rows = [[0.0, 0.0, 0.0, 0.0, 25.0]]
    for raw in text.splitlines():
        code = raw.split(";", 1)[0].split()
        if not code:
            continue
        words = {w[0].upper(): float(w[1:]) for w in code[1:] if len(w) > 1}
        cmd = code[0].upper()
        if cmd in ("M82", "M83"):
            rel_e = cmd == "M83"
        elif cmd == "G92" and "E" in words:
            e_reg = words["E"]
        elif cmd == "G28":
            pos = [0.0, 0.0, 0.0]
            rows.append([*pos, e_abs, feed])
        elif cmd in ("G0", "G1"):
            feed = words.get("F", feed * 60) / 60
            pos = [words.get(a, p) for a, p in zip("XYZ", pos)]
            if "E" in words:
                new = e_reg + words["E"] if rel_e else words["E"]
                e_abs += new - e_reg
                e_reg = new
            rows.append([*pos, e_abs, feed])
    return np.array(rows)


@pytest.mark.parametrize("name", SAMPLES)
def test_parse_moves_matches_a_line_by_line_reference_on_peer_gcode(name):
    text = (GCODE_SAMPLES / name).read_text()
    np.testing.assert_allclose(parse_moves(text).xyzef, _reference_moves(text), atol=1e-9)
