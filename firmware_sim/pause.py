"""Filament change and runout, as Marlin 2.1 does them with ADVANCED_PAUSE_FEATURE, FILAMENT_RUNOUT_SENSOR,
HOST_ACTION_COMMANDS, HOST_PROMPT_SUPPORT and EMERGENCY_PARSER (feature/pause.cpp, feature/runout.cpp,
feature/host_actions.cpp), on a board without an LCD. Host action lines go to every port.

**Runout** (the `runout@L` fault trips the sensor when the print reaches layer L, counted by the Z of
extrusion; only while the sensor is enabled, `M412 S1`, the default):

    //action:prompt_end
    //action:prompt_begin FilamentRunout T0
    //action:prompt_show
    //action:paused filament_runout 0          (M412 H0, default: then M600 is injected ahead of the queue)
  or, with host handling (`M412 H1`), nothing is injected and the print goes on until the host acts:
    //action:filament_runout T0
    //action:pause filament_runout 0

**M600** (from the file, the host or the runout script), in order:

1. `//action:paused`; then, unless another prompt is open (the runout prompt is):
   `//action:prompt_end`, `//action:prompt_begin Pause`, `//action:prompt_button Dismiss`, `//action:prompt_show`.
2. The moves already queued finish; retract 2 mm, raise Z (by 2 mm, at least to Z20), park at X10 Y210,
   unload 100 mm. While this runs: `echo:busy: processing` every keepalive interval (M113).
3. `echo:Insert filament and send M108`, then `//action:prompt_end`, `//action:prompt_begin Nozzle Parked`,
   `//action:prompt_button Continue`, `//action:prompt_show`; then `echo:busy: paused for user` every
   keepalive interval until the user answers.
4. **Resume** with `M108`, or `M876 S0` (the Continue button of the Nozzle Parked prompt). Both act as the
   bytes arrive (emergency parser), even while the command queue is full; one sent before step 3 is lost,
   as on Marlin (M876 then answers the Pause prompt, which only dismisses it). Lines the host sends during
   the pause wait in the command queue and the receive buffer as usual and run after the M600.
5. Load 100 mm and purge 50 mm; `//action:prompt_end`, `//action:prompt_begin Paused`,
   `//action:prompt_button PurgeMore`, `//action:prompt_button Continue` (`DisableRunout` after a runout),
   `//action:prompt_show`, `//action:prompt_end` (no wait: without an LCD Marlin does not wait for it).
6. Retract 2 mm, move back to the saved X Y, then Z, unretract, restore E; `//action:resumed`; the M600's
   `ok`. (Marlin's "Resuming" prompt is skipped here: the Paused prompt's reason is still set.)

M412 reports `echo:Filament runout ON|OFF`; `M412 S0` disables the sensor, `H1` hands runout to the host,
`R` resets a tripped sensor. M876 S1 on the runout prompts disables a tripped sensor (DisableRunout).
"""
from __future__ import annotations

import math
from typing import Protocol

Vec4 = tuple[float, float, float, float]

RETRACT_MM = 2.0            # PAUSE_PARK_RETRACT_LENGTH
RETRACT_FEED = 60.0         # PAUSE_PARK_RETRACT_FEEDRATE, mm/s
PARK_XY = (10.0, 210.0)     # NOZZLE_PARK_POINT on a 220 mm bed
PARK_Z = 20.0
PARK_Z_RAISE = 2.0          # NOZZLE_PARK_Z_RAISE_MIN
PARK_XY_FEED = 100.0        # NOZZLE_PARK_XY_FEEDRATE, mm/s
PARK_Z_FEED = 5.0           # NOZZLE_PARK_Z_FEEDRATE, mm/s
UNLOAD_MM, UNLOAD_FEED = 100.0, 10.0
LOAD_MM, LOAD_FEED = 100.0, 6.0
PURGE_MM, PURGE_FEED = 50.0, 3.0
EXTRUDE_MINTEMP = 170.0

# host_prompt_reason values (feature/host_actions.h)
NOT_DEFINED, FILAMENT_RUNOUT, USER_CONTINUE, INFO = "not_defined", "filament_runout", "user_continue", "info"


class PauseMachine(Protocol):
    """What the filament change needs of the board."""

    def broadcast(self, text: str) -> None:
        """A line for every port."""
        ...

    def planned_position(self) -> Vec4:
        """Machine position after the last queued move."""
        ...

    def move(self, target: list[float], feed_mm_s: float) -> float | None:
        """Queue a straight move."""
        ...

    def hotend_temperature(self) -> float:
        """Hotend reading, °C."""
        ...

    def finish_moves(self) -> float:
        """Hand every planned move to the steppers; the simulated time they will all be done."""
        ...

    def set_planned_e(self, e: float) -> None:
        """Declare the extruder position (no move), with the planner empty."""
        ...


class FilamentChange:
    """The runout sensor, the prompt state and one M600 in progress (see the module docstring)."""

    def __init__(self, m: PauseMachine) -> None:
        self.m = m
        self.reset()

    def reset(self) -> None:
        """Power-on: no change in progress, the sensor enabled and handled by the firmware."""
        self.enabled = True           # M412 S
        self.host_handling = False    # M412 H
        self.ran_out = False          # runout.filament_ran_out
        self.prompt = NOT_DEFINED     # host_prompt_reason
        self.phase = ""               # "" | parking | waiting | resuming
        self.confirmed = False
        self._resume: Vec4 = (0.0, 0.0, 0.0, 0.0)

    @property
    def waiting(self) -> bool:
        """Parked and waiting for M108 / M876 S0."""
        return self.phase == "waiting" and not self.confirmed

    # -- host prompts ------------------------------------------------------------------------------------------
    def _prompt(self, reason: str, text: str, *buttons: str) -> None:
        """Marlin's prompt_do: end any open prompt, begin, buttons, show."""
        self.prompt = reason
        self.m.broadcast("//action:prompt_end")
        self.m.broadcast(f"//action:prompt_begin {text}")
        for b in buttons:
            self.m.broadcast(f"//action:prompt_button {b}")
        self.m.broadcast("//action:prompt_show")

    def respond(self, button: int) -> None:
        """M876 S<button> (emergency parser): act on the open prompt's reason, then forget it."""
        reason, self.prompt = self.prompt, NOT_DEFINED
        if reason == USER_CONTINUE:
            self.user_continue()
        elif reason == FILAMENT_RUNOUT and button == 1 and self.ran_out:
            self.enabled = False
            self.ran_out = False

    def user_continue(self) -> None:
        """M108, or Continue on the Nozzle Parked prompt: clears `wait_for_user` (only while it is set)."""
        if self.phase == "waiting":
            self.confirmed = True

    # -- runout --------------------------------------------------------------------------------------------------
    def runout(self) -> bool:
        """The sensor tripped: send the runout lines; True when the runout script (M600) must be injected."""
        if not self.enabled or self.ran_out or self.phase:
            return False
        self.ran_out = True
        self._prompt(FILAMENT_RUNOUT, "FilamentRunout T0")
        if self.host_handling:
            self.m.broadcast("//action:filament_runout T0")
            self.m.broadcast("//action:pause filament_runout 0")
            return False
        self.m.broadcast("//action:paused filament_runout 0")
        return True

    # -- M600 ----------------------------------------------------------------------------------------------------
    def begin(self) -> bool:
        """M600 starts: pause lines, park and unload queued; False if a change is already in progress."""
        if self.phase:
            return False
        self.m.broadcast("//action:paused")
        if self.prompt == NOT_DEFINED:
            self._prompt(INFO, "Pause", "Dismiss")
        self.phase, self.confirmed = "parking", False
        x, y, z, e = self._resume = self.m.planned_position()
        hot = self.m.hotend_temperature() >= EXTRUDE_MINTEMP
        if hot:
            e -= RETRACT_MM
            self.m.move([x, y, z, e], RETRACT_FEED)
        z = min(max(z + PARK_Z_RAISE, PARK_Z), 250.0)
        self.m.move([x, y, z, e], PARK_Z_FEED)
        self.m.move([PARK_XY[0], PARK_XY[1], z, e], PARK_XY_FEED)
        if hot:
            self.m.move([PARK_XY[0], PARK_XY[1], z, e - UNLOAD_MM], UNLOAD_FEED)
        return True

    def step(self, now: float) -> float | None:
        """The current phase's moves are done at `now`: go on; the time to look again (inf: wait for the
        user), or None when the M600 is finished."""
        if self.phase == "parking":
            self.m.broadcast("echo:Insert filament and send M108")
            self._prompt(USER_CONTINUE, "Nozzle Parked", "Continue")
            self.phase = "waiting"
            return math.inf
        if self.phase == "waiting":
            if not self.confirmed:
                return math.inf
            self.phase = "resuming"
            return self._resume_moves()
        self.m.set_planned_e(self._resume[3])
        self.m.broadcast("//action:resumed")
        if self.prompt == NOT_DEFINED:
            self._prompt(INFO, "Resuming", "Dismiss")
        self.ran_out = False                      # runout.reset()
        self.phase = ""
        return None

    def _resume_moves(self) -> float:
        """Load, purge, prompt, and go back to where the print was."""
        x, y, z, e = self.m.planned_position()
        hot = self.m.hotend_temperature() >= EXTRUDE_MINTEMP
        if hot:
            e += LOAD_MM
            self.m.move([x, y, z, e], LOAD_FEED)
            e += PURGE_MM
            self.m.move([x, y, z, e], PURGE_FEED)
        self._prompt(FILAMENT_RUNOUT, "Paused", "PurgeMore", "DisableRunout" if self.ran_out else "Continue")
        self.m.broadcast("//action:prompt_end")
        rx, ry, rz, _ = self._resume
        if hot:
            e -= RETRACT_MM
            self.m.move([x, y, z, e], RETRACT_FEED)
        self.m.move([rx, ry, z, e], PARK_XY_FEED)
        self.m.move([rx, ry, rz, e], PARK_Z_FEED)
        if hot:
            self.m.move([rx, ry, rz, e + RETRACT_MM], RETRACT_FEED)
        return self.m.finish_moves()
