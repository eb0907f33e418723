"""Build records: a copy's sealed record (JSON), its printable report (HTML, PDF), an operator's disposition of
the copy, and a job's batch report summing its copies."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from controller.api.deps import EVERYONE, OPERATORS, Caller, Id, Service, allow, principal, sees_job, sees_run
from controller.api.record_report import report_html, report_pdf
from controller.errors import ConflictError
from controller.farm.service import LabService
from controller.store import build_seal, history, jobs
from controller.store.build_export import file_sources

router = APIRouter(prefix="/api/v1", tags=["build records"], dependencies=[Depends(principal)])
_PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}
_HTML: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}}}


class DispositionIn(BaseModel):
    """An operator's decision on a finished copy."""

    decision: Literal["accepted", "rejected"]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


def _record(svc: LabService, run_id: int) -> dict[str, Any]:
    """A printed copy's record (sealed, or as it stands while unsealed); 409 for a copy not started."""
    run = jobs.get_run(svc.store, run_id)
    if run.started_at is None:
        raise ConflictError(f"run {run_id} is {run.state} and has not started: its build record begins when it "
                            "is printed")
    return build_seal.record_of(svc.store, run_id, svc.clock())


def _source(svc: LabService) -> Any:
    """Where a record's photos are in the data directory."""
    return lambda record, name: file_sources(svc.store, int(record["run_id"])).get(name)


def _job_records(svc: LabService, job_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A job and the records of its printed copies, in run order."""
    job = jobs.get_job(svc.store, job_id)
    runs = sorted((r for r in jobs.list_runs(svc.store, job_id=job_id) if r.started_at is not None),
                  key=lambda r: r.id)
    build_seal.seal_ready(svc.store, svc.clock())
    return job.to_dict(), [build_seal.record_of(svc.store, r.id, svc.clock(), catch_up=False) for r in runs]


@router.get("/runs/{run_id}/record", **allow(EVERYONE))
def record(run_id: Id, svc: Service, who: Caller) -> dict[str, Any]:
    """The copy's build record: `hash` is the SHA-256 of its canonical JSON (sorted keys) without `hash`."""
    sees_run(svc, who, run_id)
    return _record(svc, run_id)


@router.get("/runs/{run_id}/record.html", response_class=HTMLResponse, responses=_HTML, **allow(EVERYONE))
def record_html(run_id: Id, svc: Service, who: Caller) -> HTMLResponse:
    """The copy's one-page report as HTML (photos inside)."""
    sees_run(svc, who, run_id)
    return HTMLResponse(report_html([_record(svc, run_id)], _source(svc)))


@router.get("/runs/{run_id}/record.pdf", response_class=Response, responses=_PDF, **allow(EVERYONE))
def record_pdf(run_id: Id, svc: Service, who: Caller) -> Response:
    """The copy's one-page report as PDF: its facts, the verdict strip, failed and sampled layer photos."""
    sees_run(svc, who, run_id)
    pdf = report_pdf(report_html([_record(svc, run_id)], _source(svc)))
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="run-{run_id}-record.pdf"'})


@router.post("/runs/{run_id}/disposition", **allow(OPERATORS))
def dispose(run_id: Id, body: DispositionIn, svc: Service, who: Caller) -> dict[str, Any]:
    """Accept or reject a finished copy with a reason; a sealed record is sealed again with the decision, and the
    history names who decided."""
    record = build_seal.dispose(svc.store, run_id, body.decision, body.reason, who.actor, svc.clock())
    run = jobs.get_run(svc.store, run_id)
    history.add_event(svc.store, "disposition", f"copy {run_id} {body.decision} by {who.actor}: {body.reason}",
                      svc.clock(), job_id=run.job_id, run_id=run_id, printer=run.printer,
                      data={"decision": body.decision, "reason": body.reason}, actor=who.actor)
    return record


@router.get("/jobs/{job_id}/records", **allow(EVERYONE))
def job_records(job_id: Id, svc: Service, who: Caller) -> list[dict[str, Any]]:
    """The build records of every printed copy of a job."""
    sees_job(svc, who, job_id)
    return _job_records(svc, job_id)[1]


@router.get("/jobs/{job_id}/report.html", response_class=HTMLResponse, responses=_HTML, **allow(EVERYONE))
def job_report_html(job_id: Id, svc: Service, who: Caller) -> HTMLResponse:
    """The batch report as HTML: the job's copies summed, then a page per part."""
    sees_job(svc, who, job_id)
    job, records = _job_records(svc, job_id)
    return HTMLResponse(report_html(records, _source(svc), job))


@router.get("/jobs/{job_id}/report.pdf", response_class=Response, responses=_PDF, **allow(EVERYONE))
def job_report_pdf(job_id: Id, svc: Service, who: Caller) -> Response:
    """The batch report as PDF."""
    sees_job(svc, who, job_id)
    job, records = _job_records(svc, job_id)
    return Response(report_pdf(report_html(records, _source(svc), job)), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="job-{job_id}-report.pdf"'})
