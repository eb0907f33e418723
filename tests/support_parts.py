"""Parts that need support, built with trimesh (tests and bench/supports_vs_peers.py slice them)."""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import trimesh


def _box(size: tuple[float, float, float], at: tuple[float, float, float]) -> trimesh.Trimesh:
    """A box of `size` whose lowest corner is at `at`."""
    b = trimesh.creation.box(size)
    b.apply_translation(np.asarray(at) + np.asarray(size) / 2.0)
    return b


def _union(*parts: trimesh.Trimesh) -> trimesh.Trimesh:
    """One watertight mesh of the parts (manifold3d boolean)."""
    return trimesh.boolean.union(list(parts))


def _wedge(angle_deg: float, height: float = 10.0) -> trimesh.Trimesh:
    """A 10 mm block whose one side leans out at angle_deg from vertical up to `height` (a chamfer-like overhang)."""
    reach = height * math.tan(math.radians(angle_deg))
    pts = [(0, 0, 0), (10, 0, 0), (10, 10, 0), (0, 10, 0),
           (0, 0, height), (10 + reach, 0, height), (10 + reach, 10, height), (0, 10, height)]
    return trimesh.convex.convex_hull(np.asarray(pts, dtype=float))


def _cylinder(radius: float, height: float, at: tuple[float, float, float]) -> trimesh.Trimesh:
    """An upright cylinder standing at `at`."""
    c = trimesh.creation.cylinder(radius=radius, height=height, sections=64)
    c.apply_translation((at[0], at[1], at[2] + height / 2.0))
    return c


def shelf() -> trimesh.Trimesh:
    """A post with a 20 mm shelf sticking out at its top: a 90° overhang."""
    return _union(_box((10, 10, 20), (0, 0, 0)), _box((20, 10, 4), (10, 0, 16)))


def mushroom() -> trimesh.Trimesh:
    """A 20 mm cap on a 6 mm stem."""
    return _union(_cylinder(3.0, 12.0, (0, 0, 0)), _cylinder(10.0, 4.0, (0, 0, 11.0)))


def lying_cylinder() -> trimesh.Trimesh:
    """A 16 mm cylinder lying on its side (its underside overhangs ever more towards the bed)."""
    c = trimesh.creation.cylinder(radius=8.0, height=20.0, sections=64)
    c.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, (0, 1, 0)))
    return c


def bridge() -> trimesh.Trimesh:
    """Two 10 mm pillars 30 mm apart joined by a 3 mm deck on top."""
    return _union(_box((5, 10, 10), (0, 0, 0)), _box((5, 10, 10), (35, 0, 0)), _box((40, 10, 3), (0, 0, 10)))


def chamfer60() -> trimesh.Trimesh:
    """A side leaning out 60° from vertical."""
    return _wedge(60.0)


def chamfer40() -> trimesh.Trimesh:
    """A side leaning out 40° from vertical (printable without support)."""
    return _wedge(40.0)


def table() -> trimesh.Trimesh:
    """A 30 mm plate on a stem above a 30 mm base: its underside is over the base, not over the bed."""
    return _union(_box((30, 30, 3), (0, 0, 0)), _box((6, 6, 10), (12, 12, 3)), _box((30, 30, 3), (0, 0, 13)))


def bracket() -> trimesh.Trimesh:
    """An L bracket: a 40 × 20 × 4 mm foot with two Ø5 screw holes, a 5 mm upright 30 mm tall with a Ø8 hole lying on
    its side, and a 12 mm lip sticking out at its top over the foot."""
    body = _union(_box((40, 20, 4), (0, 0, 0)), _box((5, 20, 30), (0, 0, 0)), _box((17, 20, 3), (0, 0, 27)))
    holes = [_cylinder(2.5, 6.0, (x, 10.0, -1.0)) for x in (17.0, 32.0)]
    side = trimesh.creation.cylinder(radius=4.0, height=8.0, sections=48)
    side.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, (0, 1, 0)))
    side.apply_translation((2.5, 10.0, 17.0))
    return trimesh.boolean.difference([body, *holes, side])


PARTS: dict[str, Callable[[], trimesh.Trimesh]] = {
    "shelf": shelf, "mushroom": mushroom, "lying_cylinder": lying_cylinder, "bridge": bridge,
    "chamfer60": chamfer60, "chamfer40": chamfer40, "table": table, "bracket": bracket,
}
