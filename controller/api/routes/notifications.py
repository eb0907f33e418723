"""Notifications: every delivery attempt and its outcome, and a test notice to every target."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from controller.api.deps import ADMINS, OPERATORS, Caller, Service, allow, principal
from controller.api.schemas import Message
from controller.errors import ConflictError
from controller.store.notifications import list_attempts

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"], dependencies=[Depends(principal)])


class AttemptOut(BaseModel):
    """One try at delivering a notice (the target without its secrets)."""

    id: int
    t: float
    event: str
    target: str
    event_id: int | None
    attempt: int
    ok: bool
    detail: str
    seconds: float


@router.get("", response_model=list[AttemptOut], **allow(OPERATORS))
def attempts(svc: Service, limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[AttemptOut]:
    """Delivery attempts, newest first."""
    return [AttemptOut(**a.to_dict()) for a in list_attempts(svc.store, limit)]


@router.post("/test", response_model=Message, **allow(ADMINS))
def test(svc: Service, who: Caller) -> Message:
    """Send a test notice to every configured target now (see the attempts for how it went)."""
    from controller.publish.notify import Notice, Notifier

    notifier = svc.publishers.get("notify")
    if not isinstance(notifier, Notifier):
        raise ConflictError("no [[notify]] or [[webhooks]] targets are configured")
    n = notifier.send(Notice("test", None, None, None, f"printloop test notice sent by {who.actor}"))
    return Message(message=f"test notice sent to {n} targets")
