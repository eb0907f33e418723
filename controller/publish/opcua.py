"""The OPC UA server (asyncua) of a lab service: one machine per printer under Objects/Machines, fed from the bus.

The server runs its own asyncio loop on its own thread. The bus hands every event to this publisher's own
subscriber thread, which keeps the machines' latest values (`opcua_state.MachineValues`) and wakes the loop; the
loop writes what changed and fires the failed-layer events. A printer's path never waits on OPC UA: the bus does
not block its publishers, and a slow server only coalesces values (the newest wins). Methods Pause, Resume and
Cancel act on the printer's running print through the fleet, on a worker thread, for signed-in users only.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Server, ua

from controller.config import OpcUaConfig
from controller.errors import ControllerError
from controller.events import LOGGED, PRINTER_KINDS, Event, EventBus, Subscription
from controller.farm.fleet import Fleet
from controller.publish import opcua_model as model
from controller.publish.opcua_auth import ConfiguredUsers, ReadOnlyAnonymous
from controller.publish.opcua_nodesets import (
    DEFAULT_DIR,
    PACKAGED_DIR,
    LoadReport,
    load_nodesets,
    quiet_asyncua,
)
from controller.publish.opcua_state import ITEM_STATES, MachineValues, layer_alarm, values_from_event
from controller.store import Store, history, jobs, printers

_log = logging.getLogger(__name__)
FINAL_COUNTS = ("completed", "failed", "cancelled", "interrupted")


class OpcUaPublisher:
    """Serves the fleet's printers over OPC UA at `[opcua] endpoint` until `stop()`."""

    def __init__(self, config: OpcUaConfig, bus: EventBus, store: Store, fleet: Fleet,
                 clock: Callable[[], float] = time.time) -> None:
        """Wire the bus, store and fleet (nothing is started until `start`)."""
        self.config, self.bus, self.store, self.fleet, self.clock = config, bus, store, fleet, clock
        self.folder = Path(config.nodesets) if config.nodesets is not None else DEFAULT_DIR
        self.values = MachineValues()
        self.report: LoadReport | None = None
        self.error: str | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._sub: Subscription | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def endpoint(self) -> str:
        """The opc.tcp:// URL clients connect to."""
        return self.config.endpoint

    # -- life cycle -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Subscribe to the bus and start the server's thread (returns at once; see `wait_ready`)."""
        for p in printers.list_printers(self.store):
            self._refresh(p.name)
        self._sub = self.bus.subscribe(self._on_event, PRINTER_KINDS | {LOGGED}, name="opcua")
        self._thread = threading.Thread(target=self._run, name="opcua", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until the server listens (True) or failed to start (False, `error` says why)."""
        return self._ready.wait(timeout) and self.error is None

    def stop(self) -> None:
        """Leave the bus and stop the server."""
        if self._sub is not None:
            self.bus.unsubscribe(self._sub)
            self._sub = None
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None

    # -- the bus side (the subscriber's own thread) ---------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        """Keep what the event changes and wake the server's loop."""
        if event.kind == LOGGED:
            record = event.data.get("event")
            names = [event.printer] if event.printer else self.values.printers()
            for name in names:
                self._refresh(name, record)
        elif event.printer is not None:
            alarm = layer_alarm(event)
            if alarm is not None:
                self.values.alarm(alarm)
            else:
                self.values.update(event.printer, values_from_event(event))
        self._poke()

    def _refresh(self, name: str, record: Any = None) -> None:
        """Values the store knows: the printer's state, its current or last job and that job's plan."""
        try:
            p = printers.get_printer(self.store, name)
        except ControllerError:
            return
        values: dict[str, Any] = {"state": p.state, "state_message": p.message,
                                  "item_state": ITEM_STATES.get(p.state, "NotAvailable")}
        run = jobs.last_run_on(self.store, name)
        if run is not None:
            job = jobs.get_job(self.store, run.job_id)
            counts = job.counts
            values.update(job=f"{job.id}: {job.name}", runs_planned=job.copies,
                          runs_completed=sum(counts.get(k, 0) for k in FINAL_COUNTS),
                          good_parts=counts.get("completed", 0),
                          layers=job.layer_count or run.layer_count)
            if job.gcode_path:
                values["program"] = Path(job.gcode_path).name
            if getattr(record, "kind", None) == "started" and job.gcode_path:
                values.update(_feedstock(job.gcode_path))
        self.values.update(name, values)

    def _poke(self) -> None:
        """Wake the loop (it may not run yet: what changed waits for it)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:
                pass

    # -- the server's thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        """The thread: run the server until stopped; a failure to start is kept in `error` and logged."""
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # noqa: BLE001 - the service goes on without OPC UA; the log says why
            self.error = f"OPC UA server on {self.endpoint} failed: {type(exc).__name__}: {exc}"
            _log.error("%s", self.error)
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        """Set the server up, load the NodeSets, build the machines, then write changes until stopped."""
        self._loop = asyncio.get_running_loop()
        self._wake, self._stopping = asyncio.Event(), asyncio.Event()
        server = Server(user_manager=ConfiguredUsers(self.config.users, self.config.anonymous == "read"))
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("printloop")
        await server.set_application_uri(f"{model.NAMESPACE}:server")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity], permission_ruleset=ReadOnlyAnonymous())
        tokens: list[type] = [ua.UserNameIdentityToken]
        if self.config.anonymous == "read":
            tokens.insert(0, ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        self.report = await load_nodesets(server, self.folder, fallback=(PACKAGED_DIR,))
        (_log.warning if self.report.failed else _log.info)("%s", self.report.summary())
        ns = await model.namespaces(server, self.report)
        folder = await model.machines_folder(server, ns)
        event_type = await model.layer_failed_event_type(server, ns)
        machines: dict[str, model.Machine] = {}
        async with server:
            self._ready.set()
            while not self._stopping.is_set():
                await self._flush(server, ns, folder, event_type, machines)
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(self._stopping.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                self._wake.clear()

    async def _flush(self, server: Server, ns: model.Namespaces, folder: Any, event_type: Any,
                     machines: dict[str, model.Machine]) -> None:
        """Build machines for new printers, write changed values, fire pending alarms."""
        changed, alarms = self.values.take()
        for name in changed:
            if name not in machines:
                with quiet_asyncua():
                    machines[name] = await model.build_machine(server, ns, folder, name, event_type, self._method)
                changed[name] = self.values.get(name)
        for name, values in changed.items():
            await model.write_values(server, machines[name], values)
        for alarm in alarms:
            machine = machines.get(alarm.printer)
            if machine is not None:
                await model.raise_alarm(server, machine, alarm.layer, alarm.verdict, alarm.message,
                                        datetime.fromtimestamp(time.time(), UTC))

    # -- methods ----------------------------------------------------------------------------------------------
    async def _method(self, printer: str, action: str) -> tuple[bool, str]:
        """Pause, resume or cancel the printer's running print (on a worker thread: the fleet takes locks)."""
        try:
            return True, await asyncio.get_running_loop().run_in_executor(None, self._act, printer, action)
        except ControllerError as exc:
            _log.warning("OPC UA %s on %s refused: %s", action, printer, exc)
            return False, f"{action} refused: {exc}"

    def _act(self, printer: str, action: str) -> str:
        """Do the action on the printer's running copy and log it with the job; its message."""
        with self.fleet.lock:
            slot = self.fleet.slots.get(printer)
            if slot is None or slot.handle is None or slot.run is None:
                raise ControllerError(f"printer {printer!r} has no print running")
            getattr(slot.handle, action)()
            run = slot.run
        message = f"{action} of copy {run.copy_index + 1} on {printer} requested over OPC UA"
        history.add_event(self.store, action, message, self.clock(), job_id=run.job_id, run_id=run.id,
                          printer=printer)
        return message


def _feedstock(gcode_path: str) -> dict[str, Any]:
    """The filament a file plans to use: its type (as the slicer wrote it) and length in mm."""
    from slicing.job_plan import plan_file

    try:
        plan = plan_file(gcode_path)
    except (OSError, ValueError):
        return {}
    out: dict[str, Any] = {"filament_mm": float(plan.filament_mm)}
    kind = plan.header.get("filament_type") or plan.header.get("Filament type")
    if kind:
        out["material"] = kind.split(";")[0].strip()
    return out
