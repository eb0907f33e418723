"""A copy's build record assembled from the store: the part's serial, the design and G-code with their hashes, the
slicer, the printer and its firmware (its M115 answer, kept in the history when it connected), the spool, who
submitted, approved and started it, when it ran, every pause and interruption, every layer's verdict with its
figures and the photo's SHA-256, the timelapse and the disposition. Sealing it is `controller.store.build_seal`."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select

from controller.errors import NotFoundError
from controller.store import disposition, history, jobs, spools, users
from controller.store.build_chain import plain
from controller.store.db import Store
from controller.store.models import EventRow, PrinterRow
from controller.store.records import Event, LayerCheck, Run

SCHEMA = "printloop.build-record/1"
TIMELAPSE_FILES = ("timelapse.mp4", "timelapse.webm")
PAUSE_KINDS = frozenset({"pause", "paused", "resume", "resumed", "interrupted", "action", "cancel", "cancelled",
                         "failed", "vision_failure", "error", "firmware_error", "reset", "taken_over",
                         "object_skipped", "replacement_queued"})
"""History events that interrupt, pause, resume or end a copy (what the record lists with their reasons)."""
_JOB_WIDE = ("pause", "resume", "cancel")          # job events without a run that reach every printing copy


def serial_of(run: Run) -> str:
    """The part's serial: its job, copy (1-based) and run, stable and unique (`J0007-C02-R00019`)."""
    return f"J{run.job_id:04d}-C{run.copy_index + 1:02d}-R{run.id:05d}"


def spool_of(store: Store, run: Run) -> dict[str, Any] | None:
    """The spool a copy was printed from ({id, material, lot, ...}) and the grams it took, or None when the copy
    printed from no known spool. A spool kept in Spoolman is named by its id there only."""
    if run.spool_id is None:
        return None
    try:
        sp = spools.LocalSpools(store).get(run.spool_id)
    except NotFoundError:
        return {"id": run.spool_id, "store": "spoolman", "used_g": round(run.used_g, 3)}
    return {"id": sp.id, "material": sp.material, "brand": sp.brand, "colour": sp.colour, "lot": sp.lot,
            "diameter": sp.diameter, "density": sp.density, "used_g": round(run.used_g, 3)}


def iso(t: float | None) -> str | None:
    """A time as ISO 8601 UTC with milliseconds, or None."""
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def file_sha256(path: str | Path | None) -> str | None:
    """SHA-256 (hex) of a file's bytes, or None when there is no such file."""
    if not path or not Path(path).is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=32)
def _gcode_facts(path: str, size: int, mtime_ns: int) -> dict[str, Any]:
    """What the job plan says of a G-code file (cached per file version: the copies of a job share it)."""
    from slicing.gcode_origin import slicer_origin
    from slicing.job_plan import plan_file

    plan = plan_file(path)
    origin = slicer_origin(plan.header)
    return {"name": Path(path).name, "sha256": file_sha256(path), "size": size, "slicer": origin.slicer,
            "slicer_version": origin.version, "profile": origin.profile, "nozzle_mm": origin.nozzle_mm,
            "flavor": plan.flavor, "layers": plan.layer_count, "estimate_s": round(plan.estimate_s, 1),
            "filament_mm": round(plan.filament_mm, 1), "objects": [o.name for o in plan.objects]}


def gcode_facts(path: str | None) -> dict[str, Any] | None:
    """The G-code's name, hash, slicer, version, profile and plan figures, or None when the file is gone."""
    if not path or not Path(path).is_file():
        return None
    st = Path(path).stat()
    return dict(_gcode_facts(str(path), st.st_size, st.st_mtime_ns))


def _event(e: Event) -> dict[str, Any]:
    """A history event as the record lists it."""
    return {"at": iso(e.t), "kind": e.kind, "message": e.message, "actor": e.actor, "data": e.data}


def copy_events(store: Store, run: Run) -> list[Event]:
    """The run's own events, the job's pause/resume/cancel and the printer's own events while it printed."""
    start, end = run.started_at or 0.0, run.finished_at if run.finished_at is not None else float("inf")
    window = and_(EventRow.t >= start, EventRow.t <= end)
    with store.session() as s:
        q = select(EventRow).where(or_(
            EventRow.run_id == run.id,
            and_(EventRow.job_id == run.job_id, EventRow.run_id.is_(None), EventRow.kind.in_(_JOB_WIDE), window),
            and_(EventRow.job_id.is_(None), EventRow.printer == run.printer,
                 EventRow.kind.in_(history.PRINTER_HISTORY_KINDS), window))).order_by(EventRow.t, EventRow.id)
        return [history.event_record(r) for r in s.scalars(q)]


def _last_before(store: Store, kind: str, printer: str | None, t: float | None) -> Event | None:
    """The newest event of a kind about a printer up to a time."""
    if printer is None or t is None:
        return None
    with store.session() as s:
        row = s.scalar(select(EventRow).where(EventRow.kind == kind, EventRow.printer == printer, EventRow.t <= t)
                       .order_by(EventRow.t.desc(), EventRow.id.desc()).limit(1))
        return history.event_record(row) if row is not None else None


def _actor_of(events: list[Event], kinds: tuple[str, ...]) -> str | None:
    """The actor of the first event of one of these kinds."""
    return next((e.actor for e in events if e.kind in kinds), None)


def _people(store: Store, run: Run, own: list[Event]) -> dict[str, str | None]:
    """Who submitted the job, approved it, let this copy start (cleared the bed) and started it."""
    job_events = history.list_events(store, job_id=run.job_id)
    cleared = _last_before(store, "bed_cleared", run.printer, run.started_at)
    return {"submitted_by": users.submitter_of(store, run.job_id) or _actor_of(job_events, ("queued", "slicing")),
            "approved_by": _actor_of(job_events, ("approved",)),
            "bed_cleared_by": cleared.actor if cleared is not None else None,
            "started_by": _actor_of(own, ("started",))}


def _printer(store: Store, run: Run, gcode: dict[str, Any] | None) -> dict[str, Any]:
    """The printer, what its firmware said to M115 when it last connected before the copy, and the nozzle."""
    connected = _last_before(store, "connected", run.printer, run.started_at)
    fields = dict(connected.data.get("firmware") or {}) if connected is not None else {}
    return {"name": run.printer, "firmware": fields.get("FIRMWARE_NAME"), "m115": fields or None,
            "capabilities": connected.data.get("capabilities") if connected is not None else None,
            "nozzle": _nozzle(store, run, gcode)}


def _nozzle(store: Store, run: Run, gcode: dict[str, Any] | None) -> float | None:
    """The printer's nozzle as its config states it, else the nozzle the G-code says it was sliced for."""
    if run.printer is not None:
        with store.session() as s:
            fitted = s.scalar(select(PrinterRow.nozzle).where(PrinterRow.name == run.printer))
        if fitted is not None:
            return float(fitted)
    return gcode.get("nozzle_mm") if gcode else None


def _layer(check: LayerCheck) -> dict[str, Any]:
    """One layer's verdict, figures, and its photo (and annotated photo) with their hashes."""
    photo = Path(check.image_path) if check.image_path else None
    marked = Path(check.annotated_path) if check.annotated_path else None
    return {"layer": check.layer, "check_id": check.id, "ok": check.ok, "verdict": check.verdict,
            "figures": check.figures, "at": iso(check.t),
            "photo": photo.name if photo else None, "photo_sha256": file_sha256(photo),
            "annotated": marked.name if marked else None, "annotated_sha256": file_sha256(marked)}


def photo_folder(checks: list[LayerCheck]) -> Path | None:
    """The folder of a run's photos (and timelapse), from where its layer photos are."""
    return next((Path(c.image_path).parent for c in checks if c.image_path), None)


def _timelapse(folder: Path | None, own: list[Event]) -> dict[str, Any] | None:
    """The timelapse files with their hashes, and what writing them reported."""
    if folder is None:
        return None
    files = [{"file": n, "sha256": file_sha256(folder / n)} for n in TIMELAPSE_FILES if (folder / n).is_file()]
    made = next((e for e in reversed(own) if e.kind in ("timelapse", "timelapse_failed")), None)
    if not files and made is None:
        return None
    return {"files": files, "frames": made.data.get("frames") if made is not None else None,
            "note": made.message if made is not None else None}


def assemble(store: Store, run_id: int) -> dict[str, Any]:
    """The record of one run as it stands now (not sealed: no seq, prev_hash or hash)."""
    run = jobs.get_run(store, run_id)
    job = jobs.get_job(store, run.job_id)
    design = jobs.get_file(store, job.file_id)
    gcode = gcode_facts(job.gcode_path)
    if gcode is not None:   # the name it was uploaded (or sliced) as; `file` is where the service keeps it
        named = design.name if design.kind == "gcode" else Path(design.name).with_suffix(".gcode").name
        gcode = {**gcode, "file": gcode["name"], "name": named,
                 "profile": gcode["profile"] or ({"file": job.profile} if job.profile else {})}
    own = copy_events(store, run)
    checks = history.list_layer_checks(store, run_id=run.id)
    decided = disposition.latest_decision(store, run.id)
    end = run.finished_at
    return plain({
        "schema": SCHEMA, "serial": serial_of(run), "run_id": run.id,
        "job": {"id": job.id, "name": job.name, "copies": job.copies, "copy": run.copy_index + 1,
                "priority": job.priority},
        "design": {"name": design.name, "kind": design.kind, "sha256": design.sha256, "size": design.size},
        "gcode": gcode, "printer": _printer(store, run, gcode), "spool": spool_of(store, run),
        "people": _people(store, run, own),
        "objects": run.objects, "skipped": run.skipped, "replaces": run.replaces,
        "start": iso(run.started_at), "end": iso(end),
        "duration_s": round(end - run.started_at, 3) if end is not None and run.started_at is not None else None,
        "outcome": {"state": run.state, "message": run.message, "failed_layer": run.failed_layer,
                    "layers_printed": run.layer + 1, "layer_count": run.layer_count},
        "interruptions": [_event(e) for e in own if e.kind in PAUSE_KINDS],
        "events": [_event(e) for e in own],
        "layers": [_layer(c) for c in checks],
        "timelapse": _timelapse(photo_folder(checks), own),
        "disposition": None if decided is None else {"decision": decided.decision, "reason": decided.reason,
                                                     "by": decided.actor, "at": iso(decided.t)},
    })
