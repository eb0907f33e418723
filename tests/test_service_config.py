"""The TOML config: valid files load, every mistake is refused at start-up with the key named."""
from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import ensure_api_key, load_config
from controller.errors import ConfigError

GOOD = """
data_dir = "lab-data"
api_keys = ["abc"]
[[printers]]
name = "mk3-a"
port = "/dev/ttyUSB0"
baud = 115200
camera = "http://cam-a/snapshot.jpg"
profile = "lab.toml"
on_failure = "pause"
[[printers]]
name = "mini-b"
port = "socket://127.0.0.1:5555"
"""


def test_issue_example_config_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "lab.toml").write_text(GOOD)
    cfg = load_config(tmp_path / "lab.toml")
    assert cfg.data_dir == tmp_path / "lab-data"
    a, b = cfg.printers
    assert (a.name, a.baud, a.on_failure, a.profile) == ("mk3-a", 115200, "pause", str(tmp_path / "lab.toml"))
    assert (b.baud, b.camera, b.on_failure) == (115200, None, "pause")
    assert cfg.db_url == f"sqlite:///{(tmp_path / 'lab-data' / 'printloop.db').resolve()}"


@pytest.mark.parametrize(("text", "needle"), [
    ("[[printers]]\nname='a'\nport='/dev/x'\nbaud=-5\n", "printers[0].baud: Input should be greater than 0"),
    ("[[printers]]\nname='a'\nport='/dev/x'\non_failure='explode'\n", "printers[0].on_failure"),
    ("[[printers]]\nname='a'\nprot='/dev/x'\n", "printers[0].prot: unknown key"),
    ("[[printers]]\nname='a'\n", "printers[0].port: Field required"),
    ("dat_dir='x'\n", "dat_dir: unknown key"),
    ("[[printers]]\nname='a'\nport='x'\n[[printers]]\nname='a'\nport='y'\n", "repeated: a"),
    ("[[printers]]\nname='a/b'\nport='x'\n", "printers[0].name"),
    ("api_keys = [\n", "not valid TOML"),
])
def test_bad_configs_name_the_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert needle in str(err.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.toml")


def test_first_start_generates_one_key_and_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("data_dir = 'd'\n")
    cfg, created = ensure_api_key(load_config(tmp_path / "c.toml"))
    assert created and cfg.api_keys == [created] and len(created) >= 24
    again, created2 = ensure_api_key(load_config(tmp_path / "c.toml"))
    assert created2 is None and again.api_keys == cfg.api_keys
    assert (tmp_path / "d" / "api_key").stat().st_mode & 0o077 == 0
