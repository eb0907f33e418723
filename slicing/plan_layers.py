"""Where each layer of any slicer's G-code starts and at what height: from its markers, or from the moves alone.

With markers (see `gcode_comments`) a layer runs from its marker to the next; a marked span that extrudes
nothing is no layer (it joins the next), and spans extruding at the same height are one layer (a support and
an object part of one KISSlicer layer). Without markers a layer starts at the Z change before the first
extrusion at a new height: a travel lift (z-hop) extrudes nothing and is no layer, a priming blob (`G1 E1`)
moves nowhere and is no layer, and in vase mode, where Z rises with every move, a layer is a layer height of
rise; where a travel brings the head down by more than a few layers' height and it extrudes there, the next copy
of a sequential print (PrusaSlicer's complete_objects, `sequential = true`) starts a layer. Units: mm.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slicing.gcode_comments import CommentIndex

SAME_Z_MM = 1e-4
"""Extrusion heights closer than this are one layer."""
SEQUENCE_DROP = 2.0
"""A travel that brings the head down more than this many layer heights starts a layer (sequential printing)."""
VASE_SLACK_MM = 0.0015
"""A spiral's turn is done when it has risen a layer height less this (slicers write Z to 0.001 mm)."""


@dataclass(frozen=True)
class LayerStarts:
    """Layer boundaries of a file: the first move row of each layer, its first file line, label and z."""

    row: np.ndarray                 # (K,) first move row of each layer (into the move table)
    line: np.ndarray                # (K,) 0-based file line where the layer starts (its marker or Z move)
    label: tuple[int | None, ...]   # number the file gives each layer (Cura `;LAYER:-2` of a raft), or None
    z: np.ndarray                   # (K,) height of the nozzle while printing the layer (its top), mm


def _ffill(mask: np.ndarray) -> np.ndarray:
    """Index of the last True at or before each position (-1 when none)."""
    idx = np.where(mask, np.arange(mask.shape[0]), -1)
    return np.maximum.accumulate(idx) if idx.shape[0] else idx


def _rise_layers(z: np.ndarray, during: np.ndarray, nominal: float | None) -> np.ndarray:
    """Indices (into the extruding rows, heights z) where a new layer starts. A rise made by a travel starts a
    layer; a rise made while extruding (vase mode) starts one per layer height of rise."""
    if z.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(np.abs(np.diff(z)) > SAME_Z_MM) + 1
    starts = [0]
    base = top = float(z[0])  # base: where the current layer's rise began
    height = nominal or float(z[0])
    spiral = False
    for i in change.tolist():
        zi = float(z[i])
        if zi <= top + SAME_Z_MM:
            if not during[i] and (SAME_Z_MM < top - zi < 0.5 * height or top - zi > SEQUENCE_DROP * height):
                # a layer printed a little lower than the one before (Cura's first layer over a raft's air gap),
                # or far lower: the next copy of a sequential print, back on the bed
                starts.append(i)
                base = top = zi
                spiral = False
            continue  # back down (a lower part, a prime line) or level: same layer
        if not during[i]:
            if starts[-1] != i:  # (a spiral that just finished a turn has started this layer already)
                starts.append(i)
            height, base, spiral = zi - base, zi, False
        elif not spiral:  # a spiral begins on top of a flat layer: its first turn is a layer
            starts.append(i)
            spiral = True
        elif zi - base >= height - VASE_SLACK_MM:  # a layer height of spiral is done: the next move starts one
            if i + 1 < z.shape[0]:
                starts.append(i + 1)
            base = zi
        top = zi
    return np.asarray(starts, dtype=np.int64)


def unmarked_starts(xyzef: np.ndarray, move_line: np.ndarray, ext: np.ndarray,
                    nominal_height: float | None) -> LayerStarts:
    """Layers of a file without markers (see the module docstring)."""
    rows = np.flatnonzero(ext)
    z = xyzef[rows, 2]
    during = np.abs(z - xyzef[rows - 1, 2]) > 1e-9
    first = rows[_rise_layers(z, during, nominal_height)]
    zchange = np.zeros(xyzef.shape[0], dtype=bool)
    zchange[1:] = np.abs(xyzef[1:, 2] - xyzef[:-1, 2]) > 1e-9
    last = _ffill(zchange)
    start_rows = np.where(last[first] > 0, last[first], first)
    # a layer starts no earlier than the previous layer's last extrusion
    if first.shape[0] > 1:
        prev_end = rows[np.searchsorted(rows, first[1:]) - 1]
        start_rows[1:] = np.maximum(start_rows[1:], prev_end + 1)
    tops = _tops(xyzef, rows, first)
    return LayerStarts(start_rows, move_line[start_rows], (None,) * first.shape[0], tops)


def _tops(xyzef: np.ndarray, rows: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Highest extrusion z of each layer (layers start at the extruding rows `first`)."""
    if first.shape[0] == 0:
        return np.zeros(0)
    k = np.searchsorted(rows, first)
    return np.maximum.reduceat(xyzef[rows, 2], k)


def marked_starts(xyzef: np.ndarray, move_line: np.ndarray, ext: np.ndarray, notes: CommentIndex) -> LayerStarts:
    """Layers of a file with markers (see the module docstring)."""
    mk = np.asarray(notes.markers, dtype=np.int64)
    rows = np.flatnonzero(ext)
    span = np.searchsorted(mk, move_line[rows], side="right") - 1  # marker span of each extruding row
    inside = span >= 0
    rows, span = rows[inside], span[inside]
    counts = np.bincount(span, minlength=mk.shape[0])
    top = np.full(mk.shape[0], np.nan)
    real = np.flatnonzero(counts > 0)
    if real.shape[0]:
        top[real] = np.maximum.reduceat(xyzef[rows, 2], np.searchsorted(span, real))
    kept: list[int] = []
    for k in real.tolist():
        if kept and abs(top[k] - top[kept[-1]]) < SAME_Z_MM:
            continue  # extrudes at the height of the layer before: part of it
        kept.append(k)
    idx = np.asarray(kept, dtype=np.int64)
    lines = mk[idx]
    zs = np.asarray([notes.marker_z[k] if notes.marker_z[k] is not None else top[k] for k in kept], dtype=float)
    return LayerStarts(np.searchsorted(move_line, lines, side="left").astype(np.int64), lines,
                       tuple(notes.marker_labels[k] for k in kept), zs)
