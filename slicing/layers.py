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
from slicing.overhangs import hang_zones, layer_hangs
from slicing.profile import Profile
from slicing.regions import (
    SCALE,
    IntPaths,
    IslandRegions,
    intersect_all,
    island_regions,
    islands,
    split_solid,
)
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
    hangs: list[list[np.ndarray | None]] = field(default_factory=list)  # per wall loop: slicing/overhangs.py's
    # classes of its samples (None: held up all round); empty: no wall of the island hangs


@dataclass(frozen=True)
class LayerRegions:
    """All islands of one layer of one copy, and the area too thin for a wall."""

    islands: list[IslandPaths]
    thin_area: float


def build_layers(sections: list[list[np.ndarray]], profile: Profile, progress: Progress | None = None) -> list[LayerRegions]:
    """Walls, skins and infill for every layer; solid where the `top`/`bottom` layers around do not cover."""
    n = len(sections)
    regs = []
    for i, polys in enumerate(sections):
        regs.append(layer_walls(polys, profile))
        if progress is not None:
            progress("walls", i + 1, n)
    out: list[LayerRegions] = []
    for i in range(n):
        out.append(finish_layer(i, regs, 0, n, profile))
        if progress is not None:
            progress("infill", i + 1, n)
    return out


def neighbours(i: int, n: int, profile: Profile) -> range:
    """The layers whose walls layer i of n needs to be finished: the `bottom_layers` below it (at least the one
    below, for bridges) to the `top_layers` above, within the part."""
    return range(max(i - max(profile.bottom_layers, 1), 0), min(i + profile.top_layers + 1, n))


def layer_walls(polys: list[np.ndarray], profile: Profile) -> list[IslandRegions]:
    """The walls and inner areas of each island of one layer's section."""
    w = profile.line_width
    overlap = profile.infill_overlap / 100.0 * w
    return [island_regions(isl, w, profile.perimeters, overlap, profile.gap_fill) for isl in islands(polys)]


def finish_layer(i: int, regs: list[list[IslandRegions]], first: int, n: int, profile: Profile) -> LayerRegions:
    """Skins, bridges, infill and gap fill of layer i of n, from the walls `regs` of layers first, first + 1, …
    (at least those of `neighbours(i, n, profile)`)."""
    w = profile.line_width
    layer = regs[i - first]
    below = range(i - profile.bottom_layers, i)
    above = range(i + 1, i + 1 + profile.top_layers)
    around = list(below) + list(above)
    covered: IntPaths
    if any(j < 0 or j >= n for j in around):
        covered = []
    elif not around:
        covered = [p for r in layer for p in r.inner]
    else:
        covered = intersect_all([[p for r in regs[j - first] for p in r.inner] for j in around])
    skin_angle = (profile.skin_angle + 90.0 * (i % 2),)
    fill_dirs = fill_angles(profile.infill_pattern, profile.skin_angle, i)
    spacing = sparse_spacing(profile.infill_pattern, w, profile.infill_density)
    isl_out = []
    under: IntPaths = [p for r in regs[i - 1 - first] for p in r.outline] if i > 0 else []
    zones = hang_zones([p for r in layer for p in r.outline], under, w) if i > 0 and profile.overhangs else None
    for r in layer:
        solid, sparse = split_solid(r.inner, covered, w * w)
        bridge, bridge_lines = _empty_lines()
        if profile.bridges and i > 0 and solid:
            solid, bridge, bridge_lines = bridge_lines_of(solid, under, w)
        skin, skin_lines = line_fill_indexed(solid, w, skin_angle, min_length=0.5 * w)
        fill, fill_lines = line_fill_indexed(sparse, spacing, fill_dirs, min_length=0.5 * w)
        contour = np.asarray(r.outline[0], dtype=np.float64) / SCALE
        thin = thin_lines(r.outline, r.walls, profile.perimeters, w, r.thin_area) if profile.gap_fill else NO_LINES
        hangs: list[list[np.ndarray | None]] = []
        if zones is not None:
            found = iter(layer_hangs([loop for loops in r.walls for loop in loops], zones))
            hangs = [[next(found) for _ in loops] for loops in r.walls]
            if not any(h is not None for loops in hangs for h in loops):
                hangs = []
        isl_out.append(IslandPaths(r.outline, contour, r.walls, skin, fill, skin_lines, fill_lines, bridge,
                                   bridge_lines, thin, hangs))
    unfilled = 0.0 if profile.gap_fill else float(sum(r.thin_area for r in layer))
    return LayerRegions(isl_out, unfilled)


def _empty_lines() -> tuple[np.ndarray, np.ndarray]:
    """No segments and no scanline ids."""
    return np.zeros((0, 2, 2)), np.zeros(0, dtype=np.int64)
