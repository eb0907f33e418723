"""Sequential printing (`sequential = true`): the copies of a plate printed one after another, each all its layers
before the next, as PrusaSlicer's complete_objects does.

The head must not hit a finished copy: while printing a copy the gantry (the X carriage, `extruder_clearance_height`
above the nozzle tip) passes over every copy printed before, so those may be no taller than that; and the print
head (`extruder_clearance_radius` around the nozzle) reaches that far beside the copy it prints, so copies stand at
least that far apart (PrusaSlicer checks the same: every copy's convex hull grown by half the radius is apart from
the others'). The copies are arranged that far apart; what cannot be is refused with a SequentialError. Units: mm.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import shapely

from slicing.errors import MeshError, SequentialError
from slicing.gcode_writer import LayerPlan
from slicing.layers import LayerRegions
from slicing.planner import plan_layers
from slicing.plate import arrange
from slicing.profile import Profile
from slicing.support import SupportPaths


def sequential_shifts(footprint: tuple[float, float], height: float, copies: int, profile: Profile) -> np.ndarray:
    """(copies, 2) XY shifts from the bed centre, the copies at least extruder_clearance_radius apart; a
    SequentialError when a copy is too tall for the gantry or they cannot stand that far apart on the bed."""
    if copies > 1 and height > profile.extruder_clearance_height + 1e-9:
        raise SequentialError(
            f"sequential printing refused: the part is {height:.1f} mm tall, taller than extruder_clearance_height "
            f"= {profile.extruder_clearance_height:g} mm, so the gantry would hit the finished copies; print the "
            f"copies together (sequential = false) or one at a time")
    gap = max(5.0, profile.extruder_clearance_radius)
    try:
        centres = arrange(footprint, copies, (profile.bed_x, profile.bed_y), gap=gap)
    except MeshError as exc:
        raise SequentialError(
            f"sequential printing refused: {copies} copies cannot stand extruder_clearance_radius = "
            f"{profile.extruder_clearance_radius:g} mm apart on the bed ({exc}); print fewer copies, or together "
            f"(sequential = false)") from None
    return np.asarray(centres, dtype=np.float64) - np.array([profile.bed_x / 2.0, profile.bed_y / 2.0])


def check_clearance(hull: np.ndarray, shifts: np.ndarray, profile: Profile) -> None:
    """SequentialError naming the two copies when any two (the (H, 2) hull of one copy moved by each of the
    (C, 2) shifts) stand closer than extruder_clearance_radius."""
    if len(shifts) < 2:
        return
    polys = shapely.polygons([hull + t for t in shifts])
    a, b = np.triu_indices(len(shifts), 1)
    gaps = shapely.distance(polys[a], polys[b])
    k = int(np.argmin(gaps))
    if gaps[k] < profile.extruder_clearance_radius - 1e-6:
        raise SequentialError(
            f"sequential printing refused: copies {a[k]} and {b[k]} stand {gaps[k]:.1f} mm apart, closer than "
            f"extruder_clearance_radius = {profile.extruder_clearance_radius:g} mm, so the head would hit the "
            f"first while printing the second")


def footprint_hull(vertices: np.ndarray) -> np.ndarray:
    """(H, 2) convex hull of a placed mesh's vertices seen from above."""
    hull = shapely.MultiPoint(np.asarray(vertices, dtype=np.float64)[:, :2]).convex_hull
    return np.asarray(hull.exterior.coords)[:-1] if isinstance(hull, shapely.Polygon) else np.zeros((0, 2))


def sequential_plans(layers: list[LayerRegions], tops: np.ndarray, shifts: np.ndarray, profile: Profile,
                     progress: Callable[[str, int, int], None] | None = None,
                     supports: list[SupportPaths] | None = None) -> tuple[list[LayerPlan], frozenset[int]]:
    """Every copy's layers, copy after copy (each with its own skirt and brim, its paths labelled with its
    number), and the positions in that list where a copy after the first begins (where the head is lifted)."""
    plans: list[LayerPlan] = []
    starts: set[int] = set()
    for c in range(len(shifts)):
        if c:
            starts.add(len(plans))
        for p in plan_layers(layers, tops, shifts[c:c + 1], profile, progress, supports):
            owner = np.asarray(p.objects, dtype=np.int64)
            plans.append(replace(p, objects=np.where(owner >= 0, c, owner)))
    return plans, frozenset(starts)
