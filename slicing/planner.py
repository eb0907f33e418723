"""Layer plans for all copies: visiting order of copies and islands, features within an island, skirt and brim."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyclipper

from slicing.gcode_writer import LayerPlan
from slicing.infill import outline_edges
from slicing.layers import IslandPaths, LayerRegions
from slicing.order import loop_starts, order_loops, order_polylines, order_spans, travels_inside
from slicing.overhangs import split_wall
from slicing.profile import Profile
from slicing.regions import SCALE, IntPaths, from_clipper, offset, pyclipper_union
from slicing.support import SupportPaths
from slicing.toolpath import Feature


def _translate(paths: IntPaths, t: np.ndarray) -> IntPaths:
    """Clipper paths moved by t mm."""
    d = np.rint(t * SCALE).astype(np.int64)
    return [(np.asarray(p, dtype=np.int64) + d).tolist() for p in paths]


def adhesion_loops(first: LayerRegions, shifts: np.ndarray, profile: Profile,
                   support: IntPaths | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Brim loops (outward from the first-layer outline) and skirt loops around everything (the part and the
    support's first layer `support`, in the copy's coordinates), in mm.

    Loops that would leave the bed are dropped.
    """
    w = profile.line_width
    outline: IntPaths = []
    for t in shifts:
        for isl in first.islands:
            outline.extend(_translate(isl.outline, t))
    outline = pyclipper.CleanPolygons(pyclipper_union(outline), 0.02 * SCALE)
    if not outline:
        return [], []
    around = outline
    if support:
        around = pyclipper_union(outline + [p for t in shifts for p in _translate(support, t)])
    brim: list[np.ndarray] = []
    n_brim = round(profile.brim_width / w)
    for k in range(n_brim):
        loops = offset(outline, (0.5 + k) * w, pyclipper.JT_ROUND)
        brim.extend(from_clipper([p for p in loops if pyclipper.Orientation(p)]))
    skirt: list[np.ndarray] = []
    reach = n_brim * w + profile.skirt_distance + 0.5 * w
    for k in range(profile.skirt_loops):
        loops = offset(around, reach + k * w, pyclipper.JT_ROUND)
        skirt.extend(from_clipper([p for p in loops if pyclipper.Orientation(p)]))
    return _on_bed(brim[::-1], profile), _on_bed(skirt[::-1], profile)


def _on_bed(loops: list[np.ndarray], profile: Profile) -> list[np.ndarray]:
    """The loops that lie wholly on the bed (a skirt around a part as big as the bed is left out)."""
    bed = np.array([profile.bed_x, profile.bed_y])
    return [lp for lp in loops if lp.min() >= 0.0 and np.all(lp.max(axis=0) <= bed)]


@dataclass(frozen=True)
class _Block:
    """One island's paths in print order, end to end, in the copy's own coordinates."""

    points: np.ndarray  # (N, 2)
    counts: list[int]
    features: list[int]
    inside: list[bool]
    end: np.ndarray  # nozzle position after the last path
    hangs: list[int]  # overhang class of each path (slicing/overhangs.py; 0: held up)
    flow: np.ndarray | None = None  # (N,) flow of the segment ending at each point, of the line width; None: 1


def _island_block(isl: IslandPaths, pos: np.ndarray, profile: Profile) -> _Block:
    """Order one island from the nozzle at `pos`: inner walls (innermost first), outer wall, skin, fill; walls
    split into pieces by how far they hang over the layer below (the island's `hangs`).

    Also says which travels between the island's paths stay inside its outline (they need no retraction).
    """
    parts: list[np.ndarray] = []
    counts: list[int] = []
    feats: list[int] = []
    hangs: list[int] = []
    for depth in range(len(isl.walls) - 1, -1, -1):
        loops = isl.walls[depth]
        ordered, pos = loop_starts(loops, pos, profile.seam)
        feat = Feature.WALL_OUTER if depth == 0 else Feature.WALL_INNER
        for k, start in ordered:
            pieces, classes = split_wall(loops[k], start, isl.hangs[depth][k] if isl.hangs else None,
                                         profile.line_width)
            parts.extend(pieces)
            counts.extend(len(p) for p in pieces)
            hangs.extend(classes)
            feats.extend([feat] * len(pieces))
    flows, pos = _append_thin(isl, pos, parts, counts, feats, profile.line_width)
    pos = _append_spans(((isl.bridge, isl.bridge_lines, Feature.BRIDGE), (isl.skin, isl.skin_lines, Feature.SKIN),
                         (isl.fill, isl.fill_lines, Feature.FILL)), pos, parts, counts, feats)
    hangs.extend([0] * (len(counts) - len(hangs)))
    points = np.concatenate(parts) if parts else np.zeros((0, 2))
    flow = None
    if flows is not None:
        flow = np.ones(len(points))
        flow[flows[0]:flows[0] + len(flows[1])] = flows[1]
    inside = np.zeros(len(counts), dtype=bool)
    if len(counts) > 1 and profile.combing:
        last = np.cumsum(counts) - 1
        starts, ends = points[last[:-1]], points[last[:-1] + 1]
        d = ends - starts
        inside[1:] = True
        long = np.flatnonzero(np.hypot(d[:, 0], d[:, 1]) > profile.retract_min_travel)
        if len(long):
            a, b = outline_edges(isl.outline)
            inside[1 + long] = travels_inside(starts[long], ends[long], a, b)
    if len(counts) > 1:  # a wall's next piece goes on where the last one ended: no travel, no retraction
        last = np.cumsum(counts) - 1
        inside[1:] |= np.all(points[last[:-1]] == points[last[:-1] + 1], axis=1)
    return _Block(points, counts, feats, inside.tolist(), np.asarray(pos, dtype=np.float64), hangs, flow)


def _append_thin(isl: IslandPaths, pos: np.ndarray, parts: list[np.ndarray], counts: list[int], feats: list[int],
                 line_width: float) -> tuple[tuple[int, np.ndarray] | None, np.ndarray]:
    """Append an island's thin-wall and gap-fill lines nearest first, as inner walls of their own width.

    Returns ((index of their first point among the block's points, flow of each of their points) or None, the
    nozzle's position after them).
    """
    thin = isl.thin
    if thin.empty:
        return None, pos
    start = sum(counts)
    order, flips, end = order_polylines(thin.lines, pos)
    flows = []
    for k, flip in zip(order, flips):
        line, width = (thin.lines[k][::-1], thin.widths[k][::-1]) if flip else (thin.lines[k], thin.widths[k])
        parts.append(line)
        counts.append(len(line))
        feats.append(Feature.WALL_INNER)
        seg = np.empty(len(width))
        seg[0] = 1.0
        seg[1:] = 0.5 * (width[1:] + width[:-1]) / line_width  # a segment's bead: the mean of its ends' widths
        flows.append(seg)
    return (start, np.concatenate(flows)), end


def plan_layers(layers: Iterable[LayerRegions], tops: np.ndarray, shifts: np.ndarray, profile: Profile,
                progress: Callable[[str, int, int], None] | None = None,
                supports: list[SupportPaths] | None = None) -> list[LayerPlan]:
    """Every layer's plan for all copies (see `iter_plans`)."""
    return list(iter_plans(layers, tops, shifts, profile, progress, supports))


def iter_plans(layers: Iterable[LayerRegions], tops: np.ndarray, shifts: np.ndarray, profile: Profile,
               progress: Callable[[str, int, int], None] | None = None,
               supports: list[SupportPaths] | None = None) -> Iterator[LayerPlan]:
    """Order every layer's paths for all copies (shifted by `shifts`, (C, 2) mm) from the nozzle's position.

    Islands are visited nearest-first over all copies; an island is ordered once per layer and the same
    order is translated to the other copies. Each copy's support of a layer (if any) is printed before its parts.
    The layers are taken one by one as they come (from worker processes, slicing/layer_pool.py).
    """
    pos = np.zeros(2)
    prev_top = 0.0
    for i, (layer, top) in enumerate(zip(layers, tops)):
        parts: list[np.ndarray] = []
        counts: list[int] = []
        feats: list[int] = []
        inside: list[bool] = []
        owner: list[int] = []          # the copy each path belongs to (-1: skirt and brim, no copy's)
        hangs: list[int] = []          # overhang class of each path
        flows: dict[int, np.ndarray] = {}  # first point of a block -> its per-point flow, where it has one
        if i == 0:
            brim, skirt = adhesion_loops(layer, shifts, profile, supports[0].footprint if supports else None)
            for loops, feat in ((skirt, Feature.SKIRT), (brim, Feature.BRIM)):
                ordered, pos = order_loops(loops, pos, "nearest")
                parts.extend(ordered)
                counts.extend(len(lp) for lp in ordered)
                feats.extend([feat] * len(ordered))
                inside.extend([False] * len(ordered))
                owner.extend([-1] * len(ordered))
        if supports is not None:
            for c, t in enumerate(shifts):
                pos = _support_block(supports[i], pos - t, parts, counts, feats) + t
                inside.extend([False] * (len(counts) - len(inside)))
                owner.extend([c] * (len(counts) - len(owner)))
        blocks: dict[int, _Block] = {}
        units = [(c, k) for c in range(len(shifts)) for k in range(len(layer.islands))]
        while units:
            best = min(range(len(units)), key=lambda u: _distance(layer.islands[units[u][1]], shifts[units[u][0]], pos))
            c, k = units.pop(best)
            if k not in blocks:
                blocks[k] = _island_block(layer.islands[k], pos - shifts[c], profile)
            block = blocks[k]
            hangs.extend([0] * (len(counts) - len(hangs)) + block.hangs)
            if block.flow is not None:  # the block's points start after every path's so far
                flows[sum(counts)] = block.flow
            parts.append(block.points + shifts[c])
            counts.extend(block.counts)
            feats.extend(block.features)
            inside.extend(block.inside)
            owner.extend([c] * len(block.counts))
            pos = block.end + shifts[c]
        points = np.concatenate(parts) if parts else np.zeros((0, 2))
        hangs.extend([0] * (len(counts) - len(hangs)))
        flow = None
        if flows:
            flow = np.ones(len(points))
            for at, f in flows.items():
                flow[at:at + len(f)] = f
        if progress is not None:
            progress("order", i + 1, len(tops))
        yield LayerPlan(i, float(top), float(top - prev_top), points, np.asarray(counts, dtype=np.int64),
                        np.asarray(feats, dtype=np.int64), np.asarray(inside, dtype=bool),
                        np.asarray(owner, dtype=np.int64), np.asarray(hangs, dtype=np.int8), flow)
        prev_top = float(top)


def _support_block(sup: SupportPaths, pos: np.ndarray, parts: list[np.ndarray], counts: list[int],
                   feats: list[int]) -> np.ndarray:
    """Append one copy's support brim (nearest line first), then its lines (lattice, then interface) in zig-zag
    order; the nozzle's position after."""
    if sup.brim:
        order, flips, pos = order_polylines(list(sup.brim), pos)
        for k, flip in zip(order, flips):
            parts.append(sup.brim[k][::-1] if flip else sup.brim[k])
            counts.append(len(sup.brim[k]))
            feats.append(Feature.BRIM)
    return _append_spans(((sup.body, sup.body_lines, Feature.SUPPORT),
                          (sup.interface, sup.interface_lines, Feature.SUPPORT_INTERFACE)), pos, parts, counts, feats)


def _append_spans(groups: tuple[tuple[np.ndarray, np.ndarray, Feature], ...], pos: np.ndarray,
                  parts: list[np.ndarray], counts: list[int], feats: list[int]) -> np.ndarray:
    """Append each (segments, scanline ids, feature) group in zig-zag order; the nozzle's position after."""
    for segs, lines, feat in groups:
        if len(segs):
            ordered, pos = order_spans(segs, lines, pos)
            parts.append(ordered.reshape(-1, 2))
            counts.extend([2] * len(ordered))
            feats.extend([feat] * len(ordered))
    return np.asarray(pos, dtype=np.float64)


def _distance(isl: IslandPaths, t: np.ndarray, pos: np.ndarray) -> float:
    """Squared distance from the nozzle to the nearest vertex of an island's outer contour."""
    d = isl.contour + t - pos
    return float(np.min(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]))
