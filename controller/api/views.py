"""Turning store records and live fleet state into API bodies."""
from __future__ import annotations

import threading
import time

from pydantic import TypeAdapter

from controller.api.schemas import JobOut, LayerCheckOut, PrinterOut, RunOut, Temperatures
from controller.farm.service import LabService
from controller.store import history, jobs, printers
from controller.store.records import RUN_ACTIVE, Job, LayerCheck, Printer


def printer_out(svc: LabService, p: Printer) -> PrinterOut:
    """A printer with live temperatures and its running copy."""
    temps, run, connected = svc.fleet.live(p.name)
    check, job_name = None, None
    if run is not None:
        run = jobs.get_run(svc.store, run.id)
    elif p.host not in (None, svc.host):   # another host drives it: its copy as the store has it
        run = next(iter(jobs.list_runs(svc.store, states=RUN_ACTIVE, printer=p.name)), None)
    shown = run or jobs.last_run_on(svc.store, p.name)
    if shown is not None:
        job_name = jobs.get_job(svc.store, shown.job_id).name
        latest = history.latest_layer_check(svc.store, shown.id)
        check = check_out(latest) if latest else None
    return PrinterOut(name=p.name, port=p.port, baud=p.baud, camera=p.camera, profile=p.profile,
                      on_failure=p.on_failure, state=p.state, message=p.message, connected=connected,
                      temperatures=Temperatures(**temps.__dict__) if temps else None,
                      current_run=RunOut(**run.to_dict()) if run else None, job_name=job_name,
                      last_run=RunOut(**shown.to_dict()) if shown else None, latest_check=check, host=p.host,
                      nozzle=p.nozzle, materials=p.materials, tags=p.tags, bed=p.bed, spool_id=p.spool_id)


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
    """The printers list as JSON bytes for cheap status polls.

    A state change (printer added, job started or ended) rebuilds it before answering; mere progress or age only
    starts a rebuild in the background while the previous body is served, so a poll never waits on the database.
    """

    def __init__(self, max_age_s: float = 0.25) -> None:
        """Start empty."""
        self.max_age_s = max_age_s
        self._built: tuple[int, int, float] | None = None   # (state_version, version, monotonic time)
        self._body = b"[]"
        self._lock = threading.Lock()
        self._refreshing = False

    def _build(self, svc: LabService) -> None:
        """Rebuild the body from the store and the fleet."""
        fleet = svc.fleet
        stamp = (fleet.state_version, fleet.version, time.monotonic())
        try:
            body = TypeAdapter(list[PrinterOut]).dump_json(all_printers(svc))
        finally:
            with self._lock:
                self._refreshing = False
        with self._lock:
            self._built, self._body = stamp, body

    def get(self, svc: LabService) -> bytes:
        """Current JSON of every printer."""
        fleet = svc.fleet
        with self._lock:
            built = self._built
            sync = built is None or built[0] != fleet.state_version
            stale = built is not None and (built[1] != fleet.version
                                           or time.monotonic() - built[2] > self.max_age_s)
            if not sync and stale and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._build, args=(svc,), name="printers-cache", daemon=True).start()
            if not sync:
                return self._body
        self._build(svc)
        return self._body
