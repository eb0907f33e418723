"""The rows statistics are computed from: every copy (run) with its job, submitter, disposition and the filament
it used (read from its G-code through the job plan), and every printer state change, between two times."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from controller.store.db import Store
from controller.store.disposition import DispositionRow
from controller.store.models import EventRow, JobRow, PrinterRow, RunRow
from controller.store.spools import LocalSpools
from controller.store.stats import NO_USER, Filament, RunFacts, StateChange
from controller.store.users import JobSubmitterRow
from slicing.plan_filament import try_plan_filament

ROTATION = {"out_of_rotation": "out", "back_in_rotation": "back"}


def spool_filaments(store: Store) -> dict[int, Filament]:
    """Spool id -> its filament (material, diameter, density, price) for the spools in printloop's own store."""
    return {sp.id: Filament(sp.material, sp.diameter, sp.density, sp.cost_per_kg)
            for sp in LocalSpools(store).list()}


def filament_of(run: RunRow, default: Filament, spools: dict[int, Filament]) -> Filament:
    """The filament a copy was printed with, whose price makes its material cost: the spool it printed from when
    printloop's store knows it, else the config's default filament ([costs])."""
    known = spools.get(run.spool_id) if run.spool_id is not None else None
    return known if known is not None else default


def used_mm(run: RunRow, gcode_path: str | None) -> float | None:
    """Net E length a copy used: its whole plan (of its objects) when completed, else through its last printed
    layer; None when its G-code cannot be read."""
    usage = try_plan_filament(gcode_path) if gcode_path else None
    if usage is None:
        return None
    if run.state == "completed":
        return usage.used_mm(None, run.objects or ())
    last = max(run.layer, run.failed_layer if run.failed_layer is not None else -1)
    return usage.used_mm(last + 1, run.objects or ())


def dispositions(s: Session) -> dict[int, str]:
    """Run id -> the operator's latest decision on the copy (accepted or rejected), from the dispositions table."""
    q = select(DispositionRow.run_id, DispositionRow.decision).order_by(DispositionRow.id)
    return {r: d for r, d in s.execute(q)}


def load_runs(store: Store, t0: float, t1: float, default: Filament) -> list[RunFacts]:
    """Every copy started in [t0, t1), or queued then and never started, oldest first."""
    filaments = spool_filaments(store)
    with store.session() as s:
        names = {i: n for i, n in s.execute(select(PrinterRow.id, PrinterRow.name))}
        users = {j: u for j, u in s.execute(select(JobSubmitterRow.job_id, JobSubmitterRow.user))}
        verdicts = dispositions(s)
        q = (select(RunRow, JobRow).join(JobRow, JobRow.id == RunRow.job_id)
             .where(or_(RunRow.started_at.between(t0, t1), RunRow.started_at.is_(None)
                        & RunRow.created_at.between(t0, t1)))
             .order_by(RunRow.id))
        out = []
        for run, job in s.execute(q):
            if (run.started_at if run.started_at is not None else run.created_at) >= t1:
                continue   # between() includes t1
            out.append(RunFacts(
                run.id, run.job_id, job.name, run.copy_index, names.get(run.printer_id) if run.printer_id else None,
                users.get(run.job_id, NO_USER), run.state, verdicts.get(run.id) == "rejected", run.created_at,
                run.started_at, run.finished_at, run.layer, run.failed_layer, used_mm(run, job.gcode_path),
                filament_of(run, default, filaments)))
        return out


def load_states(store: Store, t1: float) -> tuple[list[StateChange], dict[str, float]]:
    """Every printer state change and rotation change before t1 (the states before a period set its start), and
    when each printer was added."""
    with store.session() as s:
        since = {n: t for n, t in s.execute(select(PrinterRow.name, PrinterRow.created_at))}
        q = (select(EventRow.printer, EventRow.t, EventRow.kind, EventRow.data)
             .where(EventRow.kind.in_(("printer", *ROTATION)), EventRow.printer.is_not(None), EventRow.t < t1)
             .order_by(EventRow.t, EventRow.id))
        changes = []
        for printer, t, kind, data in s.execute(q):
            state = ROTATION.get(kind) or (data or {}).get("state")
            if state:
                changes.append(StateChange(printer, t, str(state)))
        return changes, since


def history_start(store: Store) -> float:
    """The time of the oldest event or copy (0.0 for an empty history): where "all history" begins."""
    with store.session() as s:
        times = [s.scalar(select(func.min(EventRow.t))), s.scalar(select(func.min(RunRow.created_at)))]
        return min((float(t) for t in times if t is not None), default=0.0)
