"""The slicer's top level: mesh file → placed copies → sections → regions → ordered paths → Marlin G-code."""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from slicing.errors import MeshError
from slicing.estimate import MotionLimits, estimate_time
from slicing.gcode_writer import LayerPlan, header, write_program
from slicing.labels import object_names
from slicing.layer_pool import layer_regions
from slicing.layers import LayerRegions, Progress
from slicing.mesh import LoadedMesh, load_mesh, place_on_bed
from slicing.planner import iter_plans, plan_layers
from slicing.profile import Profile, load_profile
from slicing.sections import layer_tops, mid_planes
from slicing.support import plan_supports
from slicing.toolpath import Feature

T = TypeVar("T")


@dataclass(frozen=True)
class SliceResult:
    """G-code text and the figures a technician and the job queue want about it."""

    gcode: str
    layer_count: int
    filament_mm: float
    filament_g: float
    estimated_time_s: float
    copies: int
    warnings: tuple[str, ...]
    bounds: tuple[float, float, float, float, float, float]


def motion_limits(profile: Profile) -> MotionLimits:
    """The estimator's machine limits from the profile."""
    return MotionLimits(
        max_feedrate=(profile.max_feedrate_x, profile.max_feedrate_y, profile.max_feedrate_z, profile.max_feedrate_e),
        acceleration=profile.acceleration,
        travel_acceleration=profile.travel_acceleration,
        retract_acceleration=profile.retract_acceleration,
        max_acceleration=(profile.max_acceleration_x, profile.max_acceleration_y, profile.max_acceleration_z,
                          profile.max_acceleration_e),
        jerk=(profile.jerk_xy, profile.jerk_xy, profile.jerk_z, profile.jerk_e),
    )


def slice_file(path: str | os.PathLike[str], profile: Profile | None = None, copies: int = 1,
               progress: Progress | None = None, workers: int = 0) -> SliceResult:
    """Load a mesh file and slice it (default profile when none is given), over `workers` processes (0: in this
    one; a threaded server keeps 0, as forking it is not safe)."""
    if progress is not None:
        progress("load", 0, 1)
    loaded = load_mesh(path)
    if progress is not None:
        progress("load", 1, 1)
    return slice_mesh_to_gcode(loaded, profile if profile is not None else load_profile(), copies, progress, workers)


def copy_shifts(footprint: np.ndarray, copies: int, profile: Profile) -> np.ndarray:
    """(copies, 2) XY shifts from the bed centre for each copy; MeshError when they do not fit."""
    if copies < 1:
        raise MeshError(f"copies must be at least 1 (got {copies})")
    if copies == 1:
        return np.zeros((1, 2))
    from slicing.plate import arrange

    footprint_xy = (float(footprint[0]), float(footprint[1]))
    centres = np.asarray(arrange(footprint_xy, copies, (profile.bed_x, profile.bed_y)), dtype=np.float64)
    return centres - np.array([profile.bed_x / 2.0, profile.bed_y / 2.0])


def _kept(items: Iterator[T], into: list[T]) -> Iterator[T]:
    """The items (layers, plans) as they come, each also kept in `into` (for the warnings once all are made)."""
    for item in items:
        into.append(item)
        yield item


def _as_layers(progress: Progress | None) -> Progress | None:
    """The G-code writer's progress reported as the layers' (planned and written as they come)."""
    if progress is None:
        return None
    report = progress
    return lambda stage, done, total: report("layers", done, total)


def slice_mesh_to_gcode(loaded: LoadedMesh, profile: Profile, copies: int = 1,
                        progress: Progress | None = None, workers: int = 0) -> SliceResult:
    """Slice one copy, translate its toolpaths for each copy, print all copies layer by layer together; the
    layers' regions over `workers` processes (slicing/layer_pool.py; 0: in this process)."""
    mesh = place_on_bed(loaded.mesh, (profile.bed_x, profile.bed_y, profile.bed_z))
    lo, hi = mesh.bounds
    sequential = profile.sequential and copies > 1
    if sequential:
        from slicing.sequential import check_clearance, footprint_hull, sequential_shifts

        size = np.asarray(hi[:2] - lo[:2])
        shifts = sequential_shifts((float(size[0]), float(size[1])), float(hi[2] - lo[2]), copies, profile)
        check_clearance(footprint_hull(mesh.vertices), shifts, profile)
    else:
        shifts = copy_shifts(np.asarray(hi[:2] - lo[:2]), copies, profile)
    tops = layer_tops(float(hi[2] - lo[2]), profile.first_layer_height, profile.layer_height)
    if len(tops) == 0:
        raise MeshError(f"{loaded.name} is lower than half the first layer ({profile.first_layer_height:g} mm)")
    stream = layer_regions(mesh, mid_planes(tops), profile, workers, progress)
    names = object_names(Path(loaded.name).stem, copies)
    layers: list[LayerRegions] = []
    plans: list[LayerPlan]
    lifts: frozenset[int] = frozenset()
    try:
        if sequential or profile.support != "off":  # (both look at every layer before the first is planned)
            layers.extend(stream)
            supports = plan_supports(layers, tops, profile)
            if sequential:
                from slicing.sequential import sequential_plans

                plans, lifts = sequential_plans(layers, tops, shifts, profile, progress, supports)
            else:
                plans = plan_layers(layers, tops, shifts, profile, progress, supports=supports)
            program = write_program(plans, profile, progress, objects=copies, names=names, lift_before=lifts)
        elif workers > 1:  # each layer planned and written as it comes from the workers
            plans = []
            made = iter_plans(_kept(stream, layers), tops, shifts, profile)
            program = write_program(_kept(made, plans), profile, _as_layers(progress), objects=copies, names=names,
                                    count=len(tops))
        else:
            plans = plan_layers(_kept(stream, layers), tops, shifts, profile, progress)
            program = write_program(plans, profile, progress, objects=copies, names=names)
    finally:
        stream.close()
    seconds = float(estimate_time(program.moves, motion_limits(profile)))
    grams = program.filament_mm * profile.filament_area * profile.filament_density / 1000.0
    warnings = list(loaded.warnings)
    thin = [(i, layer.thin_area) for i, layer in enumerate(layers) if layer.thin_area > profile.line_width ** 2]
    if thin:
        total = sum(a for _, a in thin)
        warnings.append(
            f"{len(thin)} layers have parts narrower than the {profile.line_width:g} mm line width "
            f"({total:.1f} mm² not printed, first at layer {thin[0][0]})"
        )
    if plans:
        first = set(plans[0].features.tolist())
        if profile.skirt_loops > 0 and Feature.SKIRT not in first:
            warnings.append("skirt left out: it would not fit on the bed around the part")
        if profile.brim_width > 0 and Feature.BRIM not in first:
            warnings.append("brim left out: it would not fit on the bed around the part")
    empty = sum(1 for layer in layers if not layer.islands)
    if empty:
        warnings.append(f"{empty} layers have no printable area")
    text = header(profile, seconds, program.filament_mm, grams, len(plans), program.bounds) + program.body
    return SliceResult(
        gcode=text,
        layer_count=len(plans),
        filament_mm=program.filament_mm,
        filament_g=grams,
        estimated_time_s=seconds,
        copies=copies,
        warnings=tuple(warnings),
        bounds=program.bounds,
    )
