"""Maintenance: take a printer out of rotation with a reason (the queue skips it) and put it back."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from controller.api.deps import EVERYONE, OPERATORS, Caller, Service, allow, principal
from controller.api.schemas import Message
from controller.store import history, maintenance, printers

router = APIRouter(prefix="/api/v1", tags=["maintenance"], dependencies=[Depends(principal)])


class RotationIn(BaseModel):
    """Why a printer is taken out of rotation."""

    reason: str = Field(min_length=1, max_length=2000)


class OutOfRotationOut(BaseModel):
    """A printer the queue skips: why, by whom, since when."""

    printer: str
    reason: str
    by: str
    since: float


@router.get("/maintenance/out-of-rotation", response_model=list[OutOfRotationOut], **allow(EVERYONE))
def out_of_rotation(svc: Service) -> list[OutOfRotationOut]:
    """Printers out of rotation."""
    return [OutOfRotationOut(**o.to_dict()) for o in maintenance.out_of_rotation(svc.store)]


@router.post("/printers/{name}/out-of-rotation", response_model=OutOfRotationOut, **allow(OPERATORS))
def take_out(name: str, body: RotationIn, svc: Service, who: Caller) -> OutOfRotationOut:
    """Take a printer out of rotation: it finishes what it prints but is given no further copy."""
    printers.get_printer(svc.store, name)
    out = maintenance.take_out(svc.store, name, body.reason, who.actor, svc.clock())
    history.add_event(svc.store, "out_of_rotation", f"{name} taken out of rotation by {who.actor}: {body.reason}",
                      svc.clock(), printer=name, actor=who.actor, data={"reason": body.reason})
    svc.fleet.notify()
    return OutOfRotationOut(**out.to_dict())


@router.post("/printers/{name}/back-in-rotation", response_model=Message, **allow(OPERATORS))
def put_back(name: str, svc: Service, who: Caller) -> Message:
    """Put a printer back in rotation: the queue gives it copies again."""
    printers.get_printer(svc.store, name)
    maintenance.put_back(svc.store, name)
    history.add_event(svc.store, "back_in_rotation", f"{name} back in rotation by {who.actor}", svc.clock(),
                      printer=name, actor=who.actor)
    svc.fleet.notify()
    return Message(message=f"{name} is back in rotation")
