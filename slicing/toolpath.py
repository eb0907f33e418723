"""Per-layer toolpaths as plain arrays: the contract between the G-code reader, vision and the controller.

Units: millimetres, seconds, filament millimetres (E). Segments are extruding moves only; travel is not kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class Feature(IntEnum):
    """Feature type of an extruding segment, from `;TYPE:` annotations (OTHER when unannotated)."""

    OTHER = 0
    WALL_OUTER = 1
    WALL_INNER = 2
    SKIN = 3
    FILL = 4
    SKIRT = 5
    SUPPORT = 6
    BRIM = 7
    SUPPORT_INTERFACE = 8
    BRIDGE = 9


@dataclass(frozen=True)
class LayerPaths:
    """The extruding segments of one layer.

    segments: (N, 4) float64 rows x0, y0, x1, y1 in bed mm.
    extrusion: (N,) float64 filament mm pushed along each segment (>0).
    feature: (N,) int8 Feature codes.
    z: height of the nozzle while printing this layer (top of the layer), mm.
    height: layer thickness, mm.
    first_line: 0-based index of the G-code line that starts this layer (marker or Z change).
    objects: (N,) int32 index of the labelled object (a copy on the plate) each segment belongs to, -1 for none;
    None when the file labels no objects.
    """

    index: int
    z: float
    height: float
    segments: np.ndarray
    extrusion: np.ndarray
    feature: np.ndarray
    first_line: int = 0
    objects: np.ndarray | None = None

    def lengths(self) -> np.ndarray:
        """Length of each segment in mm."""
        d = self.segments[:, 2:4] - self.segments[:, 0:2]
        return np.hypot(d[:, 0], d[:, 1])

    def widths(self, filament_diameter: float = 1.75) -> np.ndarray:
        """Bead width of each segment from conserved volume: E·A_filament / (length·height)."""
        area = np.pi * (filament_diameter / 2.0) ** 2
        lengths = np.maximum(self.lengths(), 1e-9)
        return self.extrusion * area / (lengths * max(self.height, 1e-6))


@dataclass(frozen=True)
class GcodeJob:
    """A whole G-code file read back: its layers and what its header says about it."""

    layers: list[LayerPaths]
    line_count: int
    estimated_time_s: float | None = None
    filament_mm: float | None = None
    flavor: str | None = None
    header: dict[str, str] = field(default_factory=dict)
