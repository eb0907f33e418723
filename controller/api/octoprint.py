"""The OctoPrint REST subset that PrusaSlicer's and Cura's "send to printer" use, mapped onto the queue."""
from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from controller.api.deps import EVERYONE, OPERATORS, SUBMITTERS, Caller, Service, allow, principal
from controller.api.uploading import Colour, Material, Nozzle, Tags, accept_upload, hold_for, submitted_by
from controller.errors import ConflictError, NotFoundError
from controller.farm.matching import parse_requirements
from controller.farm.service import LabService
from controller.store import jobs, printers
from controller.store.records import Printer

router = APIRouter(prefix="/api", tags=["octoprint"], dependencies=[Depends(principal)])
OCTOPRINT_VERSION = "1.10.2"
_STATE_TEXT = {"idle": "Operational", "printing": "Printing", "paused": "Paused", "awaiting_clear": "Operational",
               "needs_attention": "Error", "offline": "Offline", "error": "Error"}


def _truthy(value: str | None) -> bool:
    """OctoPrint's form booleans: true/yes/1/on."""
    return (value or "").strip().lower() in ("true", "yes", "1", "on", "y")


def _pick_printer(svc: LabService, name: str | None) -> Printer:
    """The named printer, else the first printing one, else the first one."""
    if name:
        return printers.get_printer(svc.store, name)
    found = printers.list_printers(svc.store)
    if not found:
        raise ConflictError("no printer is configured")
    return next((p for p in found if p.state in ("printing", "paused")), found[0])


@router.get("/version", **allow(EVERYONE))
def version() -> dict[str, str]:
    """What slicers call to test the connection; `text` must start with OctoPrint."""
    return {"api": "0.1", "server": OCTOPRINT_VERSION, "text": f"OctoPrint {OCTOPRINT_VERSION} (printloop)"}


@router.post("/files/local", status_code=201, **allow(SUBMITTERS))
def upload(request: Request, svc: Service, who: Caller, file: Annotated[UploadFile, File()],
           path: Annotated[str | None, Form()] = None, select: Annotated[str | None, Form()] = None,
           print_: Annotated[str | None, Form(alias="print")] = None, material: Material = None,
           colour: Colour = None, nozzle: Nozzle = None, tags: Tags = None) -> JSONResponse:
    """Store an upload; `print=true` queues one copy, `select=true` makes it the file `POST /api/job` starts;
    printloop's `material`, `colour`, `nozzle` and `tags` are the job's requirements, as in /api/v1/jobs."""
    saved, stored = accept_upload(svc, request, file)
    body: dict[str, Any] = {"done": True, "files": {"local": {
        "name": saved.name, "display": saved.name, "origin": "local", "path": saved.name,
        "refs": {"resource": str(request.url_for("file_info", filename=saved.name))}}}}
    if _truthy(select) or _truthy(print_):
        request.app.state.selected = (saved, stored.id)
    if _truthy(print_):
        held = hold_for(svc, who.role)
        job = svc.intake.submit(saved, stored.id, copies=1, held=held, actor=who.actor,
                                requires=parse_requirements(material, colour, nozzle, tags))
        submitted_by(svc, job.id, who.user, held)
        body["job_id"] = job.id
    location = str(request.url_for("file_info", filename=saved.name))
    return JSONResponse(body, status_code=201, headers={"Location": location})


@router.get("/files/local/{filename}", name="file_info", **allow(EVERYONE))
def file_info(filename: str, svc: Service) -> dict[str, Any]:
    """Information on an uploaded file (the newest with that name)."""
    f = next((f for f in jobs.list_files(svc.store) if f.name == filename), None)
    if f is None:
        raise NotFoundError(f"no uploaded file named {filename!r}")
    info: dict[str, Any] = {"name": f.name, "display": f.name, "origin": "local", "path": f.name, "size": f.size,
                            "date": int(f.created_at), "type": "machinecode" if f.kind == "gcode" else "model",
                            "hash": f.sha256}
    if f.kind == "gcode":
        info["gcodeAnalysis"] = gcode_analysis(f.path, f.sha256)
    return info


@functools.lru_cache(maxsize=64)
def gcode_analysis(path: str, sha256: str) -> dict[str, Any]:
    """OctoPrint's `gcodeAnalysis` of a stored file, from its job plan (cached per content hash)."""
    from slicing.job_plan import plan_file

    job_plan = plan_file(path)
    return {"estimatedPrintTime": job_plan.estimate_s, "estimateOrigin": job_plan.estimate_source,
            "layerCount": job_plan.layer_count, "filament": {"tool0": {"length": job_plan.filament_mm}}}


@router.get("/job", **allow(EVERYONE))
def job_status(svc: Service, printer: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """The current copy of a printer (the first printing one by default), as OctoPrint reports a job."""
    p = _pick_printer(svc, printer)
    _, run, _ = svc.fleet.live(p.name)
    file: dict[str, Any] = {"name": None, "origin": None, "size": None, "date": None, "path": None}
    progress: dict[str, Any] = {"completion": None, "filepos": None, "printTime": None, "printTimeLeft": None,
                                "printTimeLeftOrigin": None}
    estimate: float | None = None
    if run is not None:
        run = jobs.get_run(svc.store, run.id)
        job = jobs.get_job(svc.store, run.job_id)
        file.update(name=job.name, origin="local", path=job.name, date=int(job.created_at))
        elapsed = svc.clock() - (run.started_at or svc.clock())
        live = svc.fleet.planned(p.name)
        left = live.time_left_s if live is not None else None
        estimate = live.estimate_s if live is not None else None
        progress.update(completion=run.percent, printTime=int(elapsed),
                        printTimeLeft=int(left) if left is not None else None,
                        printTimeLeftOrigin="estimate" if left is not None else None)
    return {"job": {"file": file, "estimatedPrintTime": estimate, "filament": None, "user": None},
            "progress": progress, "state": _STATE_TEXT.get(p.state, "Offline"), "printer": p.name}


class JobCommand(BaseModel):
    """OctoPrint's job command body."""

    command: Literal["start", "cancel", "pause", "restart"]
    action: Literal["pause", "resume", "toggle"] | None = None


def _current_job_id(svc: LabService, printer: str | None) -> int:
    """The job whose copy the chosen printer is printing."""
    p = _pick_printer(svc, printer)
    _, run, _ = svc.fleet.live(p.name)
    if run is None:
        raise ConflictError(f"printer {p.name} is not printing")
    return run.job_id


@router.post("/job", status_code=204, response_class=Response, **allow(OPERATORS))
def job_command(cmd: JobCommand, request: Request, svc: Service, who: Caller,
                printer: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """start queues the selected file; cancel/pause act on the current copy's job."""
    if cmd.command == "start":
        selected = getattr(request.app.state, "selected", None)
        if selected is None:
            raise ConflictError("no file is selected: upload one with select=true first")
        svc.intake.submit(selected[0], selected[1], copies=1, actor=who.actor)
    elif cmd.command == "cancel":
        svc.fleet.cancel_job(_current_job_id(svc, printer), who.actor)
    elif cmd.command == "pause":
        job_id = _current_job_id(svc, printer)
        p = _pick_printer(svc, printer)
        action = cmd.action or "toggle"
        if action == "toggle":
            action = "resume" if p.state == "paused" else "pause"
        (svc.fleet.pause_job if action == "pause" else svc.fleet.resume_job)(job_id, who.actor)
    else:
        raise ConflictError("restart is not supported: cancel the job and start it again")
    return Response(status_code=204)


@router.get("/printer", **allow(EVERYONE))
def printer_state(svc: Service, printer: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """State and temperatures in OctoPrint's shape; 409 if the printer is not connected, as OctoPrint does."""
    p = _pick_printer(svc, printer)
    temps, _, connected = svc.fleet.live(p.name)
    if not connected:
        raise ConflictError(f"printer {p.name} is not operational")
    text = _STATE_TEXT.get(p.state, "Offline")
    flags = {"operational": True, "printing": p.state == "printing", "paused": p.state == "paused",
             "pausing": False, "cancelling": False, "sdReady": False, "error": text == "Error",
             "ready": p.state == "idle", "closedOrError": text == "Error", "finishing": False, "resuming": False}
    out: dict[str, Any] = {"state": {"text": text, "flags": flags}, "sd": {"ready": False}, "temperature": {}}
    if temps is not None:
        out["temperature"] = {"tool0": {"actual": temps.hotend, "target": temps.hotend_target, "offset": 0},
                              "bed": {"actual": temps.bed, "target": temps.bed_target, "offset": 0}}
    return out


@router.get("/connection", **allow(EVERYONE))
def connection(svc: Service, printer: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """Connection settings in OctoPrint's shape."""
    found = printers.list_printers(svc.store)
    current: dict[str, Any] = {"state": "Closed", "port": None, "baudrate": None, "printerProfile": "_default"}
    if found:
        p = _pick_printer(svc, printer)
        _, _, connected = svc.fleet.live(p.name)
        current.update(state=_STATE_TEXT.get(p.state, "Offline") if connected else "Closed", port=p.port,
                       baudrate=p.baud)
    return {"current": current, "options": {
        "ports": [p.port for p in found], "baudrates": sorted({p.baud for p in found} | {115200, 250000}),
        "printerProfiles": [{"id": "_default", "name": "Default"}], "portPreference": None,
        "baudratePreference": None, "printerProfilePreference": "_default", "autoconnect": True}}
