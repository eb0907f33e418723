"""Layer checks, their photos and the timelapse of a run's photos."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse

from controller.api.deps import (
    EVERYONE,
    SUBMITTERS,
    Caller,
    Id,
    Service,
    allow,
    principal,
    sees_run,
)
from controller.api.schemas import LayerCheckOut, Message, TimelapseOut
from controller.api.views import check_out
from controller.errors import NotFoundError
from controller.farm.bed_watch import run_photo_dir
from controller.farm.service import LabService
from controller.printer.timelapse import FILE_NAME, WEB_NAME, current_timelapse, write_timelapse
from controller.store import history, jobs

router = APIRouter(prefix="/api/v1", tags=["layer checks"], dependencies=[Depends(principal)])


@router.get("/runs/{run_id}/layer-checks", response_model=list[LayerCheckOut], **allow(EVERYONE))
def of_run(run_id: Id, svc: Service, who: Caller) -> list[LayerCheckOut]:
    """The layer checks of one copy."""
    sees_run(svc, who, run_id)
    return [check_out(c) for c in history.list_layer_checks(svc.store, run_id=run_id)]


@router.get("/layer-checks/{check_id}", response_model=LayerCheckOut, **allow(EVERYONE))
def get(check_id: Id, svc: Service, who: Caller) -> LayerCheckOut:
    """One layer check."""
    c = history.get_layer_check(svc.store, check_id)
    sees_run(svc, who, c.run_id)
    return check_out(c)


@router.get("/layer-checks/{check_id}/image", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, 404: {"model": None}}, **allow(EVERYONE))
def image(check_id: Id, svc: Service, who: Caller,
          kind: Annotated[Literal["photo", "annotated"], Query()] = "photo") -> FileResponse:
    """The camera photo of a layer, or the photo with the verdict drawn over it."""
    c = history.get_layer_check(svc.store, check_id)
    sees_run(svc, who, c.run_id)
    raw = c.image_path if kind == "photo" else c.annotated_path
    if not raw:
        raise NotFoundError(f"layer check {check_id} has no {kind} image")
    path = Path(raw).resolve()
    if not path.is_relative_to(svc.data_dir) or not path.is_file():
        raise NotFoundError(f"the {kind} image of layer check {check_id} is missing")
    return FileResponse(path)


@router.get("/runs/{run_id}/timelapse.mp4", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}}, 404: {"model": Message}}, **allow(EVERYONE))
def timelapse(run_id: Id, svc: Service, who: Caller) -> FileResponse:
    """The copy's layer photos as an MP4 (MPEG-4 Part 2, for download); written now for a run still printing."""
    sees_run(svc, who, run_id)
    return _video(svc, run_id, FILE_NAME, "video/mp4")


@router.get("/runs/{run_id}/timelapse.webm", response_class=FileResponse,
            responses={200: {"content": {"video/webm": {}}}, 404: {"model": Message}}, **allow(EVERYONE))
def timelapse_web(run_id: Id, svc: Service, who: Caller) -> FileResponse:
    """The same timelapse as WebM (VP8), which browsers play; written now for a run still printing."""
    sees_run(svc, who, run_id)
    return _video(svc, run_id, WEB_NAME, "video/webm")


def _video(svc: LabService, run_id: int, name: str, media_type: str) -> FileResponse:
    """A run's timelapse file, brought up to date with its photos."""
    path = current_timelapse(run_photo_dir(svc.data_dir, jobs.get_run(svc.store, run_id)), name)
    return FileResponse(path, media_type=media_type, filename=f"run-{run_id}-{name}", content_disposition_type="inline")


@router.post("/runs/{run_id}/timelapse", response_model=TimelapseOut, **allow(SUBMITTERS))
def make_timelapse(run_id: Id, svc: Service, who: Caller) -> TimelapseOut:
    """Write the copy's timelapse now from the photos so far (a run in progress too) and say what was written."""
    sees_run(svc, who, run_id)
    made = write_timelapse(run_photo_dir(svc.data_dir, jobs.get_run(svc.store, run_id)))
    base = f"/api/v1/runs/{run_id}/timelapse"
    return TimelapseOut(run_id=run_id, url=f"{base}.mp4", web_url=f"{base}.webm" if made.web else None,
                        frames=made.frames, width=made.size[0], height=made.size[1], fps=made.fps,
                        codec=made.codec, web_codec=made.web_codec, seconds=made.seconds)
