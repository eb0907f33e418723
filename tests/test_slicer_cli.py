"""`printloop slice` and `printloop demo` as subprocesses: output files, summary, quiet mode, one-line errors."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import MODELS, REPO

CUBE = MODELS / "20mm-xyz-cube.stl"


def printloop(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    """Run the CLI as a module, like a user would (the repository on the path when run from elsewhere)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "controller", *args], check=False, cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


def test_slice_quiet_writes_gcode_and_prints_nothing(tmp_path):
    out = tmp_path / "cube.gcode"
    res = printloop("slice", str(CUBE), "-o", str(out), "--quiet", "--set", "infill_pattern=grid")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""
    text = out.read_text()
    assert ";LAYER_COUNT:100" in text and ";LAYER:99" in text and ";TYPE:FILL" in text


def test_slice_prints_summary_with_profile_and_copies(tmp_path):
    profile = tmp_path / "lab.toml"
    profile.write_text("layer_height = 0.25\nfirst_layer_height = 0.25\n")
    out = tmp_path / "sub" / "cube.gcode"
    res = printloop("slice", str(CUBE), "-o", str(out), "--profile", str(profile), "--copies", "2")
    assert res.returncode == 0, res.stderr
    assert "layers    80" in res.stdout and "copies    2" in res.stdout
    assert "filament" in res.stdout and "h:mm" in res.stdout
    assert out.exists()


def test_missing_file_exits_1_with_one_line(tmp_path):
    res = printloop("slice", str(tmp_path / "nope.stl"), "-o", str(tmp_path / "x.gcode"))
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "MeshError" in res.stderr and "nope.stl" in res.stderr


def test_bad_mesh_exits_1_with_one_line(tmp_path):
    bad = tmp_path / "junk.stl"
    bad.write_text("this is not a mesh\n" * 20)
    res = printloop("slice", str(bad), "-o", str(tmp_path / "x.gcode"), "--quiet")
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "MeshError" in res.stderr
    assert not (tmp_path / "x.gcode").exists()


def test_bad_setting_exits_1_naming_the_key(tmp_path):
    res = printloop("slice", str(CUBE), "-o", str(tmp_path / "x.gcode"), "--set", "infill_density=150")
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "infill_density" in res.stderr
