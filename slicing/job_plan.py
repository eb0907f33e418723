"""The job plan: any slicer's G-code read once into what the whole house uses.

`plan(text)` gives the commands to send (with their file lines), the layers (index, z, first command, toolpaths
for the layer check), the objects (labels and which commands belong to each), the estimate (the file's own
figure when it states one, printloop's planner model otherwise; per command, so time left follows progress
through the plan) and the filament. The streamer, the layer check, the store, the OctoPrint endpoints, the queue
and the benchmarks all read G-code through this module and nowhere else. Units: mm, s, filament mm.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from slicing.errors import GcodeReadError
from slicing.estimate import move_times
from slicing.gcode_comments import (
    CommentIndex,
    header_filament_mm,
    header_flavor,
    header_layer_height,
    header_time_s,
    scan_comments,
)
from slicing.gcode_moves import MoveTable, extruding, resolve_moves
from slicing.gcode_tokens import TokenTable, tokenize
from slicing.plan_layers import SAME_Z_MM, LayerStarts, marked_starts, unmarked_starts
from slicing.plan_objects import PlanObject, object_spans
from slicing.toolpath import GcodeJob, LayerPaths

__all__ = [
    "CheckPoint",
    "JobPlan",
    "PlanLayer",
    "PlanObject",
    "parse_moves",
    "plan",
    "plan_file",
    "read_gcode",
    "read_gcode_file",
    "strip_command",
]


@dataclass(frozen=True)
class PlanLayer:
    """One layer: 0-based index in print order, the file's own number for it (or None), height of its top,
    thickness, the command and 0-based file line it starts at, its planned seconds and its extruding paths, and
    the height of the tallest material printed up to it (above `z` once a sequential print's next copy began:
    what a head moved away across the bed must clear)."""

    index: int
    label: int | None
    z: float
    height: float
    first_command: int
    first_line: int
    time_s: float
    paths: LayerPaths
    clear_z: float = 0.0


@dataclass(frozen=True)
class CheckPoint:
    """Where the streamer stops to judge a finished layer: before command `command`, layer `layer` is done, at
    height `z`; `clear_z` is the tallest material printed by then (what a host move across the bed clears)."""

    layer: int
    command: int
    z: float
    clear_z: float = 0.0


@dataclass(frozen=True)
class JobPlan:
    """A G-code file read once (see the module docstring).

    commands: the command text of every line that has one (comments and blanks removed), in file order.
    command_line: (C,) 0-based file line of each command.
    command_object: (C,) index into `objects` of the object each command belongs to, -1 for none.
    planned_s: (C,) planned seconds from the start to the end of each command (scaled to the file's own
               figure when it states one).
    printing_end: command index right after the last layer is printed (the end script's first travel).
    """

    commands: tuple[str, ...]
    command_line: np.ndarray
    layers: tuple[PlanLayer, ...]
    objects: tuple[PlanObject, ...]
    command_object: np.ndarray
    planned_s: np.ndarray
    printing_end: int
    estimate_s: float
    estimate_source: str  # "file" | "printloop"
    filament_mm: float
    line_count: int
    total_bytes: int
    marker_family: str | None
    flavor: str | None = None
    header: dict[str, str] = field(default_factory=dict)

    @property
    def layer_count(self) -> int:
        """Number of layers."""
        return len(self.layers)

    def layer_at(self, done: int) -> int:
        """Index of the layer in progress once the first `done` commands ran (-1 before the first layer)."""
        starts = [layer.first_command for layer in self.layers]
        return int(np.searchsorted(np.asarray(starts, dtype=np.int64), done, side="left")) - 1 \
            if starts else -1

    def time_left(self, done: int) -> float:
        """Planned seconds still to run once the first `done` commands ran."""
        if done <= 0 or self.planned_s.shape[0] == 0:
            return self.estimate_s
        return max(0.0, self.estimate_s - float(self.planned_s[min(done, self.planned_s.shape[0]) - 1]))

    def check_points(self) -> list[CheckPoint]:
        """Where each layer is finished: at the next layer's start, and the last one where printing ends."""
        out = [CheckPoint(a.index, b.first_command, a.z, a.clear_z) for a, b in zip(self.layers, self.layers[1:])]
        if self.layers:
            last = self.layers[-1]
            out.append(CheckPoint(last.index, max(self.printing_end, last.first_command), last.z, last.clear_z))
        return out

    def layer_paths(self) -> list[LayerPaths]:
        """Every layer's extruding toolpaths (the layer check's reference)."""
        return [layer.paths for layer in self.layers]

    def too_long(self, limit: int) -> list[tuple[int, int, str]]:
        """(command index, 1-based file line, command) of every command longer than `limit` characters."""
        return [(i, int(self.command_line[i]) + 1, c) for i, c in enumerate(self.commands) if len(c) > limit]

    def to_job(self) -> GcodeJob:
        """The plan as per-layer toolpaths and header figures (what vision and the slicer's tests read)."""
        return GcodeJob(layers=self.layer_paths(), line_count=self.line_count,
                        estimated_time_s=self.estimate_s if self.estimate_source == "file" else None,
                        filament_mm=self.filament_mm, flavor=self.flavor, header=self.header)


_PAREN = re.compile(r"\([^)]*\)")


def strip_command(raw: str) -> str:
    """The command part of one file line: comments (`;`, `(...)`) and surrounding blanks removed."""
    text = raw.split(";", 1)[0]
    if "(" in text:
        text = _PAREN.sub("", text)
    return text.strip()


def _commands(text: str) -> tuple[tuple[str, ...], np.ndarray]:
    """Commands of every line that has one, and their 0-based file lines."""
    stripped = [strip_command(raw) for raw in text.split("\n")]
    lines = np.fromiter((i for i, c in enumerate(stripped) if c), dtype=np.int64)
    return tuple(stripped[i] for i in lines.tolist()), lines


def _features(notes: CommentIndex, mline: np.ndarray) -> np.ndarray:
    """Feature code in force at each move row (the last `;TYPE:` above its line)."""
    tl = np.asarray(notes.type_lines, dtype=np.int64)
    tpos = np.searchsorted(tl, mline, side="right") - 1
    codes = np.asarray([*notes.type_codes, 0], dtype=np.int8)
    return np.where(tpos >= 0, codes[np.maximum(tpos, 0)], 0).astype(np.int8)


def _layer_paths(moves: MoveTable, ext: np.ndarray, starts: LayerStarts, nominal: float | None,
                 row_object: np.ndarray | None = None) -> list[LayerPaths]:
    """Group the extruding XY moves into LayerPaths (extrusion before the first layer, a purge line drawn on
    the bed, joins layer 0); `row_object` gives each move row's object when the file labels objects."""
    n = starts.row.shape[0]
    rows = np.flatnonzero(ext)
    seg_layer = np.maximum(moves.layer[rows], 0)
    prev, cur = moves.xyzef[rows - 1], moves.xyzef[rows]
    segs = np.column_stack([prev[:, 0], prev[:, 1], cur[:, 0], cur[:, 1]])
    amount = cur[:, 3] - prev[:, 3]
    feat = moves.feature[rows]
    owner = row_object[rows].astype(np.int32) if row_object is not None else None
    bounds = np.searchsorted(seg_layer, np.arange(n + 1))
    out: list[LayerPaths] = []
    prev_z = 0.0
    prev_h: float | None = None
    for k in range(n):
        a, b = int(bounds[k]), int(bounds[k + 1])
        z = float(starts.z[k])
        height = bead_height(z - prev_z, prev_h, nominal)
        if k and z < prev_z and z <= out[0].z + SAME_Z_MM:  # back on the bed: a sequential print's next copy
            height = out[0].height
        out.append(LayerPaths(index=k, z=z, height=height, segments=segs[a:b], extrusion=amount[a:b],
                              feature=feat[a:b], first_line=int(starts.line[k]),
                              objects=owner[a:b] if owner is not None else None))
        prev_z, prev_h = z, height
    return out


AIR_GAP_RATIO = 2.0
"""A rise more than this many layer heights is no taller bead but an air gap (Cura's over a raft)."""


def bead_height(rise: float, below: float | None, nominal: float | None) -> float:
    """Height of a layer's beads (what their width follows from), given its rise over the layer before.

    That is the rise, except where it cannot be: a layer printed lower than the one before (Cura's layer over a
    raft's air gap) or one that rose more than `AIR_GAP_RATIO` layer heights (the air gap itself), whose beads
    are the file's layer height (or the layer below's when the file does not state one).
    """
    if below is None:
        return rise
    usual = nominal if nominal else below
    if rise <= 0 or rise > AIR_GAP_RATIO * max(usual, below):
        return usual
    return rise


def _printing_end(xyzef: np.ndarray, ext: np.ndarray, row_command: np.ndarray, n_commands: int) -> int:
    """Command index of the first XY move after the last extrusion (the end script's travel), or the end."""
    rows = np.flatnonzero(ext)
    if rows.shape[0] == 0:
        return n_commands
    last = int(rows[-1])
    after = xyzef[last + 1:, :2] - xyzef[last:-1, :2] if last + 1 < xyzef.shape[0] else np.zeros((0, 2))
    moved = np.flatnonzero(np.abs(after).max(axis=1) > 1e-9) if after.shape[0] else after[:, 0].astype(np.int64)
    if moved.shape[0] == 0:
        return n_commands
    return int(row_command[last + 1 + int(moved[0])])


def _move_table(tok: TokenTable, notes: CommentIndex) -> tuple[MoveTable, np.ndarray, LayerStarts]:
    """The move table (layer and feature of each move), which rows extrude, and the layer starts."""
    move_line, xyzef = resolve_moves(tok)
    ext = extruding(xyzef)
    if notes.markers:
        starts = marked_starts(xyzef, move_line, ext, notes)
    else:
        starts = unmarked_starts(xyzef, move_line, ext, header_layer_height(notes.header))
    layer = np.searchsorted(starts.row, np.arange(xyzef.shape[0]), side="right") - 1
    layer[0] = -1
    return MoveTable(xyzef, move_line, layer.astype(np.int64), _features(notes, move_line)), ext, starts


def plan(text: str) -> JobPlan:
    """Read G-code text into its job plan."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    commands, command_line = _commands(text)
    data = text.encode("utf-8", "replace")
    tok = tokenize(data)
    notes = scan_comments(tok)
    moves, ext, starts = _move_table(tok, notes)
    move_line, xyzef = moves.line, moves.xyzef
    n_lines = max(tok.n_lines, 1)
    cmd_of_line = np.full(n_lines + 1, -1, dtype=np.int64)
    cmd_of_line[command_line] = np.arange(command_line.shape[0])
    row_command = np.maximum(cmd_of_line[np.maximum(move_line, 0)], 0)
    times = move_times(xyzef)
    per_command = np.bincount(row_command[1:], weights=times[1:], minlength=len(commands))[:len(commands)]
    planned: np.ndarray = np.cumsum(per_command).astype(np.float64)
    ours = float(planned[-1]) if planned.shape[0] else 0.0
    stated = header_time_s(notes.header)
    if stated is not None and stated > 0:
        if ours > 0:
            planned = planned * (stated / ours)
        estimate, source = stated, "file"
    else:
        estimate, source = ours, "printloop"
    objects, command_object = object_spans(commands, command_line, notes)
    row_object = command_object[row_command] if objects else None
    paths = _layer_paths(moves, ext, starts, header_layer_height(notes.header), row_object)
    first_cmd = np.searchsorted(command_line, starts.line, side="left")
    layer_time = np.diff(np.concatenate([[0.0], planned[np.minimum(first_cmd[1:], len(commands)) - 1], [estimate]])) \
        if len(commands) and first_cmd.shape[0] else np.zeros(first_cmd.shape[0])
    clear = np.maximum.accumulate(starts.z) if starts.z.shape[0] else starts.z
    layers = tuple(PlanLayer(k, starts.label[k], float(starts.z[k]), p.height, int(first_cmd[k]),
                             int(starts.line[k]), float(layer_time[k]), p, float(clear[k]))
                   for k, p in enumerate(paths))
    stated_f = header_filament_mm(notes.header)
    filament = stated_f if stated_f else float(np.sum(np.diff(xyzef[:, 3])[ext[1:]]))
    total_bytes = sum(len(c) for c in commands) + len(commands)
    return JobPlan(commands, command_line, layers, objects, command_object, planned,
                   _printing_end(xyzef, ext, row_command, len(commands)), float(estimate), source, filament,
                   tok.n_lines, total_bytes, notes.family, header_flavor(notes.header), notes.header)


def read_text(path: str | os.PathLike[str]) -> str:
    """A G-code file's text; GcodeReadError when it cannot be read or is not text."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise GcodeReadError(f"cannot read G-code file {name}: {exc.strerror or exc}") from exc
    if b"\x00" in data[:4096]:
        raise GcodeReadError(f"{name} is a binary file, not text G-code")
    return data.decode("utf-8", "replace")


def plan_file(path: str | os.PathLike[str]) -> JobPlan:
    """Read a G-code file into its job plan; GcodeReadError when it cannot be read or holds no commands."""
    result = plan(read_text(path))
    if not result.commands:
        raise GcodeReadError(f"{os.fspath(path)} holds no G-code commands")
    return result


def read_gcode(text: str) -> GcodeJob:
    """Per-layer extruding toolpaths, feature types and header figures of a G-code text."""
    return plan(text).to_job()


def read_gcode_file(path: str | os.PathLike[str]) -> GcodeJob:
    """Read a G-code file's toolpaths; GcodeReadError when it cannot be read or holds no moves."""
    result = plan(read_text(path))
    if not any(c[:2].upper() in ("G0", "G1", "G2", "G3") and not c[2:3].isdigit() for c in result.commands):
        raise GcodeReadError(f"{os.fspath(path)} holds no G-code moves (G0/G1/G2/G3)")
    return result.to_job()


def parse_moves(text: str) -> MoveTable:
    """Machine state after every move of a G-code text (absolute mm, cumulative filament, mm/s), with the
    layer and feature of each move."""
    tok = tokenize(text.replace("\r\n", "\n").encode("utf-8", "replace"))
    return _move_table(tok, scan_comments(tok))[0]
