"""Layer plans for all copies: visiting order of copies and islands, features within an island, skirt and brim."""
from __future__ import annotations

import numpy as np
import pyclipper

from slicing.gcode_writer import LayerPlan
from slicing.infill import outline_edges
from slicing.layers import IslandPaths, LayerRegions
from slicing.order import order_loops, order_segments, travels_inside
from slicing.profile import Profile
from slicing.regions import SCALE, IntPaths, from_clipper, offset, pyclipper_union
from slicing.toolpath import Feature


def _translate(paths: IntPaths, t: np.ndarray) -> IntPaths:
    """Clipper paths moved by t mm."""
    d = np.rint(t * SCALE).astype(np.int64)
    return [(np.asarray(p, dtype=np.int64) + d).tolist() for p in paths]


def adhesion_loops(first: LayerRegions, shifts: np.ndarray, profile: Profile) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Brim loops (outward from the first-layer outline) and skirt loops around everything, in mm."""
    w = profile.line_width
    outline: IntPaths = []
    for t in shifts:
        for isl in first.islands:
            outline.extend(_translate(isl.outline, t))
    outline = pyclipper.CleanPolygons(pyclipper_union(outline), 0.02 * SCALE)
    if not outline:
        return [], []
    brim: list[np.ndarray] = []
    n_brim = round(profile.brim_width / w)
    for k in range(n_brim):
        loops = offset(outline, (0.5 + k) * w, pyclipper.JT_ROUND)
        brim.extend(from_clipper([p for p in loops if pyclipper.Orientation(p)]))
    skirt: list[np.ndarray] = []
    reach = n_brim * w + profile.skirt_distance + 0.5 * w
    for k in range(profile.skirt_loops):
        loops = offset(outline, reach + k * w, pyclipper.JT_ROUND)
        skirt.extend(from_clipper([p for p in loops if pyclipper.Orientation(p)]))
    return brim[::-1], skirt[::-1]


def _island_paths(isl: IslandPaths, t: np.ndarray, pos: np.ndarray, profile: Profile,
                  rear: np.ndarray) -> tuple[list[np.ndarray], list[int], list[bool], np.ndarray]:
    """One island's paths in print order: inner walls (innermost first), outer wall, skin, fill.

    Also says which travels between the island's paths stay inside its outline (they need no retraction).
    """
    paths: list[np.ndarray] = []
    feats: list[int] = []
    for depth in range(len(isl.walls) - 1, -1, -1):
        loops = [lp + t for lp in isl.walls[depth]]
        ordered, pos = order_loops(loops, pos, profile.seam, rear)
        paths.extend(ordered)
        feats.extend([Feature.WALL_OUTER if depth == 0 else Feature.WALL_INNER] * len(ordered))
    for segs, feat in ((isl.skin, Feature.SKIN), (isl.fill, Feature.FILL)):
        if len(segs):
            ordered_segs, pos = order_segments(segs + t, pos)
            paths.extend(list(ordered_segs))
            feats.extend([feat] * len(ordered_segs))
    inside = np.zeros(len(paths), dtype=bool)
    if len(paths) > 1:
        starts = np.array([p[-1] for p in paths[:-1]])
        ends = np.array([p[0] for p in paths[1:]])
        d = ends - starts
        inside[1:] = True
        long = np.flatnonzero(np.hypot(d[:, 0], d[:, 1]) > profile.retract_min_travel)
        if len(long):
            a, b = outline_edges(isl.outline)
            inside[1 + long] = travels_inside(starts[long], ends[long], a + t, b + t)
    return paths, feats, inside.tolist(), pos


def plan_layers(layers: list[LayerRegions], tops: np.ndarray, shifts: np.ndarray, profile: Profile,
                progress=None) -> list[LayerPlan]:
    """Order every layer's paths for all copies (shifted by `shifts`, (C, 2) mm) from the nozzle's position."""
    pos = np.zeros(2)
    plans: list[LayerPlan] = []
    prev_top = 0.0
    for i, (layer, top) in enumerate(zip(layers, tops)):
        paths: list[np.ndarray] = []
        feats: list[int] = []
        inside: list[bool] = []
        if i == 0:
            brim, skirt = adhesion_loops(layer, shifts, profile)
            for loops, feat in ((skirt, Feature.SKIRT), (brim, Feature.BRIM)):
                ordered, pos = order_loops(loops, pos, "nearest", pos)
                paths.extend(ordered)
                feats.extend([feat] * len(ordered))
                inside.extend([False] * len(ordered))
        units = [(c, k) for c in range(len(shifts)) for k in range(len(layer.islands))]
        while units:
            best = min(range(len(units)), key=lambda u: _distance(layer.islands[units[u][1]], shifts[units[u][0]], pos))
            c, k = units.pop(best)
            isl = layer.islands[k]
            rear = np.array([profile.bed_x / 2.0, 1e4]) + shifts[c]
            p, f, ins, pos = _island_paths(isl, shifts[c], pos, profile, rear)
            paths.extend(p)
            feats.extend(f)
            inside.extend(ins)
        plans.append(LayerPlan(i, float(top), float(top - prev_top), paths, np.asarray(feats, dtype=np.int64),
                               np.asarray(inside, dtype=bool)))
        prev_top = float(top)
        if progress is not None:
            progress("order", i + 1, len(layers))
    return plans


def _distance(isl: IslandPaths, t: np.ndarray, pos: np.ndarray) -> float:
    """Squared distance from the nozzle to the nearest vertex of an island's outer contour."""
    d = isl.contour + t - pos
    return float(np.min(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]))
