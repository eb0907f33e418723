"""Pure parts of jobs: G-code state tracking for pause/resume, the park and restore sequences, the ETA."""
import pytest

from controller.printer.job_state import (
    MachineState,
    ParkConfig,
    advance,
    eta_seconds,
    heat_injections,
    pause_sequence,
    resume_sequence,
    skip_return,
)


def replay(commands: list[str]) -> MachineState:
    state = MachineState()
    for c in commands:
        state = advance(state, c)
    return state


def test_state_tracks_absolute_and_relative_moves_extrusion_and_heaters():
    s = replay(["M104 S215", "M140 S60", "G28", "G90", "M82", "G92 E0", "G1 X10 Y20 Z0.3 F1200 E1.5",
                "G91", "G1 X5 E0.5", "G90", "M83", "G1 X1 E0.25 F900"])
    assert (s.x, s.y, s.z) == (1.0, 20.0, 0.3)
    assert s.e == pytest.approx(2.25)
    assert (s.relative_xyz, s.relative_e, s.feed) == (False, True, 900.0)
    assert (s.hotend_target, s.bed_target) == (215.0, 60.0)


def test_pause_retracts_lifts_and_parks_without_touching_heaters():
    seq = pause_sequence(replay(["G28", "G1 X50 Y60 Z2 E3"]), ParkConfig(x=0, y=200, lift=5, retract=2))
    assert seq[:6] == ["M400", "M83", "G1 E-2.000 F2100", "G91", "G1 Z5.000 F600", "G90"]
    assert "G1 X0.000 Y200.000 F6000" in seq
    assert not any(c.startswith(("M104", "M140", "M109", "M190")) for c in seq)


def test_on_a_sequential_plate_the_pause_and_the_skip_return_rise_above_the_finished_copies():
    low = replay(["G28", "G1 X50 Y60 Z0.4 E3"])      # the third copy's second layer; the first two are 5 mm tall
    park = ParkConfig(lift=2)
    assert "G1 Z2.000 F600" in pause_sequence(low, park)
    assert "G1 Z6.600 F600" in pause_sequence(low, park, clear_z=5.0)        # 5 mm + 2 above the head's 0.4
    assert "G1 Z6.600 F600" in pause_sequence(replay(["G20", "G1 Z0.015748"]), park, clear_z=5.0)  # inches
    back = skip_return(low, park, clear_z=5.0)
    assert back.index("G90") < back.index("G1 Z7.000 F600") < back.index("G1 X50.0000 Y60.0000 F6000.0")
    assert "G1 Z7.000 F600" not in skip_return(low, park)                     # where nothing taller stands: z + 2


def test_resume_restores_position_extrusion_mode_e_and_feed():
    state = replay(["M109 S210", "G28", "M82", "G92 E0", "G1 X50 Y60 Z2 E3.25 F1800"])
    seq = resume_sequence(state, ParkConfig())
    assert seq[0] == "M109 S210"
    assert seq.index("G1 X50.0000 Y60.0000 F6000.0") < seq.index("G1 Z2.0000 F600.0") < seq.index("G1 E2.0000 F2100.0")
    assert seq[-4:] == ["G90", "M82", "G92 E3.25000", "G1 F1800"]


def test_time_left_is_the_plans_until_the_pace_is_measured_then_scaled_by_it():
    assert eta_seconds(1000.0, 0.0, 0.0) == 1000.0
    assert eta_seconds(1000.0, 20.0, 60.0) == 1000.0  # too little printed to judge the pace
    # half the plan printed at twice the planned pace: what is left takes 1.5x (blend by the share done)
    assert eta_seconds(500.0, 500.0, 1000.0) == pytest.approx(750.0)
    assert eta_seconds(500.0, 500.0, 100000.0) == pytest.approx(500.0 * (0.5 + 0.5 * 3.0))  # bounded


def test_heater_targets_without_waits_get_waits_before_first_extrusion():
    cmds = ("M140 S60", "M104 S200", "G28", "G1 Z0.3", "G1 X10 E2")
    assert heat_injections(cmds) == {4: ["M190 S60", "M109 S200"]}
    assert heat_injections(("M104 S200", "M109 S200", "G1 X1 E1")) == {}
