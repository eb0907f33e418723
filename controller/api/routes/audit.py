"""The audit trail: every event with who or what caused it, filtered by actor, kind, job or printer."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from controller.api.deps import EVERYONE, Caller, Service, allow, principal
from controller.api.schemas import EventOut
from controller.store import audit, users

router = APIRouter(prefix="/api/v1", tags=["audit"], dependencies=[Depends(principal)])


@router.get("/events", response_model=list[EventOut], **allow(EVERYONE))
def events(svc: Service, who: Caller,
           actor: Annotated[str | None, Query(max_length=128, description="exactly: a user, key:NAME, "
                                              "service:queue|vision|timeout, printer:NAME")] = None,
           kind: Annotated[str | None, Query(max_length=32)] = None,
           job_id: Annotated[int | None, Query(ge=1, le=2**53)] = None,
           printer: Annotated[str | None, Query(max_length=64)] = None,
           after: Annotated[int, Query(ge=0, le=2**53)] = 0,
           limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[EventOut]:
    """Events oldest first after an id (a submitter sees those of their own jobs and of no job)."""
    found = audit.list_audit(svc.store, actor, kind, job_id, printer, after, limit)
    if who.role == "submitter":
        mine = users.jobs_of(svc.store, who.user or "")
        found = [e for e in found if e.job_id is None or e.job_id in mine]
    return [EventOut(**e.to_dict()) for e in found]
