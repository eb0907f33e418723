"""The job plan: layers, objects, estimate and commands of any slicer's G-code, from one reader."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from slicing import plan, plan_file
from slicing.errors import GcodeReadError

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "gcode-samples"
CURA = (SAMPLES / "cube.cura.gcode").read_text()
PRUSA = (SAMPLES / "cube.prusa.gcode").read_text()
CUBE_Z = [round(0.2 * (k + 1), 3) for k in range(100)]


def strip_comments(text: str) -> str:
    """The file without any comment line (no markers, no header)."""
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(";"))


def gcode(*lines: str) -> str:
    """G-code text of these lines."""
    return "\n".join(lines)


def zs(p) -> list[float]:
    return [round(layer.z, 3) for layer in p.layers]


@pytest.mark.parametrize("text", [CURA, PRUSA], ids=["cura", "prusa"])
def test_sample_cubes_have_their_hundred_layers_at_their_heights(text):
    p = plan(text)
    assert p.layer_count == 100 and zs(p) == CUBE_Z
    assert [round(layer.height, 3) for layer in p.layers[:3]] == [0.2, 0.2, 0.2]


@pytest.mark.parametrize("text", [CURA, PRUSA], ids=["cura", "prusa"])
def test_a_file_stripped_of_markers_has_the_same_layers(text):
    marked, bare = plan(text), plan(strip_comments(text))
    assert bare.marker_family is None
    assert zs(bare) == zs(marked)


def test_prusa_file_with_both_layer_markers_counts_each_layer_once():
    n = iter(range(1000))
    both = re.sub(r"^;LAYER_CHANGE$", lambda m: f";LAYER_CHANGE\n;LAYER:{next(n)}", PRUSA, flags=re.MULTILINE)
    p = plan(both)
    assert p.layer_count == 100
    first = p.check_points()[0]
    assert first.layer == 0 and first.command == p.layers[1].first_command > p.layers[0].first_command > 0


def test_cura_layer_starts_at_its_marker_after_the_z_move_before_it():
    p = plan(CURA)
    layer1 = p.layers[1]
    assert p.commands[layer1.first_command - 1].startswith("G0") and "Z0.4" not in p.commands[layer1.first_command]
    assert any("Z0.4" in c for c in p.commands[layer1.first_command - 5:layer1.first_command])
    assert p.layer_at(layer1.first_command) == 0 and p.layer_at(layer1.first_command + 1) == 1


def test_crlf_and_lf_files_give_the_same_plan():
    a, b = plan(CURA), plan(CURA.replace("\n", "\r\n"))
    assert a.commands == b.commands and zs(a) == zs(b) and a.estimate_s == b.estimate_s


def test_the_files_own_estimate_is_used_and_time_left_follows_the_plan():
    p = plan(CURA)
    assert p.estimate_source == "file" and p.estimate_s == 6666.0
    assert p.time_left(0) == 6666.0 and p.time_left(len(p.commands)) == pytest.approx(0.0, abs=1e-6)
    half = p.layers[50].first_command
    assert 0.3 * 6666 < p.time_left(half) < 0.7 * 6666
    assert np.all(np.diff(p.planned_s) >= 0)
    prusa = plan(PRUSA)
    assert prusa.estimate_source == "file" and prusa.estimate_s == pytest.approx(18 * 60 + 32)


def test_without_a_stated_estimate_printloops_own_is_used():
    p = plan(strip_comments(PRUSA))
    assert p.estimate_source == "printloop" and 600 < p.estimate_s < 2400
    assert sum(layer.time_s for layer in p.layers) <= p.estimate_s + 1e-6


def _squares(zs_: list[float], *, relative_e: bool = False, hop: float = 0.0, units: float = 1.0) -> list[str]:
    lines = ["G21" if units == 1.0 else "G20", "G90", "M83" if relative_e else "M82", "G92 E0"]
    e = 0.0
    for z in zs_:
        if hop:
            lines += ["G10", f"G1 Z{(z + hop) / units:.4f}", "G0 X0 Y0", f"G1 Z{z / units:.4f}", "G11"]
        else:
            lines.append(f"G0 Z{z / units:.4f}")
        for x, y in ((10, 0), (10, 10), (0, 10), (0, 0)):
            e += 0.4
            amount = 0.4 if relative_e else e
            lines.append(f"G1 X{x / units:.4f} Y{y / units:.4f} E{amount / units:.4f} F1800")
    return lines


def test_priming_blob_before_the_first_layer_is_no_layer():
    p = plan("\n".join(["G1 Z0.3 F600", "G1 E8 F200", "G92 E0", *_squares([0.3, 0.5, 0.7])]))
    assert zs(p) == [0.3, 0.5, 0.7]


def test_z_hop_with_firmware_retraction_and_relative_e_is_no_layer():
    p = plan("\n".join(_squares([0.2, 0.4, 0.6, 0.8], relative_e=True, hop=0.6)))
    assert zs(p) == [0.2, 0.4, 0.6, 0.8]


def test_inches_are_read_as_millimetres():
    p = plan("\n".join(_squares([0.254, 0.508], units=25.4)))
    assert zs(p) == [0.254, 0.508]
    assert p.layers[0].paths.segments[:, 2].max() == pytest.approx(10.0, abs=1e-3)


def test_vase_mode_gives_a_layer_per_layer_height_of_rise():
    lines = _squares([0.2, 0.4])
    z, e = 0.4, 10.0
    for _turn in range(10):
        for x, y in ((10, 0), (10, 10), (0, 10), (0, 0)):
            z += 0.05
            e += 0.4
            lines.append(f"G1 X{x} Y{y} Z{z:.3f} E{e:.3f}")
    p = plan("\n".join(lines))
    assert zs(p) == [0.2, 0.4] + [round(0.4 + 0.2 * k, 3) for k in range(1, 11)]


def test_over_a_rafts_air_gap_and_the_layer_printed_lower_the_beads_are_the_files_layer_height():
    """Cura lifts the first layer over a raft by an air gap and prints the next a little lower: neither rise is
    the height of their beads, whose width follows from it."""
    lines = [";Layer height: 0.2", *_squares([0.3, 0.4, 0.5, 1.0, 0.98, 1.18])]
    p = plan("\n".join(lines))
    assert zs(p) == [0.3, 0.4, 0.5, 1.0, 0.98, 1.18]
    assert [round(layer.height, 3) for layer in p.layers] == [0.3, 0.1, 0.1, 0.2, 0.2, 0.2]
    widths = [float(np.median(layer.paths.widths())) for layer in p.layers[3:]]
    assert max(widths) == pytest.approx(min(widths))


def test_variable_layer_height_and_arcs():
    lines = ["G90", "M82", "G92 E0", "G0 Z0.2", "G1 X10 Y0 E1", "G2 X0 Y0 I-5 J0 E2",
             "G0 Z0.28", "G1 X10 Y0 E3", "G3 X0 Y0 R5 E4", "G0 Z0.33", "G1 X10 Y0 E5"]
    p = plan("\n".join(lines))
    assert zs(p) == [0.2, 0.28, 0.33]
    assert [round(layer.height, 3) for layer in p.layers] == [0.2, 0.08, 0.05]
    assert p.layers[0].paths.segments.shape[0] > 5  # the arc is drawn as chords


@pytest.mark.parametrize("marker", ["; CHANGE_LAYER", "; layer {n}, Z = {z}", "; BEGIN_LAYER_OBJECT z={z}",
                                    ";LAYER:{n}"])
def test_other_slicers_layer_markers(marker):
    lines = ["G90", "M82", "G92 E0", "G1 X5 Y5 E2 ; purge before the first layer"]
    e = 2.0
    for n, z in enumerate([0.3, 0.5, 0.7]):
        lines.append(marker.format(n=n, z=z))
        lines.append(f"G0 Z{z}")
        for x, y in ((10, 0), (10, 10)):
            e += 0.5
            lines.append(f"G1 X{x} Y{y} E{e:.2f}")
    p = plan("\n".join(lines))
    assert p.marker_family is not None and zs(p) == [0.3, 0.5, 0.7]


def test_cura_raft_layers_keep_their_numbers_and_count_from_zero():
    lines = ["G90", "M82", "G92 E0"]
    e = 0.0
    for n, z in zip(range(-2, 3), [0.3, 0.6, 0.9, 1.1, 1.3]):
        lines += [f";LAYER:{n}", f"G0 Z{z}"]
        e += 1
        lines.append(f"G1 X{10 + n} Y10 E{e}")
    p = plan("\n".join(lines))
    assert [layer.index for layer in p.layers] == [0, 1, 2, 3, 4]
    assert [layer.label for layer in p.layers] == [-2, -1, 0, 1, 2]


def test_the_last_layer_is_checked_where_printing_ends():
    p = plan(CURA)
    points = p.check_points()
    assert [c.layer for c in points] == list(range(100))
    end = points[-1].command
    assert end == p.printing_end and end > p.layers[-1].first_command
    assert not any("E" in c and c.startswith("G1 X") for c in p.commands[end:])


def test_objects_from_m486_exclude_object_and_comments():
    m486 = plan(gcode("M486 T2", "M486 S0", "M486 Acube A", "G1 X1 E1", "M486 S1", "M486 Acube B",
                      "G1 X2 E2", "M486 S-1", "G1 X3"))
    assert [o.name for o in m486.objects] == ["cube A", "cube B"]
    assert m486.command_object.tolist() == [-1, 0, 0, 0, 1, 1, 1, -1, -1]
    klipper = plan(gcode("EXCLUDE_OBJECT_DEFINE NAME=part_1 CENTER=10,10 POLYGON=[[0,0],[20,0],[20,20]]",
                         "EXCLUDE_OBJECT_START NAME=part_1", "G1 X1 E1", "EXCLUDE_OBJECT_END NAME=part_1", "G1 X5"))
    assert [o.name for o in klipper.objects] == ["part_1"]
    assert klipper.command_object.tolist() == [-1, 0, 0, -1, -1]
    prusa = plan(gcode("; printing object box id:0 copy 0", "G1 X1 E1", "; stop printing object box id:0 copy 0",
                       "G1 X2"))
    assert [o.name for o in prusa.objects] == ["box id:0 copy 0"]
    assert prusa.command_object.tolist() == [0, -1]


def test_an_object_labelled_with_an_empty_name_is_unnamed_not_the_filament_no_object_owns():
    from controller.farm.matching import NONE, needs_of, run_filament_mm

    p = plan(gcode(";MESH:", "G1 X10 E1", ";MESH:NONMESH", "G1 X20 E3", ";MESH:pin", "G1 X30 E4"))
    assert [o.name for o in p.objects] == ["unnamed object", "pin"]
    needs = needs_of(p)
    assert NONE not in [o.name for o in p.objects] and set(needs["objects"]) == {NONE, "unnamed object", "pin"}
    assert needs["objects"]["unnamed object"] == pytest.approx(1.0) and needs["objects"][NONE] == pytest.approx(2.0)
    assert run_filament_mm(needs, ["pin"]) == pytest.approx(2.0 + 1.0)


def test_commands_keep_their_file_lines_and_long_ones_are_found():
    p = plan("; header\nG28\n\nG1 X1 ; move\nEXCLUDE_OBJECT_DEFINE NAME=a POLYGON=" + "[1,2]," * 40 + "\n")
    assert p.commands[:2] == ("G28", "G1 X1") and p.command_line[:3].tolist() == [1, 3, 4]
    long = p.too_long(80)
    assert [(i, line) for i, line, _c in long] == [(2, 5)]


def test_unreadable_or_empty_files_are_refused(tmp_path):
    (tmp_path / "empty.gcode").write_text("; nothing\n")
    (tmp_path / "bin.gcode").write_bytes(b"\x00\x01GCDE")
    with pytest.raises(GcodeReadError, match="no G-code commands"):
        plan_file(tmp_path / "empty.gcode")
    with pytest.raises(GcodeReadError, match="binary"):
        plan_file(tmp_path / "bin.gcode")
    with pytest.raises(GcodeReadError, match="cannot read"):
        plan_file(tmp_path / "missing.gcode")
