"""Marlin-style motion planner: a look-ahead queue of trapezoidal blocks limited by junction deviation.

Units: millimetres, seconds. Pure and clock-free: the board decides when blocks execute; a block's profile
becomes final when it leaves the queue (buffer full on `queue_move`, or `flush`).

Model (Marlin 2.x, continuous instead of step counts):
- nominal speed = feed rate, scaled down so no axis exceeds its max feed rate;
- acceleration = print / travel / retract acceleration, scaled down so no axis exceeds its max acceleration;
- junction speed v² = a·δ·sin(θ/2)/(1 − sin(θ/2)) with θ from the XYZE unit vectors as Marlin computes them,
  plus the small-segment arc limit v² = a·L/φ (φ = turn angle) for < 1 mm segments turning < 45°;
- look-ahead: reverse pass (can every block still brake to rest at the end of the queue?) and forward pass
  (can each block reach its entry speed from the previous one?), recomputed only from the last block whose
  entry speed is known to be final (Marlin's `block_buffer_planned`), so `queue_move` is O(1) amortised.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from firmware_sim.errors import SimError

Vec4 = tuple[float, float, float, float]

_EPS = 1e-9
_ARC_LIMIT_MAX_MM = 1.0
_COS_45 = 0.7071067812


class PlannerError(SimError):
    """The planner was asked for something its state does not allow (e.g. G92 with moves queued)."""


@dataclass(frozen=True)
class MotionConfig:
    """Machine limits of a typical 220 mm Marlin printer (Ender-3 defaults); per axis X, Y, Z, E."""

    max_feedrate: Vec4 = (500.0, 500.0, 5.0, 25.0)
    max_acceleration: Vec4 = (500.0, 500.0, 100.0, 5000.0)
    acceleration: float = 500.0
    retract_acceleration: float = 500.0
    travel_acceleration: float = 500.0
    junction_deviation: float = 0.08
    min_feedrate: float = 0.0
    block_buffer_size: int = 16
    bed: tuple[float, float, float] = (220.0, 220.0, 250.0)

    def __post_init__(self) -> None:
        """Reject limits that would make the planner divide by zero or never move."""
        if self.block_buffer_size < 2:
            raise PlannerError(f"block_buffer_size must be at least 2, got {self.block_buffer_size}")
        for name in ("acceleration", "retract_acceleration", "travel_acceleration"):
            if getattr(self, name) <= 0:
                raise PlannerError(f"{name} must be > 0 mm/s², got {getattr(self, name)}")
        if min(self.max_feedrate) <= 0 or min(self.max_acceleration) <= 0:
            raise PlannerError("max_feedrate and max_acceleration must be > 0 on every axis")
        if self.junction_deviation <= 0:
            raise PlannerError(f"junction_deviation must be > 0 mm, got {self.junction_deviation}")


@dataclass(frozen=True)
class Block:
    """One executed straight move with its final trapezoidal speed profile (mm, mm/s, mm/s², s)."""

    start: Vec4
    end: Vec4
    length: float
    entry_speed: float
    cruise_speed: float
    exit_speed: float
    acceleration: float
    duration: float
    obj: int = -1          # the labelled object (M486 S) the move prints, -1 for none


class _Pending:
    """A queued move whose entry speed may still change (mutable; internal to the planner)."""

    __slots__ = ("accel", "end", "entry_sqr", "length", "max_entry_sqr", "nominal_sqr", "obj", "rev_sqr", "start",
                 "two_al")

    def __init__(self, start: Vec4, end: Vec4, length: float, nominal: float, accel: float, max_entry_sqr: float,
                 obj: int = -1):
        self.start = start
        self.end = end
        self.length = length
        self.nominal_sqr = nominal * nominal
        self.accel = accel
        self.two_al = 2.0 * accel * length
        self.max_entry_sqr = max_entry_sqr
        self.rev_sqr = 0.0
        self.entry_sqr = 0.0
        self.obj = obj


def trapezoid(length: float, entry: float, nominal: float, exit_: float, accel: float) -> tuple[float, float]:
    """Peak (cruise) speed and exact duration of a trapezoid or triangle profile over `length`."""
    v0s, v1s = entry * entry, exit_ * exit_
    peak_sqr = (2.0 * accel * length + v0s + v1s) * 0.5
    vc = nominal if nominal * nominal <= peak_sqr else math.sqrt(peak_sqr)
    if vc <= _EPS:
        return 0.0, 0.0
    vcs = vc * vc
    d_acc = (vcs - v0s) / (2.0 * accel) if vcs > v0s else 0.0
    d_dec = (vcs - v1s) / (2.0 * accel) if vcs > v1s else 0.0
    cruise = length - d_acc - d_dec
    t = cruise / vc if cruise > 0.0 else 0.0
    if vc > entry:
        t += (vc - entry) / accel
    if vc > exit_:
        t += (vc - exit_) / accel
    return vc, t


def block_position(block: Block, t: float) -> Vec4:
    """Where the head is `t` seconds into `block` (clamped to the block's start and end)."""
    if t <= 0.0 or block.length <= 0.0:
        return block.start
    if t >= block.duration:
        return block.end
    a, v0, vc, v1 = block.acceleration, block.entry_speed, block.cruise_speed, block.exit_speed
    t_acc = max(0.0, vc - v0) / a
    t_dec = max(0.0, vc - v1) / a
    t_cruise = max(0.0, block.duration - t_acc - t_dec)
    if t < t_acc:
        s = v0 * t + 0.5 * a * t * t
    elif t < t_acc + t_cruise:
        s = v0 * t_acc + 0.5 * a * t_acc * t_acc + vc * (t - t_acc)
    else:
        td = block.duration - t
        s = block.length - (v1 * td + 0.5 * a * td * td)
    f = min(1.0, max(0.0, s / block.length))
    s0, s1 = block.start, block.end
    return (s0[0] + (s1[0] - s0[0]) * f, s0[1] + (s1[1] - s0[1]) * f,
            s0[2] + (s1[2] - s0[2]) * f, s0[3] + (s1[3] - s0[3]) * f)


class Planner:
    """Look-ahead queue of moves; hands back blocks with final profiles as they leave the queue."""

    def __init__(self, config: MotionConfig = MotionConfig()) -> None:
        self.config = config
        self._queue: deque[_Pending] = deque()
        self._planned = 0            # leading queue entries whose entry speed is final
        self._position: Vec4 = (0.0, 0.0, 0.0, 0.0)
        self._prev_unit: Vec4 = (0.0, 0.0, 0.0, 0.0)
        self._prev_nominal = 0.0
        self._max_fr = config.max_feedrate
        self._max_acc = config.max_acceleration

    def set_limits(self, config: MotionConfig) -> None:
        """New machine limits (M201/M203/M204/M205) for moves queued from now on; queued ones keep theirs."""
        if config.block_buffer_size != self.config.block_buffer_size:
            raise PlannerError("the block buffer size is fixed at build time")
        self.config = config
        self._max_fr = config.max_feedrate
        self._max_acc = config.max_acceleration

    @property
    def queued(self) -> int:
        """Number of blocks held in the look-ahead buffer."""
        return len(self._queue)

    @property
    def free(self) -> int:
        """Free slots in the look-ahead buffer (Marlin's `P` in ADVANCED_OK)."""
        return self.config.block_buffer_size - len(self._queue)

    @property
    def position(self) -> Vec4:
        """Planned position after the last queued move (x, y, z, e in mm)."""
        return self._position

    def set_position(self, pos: Vec4) -> None:
        """Declare the current position (G92/G28); only with an empty queue."""
        if self._queue:
            raise PlannerError(f"set_position with {len(self._queue)} moves queued; flush the planner first")
        self._position = (float(pos[0]), float(pos[1]), float(pos[2]), float(pos[3]))

    def queue_move(self, target: Vec4, feedrate: float, obj: int = -1) -> list[Block]:
        """Queue a straight move at nominal `feedrate` mm/s (printing labelled object `obj`); return blocks
        finalised to make room."""
        sx, sy, sz, se = self._position
        tx, ty, tz, te = float(target[0]), float(target[1]), float(target[2]), float(target[3])
        dx, dy, dz, de = tx - sx, ty - sy, tz - sz, te - se
        length = math.sqrt(dx * dx + dy * dy + dz * dz)
        cfg = self.config
        if length < 1e-6:
            if abs(de) < 1e-6:
                return []
            length = abs(de)
            accel = cfg.retract_acceleration
        else:
            accel = cfg.acceleration if abs(de) > 1e-6 else cfg.travel_acceleration
        end = (tx, ty, tz, te)
        self._position = end
        inv = 1.0 / length
        ux, uy, uz, ue = dx * inv, dy * inv, dz * inv, de * inv
        nominal = max(feedrate, cfg.min_feedrate)
        ax, ay, az, ae = abs(ux), abs(uy), abs(uz), abs(ue)
        (fx, fy, fz, fe), (mx, my, mz, me) = self._max_fr, self._max_acc
        # unrolled per-axis limits (hot path: one call per G1)
        if nominal * ax > fx:
            nominal = fx / ax
        if nominal * ay > fy:
            nominal = fy / ay
        if nominal * az > fz:
            nominal = fz / az
        if nominal * ae > fe:
            nominal = fe / ae
        if accel * ax > mx:
            accel = mx / ax
        if accel * ay > my:
            accel = my / ay
        if accel * az > mz:
            accel = mz / az
        if accel * ae > me:
            accel = me / ae
        if nominal <= 0.0:
            raise PlannerError(f"feed rate must be > 0 mm/s, got {feedrate}")

        done: list[Block] = []
        if len(self._queue) >= cfg.block_buffer_size:
            done.append(self._pop())

        if self._queue and self._prev_nominal > 0.0:
            vmax_sqr = self._junction_sqr((ux, uy, uz, ue), accel, length)
            vmax_sqr = min(vmax_sqr, nominal * nominal, self._prev_nominal * self._prev_nominal)
        else:
            vmax_sqr = 0.0
        self._prev_unit = (ux, uy, uz, ue)
        self._prev_nominal = nominal
        self._queue.append(_Pending((sx, sy, sz, se), end, length, nominal, accel, vmax_sqr, obj))
        self._recalculate()
        return done

    def flush(self) -> list[Block]:
        """Finalise every queued block, the last one ending at rest (M400, G4, end of stream)."""
        out = []
        while self._queue:
            out.append(self._pop())
        self._planned = 0
        return out

    # -- internals ---------------------------------------------------------------------------------------
    def _junction_sqr(self, unit: Vec4, accel: float, length: float) -> float:
        """Square of the max speed through the corner between the previous move and `unit` (Marlin JD)."""
        p = self._prev_unit
        cos_theta = -(p[0] * unit[0] + p[1] * unit[1] + p[2] * unit[2] + p[3] * unit[3])
        if cos_theta > 0.999999:
            return 0.0
        cos_theta = max(cos_theta, -0.999999)
        jx, jy, jz, je = unit[0] - p[0], unit[1] - p[1], unit[2] - p[2], unit[3] - p[3]
        norm = math.sqrt(jx * jx + jy * jy + jz * jz + je * je)
        j_accel = accel
        if norm > 0.0:
            mx, my, mz, me = self._max_acc
            cx, cy, cz, ce = abs(jx) / norm, abs(jy) / norm, abs(jz) / norm, abs(je) / norm
            if j_accel * cx > mx:
                j_accel = mx / cx
            if j_accel * cy > my:
                j_accel = my / cy
            if j_accel * cz > mz:
                j_accel = mz / cz
            if j_accel * ce > me:
                j_accel = me / ce
        sin_half = math.sqrt(0.5 * (1.0 - cos_theta))
        vmax_sqr = j_accel * self.config.junction_deviation * sin_half / (1.0 - sin_half)
        if length < _ARC_LIMIT_MAX_MM and cos_theta < -_COS_45:
            turn = math.acos(min(1.0, -cos_theta))
            if turn > 1e-6:
                vmax_sqr = min(vmax_sqr, length * j_accel / turn)
        return vmax_sqr

    def _recalculate(self) -> None:
        """Reverse then forward pass over the part of the queue whose entry speeds may still rise."""
        q = self._queue
        n = len(q)
        first = max(self._planned, 1)
        # Reverse pass: entry speeds from which each block can still brake to rest at the end of the queue.
        nxt = 0.0
        i = n - 1
        changed_from = n
        while i >= first:
            b = q[i]
            rev = b.max_entry_sqr
            lim = nxt + b.two_al
            rev = min(rev, lim)
            if rev == b.rev_sqr and i < n - 1:
                break
            b.rev_sqr = rev
            changed_from = i
            nxt = rev
            i -= 1
        if n == 1:
            q[0].rev_sqr = q[0].entry_sqr = 0.0
            self._planned = 1
            return
        # Forward pass: each entry limited by accelerating through the previous block.
        start = max(changed_from, first)
        prev = q[start - 1]
        planned = self._planned
        for j in range(start, n):
            b = q[j]
            entry = b.rev_sqr
            lim = prev.entry_sqr + prev.two_al
            if lim < entry:
                # Accelerating through the whole previous block: this entry can never rise again.
                entry = lim
                planned = j + 1
            elif entry >= b.max_entry_sqr:
                planned = j + 1   # at its junction limit: final, and so is everything before it
            b.entry_sqr = entry
            prev = b
        self._planned = min(planned, n)

    def _pop(self) -> Block:
        """Remove the oldest block and freeze its profile with the current plan."""
        q = self._queue
        b = q.popleft()
        exit_sqr = q[0].entry_sqr if q else 0.0
        self._planned = max(self._planned - 1, 1 if q else 0)
        entry = math.sqrt(b.entry_sqr)
        exit_ = math.sqrt(exit_sqr)
        nominal = math.sqrt(b.nominal_sqr)
        cruise, duration = trapezoid(b.length, entry, nominal, exit_, b.accel)
        return Block(b.start, b.end, b.length, entry, cruise, exit_, b.accel, duration, b.obj)
