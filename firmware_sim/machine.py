"""The machine interface the G-code handlers drive: motion, heaters, fan, replies and the line counter.

`firmware_sim.board.Board` implements it; handlers never see the board's protocol, planner or clock, so a
handler module can be read (and tested) against this small surface alone.
"""
from __future__ import annotations

from typing import Protocol

from firmware_sim.flavours import Flavour
from firmware_sim.pause import FilamentChange
from firmware_sim.planner import MotionConfig

Vec4 = tuple[float, float, float, float]


class Machine(Protocol):
    """What the interpreter may ask of the printer it runs on."""

    autoreport_interval: float      # M155 seconds between temperature reports (0 = off)
    keepalive_interval: float       # M113 seconds between busy lines (0 = off)
    flavour: Flavour                # the firmware whose replies the board speaks
    pause: FilamentChange           # runout sensor and filament change (M600, M412)

    def planned_position(self) -> Vec4:
        """Machine position after the last queued move (mm)."""
        ...

    def stepper_position(self) -> Vec4:
        """Where the head physically is now (mm)."""
        ...

    def move(self, target: list[float], feed_mm_s: float) -> float | None:
        """Queue a straight move; the simulated time the planner has room again, if it is full."""
        ...

    def motion_limits(self) -> MotionConfig:
        """The planner's current limits (M201/M203/M204/M205 change them)."""
        ...

    def set_motion_limits(self, limits: MotionConfig) -> None:
        """New limits for moves queued from now on."""
        ...

    def hotend_temperature(self) -> float:
        """Current hotend reading (°C)."""
        ...

    def set_target(self, heater: str, target: float) -> None:
        """Heater target in °C: `T` hotend, `B` bed."""
        ...

    def set_fan(self, fraction: float) -> None:
        """Part fan 0..1."""
        ...

    def temperature_report(self) -> str:
        """The temperature report in the flavour's spelling (without `ok`)."""
        ...

    def set_object(self, k: int) -> None:
        """M486 S: the moves queued from now on print object k (-1: no object)."""
        ...

    def set_line_number(self, n: int) -> None:
        """M110: the executing command's port continues from line n."""
        ...

    def reply(self, text: str) -> None:
        """A line to the host that sent the executing command."""
        ...

    def echo(self, text: str) -> None:
        """An informational line (`echo:` on Marlin) to that host."""
        ...

    def error(self, key: str, **values: float) -> None:
        """A non-fatal command error in the flavour's spelling (`echo:` on Marlin, `!! ` on Klipper)."""
        ...

    def kill(self) -> None:
        """Halt: heaters off, motion stopped, nothing more executed."""
        ...
