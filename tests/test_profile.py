"""Profiles: defaults as specified, TOML files and --set overrides, errors naming the option and its limit."""
from __future__ import annotations

import pytest

from slicing.errors import ProfileError
from slicing.profile import Profile, load_profile, parse_override


def test_defaults_match_the_specified_machine_and_material():
    p = load_profile()
    assert isinstance(p, Profile)
    assert (p.nozzle_diameter, p.line_width, p.filament_diameter) == (0.4, 0.4, 1.75)
    assert (p.layer_height, p.first_layer_height, p.perimeters, p.top_layers, p.bottom_layers) == (0.2, 0.2, 2, 3, 3)
    assert (p.infill_density, p.infill_pattern) == (20.0, "lines")
    assert (p.print_temperature, p.bed_temperature) == (200.0, 60.0)
    assert (p.bed_x, p.bed_y, p.bed_z, p.flavor) == (220.0, 220.0, 250.0, "marlin")
    assert (p.print_speed, p.travel_speed, p.first_layer_speed) == (50.0, 150.0, 25.0)
    assert (p.retract_length, p.retract_speed, p.retract_min_travel, p.z_hop) == (2.0, 40.0, 1.5, 0.0)
    assert (p.fan_start_layer, p.skirt_loops, p.skirt_distance, p.brim_width) == (2, 1, 3.0, 0.0)
    assert (p.seam, p.relative_e, p.filament_density) == ("aligned", False, 1.24)
    assert (p.acceleration, p.jerk_xy, p.max_feedrate_x, p.max_feedrate_z, p.max_feedrate_e) == (1500, 10, 500, 12, 120)
    assert p.start_gcode == "G28 ; home\nG92 E0"
    assert p.end_gcode == "M104 S0\nM140 S0\nM84"


def test_toml_file_then_overrides_take_precedence(tmp_path):
    f = tmp_path / "lab.toml"
    f.write_text('layer_height = 0.28\ninfill_pattern = "grid"\n[speeds]\ntravel_speed = 120\n')
    p = load_profile(f, {"infill_density": "35", "relative_e": "true", "seam": '"nearest"'})
    assert p.layer_height == 0.28 and p.infill_pattern == "grid" and p.travel_speed == 120.0
    assert p.infill_density == 35.0 and p.relative_e is True and p.seam == "nearest"


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"layer_hieght": "0.2"}, ["layer_hieght", "not a valid option"]),
        ({"layer_height": "-0.2"}, ["layer_height", "above 0"]),
        ({"infill_density": "120"}, ["infill_density", "maximum of 100"]),
        ({"infill_density": "-1"}, ["infill_density", "minimum of 0"]),
        ({"perimeters": "2.5"}, ["perimeters", "whole number"]),
        ({"infill_pattern": "gyroid"}, ["infill_pattern", "lines, grid"]),
        ({"relative_e": "1"}, ["relative_e", "true or false"]),
        ({"bed_temperature": "200"}, ["bed_temperature", "maximum of 150"]),
    ],
)
def test_bad_values_raise_profile_error_naming_the_key(overrides, words):
    with pytest.raises(ProfileError) as err:
        load_profile(overrides=overrides)
    for w in words:
        assert w in str(err.value)


def test_unknown_key_in_a_file_is_refused_with_the_file_named(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("nozzle_temp = 210\n")
    with pytest.raises(ProfileError, match=r"'nozzle_temp' in .*bad.toml is not a valid option"):
        load_profile(f)


def test_missing_and_malformed_files_are_profile_errors(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "nope.toml")
    bad = tmp_path / "broken.toml"
    bad.write_text("layer_height = = 2\n")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(bad)


def test_override_syntax():
    assert parse_override("infill_density=30") == ("infill_density", "30")
    with pytest.raises(ProfileError):
        parse_override("infill_density")


@pytest.mark.parametrize(
    ("overrides", "key", "fitting_nozzle"),
    [
        ({"layer_height": "0.35"}, "layer_height", "0.8"),
        ({"first_layer_height": "0.5"}, "first_layer_height", "0.8"),
        ({"line_width": "0.15", "layer_height": "0.1", "first_layer_height": "0.1"}, "line_width", "0.25"),
        ({"line_width": "1.0"}, "line_width", "0.8"),
    ],
)
def test_sizes_are_checked_against_the_nozzle(overrides, key, fitting_nozzle):
    with pytest.raises(ProfileError, match=f"'{key}' must have (minimum|maximum) of .* x nozzle_diameter"):
        load_profile(overrides=overrides)
    fitted = load_profile(overrides={**overrides, "nozzle_diameter": fitting_nozzle})
    assert fitted.nozzle_diameter == float(fitting_nozzle)


def test_a_printer_profile_with_a_vision_table_slices_and_the_layer_check_reads_its_table(tmp_path):
    from vision.config import load_config

    path = tmp_path / "printer.toml"
    path.write_text('layer_height = 0.25\n\n[vision]\npolicy = "cancel"\npark = [110, 200]\n')
    assert load_profile(path).layer_height == 0.25
    assert load_config(path).policy == "cancel" and load_config(path).park == (110.0, 200.0)
