"""The farm of hosts sharing one database: the hosts and their heartbeats, and commands for any host's printer."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from controller.api.deps import EVERYONE, OPERATORS, Caller, Service, allow, principal
from controller.api.schemas import Message
from controller.farm.remote_commands import send_or_apply
from controller.store import hosts

router = APIRouter(prefix="/api/v1", tags=["farm"], dependencies=[Depends(principal)])


class HostOut(BaseModel):
    """A host of the farm: its last heartbeat (epoch s) and whether it beat within host_timeout_s."""

    name: str
    last_heartbeat: float
    alive: bool


@router.get("/hosts", response_model=list[HostOut], **allow(EVERYONE))
def list_hosts(svc: Service) -> list[HostOut]:
    """Every host that shares this database."""
    return [HostOut(name=h.name, last_heartbeat=h.last_heartbeat, alive=h.alive)
            for h in hosts.list_hosts(svc.store, svc.clock(), svc.config.host_timeout_s)]


@router.post("/printers/{name}/pause", response_model=Message, **allow(OPERATORS))
def pause(name: str, svc: Service, who: Caller) -> Message:
    """Pause the copy a printer prints, whichever host drives it (through the database within a second)."""
    return Message(message=send_or_apply(svc.store, svc.fleet, svc.host, name, "pause", svc.clock,
                                         who.actor))


@router.post("/printers/{name}/resume", response_model=Message, **allow(OPERATORS))
def resume(name: str, svc: Service, who: Caller) -> Message:
    """Resume a paused printer, whichever host drives it."""
    return Message(message=send_or_apply(svc.store, svc.fleet, svc.host, name, "resume", svc.clock,
                                         who.actor))


@router.post("/printers/{name}/cancel", response_model=Message, **allow(OPERATORS))
def cancel(name: str, svc: Service, who: Caller) -> Message:
    """Cancel the copy a printer prints, whichever host drives it (the copy is not made again)."""
    return Message(message=send_or_apply(svc.store, svc.fleet, svc.host, name, "cancel", svc.clock,
                                         who.actor))
