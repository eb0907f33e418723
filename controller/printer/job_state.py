"""What the printer's G-code state is after the commands sent so far, the pause/resume sequences built from it,
and a job's time left at the pace measured.

Units: millimetres, mm/min feed rates (as in G-code), °C.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

_WORD = re.compile(r"([A-Z])\s*(-?\d*\.?\d+)", re.ASCII)


@dataclass(frozen=True)
class ParkConfig:
    """Where a paused job parks the head: retract E by `retract`, lift Z by `lift`, move to (x, y)."""

    x: float = 0.0
    y: float = 200.0
    lift: float = 5.0
    retract: float = 2.0
    travel_feed: float = 6000.0
    z_feed: float = 600.0
    retract_feed: float = 2100.0


@dataclass(frozen=True)
class MachineState:
    """Positions, modes, feed and heater targets implied by the commands sent."""

    x: float | None = None
    y: float | None = None
    z: float | None = None
    e: float = 0.0
    feed: float | None = None
    relative_xyz: bool = False
    relative_e: bool = False
    hotend_target: float = 0.0
    bed_target: float = 0.0
    fan: float = 0.0
    inches: bool = False       # G20: the file's positions and feed rates are in inches
    extra: dict[str, float] = field(default_factory=dict)


def _words(command: str) -> dict[str, float]:
    """Numeric words of a command."""
    return {k: float(v) for k, v in _WORD.findall(command.upper())}


_HEAD = re.compile(r"\s*([GMT])\s*0*(\d+)", re.ASCII | re.IGNORECASE)


def advance(state: MachineState, command: str) -> MachineState:
    """The state after one command (only what pause/resume needs: moves, units, modes, G92, heaters, fan)."""
    m = _HEAD.match(command)
    head = f"{m.group(1).upper()}{m.group(2)}" if m else ""
    if head in ("G0", "G1", "G2", "G3"):
        w = _words(command)
        upd: dict[str, float | None] = {}
        for axis in ("X", "Y", "Z"):
            if axis in w:
                cur = getattr(state, axis.lower())
                upd[axis.lower()] = (cur or 0.0) + w[axis] if state.relative_xyz else w[axis]
        if "E" in w:
            upd["e"] = state.e + w["E"] if state.relative_e else w["E"]
        if "F" in w:
            upd["feed"] = w["F"]
        return replace(state, **upd)  # type: ignore[arg-type]
    if head == "G20":
        return replace(state, inches=True)
    if head == "G21":
        return replace(state, inches=False)
    if head == "G90":
        return replace(state, relative_xyz=False, relative_e=False)
    if head == "G91":
        return replace(state, relative_xyz=True, relative_e=True)
    if head == "M82":
        return replace(state, relative_e=False)
    if head == "M83":
        return replace(state, relative_e=True)
    if head == "G92":
        w = _words(command)
        upd2 = {a.lower(): w[a] for a in ("X", "Y", "Z", "E") if a in w}
        return replace(state, **upd2)  # type: ignore[arg-type]
    if head == "G28":
        w = _words(command)
        axes = [a for a in ("X", "Y", "Z") if a in command.upper()[3:]] or ["X", "Y", "Z"]
        del w
        return replace(state, **{a.lower(): 0.0 for a in axes})  # type: ignore[arg-type]
    if head in ("M104", "M109"):
        s = _words(command).get("S")
        return replace(state, hotend_target=s) if s is not None else state
    if head in ("M140", "M190"):
        s = _words(command).get("S")
        return replace(state, bed_target=s) if s is not None else state
    if head == "M106":
        return replace(state, fan=_words(command).get("S", 255.0))
    if head == "M107":
        return replace(state, fan=0.0)
    return state


def clearing_lift(lift: float, z: float, clear_z: float) -> float:
    """How far (mm) to lift a head at height `z` before a host move across the bed: `lift`, and more where the
    tallest material printed so far (`clear_z`: a sequential print's finished copies) stands above the head."""
    return lift + max(0.0, clear_z - z)


def lift_mm(state: MachineState, park: ParkConfig, clear_z: float = 0.0) -> float:
    """`clearing_lift` for the head at `state` (the park's lift alone where its height is unknown)."""
    if state.z is None:
        return park.lift
    return clearing_lift(park.lift, state.z * (25.4 if state.inches else 1.0), clear_z)


def pause_sequence(state: MachineState, park: ParkConfig, clear_z: float = 0.0) -> list[str]:
    """Retract, lift (above `clear_z` too) and park, keeping heaters on (millimetres, relative lift; modes
    restored on return)."""
    out = ["M400", *(["G21"] if state.inches else []), "M83", f"G1 E{-park.retract:.3f} F{park.retract_feed:.0f}",
           "G91", f"G1 Z{lift_mm(state, park, clear_z):.3f} F{park.z_feed:.0f}", "G90"]
    if state.x is not None and state.y is not None:
        out.append(f"G1 X{park.x:.3f} Y{park.y:.3f} F{park.travel_feed:.0f}")
    out.append("M400")
    return out


def return_sequence(state: MachineState, park: ParkConfig, unretract: float = 0.0) -> list[str]:
    """Back to where the file left the head after the host moved it: travel at the lifted height to X/Y, down
    to Z, then the file's units, distance modes, E and feed rate (unretracting `unretract` mm first)."""
    scale = 25.4 if state.inches else 1.0
    out = ["G90", "G20" if state.inches else "G21"]
    if state.x is not None and state.y is not None:
        out.append(f"G1 X{state.x:.4f} Y{state.y:.4f} F{park.travel_feed / scale:.1f}")
    if state.z is not None:
        out.append(f"G1 Z{state.z:.4f} F{park.z_feed / scale:.1f}")
    if unretract:
        out += ["M83", f"G1 E{unretract / scale:.4f} F{park.retract_feed / scale:.1f}"]
    out.append("G91" if state.relative_xyz else "G90")
    out.append("M83" if state.relative_e else "M82")
    out.append(f"G92 E{state.e:.5f}")
    if state.feed is not None:
        out.append(f"G1 F{state.feed:.4g}")
    return out


def skip_return(state: MachineState, park: ParkConfig, clear_z: float = 0.0) -> list[str]:
    """After a skipped object's moves: retract and lift (so the travel oozes nothing and crosses nothing printed),
    go to where the file expects the head, unretract, and restore its E, modes and feed rate.

    The head stands where the last move sent left it, which the skipped moves may have meant to leave higher or
    lower: with the file's next height known, the lift goes to `park.lift` above it and above `clear_z` (the
    tallest material printed so far, mm), an absolute height wherever the head is."""
    scale = 25.4 if state.inches else 1.0
    retract = ["M83", f"G1 E{-park.retract / scale:.4f} F{park.retract_feed / scale:.1f}"]
    if state.z is None:
        lift = ["G91", f"G1 Z{park.lift / scale:.3f} F{park.z_feed / scale:.0f}"]
    else:
        top = max(state.z * scale, clear_z) + park.lift
        lift = ["G21", "G90", f"G1 Z{top:.3f} F{park.z_feed:.0f}"]
    return [*retract, *lift, *return_sequence(state, park, unretract=park.retract)]


def resume_sequence(state: MachineState, park: ParkConfig) -> list[str]:
    """Reheat if needed, return to the paused position, unretract, restore E, modes and feed rate."""
    out: list[str] = []
    if state.hotend_target > 0:
        out.append(f"M109 S{state.hotend_target:.0f}")
    if state.bed_target > 0:
        out.append(f"M190 S{state.bed_target:.0f}")
    return out + return_sequence(state, park, unretract=park.retract)


_HEAT_WAIT = {"M104": "M109", "M140": "M190"}
_MOVES = ("G0", "G1", "G2", "G3", "G10", "G11")


def is_move(command: str) -> bool:
    """A command that moves an axis or the filament (what skipping an object leaves out)."""
    head = command.split(None, 1)[0].upper() if command else ""
    return head in _MOVES or head in ("G00", "G01", "G02", "G03")


def heat_injections(commands: tuple[str, ...]) -> dict[int, list[str]]:
    """Waits to insert before the first extrusion when the file sets heater targets without waiting for them."""
    set_at: dict[str, str] = {}
    for i, c in enumerate(commands):
        head = c.split(None, 1)[0].upper() if c else ""
        if head in _HEAT_WAIT:
            set_at[_HEAT_WAIT[head]] = c.upper().replace(head, _HEAT_WAIT[head], 1)
        elif head in ("M109", "M190"):
            set_at.pop(head, None)
        elif head in ("G1", "G0") and " E" in f" {c.upper()}" and "E-" not in c.upper():
            waits = [w for w in set_at.values() if " S0" not in f"{w} " and "S0 " not in w]
            return {i: waits} if waits else {}
    return {}


def eta_seconds(planned_left_s: float, planned_done_s: float, printing_s: float) -> float:
    """Remaining seconds: the plan's time left, scaled by the pace measured so far (seconds printing per
    planned second, bounded to 0.5..3) in proportion to how much of the plan is behind us."""
    if planned_done_s < 30.0 or printing_s <= 0.0:
        return planned_left_s
    pace = min(3.0, max(0.5, printing_s / planned_done_s))
    weight = planned_done_s / (planned_done_s + planned_left_s)
    return planned_left_s * ((1.0 - weight) + weight * pace)
