"""Host interface commands: line numbers, emergency commands, keepalive, firmware info."""
from __future__ import annotations

from firmware_sim.gcode_words import Words
from firmware_sim.machine import Machine
from firmware_sim.outcome import OK, Outcome


class HostCommands:
    """M110, M112, M108, M410, M113, M115, M486, M999."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine

    def reset(self) -> None:
        """No state of its own."""

    def cmd_M110(self, w: Words) -> Outcome:
        """Set the current line number (the protocol already did when the line carried N)."""
        n = w.value("N")
        if n is not None:
            self.m.set_line_number(int(n))
        return OK

    def cmd_M112(self, w: Words) -> Outcome:
        """Emergency stop (normally caught earlier by the emergency parser)."""
        self.m.kill()
        return Outcome(no_ok=True)

    def cmd_M108(self, w: Words) -> Outcome:
        """Break out of a heating or user wait (handled by the emergency parser); harmless here."""
        return OK

    def cmd_M410(self, w: Words) -> Outcome:
        """Quickstop (done by the emergency parser when the bytes arrived); nothing left to do."""
        return OK

    def cmd_M113(self, w: Words) -> Outcome:
        """Host keepalive interval in seconds (0 disables busy messages)."""
        if w.has("S"):
            self.m.keepalive_interval = max(0.0, min(60.0, w.value("S", 0.0) or 0.0))
        else:
            self.m.echo(f"M113 S{int(self.m.keepalive_interval)}")
        return OK

    def cmd_M115(self, w: Words) -> Outcome:
        """Firmware name and capabilities (Klipper: in the ok line, no capabilities)."""
        flavour = self.m.flavour
        if flavour.m115_in_ok:
            return Outcome(ok_text=flavour.m115)
        self.m.reply(flavour.m115)
        for cap in flavour.caps:
            self.m.reply(f"Cap:{cap}")
        return OK

    def cmd_M486(self, w: Words) -> Outcome:
        """Object labels: `S<k>` names the object the moves that follow print (-1: none); `T`, `P`, `U` are
        taken (a host skips a failed copy itself)."""
        if w.has("S"):
            self.m.set_object(int(w.value("S", -1.0) or 0.0))
        return OK

    def cmd_M999(self, w: Words) -> Outcome:
        """Resume after a stop (not after kill, as on Marlin)."""
        return OK
