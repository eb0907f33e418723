"""Motion limit commands a file may carry: M201 max acceleration, M203 max feed rate, M204 accelerations,
M205 junction deviation (or jerk), M503 report. New limits apply to moves queued after them.

The simulated planner limits corners by junction deviation (Marlin 2's default); `M205 J` sets it. A file's
`M205 X/Y` jerk (classic jerk, which such a Marlin build ignores) is turned into the equivalent deviation
with Marlin's documented rule of thumb JD = 0.4 · jerk² / acceleration, so a file's own jerk still sets its
simulated time. Values ≤ 0 are ignored (the planner cannot move with them).
"""
from __future__ import annotations

from dataclasses import replace

from firmware_sim.gcode_words import Words
from firmware_sim.machine import Machine
from firmware_sim.outcome import OK, Outcome

AXES = "XYZE"


def _per_axis(w: Words, current: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Current per-axis values with the positive ones the command names replaced."""
    out = list(current)
    for i, axis in enumerate(AXES):
        v = w.value(axis)
        if v is not None and v > 0:
            out[i] = v
    return out[0], out[1], out[2], out[3]


class LimitCommands:
    """M201, M203, M204, M205, M503."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine
        self.reset()

    def reset(self) -> None:
        """Jerk as last set (reported by M503 only)."""
        self.jerk = (0.0, 0.0, 0.0, 0.0)

    def cmd_M201(self, w: Words) -> Outcome:
        """Max acceleration per axis, mm/s²."""
        lim = self.m.motion_limits()
        self.m.set_motion_limits(replace(lim, max_acceleration=_per_axis(w, lim.max_acceleration)))
        return OK

    def cmd_M203(self, w: Words) -> Outcome:
        """Max feed rate per axis, mm/s."""
        lim = self.m.motion_limits()
        self.m.set_motion_limits(replace(lim, max_feedrate=_per_axis(w, lim.max_feedrate)))
        return OK

    def cmd_M204(self, w: Words) -> Outcome:
        """Accelerations: P printing, R retracting, T travel; S sets printing and travel (Marlin 2)."""
        lim = self.m.motion_limits()

        def given(letter: str, current: float) -> float:
            v = w.value(letter)
            return v if v is not None and v > 0 else current

        both = given("S", 0.0)
        print_acc = given("P", both or lim.acceleration)
        travel = given("T", both or lim.travel_acceleration)
        retract = given("R", lim.retract_acceleration)
        self.m.set_motion_limits(replace(lim, acceleration=print_acc, travel_acceleration=travel,
                                         retract_acceleration=retract))
        return OK

    def cmd_M205(self, w: Words) -> Outcome:
        """Junction deviation J (mm); or X/Y jerk (mm/s) turned into a deviation (see the module docstring)."""
        lim = self.m.motion_limits()
        self.jerk = _per_axis(w, self.jerk)
        j = w.value("J")
        if j is not None and j > 0:
            self.m.set_motion_limits(replace(lim, junction_deviation=j))
            return OK
        jerk = [v for v in (w.value("X"), w.value("Y")) if v is not None and v > 0]
        if jerk:
            deviation = 0.4 * max(jerk) ** 2 / lim.acceleration
            self.m.set_motion_limits(replace(lim, junction_deviation=max(deviation, 1e-3)))
        return OK

    def cmd_M503(self, w: Words) -> Outcome:
        """Report the settings as Marlin does, one replayable command per line."""
        lim = self.m.motion_limits()
        fx, fy, fz, fe = lim.max_feedrate
        ax, ay, az, ae = lim.max_acceleration
        for line in (
            "; Max feedrates (units/s):",
            f"  M203 X{fx:.2f} Y{fy:.2f} Z{fz:.2f} E{fe:.2f}",
            "; Max Acceleration (units/s2):",
            f"  M201 X{ax:.2f} Y{ay:.2f} Z{az:.2f} E{ae:.2f}",
            "; Acceleration (units/s2) (P<print-accel> R<retract-accel> T<travel-accel>):",
            f"  M204 P{lim.acceleration:.2f} R{lim.retract_acceleration:.2f} T{lim.travel_acceleration:.2f}",
            "; Advanced (B<min_segment_time_us> S<min_feedrate> T<min_travel_feedrate> J<junc_dev>):",
            f"  M205 B20000.00 S{lim.min_feedrate:.2f} T0.00 J{lim.junction_deviation:.3f}",
        ):
            self.m.echo(line)
        return OK
