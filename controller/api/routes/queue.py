"""The queue: copies waiting and printing, in the order they will be taken."""
from __future__ import annotations

from fastapi import APIRouter

from controller.api.deps import Auth, Service
from controller.api.schemas import RunOut
from controller.store import jobs

router = APIRouter(prefix="/api/v1/queue", tags=["queue"], dependencies=Auth)


@router.get("", response_model=list[RunOut])
def queue(svc: Service) -> list[RunOut]:
    """Printing copies first, then queued copies by priority and age."""
    active = jobs.list_runs(svc.store, states=("printing", "paused"))
    waiting = jobs.list_runs(svc.store, states=("queued",))
    return [RunOut(**r.to_dict()) for r in active + waiting]
