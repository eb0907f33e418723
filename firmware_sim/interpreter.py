"""The G-code interpreter: a table of small handlers named after the commands (`cmd_G1`, `cmd_M105`, ...).

Handlers live in modules by concern (`cmd_motion`, `cmd_heat`, `cmd_limits`, `cmd_pause`, `cmd_host`), each a
class that holds its own modal state and drives the printer only through the `Machine` interface
(`firmware_sim.machine`). Each handler returns an `Outcome`: text for its `ok`, or a `Wait` the board must
finish (in simulated time) before the ok is sent.
"""
from __future__ import annotations

from collections.abc import Callable

from firmware_sim.cmd_heat import HeatCommands
from firmware_sim.cmd_host import HostCommands
from firmware_sim.cmd_limits import LimitCommands
from firmware_sim.cmd_motion import HOMING_FEED, MotionCommands
from firmware_sim.cmd_pause import PauseCommands
from firmware_sim.gcode_words import Words, parse_words
from firmware_sim.machine import Machine
from firmware_sim.outcome import OK, Outcome, Wait

__all__ = ["ACCEPTED", "HOMING_FEED", "OK", "Interpreter", "Outcome", "Wait"]

ACCEPTED = {"M17", "M73", "M75", "M76", "M77", "M117", "M118", "M300", "M31", "M486"}
"""Acknowledged and otherwise ignored (M486: object labels; a host skips a failed copy itself)."""


class Interpreter:
    """Modal G-code state plus one handler per command, dispatched by name."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine
        self.motion = MotionCommands(machine)
        self.heat = HeatCommands(machine)
        self.limits = LimitCommands(machine)
        self.host = HostCommands(machine)
        pause = (PauseCommands(machine),) if machine.flavour.pause_feature else ()
        self._modules = (self.motion, self.heat, self.limits, self.host, *pause)
        self._table: dict[str, Callable[[Words], Outcome]] = {}
        for module in self._modules:
            for name in dir(module):
                if name.startswith("cmd_"):
                    self._table[name[4:]] = getattr(module, name)

    @property
    def fan(self) -> int:
        """Part fan 0..255 as last set."""
        return self.heat.fan

    def reset(self) -> None:
        """Power-on modal state of every module."""
        for module in self._modules:
            module.reset()

    def execute(self, text: str) -> Outcome:
        """Run one command line; unknown commands are reported in the flavour's spelling and still get their ok."""
        words = parse_words(text)
        if words is not None and words.name in ACCEPTED:
            return OK
        handler = self._table.get(words.name) if words is not None else None
        if handler is None or words is None:
            shown = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text.strip())
            name = words.name if words is not None else shown.split(" ", 1)[0]
            self.m.reply(self.m.flavour.unknown.format(cmd=shown, name=name))
            return OK
        return handler(words)
