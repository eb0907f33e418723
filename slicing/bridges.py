"""Bridges: areas of a layer over air held at two or more separate places by the layer below.

A bridge is printed as straight lines from anchor to anchor, in the direction joining its two largest anchors
(the shortest way across a span between two pillars), with the profile's bridge flow and speed; supports leave
bridgeable areas alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyclipper

from slicing.infill import line_fill_indexed
from slicing.regions import SCALE, IntPaths, area, boolean, components, offset, pyclipper_union

_DIFF, _AND = pyclipper.CT_DIFFERENCE, pyclipper.CT_INTERSECTION


@dataclass(frozen=True)
class Bridge:
    """One bridgeable area (clipper paths) and the angle (degrees) its lines run at."""

    region: IntPaths
    angle: float


def _centroid(paths: IntPaths) -> np.ndarray:
    """Area-weighted centroid (mm) of a piece's outer contour."""
    p = np.asarray(paths[0], dtype=np.float64) / SCALE
    q = np.roll(p, -1, axis=0)
    cross = p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]
    a = cross.sum() / 2.0
    if abs(a) < 1e-12:
        return p.mean(axis=0)
    return np.array([((p[:, 0] + q[:, 0]) * cross).sum(), ((p[:, 1] + q[:, 1]) * cross).sum()]) / (6.0 * a)


def find_bridges(over_air: IntPaths, below: IntPaths, line_width: float, min_area: float = 0.0) -> list[Bridge]:
    """The pieces of `over_air` that rest on `below` at two or more separate places, each with its line angle."""
    out: list[Bridge] = []
    if not over_air or not below:
        return out
    for piece in components(over_air):
        if area(piece) < min_area:
            continue
        anchors = components(boolean(offset(piece, 2.0 * line_width), below, _AND))
        anchors = [a for a in anchors if area(a) >= line_width * line_width]
        if len(anchors) < 2:
            continue
        anchors.sort(key=area, reverse=True)
        d = _centroid(anchors[1]) - _centroid(anchors[0])
        out.append(Bridge(piece, math.degrees(math.atan2(d[1], d[0]))))
    return out


def bridgeable(over_air: IntPaths, below: IntPaths, line_width: float) -> IntPaths:
    """The union of the bridgeable pieces of `over_air` (what needs no support under it)."""
    return pyclipper_union([p for b in find_bridges(over_air, below, line_width) for p in b.region])


def split_bridges(solid: IntPaths, below: IntPaths, line_width: float) -> tuple[list[Bridge], IntPaths]:
    """Split a layer's solid area into bridges (reaching a line width onto their anchors) and the rest."""
    if not solid or not below:
        return [], solid
    air = boolean(solid, offset(below, -0.5 * line_width), _DIFF)
    bridges = find_bridges(air, below, line_width, min_area=4.0 * line_width * line_width)
    if not bridges:
        return [], solid
    grown = [Bridge(boolean(offset(b.region, line_width), solid, _AND), b.angle) for b in bridges]
    rest = boolean(solid, pyclipper_union([p for b in grown for p in b.region]), _DIFF)
    return grown, rest


_GROUP = 1 << 40  # scanline ids of different bridges are this far apart


def bridge_lines_of(solid: IntPaths, below: IntPaths, line_width: float) -> tuple[IntPaths, np.ndarray, np.ndarray]:
    """The solid area left for skin, and the bridge lines (N, 2, 2) with their scanline ids."""
    bridges, rest = split_bridges(solid, below, line_width)
    if not bridges:
        return solid, np.zeros((0, 2, 2)), np.zeros(0, dtype=np.int64)
    segs, ids = [], []
    for k, b in enumerate(bridges):
        s, i = line_fill_indexed(b.region, line_width, (b.angle,), min_length=line_width)
        segs.append(s)
        ids.append(i + k * _GROUP)
    return rest, np.concatenate(segs), np.concatenate(ids)
