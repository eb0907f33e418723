"""Support under overhangs: areas projected down layer by layer, kept a gap from the part, filled as a lattice.

Per layer i, the overhang is the part's outline minus the layer below grown by layer_height·tan(support_angle)
(what the layer below cannot hold up), grown back over the band the allowance held. Each overhang is carried down (top to bottom) to the layers under it,
starting `support_z_gap` below the part; where the carried area meets the part it stops ("everywhere"), or the
whole column is dropped ("buildplate": only support that stands on the bed). The support of a layer is the carried
area minus the part grown by `support_xy_gap`, and minus the part of the layers within `support_z_gap` under it
(the bottom gap). Its top `support_interface_layers` (where the part is that close above) are dense interface.

The result is areas per layer (`SupportAreas`); filling them is a separate step, so another generator (a tree)
can hand over areas of its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pyclipper

from slicing.bridges import bridgeable
from slicing.infill import line_fill_indexed, sparse_spacing
from slicing.layers import LayerRegions
from slicing.profile import Profile
from slicing.regions import SCALE, IntPaths, area, boolean, from_clipper, offset, pyclipper_union

_DIFF, _AND = pyclipper.CT_DIFFERENCE, pyclipper.CT_INTERSECTION


@dataclass(frozen=True)
class SupportAreas:
    """The support of one layer (clipper paths in the copy's coordinates): lattice body and dense interface."""

    body: IntPaths
    interface: IntPaths


@dataclass(frozen=True)
class SupportPaths:
    """The support lines of one layer, (N, 2, 2) mm each, with scanline ids for zig-zag ordering, and on the first
    layer the brim around the support's footprint (polylines, mm) and the area support and brim cover (clipper paths),
    which the skirt goes around."""

    body: np.ndarray
    body_lines: np.ndarray
    interface: np.ndarray
    interface_lines: np.ndarray
    brim: tuple[np.ndarray, ...] = ()
    footprint: IntPaths = field(default_factory=list)


def _drop_small(paths: IntPaths, min_area: float) -> IntPaths:
    """The outer contours (with their holes kept by the union) whose area is at least min_area mm²."""
    if min_area <= 0 or not paths:
        return paths
    big = [p for p in paths if not pyclipper.Orientation(p) or pyclipper.Area(p) / (SCALE * SCALE) >= min_area]
    return pyclipper_union(big) if len(big) != len(paths) else paths


def overhangs(outlines: list[IntPaths], heights: list[float], profile: Profile) -> list[IntPaths]:
    """Per layer, the area the layer below does not hold up at the profile's support angle (layer 0: none)."""
    out: list[IntPaths] = [[]]
    tan = math.tan(math.radians(min(profile.support_angle, 89.0)))
    for i in range(1, len(outlines)):
        if not outlines[i]:
            out.append([])
            continue
        held = offset(outlines[i - 1], heights[i] * tan) if outlines[i - 1] else []
        basic = boolean(outlines[i], held, _DIFF)
        if not basic:
            out.append([])
            continue
        # as CuraEngine does: the band the allowance held is supported too where it borders a real overhang,
        # so the thin bands of a slope add up to its whole underside further down
        full = boolean(outlines[i], outlines[i - 1], _DIFF)
        hang = boolean(offset(basic, heights[i] * tan), full, _AND)
        if profile.bridges and hang:  # a span held on two sides is bridged, not supported
            spans = bridgeable(hang, outlines[i - 1], profile.line_width)
            hang = boolean(hang, offset(spans, profile.line_width), _DIFF) if spans else hang
        out.append(_drop_small(hang, profile.support_min_area))
    return out


def support_areas(outlines: list[IntPaths], tops: np.ndarray, profile: Profile) -> list[SupportAreas]:
    """Support areas of every layer (empty lists when support is off or nothing overhangs)."""
    n = len(outlines)
    empty = [SupportAreas([], []) for _ in range(n)]
    if profile.support == "off" or n < 2:
        return empty
    heights = np.diff(np.concatenate([[0.0], np.asarray(tops, dtype=np.float64)])).tolist()
    hangs = overhangs(outlines, heights, profile)
    if not any(hangs):
        return empty
    h = profile.layer_height
    gap = max(math.ceil(profile.support_z_gap / h - 1e-6), 0)
    k_int = profile.support_interface_layers
    clear = profile.support_xy_gap + 0.5 * profile.line_width  # from the part's edge to a support line's centre
    grown = [offset(o, clear) if o else [] for o in outlines]
    below_part: list[IntPaths] = []  # union of the part at or below each layer (buildplate mode)
    if profile.support == "buildplate":
        acc: IntPaths = []
        for o in outlines:
            acc = pyclipper_union(acc + o) if o else acc
            below_part.append(acc)
    out: list[SupportAreas] = list(empty)
    carried: IntPaths = []
    for j in range(n - 2, -1, -1):
        src = j + 1 + gap  # the overhang of this layer is held up by support at layer j
        if src < n and hangs[src]:
            carried = pyclipper_union(carried + hangs[src])
        if not carried:
            continue
        own = _keep_clear(outlines, grown, j, src, max(k_int, 1), profile.line_width)
        if profile.support == "everywhere":
            carried = boolean(carried, outlines[j], _DIFF)  # the column stops on the part
            # the bottom Z gap: no support on the part's top within `gap` layers under it
            under = [p for k in range(max(j - gap, 0), j) for p in outlines[k]]
            blocked = pyclipper_union(own + offset(pyclipper_union(under), profile.line_width)) if under else own
        else:
            blocked = pyclipper_union(own + offset(below_part[j], clear)) if below_part[j] else own
        body = boolean(carried, blocked, _DIFF) if blocked else carried
        if not body:
            continue
        interface: IntPaths = []
        if k_int > 0:
            above = [p for k in range(src, min(src + k_int, n)) for p in outlines[k]]
            if above:
                # reaching an XY gap past the part above, so the edge of a slope sits on dense lines too
                interface = boolean(body, offset(pyclipper_union(above), clear), _AND)
                if interface:
                    body = boolean(body, interface, _DIFF)
        out[j] = SupportAreas(body, interface)
    return out


def _keep_clear(outlines: list[IntPaths], grown: list[IntPaths], j: int, src: int, depth: int,
                w: float) -> IntPaths:
    """Where layer j's support may not go beside the part: the XY gap around it, but under what the `depth`
    layers from `src` up overhang, where only half a line's gap is kept (CuraEngine's "Z overrides X/Y") so the
    edge of a slope or a shelf's first line is held too."""
    if not outlines[j]:
        return []
    above = [p for k in range(src, min(src + depth, len(outlines))) for p in outlines[k]]
    if not above:
        return grown[j]
    above = pyclipper_union(above)
    band = boolean(above, outlines[src - 1], _DIFF) if outlines[src - 1] else above
    if not band:
        return grown[j]
    return pyclipper_union(boolean(grown[j], band, _DIFF) + offset(outlines[j], w))


def support_paths(areas: SupportAreas, index: int, profile: Profile) -> SupportPaths:
    """Fill one layer's support: a sparse lattice (lines or grid) and dense interface lines across it."""
    w = profile.line_width
    body_dirs = (0.0, 90.0) if profile.support_pattern == "grid" else (0.0,)
    spacing = sparse_spacing(profile.support_pattern, w, profile.support_density)
    body, body_lines = line_fill_indexed(areas.body, spacing, body_dirs, min_length=w)
    dense = w * 100.0 / profile.support_interface_density
    interface, interface_lines = line_fill_indexed(areas.interface, dense, (45.0 + 90.0 * (index % 2),),
                                                   min_length=0.5 * w)
    return SupportPaths(body, body_lines, interface, interface_lines)


def plan_supports(layers: list[LayerRegions], tops: np.ndarray, profile: Profile) -> list[SupportPaths] | None:
    """Support lines of every layer of one copy, or None when support is off or nothing needs it."""
    if profile.support == "off":
        return None
    outlines = [[p for isl in layer.islands for p in isl.outline] for layer in layers]
    areas = support_areas(outlines, tops, profile)
    if not any(a.body or a.interface for a in areas):
        return None
    paths = [support_paths(a, i, profile) for i, a in enumerate(areas)]
    foot = pyclipper_union(areas[0].body + areas[0].interface)
    if foot:
        width = profile.support_brim_width
        brim = support_brim(foot, outlines[0], profile) if width > 0 else ()
        paths[0] = replace(paths[0], brim=brim, footprint=offset(foot, width, pyclipper.JT_ROUND) if brim else foot)
    return paths


def support_brim(foot: IntPaths, outline: IntPaths, profile: Profile) -> tuple[np.ndarray, ...]:
    """Brim lines outward from the support's first layer `foot`, `support_brim_width` wide, cut where they would
    come nearer the part than the support's XY gap (so the brim does not weld the support to the part)."""
    w = profile.line_width
    keep_out = offset(outline, profile.support_xy_gap + 0.5 * w) if outline else []
    loops: IntPaths = []
    for k in range(max(round(profile.support_brim_width / w), 1)):
        loops.extend(p + p[:1] for p in offset(foot, (0.5 + k) * w, pyclipper.JT_ROUND))
    if not keep_out:
        return tuple(from_clipper(loops))
    pc = pyclipper.Pyclipper()
    pc.AddPaths(loops, pyclipper.PT_SUBJECT, False)
    pc.AddPaths(keep_out, pyclipper.PT_CLIP, True)
    cut = pyclipper.OpenPathsFromPolyTree(pc.Execute2(_DIFF, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO))
    return tuple(p for p in from_clipper(cut) if len(p) > 1 and float(np.hypot(*np.diff(p, axis=0).T).sum()) > w)


def support_volume_area(areas: list[SupportAreas]) -> float:
    """Total support area over all layers in mm² (a quick measure of how much support there is)."""
    return sum(area(a.body) + area(a.interface) for a in areas)
