"""When build records are sealed: a copy that was printed and has ended is sealed once it is settled (its
timelapse written, or it had no photos, or it was interrupted, or it ended SETTLE_S ago), in the order copies
settle; a disposition given after that seals a new version of the record at the head of the chain. Sealing is
driven by the history's events on the bus, and caught up whenever records are read or exported."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from controller.events import LOGGED, EventBus, Subscription
from controller.events import Event as BusEvent
from controller.store import build_chain, build_record, disposition, jobs
from controller.store.build_chain import BuildRecordRow
from controller.store.db import Store
from controller.store.models import EventRow, LayerCheckRow, RunRow
from controller.store.records import RUN_FINAL

SETTLE_S = 300.0
"""A copy whose timelapse never came (the service stopped while writing it) is sealed this long after it ended."""
SEAL_ON = frozenset({"completed", "failed", "cancelled", "interrupted", "vision_failure", "taken_over",
                     "timelapse", "timelapse_failed"})
"""History events after which a copy may have settled."""
_lock = threading.Lock()   # one sealer at a time in this process (other hosts: see build_chain.append)


def _settled(store: Store, run: RunRow, now: float) -> bool:
    """Whether nothing more will be added to an ended copy's record by the service itself."""
    if run.state == "interrupted" or (run.finished_at is not None and run.finished_at <= now - SETTLE_S):
        return True
    with store.session() as s:
        photos = s.scalar(select(LayerCheckRow.id).where(LayerCheckRow.run_id == run.id,
                                                         LayerCheckRow.image_path.is_not(None)).limit(1))
        written = s.scalar(select(EventRow.id).where(EventRow.run_id == run.id, EventRow.kind.in_(
            ("timelapse", "timelapse_failed"))).limit(1))
    return photos is None or written is not None


def unsealed(store: Store) -> list[RunRow]:
    """Ended copies that were printed and have no sealed record, in the order they ended."""
    sealed = select(BuildRecordRow.seq).where(BuildRecordRow.run_id == RunRow.id).exists()
    with store.session() as s:
        q = (select(RunRow).where(RunRow.state.in_(RUN_FINAL), RunRow.started_at.is_not(None), ~sealed)
             .order_by(RunRow.finished_at, RunRow.id))
        return list(s.scalars(q))


def _seal(store: Store, run_id: int, t: float) -> dict[str, Any]:
    """Seal the record of a run as it stands now, at the head of the chain."""
    body = build_record.assemble(store, run_id)
    body["sealed_at"] = build_record.iso(t)
    run = jobs.get_run(store, run_id)
    return build_chain.append(store, run_id, run.job_id, body["serial"], body, t)


def seal_ready(store: Store, now: float) -> list[dict[str, Any]]:
    """Seal every settled copy that is not sealed yet; returns the records sealed."""
    with _lock:
        return [_seal(store, r.id, now) for r in unsealed(store) if _settled(store, r, now)]


def record_of(store: Store, run_id: int, now: float, catch_up: bool = True) -> dict[str, Any]:
    """A run's newest sealed record, or the record as it stands (seq, prev_hash and hash None) while it is
    unsealed (still printing, or its timelapse being written); first seals what settled unless told not to."""
    if catch_up:
        seal_ready(store, now)
    sealed = build_chain.latest(store, run_id)
    if sealed is not None:
        return sealed
    body = build_record.assemble(store, run_id)
    return {**body, "sealed_at": None, "seq": None, "version": None, "prev_hash": None, "field_sha256": None,
            "hash": None}


def dispose(store: Store, run_id: int, decision: str, reason: str, actor: str, now: float) -> dict[str, Any]:
    """Record an operator's decision on a copy; a sealed record is sealed again, as a new version, with it."""
    disposition.decide(store, run_id, decision, reason, actor, now)
    with _lock:
        if build_chain.latest(store, run_id) is not None:
            return _seal(store, run_id, now)
    return record_of(store, run_id, now)


def seal_on_bus(store: Store, bus: EventBus, clock: Callable[[], float]) -> Subscription:
    """Subscribe the sealer to the history's events on the bus: a copy's end or its timelapse seals what settled."""
    def on_logged(event: BusEvent) -> None:
        logged = event.data.get("event")
        if logged is not None and logged.kind in SEAL_ON:
            seal_ready(store, clock())

    return bus.subscribe(on_logged, (LOGGED,), name="build-records")
