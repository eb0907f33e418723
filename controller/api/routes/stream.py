"""Live updates as server-sent events: a snapshot of printers and queue whenever something changes, plus events."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from controller.api.deps import Auth, Service
from controller.api.schemas import EventOut
from controller.api.views import all_printers, job_out
from controller.farm.service import LabService
from controller.store import history, jobs

router = APIRouter(prefix="/api/v1", tags=["live"], dependencies=Auth)
HEARTBEAT_S = 5.0
BACKLOG = 50            # events a newly connected client gets from before it connected


def snapshot(svc: LabService) -> dict:
    """Printers and recent jobs, as the dashboard draws them."""
    return {"printers": [p.model_dump() for p in all_printers(svc)],
            "jobs": [job_out(svc, j).model_dump() for j in jobs.list_jobs(svc.store, limit=20)]}


@router.get("/snapshot")
def get_snapshot(svc: Service) -> dict:
    """The same snapshot the stream sends, for clients that poll."""
    return snapshot(svc)


def _resume_after(request: Request, svc: LabService) -> int:
    """The event id to stream after: the client's `Last-Event-ID` on a reconnect (nothing lost or repeated),
    else the id before the newest BACKLOG events (a page opened now still shows what just happened)."""
    given = request.headers.get("last-event-id", "").strip()
    if given.isdigit():
        return int(given)
    return max(0, history.last_event_id(svc.store) - BACKLOG)


async def _events(request: Request, svc: LabService, poll_s: float) -> AsyncIterator[str]:
    """Yield SSE frames: `snapshot` on change or heartbeat, `event` (with its id) for each log entry."""
    seen = -1
    last_event = _resume_after(request, svc)
    idle = HEARTBEAT_S
    while not await request.is_disconnected():
        new = history.list_events(svc.store, after_id=last_event)
        for e in new:
            last_event = e.id
            yield f"id: {e.id}\nevent: event\ndata: {EventOut(**e.to_dict()).model_dump_json()}\n\n"
        if svc.fleet.version != seen or new or idle >= HEARTBEAT_S:
            seen, idle = svc.fleet.version, 0.0
            data = await asyncio.to_thread(snapshot, svc)
            yield f"event: snapshot\ndata: {json.dumps(data)}\n\n"
        await asyncio.sleep(poll_s)
        idle += poll_s


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request, svc: Service) -> StreamingResponse:
    """Server-sent events; browsers pass the key as ?api_key=."""
    return StreamingResponse(_events(request, svc, 0.5), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})
