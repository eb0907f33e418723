"""Pause commands (ADVANCED_PAUSE_FEATURE, FILAMENT_RUNOUT_SENSOR, HOST_PROMPT_SUPPORT): M600, M412, M876.

The procedure itself, and the exact lines it sends, are in `firmware_sim.pause`.
"""
from __future__ import annotations

from firmware_sim.gcode_words import Words
from firmware_sim.machine import Machine
from firmware_sim.outcome import OK, Outcome, Wait


class PauseCommands:
    """M600 filament change, M412 runout sensor settings, M876 prompt answers."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine

    def reset(self) -> None:
        """State lives in the board's filament change (reset with the board)."""

    def cmd_M600(self, w: Words) -> Outcome:
        """Filament change: park, wait for the user (M108 / M876 S0), load, resume; ok when printing again."""
        if not self.m.pause.begin():
            return OK
        return Outcome(wait=Wait("user"))

    def cmd_M412(self, w: Words) -> Outcome:
        """Runout sensor: S enable, H host handling, R reset; no parameters: report."""
        p = self.m.pause
        if not any(w.has(k) for k in "SHR"):
            self.m.echo(f"Filament runout {'ON' if p.enabled else 'OFF'}")
            return OK
        if w.has("R"):
            p.ran_out = False
        if w.has("S"):
            p.enabled = bool(w.value("S", 1.0))
        if w.has("H"):
            p.host_handling = bool(w.value("H", 1.0))
        return OK

    def cmd_M876(self, w: Words) -> Outcome:
        """Prompt answer: already acted on by the emergency parser as the bytes arrived."""
        return OK
