"""One printer on one serial port: connect, temperatures, manual commands, emergency stop, and its jobs.

The sans-IO `Link` is only touched under one lock: by the transport's reader thread when bytes arrive (so an
instant answer is turned into the next write without a thread hand-off), and by the pump thread, which runs
calls from other threads off an inbox queue, advances the clock, feeds the active job's commands and writes.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from controller.errors import ControllerError, JobError
from controller.events import EventBus
from controller.link import protocol as lk
from controller.link import replies as r
from controller.link.transport import Transport
from controller.printer.job import CheckPoint, Job, JobEvent, JobTag
from controller.printer.job_state import ParkConfig
from controller.printer.types import FirmwareInfo, Temperatures, _Waiter
from slicing.job_plan import JobPlan, plan, plan_file

__all__ = ["FirmwareInfo", "PrinterSession", "Temperatures", "check_line_lengths"]

MARLIN_LINE_BYTES = 96
KLIPPER_LINE_BYTES = 4096


def check_line_lengths(job_plan: JobPlan, limit: int, name: str) -> None:
    """Refuse a plan with a command longer than the firmware takes (it would never be acknowledged)."""
    long = job_plan.too_long(limit)
    if long:
        _i, line, text = long[0]
        more = f" (and {len(long) - 1} more)" if len(long) > 1 else ""
        raise JobError(f"{name}: line {line} is {len(text)} characters long, more than the {limit} this "
                       f"firmware takes in one line{more}: {text[:60]}…")

SYNC = lk.SYNC
_log = logging.getLogger(__name__)
_FEED_LOW_WATER = 32
_FEED_BATCH = 128
TEMPERATURE_EVENT_S = 0.5
"""Temperature events on the bus at most this often per printer (unless a target changes): a simulator at full
speed reports many times a second, a real printer every second or two."""


class PrinterSession:
    """A printer on a serial port or URL (see module docstring)."""

    def __init__(self, port: str, baud: int = 115200, *, flow: str = "window", timeout: float = 10.0,
                 lost_after: float = 60.0, on_event: Callable[[JobEvent], None] | None = None,
                 bus: EventBus | None = None, name: str | None = None,
                 clock: Callable[[], float] = time.monotonic, rx_buffer: int = 128, queue_size: int = 4,
                 park: ParkConfig | None = None, start_wait: float = 2.0, poll_interval: float = 2.0) -> None:
        """Configure (nothing is opened until `connect`)."""
        self.port, self.baud = port, baud
        self.config = lk.LinkConfig(flow=flow, rx_buffer=rx_buffer, queue_size=queue_size, timeout=timeout,
                                    lost_after=lost_after)
        self.on_event = on_event
        self.bus = bus
        self.name = name or port
        self.clock = clock
        self.park = park or ParkConfig()
        self.start_wait = start_wait
        self.poll_interval = poll_interval
        self.temperatures = Temperatures()
        self._temps_published = -float("inf")   # when the last temperature event went on the bus
        self.error: str | None = None
        self.info: FirmwareInfo | None = None
        self._link = lk.Link(self.config, clock())
        self._inbox: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._lock = threading.RLock()
        self._transport: Transport | None = None
        self._pump_thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._job: Job | None = None
        self._idle_waiters: list[threading.Event] = []
        self._raw: list[str] = []
        self._caps: dict[str, bool] = {}
        self._name = ""
        self._firmware: dict[str, str] = {}
        self._advanced = False
        self._autoreport = False
        self._last_poll = 0.0
        self._estop = False

    # ---- public API ----------------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """"disconnected" | "idle" | "printing" | "paused" | "error"."""
        if self._transport is None:
            return "disconnected"
        if self.error is not None:
            return "error"
        job = self._job
        if job is not None and not job.finished:
            return "paused" if job.progress().state == "paused" else "printing"
        return "idle"

    def connect(self, timeout: float = 20.0) -> FirmwareInfo:
        """Open the port, wait for `start` (or go on), renumber with M110 N0, read M115, set up temperatures."""
        if self._transport is not None:
            raise ControllerError(f"{self.port} is already connected")
        self._closing.clear()
        self._link = lk.Link(self.config, self.clock())
        self._transport = Transport(self.port, self.baud, self._on_data,
                                    lambda why: self._inbox.put(("closed", why)))
        self._pump_thread = threading.Thread(target=self._pump, name=f"printer {self.port}", daemon=True)
        self._pump_thread.start()
        try:
            return self._handshake(timeout)
        except BaseException:
            self.close()
            raise

    def _handshake(self, timeout: float) -> FirmwareInfo:
        """Wait for `start` (or give up), renumber, read M115, choose auto-report or polling."""
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        while self._call(lambda: self._link.state is lk.LinkState.WAITING_START):
            if time.monotonic() - started >= min(self.start_wait, timeout):
                self._call(self._link.give_up_waiting_for_start)
                break
            time.sleep(0.02)
        self._host_command("M115", max(0.1, deadline - time.monotonic()))
        if self._caps.get("AUTOREPORT_TEMP"):
            self._autoreport = True
            self._host_command("M155 S2", max(0.1, deadline - time.monotonic()))
        else:
            self._host_command("M105", max(0.1, deadline - time.monotonic()))
        self.info = FirmwareInfo(self._name or "unknown", dict(self._caps), self._advanced, tuple(self._raw))
        self._emit("connected", f"connected to {self.info.name} on {self.port}",
                   {"capabilities": self._caps, "firmware": self._firmware})
        return self.info

    def close(self) -> None:
        """Stop the pump, close the port; an unfinished job fails with "connection closed"."""
        job = self._job
        if job is not None and not job.finished:
            job._fail("connection closed")
        self._closing.set()
        self._inbox.put(("wake",))
        if self._pump_thread is not None:
            self._pump_thread.join(timeout=5.0)
        if self._transport is not None:
            self._transport.close()
        self._transport = None

    def send_command(self, line: str) -> None:
        """Queue a manual command: numbered, sent after the lines already queued."""
        command = line.split(";", 1)[0].strip()
        if command:
            self._call(lambda: self._link.send(command, None))

    def emergency_stop(self) -> None:
        """M112 at once, ahead of everything queued; the running job fails with "emergency stop"."""
        self._estop = True
        job = self._job
        if job is not None and not job.finished:
            job._fail("emergency stop")

        def stop() -> None:
            self._link.withdraw()
            self._link.send_immediately("M112")
        self._call(stop)

    def start_job(self, gcode: str | os.PathLike[str] | JobPlan, *,
                  layer_hook: Callable[[CheckPoint, Job], None] | None = None,
                  wait_for_temperatures: bool = True, name: str | None = None,
                  only_objects: Sequence[str] = ()) -> Job:
        """Stream a job plan (or a file's path, or G-code text when the string holds newlines) on the job's
        own thread; a command the firmware cannot take is refused here, naming its line. With `only_objects`,
        only those labelled objects (copies) of the plate are printed."""
        if self.state != "idle":
            raise JobError(f"cannot start a job: printer {self.port} is {self.state}"
                           + (f" ({self.error})" if self.error else ""))
        if isinstance(gcode, JobPlan):
            job_plan = gcode
        elif isinstance(gcode, str) and "\n" in gcode:
            job_plan = plan(gcode)  # G-code text rather than a path
        else:
            job_plan = plan_file(gcode)
        label = name if name is not None else ("G-code" if isinstance(gcode, JobPlan) or "\n" in str(gcode)
                                                else str(gcode))
        check_line_lengths(job_plan, self.line_limit(len(job_plan.commands)), label)
        job = Job(self, job_plan, layer_hook=layer_hook, wait_for_temperatures=wait_for_temperatures, name=label,
                  only_objects=only_objects)
        self._job = job
        job._start()
        self._inbox.put(("wake",))
        return job

    def link_counts(self) -> tuple[int, int]:
        """Numbered lines and bytes written on this connection so far (resends included); never waits."""
        link = self._link
        return link.lines_sent, link.bytes_sent

    def line_limit(self, commands: int) -> int:
        """Longest command this firmware takes in one numbered line (Marlin's and Prusa's MAX_CMD_SIZE is 96
        bytes with the line number, checksum and terminator; Klipper's buffer is far larger)."""
        name = self.info.name if self.info is not None else ""
        if "klipper" in name.lower():
            return KLIPPER_LINE_BYTES
        return MARLIN_LINE_BYTES - 1 - len(f"N{commands + 1000} ") - len("*255") - 2

    # ---- used by Job ---------------------------------------------------------------------------------------------
    def _call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run fn on the pump thread (under the link lock) and return its result."""
        if threading.current_thread() is self._pump_thread or self._lock_owned():
            return fn()
        fut: Future[Any] = Future()
        self._inbox.put(("call", fn, fut))
        return fut.result(timeout)

    def _lock_owned(self) -> bool:
        """Does this thread hold the link lock (a callback running inside the pump or reader)?"""
        return self._lock._is_owned()  # type: ignore[attr-defined]

    def _host_command(self, command: str, timeout: float, need_proof: bool = False) -> None:
        """Send one host command and wait until the firmware took it."""
        self._execute([command], timeout, need_proof)

    def _execute(self, commands: list[str], timeout: float, need_proof: bool = False) -> None:
        """Send commands now (numbered) and wait until the last one is acknowledged."""
        if not commands:
            return
        waiter = _Waiter(need_proof)

        def queue_all() -> None:
            for c in commands[:-1]:
                self._link.send(c, None)
            self._link.send(commands[-1], waiter)
        self._call(queue_all)
        waiter.wait(timeout)

    def _wait_idle(self, timeout: float) -> bool:
        """Block until nothing is pending or in flight on the link."""
        ev = threading.Event()
        self._call(lambda: self._idle_waiters.append(ev))
        return ev.wait(timeout)

    def _withdraw(self) -> list[tuple[str, Any]]:
        """Take back the job's unsent file lines (pause/cancel). Host commands stay queued in their order: a
        layer check's park and photo moves or a resume sequence have a waiter on the job's thread, which would
        otherwise never be answered (a pause asked for during a layer check hung the job)."""
        def take() -> list[tuple[str, Any]]:
            taken = self._link.withdraw()
            try:
                for command, tag in taken:
                    if not isinstance(tag, JobTag):
                        self._link.send(command, tag)
            except ControllerError:
                pass  # the link is down: `_fatal` answers every waiter
            return [(c, t) for c, t in taken if isinstance(t, JobTag)]
        result: list[tuple[str, Any]] = self._call(take)
        return result

    def _emit(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        """Report an event to the owner (never lets a failing callback break the pump)."""
        event = JobEvent(kind, message, self.clock(), data or {}, self.name)
        if self.bus is not None:
            self.bus.publish(event)
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # noqa: BLE001 - a broken observer must not stop the printer
            _log.exception("on_event observer failed on %s", kind)

    # ---- pump ----------------------------------------------------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        """Received bytes, handled at once on the reader thread under the link lock (saves a thread hand-off
        per round trip, which bounds lines/s when the printer answers instantly)."""
        with self._lock:
            self._handle(("rx", data))
            self._guarded_step()

    def _guarded_step(self) -> None:
        """One `_step`; a protocol failure fails the job instead of killing the thread."""
        try:
            self._step(self.clock())
        except ControllerError as exc:
            self._fatal(str(exc))

    def _pump(self) -> None:
        """Calls from other threads, the clock and job feeding; link access is serialised by `_lock`."""
        while not self._closing.is_set():
            try:
                items = [self._inbox.get(timeout=0.02)]
            except queue.Empty:
                items = []
            while True:
                try:
                    items.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            with self._lock:
                for item in items:
                    self._handle(item)
                self._guarded_step()

    def _handle(self, item: tuple[Any, ...]) -> None:
        """One inbox item: received bytes, a call from another thread, or the port closing."""
        kind = item[0]
        if kind == "rx":
            now = self.clock()
            data = item[1]
            while True:
                try:
                    events = self._link.receive_data(data, now)
                except ControllerError as exc:
                    self._fatal(str(exc))
                    data = b""  # the lines after the failing one are still in the link
                    continue
                self._on_events(events)
                break
        elif kind == "call":
            fn, fut = item[1], item[2]
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)
        elif kind == "closed":
            self._fatal(item[1])

    def _step(self, now: float) -> None:
        """Clock, temperature polling, job feeding, writing, idle notifications."""
        self._on_events(self._link.tick(now))
        link = self._link
        if link.state is lk.LinkState.READY:
            job = self._job
            if job is not None and link.pending < _FEED_LOW_WATER:
                for command, tag in job._take(_FEED_BATCH):
                    link.send(command, tag)
            if not self._autoreport and now - self._last_poll >= self.poll_interval and link.pending < 4 \
                    and self.info is not None:
                self._last_poll = now
                link.send(SYNC, None)
        if self._transport is not None:
            data = link.bytes_to_send(now)
            if data:
                self._transport.write(data)
        if link.idle and self._idle_waiters:
            for ev in self._idle_waiters:
                ev.set()
            self._idle_waiters.clear()
        if self._job is not None:
            self._job._pumped(link.idle)

    def _on_events(self, events: list[Any]) -> None:
        """React to what the link reported."""
        for ev in events:
            if isinstance(ev, lk.Accepted):
                self._on_accepted(ev)
            elif isinstance(ev, r.Ok):
                if ev.firmware is not None:
                    self._on_firmware_name(ev.firmware)
                if ev.queue_free is not None or ev.planner_free is not None:
                    self._advanced = True
                if ev.temps is not None:
                    self._on_temps(ev.temps)
            elif isinstance(ev, r.TempReport):
                self._on_temps(ev.temps)
            elif isinstance(ev, r.Capability):
                self._caps[ev.name] = ev.enabled
                self._raw.append(f"Cap:{ev.name}:{int(ev.enabled)}")
            elif isinstance(ev, r.FirmwareName):
                self._on_firmware_name(ev.fields)
            elif isinstance(ev, lk.Halted):
                self._fatal(f"firmware halted: {ev.reason}")
            elif isinstance(ev, lk.BoardReset):
                self._on_reset(ev)
            elif isinstance(ev, lk.Lost):
                self._fatal(f"printer lost: no answer for {ev.silent_s:.0f} s")
            elif isinstance(ev, lk.Rewound):
                self._emit("resend", f"firmware asked for line {ev.n} again", {"line": ev.n})
            elif isinstance(ev, lk.ResendIgnored):
                self._emit("resend_ignored", f"resend request for line {ev.n} ignored: {ev.why}", {"line": ev.n})
            elif isinstance(ev, lk.Poked):
                self._emit("poke", f"no answer for {ev.silent_s:.1f} s: sent M105", {})
            elif isinstance(ev, r.Echo):
                self._emit("echo", ev.text, {})
            elif isinstance(ev, r.Action):
                self._emit("action", f"//action:{ev.name} {ev.argument}".strip(),
                           {"action": ev.name, "argument": ev.argument})
                self._on_action(ev)
            elif isinstance(ev, r.Busy) and "paused for user" in ev.text.lower():
                job = self._job
                if job is not None and not job.finished:
                    job.printer_waits_for_user()
            elif isinstance(ev, r.FirmwareError) and not ev.fatal:
                self._emit("firmware_error", ev.text, {})

    def _on_firmware_name(self, fields: dict[str, str]) -> None:
        """M115's answer: the firmware's name (Marlin sends it on its own line, Klipper inside the ok)."""
        self._name = fields.get("FIRMWARE_NAME", "")
        self._firmware = dict(fields)
        self._raw.append(" ".join(f"{k}:{v}" for k, v in fields.items()))

    def _on_action(self, ev: r.Action) -> None:
        """A host action command: the printer paused, resumed, or asks the host to pause, resume or cancel."""
        job = self._job
        if job is None or job.finished:
            return
        why = ev.argument.replace("_", " ").strip() or "no reason given"
        try:
            if ev.name == "paused":
                job.printer_paused(f"the printer paused itself ({why})")
            elif ev.name == "resumed":
                job.printer_resumed()
            elif ev.name == "pause":
                job.pause(f"the printer asked to pause ({why})")
            elif ev.name == "resume" and job.progress().state == "paused":
                job.resume()
            elif ev.name == "cancel":
                job.cancel(f"the printer asked to cancel ({why})")
            elif ev.name == "prompt_begin" and ev.argument.lower().startswith("nozzle parked"):
                job.printer_waits_for_user()
        except JobError as exc:
            self._emit("action_ignored", f"//action:{ev.name} ignored: {exc}", {"action": ev.name})

    def _release_firmware_pause(self) -> None:
        """Tell firmware that waits for the user in M600 to go on (M108, taken as it arrives)."""
        self._call(lambda: self._link.send_immediately("M108"))

    def _on_accepted(self, ev: lk.Accepted) -> None:
        """Route an acceptance to the job or the waiting host command."""
        tag = ev.tag
        if isinstance(tag, JobTag):
            tag.job._accepted(tag.index)
        elif isinstance(tag, _Waiter):
            if tag.need_proof and not ev.proven:
                self._link.send(SYNC, tag)  # not proven that everything before was taken: ask again
            else:
                tag.done.set()

    def _on_temps(self, temps: r.Temps) -> None:
        """Keep the latest readings (targets stay when a report omits them) and publish them on the bus."""
        t = self.temperatures
        hot, bed = temps.hotend(), temps.bed()
        now = Temperatures(
            hotend=hot[0] if hot else t.hotend,
            hotend_target=hot[1] if hot and hot[1] is not None else t.hotend_target,
            bed=bed[0] if bed else t.bed,
            bed_target=bed[1] if bed and bed[1] is not None else t.bed_target,
        )
        self.temperatures = now
        stamp = self.clock()
        targets = (now.hotend_target, now.bed_target)
        if self.bus is not None and (stamp - self._temps_published >= TEMPERATURE_EVENT_S
                                     or targets != (t.hotend_target, t.bed_target)):
            self._temps_published = stamp
            self.bus.publish(JobEvent("temperature", f"hotend {now.hotend:.1f}/{now.hotend_target:.0f} °C, "
                                      f"bed {now.bed:.1f}/{now.bed_target:.0f} °C", stamp,
                                      {"tool0": {"actual": now.hotend, "target": now.hotend_target},
                                       "bed": {"actual": now.bed, "target": now.bed_target}}, self.name))

    def _on_reset(self, ev: lk.BoardReset) -> None:
        """The board rebooted: a running job fails (never resent into it); an idle printer is renumbered."""
        job = self._job
        if job is not None and not job.finished:
            reason = f"board reset mid-job (printer sent 'start'; {ev.outstanding} lines were outstanding)"
            self.error = reason
            job._fail(reason)
            self._emit("error", reason, {})
        else:
            self._link.resync()
            self._emit("reset", "board reset while idle; line numbers resynchronised", {})

    def _fatal(self, reason: str) -> None:
        """The printer halted, reset mid-job or was lost: record why and fail the job and every waiter."""
        if self._estop and "halted" in reason.lower():
            reason = f"emergency stop ({reason})"
        if self.error is None:
            self.error = reason
            self._emit("error", reason, {})
        job = self._job
        if job is not None and not job.finished:
            job._fail("emergency stop" if self._estop else reason)
        for w in self._idle_waiters:
            w.set()
        self._idle_waiters.clear()
        for cmd_tag in self._link.withdraw():
            if isinstance(cmd_tag[1], _Waiter):
                cmd_tag[1].error = reason
                cmd_tag[1].done.set()
        self._fail_waiters(reason)

    def _fail_waiters(self, reason: str) -> None:
        """Wake every host command still waiting in the link history."""
        for _cmd, tag in self._link._history:
            if isinstance(tag, _Waiter) and not tag.done.is_set():
                tag.error = reason
                tag.done.set()
