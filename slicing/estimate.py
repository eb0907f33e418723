"""Print time as a Marlin planner would run the moves: per-axis limits, classic jerk, trapezoids.

Input is MoveTable.xyzef (row 0 = start state, each later row the state after one move). For each move the
nominal speed is the feed rate capped by every axis' max feed rate, the acceleration the printing, travel or
retract acceleration capped by every axis' max acceleration. Junction speeds follow Marlin's classic-jerk
rule; the backward and forward passes (decelerate in time / accelerate as far as possible) are min-plus
recurrences on squared speeds, solved exactly with cumulative minima, so the whole file is vectorised.
Units: mm, mm/s, mm/s², seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MIN_MOVE_MM = 1e-9
_MIN_SPEED = 1e-3  # mm/s; a zero feed rate would take forever, Marlin clamps it too


@dataclass(frozen=True)
class MotionLimits:
    """Machine limits the planner obeys (Marlin M203, M204, M201, M205 X/Y/Z/E)."""

    max_feedrate: tuple[float, float, float, float] = (500, 500, 12, 120)  # mm/s x, y, z, e
    acceleration: float = 1500  # printing moves, mm/s²
    travel_acceleration: float = 1500
    retract_acceleration: float = 1500
    max_acceleration: tuple[float, float, float, float] = (1500, 1500, 100, 5000)
    jerk: tuple[float, float, float, float] = (10, 10, 0.4, 5)  # classic jerk, mm/s


def _junction_speeds(vel: np.ndarray, nominal: np.ndarray, safe: np.ndarray, jerk: np.ndarray) -> np.ndarray:
    """Marlin classic-jerk junction speed between each move and the one before it (first: its safe speed)."""
    out = safe.copy()
    if vel.shape[0] < 2:
        return out
    prev_nom, cur_nom = nominal[:-1], nominal[1:]
    vmax = np.minimum(cur_nom, prev_nom)
    shrink = vmax / prev_nom
    factor = np.ones_like(vmax)
    for a in range(4):
        v_exit = vel[:-1, a] * shrink * factor
        v_entry = vel[1:, a] * factor
        same_dir_down = (v_entry > 0) | (v_exit < 0)
        same_dir_up = (v_entry < 0) | (v_exit > 0)
        change = np.where(
            v_exit > v_entry,
            np.where(same_dir_down, v_exit - v_entry, np.maximum(v_exit, -v_entry)),
            np.where(same_dir_up, v_entry - v_exit, np.maximum(-v_exit, v_entry)),
        )
        over = change > jerk[a]
        factor = np.where(over, factor * jerk[a] / np.where(over, change, 1.0), factor)
    vmax = vmax * factor
    both_safe = (safe[:-1] > 0.99 * vmax) & (safe[1:] > 0.99 * vmax)
    out[1:] = np.where(both_safe, safe[1:], vmax)
    return out


def _reachable(max_sq: np.ndarray, gain: np.ndarray, end_sq: float) -> np.ndarray:
    """Squared entry speeds after the backward and forward passes; last value is the final exit speed².

    Backward: w[i] = min(max_sq[i], w[i+1] + gain[i]) with w[M] = end_sq (can still brake in time).
    Forward: w[i+1] = min(w[i+1], w[i] + gain[i]) (can actually accelerate that fast).
    Both are min-plus recurrences: w[i] = min_j(max_sq[j] + S[j]) - S[i] with S the prefix sums of gain.
    """
    limit = np.append(max_sq, end_sq)
    s = np.concatenate([[0.0], np.cumsum(gain)])
    back = np.minimum.accumulate((limit + s)[::-1])[::-1] - s
    fwd = np.minimum.accumulate(back - s) + s
    return np.maximum(np.minimum(back, fwd), 0.0)


def _trapezoid_times(length: np.ndarray, accel: np.ndarray, v0: np.ndarray, v1: np.ndarray,
                     vn: np.ndarray) -> np.ndarray:
    """Time of each move accelerating from v0 to at most vn and decelerating to v1 (trapezoid or triangle)."""
    d_acc = (vn * vn - v0 * v0) / (2 * accel)
    d_dec = (vn * vn - v1 * v1) / (2 * accel)
    cruise = length - d_acc - d_dec
    trapezoid = (vn - v0) / accel + (vn - v1) / accel + np.maximum(cruise, 0.0) / vn
    peak = np.sqrt(np.maximum((v0 * v0 + v1 * v1) / 2 + accel * length, 0.0))
    peak = np.maximum(peak, np.maximum(v0, v1))
    triangle = (peak - v0) / accel + (peak - v1) / accel
    return np.where(cruise >= 0, trapezoid, triangle)


def move_times(moves: np.ndarray, limits: MotionLimits = MotionLimits()) -> np.ndarray:
    """Seconds each row's move takes (row 0, the start state, and zero-length moves take 0)."""
    moves = np.asarray(moves, dtype=np.float64)
    times = np.zeros(moves.shape[0])
    if moves.shape[0] < 2:
        return times
    delta = np.diff(moves[:, :4], axis=0)
    xyz = np.sqrt((delta[:, :3] ** 2).sum(axis=1))
    e_only = xyz <= _MIN_MOVE_MM  # the same cut as `real` below: a move is XYZ or E-only, never dropped
    length = np.where(e_only, np.abs(delta[:, 3]), xyz)
    real = np.flatnonzero(length > _MIN_MOVE_MM)
    if real.shape[0] == 0:
        return times
    d, length, e_only = delta[real], length[real], e_only[real]
    unit = d / length[:, None]
    if e_only.any():
        unit[e_only, :3] = 0.0
    mag = np.abs(unit)
    max_f = np.asarray(limits.max_feedrate, dtype=np.float64)
    max_a = np.asarray(limits.max_acceleration, dtype=np.float64)
    jerk = np.asarray(limits.jerk, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):
        nominal = np.minimum(moves[1:, 4][real], (max_f / mag).min(axis=1))
        base = np.where(e_only, limits.retract_acceleration,
                        np.where(d[:, 3] != 0.0, limits.acceleration, limits.travel_acceleration))
        accel = np.minimum(base, (max_a / mag).min(axis=1))
        nominal = np.maximum(nominal, _MIN_SPEED)
        vel = unit * nominal[:, None]
        speed = np.abs(vel)
        ratio = np.where(speed > 0, jerk / np.where(speed > 0, speed, 1.0), np.inf)
        safe = nominal * np.minimum(1.0, ratio.min(axis=1))
    junction = _junction_speeds(vel, nominal, safe, jerk)
    w = _reachable(junction ** 2, 2 * accel * length, float(safe[-1]) ** 2)
    v = np.sqrt(w)
    times[real + 1] = _trapezoid_times(length, accel, v[:-1], v[1:], nominal)
    return times


def estimate_time(moves: np.ndarray, limits: MotionLimits = MotionLimits()) -> float:
    """Total print-motion time in seconds of MoveTable.xyzef rows."""
    return float(move_times(moves, limits).sum())


def estimate_layer_times(moves: np.ndarray, layer: np.ndarray, limits: MotionLimits = MotionLimits()) -> np.ndarray:
    """Seconds spent in each layer (index = layer; moves before the first layer are left out), for ETAs."""
    times = move_times(moves, limits)
    layer = np.asarray(layer, dtype=np.int64)
    ok = layer >= 0
    n = int(layer.max()) + 1 if ok.any() else 0
    return np.bincount(layer[ok], weights=times[ok], minlength=n)


def clock(seconds: float) -> str:
    """A duration as h:mm:ss (rounded to the second), the way slicers print their estimates."""
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
