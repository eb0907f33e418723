"""Jobs: upload a G-code file or a mesh with copies and priority, list, get, pause, resume, cancel, events."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile

from controller.api.deps import Auth, Id, Service
from controller.api.schemas import EventOut, JobOut, LayerCheckOut, Message
from controller.api.uploading import accept_upload
from controller.api.views import check_out, job_out
from controller.store import history, jobs

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], dependencies=Auth)


@router.post("", response_model=JobOut, status_code=201)
def create(request: Request, svc: Service, file: Annotated[UploadFile, File(description="G-code or mesh")],
           copies: Annotated[int, Form(ge=1, le=100)] = 1, priority: Annotated[int, Form(ge=-1000, le=1000)] = 0,
           profile: Annotated[str | None, Form(max_length=512)] = None,
           printers: Annotated[str | None, Form(description="comma-separated printer names allowed")] = None
           ) -> JobOut:
    """Queue N copies of an uploaded file; a mesh is sliced in the background (see slice_progress)."""
    saved, stored = accept_upload(svc, request, file)
    allowed = [p.strip() for p in (printers or "").split(",") if p.strip()]
    job = svc.intake.submit(saved, stored.id, copies, priority, profile, allowed)
    return job_out(svc, job)


@router.get("", response_model=list[JobOut])
def list_all(svc: Service, state: Annotated[str | None, Query(max_length=32)] = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[JobOut]:
    """Jobs, newest first."""
    found = jobs.list_jobs(svc.store, (state,) if state else None, limit)
    return [job_out(svc, j) for j in found]


@router.get("/{job_id}", response_model=JobOut)
def get(job_id: Id, svc: Service) -> JobOut:
    """One job with its copies."""
    return job_out(svc, jobs.get_job(svc.store, job_id))


@router.post("/{job_id}/pause", response_model=Message)
def pause(job_id: Id, svc: Service) -> Message:
    """Pause the job's printing copies."""
    n = svc.fleet.pause_job(job_id)
    return Message(message=f"pausing {n} copies of job {job_id}")


@router.post("/{job_id}/resume", response_model=Message)
def resume(job_id: Id, svc: Service) -> Message:
    """Resume the job's paused copies."""
    n = svc.fleet.resume_job(job_id)
    return Message(message=f"resuming {n} copies of job {job_id}")


@router.post("/{job_id}/cancel", response_model=Message)
def cancel(job_id: Id, svc: Service) -> Message:
    """Cancel the job: queued copies dropped, printing ones stopped."""
    n = svc.fleet.cancel_job(job_id)
    return Message(message=f"job {job_id} cancelled; {n} printing copies stopped")


@router.get("/{job_id}/events", response_model=list[EventOut])
def events(job_id: Id, svc: Service, after: Annotated[int, Query(ge=0)] = 0) -> list[EventOut]:
    """The job's event log."""
    jobs.get_job(svc.store, job_id)
    return [EventOut(**e.to_dict()) for e in history.list_events(svc.store, job_id=job_id, after_id=after)]


@router.get("/{job_id}/layer-checks", response_model=list[LayerCheckOut])
def layer_checks(job_id: Id, svc: Service) -> list[LayerCheckOut]:
    """Every layer check of every copy of the job."""
    jobs.get_job(svc.store, job_id)
    return [check_out(c) for c in history.list_layer_checks(svc.store, job_id=job_id)]
