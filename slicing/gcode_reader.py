"""Any slicer's Marlin G-code (ours, PrusaSlicer's, Cura's) back into machine moves and per-layer toolpaths.

parse_moves resolves the modal state (G90/G91, M82/M83, G92, G20/G21, G28, arcs) into absolute machine
positions with numpy; read_gcode groups the extruding XY moves into layers (``;LAYER:n``, ``;LAYER_CHANGE``,
or Z increases followed by extrusion) with their feature types, and reads the header's time and filament.
Extrusion before the first layer marker (a purge line) is drawn on the bed, so it joins layer 0's segments,
while MoveTable.layer keeps -1 for those moves. Units: mm, mm/s, filament mm.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from slicing.errors import GcodeReadError
from slicing.gcode_comments import FEATURE_NAMES, CommentIndex, header_figures, scan_comments
from slicing.gcode_tokens import TokenTable, tokenize
from slicing.toolpath import GcodeJob, LayerPaths

DEFAULT_FEED_MM_S = 25.0
"""Feed rate before the file sets one (Marlin's power-on 1500 mm/min)."""
ARC_SEGMENT_MM = 1.0
"""Arcs (G2/G3) are cut into chords no longer than this, and no more than 10° each."""
_E_EPS = 1e-7
_XY_EPS = 1e-9

_X, _Y, _Z, _E, _F, _I, _J, _R = range(8)
__all__ = ["FEATURE_NAMES", "MoveTable", "parse_moves", "read_gcode", "read_gcode_file"]


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


@dataclass(frozen=True)
class _Parsed:
    """Moves plus what the layer grouping and header need from the comments."""

    moves: MoveTable
    tokens: TokenTable
    markers: np.ndarray  # line of each layer marker
    marker_z: np.ndarray  # z announced by the marker (`;Z:`), NaN when not announced
    header: dict[str, str]


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


def _unmarked_layer_starts(xyzef: np.ndarray, extruding: np.ndarray) -> np.ndarray:
    """Rows where a layer starts in a file without markers: the Z change before extrusion at a new height."""
    seg_rows = np.flatnonzero(extruding)
    if seg_rows.shape[0] == 0:
        return seg_rows
    z = xyzef[seg_rows, 2]
    prev_max = np.maximum.accumulate(np.concatenate([[-np.inf], z[:-1]]))
    new = seg_rows[z > prev_max + 1e-6]
    zchange = np.zeros(xyzef.shape[0], dtype=bool)
    zchange[1:] = xyzef[1:, 2] != xyzef[:-1, 2]
    last = _ffill_index(zchange)
    starts = np.where(last[new] > 0, last[new], new)
    return starts


def _features(notes: CommentIndex, mline: np.ndarray) -> np.ndarray:
    """Feature code in force at each move row (the last `;TYPE:` above its line)."""
    tl = np.asarray(notes.type_lines, dtype=np.int64)
    tpos = np.searchsorted(tl, mline, side="right") - 1
    codes = np.asarray([*notes.type_codes, 0], dtype=np.int8)
    return np.where(tpos >= 0, codes[np.maximum(tpos, 0)], 0).astype(np.int8)


def _marker_z(notes: CommentIndex, mk: np.ndarray) -> np.ndarray:
    """Z announced by a `;Z:` comment between each marker and the next (NaN when none)."""
    zl = np.asarray(notes.z_lines, dtype=np.int64)
    out = np.full(mk.shape[0], np.nan)
    if zl.shape[0] == 0:
        return out
    nxt = np.append(mk[1:], np.iinfo(np.int64).max)
    zi = np.searchsorted(zl, mk, side="left")
    has = (zi < zl.shape[0]) & (zl[np.minimum(zi, zl.shape[0] - 1)] < nxt)
    out[has] = np.asarray(notes.z_values, dtype=np.float64)[zi[has]]
    return out


def _parse(data: bytes) -> _Parsed:
    """Tokenise, resolve the machine state, find layers and features."""
    tok = tokenize(data)
    lines, codes, rows, ijr = _resolve(tok)
    start = np.array([0.0, 0.0, 0.0, 0.0, DEFAULT_FEED_MM_S])
    mline, xyzef = _expand_arcs(lines, codes, rows, ijr, start)
    notes = scan_comments(tok)
    mk = np.asarray(notes.markers, dtype=np.int64)
    if mk.shape[0]:
        layer = np.searchsorted(mk, mline, side="right") - 1
        marker_z = _marker_z(notes, mk)
    else:
        starts = _unmarked_layer_starts(xyzef, _extruding(xyzef))
        layer = np.searchsorted(starts, np.arange(xyzef.shape[0]), side="right") - 1
        mk = mline[starts]
        marker_z = np.full(mk.shape[0], np.nan)
    layer[0] = -1
    moves = MoveTable(xyzef, mline, layer.astype(np.int64), _features(notes, mline))
    return _Parsed(moves, tok, mk, marker_z, notes.header)


def _extruding(xyzef: np.ndarray) -> np.ndarray:
    """Rows whose move pushes filament while moving in XY (row 0 never)."""
    out = np.zeros(xyzef.shape[0], dtype=bool)
    d = np.diff(xyzef[:, :4], axis=0)
    out[1:] = (d[:, 3] > _E_EPS) & ((np.abs(d[:, 0]) > _XY_EPS) | (np.abs(d[:, 1]) > _XY_EPS))
    return out


def _decode(text: str) -> bytes:
    """G-code text as bytes for the tokeniser."""
    return text.encode("utf-8", "replace")


def parse_moves(text: str) -> MoveTable:
    """Machine state after every move of a G-code text (absolute mm, cumulative filament, mm/s)."""
    return _parse(_decode(text)).moves


def _layers(parsed: _Parsed) -> list[LayerPaths]:
    """Group the extruding XY moves into LayerPaths (moves before the first layer join layer 0)."""
    mv = parsed.moves
    n_layers = parsed.markers.shape[0]
    if n_layers == 0:
        return []
    rows = np.flatnonzero(_extruding(mv.xyzef))
    seg_layer = np.maximum(mv.layer[rows], 0)
    prev = mv.xyzef[rows - 1]
    cur = mv.xyzef[rows]
    segs = np.column_stack([prev[:, 0], prev[:, 1], cur[:, 0], cur[:, 1]])
    ext = cur[:, 3] - prev[:, 3]
    feat = mv.feature[rows]
    bounds = np.searchsorted(seg_layer, np.arange(n_layers + 1))
    # z of each layer: announced (;Z:), else its first segment, else its last move
    last_row = np.searchsorted(mv.layer, np.arange(n_layers), side="right") - 1
    layers: list[LayerPaths] = []
    prev_z = 0.0
    for k in range(n_layers):
        a, b = int(bounds[k]), int(bounds[k + 1])
        z = float(parsed.marker_z[k])
        if math.isnan(z):
            if b > a:
                z = float(cur[a, 2])
            elif last_row[k] >= 0 and mv.layer[last_row[k]] == k:
                z = float(mv.xyzef[last_row[k], 2])
            else:
                z = prev_z
        layers.append(LayerPaths(index=k, z=z, height=z - prev_z, segments=segs[a:b], extrusion=ext[a:b],
                                 feature=feat[a:b], first_line=int(parsed.markers[k])))
        prev_z = z
    return layers


def _job(parsed: _Parsed) -> GcodeJob:
    """The GcodeJob of parsed G-code."""
    time_s, filament, flavor = header_figures(parsed.header)
    return GcodeJob(layers=_layers(parsed), line_count=parsed.tokens.n_lines, estimated_time_s=time_s,
                    filament_mm=filament, flavor=flavor, header=parsed.header)


def read_gcode(text: str) -> GcodeJob:
    """Per-layer extruding toolpaths, feature types and header figures of a G-code text."""
    return _job(_parse(_decode(text)))


def read_gcode_file(path: str | os.PathLike) -> GcodeJob:
    """Read a G-code file; GcodeReadError when it cannot be read or holds no G-code moves."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise GcodeReadError(f"cannot read G-code file {name}: {exc.strerror or exc}") from exc
    if b"\x00" in data[:4096]:
        raise GcodeReadError(f"{name} is a binary file, not text G-code")
    parsed = _parse(data)
    tok = parsed.tokens
    if not ((tok.letter == ord("G")) & (tok.number >= 0) & (tok.number <= 3)).any():
        raise GcodeReadError(f"{name} holds no G-code moves (G0/G1/G2/G3)")
    return _job(parsed)
