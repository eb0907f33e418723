"""The queue: copies waiting and printing, in the order they will be taken."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from controller.api.deps import EVERYONE, Caller, Service, allow, principal
from controller.api.schemas import RunOut
from controller.store import jobs, users

router = APIRouter(prefix="/api/v1/queue", tags=["queue"], dependencies=[Depends(principal)])


@router.get("", response_model=list[RunOut], **allow(EVERYONE))
def queue(svc: Service, who: Caller) -> list[RunOut]:
    """Printing copies first, then queued copies by priority and age (a submitter's own only)."""
    active = jobs.list_runs(svc.store, states=("printing", "paused"))
    waiting = jobs.list_runs(svc.store, states=("queued",))
    mine = users.jobs_of(svc.store, who.user or "") if who.role == "submitter" else None
    return [RunOut(**r.to_dict()) for r in active + waiting if mine is None or r.job_id in mine]
