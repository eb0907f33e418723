"""Prepare a G-code file for streaming: commands without comments, layer boundaries and the slicer's time estimate."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_LAYER_N = re.compile(r"^;\s*LAYER\s*:\s*(-?\d+)", re.IGNORECASE)
_LAYER_CHANGE = re.compile(r"^;\s*(LAYER_CHANGE|BEFORE_LAYER_CHANGE)\b")
_TIME_CURA = re.compile(r"^;\s*(?:TIME|PRINT\.TIME)\s*:\s*(\d+(?:\.\d+)?)")
_TIME_PRUSA = re.compile(r"^;\s*estimated printing time(?: \(normal mode\))?\s*=\s*(.+)$", re.IGNORECASE)
_DURATION = re.compile(r"(\d+)\s*([dhms])")
_WORD = re.compile(r"([A-Z])\s*(-?\d*\.?\d+)")
_ZE_WORD = re.compile(r"([ZE])\s*(-?\d*\.?\d+)")  # the two words layer detection reads (a third of _WORD's cost)


@dataclass(frozen=True)
class LayerBoundary:
    """Start of layer `layer` (≥ 1) at height `z` (mm, None if unknown): `line` file commands come before it."""

    layer: int
    z: float | None
    line: int


@dataclass(frozen=True)
class PreparedGcode:
    """A file reduced to the commands to send, with its layer boundaries and the slicer's time estimate (s)."""

    commands: tuple[str, ...]
    layers: tuple[LayerBoundary, ...]
    layer_count: int
    estimate_s: float | None
    total_bytes: int


def strip_command(raw: str) -> str:
    """The command part of one file line: comments (`;`, `(...)`) and surrounding blanks removed."""
    text = raw.split(";", 1)[0]
    if "(" in text:
        text = re.sub(r"\([^)]*\)", "", text)
    return text.strip()


def parse_duration(text: str) -> float | None:
    """Seconds in a `1d 2h 3m 4s` duration, None if it holds no number."""
    scale = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = _DURATION.findall(text)
    return float(sum(int(n) * scale[u] for n, u in parts)) if parts else None


def _words(command: str) -> dict[str, float]:
    """Numeric words of a G/M command (`G1 X1 Z0.2` → {'G': 1, 'X': 1, 'Z': 0.2})."""
    return {k: float(v) for k, v in _WORD.findall(command.upper())}


class _ZTracker:
    """Finds unmarked layer starts: a rise in Z followed by extrusion."""

    def __init__(self) -> None:
        self.z: float | None = None
        self.layer_z: float | None = None
        self.e = 0.0
        self.relative_e = False
        self.rise_at: int | None = None
        self.layer = -1

    def feed(self, index: int, command: str) -> LayerBoundary | None:
        """Account for one command; return the boundary it completes, if any."""
        head = command[:4].upper()
        if head.startswith("M83"):
            self.relative_e = True
        elif head.startswith("M82"):
            self.relative_e = False
        if not head.startswith(("G1", "G0")) or head[:3] in ("G10", "G11"):
            if head.startswith("G92"):
                self.e = _words(command).get("E", self.e)
            return None
        w = {k: float(v) for k, v in _ZE_WORD.findall(command.upper())}
        if "Z" in w and (self.z is None or w["Z"] != self.z):
            self.z = w["Z"]
            if self.layer_z is None or self.z > self.layer_z:
                self.rise_at = index if self.rise_at is None else self.rise_at
        if "E" in w:
            extrudes = w["E"] > 0 if self.relative_e else w["E"] > self.e
            if not self.relative_e:
                self.e = w["E"]
            if extrudes and self.z is not None and (self.layer_z is None or self.z > self.layer_z):
                self.layer += 1
                self.layer_z = self.z
                at, self.rise_at = self.rise_at, None
                if self.layer >= 1 and at is not None:
                    return LayerBoundary(self.layer, self.z, at)
            elif extrudes:
                self.rise_at = None
        return None


def prepare_lines(lines: list[str]) -> PreparedGcode:
    """Reduce file lines to commands, layer boundaries (markers, else Z rises) and the time estimate."""
    commands: list[str] = []
    marked: list[LayerBoundary] = []
    marker_count = 0
    pending_marker: int | None = None
    estimate: float | None = None
    zt = _ZTracker()
    unmarked: list[LayerBoundary] = []
    for raw in lines:
        stripped = raw.strip()
        if stripped.startswith(";"):
            if (m := _LAYER_N.match(stripped)) or _LAYER_CHANGE.match(stripped) and stripped.upper().startswith(";LAYER_CHANGE"):
                pending_marker = marker_count
                marker_count += 1
            elif estimate is None and (m := _TIME_CURA.match(stripped)):
                estimate = float(m.group(1))
            elif estimate is None and (m := _TIME_PRUSA.match(stripped)):
                estimate = parse_duration(m.group(1))
            continue
        command = strip_command(stripped)
        if not command:
            continue
        if pending_marker is not None:
            if pending_marker >= 1:
                marked.append(LayerBoundary(pending_marker, None, len(commands)))
            pending_marker = None
        if b := zt.feed(len(commands), command):
            unmarked.append(b)
        commands.append(command)
    if marker_count:
        layers = tuple(_with_z(marked, commands))
        count = marker_count
    else:
        layers = tuple(unmarked)
        count = zt.layer + 1 if zt.layer >= 0 else 0
    total = sum(len(c) for c in commands) + len(commands)
    return PreparedGcode(tuple(commands), layers, count, estimate, total)


def _with_z(marked: list[LayerBoundary], commands: list[str]) -> list[LayerBoundary]:
    """Fill each marked boundary's Z from the first Z word at or after it (within its layer)."""
    out = []
    for i, b in enumerate(marked):
        end = marked[i + 1].line if i + 1 < len(marked) else len(commands)
        z = None
        for c in commands[b.line:end]:
            if c[:2].upper() in ("G0", "G1") and "Z" in c.upper():
                z = _words(c).get("Z")
                if z is not None:
                    break
        out.append(LayerBoundary(b.layer, z, b.line))
    return out


def prepare_file(path: str | os.PathLike[str]) -> PreparedGcode:
    """Read and prepare a G-code file."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return prepare_lines(text.splitlines())
