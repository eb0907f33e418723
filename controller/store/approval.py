"""Approval of submitted jobs: a held job waits as awaiting_approval until an operator approves it (its copies
join the queue, or slicing carries on) or rejects it with a reason (state rejected, the reason in its message)."""
from __future__ import annotations

from sqlalchemy import select

from controller.errors import ConflictError
from controller.store import jobs
from controller.store.db import Store, get_row
from controller.store.models import JobRow, RunRow
from controller.store.records import Job

AWAITING = "awaiting_approval"


def _held(row: JobRow) -> None:
    """ConflictError unless the job is waiting for a decision."""
    if row.state != AWAITING:
        raise ConflictError(f"job {row.id} is {row.state}, not {AWAITING}: only a waiting job can be approved "
                            "or rejected")


def approve(store: Store, job_id: int) -> Job:
    """Let a held job go: queued if its G-code is ready, else back to slicing."""
    with store.session() as s:
        row = get_row(s, JobRow, job_id, "job")
        _held(row)
        row.state = "queued" if row.gcode_path else "slicing"
    return jobs.get_job(store, job_id)


def reject(store: Store, job_id: int, reason: str, t: float) -> Job:
    """Refuse a held job: its copies are dropped and the reason becomes its message."""
    with store.session() as s:
        row = get_row(s, JobRow, job_id, "job")
        _held(row)
        row.state, row.message, row.finished_at = "rejected", reason, t
        for run in s.scalars(select(RunRow).where(RunRow.job_id == job_id, RunRow.state == "queued")):
            run.state, run.finished_at, run.message = "cancelled", t, f"rejected: {reason}"
    return jobs.get_job(store, job_id)
