"""Turning store records and live fleet state into API bodies."""
from __future__ import annotations

import threading
import time

from pydantic import TypeAdapter

from controller.api.schemas import JobOut, LayerCheckOut, PrinterOut, RunOut, Temperatures
from controller.service import LabService
from controller.store import history, jobs, printers
from controller.store.records import Job, LayerCheck, Printer


def printer_out(svc: LabService, p: Printer) -> PrinterOut:
    """A printer with live temperatures and its running copy."""
    temps, run, connected = svc.fleet.live(p.name)
    check, job_name = None, None
    if run is not None:
        run = jobs.get_run(svc.store, run.id)
    shown = run or jobs.last_run_on(svc.store, p.name)
    if shown is not None:
        job_name = jobs.get_job(svc.store, shown.job_id).name
        latest = history.latest_layer_check(svc.store, shown.id)
        check = check_out(latest) if latest else None
    return PrinterOut(name=p.name, port=p.port, baud=p.baud, camera=p.camera, profile=p.profile,
                      on_failure=p.on_failure, state=p.state, message=p.message, connected=connected,
                      temperatures=Temperatures(**temps.__dict__) if temps else None,
                      current_run=RunOut(**run.to_dict()) if run else None, job_name=job_name,
                      last_run=RunOut(**shown.to_dict()) if shown else None, latest_check=check)


def all_printers(svc: LabService) -> list[PrinterOut]:
    """Every printer."""
    return [printer_out(svc, p) for p in printers.list_printers(svc.store)]


def job_out(svc: LabService, job: Job, with_runs: bool = True) -> JobOut:
    """A job, with its runs."""
    d = job.to_dict()
    d.pop("gcode_path")
    runs = [RunOut(**r.to_dict()) for r in jobs.list_runs(svc.store, job_id=job.id)] if with_runs else []
    return JobOut(**d, runs=runs)


def check_out(c: LayerCheck) -> LayerCheckOut:
    """A layer check with image URLs instead of server paths."""
    base = f"/api/v1/layer-checks/{c.id}/image"
    return LayerCheckOut(id=c.id, run_id=c.run_id, layer=c.layer, ok=c.ok, verdict=c.verdict, figures=c.figures,
                         image_url=f"{base}?kind=photo" if c.image_path else None,
                         annotated_url=f"{base}?kind=annotated" if c.annotated_path else None, t=c.t)


class PrintersCache:
    """The printers list as JSON bytes, rebuilt when the fleet changes or after `max_age_s`: status polls are cheap."""

    def __init__(self, max_age_s: float = 0.25) -> None:
        """Start empty."""
        self.max_age_s = max_age_s
        self._key: tuple[int, float] | None = None
        self._body = b"[]"
        self._lock = threading.Lock()

    def get(self, svc: LabService) -> bytes:
        """Current JSON of every printer."""
        now = time.monotonic()
        with self._lock:
            key = self._key
            if key is None or key[0] != svc.fleet.version or now - key[1] > self.max_age_s:
                body = TypeAdapter(list[PrinterOut]).dump_json(all_printers(svc))
                self._key, self._body = (svc.fleet.version, now), body
            return self._body
