"""The G-code interpreter: a table of small handlers named after the commands (`cmd_G1`, `cmd_M105`, ...).

Handlers read the parsed words, update the modal state (units, absolute/relative, offsets, feed rate) and call
the machine (`firmware_sim.board.Board`) for motion, heaters and replies. Each returns an `Outcome`: text for
its `ok`, or a `Wait` the board must finish (in simulated time) before the ok is sent.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from firmware_sim.gcode_words import Words, parse_words
from firmware_sim.ports import FIRMWARE

if TYPE_CHECKING:
    from firmware_sim.board import Board

AXES = "XYZE"
CAPS = (
    "SERIAL_XON_XOFF:0", "BINARY_FILE_TRANSFER:0", "EEPROM:0", "VOLUMETRIC:0", "AUTOREPORT_POS:0",
    "AUTOREPORT_TEMP:1", "PROGRESS:0", "PRINT_JOB:1", "AUTOLEVEL:0", "RUNOUT:0", "Z_PROBE:0", "LEVELING_DATA:0",
    "BUILD_PERCENT:0", "SOFTWARE_POWER:0", "TOGGLE_LIGHTS:0", "CASE_LIGHT_BRIGHTNESS:0", "EMERGENCY_PARSER:1",
    "BUSY_PROTOCOL:1", "ADVANCED_OK:1", "HOST_ACTION_COMMANDS:0", "PROMPT_SUPPORT:0", "SDCARD:0", "REPEAT:0",
    "SD_WRITE:0", "AUTOREPORT_SD_STATUS:0", "LONG_FILENAME:0", "THERMAL_PROTECTION:1", "MOTION_MODES:0",
    "ARCS:1", "BABYSTEPPING:0", "CHAMBER_TEMPERATURE:0", "COOLER_TEMPERATURE:0", "MEATPACK:0", "CONFIG_EXPORT:0",
)
EXTRUDE_MINTEMP = 170.0
MM_PER_ARC_SEGMENT = 1.0
HOMING_FEED = (50.0, 50.0, 4.0)  # mm/s, Marlin's HOMING_FEEDRATE_MM_M for X, Y, Z
ACCEPTED = {"M17", "M73", "M75", "M76", "M77", "M117", "M118", "M201", "M203", "M204", "M205", "M300", "M31"}


@dataclass(frozen=True)
class Wait:
    """Something the board must complete before the command's ok: `until` a time, `sync`, `dwell` (seconds
    after the moves), `heat` (a heater reaching its target), `home` (the named axes)."""

    kind: str
    until: float = 0.0
    heater: str = ""
    axes: str = ""
    tolerance: float = 0.0
    cooling: bool = False      # heat waits: also wait while cooling down to the target (M109 R)


@dataclass(frozen=True)
class Outcome:
    """Result of one handler: text after `ok`, a wait, or no ok at all (kill)."""

    ok_text: str = ""
    wait: Wait | None = None
    no_ok: bool = False


OK = Outcome()


class Interpreter:
    """Modal G-code state plus one handler per command, dispatched by name."""

    def __init__(self, machine: Board) -> None:
        self.m = machine
        self.reset()
        self._table: dict[str, Callable[[Words], Outcome]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("cmd_")
        }

    def reset(self) -> None:
        """Power-on modal state: absolute XYZ and E, millimetres, no offsets, 100 % feed and flow."""
        self.relative = False
        self.relative_e = False
        self.inches = False
        self.offset = [0.0, 0.0, 0.0, 0.0]
        self.feed_mm_s = 25.0
        self.feed_pct = 100.0
        self.flow_pct = 100.0
        self.fan = 0

    def execute(self, text: str) -> Outcome:
        """Run one command line; unknown commands echo as Marlin does and still get their ok."""
        words = parse_words(text)
        handler = self._table.get(words.name) if words is not None else None
        if words is not None and words.name in ACCEPTED:
            return OK
        if handler is None or words is None:
            shown = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text.strip())
            self.m.echo(f'Unknown command: "{shown}"')
            return OK
        return handler(words)

    # -- motion ------------------------------------------------------------------------------------------------
    def _target(self, w: Words) -> list[float]:
        """Machine-coordinate target of a move from its words and the modal state."""
        scale = 25.4 if self.inches else 1.0
        cur = self.m.planned_position()
        target = list(cur)
        params = w.params
        for i, axis in enumerate(AXES):
            v = params.get(axis)
            if v is None:
                continue
            v *= scale
            relative = self.relative_e if i == 3 else self.relative
            target[i] = cur[i] + v if relative else v + self.offset[i]
        f = params.get("F")
        if f is not None and f > 0:
            self.feed_mm_s = f * scale / 60.0
        return target

    def _move(self, target: list[float]) -> Outcome:
        """Queue a straight move; wait until the planner has a free slot for it."""
        cur_e = self.m.planned_position()[3]
        if target[3] != cur_e:
            commanded = target[3] - cur_e
            de = commanded * self.flow_pct / 100.0
            if de > 0 and self.m.hotend_temperature() < EXTRUDE_MINTEMP:
                self.m.echo(" cold extrusion prevented")
                de = 0.0
            self.offset[3] += de - commanded
            target[3] = cur_e + de
        free_at = self.m.move(target, self.feed_mm_s * self.feed_pct / 100.0)
        return Outcome(wait=Wait("until", until=free_at)) if free_at is not None else OK

    def cmd_G0(self, w: Words) -> Outcome:
        """Rapid move: same as G1 on Marlin."""
        return self._move(self._target(w))

    def cmd_G1(self, w: Words) -> Outcome:
        """Linear move."""
        return self._move(self._target(w))

    def _arc(self, w: Words, clockwise: bool) -> Outcome:
        """G2/G3: split the arc into ~1 mm chords (Marlin's MM_PER_ARC_SEGMENT) and queue each."""
        start = self.m.planned_position()
        end = self._target(w)
        scale = 25.4 if self.inches else 1.0
        if w.has("R"):
            r = (w.value("R") or 0.0) * scale
            dx, dy = end[0] - start[0], end[1] - start[1]
            d = math.hypot(dx, dy)
            if d == 0 or abs(r) < d / 2:
                self.m.echo("Arc radius too small for the end point; moving straight")
                return self._move(end)
            h = math.sqrt(max(r * r - d * d / 4, 0.0)) * (1 if (r > 0) != clockwise else -1)
            cx, cy = start[0] + dx / 2 - h * dy / d, start[1] + dy / 2 + h * dx / d
        else:
            cx, cy = start[0] + (w.value("I", 0.0) or 0.0) * scale, start[1] + (w.value("J", 0.0) or 0.0) * scale
        radius = math.hypot(start[0] - cx, start[1] - cy)
        a0 = math.atan2(start[1] - cy, start[0] - cx)
        a1 = math.atan2(end[1] - cy, end[0] - cx)
        sweep = a1 - a0
        if clockwise and sweep >= -1e-9:
            sweep -= 2 * math.pi
        elif not clockwise and sweep <= 1e-9:
            sweep += 2 * math.pi
        n = max(1, math.ceil(abs(sweep) * radius / MM_PER_ARC_SEGMENT))
        f = np.arange(1, n + 1) / n
        ang = a0 + sweep * f
        pts = np.empty((n, 4))
        pts[:, 0] = cx + radius * np.cos(ang)
        pts[:, 1] = cy + radius * np.sin(ang)
        pts[:, 2] = start[2] + (end[2] - start[2]) * f
        pts[:, 3] = start[3] + (end[3] - start[3]) * f
        pts[-1] = end
        latest: float | None = None
        for p in pts.tolist():
            outcome = self._move(p)
            if outcome.wait is not None:
                latest = outcome.wait.until if latest is None else max(latest, outcome.wait.until)
        return OK if latest is None else Outcome(wait=Wait("until", until=latest))

    def cmd_G2(self, w: Words) -> Outcome:
        """Clockwise arc."""
        return self._arc(w, True)

    def cmd_G3(self, w: Words) -> Outcome:
        """Counter-clockwise arc."""
        return self._arc(w, False)

    def cmd_G4(self, w: Words) -> Outcome:
        """Dwell P milliseconds or S seconds, after the moves finish."""
        seconds = (w.value("P", 0.0) or 0.0) / 1000.0 + (w.value("S", 0.0) or 0.0)
        return Outcome(wait=Wait("dwell", until=seconds))

    def cmd_G20(self, w: Words) -> Outcome:
        """Units: inches."""
        self.inches = True
        return OK

    def cmd_G21(self, w: Words) -> Outcome:
        """Units: millimetres."""
        self.inches = False
        return OK

    def cmd_G28(self, w: Words) -> Outcome:
        """Home the named axes (all when none named) to 0, taking the time homing moves take."""
        axes = [a for a in "XYZ" if w.has(a)] or ["X", "Y", "Z"]
        for a in axes:
            self.offset["XYZ".index(a)] = 0.0
        return Outcome(wait=Wait("home", axes="".join(axes)))

    def cmd_G90(self, w: Words) -> Outcome:
        """Absolute positioning (E follows, as in Marlin)."""
        self.relative = self.relative_e = False
        return OK

    def cmd_G91(self, w: Words) -> Outcome:
        """Relative positioning (E follows, as in Marlin)."""
        self.relative = self.relative_e = True
        return OK

    def cmd_G92(self, w: Words) -> Outcome:
        """Set the logical position without moving (a workspace offset)."""
        cur = self.m.planned_position()
        scale = 25.4 if self.inches else 1.0
        for i, axis in enumerate(AXES):
            v = w.value(axis)
            if v is not None:
                self.offset[i] = cur[i] - v * scale
        return OK

    def cmd_M82(self, w: Words) -> Outcome:
        """Absolute extrusion."""
        self.relative_e = False
        return OK

    def cmd_M83(self, w: Words) -> Outcome:
        """Relative extrusion."""
        self.relative_e = True
        return OK

    def cmd_M84(self, w: Words) -> Outcome:
        """Disable steppers once the moves finish."""
        return Outcome(wait=Wait("sync"))

    cmd_M18 = cmd_M84

    def cmd_M400(self, w: Words) -> Outcome:
        """Wait for all moves to finish."""
        return Outcome(wait=Wait("sync"))

    def cmd_M220(self, w: Words) -> Outcome:
        """Feed rate percentage."""
        self.feed_pct = w.value("S", self.feed_pct) or self.feed_pct
        return OK

    def cmd_M221(self, w: Words) -> Outcome:
        """Flow percentage."""
        self.flow_pct = w.value("S", self.flow_pct) or self.flow_pct
        return OK

    def cmd_T0(self, w: Words) -> Outcome:
        """Select the only extruder."""
        return OK

    # -- heat, fan -----------------------------------------------------------------------------------------------
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
        """Report temperatures in the ok: `ok T:200.00 /200.00 B:60.00 /60.00 @:127 B@:64`."""
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

    # -- host interface --------------------------------------------------------------------------------------------
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
        """Break out of a heating wait (handled by the emergency parser); harmless here."""
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

    def cmd_M114(self, w: Words) -> Outcome:
        """Report the position: `X:.. Y:.. Z:.. E:.. Count X:.. Y:.. Z:..`."""
        logical = [p - o for p, o in zip(self.m.planned_position(), self.offset)]
        real = self.m.stepper_position()
        counts = [round(real[i] * steps) for i, steps in enumerate((80.0, 80.0, 400.0))]
        self.m.reply(
            f"X:{logical[0]:.2f} Y:{logical[1]:.2f} Z:{logical[2]:.2f} E:{logical[3]:.2f} "
            f"Count X:{counts[0]} Y:{counts[1]} Z:{counts[2]}"
        )
        return OK

    def cmd_M115(self, w: Words) -> Outcome:
        """Firmware name and capabilities."""
        self.m.reply(
            f"FIRMWARE_NAME:{FIRMWARE} SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 "
            "MACHINE_TYPE:printloop sim EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff"
        )
        for cap in CAPS:
            self.m.reply(f"Cap:{cap}")
        return OK

    def cmd_M999(self, w: Words) -> Outcome:
        """Resume after a stop (not after kill, as on Marlin)."""
        return OK
