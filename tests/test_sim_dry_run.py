"""A G-code file through the simulated board without a port: simulated print time, heating and motion included."""
from __future__ import annotations

import pytest

from firmware_sim.dry_run import dry_run, dry_run_file, sendable
from slicing.job_plan import read_gcode
from tests.conftest import REPO

SAMPLES = REPO.parent / "shared" / "gcode-samples"


def test_a_straight_move_takes_its_length_over_its_speed_plus_the_acceleration_ramps():
    run = dry_run(["G28", "G90", "G1 Z5 F600", "M400", "G1 X100 Y0 F600 ; 10 mm/s"])
    homing_and_lift = dry_run(["G28", "G90", "G1 Z5 F600", "M400"])
    move = run.print_s - homing_and_lift.print_s
    assert 10.0 <= move <= 10.2          # 100 mm at 10 mm/s; the ramps at 10 mm/s cost a few ms
    assert run.sim_s >= run.print_s and run.halted == ""


def test_heating_waits_count_in_the_simulated_time_but_not_in_the_moving_time():
    cold = dry_run(["G28", "G1 X50 F3000"])
    hot = dry_run(["M190 S60", "M109 S210", "G28", "G1 X50 F3000"])
    assert hot.sim_s - cold.sim_s > 30.0                  # a bed to 60 °C and a hotend to 210 °C take a while
    assert hot.print_s == pytest.approx(cold.print_s, abs=1e-6)


def test_comments_and_blank_lines_are_not_sent():
    assert list(sendable(["; start", "", "G28 ; home", "  M104 S200", ";LAYER:0"])) == ["G28", "M104 S200"]


@pytest.mark.parametrize("name", ["cube.prusa.gcode", "cube.cura.gcode"])
def test_other_slicers_files_run_to_their_last_layer(name: str):
    path = SAMPLES / name
    run = dry_run_file(path)
    plan = read_gcode(path.read_text(errors="replace"))
    assert run.halted == ""
    assert run.layer + 1 == len(plan.layers)
    assert run.moves > 5000 and run.sim_s > run.print_s > 600     # a 20 mm cube takes well over ten minutes


def test_printloop_sim_dry_run_prints_the_files_simulated_time_as_json():
    import json
    import subprocess
    import sys

    path = SAMPLES / "cube.cura.gcode"
    proc = subprocess.run([sys.executable, "-m", "controller", "sim", "--dry-run", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["layers"] == 100 and out["halted"] is None
    assert out["simulated_s"] == pytest.approx(dry_run_file(path).sim_s, abs=0.1)
    h, m, sec = (int(x) for x in out["simulated"].split(":"))
    assert abs(3600 * h + 60 * m + sec - out["simulated_s"]) <= 0.51
    missing = subprocess.run([sys.executable, "-m", "controller", "sim", "--dry-run", str(path) + ".nope"],
                             cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 2 and "no such G-code file" in missing.stderr
