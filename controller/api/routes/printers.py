"""Printers: list, add, remove, temperatures, clear the bed, emergency stop."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from controller.api.deps import Auth, Service
from controller.api.schemas import Message, PrinterIn, PrinterOut, TemperatureOut
from controller.api.views import printer_out
from controller.store import history, printers

router = APIRouter(prefix="/api/v1/printers", tags=["printers"], dependencies=Auth)


@router.get("", response_model=list[PrinterOut])
async def list_all(request: Request, svc: Service) -> Response:
    """Every printer with state, temperatures and current copy (cached for at most 0.25 s)."""
    return Response(request.app.state.printers_cache.get(svc), media_type="application/json")


@router.post("", response_model=PrinterOut, status_code=201)
def add(body: PrinterIn, svc: Service) -> PrinterOut:
    """Add a printer; the fleet connects to it within a second."""
    p = printers.add_printer(svc.store, body.name, body.port, body.baud, body.camera, body.profile,
                             body.on_failure, svc.clock())
    history.add_event(svc.store, "printer", f"printer {p.name} added on {p.port}", svc.clock(), printer=p.name)
    svc.fleet.notify()
    return printer_out(svc, p)


@router.get("/{name}", response_model=PrinterOut)
def get(name: str, svc: Service) -> PrinterOut:
    """One printer."""
    return printer_out(svc, printers.get_printer(svc.store, name))


@router.delete("/{name}", response_model=Message)
def remove(name: str, svc: Service) -> Message:
    """Remove a printer (its history stays); refused while it prints."""
    _, run, _ = svc.fleet.live(name)
    if run is not None:
        from controller.errors import ConflictError
        raise ConflictError(f"printer {name!r} is printing run {run.id}; cancel it first")
    printers.remove_printer(svc.store, name)
    svc.fleet.notify()
    return Message(message=f"printer {name} removed")


@router.get("/{name}/temperatures", response_model=list[TemperatureOut])
def temperatures(name: str, svc: Service, since: float = Query(0.0, ge=0, le=1e12),
                 limit: int = Query(1000, ge=1, le=100_000)) -> list[TemperatureOut]:
    """Temperature history of a printer."""
    return [TemperatureOut(**t.to_dict()) for t in printers.temperature_history(svc.store, name, since, limit)]


@router.post("/{name}/clear-bed", response_model=Message)
def clear_bed(name: str, svc: Service) -> Message:
    """Confirm the bed is empty so the printer takes the next copy."""
    svc.fleet.clear_bed(name)
    return Message(message=f"{name}: bed confirmed clear")


@router.post("/{name}/emergency-stop", response_model=Message)
def emergency_stop(name: str, svc: Service) -> Message:
    """M112 now."""
    svc.fleet.emergency_stop(name)
    return Message(message=f"{name}: emergency stop sent")
