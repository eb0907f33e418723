"""Receiving an upload in a route: size limit from the config, then save and record it."""
from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Form, Request, UploadFile

from controller.errors import UploadTooLargeError
from controller.farm.service import LabService
from controller.farm.uploads import SavedUpload, save_upload
from controller.store import history, jobs, users
from controller.store.records import StoredFile


def accept_upload(svc: LabService, request: Request, file: UploadFile) -> tuple[SavedUpload, StoredFile]:
    """Check the size limit, save the file under a safe name, check its content and record it."""
    limit = int(svc.config.max_upload_mb * 1e6)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 1_000_000:
        raise UploadTooLargeError(f"upload of {int(declared) / 1e6:.0f} MB is over the limit of "
                                  f"{svc.config.max_upload_mb:.0f} MB")
    prefix = f"{int(svc.clock() * 1000):x}{secrets.token_hex(3)}"
    saved = save_upload(file.file, file.filename, svc.upload_dir, limit, prefix)
    stored = jobs.add_file(svc.store, saved.name, str(saved.path), saved.kind, saved.size, saved.sha256,
                           svc.clock())
    return saved, stored


Material = Annotated[str | None, Form(max_length=32, description="the material the job needs, e.g. PETG")]
Colour = Annotated[str | None, Form(max_length=32, description="the colour the job needs")]
Nozzle = Annotated[float | None, Form(gt=0, le=3, description="the nozzle diameter the job needs, mm")]
Tags = Annotated[str | None, Form(max_length=512, description="comma-separated tags the printer must all have")]


def hold_for(svc: LabService, role: str) -> bool:
    """Does a job from this role wait for approval? Only a submitter's, and only if the config asks."""
    return svc.config.require_approval and role == "submitter"


def submitted_by(svc: LabService, job_id: int, user: str | None, held: bool) -> None:
    """Record the job's submitter (a user; config keys leave none) and announce a job waiting for approval."""
    if user is not None:
        users.set_submitter(svc.store, job_id, user)
    if held:
        history.add_event(svc.store, "awaiting_approval", f"job {job_id} from {user} awaits an operator's approval",
                          svc.clock(), job_id=job_id, actor=user or "service:queue")
