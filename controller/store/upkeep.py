"""A printer's wear since its last service, from the runs it printed, and the log of services done (task, note,
by whom, when). Print hours are each copy's start to end less the time it was paused; filament metres what each
copy pushed (see `controller.store.extrusion`); a copy counts once it has ended."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Float, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from controller.store.db import Store
from controller.store.extrusion import filament_of_runs
from controller.store.models import Base, EventRow, JobRow, PrinterRow, RunRow
from controller.store.records import RUN_FINAL, Record

COUNTERS = ("hours", "metres", "jobs", "failures")
PAUSES, RESUMES = ("pause", "paused"), ("resume", "resumed")   # history kinds: requested, and the printer's own


class ServiceLogRow(Base):
    """One maintenance task done on a printer."""

    __tablename__ = "maintenance_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    printer: Mapped[str] = mapped_column(String(64), index=True)
    task: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(128))
    t: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class ServiceEntry(Record):
    """A service done: which task on which printer, what was noted, by whom, when."""

    id: int
    printer: str
    task: str
    note: str
    by: str
    t: float


@dataclass(frozen=True)
class RunUse:
    """What one ended copy took out of its printer: when it ended, seconds printing, filament mm, a failure?"""

    finished_at: float
    seconds: float
    filament_mm: float
    failed: bool


@dataclass(frozen=True)
class Usage(Record):
    """A printer's counters since `since` (None: since it was first used)."""

    since: float | None
    hours: float
    metres: float
    jobs: int
    failures: int

    def value(self, counter: str) -> float:
        """One counter by name (hours, metres, jobs, failures)."""
        return float(getattr(self, counter))


def tally(uses: Iterable[RunUse], since: float | None) -> Usage:
    """Add up the copies that ended after `since`."""
    chosen = [u for u in uses if since is None or u.finished_at > since]
    return Usage(since, sum(u.seconds for u in chosen) / 3600.0, sum(u.filament_mm for u in chosen) / 1000.0,
                 len(chosen), sum(1 for u in chosen if u.failed))


def run_uses(store: Store, printer: str, since: float | None = None) -> list[RunUse]:
    """Every copy that ran on the printer and ended after `since`, oldest first."""
    with store.session() as s:
        q = (select(RunRow.id, RunRow.state, RunRow.started_at, RunRow.finished_at, RunRow.layer, RunRow.objects,
                    RunRow.skipped, JobRow.gcode_path)
             .join(PrinterRow, RunRow.printer_id == PrinterRow.id).join(JobRow, RunRow.job_id == JobRow.id)
             .where(PrinterRow.name == printer, RunRow.state.in_(RUN_FINAL), RunRow.started_at.is_not(None),
                    RunRow.finished_at.is_not(None)).order_by(RunRow.finished_at, RunRow.id))
        if since is not None:
            q = q.where(RunRow.finished_at > since)
        rows = s.execute(q).all()
    filament = filament_of_runs(store, rows)
    marks = _pause_marks(store, printer, min((r.started_at for r in rows), default=0.0))
    return [RunUse(float(r.finished_at),
                   max(0.0, float(r.finished_at) - float(r.started_at)
                       - paused_seconds(float(r.started_at), float(r.finished_at), marks)),
                   filament.get(r.id, 0.0), r.state == "failed") for r in rows]


def _pause_marks(store: Store, printer: str, after: float) -> list[tuple[float, bool]]:
    """(time, paused?) of each pause and resume of the printer from `after` on, in order: those requested
    through the service and the printer's own (a runout's M600)."""
    with store.session() as s:
        q = (select(EventRow.t, EventRow.kind).where(EventRow.printer == printer, EventRow.t >= after,
                                                     EventRow.kind.in_(PAUSES + RESUMES))
             .order_by(EventRow.t, EventRow.id))
        return [(float(t), kind in PAUSES) for t, kind in s.execute(q)]


def paused_seconds(start: float, end: float, marks: Iterable[tuple[float, bool]]) -> float:
    """Seconds between `start` and `end` spent paused, from ordered (time, paused?) marks; a copy that ends
    paused was paused until its end."""
    total, since = 0.0, None
    for t, pause in marks:
        if t < start or t > end:
            continue
        if pause and since is None:
            since = t
        elif not pause and since is not None:
            total, since = total + t - since, None
    return total + (end - since if since is not None else 0.0)


def log_service(store: Store, printer: str, task: str, note: str, by: str, t: float) -> ServiceEntry:
    """Record that `by` did `task` on `printer` at `t`: that task's counters start again from here."""
    with store.session() as s:
        row = ServiceLogRow(printer=printer, task=task, note=note, by=by, t=t)
        s.add(row)
        s.flush()
        return _entry(row)


def service_log(store: Store, printer: str, limit: int = 500) -> list[ServiceEntry]:
    """The services done on a printer, newest first."""
    with store.session() as s:
        rows = s.scalars(select(ServiceLogRow).where(ServiceLogRow.printer == printer)
                         .order_by(ServiceLogRow.t.desc(), ServiceLogRow.id.desc()).limit(limit))
        return [_entry(r) for r in rows]


def last_done(store: Store, printer: str) -> dict[str, float]:
    """Task -> when it was last done on the printer."""
    with store.session() as s:
        q = (select(ServiceLogRow.task, func.max(ServiceLogRow.t)).where(ServiceLogRow.printer == printer)
             .group_by(ServiceLogRow.task))
        return {task: float(t) for task, t in s.execute(q)}


def _entry(r: ServiceLogRow) -> ServiceEntry:
    """ORM row to record."""
    return ServiceEntry(r.id, r.printer, r.task, r.note, r.by, r.t)
