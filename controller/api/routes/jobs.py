"""Jobs: upload a G-code file or a mesh with copies and priority, list, get, pause, resume, cancel, events."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile

from controller.api.deps import (
    EVERYONE,
    OPERATORS,
    SUBMITTERS,
    Caller,
    Id,
    Service,
    allow,
    principal,
    sees_job,
)
from controller.api.schemas import EventOut, JobOut, LayerCheckOut, Message, RejectIn
from controller.api.uploading import Colour, Material, Nozzle, Tags, accept_upload, hold_for, submitted_by
from controller.api.views import check_out, job_out
from controller.farm.matching import parse_requirements
from controller.store import approval, history, jobs, users

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], dependencies=[Depends(principal)])


@router.post("", response_model=JobOut, status_code=201, **allow(SUBMITTERS))
def create(request: Request, svc: Service, who: Caller, file: Annotated[UploadFile, File(description="G-code or mesh")],
           copies: Annotated[int, Form(ge=1, le=100)] = 1, priority: Annotated[int, Form(ge=-1000, le=1000)] = 0,
           profile: Annotated[str | None, Form(max_length=512)] = None,
           printers: Annotated[str | None, Form(description="comma-separated printer names allowed")] = None,
           material: Material = None, colour: Colour = None, nozzle: Nozzle = None, tags: Tags = None) -> JobOut:
    """Queue N copies of an uploaded file; a mesh is sliced in the background (see slice_progress). Only a
    printer with the material, colour, nozzle and every tag asked for, and enough filament, takes a copy."""
    saved, stored = accept_upload(svc, request, file)
    allowed = [p.strip() for p in (printers or "").split(",") if p.strip()]
    held = hold_for(svc, who.role)
    job = svc.intake.submit(saved, stored.id, copies, priority, profile, allowed, held=held, actor=who.actor,
                            requires=parse_requirements(material, colour, nozzle, tags))
    submitted_by(svc, job.id, who.user, held)
    return job_out(svc, job)


@router.get("", response_model=list[JobOut], **allow(EVERYONE))
def list_all(svc: Service, who: Caller, state: Annotated[str | None, Query(max_length=32)] = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[JobOut]:
    """Jobs, newest first (a submitter's own only)."""
    found = jobs.list_jobs(svc.store, (state,) if state else None, limit)
    if who.role == "submitter":
        mine = users.jobs_of(svc.store, who.user or "")
        found = [j for j in found if j.id in mine]
    return [job_out(svc, j) for j in found]


@router.get("/{job_id}", response_model=JobOut, **allow(EVERYONE))
def get(job_id: Id, svc: Service, who: Caller) -> JobOut:
    """One job with its copies."""
    sees_job(svc, who, job_id)
    return job_out(svc, jobs.get_job(svc.store, job_id))


@router.post("/{job_id}/pause", response_model=Message, **allow(OPERATORS))
def pause(job_id: Id, svc: Service, who: Caller) -> Message:
    """Pause the job's printing copies."""
    n = svc.fleet.pause_job(job_id, who.actor)
    return Message(message=f"pausing {n} copies of job {job_id}")


@router.post("/{job_id}/resume", response_model=Message, **allow(OPERATORS))
def resume(job_id: Id, svc: Service, who: Caller) -> Message:
    """Resume the job's paused copies."""
    n = svc.fleet.resume_job(job_id, who.actor)
    return Message(message=f"resuming {n} copies of job {job_id}")


@router.post("/{job_id}/cancel", response_model=Message, **allow(SUBMITTERS))
def cancel(job_id: Id, svc: Service, who: Caller) -> Message:
    """Cancel the job: queued copies dropped, printing ones stopped (a submitter cancels only their own)."""
    sees_job(svc, who, job_id)
    n = svc.fleet.cancel_job(job_id, who.actor)
    return Message(message=f"job {job_id} cancelled; {n} printing copies stopped")


@router.post("/{job_id}/approve", response_model=JobOut, **allow(OPERATORS))
def approve(job_id: Id, svc: Service, who: Caller) -> JobOut:
    """Let a job awaiting approval join the queue."""
    job = approval.approve(svc.store, job_id)
    history.add_event(svc.store, "approved", f"job {job_id} approved by {who.actor}", svc.clock(), job_id=job_id,
                      actor=who.actor)
    svc.fleet.notify()
    return job_out(svc, job)


@router.post("/{job_id}/reject", response_model=JobOut, **allow(OPERATORS))
def reject(job_id: Id, body: RejectIn, svc: Service, who: Caller) -> JobOut:
    """Refuse a job awaiting approval, saying why (the reason becomes the job's message)."""
    job = approval.reject(svc.store, job_id, body.reason, svc.clock())
    history.add_event(svc.store, "rejected", f"job {job_id} rejected by {who.actor}: {body.reason}", svc.clock(),
                      job_id=job_id, actor=who.actor)
    return job_out(svc, job)


@router.get("/{job_id}/events", response_model=list[EventOut], **allow(EVERYONE))
def events(job_id: Id, svc: Service, who: Caller, after: Annotated[int, Query(ge=0)] = 0) -> list[EventOut]:
    """The job's event log."""
    sees_job(svc, who, job_id)
    jobs.get_job(svc.store, job_id)
    return [EventOut(**e.to_dict()) for e in history.list_events(svc.store, job_id=job_id, after_id=after)]


@router.get("/{job_id}/layer-checks", response_model=list[LayerCheckOut], **allow(EVERYONE))
def layer_checks(job_id: Id, svc: Service, who: Caller) -> list[LayerCheckOut]:
    """Every layer check of every copy of the job."""
    sees_job(svc, who, job_id)
    jobs.get_job(svc.store, job_id)
    return [check_out(c) for c in history.list_layer_checks(svc.store, job_id=job_id)]
