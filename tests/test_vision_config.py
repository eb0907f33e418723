"""Vision options load from a profile's [vision] table; bad keys and values are refused by name."""
import pytest

from vision.config import VisionConfig, load_config
from vision.errors import VisionConfigError


def test_defaults_without_profile_or_table(tmp_path):
    assert load_config(None) == VisionConfig()
    p = tmp_path / "lab.toml"
    p.write_text("[printer]\nbed = 220\n")
    assert load_config(p) == VisionConfig()


def test_values_and_markers_are_read(tmp_path):
    p = tmp_path / "lab.toml"
    p.write_text('[vision]\nshift_mm = 0.6\npolicy = "warn"\npark = "none"\n'
                 'markers = [[0, -10, -10], [1, 230, -10], [2, 230, 230], [3, -10, 230]]\n')
    cfg = load_config(p)
    assert cfg.shift_mm == 0.6 and cfg.policy == "warn" and cfg.park is None
    assert cfg.marker_centres()[2] == (230.0, 230.0)


@pytest.mark.parametrize("body,match", [
    ("shfit_mm = 1", "unknown option.*shfit_mm"),
    ("shift_mm = -1", "'shift_mm'.*> 0"),
    ('policy = "explode"', "'policy'.*pause, cancel, warn"),
    ("missing_coverage = 0.9\nunder_coverage = 0.5", "'missing_coverage'"),
    ('fresh_step = "a lot"', "'fresh_step'.*number"),
])
def test_bad_options_are_named(tmp_path, body, match):
    p = tmp_path / "lab.toml"
    p.write_text("[vision]\n" + body + "\n")
    with pytest.raises(VisionConfigError, match=match):
        load_config(p)
