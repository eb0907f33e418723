"""Machine moves of any slicer's G-code: the modal state resolved into absolute positions, vectorised.

G90/G91, M82/M83, G92, G20/G21 and G28 are resolved with cumulative numpy operations; arcs (G2/G3) are cut
into chords. Units: mm, mm/s, filament mm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from slicing.gcode_tokens import TokenTable

DEFAULT_FEED_MM_S = 25.0
"""Feed rate before the file sets one (Marlin's power-on 1500 mm/min)."""
ARC_SEGMENT_MM = 1.0
"""Arcs (G2/G3) are cut into chords no longer than this, and no more than 10° each."""
_E_EPS = 1e-7
_XY_EPS = 1e-9

_X, _Y, _Z, _E, _F, _I, _J, _R = range(8)
__all__ = ["MoveTable", "extruding", "resolve_moves"]


@dataclass(frozen=True)
class MoveTable:
    """Machine state after every move of a G-code file.

    xyzef: (N, 5) float64; row 0 is the start state, each later row the state after one move: absolute
           x, y, z mm, e = cumulative filament mm (G92 and M82/M83 resolved), f = feed rate mm/s.
    line: (N,) int64 0-based source line of each move (-1 for row 0); an arc gives several rows of one line.
    layer: (N,) int64 layer index of each move (-1 before the first layer).
    feature: (N,) int8 Feature code in force at each move.
    """

    xyzef: np.ndarray
    line: np.ndarray
    layer: np.ndarray
    feature: np.ndarray


def _ffill_index(mask: np.ndarray) -> np.ndarray:
    """Index of the last True at or before each position (-1 when none)."""
    idx = np.where(mask, np.arange(mask.shape[0]), -1)
    return np.maximum.accumulate(idx) if idx.shape[0] else idx


def _set_or_add(set_mask: np.ndarray, set_val: np.ndarray, add: np.ndarray) -> np.ndarray:
    """Run a register that events either set (to set_val) or add to (add), from 0: the value after each."""
    cum = np.cumsum(add)
    last = _ffill_index(set_mask)
    safe = np.maximum(last, 0)
    return np.where(last >= 0, set_val[safe] + cum - cum[safe], cum)


def _modal(events: np.ndarray, table: dict[int, float], default: float) -> np.ndarray:
    """Value of a modal setting at each event, from the events (codes) that set it."""
    mask = np.isin(events, list(table))
    vals = np.zeros(events.shape[0])
    for code, v in table.items():
        vals[events == code] = v
    last = _ffill_index(mask)
    return np.where(last >= 0, vals[np.maximum(last, 0)], default)


_G = 0
_M = 1000


def _resolve(tok: TokenTable) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Machine state after each event line: (event lines, codes, xyzef rows, I/J/R params), vectorised."""
    code = np.where(tok.letter == ord("G"), tok.number + _G, np.where(tok.letter == ord("M"), tok.number + _M, -1))
    wanted = [0, 1, 2, 3, 20, 21, 28, 90, 91, 92, _M + 82, _M + 83]
    ev = np.flatnonzero(np.isin(code, wanted))
    c = code[ev]
    p = tok.params[ev]
    scale = _modal(c, {20: 25.4, 21: 1.0}, 1.0)
    rel_xyz = _modal(c, {90: 0.0, 91: 1.0}, 0.0) > 0
    rel_e = _modal(c, {90: 0.0, 91: 1.0, _M + 82: 0.0, _M + 83: 1.0}, 0.0) > 0
    is_move = c <= 3
    is_home = c == 28
    is_set = c == 92
    no_axis = np.isnan(p[:, :3]).all(axis=1)
    state = np.zeros((ev.shape[0], 5))
    for a in range(4):
        v = p[:, a] * scale
        present = ~np.isnan(v)
        rel = rel_e if a == _E else rel_xyz
        homed = is_home & (present | no_axis) if a != _E else np.zeros_like(is_home)
        moved = is_move & present
        set_mask = (moved & ~rel) | (is_set & present) | homed
        logical = _set_or_add(set_mask, np.where(homed, 0.0, np.nan_to_num(v)), np.where(moved & rel, v, 0.0))
        before = np.concatenate([[0.0], logical[:-1]])
        shift = _set_or_add(homed, np.zeros_like(v), np.where(is_set & present, before - np.nan_to_num(v), 0.0))
        state[:, a] = logical + shift
    f_set = is_move & ~np.isnan(p[:, _F])
    last_f = _ffill_index(f_set)
    feed = p[np.maximum(last_f, 0), _F] * scale[np.maximum(last_f, 0)] / 60.0
    state[:, 4] = np.where(last_f >= 0, feed, DEFAULT_FEED_MM_S)
    keep = is_move | is_home
    ijr = p[:, _I:_R + 1] * scale[:, None]
    return ev[keep], c[keep], state[keep], ijr[keep]


def _arc_points(start: np.ndarray, end: np.ndarray, ijr: np.ndarray, clockwise: bool) -> np.ndarray:
    """Intermediate and final xyzef rows of one G2/G3 arc (z, e interpolated linearly)."""
    sx, sy, ex, ey = start[0], start[1], end[0], end[1]
    i, j, r = ijr
    if not math.isnan(r) and (math.isnan(i) and math.isnan(j)):
        dx, dy = ex - sx, ey - sy
        d = math.hypot(dx, dy)
        if d == 0.0:
            return end[None, :]
        h = math.sqrt(max(r * r - d * d / 4.0, 0.0)) / d
        side = -1.0 if clockwise else 1.0
        if r < 0:
            side = -side
        cx, cy = sx + dx / 2 + side * -dy * h, sy + dy / 2 + side * dx * h
    else:
        cx, cy = sx + (0.0 if math.isnan(i) else i), sy + (0.0 if math.isnan(j) else j)
    radius = math.hypot(sx - cx, sy - cy)
    a0 = math.atan2(sy - cy, sx - cx)
    sweep = math.atan2(ey - cy, ex - cx) - a0
    if clockwise:
        sweep = sweep % -math.tau or -math.tau
    else:
        sweep = sweep % math.tau or math.tau
    n = max(1, math.ceil(abs(sweep) * radius / ARC_SEGMENT_MM), math.ceil(abs(sweep) / math.radians(10)))
    t = np.arange(1, n + 1) / n
    rows = start[None, :] + (end - start)[None, :] * t[:, None]
    ang = a0 + sweep * t[:-1]
    rows[:-1, 0] = cx + radius * np.cos(ang)
    rows[:-1, 1] = cy + radius * np.sin(ang)
    rows[:, 4] = end[4]
    return rows


def _expand_arcs(lines: np.ndarray, codes: np.ndarray, rows: np.ndarray, ijr: np.ndarray,
                 start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace each arc row by its chords; returns (lines, xyzef rows) with the start row prepended."""
    full = np.vstack([start[None, :], rows])
    arcs = np.flatnonzero((codes == 2) | (codes == 3))
    if arcs.shape[0] == 0:
        return np.concatenate([[-1], lines]), full
    pieces: list[np.ndarray] = []
    piece_lines: list[np.ndarray] = []
    prev = 0
    for k in arcs.tolist():
        pieces.append(full[prev + 1:k + 1])
        piece_lines.append(lines[prev:k])
        pts = _arc_points(full[k], full[k + 1], ijr[k], clockwise=codes[k] == 2)
        pieces.append(pts)
        piece_lines.append(np.full(pts.shape[0], lines[k]))
        prev = k + 1
    pieces.append(full[prev + 1:])
    piece_lines.append(lines[prev:])
    return np.concatenate([[-1], *piece_lines]).astype(np.int64), np.vstack([start[None, :], *pieces])


def extruding(xyzef: np.ndarray) -> np.ndarray:
    """Rows whose move pushes filament while moving in XY (row 0 never)."""
    out = np.zeros(xyzef.shape[0], dtype=bool)
    d = np.diff(xyzef[:, :4], axis=0)
    out[1:] = (d[:, 3] > _E_EPS) & ((np.abs(d[:, 0]) > _XY_EPS) | (np.abs(d[:, 1]) > _XY_EPS))
    return out


def resolve_moves(tok: TokenTable) -> tuple[np.ndarray, np.ndarray]:
    """(line of each move row, (N, 5) xyzef rows) of tokenised G-code; row 0 is the start state (line -1)."""
    lines, codes, rows, ijr = _resolve(tok)
    start = np.array([0.0, 0.0, 0.0, 0.0, DEFAULT_FEED_MM_S])
    return _expand_arcs(lines, codes, rows, ijr, start)
