"""Preparing a file for streaming: commands, layer boundaries, estimate."""
from controller.gcode_lines import parse_duration, prepare_lines, strip_command


def test_strip_command_removes_comments_and_blanks():
    assert strip_command("G1 X1 ; move") == "G1 X1"
    assert strip_command("  ; only a comment") == ""
    assert strip_command("G1 (inline) X2") == "G1  X2"


def test_prepare_keeps_layers_from_markers_and_cura_time():
    lines = [";TIME:600", "G28", ";LAYER:0", "G1 Z0.2", "G1 X1 E1", ";LAYER:1", "G1 Z0.4", "G1 X2 E2",
             ";LAYER:2", "G1 Z0.6 ; up", "G1 X3 E3", ""]
    p = prepare_lines(lines)
    assert p.commands == ("G28", "G1 Z0.2", "G1 X1 E1", "G1 Z0.4", "G1 X2 E2", "G1 Z0.6", "G1 X3 E3")
    assert p.estimate_s == 600
    assert p.layer_count == 3
    assert [(b.layer, b.z, b.line) for b in p.layers] == [(1, 0.4, 3), (2, 0.6, 5)]


def test_prepare_finds_unmarked_layers_from_z_rise_then_extrusion():
    lines = ["G92 E0", "G1 Z0.2", "G1 X1 E1", "G1 Z1.0", "G1 X5", "G1 Z0.4", "G1 X2 E2", "G1 Z0.6", "G1 X3 E3"]
    p = prepare_lines(lines)
    assert p.layer_count == 3
    assert [(b.layer, b.z) for b in p.layers] == [(1, 0.4), (2, 0.6)]


def test_prusa_estimate_is_parsed():
    p = prepare_lines(["; estimated printing time (normal mode) = 1h 2m 3s", "G28"])
    assert p.estimate_s == 3723
    assert parse_duration("1d 0h 1m 0s") == 86460
