"""How much of a G-code file's part extrusion hangs over air, read back through the job plan (any slicer's file).

A point of a part line (walls, skin, fill; not support, skirt or brim) is held when some material of the layers
below (part or support, up to `z_reach` mm down: the layer below and a support's Z gap) lies within half a line
width plus the overhang allowance of it: the line's centre is within `line_width`/2 + `allowance` of the centre
line of something printed below (0.3 mm for a 0.4 mm line: a wall may step out by 56° from vertical at 0.2 mm
layers); the first layer is on the bed. Gaps in the material below narrower than
2·`close` mm (between sparse infill or support lattice lines, which a skin or an interface spans by design in
every slicer) count as held: the material below is closed morphologically by `close` mm. Lines are sampled every `step` mm, with numpy and shapely's vectorised predicates.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from slicing.toolpath import Feature, GcodeJob

SUPPORT_FEATURES = (Feature.SUPPORT, Feature.SUPPORT_INTERFACE)
_NOT_PART = (Feature.SUPPORT, Feature.SUPPORT_INTERFACE, Feature.SKIRT, Feature.BRIM)


@dataclass(frozen=True)
class HangReport:
    """Per layer, the length (mm) of part lines with nothing under them; and the support's filament (mm)."""

    unsupported_mm: np.ndarray
    part_mm: np.ndarray
    support_filament_mm: float
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # (K, 4) x, y, z and line mm of each
    # sample over air

    @property
    def total_unsupported_mm(self) -> float:
        """Part line length over air, summed over the layers."""
        return float(self.unsupported_mm.sum())


def _samples(segments: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every `step` mm along each (x0, y0, x1, y1) segment, and the length each point stands for."""
    d = segments[:, 2:4] - segments[:, 0:2]
    length = np.hypot(d[:, 0], d[:, 1])
    n = np.maximum(np.ceil(length / step).astype(np.int64), 1)
    seg = np.repeat(np.arange(len(segments)), n)
    first = np.repeat(np.cumsum(n) - n, n)
    t = (np.arange(int(n.sum())) - first + 0.5) / n[seg]
    pts = segments[seg, 0:2] + t[:, None] * d[seg]
    return pts, (length / n)[seg]


def hang_report(job: GcodeJob, line_width: float = 0.4, allowance: float = 0.1, step: float = 0.2,
                z_reach: float = 0.45, close: float = 1.0) -> HangReport:
    """Measure every layer of a read-back job: part line length with no material below within reach."""
    layers = [lay for lay in job.layers if len(lay.segments)]
    unsupported = np.zeros(len(layers))
    part = np.zeros(len(layers))
    support = 0.0
    reach = 0.5 * line_width + allowance
    shapes: list[tuple[float, shapely.Geometry]] = []
    over_air: list[np.ndarray] = []
    for i, lay in enumerate(layers):
        feats = lay.feature
        support += float(lay.extrusion[np.isin(feats, SUPPORT_FEATURES)].sum())
        mine = lay.segments[~np.isin(feats, _NOT_PART)]
        if len(mine):
            pts, weight = _samples(mine, step)
            part[i] = weight.sum()
            if i > 0:
                held = np.zeros(len(pts), dtype=bool)
                for z, shape in shapes:
                    if z >= lay.z - z_reach - 1e-6:
                        held |= shapely.contains_xy(shape, pts[:, 0], pts[:, 1])
                unsupported[i] = weight[~held].sum()
                if not held.all():
                    loose = pts[~held]
                    over_air.append(np.column_stack([loose, np.full(len(loose), lay.z), weight[~held]]))
        segs = lay.segments.reshape(-1, 2, 2)
        below = shapely.buffer(shapely.buffer(shapely.multilinestrings(segs), reach + close, quad_segs=2), -close)
        shapely.prepare(below)
        shapes = [(z, s) for z, s in shapes if z >= lay.z - z_reach - 1e-6] + [(lay.z, below)]
    return HangReport(unsupported, part, support, np.concatenate(over_air) if over_air else np.zeros((0, 4)))
