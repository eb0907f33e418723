"""First-order heaters under Marlin-style PID, with Marlin's thermal runaway and heat-up watch protection.

Units: °C and seconds of simulated time. Pure: `step(dt)` advances the model; no clock, no threads.
Plant: dT/dt = (ambient + heat_gain·u − T) / time_constant, integrated exactly for a constant duty u between
controller samples (so any `dt` is stable). Controller: bang-bang outside ±pid_range (Marlin's
PID_FUNCTIONAL_RANGE), PID inside it with derivative on the measurement and a clamped integral; output in
Marlin's 0..255 units, reported as 0..127 like Marlin's `@:` (soft PWM is 7 bit).
"""
from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from enum import Enum

from firmware_sim.errors import SimError

PID_MAX = 255.0
PID_K1 = 0.95   # Marlin's smoothing of the derivative term


class HeaterConfigError(SimError):
    """A heater configuration value is out of range."""


@dataclass(frozen=True)
class HeaterConfig:
    """One heater: plant constants, PID gains (Marlin units, per second) and protection periods."""

    name: str
    _: KW_ONLY
    max_temp: float
    heat_gain: float          # °C above ambient at full power, steady state
    time_constant: float      # s
    kp: float
    ki: float
    kd: float
    ambient: float = 25.0
    runaway_period: float = 40.0
    runaway_hysteresis: float = 4.0
    watch_period: float = 20.0
    watch_increase: float = 2.0
    overshoot: float = 15.0   # targets are clamped to max_temp - overshoot, as Marlin does
    fan_cooling: float = 0.0  # extra heat loss with the part fan at 100 %, as a fraction of the natural loss
    pid_range: float = 10.0
    sample_period: float = 0.1

    def __post_init__(self) -> None:
        """Reject constants that make the model meaningless."""
        for field in ("heat_gain", "time_constant", "sample_period", "runaway_period", "watch_period"):
            if getattr(self, field) <= 0:
                raise HeaterConfigError(f"heater {self.name}: {field} must be > 0, got {getattr(self, field)}")
        if self.max_temp <= self.ambient:
            raise HeaterConfigError(f"heater {self.name}: max_temp {self.max_temp} must exceed ambient {self.ambient}")


# Ender-3-like hotend: 25 -> 200 °C in about 70 s; Marlin's default hotend PID and protection periods.
HOTEND = HeaterConfig("E0", max_temp=275.0, heat_gain=260.0, time_constant=55.0,
                      kp=21.73, ki=1.54, kd=76.55, fan_cooling=0.15)
# Ender-3-like bed: 25 -> 60 °C in about 90 s; Marlin's bed protection (20 s / 2 °C, watch 60 s / 2 °C).
BED = HeaterConfig("B", max_temp=125.0, heat_gain=95.0, time_constant=170.0,
                   kp=60.0, ki=2.0, kd=300.0, runaway_period=20.0, runaway_hysteresis=2.0,
                   watch_period=60.0, watch_increase=2.0, overshoot=10.0)


class _Protect(Enum):
    """Marlin's thermal-runaway state machine."""

    INACTIVE = 0
    FIRST_HEATING = 1
    STABLE = 2


class Heater:
    """A heater with its thermistor reading, PID output and latched protection state."""

    def __init__(self, config: HeaterConfig, temperature: float | None = None) -> None:
        self.config = config
        self.temperature = config.ambient if temperature is None else float(temperature)
        self.target = 0.0
        self.power = 0
        self.runaway = False
        self.fault: str | None = None          # "runaway" or "heating_failed" once tripped
        self.now = 0.0                          # simulated seconds since creation
        self._duty = 0.0
        self._integral = 0.0
        self._dterm = 0.0
        self._prev_temp = self.temperature
        self._since_sample = 0.0
        self._failed = False
        self._fan = 0.0
        self._state = _Protect.INACTIVE
        self._runaway_deadline = 0.0
        self._watch_target: float | None = None
        self._watch_deadline = 0.0

    @property
    def max_target(self) -> float:
        """Highest target accepted (max_temp minus the overshoot margin)."""
        return self.config.max_temp - self.config.overshoot

    def set_target(self, target: float) -> None:
        """Set the target (M104/M140/M109/M190); restarts Marlin's runaway and watch checks."""
        if self.runaway:
            return
        target = max(0.0, min(float(target), self.max_target))
        if target != self.target:
            self.target = target
            self._state = _Protect.FIRST_HEATING if target > 0 else _Protect.INACTIVE
        self._restart_watch()

    def at_target(self, tolerance: float = 2.0) -> bool:
        """Whether the reading is within `tolerance` °C of the target (M109/M190 wait condition)."""
        return abs(self.temperature - self.target) <= tolerance

    def set_fan(self, fraction: float) -> None:
        """Part-cooling fan speed 0..1 (M106 S/255, M107 = 0); it draws heat from this heater's block."""
        self._fan = min(max(float(fraction), 0.0), 1.0)

    def inject_failure(self) -> None:
        """The heater stops delivering heat (cartridge loose, thermistor off its block)."""
        self._failed = True

    def step(self, dt: float) -> None:
        """Advance `dt` simulated seconds: exact plant between controller samples."""
        cfg = self.config
        loss = 1.0 + cfg.fan_cooling * self._fan          # the part fan blowing on the block
        tau = cfg.time_constant / loss
        remaining = float(dt)
        while remaining > 0.0:
            h = min(remaining, cfg.sample_period - self._since_sample)
            steady = cfg.ambient + (0.0 if self._failed else cfg.heat_gain * self._duty) / loss
            self.temperature = steady + (self.temperature - steady) * math.exp(-h / tau)
            remaining -= h
            self.now += h
            self._since_sample += h
            if self._since_sample >= cfg.sample_period - 1e-12:
                self._since_sample = 0.0
                self._sample()

    def time_to_target(self) -> float:
        """Lower bound of the heat-up: seconds to the target at full power (0 if at/above it, inf if unreachable)."""
        cfg = self.config
        full = cfg.ambient + cfg.heat_gain
        if self.target <= self.temperature or self.target >= full:
            return 0.0 if self.target <= self.temperature else math.inf
        return cfg.time_constant * math.log((full - self.temperature) / (full - self.target))

    # -- internals ---------------------------------------------------------------------------------------
    def _sample(self) -> None:
        """One controller tick: PID output, then Marlin's protection checks."""
        cfg = self.config
        t = self.temperature
        err = self.target - t
        if self.target <= 0.0 or self.runaway:
            out = 0.0
            self._integral = 0.0
        elif err > cfg.pid_range:
            out = PID_MAX
            self._integral = 0.0
        elif err < -cfg.pid_range:
            out = 0.0
            self._integral = 0.0
        else:
            self._integral += err * cfg.sample_period
            if cfg.ki > 0:
                self._integral = min(max(self._integral, 0.0), PID_MAX / cfg.ki)
            deriv = (t - self._prev_temp) / cfg.sample_period
            self._dterm = PID_K1 * self._dterm + (1.0 - PID_K1) * cfg.kd * deriv
            out = cfg.kp * err + cfg.ki * self._integral - self._dterm
        self._prev_temp = t
        out = min(max(out, 0.0), PID_MAX)
        self._duty = out / PID_MAX
        self.power = int(out) >> 1
        self._protect()

    def _restart_watch(self) -> None:
        """Arm the heat-up watch if the target is well above the reading (Marlin's start_watching_heater)."""
        cfg = self.config
        goal = self.temperature + cfg.watch_increase
        if self.target > 0 and goal < self.target - cfg.runaway_hysteresis - 1:
            self._watch_target = goal
            self._watch_deadline = self.now + cfg.watch_period
        else:
            self._watch_target = None

    def _protect(self) -> None:
        """Watch: must rise watch_increase per watch_period; runaway: must stay near target once reached."""
        if self.runaway:
            return
        cfg = self.config
        if self._watch_target is not None and self.now >= self._watch_deadline:
            if self.temperature < self._watch_target:
                self._trip("heating_failed")
                return
            self._restart_watch()
        if self._state is _Protect.FIRST_HEATING:
            if self.temperature < self.target:
                return
            self._state = _Protect.STABLE
        if self._state is _Protect.STABLE:
            if self.temperature >= self.target - cfg.runaway_hysteresis:
                self._runaway_deadline = self.now + cfg.runaway_period
            elif self.now > self._runaway_deadline:
                self._trip("runaway")

    def _trip(self, reason: str) -> None:
        """Latch the fault and cut the heater, as Marlin's kill() does."""
        self.runaway = True
        self.fault = reason
        self.target = 0.0
        self._duty = 0.0
        self.power = 0
        self._state = _Protect.INACTIVE
        self._watch_target = None
