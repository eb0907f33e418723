"""One copy's layers (sections, walls, skins, infill) over worker processes, run by run in layer order.

Each worker, forked from the slicer so it shares the placed mesh, cuts the sections of a run of layers and of the
few around it that the run's skins and bridges need (`slicing.layers.neighbours`), and finishes the run's layers.
The slicer takes the runs back in order as they come, so path ordering and G-code start on the first run while the
workers cut the next ones. A layer depends only on its own section and its neighbours', so the layers are the serial
ones, byte for byte, whatever the number of workers.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Generator
from typing import Any

import numpy as np

from slicing.layers import LayerRegions, Progress, build_layers, finish_layer, layer_walls, neighbours
from slicing.profile import Profile
from slicing.sections import slice_mesh

RUNS_PER_WORKER = 3
"""Runs handed to each worker: more runs start the ordering sooner but cut more neighbour sections twice."""
MIN_RUN = 12
"""Fewest layers in a run; a part with fewer than two runs' worth is sliced in this process."""

_TASK: tuple[Any, np.ndarray, Profile] | None = None  # (mesh, planes, profile), set before the workers fork


def default_workers() -> int:
    """Worker processes for the command line: one per core this process may use (none on one core)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # (not on every platform)
        cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


def runs(n: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous runs [start, stop) covering layers 0..n-1, about RUNS_PER_WORKER per worker, each at least
    MIN_RUN layers long."""
    count = max(1, min(workers * RUNS_PER_WORKER, n // MIN_RUN))
    edges = np.linspace(0, n, count + 1).round().astype(int).tolist()
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def run_layers(mesh: Any, planes: np.ndarray, profile: Profile, start: int, stop: int) -> list[LayerRegions]:
    """Layers start..stop-1 of the part cut at `planes`, from the sections of those layers and their neighbours."""
    n = len(planes)
    first = neighbours(start, n, profile).start
    last = neighbours(stop - 1, n, profile).stop
    regs = [layer_walls(polys, profile) for polys in slice_mesh(mesh, planes[first:last])]
    return [finish_layer(i, regs, first, n, profile) for i in range(start, stop)]


def _worker_run(bounds: tuple[int, int]) -> list[LayerRegions]:
    """One run in a worker, from the task the worker was forked with."""
    assert _TASK is not None, "layer worker started without a task"
    mesh, planes, profile = _TASK
    return run_layers(mesh, planes, profile, *bounds)


def layer_regions(mesh: Any, planes: np.ndarray, profile: Profile, workers: int = 0,
                  progress: Progress | None = None) -> Generator[LayerRegions, None, None]:
    """The layers of a part cut at `planes`, in order: over `workers` forked processes (0 or 1: in this process,
    and where fork is not available). Over workers, progress says only when the first layers are in: the
    consumer reports the layers as it takes them."""
    global _TASK
    n = len(planes)
    plan = runs(n, workers) if workers > 1 and "fork" in multiprocessing.get_all_start_methods() else []
    if progress is not None:
        progress("sections", 0, 1)
    if len(plan) < 2:
        sections = slice_mesh(mesh, planes)
        if progress is not None:
            progress("sections", 1, 1)
        yield from build_layers(sections, profile, progress)
        return
    _TASK = (mesh, planes, profile)
    if profile.overhangs or profile.gap_fill:
        import shapely  # noqa: F401  (imported once before the fork, not once in every worker)
    try:
        with multiprocessing.get_context("fork").Pool(min(workers, len(plan))) as pool:
            for k, layers in enumerate(pool.imap(_worker_run, plan)):
                if k == 0 and progress is not None:
                    progress("sections", 1, 1)
                yield from layers
    finally:
        _TASK = None
