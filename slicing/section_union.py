"""Per-layer union of section loops in clipper: clean, strictly simple outers (CCW) and holes (CW).

Units: millimetres; clipper works on integers at _SCALE units per mm.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain

import numpy as np
import pyclipper

_SCALE = 1e6  # clipper integer units per mm
COLLINEAR_MM = 1e-3  # points closer than this to the line of their neighbours are dropped
_MIN_AREA_MM2 = 1e-6  # polygons smaller than this are slivers


def union_layers(loops: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Non-zero union of each layer's loops: outers CCW, holes CW, strictly simple, no slivers, and no points
    within COLLINEAR_MM of the line through their neighbours (clipper's CleanPolygons, before the union).

    Conversion to and from clipper's integer lists is done once for all layers (it costs more than the
    union itself when done polygon by polygon), with the cyclic garbage collector paused meanwhile: the many
    small point lists hold no cycles, and collections triggered by them would scan every live object.
    """
    with _gc_paused():
        return _union_layers(loops)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (if it runs) for a burst of acyclic allocations."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _union_layers(loops: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Body of `union_layers`."""
    counts = [len(layer) for layer in loops]
    flat_loops = [loop for layer in loops for loop in layer]
    if not flat_loops:
        return [[] for _ in loops]
    sizes = [len(loop) for loop in flat_loops]
    ints = np.rint(np.concatenate(flat_loops) * _SCALE).astype(np.int64).tolist()
    ends = np.cumsum(sizes).tolist()
    results: list[list[list[list[int]]]] = []
    k = 0
    for count in counts:
        paths = [ints[ends[i] - sizes[i] : ends[i]] for i in range(k, k + count)]
        k += count
        cleaned = pyclipper.CleanPolygons(paths, COLLINEAR_MM * _SCALE) if paths else []
        results.append(_union([path for path in cleaned if len(path) >= 3]))
    return _to_arrays(results)


def _union(paths: list[list[list[int]]]) -> list[list[list[int]]]:
    """Clipper non-zero union of integer paths (strictly simple output); empty when nothing valid is given."""
    if not paths:
        return []
    clipper = pyclipper.Pyclipper()
    clipper.StrictlySimple = True
    for path in paths:
        try:
            clipper.AddPath(path, pyclipper.PT_SUBJECT, True)
        except pyclipper.ClipperException:  # a degenerate path (all points collinear)
            continue
    try:
        return clipper.Execute(pyclipper.CT_UNION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)
    except pyclipper.ClipperException:  # nothing valid was added
        return []


def _to_arrays(results: list[list[list[list[int]]]]) -> list[list[np.ndarray]]:
    """Clipper integer paths of every layer to (M, 2) float arrays in mm, dropping slivers, in one pass."""
    paths = [path for layer in results for path in layer]
    out: list[list[np.ndarray]] = [[] for _ in results]
    if not paths:
        return out
    sizes = np.array([len(path) for path in paths])
    n = int(sizes.sum())
    ints = np.fromiter(chain.from_iterable(chain.from_iterable(paths)), dtype=np.int64, count=2 * n)
    xy = ints.reshape(-1, 2) / _SCALE
    areas = _loop_areas(xy, sizes)
    starts = (np.cumsum(sizes) - sizes).tolist()
    keep = ((sizes >= 3) & (np.abs(areas) >= _MIN_AREA_MM2)).tolist()
    size_list = sizes.tolist()
    i = 0
    for layer_index, layer in enumerate(results):
        for _ in layer:
            if keep[i]:
                out[layer_index].append(xy[starts[i] : starts[i] + size_list[i]])
            i += 1
    return out


def _loop_areas(xy: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Signed area of each of the closed loops stored back to back in `xy` (`sizes` points each)."""
    x, y = xy[:, 0], xy[:, 1]
    nxt = np.arange(1, len(x) + 1)
    ends = np.cumsum(sizes)
    nxt[ends - 1] = ends - sizes
    terms = x * y[nxt] - x[nxt] * y
    return 0.5 * np.add.reduceat(terms, ends - sizes)


def polygon_area(poly: np.ndarray) -> float:
    """Signed area of a closed polygon given without its repeated first point (positive when CCW)."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
