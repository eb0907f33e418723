"""Store functions for the event log and layer checks, written as they happen."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from controller.events import Event as BusEvent
from controller.events import EventBus, Subscription
from controller.store.db import Store, get_row
from controller.store.models import EventRow, LayerCheckRow, RunRow
from controller.store.records import Event, LayerCheck


def event_record(r: EventRow) -> Event:
    """ORM row to record."""
    return Event(r.id, r.job_id, r.run_id, r.printer, r.t, r.kind, r.message, dict(r.data or {}), r.actor)


def _check(r: LayerCheckRow) -> LayerCheck:
    """ORM row to record."""
    return LayerCheck(r.id, r.run_id, r.layer, r.ok, r.verdict, dict(r.figures or {}), r.image_path,
                      r.annotated_path, r.t)


def add_event(store: Store, kind: str, message: str, t: float, job_id: int | None = None,
              run_id: int | None = None, printer: str | None = None, data: dict[str, Any] | None = None,
              actor: str | None = None) -> Event:
    """Append an event to the log, naming who or what caused it (by default the printer for a printer's own
    event, else the queue service)."""
    if actor is None:
        actor = f"printer:{printer}" if printer and job_id is None else "service:queue"
    with store.session() as s:
        row = EventRow(kind=kind, message=message, t=t, job_id=job_id, run_id=run_id, printer=printer,
                       data=data or {}, actor=actor)
        s.add(row)
        s.flush()
        record = event_record(row)
    store.notify(record)
    return record


def list_events(store: Store, job_id: int | None = None, after_id: int = 0, limit: int = 500) -> list[Event]:
    """Events after an id, oldest first, optionally of one job."""
    with store.session() as s:
        q = select(EventRow).where(EventRow.id > after_id).order_by(EventRow.id).limit(limit)
        if job_id is not None:
            q = q.where(EventRow.job_id == job_id)
        return [event_record(r) for r in s.scalars(q)]


def add_layer_check(store: Store, run_id: int, layer: int, ok: bool, verdict: str, t: float,
                    figures: dict[str, Any] | None = None, image_path: str | None = None,
                    annotated_path: str | None = None) -> LayerCheck:
    """Record one layer's camera check."""
    with store.session() as s:
        row = LayerCheckRow(run_id=run_id, layer=layer, ok=ok, verdict=verdict, figures=figures or {},
                            image_path=image_path, annotated_path=annotated_path, t=t)
        s.add(row)
        s.flush()
        record = _check(row)
    store.notify(record)
    return record


def list_layer_checks(store: Store, run_id: int | None = None, job_id: int | None = None) -> list[LayerCheck]:
    """Layer checks of a run or of every run of a job, in order."""
    with store.session() as s:
        q = select(LayerCheckRow).order_by(LayerCheckRow.run_id, LayerCheckRow.layer, LayerCheckRow.id)
        if run_id is not None:
            q = q.where(LayerCheckRow.run_id == run_id)
        if job_id is not None:
            q = q.where(LayerCheckRow.run_id.in_(select(RunRow.id).where(RunRow.job_id == job_id)))
        return [_check(r) for r in s.scalars(q)]


def get_layer_check(store: Store, check_id: int) -> LayerCheck:
    """One layer check."""
    with store.session() as s:
        row = get_row(s, LayerCheckRow, check_id, "layer check")
        return _check(row)


def latest_layer_check(store: Store, run_id: int) -> LayerCheck | None:
    """The newest layer check of a run, if any."""
    with store.session() as s:
        row = s.scalar(select(LayerCheckRow).where(LayerCheckRow.run_id == run_id)
                       .order_by(LayerCheckRow.id.desc()).limit(1))
        return _check(row) if row is not None else None


def last_event_id(store: Store) -> int:
    """The id of the newest event (0 when there is none)."""
    with store.session() as s:
        return int(s.scalar(select(func.max(EventRow.id))) or 0)


PRINTER_HISTORY_KINDS = frozenset({"error", "firmware_error", "action", "reset", "connected", "paused", "resumed",
                                   "object_skipped"})
"""What the history keeps of a printer's own events (resends and echoes are too many: they are counted)."""


def record_printer_events(store: Store, bus: EventBus) -> Subscription:
    """Subscribe the history to the bus: what a printer says about itself (errors, host actions, its own
    pauses) is kept with the printer's name. Pauses the host asked for are kept by the fleet already."""

    def keep(event: BusEvent) -> None:
        if event.kind in ("paused", "resumed") and event.data.get("by") != "printer":
            return
        add_event(store, event.kind, event.message, event.t, printer=event.printer, data=dict(event.data),
                  actor=f"printer:{event.printer}")

    return bus.subscribe(keep, PRINTER_HISTORY_KINDS, name="history")
