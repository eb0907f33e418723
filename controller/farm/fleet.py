"""The printers at work: connects them, starts queued copies on idle ones, follows progress, handles failures."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from controller.errors import ConflictError, ControllerError
from controller.farm.bed_watch import check_bed, run_photo_dir
from controller.farm.driver import (
    CountingDriver,
    DriverTemps,
    LayerReport,
    LinkCounts,
    PrinterDriver,
    RunHandle,
    RunProgress,
)
from controller.farm.filament import Ledger
from controller.printer.timelapse import Timelapse, write_in_background
from controller.store import Store, history, hosts, jobs, printers
from controller.store.records import Printer, Run
from controller.store.spools import LocalSpools, SpoolStore

log = logging.getLogger(__name__)
Clock = Callable[[], float]
RECONNECT_S = 5.0
WRITERS_S = 120.0   # how long stop() waits for timelapses still being written


@dataclass
class Slot:
    """A printer's live, in-memory side: its driver, the print it runs and the latest readings."""

    printer: Printer
    driver: PrinterDriver
    connected: bool = False
    next_connect: float = 0.0
    handle: RunHandle | None = None
    run: Run | None = None
    held: RunHandle | None = None
    last_progress: tuple = ()
    failure: LayerReport | None = None
    skipped: tuple[str, ...] = ()          # objects the running copy has dropped (replacements queued)
    gcode: str = ""                        # the running copy's G-code file
    temps: DriverTemps | None = None
    next_temp: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Fleet:
    """Drives every printer from the store's queue; `tick()` does one round and is what tests call."""

    def __init__(self, store: Store, data_dir: Path, make_driver: Callable[[Printer], PrinterDriver],
                 clock: Clock = time.time, temperature_interval_s: float = 5.0, host: str | None = None,
                 spool_store: SpoolStore | None = None) -> None:
        """Wire the store, the driver factory and the clock; with `host`, only that host's printers are driven;
        spools are kept in `spool_store` (printloop's own by default)."""
        self.store, self.data_dir, self.make_driver, self.clock = store, Path(data_dir), make_driver, clock
        self.ledger = Ledger(store, spool_store or LocalSpools(store), clock)
        self.host = host
        self.temperature_interval_s = temperature_interval_s
        self.slots: dict[str, Slot] = {}
        self.lock = threading.RLock()
        self.changed = threading.Condition()
        self.version = 0
        self.state_version = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writers: list[threading.Thread] = []    # timelapses being written (finished before stop returns)

    # -- start-up and the loop ------------------------------------------------------------------------
    def recover(self) -> list[Run]:
        """After a restart: mark this host's runs left printing as interrupted (their copies queued again) and
        their printers as needing attention."""
        t = self.clock()
        interrupted = jobs.interrupt_active_runs(self.store, t, host=self.host)
        for run in interrupted:
            if run.printer:
                printers.set_printer_state(self.store, run.printer, "needs_attention",
                                           f"run {run.id} was interrupted at layer {run.layer}; check the bed")
            history.add_event(self.store, "interrupted", run.message, t, job_id=run.job_id, run_id=run.id,
                              printer=run.printer, data={"layer": run.layer})
        return interrupted

    def start(self, interval_s: float = 0.2) -> None:
        """Run `tick()` in a background thread until `stop()`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(interval_s,), name="fleet", daemon=True)
        self._thread.start()

    def _loop(self, interval_s: float) -> None:
        """The background loop: one tick, then wait."""
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # keep the queue alive; the error is in the log
                log.exception("fleet tick failed")
            self._stop.wait(interval_s)

    def stop(self) -> None:
        """Stop the loop and close every printer link (prints in progress are left as they are)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        deadline = time.monotonic() + WRITERS_S
        for writer in self._writers:   # a video half written when the process exits would abort it
            writer.join(timeout=max(0.0, deadline - time.monotonic()))
        with self.lock:
            for slot in self.slots.values():
                try:
                    slot.driver.close()
                except Exception:
                    log.exception("closing %s failed", slot.printer.name)

    def notify(self, structural: bool = True) -> None:
        """Tell live-update listeners that something changed; structural = a state change, not just progress."""
        with self.changed:
            self.version += 1
            if structural:
                self.state_version += 1
            self.changed.notify_all()

    # -- one round --------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Sync printers with the store, connect, follow prints, then hand queued copies to idle printers."""
        with self.lock:
            self._sync_printers()
            now = self.clock()
            for slot in list(self.slots.values()):
                self._connect(slot, now)
                self._sample_temps(slot, now)
                if slot.handle is not None:
                    running = slot.run
                    self._follow(slot)
                    self._ended(running, slot.run)
            for slot in self.slots.values():
                if slot.connected and slot.handle is None and self._state(slot) == "idle":
                    self._assign(slot)

    def _state(self, slot: Slot) -> str:
        """The stored state of a printer."""
        return printers.get_printer(self.store, slot.printer.name).state

    def _set_state(self, slot: Slot, state: str, message: str = "") -> None:
        """Store a printer state change and log it."""
        if self._state(slot) != state:
            printers.set_printer_state(self.store, slot.printer.name, state, message)
            history.add_event(self.store, "printer", f"{slot.printer.name} is {state}"
                              + (f": {message}" if message else ""), self.clock(), printer=slot.printer.name,
                              data={"state": state})
            self.notify()

    def _sync_printers(self) -> None:
        """Add slots for new printers and drop removed ones."""
        every = printers.list_printers(self.store)
        if self.host is not None and any(p.host is None for p in every):   # added without a host: ours now
            hosts.adopt_printers(self.store, self.host)
            every = printers.list_printers(self.store)
        current = {p.name: p for p in every if self.host is None or p.host == self.host}
        for name in list(self.slots):
            if name not in current and self.slots[name].handle is None:
                self.slots.pop(name).driver.close()
        for name, p in current.items():
            if name not in self.slots:
                self.slots[name] = Slot(p, self.make_driver(p))

    def _connect(self, slot: Slot, now: float) -> None:
        """Open the link of an unconnected printer, retrying every few seconds."""
        if slot.connected or now < slot.next_connect:
            return
        try:
            slot.driver.connect()
        except (ControllerError, OSError) as exc:
            slot.next_connect = now + RECONNECT_S
            printers.set_printer_state(self.store, slot.printer.name, "offline", str(exc))
            return
        slot.connected = True
        state = self._state(slot)
        self._set_state(slot, "idle" if state in ("offline", "error") else state)

    def _sample_temps(self, slot: Slot, now: float) -> None:
        """Keep the latest temperatures and store one sample per interval."""
        if not slot.connected:
            return
        slot.temps = slot.driver.temperatures()
        if slot.temps is not None and now >= slot.next_temp:
            t = slot.temps
            printers.add_temperature(self.store, slot.printer.name, now, t.hotend, t.hotend_target, t.bed,
                                     t.bed_target)
            slot.next_temp = now + self.temperature_interval_s

    def _assign(self, slot: Slot) -> None:
        """Start the best queued copy this printer can take."""
        now = self.clock()
        stored, judge = self.ledger.judge(slot.printer.name)
        claimed = jobs.claim_next_run(self.store, slot.printer.name, now, judge, stored.spool_id)
        if claimed is None:
            return
        run, gcode = claimed
        photo_dir = run_photo_dir(self.data_dir, run)
        photo_dir.mkdir(parents=True, exist_ok=True)
        slot.failure = None
        try:
            slot.handle = slot.driver.start(Path(gcode), photo_dir, self._layer_callback(slot, run),
                                            objects=run.objects)
        except (ControllerError, OSError) as exc:
            jobs.finish_run(self.store, run.id, "failed", now, f"could not start on {slot.printer.name}: {exc}")
            jobs.requeue_copy(self.store, run.id, slot.printer.name, now)
            self._set_state(slot, "error", str(exc))
            slot.connected = False
            return
        slot.run, slot.last_progress, slot.skipped, slot.gcode = run, (), (), gcode
        only = f" ({', '.join(run.objects)} only, replacing run {run.replaces})" if run.objects else ""
        history.add_event(self.store, "started", f"copy {run.copy_index + 1}{only} started on {slot.printer.name}",
                          now, job_id=run.job_id, run_id=run.id, printer=slot.printer.name)
        self._set_state(slot, "printing")

    def _layer_callback(self, slot: Slot, run: Run) -> Callable[[LayerReport], None]:
        """Store each layer check the moment it arrives; remember the first failure for the next tick."""
        def on_layer(report: LayerReport) -> None:
            history.add_layer_check(self.store, run.id, report.layer, report.ok, report.verdict, self.clock(),
                                    report.figures, report.image_path, report.annotated_path)
            jobs.confirm_layer(self.store, run.id, report.layer)
            if not report.ok and slot.failure is None:
                slot.failure = report
            self.notify(structural=False)
        return on_layer

    def _follow(self, slot: Slot) -> None:
        """Record progress of the running copy and settle it when it ends or vision fails it."""
        assert slot.handle is not None and slot.run is not None
        prog = slot.handle.progress()
        run, now, name = slot.run, self.clock(), slot.printer.name
        self.ledger.charge(run, slot.gcode, None if prog.state == "completed" else prog.line, prog.skipped)
        key = (prog.state, prog.layer, round(prog.percent, 1))
        if key != slot.last_progress:
            slot.last_progress = key
            jobs.update_run_progress(self.store, run.id, prog.layer, prog.layer_count, prog.percent,
                                     "paused" if prog.state == "paused" else "printing")
            if prog.state in ("running", "paused"):
                self._set_state(slot, "printing" if prog.state == "running" else "paused")
            self.notify(structural=False)
        if prog.skipped != slot.skipped:
            self._replace_skipped(slot, prog.skipped)
        failure = slot.failure
        if failure is not None and slot.printer.on_failure != "warn":
            msg = f"vision caught {failure.verdict} at layer {failure.layer}"
            jobs.finish_run(self.store, run.id, "failed", now, msg, failed_layer=failure.layer)
            new = jobs.requeue_copy(self.store, run.id, name, now)
            history.add_event(self.store, "vision_failure", f"{msg} on {name}; copy re-queued as run {new.id}",
                              now, job_id=run.job_id, run_id=run.id, printer=name,
                              data={"layer": failure.layer, "verdict": failure.verdict}, actor="service:vision")
            slot.held = slot.handle if prog.state not in ("completed", "cancelled", "failed") else None
            slot.handle, slot.run = None, None
            self._set_state(slot, "needs_attention", msg)
            return
        if prog.state == "completed":
            if jobs.finish_run(self.store, run.id, "completed", now).state == "interrupted":
                self._taken_over(slot, run)
                return
            history.add_event(self.store, "completed", f"copy {run.copy_index + 1} finished on {name}", now,
                              job_id=run.job_id, run_id=run.id, printer=name, actor=f"printer:{name}")
            slot.handle, slot.run = None, None
            self._set_state(slot, "awaiting_clear", "remove the part, then confirm the bed is clear")
        elif prog.state in ("cancelled", "failed"):
            state = "cancelled" if prog.state == "cancelled" else "failed"
            jobs.finish_run(self.store, run.id, state, now, prog.reason, failed_layer=max(prog.layer, 0))
            if state == "failed":
                jobs.requeue_copy(self.store, run.id, name, now)
            history.add_event(self.store, state, f"copy {run.copy_index + 1} {state} on {name}: {prog.reason}",
                              now, job_id=run.job_id, run_id=run.id, printer=name, actor=f"printer:{name}")
            slot.handle, slot.run = None, None
            self._set_state(slot, "awaiting_clear" if state == "cancelled" else "needs_attention", prog.reason)

    def _replace_skipped(self, slot: Slot, skipped: tuple[str, ...]) -> None:
        """The running copy dropped objects from its plate: record them and queue a replacement for them."""
        assert slot.run is not None
        run, now, name = slot.run, self.clock(), slot.printer.name
        fresh = [n for n in skipped if n not in slot.skipped]
        slot.skipped = tuple(skipped)
        new = jobs.record_skipped(self.store, run.id, fresh, now)
        if new is not None:
            history.add_event(self.store, "replacement_queued",
                              f"{', '.join(fresh)} of copy {run.copy_index + 1} dropped on {name}; "
                              f"replacement queued as run {new.id}", now, job_id=run.job_id, run_id=new.id,
                              printer=name, data={"objects": fresh, "replaces": run.id})
        self.notify()

    # -- a farm of hosts: runs another host took over while this one was silent (controller/farm/heartbeat.py) --
    def stop_taken_over(self, wait: bool = True) -> list[Run]:
        """Stop, safely, every copy this host prints whose run the store says was interrupted by another host.
        With `wait=False` nothing is done while a tick holds the fleet (the heartbeat asks again next round rather
        than beat late: a late beat would have this host's live runs taken over)."""
        if not self.lock.acquire(blocking=wait):
            return []
        stopped = []
        try:
            for slot in self.slots.values():
                if slot.run is not None and jobs.get_run(self.store, slot.run.id).state == "interrupted":
                    stopped.append(slot.run)
                    self._taken_over(slot, slot.run)
        finally:
            self.lock.release()
        return stopped

    def _taken_over(self, slot: Slot, run: Run) -> None:
        """Cancel the print (heaters off, head parked by the driver), say so, and wait for a person."""
        if slot.handle is not None:
            slot.handle.cancel()
        slot.held, slot.handle, slot.run = None, None, None
        msg = (f"run {run.id} was taken over by another host while {self.host or 'this host'} was silent; "
               f"stopped here, its copy is made elsewhere: check the bed")
        history.add_event(self.store, "taken_over", msg, self.clock(), job_id=run.job_id, run_id=run.id,
                          printer=slot.printer.name)
        self._set_state(slot, "needs_attention", msg)

    # -- commands from the API ------------------------------------------------------------------------
    def _slot(self, name: str) -> Slot:
        """A printer's slot or NotFoundError."""
        slot = self.slots.get(name)
        if slot is None:
            printers.get_printer(self.store, name)  # raises NotFoundError for unknown names
            raise ConflictError(f"printer {name!r} is not connected yet")
        return slot

    def signal_printer(self, name: str, action: str, actor: str = "service:queue") -> Run:
        """Pause, resume or cancel the copy a printer of this host is printing; returns its run."""
        with self.lock:
            slot = self._slot(name)
            if slot.handle is None or slot.run is None:
                raise ConflictError(f"printer {name!r} is not printing; there is nothing to {action}")
            if action not in ("pause", "resume", "cancel"):
                raise ConflictError(f"unknown printer command {action!r}")
            getattr(slot.handle, action)()
            history.add_event(self.store, action, f"{action} requested on {name} by {actor}", self.clock(),
                              job_id=slot.run.job_id, run_id=slot.run.id, printer=name, actor=actor)
            return slot.run

    def _job_handles(self, job_id: int) -> list[Slot]:
        """Slots running a copy of a job."""
        jobs.get_job(self.store, job_id)
        return [s for s in self.slots.values() if s.run is not None and s.run.job_id == job_id]

    def pause_job(self, job_id: int, actor: str = "service:queue") -> int:
        """Pause every running copy of a job; returns how many."""
        return self._signal_job(job_id, "pause", actor)

    def resume_job(self, job_id: int, actor: str = "service:queue") -> int:
        """Resume every paused copy of a job; returns how many."""
        return self._signal_job(job_id, "resume", actor)

    def _signal_job(self, job_id: int, action: str, actor: str) -> int:
        """Call `pause` or `resume` on every printing copy of a job and record the request as a job event."""
        with self.lock:
            slots = self._job_handles(job_id)
            if not slots:
                raise ConflictError(f"job {job_id} has no copy printing")
            for s in slots:
                assert s.handle is not None
                getattr(s.handle, action)()
            history.add_event(self.store, action, f"{action} requested for {len(slots)} copies by {actor}",
                              self.clock(), job_id=job_id, actor=actor)
        return len(slots)

    def cancel_job(self, job_id: int, actor: str = "service:queue") -> int:
        """Cancel a job: drop its queued copies and stop the printing ones; returns how many were stopped."""
        with self.lock:
            active = jobs.cancel_job(self.store, job_id, self.clock())
            stopped = 0
            for s in self.slots.values():
                if s.run is not None and s.run.id in {r.id for r in active} and s.handle is not None:
                    s.handle.cancel()
                    stopped += 1
            history.add_event(self.store, "cancel", f"job cancelled by {actor}; {stopped} printing copies stopped",
                              self.clock(), job_id=job_id, actor=actor)
            self.notify()
        return stopped

    def clear_bed(self, name: str, actor: str = "service:queue") -> str:
        """The technician confirms the bed is empty: the printer may take the next copy. The camera's opinion
        (photographed now, outside the lock) is recorded beside the confirmation and returned; it never refuses."""
        seen = check_bed(self.data_dir, printers.get_printer(self.store, name), jobs.last_run_on(self.store, name),
                         self.clock())
        with self.lock:
            slot = self._slot(name)
            state = self._state(slot)
            if state not in ("awaiting_clear", "needs_attention"):
                raise ConflictError(f"printer {name!r} is {state}; only a finished or failed printer needs its "
                                    "bed cleared")
            if slot.held is not None:
                slot.held.cancel()
                slot.held = None
            job_id = jobs.get_run(self.store, seen.run_id).job_id if seen.run_id is not None else None
            history.add_event(self.store, "bed_cleared", f"{name}: bed confirmed clear; {seen.summary()}",
                              self.clock(), job_id=job_id, run_id=seen.run_id, printer=name,
                              data={"confirmed": True, **seen.event_data()}, actor=actor)
            self._set_state(slot, "idle" if slot.connected else "offline")
        return seen.verdict.status

    def _ended(self, before: Run | None, after: Run | None) -> None:
        """A round of following left a printer without its copy: that copy ended (completed, failed, cancelled)."""
        if before is not None and after is None:
            self._run_ended(before)

    def _run_ended(self, run: Run) -> None:
        """Write the copy's timelapse in the background; a failure is recorded as an event, never raised."""
        folder = run_photo_dir(self.data_dir, run)

        def done(made: Timelapse | None, why: str) -> None:
            if made is None:
                history.add_event(self.store, "timelapse_failed", f"timelapse of run {run.id} not written: {why}",
                                  self.clock(), job_id=run.job_id, run_id=run.id, printer=run.printer)
            else:
                history.add_event(self.store, "timelapse", f"timelapse of run {run.id}: {made.frames} frames",
                                  self.clock(), job_id=run.job_id, run_id=run.id, printer=run.printer,
                                  data={"frames": made.frames, "codec": made.codec, "web_codec": made.web_codec,
                                        "seconds": made.seconds})
        self._writers = [t for t in self._writers if t.is_alive()]
        self._writers.append(write_in_background(folder, done))

    def emergency_stop(self, name: str) -> None:
        """M112 on one printer; its running copy is failed and the printer needs attention."""
        with self.lock:
            slot = self._slot(name)
            slot.driver.emergency_stop()
            now = self.clock()
            if slot.run is not None:
                jobs.finish_run(self.store, slot.run.id, "cancelled", now, "emergency stop")
                self._run_ended(slot.run)
            slot.handle, slot.run, slot.held, slot.connected = None, None, None, False
            slot.next_connect = now + RECONNECT_S
            self._set_state(slot, "needs_attention", "emergency stop: check the printer, then clear the bed")

    def live(self, name: str) -> tuple[DriverTemps | None, Run | None, bool]:
        """Latest temperatures, the running copy and whether the link is up, for the API."""
        slot = self.slots.get(name)
        if slot is None:
            return None, None, False
        return slot.temps, slot.run, slot.connected

    def planned(self, name: str) -> RunProgress | None:
        """The running copy's progress as its driver reports it (time left and estimate from its plan)."""
        slot = self.slots.get(name)
        handle = slot.handle if slot is not None else None
        return handle.progress() if handle is not None else None

    def link_counts(self, name: str) -> LinkCounts | None:
        """Lines and bytes written on a printer's link since it connected, when its driver counts them."""
        slot = self.slots.get(name)
        driver = slot.driver if slot is not None else None
        return driver.link_counts() if isinstance(driver, CountingDriver) else None

    def wait_change(self, version: int, timeout: float) -> int:
        """Block until the fleet changes after `version` or the timeout passes; returns the new version."""
        with self.changed:
            self.changed.wait_for(lambda: self.version != version, timeout=timeout)
            return self.version

