"""Motion commands: moves, arcs, dwell, homing, units and modes, offsets, feed and flow overrides, M114.

Owns the modal state a move is read with (absolute/relative XYZ and E, inches, workspace offsets, feed rate,
feed and flow percentages) and turns targets into machine moves on the `Machine`.
"""
from __future__ import annotations

import math

import numpy as np

from firmware_sim.gcode_words import Words
from firmware_sim.machine import Machine
from firmware_sim.outcome import OK, Outcome, Wait

AXES = "XYZE"
EXTRUDE_MINTEMP = 170.0
MM_PER_ARC_SEGMENT = 1.0
HOMING_FEED = (50.0, 50.0, 4.0)  # mm/s, Marlin's HOMING_FEEDRATE_MM_M for X, Y, Z
STEPS_PER_MM = (80.0, 80.0, 400.0)


class MotionCommands:
    """G0-G4, G20/G21, G28, G90-G92, M82/M83, M84/M18, M400, M220/M221, T0, M114."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine
        self.reset()

    def reset(self) -> None:
        """Power-on modal state: absolute XYZ and E, millimetres, no offsets, 100 % feed and flow."""
        self.relative = False
        self.relative_e = False
        self.inches = False
        self.offset = [0.0, 0.0, 0.0, 0.0]
        self.feed_mm_s = 25.0
        self.feed_pct = 100.0
        self.flow_pct = 100.0

    # -- moves ---------------------------------------------------------------------------------------------
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
                self.m.error("cold_extrusion")
                if self.m.flavour.refuses_bad_moves:
                    return OK
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

    # -- modes ---------------------------------------------------------------------------------------------
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

    def cmd_M114(self, w: Words) -> Outcome:
        """Report the position: `X:.. Y:.. Z:.. E:.. Count X:.. Y:.. Z:..` (Klipper: `X:.. Y:.. Z:.. E:..`)."""
        logical = [p - o for p, o in zip(self.m.planned_position(), self.offset)]
        if self.m.flavour.temps == "klipper":
            self.m.reply(f"X:{logical[0]:.3f} Y:{logical[1]:.3f} Z:{logical[2]:.3f} E:{logical[3]:.3f}")
            return OK
        real = self.m.stepper_position()
        counts = [round(real[i] * steps) for i, steps in enumerate(STEPS_PER_MM)]
        self.m.reply(
            f"X:{logical[0]:.2f} Y:{logical[1]:.2f} Z:{logical[2]:.2f} E:{logical[3]:.2f} "
            f"Count X:{counts[0]} Y:{counts[1]} Z:{counts[2]}"
        )
        return OK
