"""The print-time estimate follows trapezoid motion with Marlin's limits and matches PrusaSlicer's figure."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slicing.estimate import MotionLimits, estimate_layer_times, estimate_time, move_times
from slicing.job_plan import parse_moves, read_gcode_file
from tests.conftest import GCODE_SAMPLES

NO_JERK = MotionLimits(jerk=(0, 0, 0, 0), acceleration=1000, travel_acceleration=1000,
                       retract_acceleration=1000, max_acceleration=(1e6, 1e6, 1e6, 1e6))


def _rows(*points: tuple[float, float, float, float, float]) -> np.ndarray:
    """xyzef rows: the start state (origin) then each given state."""
    return np.array([(0.0, 0.0, 0.0, 0.0, 50.0), *points])


def test_short_move_is_a_triangle_profile():
    # 10 mm at up to 200 mm/s with 1000 mm/s²: cannot reach cruise speed (needs 40 mm)
    t = estimate_time(_rows((10, 0, 0, 0, 200)), NO_JERK)
    assert t == pytest.approx(2 * math.sqrt(10 / 1000))


def test_long_move_is_a_trapezoid_profile():
    t = estimate_time(_rows((100, 0, 0, 0, 100)), NO_JERK)
    assert t == pytest.approx(100 / 1000 * 2 + (100 - 100**2 / 1000) / 100)


def test_move_from_rest_starts_and_ends_at_the_jerk_speed():
    limits = MotionLimits(jerk=(10, 10, 0.4, 5), travel_acceleration=1000, max_acceleration=(1e6, 1e6, 1e6, 1e6))
    t = estimate_time(_rows((100, 0, 0, 0, 100)), limits)
    v0 = 10.0
    ramp = (100**2 - v0**2) / (2 * 1000)
    assert t == pytest.approx(2 * (100 - v0) / 1000 + (100 - 2 * ramp) / 100)


def test_z_move_is_capped_by_the_z_axis_feed_rate_and_acceleration():
    limits = MotionLimits(jerk=(0, 0, 0, 0))  # z: 12 mm/s, 100 mm/s²
    t = estimate_time(_rows((0, 0, 10, 0, 100)), limits)
    assert t == pytest.approx(2 * 12 / 100 + (10 - 12**2 / 100) / 12)


def test_diagonal_move_acceleration_is_capped_by_the_busiest_axis():
    limits = MotionLimits(jerk=(0, 0, 0, 0), max_acceleration=(1000, 1000, 100, 5000))
    t = estimate_time(_rows((60, 80, 0, 0, 50)), limits)  # unit (0.6, 0.8): a = 1000 / 0.8 = 1250
    a = 1250.0
    assert t == pytest.approx(2 * 50 / a + (100 - 50**2 / a) / 50)


def test_retraction_uses_retract_acceleration_and_e_feed_limit():
    limits = MotionLimits(jerk=(0, 0, 0, 0), retract_acceleration=1000, max_feedrate=(500, 500, 12, 40))
    t = estimate_time(_rows((0, 0, 0, -5, 100)), limits)  # capped at 40 mm/s
    assert t == pytest.approx(2 * 40 / 1000 + (5 - 40**2 / 1000) / 40)


def test_collinear_moves_at_one_speed_run_through_the_junction():
    split = estimate_time(_rows((50, 0, 0, 0, 100), (100, 0, 0, 0, 100)), NO_JERK)
    whole = estimate_time(_rows((100, 0, 0, 0, 100)), NO_JERK)
    assert split == pytest.approx(whole)


def test_right_angle_corner_slows_to_the_jerk_speed():
    limits = MotionLimits(jerk=(10, 10, 0.4, 5), travel_acceleration=1000, max_acceleration=(1e6, 1e6, 1e6, 1e6))
    t = move_times(_rows((100, 0, 0, 0, 100), (100, 100, 0, 0, 100)), limits)
    one = 2 * (100 - 10) / 1000 + (100 - (100**2 - 10**2) / 1000) / 100
    assert t[0] == 0.0
    assert t[1:].tolist() == pytest.approx([one, one])


def test_zero_length_moves_take_no_time_and_do_not_break_junctions():
    with_noop = estimate_time(_rows((50, 0, 0, 0, 100), (50, 0, 0, 0, 100), (100, 0, 0, 0, 100)), NO_JERK)
    assert with_noop == pytest.approx(estimate_time(_rows((100, 0, 0, 0, 100)), NO_JERK))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50), st.floats(0, 2), st.floats(-1, 3),
                          st.floats(5, 150)), min_size=1, max_size=30))
def test_estimate_lies_between_length_over_feed_and_stopping_after_every_move(steps):
    rows = np.array([(0.0, 0.0, 0.0, 0.0, 50.0)] + [
        (x, y, z, e, f) for x, y, z, e, f in steps])
    limits = MotionLimits(max_feedrate=(1e4, 1e4, 1e4, 1e4), max_acceleration=(1e9, 1e9, 1e9, 1e9),
                          jerk=(0, 0, 0, 0))  # no jerk: a stop between moves can only be slower
    d = np.diff(rows[:, :4], axis=0)
    length = np.sqrt((d[:, :3] ** 2).sum(axis=1))
    length = np.where(length > 1e-9, length, np.abs(d[:, 3]))
    cruise_only = float((length / rows[1:, 4]).sum())
    t = estimate_time(rows, limits)
    stop_each = sum(estimate_time(rows[[i, i + 1]], limits) for i in range(len(steps)))
    assert cruise_only - 1e-9 <= t <= stop_each + 1e-9
    fast = MotionLimits(acceleration=1e9, travel_acceleration=1e9, retract_acceleration=1e9,
                        max_feedrate=(1e12, 1e12, 1e12, 1e12), max_acceleration=(1e12, 1e12, 1e12, 1e12),
                        jerk=(1e12, 1e12, 1e12, 1e12))  # no limit at all, jerk included
    assert estimate_time(rows, fast) == pytest.approx(cruise_only, rel=1e-3, abs=1e-6)


def test_layer_times_add_up_to_the_layered_moves():
    moves = parse_moves((GCODE_SAMPLES / "cube.cura.gcode").read_text())
    per_layer = estimate_layer_times(moves.xyzef, moves.layer)
    assert per_layer.shape == (100,)
    assert (per_layer > 0).all()
    all_moves = move_times(moves.xyzef)
    assert per_layer.sum() == pytest.approx(all_moves[moves.layer >= 0].sum())
    assert per_layer[0] > per_layer[50]  # the slow first layer with its skirt


def test_estimate_is_within_15_percent_of_prusaslicer_on_the_cube():
    path = GCODE_SAMPLES / "cube.prusa.gcode"
    job = read_gcode_file(path)
    ours = estimate_time(parse_moves(path.read_text()).xyzef)
    print(f"cube.prusa.gcode: printloop {ours:.0f} s, PrusaSlicer {job.estimated_time_s:.0f} s")
    assert job.estimated_time_s == 1112
    assert ours == pytest.approx(job.estimated_time_s, rel=0.15)


def test_fast_move_brakes_in_time_for_a_slower_next_move():
    t = move_times(_rows((100, 0, 0, 0, 100), (200, 0, 0, 0, 20)), NO_JERK)
    first = 100 / 1000 + (100 - 20) / 1000 + (100 - 100**2 / 2000 - (100**2 - 20**2) / 2000) / 100
    second = 20 / 1000 + (100 - 20**2 / 2000) / 20
    assert t[1:].tolist() == pytest.approx([first, second])


def test_a_move_at_the_length_cut_counts_as_an_extruder_move_not_as_nothing():
    rows = np.array([(0.0, 0.0, 0.0, 0.0, 50.0), (0.0, 0.0, 1e-9, 1.0, 5.0)])
    assert estimate_time(rows, NO_JERK) > 0.19  # 1 mm of filament at 5 mm/s


def test_clock_writes_a_duration_as_hours_minutes_and_seconds():
    from slicing.estimate import clock

    assert clock(0) == "0:00:00"
    assert clock(59.6) == "0:01:00"
    assert clock(3725.4) == "1:02:05"
    assert clock(36000 + 59 * 60 + 59) == "10:59:59"
