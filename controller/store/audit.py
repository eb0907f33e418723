"""The audit trail: the history's events filtered by who or what caused them, by kind, job or printer."""
from __future__ import annotations

from sqlalchemy import select

from controller.store.db import Store
from controller.store.history import event_record
from controller.store.models import EventRow
from controller.store.records import Event


def list_audit(store: Store, actor: str | None = None, kind: str | None = None, job_id: int | None = None,
               printer: str | None = None, after_id: int = 0, limit: int = 500) -> list[Event]:
    """Events after an id, oldest first, matching each filter given exactly."""
    with store.session() as s:
        q = select(EventRow).where(EventRow.id > after_id).order_by(EventRow.id).limit(limit)
        for column, value in ((EventRow.actor, actor), (EventRow.kind, kind), (EventRow.job_id, job_id),
                              (EventRow.printer, printer)):
            if value is not None:
                q = q.where(column == value)
        return [event_record(r) for r in s.scalars(q)]
