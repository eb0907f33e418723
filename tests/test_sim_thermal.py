"""Heaters: heat-up times, PID hold, at_target, and Marlin's runaway / heat-up watch protection."""
from __future__ import annotations

import pytest

from firmware_sim.thermal import BED, HOTEND, Heater, HeaterConfig, HeaterConfigError


def heat_until_at_target(h: Heater, limit: float = 600.0, dt: float = 0.25) -> float:
    """Step until at_target; return the simulated time it took."""
    t0 = h.now
    while not h.at_target() and h.now - t0 < limit:
        h.step(dt)
    assert h.at_target(), f"{h.config.name} stuck at {h.temperature:.1f} °C"
    return h.now - t0


@pytest.mark.parametrize(("config", "target", "lo", "hi"), [(HOTEND, 200.0, 60.0, 90.0), (BED, 60.0, 60.0, 120.0)])
def test_heater_reaches_target_in_a_printer_like_time(config: HeaterConfig, target: float, lo: float, hi: float
                                                      ) -> None:
    h = Heater(config)
    assert h.temperature == 25.0 and h.target == 0.0
    h.set_target(target)
    assert not h.at_target()
    took = heat_until_at_target(h)
    assert lo <= took <= hi
    assert h.power > 0


@pytest.mark.parametrize(("config", "target"), [(HOTEND, 200.0), (HOTEND, 240.0), (BED, 60.0), (BED, 100.0)])
def test_heater_holds_within_one_degree_for_two_hours_without_tripping(config: HeaterConfig, target: float) -> None:
    h = Heater(config)
    h.set_target(target)
    heat_until_at_target(h)
    h.step(120.0)                                   # settle after the approach
    temps = []
    for _ in range(2 * 3600):
        h.step(1.0)
        temps.append(h.temperature)
    assert max(abs(t - target) for t in temps) <= 1.0
    assert not h.runaway and h.fault is None
    assert 0 < h.power < 127                        # holding needs part power, reported 0..127 like `@:`


def test_large_steps_are_stable_and_match_small_steps() -> None:
    a, b = Heater(HOTEND), Heater(HOTEND)
    a.set_target(210.0)
    b.set_target(210.0)
    a.step(300.0)
    for _ in range(3000):
        b.step(0.1)
    assert a.temperature == pytest.approx(b.temperature, abs=1e-6)
    assert a.temperature == pytest.approx(210.0, abs=1.0)


def test_cooling_follows_first_order_toward_ambient() -> None:
    h = Heater(HOTEND, temperature=200.0)
    h.step(HOTEND.time_constant)                    # one time constant with no target: 63 % of the way down
    assert h.temperature == pytest.approx(25.0 + 175.0 * 0.36788, abs=0.05)
    assert h.power == 0


@pytest.mark.parametrize("config", [HOTEND, BED])
def test_failure_while_holding_trips_runaway_within_its_period(config: HeaterConfig) -> None:
    h = Heater(config)
    h.set_target(60.0 if config is BED else 200.0)
    heat_until_at_target(h)
    h.step(60.0)
    h.inject_failure()
    t0 = h.now
    # time to fall below target - hysteresis at the natural cooling rate, then the runaway period
    fall_rate = (h.temperature - config.ambient) / config.time_constant
    bound = config.runaway_hysteresis / fall_rate * 1.5 + config.runaway_period + 1.0
    while not h.runaway and h.now - t0 < 600:
        h.step(0.1)
    took = h.now - t0
    assert h.runaway and h.fault == "runaway"
    assert config.runaway_period <= took <= bound
    assert h.target == 0.0 and h.power == 0          # latched off
    h.set_target(200.0)
    assert h.target == 0.0 and h.runaway             # stays latched


def test_failure_during_heat_up_trips_the_watch_check() -> None:
    h = Heater(HOTEND)
    h.set_target(200.0)
    h.step(3.0)
    h.inject_failure()
    while not h.runaway and h.now < 300:
        h.step(0.1)
    assert h.fault == "heating_failed"
    assert h.now <= 3.0 + 2 * HOTEND.watch_period + 0.5


def test_a_small_drop_shorter_than_the_period_does_not_trip() -> None:
    h = Heater(HOTEND)
    h.set_target(200.0)
    heat_until_at_target(h)
    h.step(30.0)
    h.temperature -= 10.0                           # e.g. a fan blast; PID recovers well within 40 s
    h.step(120.0)
    assert not h.runaway
    assert h.at_target(1.0)


def test_target_is_clamped_below_max_temp() -> None:
    h = Heater(HOTEND)
    h.set_target(400.0)
    assert h.target == HOTEND.max_temp - HOTEND.overshoot
    h.set_target(-5.0)
    assert h.target == 0.0


def test_invalid_config_names_the_option() -> None:
    with pytest.raises(HeaterConfigError, match="time_constant"):
        HeaterConfig("X", max_temp=100.0, heat_gain=50.0, time_constant=0.0, kp=1.0, ki=0.0, kd=0.0)


def test_time_to_target_is_the_full_power_lower_bound_of_the_heat_up() -> None:
    h = Heater(HOTEND)
    h.set_target(200.0)
    estimate = h.time_to_target()
    took = heat_until_at_target(h, dt=0.1)
    assert estimate < took < 1.3 * estimate              # full power is a lower bound; PID eases in at the end
    assert h.time_to_target() == pytest.approx(0.0, abs=2.0)
    h.set_target(HOTEND.max_temp)                       # clamped, but still below the steady state at full power
    assert 0 < h.time_to_target() < 120


def test_part_fan_dips_the_hotend_briefly_and_pid_holds_it() -> None:
    h = Heater(HOTEND)
    h.set_target(210.0)
    heat_until_at_target(h)
    h.step(120.0)
    power_off = h.power
    h.set_fan(1.0)                                   # M106 S255
    temps = []
    for _ in range(1200):
        h.step(0.1)
        temps.append(h.temperature)
    assert 0.3 < 210.0 - min(temps) < 5.0             # a visible dip, recovered by the PID
    assert abs(temps[-1] - 210.0) < 0.5 and not h.runaway
    assert h.power > power_off                       # more heat needed against the fan
    h.set_fan(0.0)
    h.step(120.0)
    assert h.power == pytest.approx(power_off, abs=1)
    bed = Heater(BED)
    bed.set_fan(1.0)                                 # the bed has no fan coupling by default
    assert BED.fan_cooling == 0.0
