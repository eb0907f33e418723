"""Maintenance: take a printer out of rotation with a reason (the queue skips it) and put it back; its counters
since the last service, its tasks due, and the log of services done."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from controller.api.deps import EVERYONE, OPERATORS, Caller, Service, allow, principal
from controller.api.schemas import Message
from controller.errors import NotFoundError
from controller.farm.service import LabService
from controller.publish.maintenance_watch import DONE, upkeep_of
from controller.store import history, maintenance, printers, upkeep

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


class UsageOut(BaseModel):
    """A printer's counters since `since` (null: since it was first used); a copy counts once it has ended."""

    since: float | None
    hours: float
    metres: float
    jobs: int
    failures: int


class TaskOut(BaseModel):
    """A maintenance task: its intervals (`every`: hours, metres, jobs, failures), when it was last done, the
    counters since, whether it is due and by which counters, and how far along the nearest interval is."""

    task: str
    every: dict[str, float]
    last_done: float | None
    used: UsageOut
    due: bool
    due_by: list[str]
    fraction: float


class UpkeepOut(BaseModel):
    """A printer's maintenance: last service (any task), counters since, its tasks and the names of those due."""

    printer: str
    last_service: float | None
    usage: UsageOut
    tasks: list[TaskOut]
    due: list[str]


class ServiceIn(BaseModel):
    """A maintenance task done, with what was noted."""

    task: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=2000)


class ServiceOut(BaseModel):
    """A service done: which task, what was noted, by whom, when."""

    id: int
    printer: str
    task: str
    note: str
    by: str
    t: float


def _upkeep_out(svc: LabService, name: str) -> UpkeepOut:
    """A printer's counters and tasks as the API shows them."""
    u = upkeep_of(svc.store, svc.config, name)
    tasks = [TaskOut(**{**t.to_dict(), "due": t.due}) for t in u.tasks]
    return UpkeepOut(printer=name, last_service=u.last_service, usage=UsageOut(**u.usage.to_dict()), tasks=tasks,
                     due=[t.task for t in tasks if t.due])


@router.get("/maintenance", response_model=list[UpkeepOut], **allow(EVERYONE))
def every_printer(svc: Service) -> list[UpkeepOut]:
    """Counters and maintenance tasks of every printer."""
    return [_upkeep_out(svc, p.name) for p in printers.list_printers(svc.store)]


@router.get("/printers/{name}/maintenance", response_model=UpkeepOut, **allow(EVERYONE))
def of_printer(name: str, svc: Service) -> UpkeepOut:
    """Print hours, filament metres, copies and failed copies since the last service, and each task's state."""
    printers.get_printer(svc.store, name)
    return _upkeep_out(svc, name)


@router.get("/printers/{name}/maintenance/log", response_model=list[ServiceOut], **allow(EVERYONE))
def log_of(name: str, svc: Service, limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[ServiceOut]:
    """The services done on a printer, newest first."""
    printers.get_printer(svc.store, name)
    return [ServiceOut(**e.to_dict()) for e in upkeep.service_log(svc.store, name, limit)]


@router.post("/printers/{name}/maintenance/log", response_model=ServiceOut, status_code=201, **allow(OPERATORS))
def log_service(name: str, body: ServiceIn, svc: Service, who: Caller) -> ServiceOut:
    """Record a configured task as done now, by the caller: its counters start again from zero."""
    printers.get_printer(svc.store, name)
    tasks = [t.task for t in svc.config.maintenance_of(name)]
    if body.task not in tasks:
        raise NotFoundError(f"printer {name!r} has no maintenance task {body.task!r}; its tasks: "
                            f"{', '.join(tasks) or 'none (add [[printers.maintenance]] to the config)'}")
    entry = upkeep.log_service(svc.store, name, body.task, body.note, who.actor, svc.clock())
    note = f": {body.note}" if body.note else ""
    history.add_event(svc.store, DONE, f"{body.task} done on {name} by {who.actor}{note}", entry.t, printer=name,
                      actor=who.actor, data={"task": body.task, "note": body.note, "log_id": entry.id})
    return ServiceOut(**entry.to_dict())
