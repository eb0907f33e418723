"""The net filament (mm) a job plan extrudes per layer and per labelled object (a copy on the plate), with a column
for what no object owns (skirt, purge line, an unlabelled file): the one table the spool ledger, the copies'
filament figures and the statistics all read. Units: filament mm."""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from slicing.errors import SlicingError
from slicing.job_plan import JobPlan, plan_file

__all__ = ["PlanFilament", "plan_filament", "read_plan_filament", "try_plan_filament"]


@dataclass(frozen=True)
class PlanFilament:
    """A plan's filament per layer and object.

    objects: the plan's object names, in the plan's order.
    by_layer: (L, len(objects) + 1) filament mm; column i is object i, the last column what no object owns.
    layer_done_at: (L,) command index before which layer k is finished (the plan's check points).
    """

    objects: tuple[str, ...]
    by_layer: np.ndarray
    layer_done_at: np.ndarray

    @property
    def layer_count(self) -> int:
        """Number of layers."""
        return int(self.by_layer.shape[0])

    def by_object(self) -> np.ndarray:
        """(len(objects) + 1,) filament mm of each object over every layer, the last what no object owns."""
        return self.by_layer.sum(axis=0)

    def layers_done(self, command: int) -> int:
        """How many layers are finished by command index `command` (those whose check point is at or before it)."""
        return int(np.searchsorted(self.layer_done_at, command, "right"))

    def used_mm(self, layers: int | None = None, objects: Iterable[str] = (), skipped: Iterable[str] = ()) -> float:
        """Filament of the first `layers` layers (all when None) of `objects` (all when none) less `skipped`,
        always with what no object owns."""
        only, dropped = set(objects), set(skipped)
        cols = [i for i, n in enumerate(self.objects) if (not only or n in only) and n not in dropped]
        done = self.layer_count if layers is None else max(0, min(layers, self.layer_count))
        return float(self.by_layer[:done, [*cols, len(self.objects)]].sum())


def plan_filament(job_plan: JobPlan) -> PlanFilament:
    """The filament table of a job plan (one bincount over every layer's extruding segments)."""
    n = len(job_plan.objects)
    width = n + 1
    amounts: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    for k, layer in enumerate(job_plan.layers):
        owner = layer.paths.objects
        col = np.full(layer.paths.extrusion.shape[0], n, dtype=np.int64) if owner is None \
            else np.where(owner >= 0, owner, n).astype(np.int64)
        amounts.append(layer.paths.extrusion)
        cells.append(col + k * width)
    size = job_plan.layer_count * width
    flat = np.bincount(np.concatenate(cells), weights=np.concatenate(amounts), minlength=size)[:size] \
        if cells else np.zeros(0, dtype=np.float64)
    table = flat.reshape(job_plan.layer_count, width)
    done_at = np.asarray([cp.command for cp in job_plan.check_points()], dtype=np.int64)
    table.setflags(write=False)     # shared by every reader of the cached file
    done_at.setflags(write=False)
    return PlanFilament(tuple(o.name for o in job_plan.objects), table, done_at)


@lru_cache(maxsize=32)
def _read(path: str, _mtime_ns: int, _size: int) -> PlanFilament:
    """Read a file's plan once per version of the file."""
    return plan_filament(plan_file(path))


def read_plan_filament(path: str | os.PathLike[str]) -> PlanFilament:
    """The filament table of the G-code file at `path`, re-read only when the file changes; OSError when it is
    gone, SlicingError (GcodeReadError) when it cannot be read as G-code."""
    name = os.fspath(path)
    st = os.stat(name)
    return _read(name, st.st_mtime_ns, st.st_size)


def try_plan_filament(path: str | os.PathLike[str]) -> PlanFilament | None:
    """`read_plan_filament`, or None when the file is gone or cannot be read as G-code."""
    try:
        return read_plan_filament(path)
    except (OSError, ValueError, SlicingError):
        return None
