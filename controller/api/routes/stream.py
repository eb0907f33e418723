"""Live updates as server-sent events: a snapshot of printers and queue whenever something changes, plus each
history event pushed from the service's bus as it is committed (the store is read once per client, for the backlog)."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from controller.api.deps import EVERYONE, Caller, Principal, Service, allow, principal
from controller.api.schemas import EventOut
from controller.api.views import all_printers, job_out
from controller.events import LOGGED
from controller.events import Event as BusEvent
from controller.farm.service import LabService
from controller.store import history, jobs, users

router = APIRouter(prefix="/api/v1", tags=["live"], dependencies=[Depends(principal)])
HEARTBEAT_S = 5.0
BACKLOG = 50            # events a newly connected client gets from before it connected


def snapshot(svc: LabService, who: Principal | None = None) -> dict:
    """Printers and recent jobs, as the dashboard draws them (a submitter's own jobs only)."""
    found = jobs.list_jobs(svc.store, limit=20)
    if who is not None and who.role == "submitter":
        mine = users.jobs_of(svc.store, who.user or "")
        found = [j for j in found if j.id in mine]
    return {"printers": [p.model_dump() for p in all_printers(svc)],
            "jobs": [job_out(svc, j).model_dump() for j in found]}


def _shown_to(svc: LabService, who: Principal) -> Callable[[Any], bool]:
    """Which history events the caller sees: all, or for a submitter those of their own jobs and of no job."""
    if who.role != "submitter":
        return lambda _e: True
    return lambda e: e.job_id is None or users.submitter_of(svc.store, e.job_id) == who.user


@router.get("/snapshot", **allow(EVERYONE))
def get_snapshot(svc: Service, who: Caller) -> dict:
    """The same snapshot the stream sends, for clients that poll."""
    return snapshot(svc, who)


def _resume_after(request: Request, svc: LabService) -> int:
    """The event id to stream after: the client's `Last-Event-ID` on a reconnect (nothing lost or repeated),
    else the id before the newest BACKLOG events (a page opened now still shows what just happened)."""
    given = request.headers.get("last-event-id", "").strip()
    if given.isdigit():
        return int(given)
    return max(0, history.last_event_id(svc.store) - BACKLOG)


async def _events(request: Request, svc: LabService, who: Principal, tick_s: float) -> AsyncIterator[str]:
    """Yield SSE frames: `event` (with its id) for each history entry as the bus delivers it, after the backlog
    read once from the store; `snapshot` when the fleet changed, after events, or as a heartbeat."""
    shown = _shown_to(svc, who)
    loop = asyncio.get_running_loop()
    pushed: asyncio.Queue[Any] = asyncio.Queue()

    def push(event: BusEvent) -> None:
        loop.call_soon_threadsafe(pushed.put_nowait, event.data["event"])

    sub = svc.bus.subscribe(push, kinds=[LOGGED], name="live stream")
    try:
        last_event = _resume_after(request, svc)
        backlog = await asyncio.to_thread(history.list_events, svc.store, after_id=last_event)
        seen, idle = -1, HEARTBEAT_S
        while not await request.is_disconnected():
            new = [e for e in backlog if e.id > last_event]
            backlog = []
            try:
                new.append(await asyncio.wait_for(pushed.get(), timeout=tick_s))
                while not pushed.empty():
                    new.append(pushed.get_nowait())
            except TimeoutError:
                idle += tick_s
            for e in sorted(new, key=lambda e: e.id):
                if e.id > last_event:
                    last_event = e.id
                    if not shown(e):
                        continue
                    yield f"id: {e.id}\nevent: event\ndata: {EventOut(**e.to_dict()).model_dump_json()}\n\n"
            if svc.fleet.version != seen or new or idle >= HEARTBEAT_S:
                seen, idle = svc.fleet.version, 0.0
                data = await asyncio.to_thread(snapshot, svc, who)
                yield f"event: snapshot\ndata: {json.dumps(data)}\n\n"
    finally:
        await asyncio.to_thread(svc.bus.unsubscribe, sub)


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}}, **allow(EVERYONE))
async def stream(request: Request, svc: Service, who: Caller) -> StreamingResponse:
    """Server-sent events; browsers pass the key as ?api_key= or send their session cookie (a submitter sees
    their own jobs' events only)."""
    return StreamingResponse(_events(request, svc, who, 0.5), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})
