"""Spools: add, list, get, and load one on a printer (or unload it); kept in printloop's store or in Spoolman."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from controller.api.deps import EVERYONE, OPERATORS, Caller, Id, Service, allow, principal
from controller.api.schemas import LoadSpoolIn, Message, SpoolIn, SpoolOut
from controller.store import history, printers, spools
from controller.store.records import Spool
from controller.store.spools import NewSpool

router = APIRouter(prefix="/api/v1", tags=["spools"], dependencies=[Depends(principal)])


def spool_out(spool: Spool) -> SpoolOut:
    """A spool as the API body."""
    return SpoolOut(**spool.to_dict())


@router.post("/spools", response_model=SpoolOut, status_code=201, **allow(OPERATORS))
def add(body: SpoolIn, svc: Service, who: Caller) -> SpoolOut:
    """Add a full spool; `remaining_g` starts at `weight_g`."""
    spool = svc.spools.add(NewSpool(**body.model_dump()), svc.clock())
    history.add_event(svc.store, "spool", f"spool {spool.id} ({spool.material} {spool.colour}, lot {spool.lot or '-'},"
                      f" {spool.initial_g:g} g) added by {who.actor}", svc.clock(), actor=who.actor,
                      data={"spool_id": spool.id})
    return spool_out(spool)


@router.get("/spools", response_model=list[SpoolOut], **allow(EVERYONE))
def list_all(svc: Service) -> list[SpoolOut]:
    """Every spool with what is left on it and where it is loaded."""
    where = spools.loaded(svc.store)
    return [SpoolOut(**{**s.to_dict(), "printer": where.get(s.id)}) for s in svc.spools.list()]


@router.get("/spools/{spool_id}", response_model=SpoolOut, **allow(EVERYONE))
def get(spool_id: Id, svc: Service) -> SpoolOut:
    """One spool."""
    return spool_out(spools.placed(svc.store, svc.spools.get(spool_id)))


@router.post("/printers/{name}/spool", response_model=SpoolOut, **allow(OPERATORS))
def load(name: str, body: LoadSpoolIn, svc: Service, who: Caller) -> SpoolOut:
    """Load a spool on a printer: the queue gives it only copies that spool has the material, colour and grams
    for. A copy printing goes on deducting from the spool it started with."""
    spool = svc.spools.get(body.spool_id)
    spools.load(svc.store, name, spool.id)
    history.add_event(svc.store, "spool", f"spool {spool.id} ({spool.material} {spool.colour}, "
                      f"{spool.remaining_g:.1f} g left) loaded on {name} by {who.actor}", svc.clock(), printer=name,
                      actor=who.actor, data={"spool_id": spool.id})
    svc.fleet.notify()
    return spool_out(spools.placed(svc.store, spool))


@router.delete("/printers/{name}/spool", response_model=Message, **allow(OPERATORS))
def unload(name: str, svc: Service, who: Caller) -> Message:
    """Take the spool off a printer; it then takes only jobs that ask for no material or colour."""
    was = printers.get_printer(svc.store, name).spool_id
    spools.load(svc.store, name, None)
    history.add_event(svc.store, "spool", f"spool {was} unloaded from {name} by {who.actor}", svc.clock(),
                      printer=name, actor=who.actor, data={"spool_id": was})
    svc.fleet.notify()
    return Message(message=f"{name} has no spool loaded")
