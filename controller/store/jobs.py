"""Store functions for files, jobs and runs: the queue lives here, so a restart sees exactly what was done."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.errors import ConflictError
from controller.store import maintenance
from controller.store.db import Store, get_row
from controller.store.models import FileRow, JobRow, PrinterRow, RunRow
from controller.store.records import RUN_ACTIVE, Job, Run, StoredFile


def _file(row: FileRow) -> StoredFile:
    """ORM row to record."""
    return StoredFile(row.id, row.name, row.path, row.kind, row.size, row.sha256, row.created_at)


def _run(row: RunRow, printer: str | None) -> Run:
    """ORM row to record."""
    return Run(row.id, row.job_id, row.copy_index, printer, row.state, list(row.excluded or []), row.layer,
               row.layer_count, row.percent, row.failed_layer, row.message, row.created_at, row.started_at,
               row.finished_at, list(row.objects or []), list(row.skipped or []), row.replaces, row.spool_id,
               row.used_g or 0.0)


def _job(s: Session, row: JobRow) -> Job:
    """ORM row to record, with run counts by state."""
    counts = Counter(s.scalars(select(RunRow.state).where(RunRow.job_id == row.id)))
    return Job(row.id, row.file_id, row.name, row.copies, row.priority, row.profile, list(row.printers or []),
               row.state, row.slice_progress, row.gcode_path, row.layer_count, row.message, row.created_at,
               row.finished_at, dict(counts), dict(row.requires or {}), dict(row.needs or {}))


def _named_run(row: RunRow, names: dict[int, str]) -> Run:
    """ORM row to record, its printer named from an id -> name map (see `_printer_names`)."""
    return _run(row, names.get(row.printer_id) if row.printer_id else None)


def _printer_names(s: Session) -> dict[int, str]:
    """Printer id to name."""
    return {i: n for i, n in s.execute(select(PrinterRow.id, PrinterRow.name))}


def add_file(store: Store, name: str, path: str, kind: str, size: int, sha256: str, t: float) -> StoredFile:
    """Record an uploaded file."""
    with store.session() as s:
        row = FileRow(name=name, path=path, kind=kind, size=size, sha256=sha256, created_at=t)
        s.add(row)
        s.flush()
        return _file(row)


def get_file(store: Store, file_id: int) -> StoredFile:
    """One uploaded file."""
    with store.session() as s:
        row = get_row(s, FileRow, file_id, "file")
        return _file(row)


def list_files(store: Store) -> list[StoredFile]:
    """All uploaded files, newest first."""
    with store.session() as s:
        return [_file(r) for r in s.scalars(select(FileRow).order_by(FileRow.id.desc()))]


def _add_runs(s: Session, job: JobRow, t: float) -> None:
    """Queue one run per copy."""
    for i in range(job.copies):
        s.add(RunRow(job_id=job.id, copy_index=i, state="queued", excluded=[], created_at=t,
                     layer_count=job.layer_count or 0))


def create_job(store: Store, file_id: int, name: str, copies: int, priority: int, t: float,
               profile: str | None = None, printers: list[str] | None = None,
               gcode_path: str | None = None, layer_count: int | None = None, held: bool = False,
               requires: dict | None = None, needs: dict | None = None) -> Job:
    """Create a job; with a G-code path its copies are queued at once, else it waits for slicing; a `held` job
    waits as awaiting_approval (its copies made but not taken) until an operator approves it. `requires` is what
    it asks of a printer, `needs` the filament per copy (controller/farm/matching.py)."""
    with store.session() as s:
        state = "awaiting_approval" if held else "queued" if gcode_path else "slicing"
        row = JobRow(file_id=file_id, name=name, copies=copies, priority=priority, profile=profile,
                     printers=list(printers or []), state=state,
                     slice_progress=1.0 if gcode_path else 0.0, gcode_path=gcode_path, layer_count=layer_count,
                     message="", created_at=t, requires=dict(requires or {}), needs=dict(needs or {}))
        s.add(row)
        s.flush()
        if gcode_path:
            _add_runs(s, row, t)
        s.flush()
        return _job(s, row)


def set_slice_progress(store: Store, job_id: int, fraction: float) -> None:
    """Record how far the background slicer is."""
    with store.session() as s:
        row = s.get(JobRow, job_id)
        if row is not None and row.state == "slicing":
            row.slice_progress = max(0.0, min(1.0, fraction))


def job_sliced(store: Store, job_id: int, gcode_path: str, layer_count: int, t: float,
               needs: dict | None = None) -> Job:
    """Slicing finished: keep the G-code (and the filament a copy needs) and queue the copies (unless the job was
    cancelled meanwhile)."""
    with store.session() as s:
        row = get_row(s, JobRow, job_id, "job")
        row.gcode_path, row.layer_count, row.slice_progress = gcode_path, layer_count, 1.0
        row.needs = dict(needs or {})
        if row.state in ("slicing", "awaiting_approval"):
            row.state = "queued" if row.state == "slicing" else row.state
            _add_runs(s, row, t)
        s.flush()
        return _job(s, row)


def fail_job(store: Store, job_id: int, message: str, t: float) -> None:
    """Mark a job failed before it printed (e.g. the mesh would not slice)."""
    with store.session() as s:
        row = get_row(s, JobRow, job_id, "job")
        row.state, row.message, row.finished_at = "failed", message, t


def get_job(store: Store, job_id: int) -> Job:
    """One job with its run counts."""
    with store.session() as s:
        return _job(s, get_row(s, JobRow, job_id, "job"))


def list_jobs(store: Store, states: tuple[str, ...] | None = None, limit: int = 200) -> list[Job]:
    """Jobs, newest first, optionally only in some states."""
    with store.session() as s:
        q = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
        if states:
            q = q.where(JobRow.state.in_(states))
        return [_job(s, r) for r in s.scalars(q)]


def list_runs(store: Store, job_id: int | None = None, states: tuple[str, ...] | None = None,
              printer: str | None = None) -> list[Run]:
    """Runs in queue order (priority, then age), filtered by job, state or printer."""
    with store.session() as s:
        names = _printer_names(s)
        q = (select(RunRow).join(JobRow, JobRow.id == RunRow.job_id)
             .order_by(JobRow.priority.desc(), RunRow.job_id, RunRow.id))
        if job_id is not None:
            q = q.where(RunRow.job_id == job_id)
        if states:
            q = q.where(RunRow.state.in_(states))
        if printer is not None:
            q = q.where(RunRow.printer_id == select(PrinterRow.id).where(PrinterRow.name == printer)
                        .scalar_subquery())
        return [_named_run(r, names) for r in s.scalars(q)]


def last_run_on(store: Store, printer: str) -> Run | None:
    """The newest run a printer started, whatever its state."""
    with store.session() as s:
        pid = s.scalar(select(PrinterRow.id).where(PrinterRow.name == printer))
        row = s.scalar(select(RunRow).where(RunRow.printer_id == pid).order_by(RunRow.id.desc()).limit(1))
        return _run(row, printer) if row is not None else None


def get_run(store: Store, run_id: int) -> Run:
    """One run."""
    with store.session() as s:
        row = get_row(s, RunRow, run_id, "run")
        return _named_run(row, _printer_names(s))


def _compatible(job: JobRow, run: RunRow, printer: PrinterRow) -> bool:
    """Whether a printer may take a run: allowed by the job, not excluded, and sliced for its profile."""
    if job.printers and printer.name not in job.printers:
        return False
    if printer.name in (run.excluded or []):
        return False
    return not (job.profile and printer.profile and job.profile != printer.profile)


Judge = Callable[[dict, dict, list[str]], "str | None"]  # (requires, needs, objects) -> why not, or None
NOBODY = "no printer can take it: "
PASSED_BY = "not taken by "


def claim_next_run(store: Store, printer: str, t: float, judge: Judge | None = None,
                   spool_id: int | None = None) -> tuple[Run, str] | None:
    """Atomically give the best queued run a printer can take to that printer; returns it and its G-code path.

    `judge` says why the printer (its capabilities and loaded spool) may not make a copy; each such reason is
    kept on the job (see `_passed_by`) and the run taken records `spool_id`, the spool it prints from.
    The candidates are read without locks, then taken one at a time with `FOR UPDATE SKIP LOCKED` and checked
    to be still queued: on PostgreSQL hosts sharing the queue never take one copy twice, and never wait on (or
    skip the whole queue because of) another host's claim.
    """
    with store.session() as s:
        prow = s.scalar(select(PrinterRow).where(PrinterRow.name == printer, PrinterRow.removed.is_(False)))
        if prow is None or maintenance.is_out(s, printer):
            return None
        q = (select(RunRow, JobRow).join(JobRow, JobRow.id == RunRow.job_id)
             .where(RunRow.state == "queued", JobRow.state.in_(("queued", "printing")))
             .order_by(JobRow.priority.desc(), RunRow.job_id, RunRow.id))
        for cand, job in s.execute(q).all():
            if not (_compatible(job, cand, prow) and job.gcode_path):
                continue
            why = judge(dict(job.requires or {}), dict(job.needs or {}), list(cand.objects or [])) if judge else None
            _passed_by(s, job, printer, why)
            if why is not None:
                continue
            run = s.scalar(select(RunRow).where(RunRow.id == cand.id, RunRow.state == "queued")
                           .with_for_update(skip_locked=True)
                           .execution_options(populate_existing=True))
            if run is None:
                continue   # another host holds or took it
            run.state, run.printer_id, run.started_at = "printing", prow.id, t
            run.layer, run.percent, run.spool_id, run.used_g = -1, 0.0, spool_id, 0.0
            job.state = "printing"
            s.flush()
            return _run(run, printer), job.gcode_path
        return None


def _passed_by(s: Session, job: JobRow, printer: str, why: str | None) -> None:
    """Keep why `printer` did not take a copy of the job (None: it could) and say it in the job's message:
    "no printer can take it: …" once every printer has said why, else "not taken by …"."""
    waiting = dict(job.waiting or {})
    if why is None:
        waiting.pop(printer, None)
    else:
        waiting[printer] = why
    if waiting == (job.waiting or {}):
        return
    job.waiting = waiting
    if job.message and not job.message.startswith((NOBODY, PASSED_BY)):
        return   # a message of its own (a rejection, a failure) stays
    names = set(s.scalars(select(PrinterRow.name).where(PrinterRow.removed.is_(False))))
    reasons = "; ".join(f"{p} {r}" for p, r in sorted(waiting.items()))
    job.message = "" if not waiting else (NOBODY if names <= set(waiting) else PASSED_BY) + reasons


def update_run_progress(store: Store, run_id: int, layer: int, layer_count: int, percent: float,
                        state: str | None = None) -> None:
    """Record the last confirmed layer and percentage of a running copy (and paused/printing)."""
    with store.session() as s:
        row = s.get(RunRow, run_id)
        if row is None:
            return
        row.layer, row.layer_count, row.percent = max(row.layer, layer), layer_count, percent
        if state in RUN_ACTIVE and row.state in RUN_ACTIVE:
            row.state = state


def confirm_layer(store: Store, run_id: int, layer: int) -> None:
    """Record that a layer of a run was printed and checked."""
    with store.session() as s:
        row = s.get(RunRow, run_id)
        if row is not None:
            row.layer = max(row.layer, layer)


def finish_run(store: Store, run_id: int, state: str, t: float, message: str = "",
               failed_layer: int | None = None) -> Run:
    """End a run (completed, failed, cancelled, interrupted) and bring its job's state up to date. A run already
    interrupted (its host was taken over, its copy queued again) stays so: the record comes back unchanged."""
    with store.session() as s:
        row = get_row(s, RunRow, run_id, "run")
        if row.state == "interrupted":
            return _named_run(row, _printer_names(s))
        row.state, row.finished_at, row.message = state, t, message
        if failed_layer is not None:
            row.failed_layer = failed_layer
        if state == "completed":
            row.percent = 100.0
        s.flush()
        _refresh_job(s, row.job_id, t)
        return _named_run(row, _printer_names(s))


def _queue_again(s: Session, old: RunRow, job: JobRow, t: float, excluded: list[str], objects: list[str],
                 replaces: int | None) -> RunRow:
    """A new queued run of the same copy as `old` (the objects it prints, [] = the whole plate)."""
    new = RunRow(job_id=old.job_id, copy_index=old.copy_index, state="queued", excluded=excluded, created_at=t,
                 layer_count=job.layer_count or 0, objects=objects, skipped=[], replaces=replaces)
    s.add(new)
    return new


def requeue_copy(store: Store, run_id: int, exclude: str, t: float) -> Run:
    """Queue the copy of a failed run again, never on the printer that failed it (see `remake_copy`)."""
    with store.session() as s:
        old = get_row(s, RunRow, run_id, "run")
        new = remake_copy(s, old, t, sorted(set(old.excluded or []) | {exclude}))
        return _run(new, None)


def remake_copy(s: Session, old: RunRow, t: float, excluded: list[str]) -> RunRow:
    """Queue again the copy an ended run was making: the new run makes what the old one was to make (a
    replacement stays a replacement); replacements still queued for objects the old run had dropped are
    withdrawn, since the new run makes the whole copy again."""
    job = get_row(s, JobRow, old.job_id, "job")
    new = _queue_again(s, old, job, t, excluded, list(old.objects or []), old.replaces)
    for waiting in s.scalars(select(RunRow).where(RunRow.replaces == old.id, RunRow.state == "queued")):
        waiting.state, waiting.finished_at = "cancelled", t
        waiting.message = f"run {old.id} ended unfinished; its copy is made again whole"
    if job.state not in ("cancelled",):
        job.state, job.finished_at = "printing" if job.state == "printing" else "queued", None
    s.flush()
    _refresh_job(s, job.id, t)
    return new


def record_skipped(store: Store, run_id: int, names: list[str] | tuple[str, ...], t: float) -> Run | None:
    """A running copy dropped objects from its plate: record them and queue one replacement run that prints
    only the newly dropped ones (on any printer). Returns the replacement, or None when nothing is new."""
    with store.session() as s:
        old = get_row(s, RunRow, run_id, "run")
        known = list(old.skipped or [])
        fresh = [n for n in names if n not in known]
        if not fresh:
            return None
        old.skipped = known + fresh
        job = get_row(s, JobRow, old.job_id, "job")
        if job.state == "cancelled":
            return None
        new = _queue_again(s, old, job, t, list(old.excluded or []), fresh, old.id)
        s.flush()
        _refresh_job(s, job.id, t)
        return _run(new, None)


def cancel_job(store: Store, job_id: int, t: float) -> list[Run]:
    """Cancel a job: queued copies are dropped; returns the active runs the fleet must stop."""
    with store.session() as s:
        job = get_row(s, JobRow, job_id, "job")
        if job.state in ("done", "failed", "cancelled", "rejected"):
            raise ConflictError(f"job {job_id} is already {job.state}")
        names = _printer_names(s)
        active = []
        for run in s.scalars(select(RunRow).where(RunRow.job_id == job_id)):
            if run.state == "queued":
                run.state, run.finished_at, run.message = "cancelled", t, "cancelled before it started"
            elif run.state in RUN_ACTIVE:
                active.append(_named_run(run, names))
        job.state, job.finished_at = "cancelled", t
        return active


def interrupt_active_runs(store: Store, t: float, host: str | None = None,
                          why: str = "the service stopped while printing") -> list[Run]:
    """At start-up: the runs left printing on `host`'s printers (every printer when None) become interrupted at
    their last confirmed layer and never resume; a new run of each copy is queued (see `interrupt_runs_in`)."""
    with store.session() as s:
        return interrupt_runs_in(s, t, host, why)


def interrupt_runs_in(s: Session, t: float, host: str | None, why: str) -> list[Run]:
    """In an open transaction: interrupt the active runs of `host`'s printers (all when None), queue each copy
    again (not for a cancelled job) and bring their jobs up to date. Returns the interrupted runs."""
    names = _printer_names(s)
    q = select(RunRow).where(RunRow.state.in_(RUN_ACTIVE)).order_by(RunRow.id).with_for_update()
    if host is not None:
        q = q.where(RunRow.printer_id.in_(select(PrinterRow.id).where(PrinterRow.host == host)))
    out = []
    for run in s.scalars(q).all():
        run.state, run.finished_at = "interrupted", t
        run.message = f"{why}; last confirmed layer {run.layer}"
        out.append(_named_run(run, names))
        s.flush()
        if get_row(s, JobRow, run.job_id, "job").state != "cancelled":
            remake_copy(s, run, t, list(run.excluded or []))
    s.flush()
    for job_id in {r.job_id for r in out}:
        _refresh_job(s, job_id, t)
    return out


def _refresh_job(s: Session, job_id: int, t: float) -> None:
    """Derive a job's state from its runs: printing, queued, done (every copy made) or failed."""
    job = get_row(s, JobRow, job_id, "job")
    if job.state in ("cancelled", "slicing"):
        return
    rows = list(s.scalars(select(RunRow).where(RunRow.job_id == job_id).order_by(RunRow.id)))
    states = Counter(r.state for r in rows)
    if any(states[k] for k in RUN_ACTIVE):
        job.state = "printing"
    elif states["queued"]:
        job.state = "queued"
    else:
        made = copies_made(rows)
        job.state = "done" if made >= job.copies else "failed"
        job.finished_at = t
        if job.waiting:     # nothing left to take: why printers passed it by is history now
            job.waiting = {}
            job.message = "" if job.message.startswith((NOBODY, PASSED_BY)) else job.message
        if job.state == "failed":
            job.message = f"{made} of {job.copies} copies made"


def copies_made(rows: list[RunRow]) -> int:
    """Copies of a job made whole: a completed run of the whole plate, with every object it dropped made by
    completed replacement runs (which may drop objects in turn, made by theirs)."""
    missing: dict[int, set[str] | None] = {}
    for r in rows:
        if r.state != "completed":
            continue
        dropped = set(r.skipped or [])
        if not r.objects:
            have = missing.get(r.copy_index)
            missing[r.copy_index] = dropped if have is None else have & dropped
    for r in rows:
        gap = missing.get(r.copy_index)
        if r.state == "completed" and r.objects and gap:
            gap -= set(r.objects) - set(r.skipped or [])
    return sum(1 for gap in missing.values() if gap is not None and not gap)


def count_parts(store: Store) -> dict[str, int]:
    """Completed runs per printer name."""
    with store.session() as s:
        q = (select(PrinterRow.name, func.count(RunRow.id)).join(RunRow, RunRow.printer_id == PrinterRow.id)
             .where(RunRow.state == "completed").group_by(PrinterRow.name))
        return {n: c for n, c in s.execute(q)}
