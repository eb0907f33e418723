"""The filament an ended copy pushed, from its job plan: the extruding moves of the layers it reached (all of them
for a completed copy), of the objects it printed (a replacement prints only its own; objects dropped while it
printed are left out). Worked out once per copy and kept in `run_filament`."""
from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import Float, ForeignKey, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from controller.store.db import Store
from controller.store.models import Base


class RunFilamentRow(Base):
    """The filament (mm) one ended copy pushed."""

    __tablename__ = "run_filament"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    filament_mm: Mapped[float] = mapped_column(Float)


@lru_cache(maxsize=16)
def _extrusion_table(path: str, _mtime_ns: int, _size: int) -> tuple[tuple[str, ...], np.ndarray]:
    """(object names, (layers, objects + 1) filament mm): per layer, what each object's moves push; the last
    column is the moves of no object (a purge line, an unlabelled file)."""
    from slicing.job_plan import plan_file

    plan = plan_file(path)
    names = tuple(o.name for o in plan.objects)
    table = np.zeros((plan.layer_count, len(names) + 1), dtype=np.float64)
    for k, layer in enumerate(plan.layer_paths()):
        if layer.objects is None:
            table[k, -1] = float(np.sum(layer.extrusion))
        else:
            np.add.at(table[k], np.where(layer.objects < 0, len(names), layer.objects), layer.extrusion)
    return names, table


def executed_filament_mm(gcode_path: str, state: str, layer: int, objects: Sequence[str],
                         skipped: Sequence[str]) -> float | None:
    """The filament (mm) a copy pushed, or None when its G-code cannot be read (now)."""
    try:
        st = os.stat(gcode_path)
        names, table = _extrusion_table(gcode_path, st.st_mtime_ns, st.st_size)
    except (OSError, ValueError):
        return None
    reached = table.shape[0] if state == "completed" else max(0, min(layer + 1, table.shape[0]))
    keep = [i for i, n in enumerate(names) if (not objects or n in objects) and n not in skipped]
    return float(table[:reached, [*keep, len(names)]].sum())


def filament_of_runs(store: Store, rows: Sequence[Any]) -> dict[int, float]:
    """Run id -> filament mm of ended runs (rows with id, state, layer, objects, skipped, gcode_path), worked
    out and kept for those not yet known."""
    ids = [r.id for r in rows]
    with store.session() as s:
        known = {rid: mm for rid, mm in s.execute(select(RunFilamentRow.run_id, RunFilamentRow.filament_mm)
                                                  .where(RunFilamentRow.run_id.in_(ids)))}
    for r in rows:
        if r.id in known or not r.gcode_path:
            continue
        mm = executed_filament_mm(r.gcode_path, r.state, r.layer, r.objects or [], r.skipped or [])
        if mm is None:
            continue
        known[r.id] = mm
        try:
            with store.session() as s:
                s.add(RunFilamentRow(run_id=r.id, filament_mm=mm))
        except IntegrityError:
            pass        # another request kept the same figure first
    return known
