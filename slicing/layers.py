"""Per-layer region work for one copy: walls, solid skins from the layers around, and fill lines.

Input: each layer's section polygons (outers CCW, holes CW, mm). Output: per layer a list of islands, each
with wall loops per depth, skin segments and sparse fill segments, in the copy's own coordinates.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from slicing.bridges import bridge_lines_of
from slicing.infill import fill_angles, line_fill_indexed, sparse_spacing
from slicing.profile import Profile
from slicing.regions import SCALE, IntPaths, intersect_all, island_regions, islands, split_solid
from slicing.thin import NO_LINES, ThinLines, thin_lines

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class IslandPaths:
    """Unordered toolpaths of one island: walls[k] loops at depth k (0 = outer wall), skin and fill segments."""

    outline: IntPaths
    contour: np.ndarray  # (M, 2) outer contour in mm, used to decide the visiting order
    walls: list[list[np.ndarray]]
    skin: np.ndarray  # (S, 2, 2)
    fill: np.ndarray  # (F, 2, 2)
    skin_lines: np.ndarray  # (S,) scanline ids, for zig-zag ordering
    fill_lines: np.ndarray  # (F,)
    bridge: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 2)))  # (B, 2, 2) lines over air
    bridge_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    thin: ThinLines = NO_LINES  # centre lines of ribs and gaps the walls leave empty, with their widths


@dataclass(frozen=True)
class LayerRegions:
    """All islands of one layer of one copy, and the area too thin for a wall."""

    islands: list[IslandPaths]
    thin_area: float


def build_layers(sections: list[list[np.ndarray]], profile: Profile, progress: Progress | None = None) -> list[LayerRegions]:
    """Walls, skins and infill for every layer; solid where the `top`/`bottom` layers around do not cover."""
    w = profile.line_width
    overlap = profile.infill_overlap / 100.0 * w
    n = len(sections)
    regs = []
    for i, polys in enumerate(sections):
        regs.append([island_regions(isl, w, profile.perimeters, overlap, profile.gap_fill) for isl in islands(polys)])
        if progress is not None:
            progress("walls", i + 1, n)
    inner = [[p for r in layer for p in r.inner] for layer in regs]
    spacing = sparse_spacing(profile.infill_pattern, w, profile.infill_density)
    out: list[LayerRegions] = []
    for i, layer in enumerate(regs):
        below = range(i - profile.bottom_layers, i)
        above = range(i + 1, i + 1 + profile.top_layers)
        neighbours = list(below) + list(above)
        if any(j < 0 or j >= n for j in neighbours):
            covered: IntPaths = []
        elif not neighbours:
            covered = inner[i]
        else:
            covered = intersect_all([inner[j] for j in neighbours])
        skin_angle = (profile.skin_angle + 90.0 * (i % 2),)
        fill_dirs = fill_angles(profile.infill_pattern, profile.skin_angle, i)
        isl_out = []
        under: IntPaths = [p for r in regs[i - 1] for p in r.outline] if i > 0 and profile.bridges else []
        for r in layer:
            solid, sparse = split_solid(r.inner, covered, w * w)
            bridge, bridge_lines = _empty_lines()
            if profile.bridges and i > 0 and solid:
                solid, bridge, bridge_lines = bridge_lines_of(solid, under, w)
            skin, skin_lines = line_fill_indexed(solid, w, skin_angle, min_length=0.5 * w)
            fill, fill_lines = line_fill_indexed(sparse, spacing, fill_dirs, min_length=0.5 * w)
            contour = np.asarray(r.outline[0], dtype=np.float64) / SCALE
            thin = thin_lines(r.outline, r.walls, profile.perimeters, w, r.thin_area) if profile.gap_fill else NO_LINES
            isl_out.append(IslandPaths(r.outline, contour, r.walls, skin, fill, skin_lines, fill_lines, bridge,
                                       bridge_lines, thin))
        unfilled = 0.0 if profile.gap_fill else float(sum(r.thin_area for r in layer))
        out.append(LayerRegions(isl_out, unfilled))
        if progress is not None:
            progress("infill", i + 1, n)
    return out


def _empty_lines() -> tuple[np.ndarray, np.ndarray]:
    """No segments and no scanline ids."""
    return np.zeros((0, 2, 2)), np.zeros(0, dtype=np.int64)
