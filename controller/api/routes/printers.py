"""Printers: list, add, remove, temperatures, the camera's view of the bed, clear the bed, emergency stop."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse

from controller.api.deps import ADMINS, EVERYONE, OPERATORS, READERS, Caller, Service, allow, principal
from controller.api.schemas import BedOut, BedRegionOut, Message, PrinterIn, PrinterOut, TemperatureOut
from controller.api.views import printer_out
from controller.errors import NotFoundError
from controller.farm.bed_watch import BedCheck, check_bed, last_image
from controller.farm.remote_commands import send_or_apply
from controller.store import history, jobs, printers
from controller.store.records import Capabilities

router = APIRouter(prefix="/api/v1/printers", tags=["printers"], dependencies=[Depends(principal)])


@router.get("", response_model=list[PrinterOut], **allow(EVERYONE))
async def list_all(request: Request, svc: Service) -> Response:
    """Every printer with state, temperatures and current copy (cached for at most 0.25 s)."""
    return Response(request.app.state.printers_cache.get(svc), media_type="application/json")


@router.post("", response_model=PrinterOut, status_code=201, **allow(ADMINS))
def add(body: PrinterIn, svc: Service, who: Caller) -> PrinterOut:
    """Add a printer; the fleet connects to it within a second."""
    caps = Capabilities(body.nozzle, tuple(body.materials), tuple(body.tags), body.bed)
    p = printers.add_printer(svc.store, body.name, body.port, body.baud, body.camera, body.profile,
                             body.on_failure, svc.clock(), host=svc.host, caps=caps)
    history.add_event(svc.store, "printer", f"printer {p.name} added on {p.port} by {who.actor}", svc.clock(),
                      printer=p.name, actor=who.actor)
    svc.fleet.notify()
    return printer_out(svc, p)


@router.get("/{name}", response_model=PrinterOut, **allow(EVERYONE))
def get(name: str, svc: Service) -> PrinterOut:
    """One printer."""
    return printer_out(svc, printers.get_printer(svc.store, name))


@router.delete("/{name}", response_model=Message, **allow(ADMINS))
def remove(name: str, svc: Service, who: Caller) -> Message:
    """Remove a printer (its history stays); refused while it prints."""
    _, run, _ = svc.fleet.live(name)
    if run is not None:
        from controller.errors import ConflictError
        raise ConflictError(f"printer {name!r} is printing run {run.id}; cancel it first")
    printers.remove_printer(svc.store, name)
    history.add_event(svc.store, "printer", f"printer {name} removed by {who.actor}", svc.clock(), printer=name,
                      actor=who.actor)
    svc.fleet.notify()
    return Message(message=f"printer {name} removed")


@router.get("/{name}/temperatures", response_model=list[TemperatureOut], **allow(EVERYONE))
def temperatures(name: str, svc: Service, since: float = Query(0.0, ge=0, le=1e12),
                 limit: int = Query(1000, ge=1, le=100_000)) -> list[TemperatureOut]:
    """Temperature history of a printer."""
    return [TemperatureOut(**t.to_dict()) for t in printers.temperature_history(svc.store, name, since, limit)]


@router.get("/{name}/bed", response_model=BedOut, **allow(READERS))
def bed(name: str, svc: Service) -> BedOut:
    """The camera's opinion of the bed now: photographed and compared with the photo taken as the last run began."""
    seen = check_bed(svc.data_dir, printers.get_printer(svc.store, name), jobs.last_run_on(svc.store, name),
                     svc.clock())
    return bed_out(seen)


@router.get("/{name}/bed.jpg", response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}},
                                                                       404: {"model": Message}}, **allow(EVERYONE))
def bed_image(name: str, svc: Service) -> FileResponse:
    """The latest bed photo with the camera's verdict drawn on it."""
    path = last_image(svc.data_dir, jobs.last_run_on(svc.store, printers.get_printer(svc.store, name).name))
    if path is None:
        raise NotFoundError(f"printer {name!r} has no bed photo yet: ask GET /api/v1/printers/{name}/bed first")
    return FileResponse(path, media_type="image/jpeg")


def bed_out(seen: BedCheck) -> BedOut:
    """A bed check as the API body."""
    v = seen.verdict
    url = f"/api/v1/printers/{seen.printer}/bed.jpg?t={seen.t:.3f}" if seen.image else None
    return BedOut(printer=seen.printer, run_id=seen.run_id, camera=v.status, message=v.message,
                  regions=[BedRegionOut(**r) for r in v.to_dict()["regions"]], changed_mm2=v.changed_mm2,
                  figures=v.figures, image_url=url, t=seen.t)


@router.post("/{name}/clear-bed", response_model=Message, **allow(OPERATORS))
def clear_bed(name: str, svc: Service, who: Caller) -> Message:
    """Confirm the bed is empty so the printer takes the next copy."""
    return Message(message=send_or_apply(svc.store, svc.fleet, svc.host, name, "clear_bed", svc.clock, who.actor))


@router.post("/{name}/emergency-stop", response_model=Message, **allow(OPERATORS))
def emergency_stop(name: str, svc: Service, who: Caller) -> Message:
    """M112 now."""
    return Message(message=send_or_apply(svc.store, svc.fleet, svc.host, name, "emergency_stop", svc.clock,
                                         who.actor))
