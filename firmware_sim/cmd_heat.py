"""Heater and fan commands: targets, heat-and-wait, temperature reports and auto-report, part fan."""
from __future__ import annotations

from firmware_sim.gcode_words import Words
from firmware_sim.machine import Machine
from firmware_sim.outcome import OK, Outcome, Wait


class HeatCommands:
    """M104/M109, M140/M190, M105, M155, M106/M107."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine
        self.reset()

    def reset(self) -> None:
        """Fan off at power-on (heaters are the board's)."""
        self.fan = 0

    def cmd_M104(self, w: Words) -> Outcome:
        """Set the hotend target."""
        self.m.set_target("T", w.value("S", 0.0) or 0.0)
        return OK

    def cmd_M109(self, w: Words) -> Outcome:
        """Set the hotend target and wait for it (S heating only or R both ways)."""
        return self._heat_wait(w, "T", 2.0)

    def _heat_wait(self, w: Words, heater: str, tolerance: float) -> Outcome:
        """M109/M190: S sets the target and waits only when heating, R waits for cooling as well; neither:
        nothing to do (as Marlin)."""
        t = w.value("S") if w.has("S") else w.value("R")
        if t is None:
            return OK
        self.m.set_target(heater, t)
        return Outcome(wait=Wait("heat", heater=heater, tolerance=tolerance, cooling=not w.has("S")))

    def cmd_M140(self, w: Words) -> Outcome:
        """Set the bed target."""
        self.m.set_target("B", w.value("S", 0.0) or 0.0)
        return OK

    def cmd_M190(self, w: Words) -> Outcome:
        """Set the bed target and wait for it."""
        return self._heat_wait(w, "B", 1.0)

    def cmd_M105(self, w: Words) -> Outcome:
        """Report temperatures in the ok: `ok T:200.00 /200.00 B:60.00 /60.00 @:127 B@:64` (Marlin)."""
        return Outcome(ok_text=self.m.temperature_report())

    def cmd_M155(self, w: Words) -> Outcome:
        """Auto-report temperatures every S seconds (0 stops)."""
        self.m.autoreport_interval = max(0.0, w.value("S", 0.0) or 0.0)
        return OK

    def cmd_M106(self, w: Words) -> Outcome:
        """Part fan speed 0..255."""
        self.fan = int(max(0.0, min(255.0, w.value("S", 255.0) or 0.0)))
        self.m.set_fan(self.fan / 255.0)
        return OK

    def cmd_M107(self, w: Words) -> Outcome:
        """Part fan off."""
        self.fan = 0
        self.m.set_fan(0.0)
        return OK
