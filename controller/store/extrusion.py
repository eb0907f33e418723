"""The filament an ended copy pushed, from its job plan: the extruding moves of the layers it reached (all of them
for a completed copy), of the objects it printed (a replacement prints only its own; objects dropped while it
printed are left out). Worked out once per copy and kept in `run_filament`."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Float, ForeignKey, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from controller.store.db import Store
from controller.store.models import Base
from slicing.plan_filament import try_plan_filament


class RunFilamentRow(Base):
    """The filament (mm) one ended copy pushed."""

    __tablename__ = "run_filament"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    filament_mm: Mapped[float] = mapped_column(Float)


def executed_filament_mm(gcode_path: str, state: str, layer: int, objects: Sequence[str],
                         skipped: Sequence[str]) -> float | None:
    """The filament (mm) a copy pushed, or None when its G-code cannot be read (now)."""
    table = try_plan_filament(gcode_path)
    if table is None:
        return None
    return table.used_mm(None if state == "completed" else layer + 1, objects, skipped)


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
